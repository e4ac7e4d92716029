"""Early and late fusion of a series' dates in a U-Net.

* :class:`EarlyFusionUNet` fuses before the first convolution: the ``T``
  dates are stacked as ``T x C`` channels of one U-Net (the paper's U-Net fed a
  year). A step that is not valid enters as zeros (after normalisation: the
  band means), so its values cannot change the output; its place in the
  series can, since every step has its own input channels.
* :class:`LateFusionUNet` fuses after the last layer: one U-Net segments
  every valid date on its own and the dates' logits are pooled, by their mean
  or by a learnt per-pixel attention over the dates.

Both are segmentation_models_pytorch U-Nets, so their encoders take the
pretrained weights of TorchGeo's weights API
(:mod:`~torchgeo_bvm.models.weights`).
"""

from __future__ import annotations

from typing import Literal, override

import segmentation_models_pytorch as smp
import torch
from torch import Tensor, nn

from .steps import SeriesModel, SeriesSteps, on_valid_steps

__all__ = ['EarlyFusionUNet', 'LateFusionUNet', 'LatePooling']

#: How :class:`LateFusionUNet` pools the dates' logits.
LatePooling = Literal['mean', 'attention']


def _unet(in_channels: int, num_classes: int, backbone: str) -> smp.Unet:
    return smp.Unet(
        encoder_name=backbone,
        encoder_weights=None,
        in_channels=in_channels,
        classes=num_classes,
    )


class EarlyFusionUNet(SeriesModel):
    """A U-Net over the series stacked as channels (date by date, band by band).

    Args:
        in_channels: channels (bands) of one date.
        num_classes: output classes.
        steps: the steps of every series (the first convolution takes
            ``steps * in_channels`` channels).
        backbone: the smp encoder.
    """

    def __init__(
        self, in_channels: int, num_classes: int, steps: int, backbone: str = 'resnet18'
    ) -> None:
        super().__init__()
        self.steps = steps
        self.unet = _unet(steps * in_channels, num_classes, backbone)
        self.encoder = self.unet.encoder

    @override
    def forward(
        self, x: Tensor, dates: Tensor | None = None, valid: Tensor | None = None
    ) -> Tensor:
        """Segment a series.

        Args:
            x: ``[B, T, C, H, W]`` images, ``T`` equal to ``steps``.
            dates: unused (the channel order is the date order).
            valid: ``[B, T]`` bool, or None (all valid).

        Returns:
            ``[B, num_classes, H, W]`` logits.

        Raises:
            ValueError: if the series has another number of steps.
        """
        series = SeriesSteps(x, dates, valid)
        if x.shape[1] != self.steps:
            raise ValueError(
                f'early fusion was built for {self.steps} steps, got {x.shape[1]}'
            )
        x = x * series.valid[:, :, None, None, None]
        logits: Tensor = self.unet(x.flatten(1, 2))
        return logits


class LateFusionUNet(SeriesModel):
    """One U-Net per date (shared weights), the dates' logits pooled.

    Every date is segmented alike: ``dates`` are not used.

    Args:
        in_channels: channels (bands) of one date.
        num_classes: output classes.
        backbone: the smp encoder.
        pooling: ``'mean'`` (the mean of the valid dates' logits) or
            ``'attention'`` (a softmax over the valid dates of a per-pixel score
            that a 1 x 1 convolution computes from each date's logits).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        backbone: str = 'resnet18',
        pooling: LatePooling = 'mean',
    ) -> None:
        super().__init__()
        self.unet = _unet(in_channels, num_classes, backbone)
        self.encoder = self.unet.encoder
        self.pooling = pooling
        self.score = nn.Conv2d(num_classes, 1, 1) if pooling == 'attention' else None

    @override
    def forward(
        self, x: Tensor, dates: Tensor | None = None, valid: Tensor | None = None
    ) -> Tensor:
        series = SeriesSteps(x, dates, valid)
        (logits,) = on_valid_steps(lambda images: [self.unet(images)], x, series.valid)
        weights = self._date_weights(logits, series.valid)
        pooled: Tensor = (logits * weights).sum(dim=1)
        return pooled

    def _date_weights(self, logits: Tensor, valid: Tensor) -> Tensor:
        """``[B, T, 1, H, W]`` weights of the dates, 0 where not valid, sum 1."""
        mask = valid[:, :, None, None, None]
        if self.score is None:
            count = valid.sum(dim=1).clamp(min=1)[:, None, None, None, None]
            return mask / count
        batch, steps = valid.shape
        scores = self.score(logits.flatten(0, 1)).view(
            batch, steps, 1, *logits.shape[-2:]
        )
        scores = scores.masked_fill(~mask, float('-inf'))
        return torch.softmax(scores, dim=1).nan_to_num(0.0)
