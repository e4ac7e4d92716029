"""The demo's steps end to end at the tiny size (what `make demo` runs).

The run is the quick start's (``--size tiny --max-steps 5``), made once per
test run and shared with the documented-commands tests.
"""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
import yaml

from tests.docs_commands import copy_folder
from tests.rasters import assert_class_palette, assert_valid_cog
from torchgeo_bvm.cli import main
from torchgeo_bvm.demo import (
    DemoComparison,
    DemoResult,
    evaluated_checkpoint,
    evaluation_from_confusion,
)


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


def test_evaluated_checkpoint_prefers_best_and_says_which(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r'no best\.ckpt or last\.ckpt'):
        evaluated_checkpoint(tmp_path)
    torch.save({'global_step': 7}, tmp_path / 'last.ckpt')
    path, which = evaluated_checkpoint(tmp_path)
    assert path == tmp_path / 'last.ckpt'
    assert which == 'the weights at step 7, the end of training (no validation ran)'
    callbacks = {
        "ModelCheckpoint{'monitor': 'val_OverallAccuracy'}": {
            'best_model_score': torch.tensor(0.8125)
        }
    }
    torch.save({'global_step': 5, 'callbacks': callbacks}, tmp_path / 'best.ckpt')
    path, which = evaluated_checkpoint(tmp_path)
    assert path == tmp_path / 'best.ckpt'
    assert which == 'the best weights by validation (step 5, overall accuracy 81.25 %)'


