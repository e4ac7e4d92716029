"""``sampling.rare_classes`` of the data module: checked, wired and read from YAML.

The sampler's own behaviour (shares of crop centres, redraws, strength 0) is
tested in ``tests/samplers/test_rare.py``; here the option reaches it from
:class:`~torchgeo_bvm.training.options.SamplingOptions` and from the user
guide's YAML through ``torchgeo fit``.
"""

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from torchgeo.main import main as torchgeo_main

from tests.docs_commands import documented_blocks
from tests.joint_scene import RES, Scene, write_scene
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.samplers.rare import RareClassCentres
from torchgeo_bvm.sheets.layout import SplitRegion
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    SamplingOptions,
)

pytestmark = pytest.mark.filterwarnings('ignore:.*Unknown.*:UserWarning')


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def module(scene: Scene, rare_classes: object) -> BVMDataModule:
    return BVMDataModule(
        sentinel2_paths=str(scene.imagery),
        bvm_paths=str(scene.bvm),
        sheets=[22],
        imagery=ImageryOptions(crs='EPSG:31370', res=RES),
        labels=LabelOptions(boundary=str(scene.boundary)),
        sampling=SamplingOptions(rare_classes=rare_classes),  # type: ignore[arg-type]
        patch_size=32,
        batch_size=4,
        length=8,
    )


@pytest.mark.parametrize(
    ('value', 'shown'),
    [(1.5, '1.5'), (-0.25, '-0.25'), (math.nan, 'nan'), ('0.5', "'0.5' (text)")],
)
def test_bad_values_name_the_option(scene: Scene, value: object, shown: str) -> None:
    message = (
        'sampling.rare_classes must be a number from 0 (crops drawn uniformly) to 1 '
        f'(every crop drawn by class weight), got {shown}'
    )
    with pytest.raises(BVMValueError, match=f'^{re.escape(message)}$'):
        module(scene, value).check()


def test_default_draws_uniformly(scene: Scene) -> None:
    dm = module(scene, 0.0)
    dm.setup('fit')
    assert dm.check().rare_classes == 0.0
    assert isinstance(dm.train_dataset.redraw.centres, SplitRegion)


def test_crops_and_redraws_prefer_rare_classes_of_the_bvm_polygons(
    scene: Scene,
) -> None:
    dm = module(scene, 1)
    dm.setup('fit')
    centres = dm.train_dataset.redraw.centres
    assert isinstance(centres, RareClassCentres)
    assert centres.strength == 1.0
    assert centres.cells.size == 16
    # the polygons' labels of the train half (columns 0-159), counted exactly
    train = scene.labels[:, :160]
    expected = np.bincount(train[train != IGNORE_INDEX], minlength=NUM_CLASSES)
    assert centres.cells.counts.sum(axis=0).tolist() == expected.tolist()
    # the batches are drawn from it
    batch = next(iter(dm.train_dataloader()))
    assert tuple(batch['mask'].shape) == (4, 32, 32)


def guide_snippet() -> dict[str, Any]:
    """The user guide's YAML that sets ``sampling.rare_classes``."""
    [block] = [
        b
        for b in documented_blocks(['docs/guide.rst'])
        if 'rare_classes' in b.text and b.text.lstrip().startswith('data:')
    ]
    snippet: dict[str, Any] = yaml.safe_load(block.text)
    return snippet


def test_the_guides_yaml_runs_through_torchgeo_fit(
    scene: Scene, tmp_path: Path
) -> None:
    snippet = guide_snippet()
    assert snippet == {'data': {'init_args': {'sampling': {'rare_classes': 0.5}}}}
    config: dict[str, Any] = {
        'model': {
            'class_path': 'torchgeo.tasks.SemanticSegmentation',
            'init_args': {
                'model': 'unet',
                'backbone': 'resnet18',
                'weights': None,
                'in_channels': 3,
                'num_classes': NUM_CLASSES,
                'ignore_index': IGNORE_INDEX,
            },
        },
        'data': {
            'class_path': 'torchgeo_bvm.training.datamodule.BVMDataModule',
            'init_args': {
                'sentinel2_paths': str(scene.imagery),
                'bvm_paths': str(scene.bvm),
                'sheets': [22],
                'patch_size': 32,
                'batch_size': 2,
                'length': 4,
                'imagery': {'bands': 'rgb', 'crs': 'EPSG:31370', 'res': RES},
                'labels': {'boundary': str(scene.boundary)},
                **snippet['data']['init_args'],
            },
        },
        'trainer': {
            'accelerator': 'cpu',
            'max_epochs': 1,
            'default_root_dir': str(tmp_path),
            'logger': False,
            'enable_checkpointing': False,
            'enable_progress_bar': False,
        },
    }
    path = tmp_path / 'config.yaml'
    path.write_text(yaml.safe_dump(config))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torchgeo_main(['fit', '--config', str(path), '--trainer.fast_dev_run', 'True'])
        # the command line's override reaches the check, and a bad value stops it
        with pytest.raises(
            BVMValueError, match=r'^sampling\.rare_classes .* got 2\.0$'
        ):
            torchgeo_main(
                [
                    'fit',
                    '--config',
                    str(path),
                    '--trainer.fast_dev_run',
                    'True',
                    '--data.init_args.sampling.rare_classes=2',
                ]
            )
