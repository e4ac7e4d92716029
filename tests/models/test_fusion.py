"""Early and late fusion: what a step without data does to each."""

from __future__ import annotations

import pytest
import torch

from torchgeo_bvm.models.fusion import EarlyFusionUNet, LateFusionUNet


def test_early_fusion_zeroes_the_empty_steps() -> None:
    torch.manual_seed(0)
    model = EarlyFusionUNet(3, 4, steps=5).eval()
    images = torch.randn(2, 5, 3, 32, 32)
    valid = torch.ones(2, 5, dtype=torch.bool)
    valid[1, 2] = False
    zeroed = images.clone()
    zeroed[1, 2] = 0
    with torch.no_grad():
        assert torch.equal(model(images, None, valid), model.unet(zeroed.flatten(1, 2)))
        with pytest.raises(ValueError, match=r'^early fusion') as raised:
            model(images[:, :4])
        assert str(raised.value) == 'early fusion was built for 5 steps, got 4'


def test_late_fusion_averages_the_valid_dates_logits() -> None:
    torch.manual_seed(0)
    model = LateFusionUNet(3, 4).eval()
    images = torch.randn(2, 4, 3, 32, 32)
    valid = torch.tensor([[True, False, True, True], [False, False, True, False]])
    with torch.no_grad():
        pooled = model(images, None, valid)
        first = torch.stack([model.unet(images[0, t : t + 1])[0] for t in (0, 2, 3)])
        assert torch.allclose(pooled[0], first.mean(dim=0), atol=1e-5)
        assert torch.allclose(pooled[1], model.unet(images[1, 2:3])[0], atol=1e-5)


def test_late_attention_pooling_weighs_only_valid_dates() -> None:
    torch.manual_seed(0)
    model = LateFusionUNet(3, 4, pooling='attention').eval()
    images = torch.randn(1, 3, 3, 32, 32)
    valid = torch.tensor([[True, False, True]])
    changed = images.clone()
    changed[0, 1] = 1e4
    with torch.no_grad():
        assert torch.equal(model(images, None, valid), model(changed, None, valid))
        single = torch.tensor([[False, False, True]])
        assert torch.allclose(
            model(images, None, single)[0], model.unet(images[0, 2:3])[0], atol=1e-5
        )
