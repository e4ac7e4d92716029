"""The per-sheet accuracy and the calibration that `torchgeo test` writes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.evaluation.calibration import Reliability
from torchgeo_bvm.evaluation.units import EvaluationUnits
from torchgeo_bvm.training.testing import SheetEvaluation

CLASSES = ['a', 'b', 'c']


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two 20 x 20 tiles of 10 m in Lambert 72: one astride 22/7N and 22/8N."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 20, 20, generator=generator) * 3
    mask = torch.randint(0, 3, (2, 20, 20), generator=generator)
    mask[:, :2] = IGNORE_INDEX
    # 22/7N is x 114000-122000, y 183000-188000; 22/8N lies east of it.
    transforms = torch.tensor(
        [
            [10.0, 0, 121_900, 0, -10, 187_000, 0, 0, 1],
            [10.0, 0, 115_000, 0, -10, 186_000, 0, 0, 1],
        ]
    )
    return logits, mask, transforms


def test_pixels_count_for_the_sheet_holding_their_centre() -> None:
    logits, mask, transforms = _batch()
    evaluation = SheetEvaluation(CLASSES, EvaluationUnits(), IGNORE_INDEX)
    evaluation.add(logits, mask, transforms, 'EPSG:31370', temperature=2.0)
    report = evaluation.report()
    assert list(report.units) == ['22/7N', '22/8N']
    predicted = logits.argmax(dim=1).numpy()
    labels = mask.numpy()
    expected = {name: np.zeros((3, 3), dtype=np.int64) for name in report.units}
    for tile in range(2):
        for row in range(20):
            for col in range(20):
                if labels[tile, row, col] == IGNORE_INDEX:
                    continue
                x = transforms[tile, 2].item() + 10 * (col + 0.5)
                name = '22/7N' if x < 122_000 else '22/8N'
                expected[name][labels[tile, row, col], predicted[tile, row, col]] += 1
    for name, matrix in zip(report.units, report.confusions, strict=True):
        assert np.array_equal(matrix, expected[name])
    # The first tile's 10 columns east of x = 122000 are 22/8N's.
    assert report.confusions[1].sum() == 18 * 10


def test_reliability_before_and_after_the_temperature(tmp_path: Path) -> None:
    logits, mask, _ = _batch(1)
    evaluation = SheetEvaluation(CLASSES, EvaluationUnits(), IGNORE_INDEX)
    evaluation.add(logits, mask, None, None, temperature=2.0)
    assert evaluation.matrices == {}
    labels = mask.numpy()
    valid = labels != IGNORE_INDEX
    for bins, t in ((evaluation.before, 1.0), (evaluation.after, 2.0)):
        probabilities = torch.softmax(logits / t, dim=1)
        expected = Reliability()
        expected.add(
            probabilities.max(dim=1).values.numpy()[valid],
            (probabilities.argmax(dim=1).numpy() == labels)[valid],
        )
        assert np.allclose(bins.confidence, expected.confidence)
        assert np.array_equal(bins.correct, expected.correct)
    paths = evaluation.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'calibration.csv',
        'reliability.png',
    ]
    table = pd.read_csv(paths['table'])
    assert table.groupby('state')['pixels'].sum().to_dict() == {
        'after': int(valid.sum()),
        'before': int(valid.sum()),
    }
    after = table[table['state'] == 'after']
    assert after['temperature'].unique().tolist() == [2.0]
    assert after['ece'].iloc[0] == pytest.approx(evaluation.after.ece())


def test_merge_adds_the_other_processes(tmp_path: Path) -> None:
    logits, mask, transforms = _batch()
    one = SheetEvaluation(CLASSES, EvaluationUnits(), IGNORE_INDEX)
    other = SheetEvaluation(CLASSES, EvaluationUnits(), IGNORE_INDEX)
    both = SheetEvaluation(CLASSES, EvaluationUnits(), IGNORE_INDEX)
    one.add(logits[:1], mask[:1], transforms[:1], 'EPSG:31370')
    other.add(logits[1:], mask[1:], transforms[1:], 'EPSG:31370')
    both.add(logits, mask, transforms, 'EPSG:31370')
    one.merge([other])
    assert one.matrices.keys() == both.matrices.keys()
    for key, matrix in both.matrices.items():
        assert np.array_equal(one.matrices[key], matrix)
    assert one.before.total == both.before.total
    paths = one.write(tmp_path)
    assert paths['markdown'].read_text().count('| 22/') == 2
