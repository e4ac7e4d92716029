"""The demo's steps end to end at the tiny size (what `make demo` runs)."""

import json

import pandas as pd
import pytest
import rasterio
import yaml

from torchgeo_bvm.cli import main
from torchgeo_bvm.demo import DemoComparison, evaluation_from_confusion


def test_evaluation_from_confusion() -> None:
    matrix = pd.DataFrame(
        [[3, 1, 0], [0, 2, 2], [0, 0, 0]],
        index=['a', 'b', 'c'],
        columns=['a', 'b', 'c'],
    )
    overall, iou = evaluation_from_confusion(matrix)
    assert overall == 5 / 8
    assert iou['a'] == 3 / 4
    assert iou['b'] == 2 / 5
    assert iou['c'] == 0.0  # predicted twice, never true


@pytest.mark.slow
def test_demo_end_to_end_and_rerun(tmp_path, capsys) -> None:
    out = tmp_path / 'demo'
    arguments = [
        'demo',
        '--out',
        str(out),
        '--size',
        'tiny',
        '--max-steps',
        '4',
        '--length',
        '16',
        '--quiet',
    ]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert '| train - val |' in printed  # the split statistics with chi-squared
    assert 'majority-class baseline' in printed
    summary = json.loads((out / 'summary.json').read_text())
    assert 0.0 <= summary['overall_accuracy'] <= 1.0
    assert summary['baseline_class'] in ('Cultivated land', 'Urban areas', 'Grasslands')
    for key in (
        'split map',
        'class distribution',
        'training sample',
        'confusion matrix',
        'predicted map 22_7-8',
        'predicted map 22_7-8 (PNG)',
    ):
        assert (out / summary['paths'][key].split(str(out) + '/')[-1]).exists(), key
    with rasterio.open(out / 'predictions' / '22_7-8.tif') as source:
        assert source.crs.to_epsg() == 32631
        assert source.nodata == 255
    check_the_year_against_one_date(out, printed)
    # A re-run reuses everything and only reports.
    stamp = (out / 'training' / 'checkpoints' / 'best.ckpt').stat().st_mtime_ns
    year = (out / 'training-year' / 'checkpoints' / 'best.ckpt').stat().st_mtime_ns
    assert main(arguments) == 0
    assert (out / 'training' / 'checkpoints' / 'best.ckpt').stat().st_mtime_ns == stamp
    assert (
        out / 'training-year' / 'checkpoints' / 'best.ckpt'
    ).stat().st_mtime_ns == year
    again = capsys.readouterr().out
    assert 'time: ' in again
    assert '== one date vs a year' in again


def check_the_year_against_one_date(out, printed: str) -> None:
    """The demo's second model: the same run on a year of monthly composites."""
    single = yaml.safe_load((out / 'demo.yaml').read_text())
    year = yaml.safe_load((out / 'demo_year.yaml').read_text())
    assert year['model']['init_args']['in_channels'] == 132
    data = year['data']['init_args']
    assert (data['time_series'], data['stack']) == ('monthly', 'channels')
    assert data['sentinel2_paths'].endswith('season/openeo')
    for key in ('sheets', 'patch_size', 'batch_size', 'length', 'bvm_paths'):
        assert data[key] == single['data']['init_args'][key]
    assert year['trainer']['max_steps'] == single['trainer']['max_steps'] == 4
    comparison = json.loads((out / 'comparison.json').read_text())
    assert list(comparison['metrics']) == ['one date', 'a year']
    single_matrix = pd.read_csv(
        out / 'evaluation' / 'confusion_matrix.csv', index_col=0
    )
    expected = DemoComparison.from_confusions({'one date': single_matrix})
    assert comparison['metrics']['one date'] == expected.metrics['one date']
    for metrics in comparison['metrics'].values():
        assert list(metrics) == [
            'overall accuracy',
            'mean IoU, classes present',
            'IoU Cultivated land',
            'IoU Grasslands',
        ]
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    table = printed[printed.index('== one date vs a year') :]
    assert 'one date  12 months, early fusion' in table
    overall = comparison['metrics']['a year']['overall accuracy']
    assert f'{100 * overall:.2f} %' in table.splitlines()[2]


def test_comparison_numbers_from_confusion_matrices() -> None:
    names = ['Cultivated land', 'Grasslands', 'Heathland', 'Urban areas']
    one = pd.DataFrame(
        [[6, 4, 0, 0], [3, 5, 0, 2], [0, 0, 0, 0], [0, 0, 0, 10]],
        index=names,
        columns=names,
    )
    year = pd.DataFrame(
        [[9, 1, 0, 0], [1, 9, 0, 0], [0, 0, 0, 0], [0, 0, 0, 10]],
        index=names,
        columns=names,
    )
    comparison = DemoComparison.from_confusions({'one date': one, 'a year': year})
    first = comparison.metrics['one date']
    assert first['overall accuracy'] == 21 / 30
    assert first['IoU Cultivated land'] == 6 / (6 + 4 + 3)
    assert first['IoU Grasslands'] == 5 / (5 + 4 + 3 + 2)
    # Heathland is absent from the test labels: not in the mean.
    assert first['mean IoU, classes present'] == pytest.approx(
        (6 / 13 + 5 / 14 + 10 / 12) / 3
    )
    assert comparison.metrics['a year']['IoU Grasslands'] == 9 / 11
    assert comparison.pixels == {'one date': 30, 'a year': 30}
    lines = comparison.table().splitlines()
    assert lines[2].split() == ['overall', 'accuracy', '70.00', '%', '93.33', '%']
    assert lines[-1].split()[-2:] == ['30', '30']
