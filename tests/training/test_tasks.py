"""BVMSemanticSegmentation: the initial weights load at fit, never at test/predict."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from torchgeo.tasks import SemanticSegmentation

from tests.weights import seed_imagenet_cache
from torchgeo_bvm.training.tasks import WEIGHTS_OVERRIDE, BVMSemanticSegmentation

ARGS = {
    'model': 'unet',
    'backbone': 'vgg16',
    'in_channels': 11,
    'num_classes': 14,
}


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face hub cache, offline (as every test runs)."""
    cache = tmp_path / 'hub'
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    return cache


def test_built_without_the_weights(hub_cache: Path) -> None:
    # ImageNet weights asked for, none in the cache, hub offline: constructing
    # the task (what `torchgeo test` and `predict` do first) needs none.
    task = BVMSemanticSegmentation(weights=True, **ARGS)
    assert task.weights is True
    assert task.initial_weights is True
    assert task.initial_weights_loaded is False
    assert not list(hub_cache.rglob('*.safetensors'))


def test_loads_the_weights_torchgeo_would(hub_cache: Path) -> None:
    imagenet = seed_imagenet_cache(hub_cache)
    task = BVMSemanticSegmentation(weights=True, **ARGS)
    before = task.model.encoder.features[2].weight.detach().clone()
    task.load_initial_weights()
    assert task.initial_weights_loaded
    encoder = task.model.encoder.state_dict()
    # What TorchGeo's own task starts from, its first convolution patched from 3
    # to 11 channels by smp.
    reference = SemanticSegmentation(weights=True, **ARGS).model.encoder.state_dict()
    assert encoder.keys() == reference.keys()
    for key in encoder:
        assert torch.equal(encoder[key], reference[key]), key
    assert torch.equal(encoder['features.2.weight'], imagenet['features.2.weight'])
    assert not torch.equal(before, encoder['features.2.weight'])


def test_missing_weights_stop_fit_with_one_line(hub_cache: Path) -> None:
    task = BVMSemanticSegmentation(weights=True, **ARGS)
    with pytest.raises(SystemExit) as stopped:
        task.load_initial_weights()
    message = str(stopped.value.code)
    assert '\n' not in message
    assert message.startswith(
        'error: the ImageNet weights of the vgg16 encoder could not be loaded ('
    )
    assert message.endswith(f'add {WEIGHTS_OVERRIDE}')
    assert WEIGHTS_OVERRIDE == '--model.init_args.weights=null'


def test_random_weights_need_nothing(hub_cache: Path) -> None:
    task = BVMSemanticSegmentation(weights=None, **ARGS)
    task.load_initial_weights()
    assert not task.initial_weights_loaded


@pytest.mark.parametrize('resuming', [False, True])
def test_fit_start_loads_unless_resuming(
    hub_cache: Path, tmp_path: Path, resuming: bool
) -> None:
    from lightning.pytorch import Trainer

    task = BVMSemanticSegmentation(weights=True, **ARGS)
    trainer = Trainer(
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    task.trainer = trainer
    if resuming:
        # The checkpoint supplies every weight: nothing to load, nothing missing.
        trainer.ckpt_path = str(tmp_path / 'last.ckpt')
        task.on_fit_start()
        assert not task.initial_weights_loaded
    else:
        with pytest.raises(SystemExit, match='weights=null'):
            task.on_fit_start()