@pytest.mark.slow
def test_demo_end_to_end_and_rerun(
    tmp_path, monkeypatch, capsys, quick_demo: tuple[Path, dict[str, str]]
) -> None:
    # The quick start's quicker run (tests/conftest.py: quick_demo), five steps,
    # far fewer than the configuration's 100 per epoch: validation still runs
    # (at the end), so the best checkpoint exists and is evaluated.
    folder, run = quick_demo
    copy_folder(folder, tmp_path / 'reader')
    monkeypatch.chdir(tmp_path / 'reader')
    out = Path('demo-output')
    arguments = ['demo', '--out', str(out), '--size', 'tiny', '--max-steps', '5']
    printed = run['output']
    assert '| train - val |' in printed  # the split statistics with chi-squared
    # TorchGeo's command line runs in the demo's process, cleanly.
    assert 'args parameter' not in printed
    assert 'Warning' not in printed
    assert '$ torchgeo fit --config ' in printed
    config = yaml.safe_load((out / 'demo.yaml').read_text())
    assert config['trainer']['max_steps'] == 5
    assert config['data']['init_args']['length'] == 5 * 16  # one epoch = 5 steps
    checkpoint = out / 'training' / 'checkpoints' / 'best.ckpt'
    assert f'evaluating {checkpoint}: the best weights by validation (step 5, ' in (
        printed
    )
    summary = json.loads((out / 'summary.json').read_text())
    assert 0.0 <= summary['overall_accuracy'] <= 1.0
    assert summary['checkpoint'] == str(checkpoint)
    assert summary['baseline_class'] in ('Cultivated land', 'Urban areas', 'Grasslands')
    # The baseline on the evaluated pixels, and the class's share of every
    # labelled test pixel (the statistics table's percentage), both printed.
    matrix = pd.read_csv(out / 'evaluation' / 'confusion_matrix.csv', index_col=0)
    evaluated = matrix.sum(axis=1)
    assert summary['evaluated_pixels'] == int(evaluated.sum())
    assert summary['baseline_accuracy'] == pytest.approx(
        evaluated[summary['baseline_class']] / evaluated.sum()
    )
    table = pd.read_csv(out / 'stats' / 'class_counts.csv', index_col='class')
    assert summary['labelled_pixels'] == int(table['test'].sum())
    assert summary['baseline_labelled'] == pytest.approx(
        table.loc[summary['baseline_class'], 'test'] / table['test'].sum()
    )
    assert summary['labelled_pixels'] >= summary['evaluated_pixels']
    assert (
        f'{100 * summary["baseline_accuracy"]:6.2f} % (always '
        f'{summary["baseline_class"]!r}, the most frequent class of the train '
        'sheets, on the same pixels)'
    ) in printed
    assert (
        f'{100 * summary["baseline_labelled"]:6.2f} % of all '
        f'{summary["labelled_pixels"]:,} labelled test pixels'
    ) in printed
    # Every raster the demo writes is a valid COG with the classes' colour table.
    maps = out / 'predictions' / '2020'
    for raster in (out / 'labels.tif', maps / '22_7-8.tif'):
        assert_valid_cog(raster)
        assert_class_palette(raster)
    for key in (
        'split map',
        'class distribution',
        'training sample',
        'confusion matrix',
        'fused map 22_7-8',
        'fused map 22_7-8 (PNG)',
        'fused map mosaic',
        'fused map quick-look',
        'disagreement with the BVM',
        'strongest candidates',
    ):
        assert (out / summary['paths'][key].split(str(out) + '/')[-1]).exists(), key
    with rasterio.open(maps / '22_7-8.tif') as source:
        assert source.crs.to_epsg() == 32631
        assert source.nodata == 255
    check_the_year_against_one_date(out, printed)
    # The fused map of the test sheet for 2020 (three dates), and its candidates.
    manifest = json.loads((maps / 'prediction.json').read_text())
    assert manifest['period'] == '2020'
    assert manifest['sheets'] == ['22/7-8']
    assert sorted(p.name for p in (out / 'predictions').iterdir()) == ['2020']
    with rasterio.open(maps / '22_7-8_count.tif') as source:
        assert 0 < source.read(1)[source.read_masks(1) > 0].max() <= 3
    assert 'where the fused map disagrees with the BVM:' in printed
    assert re.search(r'polygons with pixels, .* candidates', printed)
    assert (out / 'comparison' / 'disagreement.gpkg').is_file()
    check_what_the_demo_measures_against_the_truth(out, summary, printed)
    # The README's pictures come from the demo's outputs.
    spec = importlib.util.spec_from_file_location(
        'readme_images', Path(__file__).parents[1] / 'docs' / 'readme_images.py'
    )
    assert spec is not None
    assert spec.loader is not None
    readme_images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme_images)
    pictures = tmp_path / 'readme'
    assert readme_images.main(['--demo', str(out), '--out', str(pictures)]) == 0
    for name in ('split_map.png', 'overview.png', 'prediction.png'):
        assert (pictures / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert (pictures / 'prediction.png').read_bytes() == (
        maps / '22_7-8.png'
    ).read_bytes()
    capsys.readouterr()
    # A re-run reuses everything and only reports.
    stamp = checkpoint.stat().st_mtime_ns
    year = out / 'training-year' / 'checkpoints' / 'best.ckpt'
    year_stamp = year.stat().st_mtime_ns
    assert main([*arguments, '--quiet']) == 0
    assert checkpoint.stat().st_mtime_ns == stamp
    assert year.stat().st_mtime_ns == year_stamp
    again = capsys.readouterr().out
    assert 'time: ' in again
    assert '== one date vs a year' in again


def check_what_the_demo_measures_against_the_truth(
    out: Path, summary: dict, printed: str
) -> None:
    """Calibration on the validation sheets, the truth's scores, the intervals."""
    from torchgeo_bvm.evaluation.calibration import Reliability
    from torchgeo_bvm.maps.reliability import map_outcomes
    from torchgeo_bvm.training.tasks import BVMSemanticSegmentation

    truth = summary['truth']
    assert truth['year'] == 2020
    # torchgeo test wrote the accuracy per 1 km block and its interval.
    accuracy = pd.read_csv(out / 'evaluation' / 'accuracy.csv')
    overall = accuracy[accuracy['metric'] == 'overall accuracy'].iloc[0]
    assert overall['value'] == pytest.approx(summary['overall_accuracy'], rel=1e-5)
    assert truth['overall_accuracy']['value'] == pytest.approx(overall['value'])
    by_block = pd.read_csv(out / 'evaluation' / 'accuracy_by_sheet.csv')
    assert by_block['unit'].str.startswith('22/7N r').all()
    assert (out / 'evaluation' / 'reliability.png').is_file()
    # The map was made with the copy of the checkpoint calibrated on the
    # validation sheets' map: its confidence is the table's, class by class.
    calibrated = out / 'training' / 'checkpoints' / 'best-calibrated.ckpt'
    assert (out / 'predictions-val' / '22_3-4_probabilities.tif').is_file()
    table = BVMSemanticSegmentation.load_from_checkpoint(calibrated).confidence_table
    maps = out / 'predictions' / '2020'
    raw, _, classes = map_outcomes(maps, out / 'labels.tif', raw=True)
    codes, _, _ = map_outcomes(maps, out / 'labels.tif')
    expected = np.rint(table.numpy()[classes, raw] * 250).astype(int)
    assert np.abs(codes - expected).max() <= 1  # float32 table, rounded
    # The ECE printed is the truth's, recomputed here from the map files.
    landcover = out / 'data' / 'truth' / 'landcover_2020.tif'
    for state, use_raw in (('before', True), ('after', False)):
        found, right, _ = map_outcomes(maps, landcover, raw=use_raw)
        bins = Reliability()
        bins.add(found / 250, right)
        assert truth[f'ece_{state}'] == pytest.approx(bins.ece())
    assert (out / 'calibration' / 'reliability.png').is_file()
    assert 'against the truth of the mini-Flanders:' in printed
    assert f'error (15 bins) {truth["ece_before"]:.3f} before calibration' in printed
    # The candidates against the truth.
    scores = pd.read_csv(out / 'comparison' / 'truth_scores.csv').set_index('metric')
    assert truth['ranking']['P@20'] == pytest.approx(scores.loc['P@20', 'value'])
    assert f'at 20 {truth["ranking"]["P@20"]:.2f}' in printed
    assert (out / 'comparison' / 'accuracy.md').is_file()


def check_the_year_against_one_date(out, printed: str) -> None:
    """The demo's second model: the same run on a year of monthly composites."""
    single = yaml.safe_load((out / 'demo.yaml').read_text())
    year = yaml.safe_load((out / 'demo_year.yaml').read_text())
    assert year['model']['init_args']['in_channels'] == 132
    data = year['data']['init_args']
    assert data['time_series'] is True
    assert data['series'] == {'temporal': 'monthly', 'stack': 'channels'}
    assert data['sentinel2_paths'].endswith('season/openeo')
    # The year model maps its own year, into its own folder.
    assert data['prediction']['years'] == [2022]
    assert data['prediction']['output_dir'] == str(out / 'predictions-year')
    for key in ('sheets', 'patch_size', 'batch_size', 'length', 'bvm_paths'):
        assert data[key] == single['data']['init_args'][key]
    assert year['trainer']['max_steps'] == single['trainer']['max_steps'] == 5
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
    check_the_years_map(out, data, printed)


def check_the_years_map(out, data, printed: str) -> None:
    """The year model's fused map: its count is the clear months of each pixel."""
    from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
    from torchgeo_bvm.datasets.series import calendar_year

    maps = out / 'predictions-year' / '2022'
    manifest = json.loads((maps / 'prediction.json').read_text())
    assert (manifest['period'], manifest['sheets']) == ('2022', ['22/7-8'])
    assert_class_palette(maps / '22_7-8.tif')
    with rasterio.open(maps / '22_7-8_count.tif') as source:
        counted = source.read(1)
        xmin, ymin, xmax, ymax = source.bounds
    months = Sentinel2TOC(
        data['sentinel2_paths'], crs='EPSG:32631', res=10.0, time_series=True
    )[slice(xmin, xmax), slice(ymin, ymax), calendar_year(2022)]['valid'].sum(dim=0)
    inside = counted != 255
    assert np.array_equal(counted[inside], months.numpy()[inside])
    assert counted[inside].max() == 12
    assert "where the year model's fused map disagrees with the BVM:" in printed
    assert (out / 'comparison-year' / 'disagreement.gpkg').is_file()


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


def test_summary_values_in_one_column_and_the_comparison_before_the_files() -> None:
    names = ['Cultivated land', 'Grasslands']
    matrix = pd.DataFrame([[6, 4], [3, 5]], index=names, columns=names)
    result = DemoResult(
        0.6,
        {'Cultivated land': 0.5, 'Grasslands': float('nan')},
        0.55,
        'Cultivated land',
        evaluated_pixels=18,
        baseline_labelled=0.5,
        labelled_pixels=20,
        checkpoint='best.ckpt: the best weights by validation (step 2)',
        paths={'label raster': Path('out/labels.tif'), 'comparison': Path('c.json')},
        seconds={'fit': 3.0},
        comparison=DemoComparison.from_confusions({'one date': matrix}),
    )
    lines = result.summary().splitlines()
    head = lines[2:6]
    assert [line[:25] for line in head] == [
        'overall accuracy         ',
        'majority-class baseline  ',
        ' ' * 25,
        'evaluated weights        ',
    ]
    assert [line[25:30] for line in head] == ['60.00', '55.00', '50.00', 'best.']
    assert lines.index(
        '== one date vs a year (same U-Net, sheets and training steps): test sheets =='
    ) < lines.index('made:')
    assert lines[lines.index('made:') + 1 :][:2] == [
        '  label raster  out/labels.tif',
        '  comparison    c.json',
    ]
    assert lines[-1] == 'time: 3 s (fit 3 s)'
