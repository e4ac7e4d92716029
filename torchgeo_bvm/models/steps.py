"""The steps of a series batch: which hold data, and when they were taken.

Every temporal model takes images ``[B, T, C, H, W]`` with, optionally, the
``dates`` of the steps (``[B, T]`` days since 1970-01-01, the ``dates`` of a
series sample) and which steps are ``valid`` (``[B, T]`` bool: the step holds
at least one observation; the data module's ``valid_steps``). A step that is
not valid never reaches a network: the models run their per-date layers on
the valid steps only, so a padded or empty step's values, and where it sits
in the series, cannot change the output. :class:`SeriesModel` is that call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .attention import day_of_year, spread_over_year

__all__ = ['SeriesModel', 'SeriesSteps', 'on_valid_steps']


class SeriesModel(nn.Module, ABC):
    """A network that segments a series: what every temporal model is called with.

    :class:`~torchgeo_bvm.training.temporal.BVMTemporalSegmentation` calls every
    model but TorchGeo's ConvLSTM this way.
    """

    @abstractmethod
    def forward(
        self, x: Tensor, dates: Tensor | None = None, valid: Tensor | None = None
    ) -> Tensor:
        """Segment a series.

        Args:
            x: ``[B, T, C, H, W]`` images.
            dates: ``[B, T]`` days since 1970-01-01, or None.
            valid: ``[B, T]`` bool, True where a step holds data, or None (all).

        Returns:
            ``[B, num_classes, H, W]`` logits.
        """


class SeriesSteps:
    """The days of the year and the validity of a batch's steps.

    Args:
        images: ``[B, T, C, H, W]``.
        dates: ``[B, T]`` days since 1970-01-01, or None (steps spread evenly
            over a year, :func:`~torchgeo_bvm.models.attention.spread_over_year`).
        valid: ``[B, T]`` bool, or None (every step valid).

    Raises:
        ValueError: if the images are not 5-D or the shapes disagree.
    """

    def __init__(
        self, images: Tensor, dates: Tensor | None, valid: Tensor | None
    ) -> None:
        if images.ndim != 5:
            raise ValueError(
                f'a temporal model takes images [B, T, C, H, W], got shape '
                f'{tuple(images.shape)}'
            )
        batch, steps = images.shape[:2]
        for name, given in (('dates', dates), ('valid', valid)):
            if given is not None and tuple(given.shape) != (batch, steps):
                raise ValueError(
                    f'{name} must have shape [B, T] = [{batch}, {steps}], got '
                    f'{tuple(given.shape)}'
                )
        self.days = (
            spread_over_year(batch, steps, images.device)
            if dates is None
            else day_of_year(dates)
        )
        self.valid = (
            torch.ones(batch, steps, dtype=torch.bool, device=images.device)
            if valid is None
            else valid.to(torch.bool)
        )


def on_valid_steps(
    function: Callable[[Tensor], list[Tensor]], images: Tensor, valid: Tensor
) -> list[Tensor]:
    """Apply a per-image function to the valid steps only; zeros elsewhere.

    Args:
        function: takes ``[N, C, H, W]`` images, returns a list of
            ``[N, ...]`` tensors (an encoder's feature maps).
        images: ``[B, T, C, H, W]``.
        valid: ``[B, T]`` bool.

    Returns:
        The function's outputs, each ``[B, T, ...]``, zero at invalid steps.
    """
    batch, steps = valid.shape
    if not bool(valid.any()):
        # Build the shapes from one step, then zero them.
        outputs = function(images[:1, 0])
        return [
            output.new_zeros((batch, steps, *output.shape[1:])) for output in outputs
        ]
    outputs = function(images[valid])
    spread = []
    for output in outputs:
        full = output.new_zeros((batch, steps, *output.shape[1:]))
        full[valid] = output
        spread.append(full)
    return spread
