"""What the hostile tests of ``torchgeo predict`` share: a scene, a model, configs.

The scene is the exact one of ``tests/joint_scene.py`` (sheet 22 at 100 m, two
dates of 2021), small enough that a prediction run takes seconds; the model is
TorchGeo's own ``SemanticSegmentation`` (a tiny fully convolutional network,
random weights) saved as LightningCLI saves it, so ``torchgeo predict
--ckpt_path`` reads it as it reads a trained one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from torchgeo.tasks import SemanticSegmentation

from tests.joint_scene import RES, Scene, write_scene
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
    TimeSeriesOptions,
)
from torchgeo_bvm.training.prediction import SheetPredictionWriter

WRITER = 'torchgeo_bvm.training.prediction.SheetPredictionWriter'


def make_scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """The exact scene: openEO files of two dates, a BwkHab layer, Refgew."""
    return write_scene(tmp_path_factory.mktemp('predict-scene'))


def data_options(scene: Scene, **changes: Any) -> dict[str, Any]:
    """The data module's ``init_args`` for the scene (YAML values)."""
    options: dict[str, Any] = {
        'sentinel2_paths': str(scene.imagery),
        'bvm_paths': str(scene.bvm),
        'sheets': [22],
        'patch_size': 64,
        'batch_size': 16,
        'imagery': {'crs': 'EPSG:31370', 'res': RES},
        'labels': {'boundary': str(scene.boundary)},
        'prediction': {'sheets': 'test', 'years': [2021]},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            options[key] = {**options[key], **value}
        else:
            options[key] = value
    return options


def datamodule(scene: Scene, **changes: Any) -> BVMDataModule:
    """The data module of :func:`data_options`, built in Python."""
    options = data_options(scene, **changes)
    groups = {
        'imagery': ImageryOptions,
        'labels': LabelOptions,
        'prediction': PredictionOptions,
        'series': TimeSeriesOptions,
    }
    for name, kind in groups.items():
        if name in options:
            options[name] = kind(**options[name])
    return BVMDataModule(**options)


def tiny_model(in_channels: int = len(ALL_BANDS), **changes: Any) -> LightningModule:
    """TorchGeo's segmentation task with a tiny network and random weights."""
    torch.manual_seed(0)
    arguments = {
        'model': 'fcn',
        'num_filters': 4,
        'in_channels': in_channels,
        'num_classes': NUM_CLASSES,
        'ignore_index': IGNORE_INDEX,
        'weights': None,
        **changes,
    }
    return SemanticSegmentation(**arguments)


def predict(
    dm: BVMDataModule, out: Path | None = None, model: LightningModule | None = None
) -> SheetPredictionWriter:
    """``Trainer.predict`` of the tiny model into ``out``."""
    writer = SheetPredictionWriter(out, preview=False)
    trainer = Trainer(
        accelerator='cpu', logger=False, enable_progress_bar=False, callbacks=[writer]
    )
    trainer.predict(model or tiny_model(), datamodule=dm)
    return writer


def checkpoint(dm: BVMDataModule, model: LightningModule, path: Path) -> Path:
    """A checkpoint of one training step, as ``torchgeo fit`` saves it."""
    trainer = Trainer(
        accelerator='cpu',
        max_steps=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=path.parent,
    )
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(path)
    # As LightningCLI records it, so that `--ckpt_path` knows the task's class.
    saved = torch.load(path, weights_only=False)
    saved['hyper_parameters']['_class_path'] = f'torchgeo.tasks.{type(model).__name__}'
    torch.save(saved, path)
    return path


def predict_config(
    folder: Path, data: dict[str, Any], model: dict[str, Any] | None = None
) -> Path:
    """A ``torchgeo predict`` configuration with the prediction writer."""
    config = {
        'model': {
            'class_path': 'torchgeo.tasks.SemanticSegmentation',
            'init_args': model
            or {
                'model': 'fcn',
                'num_filters': 4,
                'in_channels': len(ALL_BANDS),
                'num_classes': NUM_CLASSES,
                'weights': None,
            },
        },
        'data': {
            'class_path': 'torchgeo_bvm.training.datamodule.BVMDataModule',
            'init_args': data,
        },
        'trainer': {
            'accelerator': 'cpu',
            'logger': False,
            'enable_progress_bar': False,
            'default_root_dir': str(folder),
            'callbacks': [{'class_path': WRITER}],
        },
    }
    path = folder / 'predict.yaml'
    path.write_text(yaml.safe_dump(config))
    return path
