"""Pretrained encoder weights through TorchGeo's weights API, bands mapped by name.

TorchGeo publishes encoders pretrained on Sentinel-2 as members of a
``WeightsEnum`` (``ResNet18_Weights.SENTINEL2_ALL_MOCO``, ``..._DINO``, the
SSL4EO-S12 weights of ResNet-50 and ViT backbones, ...). A member's
``get_state_dict`` downloads its file once into the torch hub cache
(``$TORCH_HOME/hub/checkpoints``) and reads it from there afterwards; its
``meta['bands']`` lists the bands its first convolution was trained on, in
order.

The package's imagery has its own bands and order (``imagery.bands``; 11
Sentinel-2 bands by default, no B09 or B10), so the first convolution is
rebuilt by band *name*: each input channel gets the filter of the band of the
same name (``B01`` is ``B1``, ``B8A`` is ``B8a``); a band the weights were not
trained on gets a zero filter, so the pretrained response is unchanged until
training teaches it, and :func:`load_encoder_weights` says which in one
warning line. For a series stacked as channels (early fusion) every date gets
the filters, divided by the number of dates, so that a stack of identical
dates gives the activations of one date.

The weights were trained on Level-1C top-of-atmosphere reflectance; the
package reads Level-2A top-of-canopy reflectance. The filters still carry the
shapes and spectra of land cover; fine-tuning adapts them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torchgeo.models import get_weight
from torchvision.models import WeightsEnum  # type: ignore[import-untyped]

from ..errors import BVMValueError

__all__ = ['band_key', 'load_encoder_weights', 'resolve_weights']

_BAND_NAME = re.compile(r'^B0*(\d+)(A?)$')


def band_key(name: str) -> str:
    """The name a band is matched by: Sentinel-2 numbers without leading zeros.

    Args:
        name: a band name (``'B01'``, ``'B8A'``, ``'B8a'``, ``'VV'``).

    Returns:
        ``'B1'``, ``'B8A'``, ``'B8A'``, ``'VV'``.
    """
    upper = name.strip().upper()
    match = _BAND_NAME.match(upper)
    return f'B{match[1]}{match[2]}' if match else upper


def resolve_weights(weights: WeightsEnum | str | Path) -> WeightsEnum | Path:
    """A weights enum member, from itself, its full name or a state-dict file.

    Args:
        weights: a member (``ResNet18_Weights.SENTINEL2_ALL_MOCO``), its name
            (``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``) or the path of a file
            holding an encoder's state dict.

    Returns:
        The member, or the file's path.

    Raises:
        BVMValueError: if a name is neither a file nor a TorchGeo weights name.
    """
    if isinstance(weights, WeightsEnum):
        return weights
    path = Path(weights)
    if path.is_file():
        return path
    try:
        return get_weight(str(weights))
    except ValueError:
        raise BVMValueError(
            f'weights {str(weights)!r} are neither a file nor a TorchGeo weights '
            "name such as 'ResNet18_Weights.SENTINEL2_ALL_MOCO'"
        ) from None


def load_encoder_weights(
    encoder: nn.Module,
    weights: WeightsEnum | str | Path,
    bands: Sequence[str],
    steps: int = 1,
) -> None:
    """Load pretrained weights into an encoder, its first convolution by band name.

    A weights enum member is read with ``get_state_dict`` (downloaded into the
    torch hub cache the first time, as TorchGeo's own tasks do); a file is a
    state dict of the encoder whose first convolution takes exactly ``bands``.

    Args:
        encoder: the encoder (a segmentation_models_pytorch encoder).
        weights: a weights enum member, its full name or a state-dict file.
        bands: the names of the data's bands, in channel order.
        steps: dates stacked as channels before the first convolution.

    Raises:
        BVMValueError: if the weights do not name their bands, share no band
            with the data, or do not fit the encoder.
    """
    resolved = resolve_weights(weights)
    if isinstance(resolved, Path):
        state = dict(torch.load(resolved, map_location='cpu', weights_only=True))
        trained_on = list(bands)
    else:
        state = dict(
            resolved.get_state_dict(progress=True, check_hash=True, weights_only=True)
        )
        trained_on = list(resolved.meta.get('bands') or [])
        if not trained_on:
            raise BVMValueError(
                f'the weights {resolved} do not name their bands (meta["bands"]), '
                'so they cannot be mapped onto the imagery bands'
            )
    name = _first_convolution(encoder)
    key = f'{name}.weight'
    if key not in state:
        raise BVMValueError(
            f'the weights {weights} have no {key}: they are not for this encoder'
        )
    state[key] = _filters_by_band(state[key], trained_on, bands, steps, str(weights))
    _load(encoder, state, str(weights))


def _first_convolution(encoder: nn.Module) -> str:
    for name, module in encoder.named_modules():
        if isinstance(module, nn.Conv2d):
            return str(name)
    raise BVMValueError(f'{type(encoder).__name__} has no convolution')


def _filters_by_band(
    filters: Tensor,
    trained_on: Sequence[str],
    bands: Sequence[str],
    steps: int,
    weights: str,
) -> Tensor:
    """The first convolution's filters for ``bands`` (``steps`` times), by name."""
    if filters.shape[1] != len(trained_on):
        raise BVMValueError(
            f'the weights {weights} have {filters.shape[1]} input channels but name '
            f'{len(trained_on)} bands'
        )
    index = {band_key(band): i for i, band in enumerate(trained_on)}
    missing = [band for band in bands if band_key(band) not in index]
    if len(missing) == len(bands):
        raise BVMValueError(
            f'the weights {weights} were trained on {", ".join(trained_on)}: none '
            f'of the imagery bands {", ".join(bands)}'
        )
    if missing:
        warnings.warn(
            f'the weights {weights} were not trained on {", ".join(missing)}: '
            'their filters start at zero',
            UserWarning,
            stacklevel=3,
        )
    mapped = filters.new_zeros((filters.shape[0], len(bands), *filters.shape[2:]))
    for channel, band in enumerate(bands):
        if band not in missing:
            mapped[:, channel] = filters[:, index[band_key(band)]]
    return mapped.repeat(1, steps, 1, 1) / steps


def _load(encoder: nn.Module, state: Mapping[str, Tensor], weights: str) -> None:
    try:
        encoder.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).split('\n\t')[1] if '\n\t' in str(error) else str(error)
        raise BVMValueError(
            f'the weights {weights} do not fit the {type(encoder).__name__}: '
            f'{first.strip()}'
        ) from None
