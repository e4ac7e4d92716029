from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.evaluation.accuracy import (
    CLASS_METRICS,
    AccuracyReport,
    confusion_metrics,
)


def test_metrics_of_a_confusion_matrix() -> None:
    matrix = np.array([[8, 2, 0], [1, 6, 3], [0, 0, 0]])
    metrics = confusion_metrics(matrix)
    assert metrics['overall accuracy'] == pytest.approx(14 / 20)
    assert metrics["user's accuracy"][:2] == pytest.approx([8 / 9, 6 / 8])
    assert metrics["producer's accuracy"][:2] == pytest.approx([8 / 10, 6 / 10])
    assert metrics['F1'][:2] == pytest.approx([16 / 19, 12 / 18])
    assert metrics['IoU'][:2] == pytest.approx([8 / 11, 6 / 12])
    # The third class: never in the reference, mapped on 3 pixels.
    assert np.isnan(metrics["producer's accuracy"][2])
    assert metrics["user's accuracy"][2] == 0.0
    assert metrics['IoU'][2] == 0.0
    stacked = confusion_metrics(np.stack([matrix, np.eye(3, dtype=int)]))
    assert stacked['overall accuracy'] == pytest.approx([0.7, 1.0])


def _report(units: int, seed: int = 0) -> AccuracyReport:
    rng = np.random.default_rng(seed)
    confusions = np.zeros((units, 2, 2), dtype=np.int64)
    for u in range(units):
        right = rng.uniform(0.6, 0.95)
        confusions[u] = [[round(1000 * right), round(1000 * (1 - right))], [50, 450]]
    return AccuracyReport(
        ['A', 'B'], [f'22/{u + 1}N' for u in range(units)], confusions, 'kbl16 sheets'
    )


def test_the_interval_is_a_bootstrap_over_whole_units() -> None:
    report = _report(12)
    summary = report.summary()
    assert list(summary.columns) == [
        'metric',
        'class',
        'value',
        'low',
        'high',
        'units',
        'pixels',
    ]
    assert len(summary) == 1 + len(CLASS_METRICS) * 2
    value, low, high = report.overall()
    pooled = report.pooled
    assert value == pytest.approx(np.trace(pooled) / pooled.sum())
    assert low < value < high
    # Independently: resample the units' accuracies' pixels by hand.
    rng = np.random.default_rng(0)
    weights = rng.multinomial(12, np.full(12, 1 / 12), size=report.draws)
    hits = weights @ np.trace(report.confusions, axis1=1, axis2=2)
    totals = weights @ report.confusions.sum(axis=(1, 2))
    expected = np.percentile(hits / totals, [2.5, 97.5])
    assert (low, high) == pytest.approx(tuple(expected))
    # Units that agree closely give a narrow interval.
    same = AccuracyReport(
        ['A', 'B'], ['a', 'b', 'c'], np.stack([report.confusions[0]] * 3)
    )
    _, low_same, high_same = same.overall()
    assert low_same == pytest.approx(high_same)


def test_one_unit_has_no_interval() -> None:
    report = _report(1)
    value, low, high = report.overall()
    assert not np.isnan(value)
    assert np.isnan(low)
    assert np.isnan(high)
    assert 'no interval: 1 of the kbl16 sheets' in report.describe_overall()


def test_per_unit_metrics_and_the_files(tmp_path: Path) -> None:
    report = _report(3)
    by_unit = report.by_unit()
    first = report.confusions[0]
    row = by_unit[
        (by_unit['unit'] == '22/1N') & (by_unit['metric'] == 'overall accuracy')
    ]
    assert row['value'].item() == pytest.approx(np.trace(first) / first.sum())
    assert row['pixels'].item() == first.sum()
    paths = report.write(tmp_path, 'accuracy')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'accuracy.csv',
        'accuracy.md',
        'accuracy_by_sheet.csv',
    ]
    written = pd.read_csv(paths['summary'], keep_default_na=False, na_values=[''])
    assert written['metric'].iloc[0] == 'overall accuracy'
    text = paths['markdown'].read_text()
    assert text.startswith('# Accuracy\n\nOverall accuracy ')
    assert 'bootstrap over 3 kbl16 sheets' in text
    assert '| 22/2N | 1,500 |' in text


def test_shapes_must_agree() -> None:
    with pytest.raises(BVMValueError, match=r'expected \(2, 3, 3\) for 2 units and 3'):
        AccuracyReport(['a', 'b', 'c'], ['x', 'y'], np.zeros((2, 2, 2), dtype=np.int64))
