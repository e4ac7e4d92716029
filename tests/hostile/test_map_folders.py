"""Interrupted or repeated maps: a folder of maps is one period of one run.

A run is written beside its folder and swapped in whole
(:mod:`torchgeo_bvm.maps.folder`): an interrupted run leaves the earlier maps
as they were, another period is kept (its own subfolder) or refused, a
damaged manifest or a folder of other files is refused, and ``compare``
refuses a folder that is incomplete, mixes two runs or holds two periods.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import Tensor

from tests.hostile.hostile import (
    assert_refused,
    run_cli,
    run_torchgeo,
    snapshot,
    staging_left,
)
from tests.hostile.prediction import (
    data_options,
    datamodule,
    make_scene,
    predict,
    predict_config,
    tiny_model,
)
from tests.joint_scene import Scene
from torchgeo_bvm.errors import BVMExistsError, BVMValueError
from torchgeo_bvm.maps.folder import MANIFEST


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make_scene(tmp_path_factory)


@pytest.fixture(scope='module')
def maps(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The maps of 2021, May (the test sheet), in their period's folder."""
    out = tmp_path_factory.mktemp('maps')
    writer = predict(datamodule(scene, prediction={'months': [5]}), out)
    assert writer.folder == out / '2021_m05'
    return out


def copy_of(maps: Path, tmp_path: Path) -> Path:
    folder = tmp_path / 'maps'
    shutil.copytree(maps, folder)
    return folder


class FailsAtBatch(torch.nn.Module):
    """A model that fails on its second batch: a run stopped half-way."""

    def __init__(self) -> None:
        super().__init__()
        self.task = tiny_model()
        self.batches = 0

    def forward(self, image: Tensor) -> Tensor:
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError('the device fell over')
        return self.task(image)  # type: ignore[no-any-return]


def test_an_interrupted_rerun_leaves_the_earlier_maps_as_they_were(
    scene: Scene, maps: Path, tmp_path: Path
) -> None:
    folder = copy_of(maps, tmp_path)
    before = snapshot(folder)
    model = tiny_model()
    model.model = FailsAtBatch()
    # Every sheet of 22: the first batch completes 22/1-2, which is written
    # (beside the folder) before the second batch fails.
    rerun = datamodule(scene, prediction={'months': [5], 'sheets': '22'})
    with pytest.raises(RuntimeError, match='the device fell over'):
        predict(rerun, folder, model)
    assert model.model.batches == 2
    assert snapshot(folder) == before
    assert staging_left(folder.parent) == []


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(
    scene: Scene, maps: Path, tmp_path: Path
) -> None:
    folder = copy_of(maps, tmp_path)
    # What a run killed with SIGKILL leaves: a hidden folder of a dead process.
    dead = folder / '.2021_m05.tmp-999999999-0badcafe.staging'
    (dead / 'sub').mkdir(parents=True)
    (dead / '22_7-8.tif').write_bytes(b'half')
    writer = predict(datamodule(scene, prediction={'months': [5]}), folder)
    assert not dead.exists()
    assert staging_left(folder) == []
    manifest = json.loads((writer.folder / MANIFEST).read_text())
    assert manifest['complete'] is True


def test_another_period_into_the_same_folder_is_refused_and_nothing_removed(
    scene: Scene, maps: Path, tmp_path: Path
) -> None:
    folder = copy_of(maps, tmp_path) / '2021_m05'
    before = snapshot(folder)
    june = datamodule(
        scene,
        prediction={'months': [6], 'period_folder': False, 'output_dir': str(folder)},
    )
    with pytest.raises(
        BVMExistsError,
        match=rf'^{folder} holds the maps of 2021, months 5 \(prediction.json\), '
        r'this run maps 2021, months 6: they are kept',
    ):
        predict(june)
    assert snapshot(folder) == before


def test_a_damaged_manifest_is_refused_before_anything_is_written(
    scene: Scene, maps: Path, tmp_path: Path
) -> None:
    folder = copy_of(maps, tmp_path)
    manifest = folder / '2021_m05' / MANIFEST
    for damage in ('{"files": [', '{"format": "torchgeo-bvm prediction"}', '[1, 2]'):
        manifest.write_text(damage)
        before = snapshot(folder)
        with pytest.raises(BVMValueError, match=rf'^{manifest}: a damaged manifest'):
            predict(datamodule(scene, prediction={'months': [5]}), folder)
        assert snapshot(folder) == before


def test_a_folder_of_other_files_is_not_taken_over(
    scene: Scene, tmp_path: Path
) -> None:
    folder = tmp_path / 'mine' / '2021_m05'
    folder.mkdir(parents=True)
    (folder / 'thesis.docx').write_text('years of work')
    with pytest.raises(
        BVMExistsError, match=rf'^{folder} holds files but no prediction.json'
    ):
        predict(datamodule(scene, prediction={'months': [5]}), tmp_path / 'mine')
    assert [p.name for p in folder.iterdir()] == ['thesis.docx']


@pytest.mark.parametrize(
    ('damage', 'words'),
    [
        ('incomplete', ['the maps are incomplete', 'did not finish']),
        ('missing', ['22_7-8_count.tif, listed in prediction.json, is missing']),
        ('mixed', ['old_22_7-8.tif is not one of the maps of this run', 'mixes two']),
        ('damaged', ['a damaged manifest']),
        ('two periods', ['the maps given are of several periods', '2021, months 5']),
    ],
)
def test_compare_refuses_an_incomplete_or_mixed_folder(
    scene: Scene,
    maps: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    words: list[str],
) -> None:
    root = copy_of(maps, tmp_path)
    folder = root / '2021_m05'
    manifest = json.loads((folder / MANIFEST).read_text())
    if damage == 'incomplete':
        manifest['complete'] = False
        (folder / MANIFEST).write_text(json.dumps(manifest))
    elif damage == 'missing':
        (folder / '22_7-8_count.tif').unlink()
    elif damage == 'mixed':
        shutil.copy(folder / '22_7-8.tif', folder / 'old_22_7-8.tif')
    elif damage == 'damaged':
        (folder / MANIFEST).write_text('{"period": ')
    else:
        other = root / '2021_m06'
        shutil.copytree(folder, other)
        manifest.update(period='2021, months 6', name='2021_m06')
        (other / MANIFEST).write_text(json.dumps(manifest))
    out = tmp_path / 'comparison'
    outcome = run_cli(
        capsys, 'compare', '--bvm', scene.bvm, '--maps', root, '--out', out, '--quiet'
    )
    assert_refused(outcome, *words)
    assert not out.exists()


def test_compare_reads_a_whole_folder_of_one_period(
    scene: Scene, maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'comparison'
    folder = maps / '2021_m05'
    outcome = run_cli(
        capsys, 'compare', '--bvm', scene.bvm, '--maps', folder, '--out', out, '--quiet'
    )
    assert outcome.code == 0, outcome.err
    assert (out / 'disagreement.gpkg').is_file()


@pytest.mark.slow
def test_torchgeo_predict_of_another_period_is_one_line(
    scene: Scene, maps: Path, tmp_path: Path
) -> None:
    folder = copy_of(maps, tmp_path) / '2021_m05'
    before = snapshot(folder)
    options = data_options(
        scene,
        prediction={'months': [6], 'output_dir': str(folder), 'period_folder': False},
    )
    outcome = run_torchgeo('predict', '--config', predict_config(tmp_path, options))
    assert_refused(
        outcome,
        f'{folder} holds the maps of 2021, months 5',
        'this run maps 2021, months 6',
        program='torchgeo predict',
    )
    assert snapshot(folder) == before
    assert staging_left(tmp_path) == []
