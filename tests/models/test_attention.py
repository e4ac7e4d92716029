"""L-TAE attention with masked dates, and the days of the year it encodes."""

from __future__ import annotations

import pytest
import torch

from torchgeo_bvm.datasets.series import day_number
from torchgeo_bvm.models.attention import (
    TemporalAttention,
    day_of_year,
    spread_over_year,
)


def test_day_of_year_of_days_since_1970() -> None:
    import pandas as pd

    days = torch.tensor(
        [
            day_number(pd.Timestamp('2022-01-01')),
            day_number(pd.Timestamp('2022-03-01')),
            day_number(pd.Timestamp('2024-12-31')),
            -1,
        ]
    )
    assert day_of_year(days).tolist() == [0.0, 59.0, 365.0, 0.0]


def test_steps_without_dates_spread_over_a_year() -> None:
    days = spread_over_year(2, 4, torch.device('cpu'))
    assert days.tolist() == [[0.0, 91.25, 182.5, 273.75]] * 2


def test_masked_dates_get_no_weight_and_change_nothing() -> None:
    torch.manual_seed(0)
    attention = TemporalAttention(6, d_model=16, n_head=4, d_k=4, out_channels=8)
    x = torch.randn(5, 7, 6)
    days = torch.arange(7.0).expand(5, 7) * 30
    valid = torch.ones(5, 7, dtype=torch.bool)
    valid[:, [1, 4]] = False
    valid[3] = False
    valid[3, 6] = True
    out, weights = attention(x, days, valid)
    assert out.shape == (5, 8)
    assert weights.shape == (4, 5, 7)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(4, 5))
    assert bool((weights[:, ~valid] == 0).all())
    assert torch.equal(weights[:, 3, 6], torch.ones(4))
    changed = x.clone()
    changed[~valid] = float('nan')
    again, _ = attention(changed, days, valid)
    assert torch.equal(out, again)


def test_a_sequence_without_valid_dates_gives_zero_weights() -> None:
    attention = TemporalAttention(3, d_model=8, n_head=2, d_k=2, out_channels=4)
    _, weights = attention(
        torch.randn(2, 3, 3), torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.bool)
    )
    assert torch.equal(weights, torch.zeros(2, 2, 3))


def test_heads_must_divide_the_channels() -> None:
    with pytest.raises(ValueError, match=r'^d_model 10') as raised:
        TemporalAttention(4, d_model=10, n_head=4)
    assert str(raised.value) == 'd_model 10 must be even and a multiple of n_head 4'
