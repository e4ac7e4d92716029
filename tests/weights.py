"""Pretrained weights for tests, without a download.

smp fetches an encoder's ImageNet weights from the Hugging Face hub
(``smp-hub/<encoder>.imagenet`` at a pinned revision) into the hub's cache. The
tests run with the hub offline (``tests/conftest.py``); :func:`seed_imagenet_cache`
writes stand-in weights (a random encoder of the right architecture) into a cache
in exactly the hub's layout, so the real loading code runs end to end.
TorchGeo's weights are files in the torch hub cache: :func:`seed_torchgeo_cache`
writes them there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import timm
import torch
from safetensors.torch import save_file
from segmentation_models_pytorch.encoders import encoders, get_encoder
from torch import Tensor
from torchvision.models import WeightsEnum


def seed_imagenet_cache(cache: Path, backbone: str = 'vgg16') -> dict[str, Tensor]:
    """Write stand-in ImageNet weights of an smp encoder into a hub cache.

    Args:
        cache: the hub cache folder (``HF_HUB_CACHE``).
        backbone: the smp encoder.

    Returns:
        The state dict written (3 input channels, as the hub's).
    """
    settings = encoders[backbone]['pretrained_settings']['imagenet']
    repo = 'models--' + settings['repo_id'].replace('/', '--')
    snapshot = cache / repo / 'snapshots' / settings['revision']
    snapshot.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    state = get_encoder(backbone, in_channels=3, weights=None).state_dict()
    save_file(
        {k: v.contiguous() for k, v in state.items()}, snapshot / 'model.safetensors'
    )
    (snapshot / 'config.json').write_text('{}')
    return state


def seed_torchgeo_cache(torch_home: Path, weights: WeightsEnum) -> dict[str, Tensor]:
    """Write stand-in TorchGeo weights where ``get_state_dict`` finds its download.

    A member of a TorchGeo ``WeightsEnum`` downloads its ``url`` into the torch
    hub cache (``$TORCH_HOME/hub/checkpoints/<file name of the url>``) once and
    reads the file from there afterwards; the file written here is a random
    timm encoder of the member's architecture and ``in_chans``, so the real
    loading code runs end to end.

    Args:
        torch_home: the folder ``TORCH_HOME`` names.
        weights: the member (its ``meta['model']`` and ``meta['in_chans']``).

    Returns:
        The state dict written.
    """
    target = torch_home / 'hub' / 'checkpoints' / Path(urlparse(weights.url).path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(2)
    encoder = timm.create_model(
        weights.meta['model'], in_chans=weights.meta['in_chans'], num_classes=0
    )
    state: dict[str, Tensor] = encoder.state_dict()
    torch.save(state, target)
    return state
