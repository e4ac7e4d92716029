"""Outputs where datasets scan: ``torchgeo predict`` never writes where it reads.

The maps may not go into, or under, a folder the data module's datasets read
(imagery, labels), nor into the folder of a label or imagery file given
alone, nor into a folder that holds an input, however the path is spelled
(links, ``..``, relative): the next ``BVMRaster(folder)`` or ``torchgeo fit``
would read the model's own class, confidence and count rasters as data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.hostile import assert_refused, copy_layer, run_torchgeo, snapshot
from tests.hostile.prediction import (
    data_options,
    datamodule,
    make_scene,
    predict,
    predict_config,
)
from tests.joint_scene import Scene
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.datasets import BVMRaster
from torchgeo_bvm.errors import BVMExistsError


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make_scene(tmp_path_factory)


@pytest.fixture(scope='module')
def label_folder(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a label raster of the scene, and nothing else."""
    folder = tmp_path_factory.mktemp('labels')
    reference = next(scene.imagery.rglob('*.tif'))
    rasterize_bvm(scene.bvm, folder / 'labels.tif', like=reference, progress=False)
    return folder


def refused(
    scene: Scene, label_folder: Path, output: str, words: str, **changes: object
) -> None:
    before = snapshot(scene.imagery, label_folder)
    dm = datamodule(scene, prediction={'output_dir': output}, **changes)
    with pytest.raises(BVMExistsError, match=words):
        predict(dm)
    assert snapshot(scene.imagery, label_folder) == before
    # The label folder still reads as the labels alone.
    assert len(BVMRaster(label_folder).index) == 1


def test_the_folder_of_the_label_raster(scene: Scene, label_folder: Path) -> None:
    labels = str(label_folder / 'labels.tif')
    refused(
        scene,
        label_folder,
        str(label_folder),
        rf'^prediction.output_dir {label_folder} is the folder of {labels} '
        r'\(bvm_paths\): the outputs would be read as its data',
        bvm_paths=labels,
    )


def test_the_label_folder_itself(scene: Scene, label_folder: Path) -> None:
    refused(
        scene,
        label_folder,
        str(label_folder / 'maps'),
        rf'lies inside the folder {label_folder} that bvm_paths reads',
        bvm_paths=str(label_folder),
    )


def test_inside_the_imagery_by_a_relative_path_with_dots(
    scene: Scene, label_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scene.imagery.parent)
    output = os.path.join('bvm', '..', scene.imagery.name, '22', 'maps')
    refused(
        scene, label_folder, output, 'lies inside the folder .* that sentinel2_paths'
    )


def test_inside_the_imagery_through_a_link(
    scene: Scene, label_folder: Path, tmp_path: Path
) -> None:
    link = tmp_path / 'elsewhere'
    link.symlink_to(scene.imagery, target_is_directory=True)
    refused(scene, label_folder, str(link / 'maps'), 'that sentinel2_paths reads')


def test_a_folder_that_holds_an_input(
    scene: Scene, label_folder: Path, tmp_path: Path
) -> None:
    boundary = copy_layer(scene.boundary, tmp_path / 'maps', stem='Refgew')
    before = snapshot(tmp_path / 'maps')
    dm = datamodule(
        scene,
        labels={'boundary': str(boundary)},
        prediction={'output_dir': str(tmp_path / 'maps'), 'period_folder': False},
    )
    with pytest.raises(
        BVMExistsError,
        match=rf'^prediction.output_dir {tmp_path / "maps"} holds {boundary} '
        r'\(labels.boundary\), an input',
    ):
        predict(dm)
    assert snapshot(tmp_path / 'maps') == before


@pytest.mark.slow
def test_torchgeo_predict_into_the_label_folder_is_one_line(
    scene: Scene, label_folder: Path, tmp_path: Path
) -> None:
    before = snapshot(label_folder)
    options = data_options(
        scene,
        bvm_paths=str(label_folder / 'labels.tif'),
        prediction={'output_dir': str(label_folder)},
    )
    outcome = run_torchgeo('predict', '--config', predict_config(tmp_path, options))
    assert_refused(
        outcome,
        f'prediction.output_dir {label_folder} is the folder of',
        '(bvm_paths)',
        program='torchgeo predict',
    )
    assert snapshot(label_folder) == before
