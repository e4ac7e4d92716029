import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.callbacks import ConfusionMatrixWriter, confusion_counts
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES


def make_batches(n: int = 3, size: int = 32) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(n):
        mask = torch.randint(0, NUM_CLASSES, (size, size), generator=generator)
        mask[: size // 2] = IGNORE_INDEX
        image = torch.rand(3, size, size, generator=generator)
        samples.append({'image': image, 'mask': mask})
    return samples


def task() -> SemanticSegmentation:
    torch.manual_seed(0)
    return SemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        ignore_index=IGNORE_INDEX,
    )


def test_confusion_counts_skip_ignored() -> None:
    predicted = torch.tensor([0, 1, 1, 2, 2])
    target = torch.tensor([0, 1, 2, IGNORE_INDEX, 2])
    counts = confusion_counts(predicted, target, 3, IGNORE_INDEX)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_writer_matches_the_model_and_the_task_metrics(tmp_path) -> None:
    samples = make_batches()
    model = task()
    writer = ConfusionMatrixWriter(tmp_path / 'eval')
    trainer = Trainer(
        callbacks=[writer],
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        accelerator='cpu',
    )
    results = trainer.test(model, DataLoader(samples, batch_size=2))[0]
    model.eval()
    with torch.no_grad():
        images = torch.stack([s['image'] for s in samples])
        predicted = model(images).argmax(dim=1)
    masks = torch.stack([s['mask'] for s in samples])
    expected = confusion_counts(
        predicted.flatten(), masks.flatten(), NUM_CLASSES, IGNORE_INDEX
    )
    assert torch.equal(writer.matrix, expected)
    assert int(writer.matrix.sum()) == 3 * 16 * 32
    # The task's overall accuracy counts the same labelled pixels only.
    accuracy = float(expected.trace()) / float(expected.sum())
    assert results['test_OverallAccuracy'] == pytest.approx(accuracy, abs=1e-6)
    frame = pd.read_csv(tmp_path / 'eval' / 'confusion_matrix.csv', index_col='true')
    assert frame.index.tolist() == list(CLASS_NAMES)
    assert frame.columns.tolist() == list(CLASS_NAMES)
    assert np.array_equal(frame.to_numpy(), expected.numpy())
    assert (tmp_path / 'eval' / 'confusion_matrix.png').read_bytes()[:4] == b'\x89PNG'


def test_ignored_pixels_never_reach_loss_or_metrics(tmp_path) -> None:
    # Two datasets that differ only in the image content and the mask values of
    # ignored pixels give identical loss and metrics; a task that counted ignored
    # pixels would see different predictions there and different numbers.
    samples = make_batches()
    altered = []
    for sample in samples:
        image = sample['image'].clone()
        # Rows 0..7 lie beyond the FCN's 5-pixel receptive field of row 16.
        image[:, :8] = torch.rand(3, 8, 32) * 10
        altered.append({'image': image, 'mask': sample['mask'].clone()})
    # Ignored pixels do see the altered image: the model's outputs there differ.
    model = task()
    with torch.no_grad():
        a = model(torch.stack([s['image'] for s in samples]))[..., :16, :]
        b = model(torch.stack([s['image'] for s in altered]))[..., :16, :]
    assert (a - b).abs().max() > 0.01
    trainer = Trainer(
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        accelerator='cpu',
    )
    first = trainer.test(task(), DataLoader(samples, batch_size=3))[0]
    second = trainer.test(task(), DataLoader(altered, batch_size=3))[0]
    assert first.keys() == second.keys()
    for key in first:
        assert first[key] == pytest.approx(second[key], abs=1e-6), key
    assert 'test_loss' in first
