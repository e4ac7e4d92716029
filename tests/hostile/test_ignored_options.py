"""Options that would be ignored are refused instead.

A series model with ``prediction.months`` used to map all twelve months and
label the maps "months 7"; series options without ``time_series``, BVM field
options with label rasters and two different output folders are the same
kind of silent surprise. Each ends in one line naming the option, before
anything is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.hostile import assert_refused, run_torchgeo
from tests.hostile.prediction import (
    data_options,
    datamodule,
    make_scene,
    predict,
    predict_config,
)
from tests.joint_scene import Scene
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.errors import BVMValueError


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make_scene(tmp_path_factory)


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        (
            {'time_series': True, 'prediction': {'months': [7]}},
            r'^prediction.months applies to single-date models: a series model maps '
            r'whole calendar years on the months of its steps \(imagery.months\)',
        ),
        (
            {'series': {'eval_year': 2021}},
            r'^series \(eval_year\) applies to time series: set time_series to true$',
        ),
        (
            {'series': {'stack': 'channels', 'min_clear': 2}},
            r'^series \(min_clear, stack\) applies to time series',
        ),
        (
            {'time_series': True, 'series': {'max_dates': 12}},
            r"^series.max_dates applies to series.temporal 'dates'",
        ),
    ],
)
def test_options_for_another_kind_of_run(
    scene: Scene, changes: dict, message: str
) -> None:
    dm = datamodule(scene, **changes)
    with pytest.raises(BVMValueError, match=message):
        dm.setup('predict')
    assert dm.joint is None


def test_bvm_field_options_with_label_rasters(scene: Scene, tmp_path: Path) -> None:
    reference = next(scene.imagery.rglob('*.tif'))
    labels = rasterize_bvm(
        scene.bvm, tmp_path / 'labels.tif', like=reference, progress=False
    )
    dm = datamodule(scene, bvm_paths=str(labels), labels={'label_field': 'Label'})
    with pytest.raises(
        BVMValueError,
        match=r'^labels.label_field applies to BVM polygons, and bvm_paths are label '
        'rasters',
    ):
        dm.setup('predict')


def test_two_output_folders(scene: Scene, tmp_path: Path) -> None:
    dm = datamodule(scene, prediction={'output_dir': str(tmp_path / 'a')})
    with pytest.raises(
        BVMValueError,
        match=rf'^two folders for the maps: prediction.output_dir {tmp_path / "a"} '
        rf"and the prediction writer's output_dir {tmp_path / 'b'}; give one$",
    ):
        predict(dm, tmp_path / 'b')
    with pytest.raises(BVMValueError, match=r'^no folder for the maps: set'):
        predict(datamodule(scene))
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_torchgeo_predict_of_a_series_with_months_is_one_line(
    scene: Scene, tmp_path: Path
) -> None:
    options = data_options(scene, time_series=True)
    config = predict_config(tmp_path, options)
    outcome = run_torchgeo(
        'predict', '--config', config, '--data.init_args.prediction.months=[7]'
    )
    assert_refused(
        outcome,
        'prediction.months applies to single-date models',
        program='torchgeo predict',
    )
