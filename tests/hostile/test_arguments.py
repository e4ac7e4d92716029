"""Arguments of the command line and the Python API: nothing is reinterpreted.

Sheets, split schemes, sizes, strides, lengths, batch sizes, resolutions, CRSs,
years, months, bands, cloud rules, seeds and resampling names: a bad value is
refused in one line naming it, before any work (a size that would exhaust
memory included).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.hostile import assert_refused, run_cli
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.checks import MAX_PIXELS, check_pixels
from torchgeo_bvm.datasets import BVMDataset, BVMRaster, Sentinel2TOC
from torchgeo_bvm.download import Downloader, DownloadOptions, plan_tasks
from torchgeo_bvm.errors import BVMError
from torchgeo_bvm.samplers.sheet import SheetGridSampler, SheetSampler
from torchgeo_bvm.samplers.temporal import CentreTimestampSampler
from torchgeo_bvm.sheets.codes import Sheet, kbl_numbers
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
    SamplingOptions,
    TimeSeriesOptions,
    cloud_rule_from,
)

GOOD = 'layers/good/BwkHab.shp'

# -- the command line ---------------------------------------------------------------

RASTERIZE = [
    (['--res', '0'], ['--res must be a finite number greater than 0, got 0.0']),
    (['--res', '-10'], ['--res must be a finite number greater than 0, got -10.0']),
    (['--res', 'nan'], ['--res must be a finite number greater than 0, got nan']),
    (['--res', 'inf'], ['--res must be a finite number greater than 0, got inf']),
    (['--res', '1', '2', '3'], ['--res takes one or two values']),
    (['--res', '1e-300'], ['the label raster of', 'more than the limit', '--res']),
    (['--crs', 'EPSG:32631', '--res', '0.0001'], ['pixels, more than the limit of']),
    (['--crs', 'EPSG:4326', '--res', '10'], ['no polygon of the layer covers a pixel centre', '1 x 1 pixels']),
    (['--crs', 'EPSG:99999'], ["--crs: unknown CRS 'EPSG:99999'"]),
    (['--crs', 'nonsense'], ["--crs: unknown CRS 'nonsense'"]),
    (['--crs', 'EPSG:32631', '--sheets', '22/9'], ["--sheets: invalid map sheet code '22/9'"]),
    (['--crs', 'EPSG:32631', '--sheets', '99'], ['--sheets', '99']),
    (['--crs', 'EPSG:32631', '--sheets', ','], ["--sheets ',' names no sheet"]),
    (['--crs', 'EPSG:32631', '--sheets', '1'], ['does not overlap the map']),
    (['--like', 'labels.tif', '--res', '10'], ['--like takes the CRS and resolution']),
    (['--like', 'labels.tif', '--crs', 'EPSG:31370'], ['--like takes the CRS']),
]  # fmt: skip


@pytest.mark.parametrize(('argv', 'words'), RASTERIZE)
def test_rasterize_arguments(
    hostile_data: Path, tmp_path: Path, capsys, argv: list[str], words: list[str]
) -> None:
    argv = [str(hostile_data / a) if a.endswith('.tif') else a for a in argv]
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--bvm', hostile_data / GOOD,
        '--out', tmp_path / 'l.tif', *argv,
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ('argv', 'words'),
    [
        (['--sheets', '22/1-2'], ['--sheets: expected 1:50,000 sheet numbers', '22/1-2']),
        (['--sheets', '22_3-4,15'], ['22_3-4', 'names only part of a sheet']),
        (['--sheets', '44'], ['--sheets', '44']),
        (['--sheets', 'x'], ["--sheets: invalid map sheet code 'x'"]),
        (['--split', 'nope'], ['split scheme file not found', 'nope']),
        (['--bands', 'B99', '--sentinel2', '.'], ['B99']),
        (['--bands', 'rgb'], ['--bands needs --sentinel2']),
        (['--bands', 'rgb', '--sentinel2', '.', '--cloud-rule', 'sunny'], ["unknown cloud_rule 'sunny'"]),
        (['--bands', 'rgb', '--sentinel2', '.', '--years', '20x2'], ['--years', '20x2']),
        (['--bands', 'rgb', '--sentinel2', '.', '--months', '13'], ['months must be between 1 and 12, got 13']),
        (['--bands', 'rgb', '--sentinel2', '.', '--months', '0'], ['months', 'got 0']),
        (['--bands', 'rgb', '--sentinel2', '.', '--years', '1999'], ['years must be between 2015 and 2100, got 1999']),
        (['--bands', 'rgb', '--sentinel2', '.', '--res', '0'], ['--res must be a finite number']),
        (['--bands', 'rgb', '--sentinel2', '.', '--crs', 'EPSG:0'], ["--crs: unknown CRS 'EPSG:0'"]),
        (['--bands', 'rgb', '--sentinel2', '.', '--years', ','], ['--years: no value given']),
    ],
)  # fmt: skip
def test_stats_arguments(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
    argv: list[str],
    words: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    source = [] if '--bands' in argv else ['--labels', hostile_data / 'labels.tif']
    outcome = run_cli(capsys, 'stats', *source, '--out', tmp_path / 'out', *argv)
    assert_refused(outcome, *words)
    assert not (tmp_path / 'out').exists() or list((tmp_path / 'out').iterdir()) == []


SCHEMES = [
    (
        {'1-2': 'train', '22': 'val'},
        [
            'the part keys (1-2) must tile every sheet',
            'sheet keys (22) apply to their own sheet only',
        ],
    ),
    ({'1-2': 'train', '9-9': 'val'}, ['9-9']),
    ({'1-2': ''}, ['split name', "'1-2'"]),
    (
        {'1-2': 'a', '3-4': 'a', '5-6': 'b', '7-8': 'b', '22/1-2': 'c'},
        ['keys naming sheet 22 (22/1-2) replace the part keys (1-2, 3-4, 5-6, 7-8)'],
    ),
]


@pytest.mark.parametrize(('scheme', 'words'), SCHEMES)
def test_stats_split_schemes(
    hostile_data: Path, tmp_path: Path, capsys, scheme: dict[str, str], words: list[str]
) -> None:
    path = tmp_path / 'scheme.json'
    path.write_text(__import__('json').dumps(scheme))
    outcome = run_cli(
        capsys, 'stats', '--labels', hostile_data / 'labels.tif', '--out', tmp_path / 'o',
        '--split', path,
    )  # fmt: skip
    assert_refused(outcome, 'scheme.json', *words)


@pytest.mark.parametrize(
    ('argv', 'words'),
    [
        (['--sheets', '22/1-2'], ['--sheets: expected 1:50,000 sheet numbers', '22/1-2']),
        (['--sheets', '0'], ['--sheets', "'0'"]),
        (['--sheets', ''], ["--sheets '' names no sheet"]),
        (['--crs', 'EPSG:99999'], ["--crs: unknown CRS 'EPSG:99999'"]),
        (['--crs', '+proj=nonsense'], ['--crs: unknown CRS']),
    ],
)  # fmt: skip
def test_grid_arguments(
    tmp_path: Path, capsys, argv: list[str], words: list[str]
) -> None:
    outcome = run_cli(capsys, 'grid', '--out', tmp_path / 'g.gpkg', *argv)
    assert_refused(outcome, *words)
    assert list(tmp_path.iterdir()) == []


DOWNLOAD = [
    (['--years', '2014'], ['years must lie in 2015..2100', '2014']),
    (['--years', '20222'], ['years must lie in 2015..2100', '20222']),
    (['--years', 'x'], ["--years: expected comma-separated whole numbers, got 'x'"]),
    (['--years', ''], ["--years: no value given ('')"]),
    (['--years', '2022', '--months', '0'], ['months must lie in 1..12', '0']),
    (['--years', '2022', '--months', '13'], ['months must lie in 1..12', '13']),
    (['--years', '2022', '--months', '4.5'], ['--months', "'4.5'"]),
    (['--years', '2022', '--bands', 'B10'], ["'B10'", 'B01, B02, B03']),
    (['--years', '2022', '--bands', 'B02,B02'], ['B02']),
    (['--years', '2022', '--bands', ''], ['band']),
    (['--years', '2022', '--sensor', 's1', '--bands', ','], ["--bands: no band given (',')"]),
    (['--years', '2022', '--max-cloud-cover', '101'], ['max_cloud_cover must lie in 0..100', '101']),
    (['--years', '2022', '--max-cloud-cover', '-1'], ['max_cloud_cover must lie in 0..100']),
    (['--years', '2022', '--max-cloud-cover', 'nan'], ['max_cloud_cover', 'nan']),
    (['--years', '2022', '--crs', 'EPSG:99999'], ["--crs: unknown CRS 'EPSG:99999'"]),
    (['--years', '2022', '--crs', '+proj=merc +lon_0=4'], ['has no EPSG code']),
    (['--years', '2022', '--sync'], ['synchronous requests need a composite']),
    (['--years', '2022', '--retries', '-1'], ['retries must be between 0 and 100, got -1']),
    (['--years', '2022', '--retries', '1000'], ['retries must be between 0 and 100']),
    (['--years', '2022', '--poll-interval', '0'], ['poll_interval must be a finite number greater than 0']),
    (['--years', '2022', '--poll-interval', 'nan'], ['poll_interval', 'nan']),
    (['--years', '2022', '--connect-timeout', '-5'], ['connect_timeout', '-5']),
    (['--years', '2022', '--sheets', '22/9'], ["invalid map sheet code '22/9'"]),
]  # fmt: skip


@pytest.mark.parametrize(('argv', 'words'), DOWNLOAD)
def test_download_arguments(
    tmp_path: Path, capsys, argv: list[str], words: list[str]
) -> None:
    where = [] if '--sheets' in argv else ['--sheets', '22/1-2']
    outcome = run_cli(
        capsys, 'download', '--out', tmp_path / 's2', '--backend', 'http://127.0.0.1:9',
        *where, *argv,
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert not (tmp_path / 's2').exists()


OPENEO_MAP = [
    (['--retries', '-1'], ['--retries: expected 0..10, got -1']),
    (['--retries', '11'], ['--retries: expected 0..10, got 11']),
    (['--poll', '0'], ['--poll: expected 1..3600 seconds, got 0']),
    (['--years', 'twenty'], ["--years: expected comma-separated whole numbers, got 'twenty'"]),
    (['--years', '2014'], ['years', '2014']),
    (['--model', 'missing'], ['--model: missing is not a folder of torchgeo-bvm export']),
    (['--model', 'damaged'], ['model.json']),
    (['--model', 'empty'], ['--model: empty has no model.json']),
]  # fmt: skip


@pytest.mark.parametrize(('argv', 'words'), OPENEO_MAP)
def test_openeo_map_arguments(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    words: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'damaged').mkdir()
    (tmp_path / 'damaged' / 'model.json').write_text('{"format": "torchgeo-bvm')
    (tmp_path / 'damaged' / 'model.onnx').write_bytes(b'\x00')
    model = [] if '--model' in argv else ['--model', 'damaged']
    outcome = run_cli(
        capsys, 'openeo-map', '--out', 'maps', '--sheets', '22/7-8',
        '--backend', 'http://127.0.0.1:9', *model,
        *(argv if '--years' in argv else ['--years', '2022', *argv]),
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert not (tmp_path / 'maps').exists()


@pytest.mark.parametrize(
    ('command', 'argv', 'words'),
    [
        ('synth', ['--seed', '-1'], ['--seed must be between 0 and']),
        ('demo', ['--seed', '-3'], ['--seed must be between 0 and']),
        (
            'demo',
            ['--max-steps', '0'],
            ['--max-steps must be between 1 and 1,000,000, got 0'],
        ),
        (
            'demo',
            ['--max-steps', '-5'],
            ['--max-steps must be between 1 and 1,000,000, got -5'],
        ),
        (
            'demo',
            ['--length', '0'],
            ['--length must be between 1 and 100,000,000, got 0'],
        ),
        ('demo', ['--size', 'huge'], ["--size 'huge': expected one of"]),
    ],
)
def test_synth_and_demo_arguments(
    tmp_path: Path, capsys, command: str, argv: list[str], words: list[str]
) -> None:
    outcome = run_cli(capsys, command, '--out', tmp_path / 'out', *argv)
    assert_refused(outcome, *words)
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize(
    'argv',
    [
        ['rasterize', '--bvm', 'x.shp', '--out', 'y.tif', '--res', 'ten'],
        ['grid', '--level', 'kbl32', '--out', 'g.gpkg'],
        [
            'download',
            '--out',
            'o',
            '--sheets',
            '22',
            '--split',
            'train',
            '--years',
            '2022',
        ],
        ['synth', '--out', 'o', '--size', 'huge'],
        ['synth', '--out', 'o', '--seed', '1.5'],
        ['stats', '--out', 'o'],
    ],
)
def test_argparse_refusals_exit_2_without_traceback(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, *argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    assert err.splitlines()[-1].startswith(f'torchgeo-bvm {argv[0]}: error: ')


# -- the Python API -------------------------------------------------------------------


def _module_arguments(hostile_data: Path, mini_flanders) -> dict[str, Any]:
    folder, _ = mini_flanders
    return {
        'sentinel2_paths': str(folder / 'TOC_V2'),
        'bvm_paths': str(hostile_data / 'labels.tif'),
        'crs': 'EPSG:32631',
        'res': 10,
        'patch_size': 64,
    }


#: The group of each option the cases below give by its own name.
_GROUP_OF = {
    **dict.fromkeys(
        (
            'bands',
            'stats',
            'crs',
            'res',
            'years',
            'months',
            'cloud_rule',
            'normalization',
        ),
        'imagery',
    ),
    'boundary': 'labels',
    **dict.fromkeys(
        ('split_scheme', 'eval_stride', 'max_redraws', 'seed', 'rare_classes'),
        'sampling',
    ),
}
_GROUPS = {
    'imagery': ImageryOptions,
    'labels': LabelOptions,
    'sampling': SamplingOptions,
    'series': TimeSeriesOptions,
    'prediction': PredictionOptions,
}


def _module(arguments: dict[str, Any]) -> BVMDataModule:
    """The data module of flat arguments, each option put in its group."""
    plain: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in arguments.items():
        if key in _GROUPS:
            groups.setdefault(key, {}).update(value)
        elif key in _GROUP_OF:
            groups.setdefault(_GROUP_OF[key], {})[key] = value
        else:
            plain[key] = value
    made = {name: _GROUPS[name](**values) for name, values in groups.items()}
    return BVMDataModule(**plain, **made)


DATAMODULE = [
    ({'patch_size': 0}, ['patch_size must be a positive multiple of 32', 'got 0']),
    ({'patch_size': 33}, ['patch_size must be a positive multiple of 32', 'got 33']),
    ({'patch_size': -32}, ['patch_size must be a positive multiple of 32', 'got -32']),
    ({'patch_size': 32768}, ['patch_size must be between 1 and 8192, got 32,768']),
    ({'patch_size': 4096}, ['patch_size 4096 pixels', 'wider than a whole 1:50,000 map sheet', 'use at most 3200']),
    ({'patch_size': 64.5}, ['patch_size must be a whole number, got 64.5']),
    ({'patch_size': True}, ['patch_size must be a whole number, got True']),
    ({'patch_size': '64'}, ["patch_size must be a whole number, got '64' (text)"]),
    ({'batch_size': 0}, ['batch_size must be between 1 and 4096, got 0']),
    ({'batch_size': -1}, ['batch_size must be between 1 and 4096, got -1']),
    ({'batch_size': 10**9}, ['batch_size must be between 1 and 4096']),
    ({'length': 0}, ['length must be between 1 and 100,000,000, got 0']),
    ({'length': -10}, ['length must be between 1 and 100,000,000, got -10']),
    ({'length': math.nan}, ['length must be a whole number, got nan']),
    ({'num_workers': -1}, ['num_workers must be between 0 and 256, got -1']),
    ({'res': '10'}, ["res must be a positive number or [x, y], got '10' (text)"]),
    ({'res': 0}, ['res must be a finite number greater than 0, got 0']),
    ({'res': -10}, ['res must be a finite number greater than 0, got -10']),
    ({'res': math.nan}, ['res must be a finite number greater than 0, got nan']),
    ({'res': math.inf}, ['res must be a finite number greater than 0, got inf']),
    ({'res': [10, 0]}, ['res must be a finite number greater than 0, got 0']),
    ({'res': [1, 2, 3]}, ['res takes one or two values']),
    ({'res': 1e-300}, ['the grid over Flanders would be', 'more than the limit', 'give a coarser res']),
    ({'crs': 'EPSG:0'}, ["crs: unknown CRS 'EPSG:0'"]),
    ({'years': [1999]}, ['years must be between 2015 and 2100, got 1999']),
    ({'years': '2020'}, ["years must be a list of whole numbers, got '2020' (text)"]),
    ({'years': []}, ['years is empty']),
    ({'months': [13]}, ['months must be between 1 and 12, got 13']),
    ({'months': [0]}, ['months must be between 1 and 12, got 0']),
    ({'bands': ['B99']}, ["unknown band 'B99'"]),
    ({'bands': 'rainbow'}, ['rainbow']),
    ({'cloud_rule': 'sunny'}, ["unknown cloud_rule 'sunny'"]),
    ({'cloud_rule': {'radius': 3}}, ["unknown cloud_rule keys ['radius']"]),
    ({'eval_stride': 0}, ['eval_stride must be between 1 and 64, got 0']),
    ({'eval_stride': 65}, ['eval_stride must be between 1 and 64, got 65']),
    ({'max_redraws': -1}, ['max_redraws must be between 0 and 10,000, got -1']),
    ({'seed': -1}, ['seed must be between 0 and']),
    ({'rare_classes': 1.5}, ['sampling.rare_classes must be a number from 0', 'got 1.5']),
    ({'rare_classes': -0.1}, ['sampling.rare_classes must be a number from 0', 'got -0.1']),
    ({'rare_classes': math.nan}, ['sampling.rare_classes must be a number from 0', 'got nan']),
    ({'rare_classes': 'many'}, ['sampling.rare_classes', "got 'many' (text)"]),
    ({'seed': 'x'}, ["seed must be a whole number, got 'x' (text)"]),
    ({'sheets': '22/1-2'}, ['sheets: expected 1:50,000 sheet numbers', '22/1-2']),
    ({'sheets': [99]}, ['sheets', '99']),
    ({'sheets': []}, ['sheets is empty']),
    ({'split_scheme': {'1-2': 'train', '5-6': 'train', '3-4': 'val', '7-8': 'val'}}, ["split_scheme has no split 'test'"]),
    ({'split_scheme': {'1-2': 'train', '22': 'val', '7-8': 'test'}}, ['split_scheme', 'sheet keys (22) apply to their own sheet only']),
    ({'normalization': 'zscore'}, ["unknown normalization 'zscore'"]),
    ({'stats': 'nope.json'}, ['band statistics file not found: nope.json']),
    ({'sentinel2_paths': 'nope'}, ['sentinel2_paths: nope not found']),
    ({'bvm_paths': 'nope.shp'}, ['bvm_paths: nope.shp not found']),
    ({'boundary': 'nope.shp'}, ['labels.boundary: nope.shp not found']),
    ({'prediction': {'stride': 0}}, ['prediction.stride must be between 1 and 64, got 0']),
    ({'prediction': {'batch_size': 10**6}}, ['prediction.batch_size must be between 1 and 4096']),
    ({'prediction': {'years': [2014]}}, ['prediction.years must be between 2015 and 2100, got 2014']),
    ({'prediction': {'months': [0]}}, ['prediction.months must be between 1 and 12, got 0']),
    ({'prediction': {'sheets': '22/9'}}, ["prediction.sheets: invalid map sheet code '22/9'"]),
    ({'prediction': {'sheets': '23'}, 'sheets': [22]}, ['prediction.sheets: sheet 23 is not among the sheets [22]; add 23 to sheets']),
    ({'series': {'stack': 'channels'}}, ['series (stack) applies to time series: set time_series to true']),
    ({'time_series': True, 'series': {'temporal': 'weekly'}}, ["unknown temporal layout 'weekly'"]),
]  # fmt: skip


@pytest.mark.parametrize(('changes', 'words'), DATAMODULE)
def test_datamodule_validates_before_reading(
    hostile_data: Path, mini_flanders, changes: dict[str, Any], words: list[str]
) -> None:
    arguments = {**_module_arguments(hostile_data, mini_flanders), **changes}
    module = _module(arguments)  # built without a word: checked when a stage starts
    with pytest.raises(BVMError) as info:
        module.setup('fit')
    assert module.joint is None
    message = str(info.value)
    assert '\n' not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ('stats', 'words'),
    [
        ({'std': [0.0, 1.0, 1.0]}, ['std of B02 is 0']),
        ({'std': [-1.0, 1.0, 1.0]}, ['std of B02 is -1']),
        ({'mean': [math.nan, 1.0, 1.0]}, ['mean of B02 is not a finite number']),
        ({'std': [1.0, math.inf, 1.0]}, ['std of B03 is not a finite number']),
        ({'bands': ['B02', 'B02', 'B04']}, ['name a band twice']),
        ({'mean': [1.0]}, ['one value per band']),
    ],
)
def test_band_statistics_files_with_impossible_numbers(
    hostile_data: Path,
    mini_flanders,
    tmp_path: Path,
    stats: dict[str, Any],
    words: list[str],
) -> None:
    data = {
        'format': 'torchgeo-bvm band statistics', 'version': 1,
        'bands': ['B02', 'B03', 'B04'], 'mean': [1.0, 1.0, 1.0], 'std': [1.0, 1.0, 1.0],
        'percentiles': {'1': [0.0, 0.0, 0.0], '99': [2.0, 2.0, 2.0]},
        'pixels': 10, 'sampled_pixels': 10, **stats,
    }  # fmt: skip
    path = tmp_path / 'band-stats.json'
    path.write_text(__import__('json').dumps(data))
    arguments = {**_module_arguments(hostile_data, mini_flanders), 'bands': 'rgb'}
    with pytest.raises(BVMError) as info:
        _module({**arguments, 'stats': str(path)}).check()
    for word in ['band-stats.json', *words]:
        assert word in str(info.value)


@pytest.fixture(scope='module')
def joint(hostile_data: Path, mini_flanders):
    module = _module({**_module_arguments(hostile_data, mini_flanders), 'sheets': [22]})
    return module.build()


@pytest.mark.parametrize(
    ('make', 'words'),
    [
        (lambda d: SheetGridSampler(d, split='test', size=1), ['size=1, stride=1 cut the test sheets into', 'more than the limit of 1,000,000']),
        (lambda d: SheetGridSampler(d, split='test', size=8, stride=1), ['size=8, stride=1 cut the test sheets']),
        (lambda d: SheetGridSampler(d, size=0), ['size must be between 1 and 8192, got 0']),
        (lambda d: SheetGridSampler(d, size=64, stride=65), ['need 1 <= stride <= size']),
        (lambda d: SheetGridSampler(d, size=64, stride=0), ['stride must be at least 1, got 0']),
        (lambda d: SheetGridSampler(d, size=10**6), ['size must be between 1 and 8192']),
        (lambda d: SheetSampler(d, size=64, length=0), ['length must be between 1 and 100,000,000, got 0']),
        (lambda d: SheetSampler(d, size=64, length=-1), ['length must be between 1 and 100,000,000, got -1']),
        (lambda d: SheetSampler(d, size=64, length=2.5), ['length must be a whole number, got 2.5']),
        (lambda d: SheetSampler(d, size=-64), ['size must be between 1 and 8192, got -64']),
        (lambda d: SheetSampler(d, size=64, generator=-1), ['generator must be between 0 and']),
        (lambda d: CentreTimestampSampler(d, generator=-1), ['generator must be between 0 and']),
        (lambda d: CentreTimestampSampler(d, per_location=True, seed=-2), ['seed must be between 0 and']),
        (lambda d: SheetSampler(d, split='tarin'), ["unknown split 'tarin': the scheme has train, val, test"]),
    ],
)  # fmt: skip
def test_samplers_refuse_sizes_that_would_loop_or_explode(
    joint, make, words: list[str]
) -> None:
    dataset = joint.for_split('train', 0)
    with pytest.raises(BVMError) as info:
        make(dataset)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ('make', 'words'),
    [
        (lambda p: BVMDataset(p, res='10'), ["res must be a positive number or [x, y], got '10' (text)"]),
        (lambda p: BVMDataset(p, res=0), ['res must be a finite number greater than 0, got 0']),
        (lambda p: BVMDataset(p, res=[10, math.nan]), ['got nan']),
        (lambda p: BVMDataset(p, crs='EPSG:0'), ['EPSG:0']),
        (lambda p: BVMDataset(p, layer='nope'), ["no layer 'nope'"]),
        (lambda p: BVMDataset(p, habitat_field='NOPE'), ["no habitat field 'NOPE'"]),
    ],
)  # fmt: skip
def test_bvm_dataset_arguments(hostile_data: Path, make, words: list[str]) -> None:
    with pytest.raises(BVMError) as info:
        make(hostile_data / GOOD)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ('make', 'words'),
    [
        (lambda p: BVMRaster(p / 'labels.tif', res='10'), ["got '10' (text)"]),
        (lambda p: BVMRaster(p / 'labels.tif', res=-1), ['got -1']),
        (lambda p: BVMRaster(p / 'rasters' / 'reflectance.tif'), ['reflectance.tif', 'not a label raster']),
        (lambda p: BVMRaster(p / 'rasters' / 'two_bands.tif'), ['two_bands.tif', 'not a label raster']),
    ],
)  # fmt: skip
def test_bvm_raster_arguments(hostile_data: Path, make, words: list[str]) -> None:
    with pytest.raises(BVMError) as info:
        make(hostile_data)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ('changes', 'words'),
    [
        ({'res': '10'}, ["got '10' (text)"]),
        ({'res': (10, -10)}, ['got -10']),
        ({'years': [2014]}, ['years must be between 2015 and 2100, got 2014']),
        ({'months': [12, 13]}, ['months must be between 1 and 12, got 13']),
        ({'months': 'spring'}, ["months must be a list of whole numbers, got 'spring'"]),
        ({'resampling': 'smooth'}, ["unknown resampling 'smooth'", 'bilinear']),
        ({'bands': ['B02', 'SCL']}, ['SCL is categorical and never part of `image`']),
        ({'crs': 'EPSG:0'}, ["unknown CRS 'EPSG:0'"]),
    ],
)  # fmt: skip
def test_sentinel2_arguments(
    mini_flanders, changes: dict[str, Any], words: list[str]
) -> None:
    folder, _ = mini_flanders
    with pytest.raises(BVMError) as info:
        Sentinel2TOC(folder / 'TOC_V2', **changes)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ('call', 'words'),
    [
        (lambda: Grid.from_bounds((0, 0, 1, 1), 'EPSG:4326', 1e-300), ['the grid would be 1e+300 x 1e+300', 'more than the limit']),
        (lambda: Grid.from_bounds((0, 0, math.inf, 1), 'EPSG:4326', 1), ['the grid would have an infinite size']),
        (lambda: check_pixels(MAX_PIXELS + 1, 1, 'a raster'), ['a raster would be']),
        (lambda: DownloadOptions(bands=('B02', 'X')), ["unknown band 'X'"]),
        (lambda: DownloadOptions(composite='weekly'), ["unknown composite 'weekly'"]),
        (lambda: DownloadOptions(cloud_mask='magic'), ["unknown cloud mask 'magic'"]),
        (lambda: plan_tasks(['22/1-2'], [2022], [0]), ['months must lie in 1..12']),
        (lambda: plan_tasks([], [2022]), ['no map sheet given']),
        (lambda: Downloader('out', retries=-1), ['retries must be between 0 and 100']),
        (lambda: Downloader('out', backoff=-2.0), ['backoff must be a finite number']),
        (lambda: Sheet.parse('22/0'), ["invalid map sheet code '22/0'"]),
        (lambda: kbl_numbers('22/1N'), ['22/1N', 'names only part of a sheet']),
        (lambda: SplitScheme({'22': 'train', '1-2': 'val'}), ['22']),
        (lambda: cloud_rule_from({'dilation_m': -5}), ['dilation']),
        (lambda: cloud_rule_from({'valid': [99]}), ['99']),
    ],
)  # fmt: skip
def test_api_values(call, words: list[str]) -> None:
    with pytest.raises(BVMError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_rasterize_api_refuses_a_tiny_resolution_before_allocating(
    hostile_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        BVMError, match=r'would be 3\.2e\+303 x 2e\+303 = inf pixels, more than'
    ):
        rasterize_bvm(
            hostile_data / GOOD, tmp_path / 'l.tif', crs='EPSG:31370', res=1e-300
        )
    assert list(tmp_path.iterdir()) == []
