"""ImageNet weights for tests, without a download.

smp fetches an encoder's ImageNet weights from the Hugging Face hub
(``smp-hub/<encoder>.imagenet`` at a pinned revision) into the hub's cache. The
tests run with the hub offline (``tests/conftest.py``); :func:`seed_imagenet_cache`
writes stand-in weights (a random encoder of the right architecture) into a cache
in exactly the hub's layout, so the real loading code runs end to end.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from segmentation_models_pytorch.encoders import encoders, get_encoder
from torch import Tensor


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
