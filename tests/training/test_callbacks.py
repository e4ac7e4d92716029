import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.training.callbacks import (
    ConfusionMatrixWriter,
    MetricTable,
    confusion_counts,
    confusion_matrix_figure,
    describe_model,
    format_metric_table,
)


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


def test_metric_table_replaces_lightnings_table(tmp_path, capsys) -> None:
    model = SemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        labels=list(CLASS_NAMES),
        ignore_index=IGNORE_INDEX,
    )
    trainer = Trainer(
        callbacks=[MetricTable()],
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        accelerator='cpu',
    )
    results = trainer.test(model, DataLoader(make_batches(), batch_size=2))[0]
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    # One line of overall scores, a header and one row per class: no
    # Lightning table (its rows read 'test_...'), no class name wrapped.
    assert len(lines) == 2 + NUM_CLASSES
    assert 'test_' not in printed
    assert lines[0] == (
        f'test: loss {results["test_loss"]:.4f}, '
        f'overall accuracy {results["test_OverallAccuracy"]:.4f}, '
        f'mean IoU {results["test_AverageJaccardIndex"]:.4f}, '
        f'mean F1 {results["test_AverageF1Score"]:.4f}'
    )
    assert lines[1].split() == ['class', 'IoU', 'precision', 'recall', 'F1']
    for line, name in zip(lines[2:], CLASS_NAMES, strict=True):
        iou = results[f'test_ClasswiseJaccardIndex_{name}']
        recall = results[f'test_ClasswiseRecall_{name}']
        assert line.startswith(f'  {name} ')
        assert line.split()[-4] == f'{iou:.4f}'
        assert line.split()[-2] == f'{recall:.4f}'
    assert max(map(len, lines)) <= 2 + len(max(CLASS_NAMES, key=len)) + 40


def test_format_metric_table_without_metrics_is_empty() -> None:
    assert format_metric_table({'val_loss': 1.0}, 'test') == ''
    assert format_metric_table({'test_loss': 0.5}, 'test') == 'test: loss 0.5000'


def test_confusion_matrix_names_the_model_and_counts_each_row() -> None:
    import matplotlib.pyplot as plt

    matrix = np.array([[6, 2, 0], [1, 0, 0], [0, 0, 0]])
    model = describe_model(task(), 'checkpoints/run/best.ckpt')
    assert model == 'fcn, 3 input channels, checkpoints/run/best.ckpt'
    figure = confusion_matrix_figure(matrix, ['a', 'b', 'c'], model)
    (axes, _) = figure.axes
    assert axes.get_title() == (
        'Test confusion matrix: fcn, 3 input channels, checkpoints/run/best.ckpt\n'
        'row-normalised (share of each true class); overall accuracy 0.667 of 9 '
        'labelled pixels'
    )
    assert [t.get_text() for t in axes.get_yticklabels()] == [
        'a (8 px)',
        'b (1 px)',
        'c (0 px)',
    ]
    assert [t.get_text() for t in axes.get_xticklabels()] == ['a', 'b', 'c']
    plt.close(figure)
    unet = SemanticSegmentation(
        model='unet', backbone='resnet18', in_channels=11, num_classes=NUM_CLASSES
    )
    assert describe_model(unet, None) == 'unet (resnet18 encoder), 11 input channels'
