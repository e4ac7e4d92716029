"""The temporal task: every model by name, its steps and its pretrained weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchgeo.models import ResNet18_Weights

from tests.weights import seed_torchgeo_cache
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.training.agreement import InputLayout
from torchgeo_bvm.training.temporal import TEMPORAL_MODELS, BVMTemporalSegmentation

RGB = ('B04', 'B03', 'B02')


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[0, 1] = valid[1, 5] = False
    return {
        'image': torch.randn(2, 6, 3, 32, 32, generator=generator),
        'dates': torch.arange(6).expand(2, 6) * 30 + 19000,
        'valid_steps': valid,
    }


@pytest.mark.parametrize('model', TEMPORAL_MODELS)
def test_every_model_predicts_calibrated_probabilities(model: str) -> None:
    torch.manual_seed(0)
    task = BVMTemporalSegmentation(
        model=model, in_channels=3, num_classes=5, steps=6, bands=RGB
    ).eval()
    sample = batch()
    with torch.no_grad():
        probabilities = task.predict_step(sample, 0)['probabilities']
        assert probabilities is not None
        assert probabilities.shape == (2, 5, 32, 32)
        assert torch.allclose(probabilities.sum(dim=1), torch.ones(2, 32, 32))
        if model == 'convlstm':
            return
        # The steps without data are the batch's: their values do not count.
        sample['image'][~sample['valid_steps']] = 1e3
        again = task.predict_step(sample, 0)['probabilities']
        assert again is not None
        assert torch.equal(again, probabilities)


def test_the_encoder_weights_load_when_fit_starts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    state = seed_torchgeo_cache(tmp_path, ResNet18_Weights.SENTINEL2_ALL_MOCO)
    task = BVMTemporalSegmentation(
        model='late', weights='ResNet18_Weights.SENTINEL2_ALL_MOCO'
    )
    assert not torch.equal(
        task.model.encoder.layer1[0].conv1.weight, state['layer1.0.conv1.weight']
    )
    task.load_initial_weights()
    assert task.initial_weights_loaded
    encoder = task.model.encoder
    assert torch.equal(encoder.layer1[0].conv1.weight, state['layer1.0.conv1.weight'])
    assert torch.equal(
        encoder.conv1.weight,
        state['conv1.weight'][:, [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12]],
    )
    assert task.bands == ALL_BANDS


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        (
            {'model': 'pixel', 'weights': 'ResNet18_Weights.SENTINEL2_ALL_MOCO'},
            "the temporal model 'pixel' has no encoder that takes pretrained "
            'weights (only early, utae, late do): set weights: null',
        ),
        (
            {'model': 'utae', 'weights': True},
            "weights: true (ImageNet) is not offered for the temporal model 'utae': "
            'give a TorchGeo Sentinel-2 weights name such as '
            "'ResNet18_Weights.SENTINEL2_ALL_MOCO', or null",
        ),
        (
            {'model': 'transformer'},
            "unknown temporal model 'transformer': expected one of early, convlstm, "
            'utae, late, pixel',
        ),
        (
            {'in_channels': 3, 'weights': 'ResNet18_Weights.SENTINEL2_ALL_MOCO'},
            "weights 'ResNet18_Weights.SENTINEL2_ALL_MOCO' are mapped onto the bands "
            'by name: set bands to the 3 imagery bands in channel order',
        ),
        (
            {'in_channels': 3, 'bands': ['B04', 'B03']},
            'bands names 2 bands and in_channels is 3: give one name per input channel',
        ),
    ],
)
def test_settings_that_cannot_work_fail_in_one_line(arguments, message: str) -> None:
    with pytest.raises(BVMValueError) as raised:
        BVMTemporalSegmentation(**arguments)
    assert str(raised.value) == message


def test_the_data_module_checks_steps_and_bands() -> None:
    year = InputLayout(RGB, 'monthly', 12, None, 'time')
    early = BVMTemporalSegmentation(model='early', in_channels=3, steps=6, bands=RGB)
    with pytest.raises(BVMValueError) as raised:
        year.check_model(early, classes=True)
    assert str(raised.value) == (
        'the early-fusion model takes 6 steps (steps), and the data module gives '
        'series of 12 months (1-12) of the bands B04, B03, B02, stacked in time: '
        'set steps: 12 or the series as in training'
    )
    swapped = BVMTemporalSegmentation(
        model='utae', in_channels=3, bands=['B02', 'B03', 'B04']
    )
    with pytest.raises(BVMValueError) as raised:
        year.check_model(swapped, classes=True)
    assert str(raised.value) == (
        'the model (BVMTemporalSegmentation) names the bands B02, B03, B04 (bands), '
        "and the data module gives B04, B03, B02: set the model's bands to "
        'imagery.bands in channel order'
    )
    year.check_model(
        BVMTemporalSegmentation(model='pixel', in_channels=3), classes=True
    )
    with pytest.raises(BVMValueError, match=r'reads series \(B, T, C, H, W\)'):
        InputLayout(RGB, 'monthly', 12, None, 'channels').check_model(
            swapped, classes=True
        )
