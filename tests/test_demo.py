"""The demo's steps end to end at the tiny size (what `make demo` runs)."""

import json

import pandas as pd
import pytest
import rasterio

from torchgeo_bvm.cli import main
from torchgeo_bvm.demo import evaluation_from_confusion


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
    # A re-run reuses everything and only reports.
    stamp = (out / 'training' / 'checkpoints' / 'best.ckpt').stat().st_mtime_ns
    assert main(arguments) == 0
    assert (out / 'training' / 'checkpoints' / 'best.ckpt').stat().st_mtime_ns == stamp
    assert 'time: ' in capsys.readouterr().out
