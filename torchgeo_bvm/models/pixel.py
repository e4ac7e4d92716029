"""A pixel time-series encoder: every pixel's dates through temporal attention.

The per-pixel reference among the temporal models: no convolution sees a
neighbour, so what it learns is the pixel's seasonal course alone (the
approach of the pixel-set and pixel-sequence classifiers of crop mapping). A
linear layer embeds each date's bands,
:class:`~torchgeo_bvm.models.attention.TemporalAttention` (L-TAE) attends over
the pixel's valid dates and a linear head gives the class logits.
TorchGeo's ``Presto`` is the pretrained alternative; its inputs are
Sentinel-1, Sentinel-2, ERA5, SRTM and a Dynamic World class per date, most of
which the package does not read, while this encoder learns from
exactly the bands the data module gives and shares its attention block with
:class:`~torchgeo_bvm.models.utae.UTAE`.

No pretrained weights exist for it; it trains from scratch.
"""

from __future__ import annotations

from typing import override

from torch import Tensor, nn

from .attention import TemporalAttention
from .steps import SeriesModel, SeriesSteps

__all__ = ['PixelTemporalEncoder']


class PixelTemporalEncoder(SeriesModel):
    """L-TAE over the dates of every pixel, then a linear head.

    Args:
        in_channels: channels (bands) of one date.
        num_classes: output classes.
        hidden_dim: channels of the date embedding and the attention.
        n_head: attention heads.
        d_k: channels of the attention's queries and keys.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_dim: int = 64,
        n_head: int = 8,
        d_k: int = 4,
    ) -> None:
        super().__init__()
        self.embedding = nn.Sequential(nn.Linear(in_channels, hidden_dim), nn.ReLU())
        self.attention = TemporalAttention(
            hidden_dim,
            d_model=hidden_dim,
            n_head=n_head,
            d_k=d_k,
            out_channels=hidden_dim,
        )
        self.head = nn.Linear(hidden_dim, num_classes)

    @override
    def forward(
        self, x: Tensor, dates: Tensor | None = None, valid: Tensor | None = None
    ) -> Tensor:
        steps = SeriesSteps(x, dates, valid)
        embedded = self.embedding(x.movedim(2, -1)).movedim(-1, 2)
        encoded, _ = self.attention.over_pixels(embedded, steps.days, steps.valid)
        logits: Tensor = self.head(encoded.movedim(1, -1))
        return logits.movedim(-1, 1)
