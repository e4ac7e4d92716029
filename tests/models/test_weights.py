"""TorchGeo's pretrained weights, loaded as a download is, the bands mapped by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchgeo.models import ResNet18_Weights

from tests.weights import seed_torchgeo_cache
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.models.fusion import EarlyFusionUNet
from torchgeo_bvm.models.utae import UTAE
from torchgeo_bvm.models.weights import band_key, load_encoder_weights

MOCO = ResNet18_Weights.SENTINEL2_ALL_MOCO
#: Where each of the package's 11 bands sits among SSL4EO-S12's 13 (no B09, B10).
MOCO_INDEX = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12]


@pytest.fixture
def moco(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    return seed_torchgeo_cache(tmp_path / 'torch', MOCO)


def test_band_names_match_across_spellings() -> None:
    assert [band_key(b) for b in ('B01', 'B8A', 'B8a', ' b12', 'VV')] == [
        'B1',
        'B8A',
        'B8A',
        'B12',
        'VV',
    ]


def test_a_weights_name_loads_as_a_download_with_filters_by_band(moco) -> None:
    model = UTAE(11, 14)
    load_encoder_weights(
        model.encoder, 'ResNet18_Weights.SENTINEL2_ALL_MOCO', ALL_BANDS
    )
    filters = model.encoder.conv1.weight.detach()
    assert torch.equal(filters, moco['conv1.weight'][:, MOCO_INDEX])
    assert torch.equal(
        model.encoder.layer3[1].conv2.weight.detach(), moco['layer3.1.conv2.weight']
    )


def test_bands_in_another_order_and_one_unknown(moco) -> None:
    model = UTAE(4, 14)
    with pytest.warns(UserWarning, match='not trained on VV') as warned:
        load_encoder_weights(model.encoder, MOCO, ['B04', 'VV', 'B03', 'B02'])
    assert [str(w.message) for w in warned] == [
        'the weights ResNet18_Weights.SENTINEL2_ALL_MOCO were not trained on VV: '
        'their filters start at zero'
    ]
    filters = model.encoder.conv1.weight.detach()
    assert torch.equal(filters[:, [0, 2, 3]], moco['conv1.weight'][:, [3, 2, 1]])
    assert torch.equal(filters[:, 1], torch.zeros_like(filters[:, 1]))


def test_early_fusion_shares_the_filters_over_the_dates(moco) -> None:
    model = EarlyFusionUNet(3, 14, steps=4)
    load_encoder_weights(model.encoder, MOCO, ['B04', 'B03', 'B02'], steps=4)
    expected = moco['conv1.weight'][:, [3, 2, 1]] / 4
    assert torch.equal(model.encoder.conv1.weight.detach(), expected.repeat(1, 4, 1, 1))


def test_weights_that_fit_nothing_say_so_in_one_line(moco, tmp_path: Path) -> None:
    model = UTAE(2, 14)
    with pytest.raises(BVMValueError) as raised:
        load_encoder_weights(model.encoder, MOCO, ['VV', 'VH'])
    assert str(raised.value) == (
        'the weights ResNet18_Weights.SENTINEL2_ALL_MOCO were trained on B1, B2, '
        'B3, B4, B5, B6, B7, B8, B8a, B9, B10, B11, B12: none of the imagery '
        'bands VV, VH'
    )
    with pytest.raises(BVMValueError) as raised:
        load_encoder_weights(model.encoder, 'ResNet18_Weights.NOPE', ['B04', 'B03'])
    assert str(raised.value) == (
        "weights 'ResNet18_Weights.NOPE' are neither a file nor a TorchGeo weights "
        "name such as 'ResNet18_Weights.SENTINEL2_ALL_MOCO'"
    )
    other = tmp_path / 'encoder.pth'
    torch.save(UTAE(2, 14, backbone='resnet34').encoder.state_dict(), other)
    with pytest.raises(BVMValueError, match=r'^the weights .*encoder\.pth do not fit'):
        load_encoder_weights(model.encoder, other, ['B04', 'B03'])


def test_a_state_dict_file_of_the_same_bands(tmp_path: Path) -> None:
    source = UTAE(2, 14)
    path = tmp_path / 'encoder.pth'
    torch.save(source.encoder.state_dict(), path)
    target = UTAE(2, 14)
    load_encoder_weights(target.encoder, str(path), ['B04', 'B08'])
    assert torch.equal(target.encoder.conv1.weight, source.encoder.conv1.weight)
