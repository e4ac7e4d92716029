"""The task's temperature: fitted at every validation, saved, used to predict."""

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.evaluation.calibration import fit_temperature
from torchgeo_bvm.training.calibration import ValidationLogits
from torchgeo_bvm.training.tasks import BVMSemanticSegmentation


def _samples(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        image = torch.rand(3, 32, 32, generator=generator)
        # A class the image shows (its brightest band), with some noise.
        mask = image.argmax(dim=0)
        flip = torch.rand(32, 32, generator=generator) < 0.2
        mask[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=generator)
        mask[:4] = IGNORE_INDEX
        samples.append({'image': image, 'mask': mask})
    return samples


def _task(**kwargs: object) -> BVMSemanticSegmentation:
    torch.manual_seed(0)
    return BVMSemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=8,
        ignore_index=IGNORE_INDEX,
        lr=0.05,
        **kwargs,
    )


def _fit(tmp_path: Path) -> tuple[BVMSemanticSegmentation, ModelCheckpoint, list]:
    task = _task()
    validation = _samples(4, 1)
    checkpoints = ModelCheckpoint(dirpath=tmp_path, filename='best', save_last=True)
    trainer = Trainer(
        max_steps=6,
        callbacks=[checkpoints],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        accelerator='cpu',
        num_sanity_val_steps=0,
    )
    trainer.fit(
        task,
        DataLoader(_samples(12, 0), batch_size=4),
        DataLoader(validation, batch_size=2),
    )
    return task, checkpoints, validation


def test_validation_fits_the_temperature_that_is_saved(tmp_path: Path) -> None:
    task, checkpoints, validation = _fit(tmp_path)
    # Independently: every labelled validation pixel's logits (all fit in the
    # sample), the temperature that makes their labels most likely.
    task.eval()
    with torch.no_grad():
        logits = task(torch.stack([s['image'] for s in validation]))
    labels = torch.stack([s['mask'] for s in validation])
    flat = logits.permute(0, 2, 3, 1).reshape(-1, NUM_CLASSES).numpy()
    keep = labels.reshape(-1).numpy() != IGNORE_INDEX
    expected = fit_temperature(flat[keep], labels.reshape(-1).numpy()[keep])
    assert float(task.temperature) == pytest.approx(expected, rel=1e-4)
    assert float(task.temperature) != 1.0
    saved = torch.load(checkpoints.last_model_path, weights_only=True)
    assert float(saved['state_dict']['temperature']) == pytest.approx(
        expected, rel=1e-4
    )
    loaded = BVMSemanticSegmentation.load_from_checkpoint(checkpoints.last_model_path)
    assert float(loaded.temperature) == pytest.approx(expected, rel=1e-4)


def test_a_checkpoint_without_a_temperature_loads_with_one(tmp_path: Path) -> None:
    _, checkpoints, _ = _fit(tmp_path)
    state = torch.load(checkpoints.last_model_path, weights_only=False)
    del state['state_dict']['temperature']
    older = tmp_path / 'older.ckpt'
    torch.save(state, older)
    loaded = BVMSemanticSegmentation.load_from_checkpoint(older)
    assert float(loaded.temperature) == 1.0


def test_predict_divides_the_logits_by_the_temperature() -> None:
    images = torch.stack([s['image'] for s in _samples(2, 3)])
    batch = {'image': images, 'transform': torch.zeros(2, 9)}
    for calibrated in (True, False):
        task = _task(calibrated=calibrated)
        task.temperature.fill_(2.5)
        task.eval()
        with torch.no_grad():
            logits = task(images)
            result = task.predict_step(batch, 0)
        t = 2.5 if calibrated else 1.0
        assert torch.allclose(result['probabilities'], (logits / t).softmax(dim=1))
        assert result['transform'] is batch['transform']


def test_the_sample_keeps_a_seeded_share_of_each_batch() -> None:
    sample = ValidationLogits(limit=100)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 10, 10, generator=generator)
    mask = torch.randint(0, 4, (2, 10, 10), generator=generator)
    mask[0] = IGNORE_INDEX
    sample.add(logits, mask, batch_idx=0, batches=4)  # 25 of its 100 labelled pixels
    again = ValidationLogits(limit=100)
    again.add(logits, mask, batch_idx=0, batches=4)
    assert len(sample.labels[0]) == 25
    assert torch.equal(sample.logits[0], again.logits[0])
    assert (sample.labels[0] != IGNORE_INDEX).all()
    # Each kept pixel's logits are those of its label's pixel.
    flat = logits.permute(0, 2, 3, 1).reshape(-1, 4)
    labels = mask.reshape(-1)
    rows = [
        int(np.flatnonzero((flat == row).all(dim=1).numpy())[0])
        for row in sample.logits[0]
    ]
    assert labels[rows].tolist() == sample.labels[0].tolist()
