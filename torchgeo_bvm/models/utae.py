"""U-TAE: a U-Net whose encoder is shared over the dates, fused by temporal attention.

Garnot & Landrieu (2021, https://arxiv.org/abs/2107.07933): every date of a
series goes through the same convolutional encoder; at the lowest resolution,
:class:`~torchgeo_bvm.models.attention.TemporalAttention` (L-TAE) attends over
the dates at every position; its attention weights, upsampled to each skip
connection's resolution, fuse that level's features of the dates (each head
weighs its own group of channels), and a U-Net decoder turns the fused maps
into class logits.

Here the encoder and decoder are segmentation_models_pytorch's U-Net parts
(any smp encoder, e.g. ``resnet18``, ``efficientnet-b0``), so the encoder
accepts the pretrained weights of TorchGeo's weights API
(:mod:`~torchgeo_bvm.models.weights`). The encoder runs on the valid dates
only (:func:`~torchgeo_bvm.models.steps.on_valid_steps`): batch normalisation
never sees a padded step, and the output does not depend on the values or
the order of the dates that are not valid.
"""

from __future__ import annotations

from typing import override

import segmentation_models_pytorch as smp
import torch
from torch import Tensor
from torch.nn.functional import interpolate

from .attention import TemporalAttention
from .steps import SeriesModel, SeriesSteps, on_valid_steps

__all__ = ['UTAE']


class UTAE(SeriesModel):
    """U-TAE with a segmentation_models_pytorch encoder and U-Net decoder.

    Args:
        in_channels: channels (bands) of one date.
        num_classes: output classes.
        backbone: the smp encoder, shared over the dates.
        encoder_depth: encoder stages (3 to 5); attention works at
            ``1 / 2**encoder_depth`` of the input resolution.
        n_head: attention heads; every skip connection's channels are split
            into that many groups.
        d_k: channels of the attention's queries and keys.

    Raises:
        ValueError: if a skip connection's channels are not a multiple of
            ``n_head``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        backbone: str = 'resnet18',
        encoder_depth: int = 4,
        n_head: int = 8,
        d_k: int = 4,
    ) -> None:
        super().__init__()
        unet = smp.Unet(
            encoder_name=backbone,
            encoder_depth=encoder_depth,
            encoder_weights=None,
            decoder_channels=(256, 128, 64, 32, 16)[-encoder_depth:],
            in_channels=in_channels,
            classes=num_classes,
        )
        self.encoder = unet.encoder
        self.decoder = unet.decoder
        self.segmentation_head = unet.segmentation_head
        channels = tuple(self.encoder.out_channels)[1:]
        uneven = [c for c in channels if c % n_head]
        if uneven:
            raise ValueError(
                f'the {backbone} encoder has {uneven[0]} channels at a skip '
                f'connection, not a multiple of n_head {n_head}'
            )
        self.n_head = n_head
        self.attention = TemporalAttention(
            channels[-1],
            d_model=channels[-1],
            n_head=n_head,
            d_k=d_k,
            out_channels=channels[-1],
        )

    @override
    def forward(
        self, x: Tensor, dates: Tensor | None = None, valid: Tensor | None = None
    ) -> Tensor:
        steps = SeriesSteps(x, dates, valid)
        features = on_valid_steps(
            lambda images: list(self.encoder(images))[1:], x, steps.valid
        )
        lowest, attention = self.attention.over_pixels(
            features[-1], steps.days, steps.valid
        )
        fused = [self._fuse(level, attention) for level in features[:-1]]
        height, width = x.shape[-2:]
        first = x.new_empty(x.shape[0], 0, height, width)
        logits: Tensor = self.segmentation_head(self.decoder([first, *fused, lowest]))
        return logits

    def _fuse(self, level: Tensor, attention: Tensor) -> Tensor:
        """Fuse one level's dates with the attention upsampled to its resolution."""
        batch, count, channels, height, width = level.shape
        heads = attention.shape[0]
        weights = interpolate(
            attention.reshape(heads * batch, count, *attention.shape[-2:]),
            size=(height, width),
            mode='bilinear',
            align_corners=False,
        ).view(heads, batch, count, 1, height, width)
        groups = level.view(batch, count, heads, channels // heads, height, width)
        fused = torch.einsum('hbtcyx,bthcyx->bhcyx', weights, groups)
        return fused.reshape(batch, channels, height, width)
