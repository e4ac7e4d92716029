"""U-TAE: invariant to the steps that hold no data, their values and their order."""

from __future__ import annotations

import pytest
import torch

from torchgeo_bvm.models.utae import UTAE

STEPS = 12
#: The first day of every month of 2022, in days since 1970-01-01.
MONTHS = torch.tensor(
    [18993, 19024, 19052, 19083, 19113, 19144, 19174, 19205, 19236, 19266, 19297, 19327]
)


def series(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(2, STEPS, 4, 32, 32, generator=generator)
    dates = MONTHS.expand(2, STEPS).clone()
    valid = torch.ones(2, STEPS, dtype=torch.bool)
    valid[0, [0, 5, 6]] = False
    valid[1, 9:] = False
    return images, dates, valid


@pytest.mark.parametrize('training', [False, True])
def test_padded_dates_neither_their_values_nor_order_matter(training: bool) -> None:
    torch.manual_seed(0)
    model = UTAE(4, 5, encoder_depth=3).train(training)
    images, dates, valid = series()
    with torch.no_grad():
        expected = model(images, dates, valid)
        # Other values at the padded steps, and the padded steps reordered.
        shuffled = images.clone()
        shuffled[~valid] = torch.randn(int((~valid).sum()), 4, 32, 32) * 1e3
        order = torch.tensor([6, 1, 2, 3, 4, 0, 5, 7, 8, 9, 10, 11])
        shuffled[0] = shuffled[0, order]
        moved_dates, moved_valid = dates.clone(), valid.clone()
        moved_dates[0], moved_valid[0] = dates[0, order], valid[0, order]
        order = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 9, 10])
        shuffled[1] = shuffled[1, order]
        moved_dates[1], moved_valid[1] = dates[1, order], valid[1, order]
        if training:
            torch.manual_seed(0)
            model = UTAE(4, 5, encoder_depth=3).train(training)
        result = model(shuffled, moved_dates, moved_valid)
    assert expected.shape == (2, 5, 32, 32)
    assert torch.equal(result, expected)


def test_the_valid_dates_count_and_where_they_fall_in_the_year() -> None:
    torch.manual_seed(0)
    model = UTAE(4, 5, encoder_depth=3).eval()
    images, dates, valid = series()
    with torch.no_grad():
        expected = model(images, dates, valid)
        fewer = valid.clone()
        fewer[0, 3] = False
        assert not torch.equal(model(images, dates, fewer)[0], expected[0])
        assert torch.equal(model(images, dates, fewer)[1], expected[1])
        shifted = dates + 14
        assert not torch.equal(model(images, shifted, valid), expected)


def test_skip_channels_must_split_into_the_heads() -> None:
    with pytest.raises(ValueError, match=r'^the resnet18 encoder') as raised:
        UTAE(4, 5, n_head=48)
    assert str(raised.value) == (
        'the resnet18 encoder has 64 channels at a skip connection, not a multiple '
        'of n_head 48'
    )
