"""The pixel time-series encoder: each pixel alone, empty steps ignored."""

from __future__ import annotations

import torch

from torchgeo_bvm.models.pixel import PixelTemporalEncoder


def test_every_pixel_is_classified_from_its_own_series() -> None:
    torch.manual_seed(0)
    model = PixelTemporalEncoder(3, 5, hidden_dim=16, n_head=4).eval()
    images = torch.randn(2, 6, 3, 8, 8)
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[0, 4] = False
    with torch.no_grad():
        logits = model(images, None, valid)
        assert logits.shape == (2, 5, 8, 8)
        # A neighbour's change leaves the pixel alone; the pixel's own does not.
        changed = images.clone()
        changed[0, :, :, 3, 3] += 5
        again = model(changed, None, valid)
        assert not torch.equal(again[0, :, 3, 3], logits[0, :, 3, 3])
        assert torch.equal(again[0, :, 3, 4], logits[0, :, 3, 4])
        assert torch.equal(again[1], logits[1])
        # The empty step's values do not count.
        changed = images.clone()
        changed[0, 4] = -7
        assert torch.equal(model(changed, None, valid), logits)
