"""BVMSemanticSegmentation: the initial weights load at fit, never at test/predict."""

from __future__ import annotations

import subprocess
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from torchgeo.tasks import SemanticSegmentation

from tests.docs_commands import environment
from tests.weights import seed_imagenet_cache
from torchgeo_bvm.errors import BVMFileError
from torchgeo_bvm.training.configs import config_text
from torchgeo_bvm.training.tasks import (
    WEIGHTS_OVERRIDE,
    BVMSemanticSegmentation,
    imagenet_unreachable,
)

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


@pytest.mark.slow
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
    # The hub offline (as in every test) and nothing cached: TorchGeo's loading
    # fails, and the task says so in one line naming the way out.
    task = BVMSemanticSegmentation(weights=True, **ARGS)
    with pytest.raises(BVMFileError) as stopped:
        task.load_initial_weights()
    message = str(stopped.value)
    assert '\n' not in message
    assert message.startswith(
        'the ImageNet weights of the vgg16 encoder could not be loaded ('
    )
    assert message.endswith(f'add {WEIGHTS_OVERRIDE}')
    assert WEIGHTS_OVERRIDE == '--model.init_args.weights=null'


def test_no_network_fails_at_once_without_the_hubs_retries(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Online mode, a hub whose host name cannot resolve (.invalid never does):
    # the hub would retry for half a minute; the task fails at once.
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', False)
    monkeypatch.setattr(
        huggingface_hub.constants, 'ENDPOINT', 'https://huggingface.invalid'
    )
    for name in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'):
        monkeypatch.delenv(name, raising=False)
    assert imagenet_unreachable('vgg16') == (
        f'not in the Hugging Face cache {hub_cache} and huggingface.invalid does '
        'not resolve: no network or DNS?'
    )
    task = BVMSemanticSegmentation(weights=True, **ARGS)
    # Raised before the hub is asked: its retries never start.
    with pytest.raises(BVMFileError, match=r'huggingface\.invalid does not resolve'):
        task.load_initial_weights()
    # A proxy resolves the name itself; cached weights need no network at all.
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.invalid:3128')
    assert imagenet_unreachable('vgg16') == ''
    monkeypatch.delenv('HTTPS_PROXY')
    seed_imagenet_cache(hub_cache)
    assert imagenet_unreachable('vgg16') == ''
    # Encoders whose weights smp does not keep on the hub are left to TorchGeo.
    assert imagenet_unreachable('tu-resnet18') == ''


@pytest.mark.slow
def test_offline_fit_under_torchgeo_is_one_line_with_status_2(
    mini_flanders, mini_labels, tmp_path: Path
) -> None:
    folder, _ = mini_flanders
    config = tmp_path / 'bvm_all.yaml'
    config.write_text(config_text('bvm_all', laptop=True, cpus=1))
    env = {
        **environment(),
        'HF_HUB_OFFLINE': '0',
        'HF_HOME': str(tmp_path / 'hf'),
        'HF_ENDPOINT': 'https://huggingface.invalid',
    }
    for name in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'):
        env.pop(name, None)
    done = subprocess.run(
        [
            'torchgeo', 'fit', '--config', str(config),
            f'--data.init_args.sentinel2_paths={folder / "TOC_V2"}',
            f'--data.init_args.bvm_paths={mini_labels}',
            '--data.init_args.imagery.crs=EPSG:32631',
            '--data.init_args.imagery.res=10',
            '--data.init_args.sheets=[22]', '--data.init_args.imagery={"stats": null}',
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == (
        'torchgeo fit: error: the ImageNet weights of the vgg16 encoder could not '
        f'be loaded (not in the Hugging Face cache {tmp_path / "hf" / "hub"} and '
        'huggingface.invalid does not resolve: no network or DNS?); to train from '
        'random weights instead, add --model.init_args.weights=null'
    )
    assert 'Traceback' not in done.stderr
    assert 'Retrying' not in done.stderr
    assert not (tmp_path / 'checkpoints').exists()


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
        with pytest.raises(BVMFileError, match='weights=null'):
            task.on_fit_start()
