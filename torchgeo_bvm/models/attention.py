"""Lightweight temporal attention over the dates of a series, with masked dates.

The L-TAE of Garnot & Landrieu (2020, https://arxiv.org/abs/2007.00586): every
head has one learnt *master query*; the keys are a linear map of the dates'
features (each shifted by a sinusoidal encoding of its day of the year), and
the output of a head is the attention-weighted sum of its group of the input
channels. The heads' outputs go through a small MLP.

TorchGeo ships an ``LTAE`` (:class:`torchgeo.models.LTAE`). It is not used
here because a series of Flanders has dates that carry nothing (a month
without a clear observation, a padded step), and TorchGeo's block attends to
every step: it takes no mask, encodes the step's index rather than its date,
and does not return the attention weights that U-TAE needs to fuse its skip
connections. :class:`TemporalAttention` gives a masked date exactly zero
weight, so the output does not depend on the masked dates' values or order.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['TemporalAttention', 'day_of_year', 'spread_over_year']

#: The period of the sinusoidal date encoding, in days (L-TAE's).
ENCODING_PERIOD = 1000.0


def day_of_year(dates: Tensor) -> Tensor:
    """The day of the year (0 for 1 January) of dates given as days since 1970-01-01.

    Args:
        dates: whole days since 1970-01-01 (the ``dates`` of a series sample),
            any shape; negative values (padded steps) give 0.

    Returns:
        The day of the year of each date, float, on the dates' device.
    """
    days = dates.detach().to('cpu', torch.int64).clamp(min=0).numpy()
    moments = np.datetime64('1970-01-01', 'D') + days.astype('timedelta64[D]')
    starts = moments.astype('datetime64[Y]').astype('datetime64[D]')
    into_year = (moments - starts).astype(np.int64)
    return torch.from_numpy(into_year).to(dates.device, torch.float32)


def spread_over_year(batch: int, steps: int, device: torch.device) -> Tensor:
    """Days of the year for a series without dates: the steps spread evenly.

    Args:
        batch: samples.
        steps: steps per sample.
        device: the device of the result.

    Returns:
        ``[batch, steps]`` days, step ``t`` at ``365 t / steps``.
    """
    days = torch.arange(steps, device=device, dtype=torch.float32) * (365.0 / steps)
    return days.expand(batch, steps)


def date_encoding(days: Tensor, channels: int) -> Tensor:
    """Sinusoidal encoding of days, ``[..., channels]`` (sine and cosine pairs).

    Args:
        days: days of the year, any shape.
        channels: channels of the encoding (even).

    Returns:
        The encoding, shape ``days.shape + (channels,)``.
    """
    frequencies = torch.exp(
        torch.arange(0, channels, 2, device=days.device, dtype=torch.float32)
        * (-math.log(ENCODING_PERIOD) / channels)
    )
    angles = days.unsqueeze(-1) * frequencies
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)


class TemporalAttention(nn.Module):
    """L-TAE: attention of learnt master queries over the dates, masked dates ignored.

    Input sequences ``[N, T, in_channels]`` (N pixels or samples, T dates) with
    their days of the year ``[N, T]`` and a mask ``[N, T]`` (True where a date
    holds an observation). Every sequence needs at least one valid date; a
    sequence with none gives zeros (and zero weights), not NaN.

    Args:
        in_channels: channels of each date's features.
        d_model: channels after the input projection (divisible by ``n_head``).
        n_head: attention heads, each with its own query.
        d_k: channels of the queries and keys.
        out_channels: channels of the output.
        dropout: dropout on the output.

    Raises:
        ValueError: if ``d_model`` is not a multiple of ``n_head`` or odd.
    """

    def __init__(
        self,
        in_channels: int,
        d_model: int = 128,
        n_head: int = 8,
        d_k: int = 4,
        out_channels: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if d_model % n_head or d_model % 2:
            raise ValueError(
                f'd_model {d_model} must be even and a multiple of n_head {n_head}'
            )
        self.n_head = n_head
        self.d_k = d_k
        self.d_model = d_model
        self.in_norm = nn.LayerNorm(in_channels)
        self.in_projection = nn.Linear(in_channels, d_model)
        self.queries = nn.Parameter(torch.randn(n_head, d_k) * d_k**-0.5)
        self.keys = nn.Linear(d_model, n_head * d_k)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, out_channels),
            nn.LayerNorm(out_channels),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, days: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Attend over the dates.

        Args:
            x: ``[N, T, in_channels]`` features of every date.
            days: ``[N, T]`` day of the year of every date.
            valid: ``[N, T]`` bool, True where a date holds an observation.

        Returns:
            ``[N, out_channels]`` features and the attention ``[n_head, N, T]``
            (each head's weights sum to 1 over the valid dates, 0 on the others).
        """
        values = self.in_projection(self.in_norm(x))
        values = values + date_encoding(days, self.d_model)
        count, steps, _ = values.shape
        keys = self.keys(values).view(count, steps, self.n_head, self.d_k)
        scores = torch.einsum('nthk,hk->hnt', keys, self.queries) / self.d_k**0.5
        scores = scores.masked_fill(~valid.unsqueeze(0), float('-inf'))
        attention = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        # A masked date's weight is 0, but 0 times a NaN it may hold is NaN.
        values = values.masked_fill(~valid.unsqueeze(-1), 0.0)
        grouped = values.view(count, steps, self.n_head, self.d_model // self.n_head)
        heads = torch.einsum('hnt,nthc->nhc', attention, grouped)
        output: Tensor = self.dropout(self.mlp(heads.reshape(count, self.d_model)))
        return output, attention

    def over_pixels(
        self, features: Tensor, days: Tensor, valid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Attend over the dates at every pixel of a series of feature maps.

        Args:
            features: ``[B, T, in_channels, H, W]``.
            days: ``[B, T]`` day of the year of every date.
            valid: ``[B, T]`` bool, True where a date holds an observation.

        Returns:
            ``[B, out_channels, H, W]`` features and the attention
            ``[n_head, B, T, H, W]``.
        """
        batch, steps, channels, height, width = features.shape
        pixels = features.permute(0, 3, 4, 1, 2).reshape(-1, steps, channels)
        per_pixel = height * width
        output, attention = self(
            pixels,
            days.repeat_interleave(per_pixel, dim=0),
            valid.repeat_interleave(per_pixel, dim=0),
        )
        fused = output.view(batch, height, width, -1).permute(0, 3, 1, 2)
        attention = attention.view(self.n_head, batch, height, width, steps)
        return fused.contiguous(), attention.permute(0, 1, 4, 2, 3)
