"""Mismatches between a model (or its checkpoint) and the data module.

A checkpoint holds the model, not the data settings: a configuration that
reads other bands, channels, months or single dates instead of a series, or a
model with more classes than the BVM's 14, is refused when the stage starts,
in one line naming both sides (:mod:`torchgeo_bvm.training.agreement`),
never as a traceback from deep inside the network ("not enough values to
unpack", "expected input to have 11 channels").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch import Trainer
from torchgeo.tasks import SpatioTemporalSegmentation

from tests.hostile.hostile import assert_refused, run_torchgeo
from tests.hostile.prediction import (
    checkpoint,
    data_options,
    datamodule,
    make_scene,
    predict,
    predict_config,
    tiny_model,
)
from tests.joint_scene import Scene
from torchgeo_bvm.classes import NUM_CLASSES
from torchgeo_bvm.errors import BVMValueError


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make_scene(tmp_path_factory)


@pytest.fixture(scope='module')
def rgb_checkpoint(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained one step on the bands B02, B03, B04."""
    folder = tmp_path_factory.mktemp('rgb')
    dm = datamodule(scene, imagery={'bands': 'rgb'}, length=16)
    return checkpoint(dm, tiny_model(3), folder / 'rgb.ckpt')


def test_a_checkpoint_of_other_bands_of_the_same_count(
    scene: Scene, rgb_checkpoint: Path, tmp_path: Path
) -> None:
    dm = datamodule(
        scene, imagery={'bands': 'rgnir'}, prediction={'output_dir': str(tmp_path)}
    )
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    with pytest.raises(
        BVMValueError,
        match=r'^the checkpoint was trained on single dates of the bands B02, B03, '
        r'B04, and the data module reads single dates of the bands B03, B04, B08: '
        r'set imagery.bands as in training$',
    ):
        trainer.predict(tiny_model(3), datamodule=dm, ckpt_path=rgb_checkpoint)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ('model', 'changes', 'message'),
    [
        (
            lambda: tiny_model(11),
            {'imagery': {'bands': 'rgb'}},
            r'^the model \(SemanticSegmentation\) takes 11 input channels '
            r'\(in_channels\), and the data module gives 3: single dates of the '
            r'bands B02, B03, B04; set imagery.bands',
        ),
        (
            lambda: tiny_model(11, num_classes=20),
            {},
            r'^the model \(SemanticSegmentation\) predicts 20 classes \(num_classes\), '
            rf'and the BVM has {NUM_CLASSES}: class ids 14..19 have no name or colour',
        ),
        (
            lambda: SpatioTemporalSegmentation(
                in_channels=11, num_classes=NUM_CLASSES, hidden_dim=4, num_layers=1
            ),
            {},
            r'^the model \(SpatioTemporalSegmentation\) reads series \(B, T, C, H, '
            r'W\), and the data module gives single dates of the bands',
        ),
        (
            lambda: tiny_model(11),
            {'time_series': True, 'imagery': {'months': [5, 6]}},
            r'^the model \(SemanticSegmentation\) reads \(B, C, H, W\), and the data '
            r'module gives series of 2 months \(5, 6\) of the bands .*, stacked in '
            r'time: set series.stack: channels',
        ),
        (
            lambda: tiny_model(11),
            {
                'time_series': True,
                'imagery': {'months': [5, 6]},
                'series': {'stack': 'channels'},
            },
            r'^the model \(SemanticSegmentation\) takes 11 input channels '
            r'\(in_channels\), and the data module gives 22: series of 2 months',
        ),
    ],
)
def test_a_model_that_does_not_take_the_batches(
    scene: Scene, tmp_path: Path, model, changes: dict, message: str
) -> None:
    dm = datamodule(scene, prediction={'output_dir': str(tmp_path)}, **changes)
    with pytest.raises(BVMValueError, match=message):
        predict(dm, model=model())
    # Refused before a sample was read.
    assert dm.predict_dataset is None
    assert not any(tmp_path.iterdir())


def test_the_checkpoint_of_a_series_and_single_dates(
    scene: Scene, tmp_path: Path
) -> None:
    series = datamodule(
        scene,
        time_series=True,
        imagery={'months': [5, 6]},
        series={'stack': 'channels'},
        length=16,
    )
    path = checkpoint(series, tiny_model(22), tmp_path / 'series.ckpt')
    # The same channels read another way: 22 bands would not exist, so the
    # checkpoint's own record is what tells them apart.
    other = datamodule(
        scene,
        time_series=True,
        imagery={'months': [6, 7]},
        series={'stack': 'channels'},
        prediction={'output_dir': str(tmp_path / 'maps')},
    )
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    with pytest.raises(
        BVMValueError,
        match=r'^the checkpoint was trained on series of 2 months \(5, 6\) of the '
        r'bands .*, stacked as channels, and the data module reads series of 2 '
        r'months \(6, 7\) .*: set imagery.months as in training$',
    ):
        trainer.test(tiny_model(22), datamodule=other, ckpt_path=path)


@pytest.mark.slow
def test_torchgeo_predict_with_a_checkpoint_of_other_bands_is_one_line(
    scene: Scene, rgb_checkpoint: Path, tmp_path: Path
) -> None:
    options = data_options(
        scene,
        imagery={'bands': 'rgnir'},
        prediction={'output_dir': str(tmp_path / 'maps')},
    )
    config = predict_config(tmp_path, options)
    outcome = run_torchgeo('predict', '--config', config, '--ckpt_path', rgb_checkpoint)
    assert_refused(
        outcome,
        'the checkpoint was trained on single dates of the bands B02, B03, B04',
        'the data module reads single dates of the bands B03, B04, B08',
        program='torchgeo predict',
    )
    assert not (tmp_path / 'maps').exists()
