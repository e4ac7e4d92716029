"""Sizes without limits: every count, size and wait a user gives has an upper bound.

Each is refused in one line naming the value, the limit and what it means,
before anything is allocated or waited for: a sample padded to 200,000 dates,
a batch of a hundred gigabytes, a thousand panels of candidates, a "bounded"
wait of thirty years, a million DataLoader workers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.hostile import assert_refused, run_cli
from torchgeo_bvm.checks import MAX_DATES
from torchgeo_bvm.datasets import Sentinel2TOC
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.download import Downloader
from torchgeo_bvm.errors import BVMError, BVMValueError
from torchgeo_bvm.maps.compare import compare_with_bvm
from torchgeo_bvm.samplers.sheet import SheetSampler
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    SamplingOptions,
    TimeSeriesOptions,
)

GOOD = 'layers/good/BwkHab.shp'
THIRTY_YEARS = 30 * 365 * 86400

COMMANDS = [
    (['compare', '--top', '1000000'], ['--top must be between 0 and 100, got 1,000,000', 'one panel of candidates.png per candidate']),
    (['compare', '--top', '101'], ['--top must be between 0 and 100, got 101']),
    (['download', '--poll-interval', '1e9'], ['poll_interval must be at most 3600 s, got 1e+09 s']),
    (['download', '--poll-interval', '3601'], ['poll_interval must be at most 3600 s, got 3601 s']),
    (['download', '--connect-timeout', str(THIRTY_YEARS)], ['connect_timeout must be at most 300 s', '(1.1e+04 days)']),
    (['download', '--connect-timeout', '301'], ['connect_timeout must be at most 300 s, got 301 s']),
    (['demo', '--max-steps', '1000000000'], ['--max-steps must be between 1 and 1,000,000, got 1,000,000,000']),
    (['demo', '--length', '1000000000000'], ['--length must be between 1 and 100,000,000, got 1e+12']),
]  # fmt: skip


@pytest.mark.parametrize(('argv', 'words'), COMMANDS)
def test_the_command_line_refuses_a_size_or_wait_past_its_limit(
    hostile_data: Path, tmp_path: Path, capsys, argv: list[str], words: list[str]
) -> None:
    command, *rest = argv
    extra = {
        'compare': [
            '--bvm', hostile_data / GOOD, '--maps', hostile_data / 'labels.tif',
            '--no-confidence', '--quiet',
        ],
        'download': [
            '--sheets', '22/1-2', '--years', '2022', '--backend', 'http://127.0.0.1:9',
        ],
        'demo': ['--size', 'tiny', '--quiet'],
    }[command]  # fmt: skip
    outcome = run_cli(capsys, command, *extra, *rest, '--out', tmp_path / 'out')
    assert_refused(outcome, *words)
    assert not (tmp_path / 'out').exists()


def _module(hostile_data: Path, mini_flanders, **changes: Any) -> BVMDataModule:
    folder, _ = mini_flanders
    imagery = {'crs': 'EPSG:32631', 'res': 10, **changes.pop('imagery', {})}
    groups = {
        'series': TimeSeriesOptions(**changes.pop('series'))
        if 'series' in changes
        else None,
        'sampling': SamplingOptions(**changes.pop('sampling', {})),
    }
    return BVMDataModule(
        sentinel2_paths=str(folder / 'TOC_V2'),
        bvm_paths=str(hostile_data / 'labels.tif'),
        patch_size=changes.pop('patch_size', 64),
        imagery=ImageryOptions(**imagery),
        **groups,
        **changes,
    )


DATAMODULE = [
    ({'time_series': True, 'series': {'temporal': 'dates', 'max_dates': 200_000}}, ['max_dates must be between 1 and 1000, got 200,000', 'every sample is padded to it']),
    ({'time_series': True, 'series': {'temporal': 'dates', 'max_dates': MAX_DATES}, 'batch_size': 64, 'patch_size': 256}, ['a batch of 64 x 1000 steps x 11 bands x 256 x 256 pixels would take 172 GiB', 'more than the limit of 16 GiB', 'fewer series.max_dates']),
    ({'batch_size': 4096, 'patch_size': 512}, ['a batch of 4096 x 1 steps x 11 bands x 512 x 512 pixels would take 44 GiB']),
    ({'num_workers': 10**6}, ['num_workers must be between 0 and 256, got 1,000,000']),
    ({'length': 10**12}, ['length must be between 1 and 100,000,000, got 1e+12']),
    ({'sampling': {'max_redraws': 10**9}}, ['sampling.max_redraws must be between 0 and 10,000, got 1,000,000,000']),
    ({'imagery': {'cloud_rule': {'dilation_m': 1e9}}}, ['CloudRule.dilation_m must be at most 5000 metres, got 1e+09']),
]  # fmt: skip


@pytest.mark.parametrize(('changes', 'words'), DATAMODULE)
def test_the_data_module_refuses_before_reading(
    hostile_data: Path, mini_flanders, changes: dict[str, Any], words: list[str]
) -> None:
    module = _module(hostile_data, mini_flanders, **changes)
    with pytest.raises(BVMError) as info:
        module.setup('fit')
    assert module.joint is None
    message = str(info.value)
    assert '\n' not in message
    for word in words:
        assert word in message


def test_a_series_sample_past_the_memory_limit_is_refused_before_allocating(
    mini_flanders,
) -> None:
    folder, manifest = mini_flanders
    ds = Sentinel2TOC(
        folder / 'season/TOC_V2', crs='EPSG:32631', res=10, time_series=True,
        temporal='dates', max_dates=MAX_DATES,
    )  # fmt: skip
    xmin, _, _, ymax = manifest['imagery']['bounds']
    # 8,192 x 8,192 pixels of 1,000 steps and 11 bands: 2.7 TiB of float32.
    x = slice(xmin, xmin + 81_920, 10.0)
    y = slice(ymax - 81_920, ymax, 10.0)
    with pytest.raises(BVMValueError) as info:
        ds[x, y, calendar_year(2022)]
    assert str(info.value) == (
        'a sample of 1000 steps x 11 bands x 8192 x 8192 pixels would take 2.75e+03 '
        'GiB of memory, more than the limit of 4 GiB; use fewer max_dates or a '
        'smaller window'
    )


IMAGERY = [
    (lambda d: Sentinel2TOC(d, time_series=True, temporal='dates', max_dates=200_000), ['max_dates must be between 1 and 1000, got 200,000']),
    (lambda d: Sentinel2TOC(d, max_open_files=10**9), ['max_open_files must be between 1 and', 'got 1,000,000,000', 'ulimit -n']),
]  # fmt: skip


@pytest.mark.parametrize(('make', 'words'), IMAGERY)
def test_the_imagery_refuses_a_count_past_its_limit(
    mini_flanders, make, words: list[str]
) -> None:
    folder, _ = mini_flanders
    with pytest.raises(BVMValueError) as info:
        make(folder / 'TOC_V2')
    for word in words:
        assert word in str(info.value)


WAITS = [
    ({'poll_interval': 1e9}, 'poll_interval must be at most 3600 s, got 1e+09 s'),
    ({'max_poll_interval': THIRTY_YEARS}, 'max_poll_interval must be at most 3600 s'),
    ({'connect_timeout': THIRTY_YEARS}, 'connect_timeout must be at most 300 s'),
    ({'backoff': 1e6}, 'backoff must be at most 120 s, got 1e+06 s'),
]


@pytest.mark.parametrize(('changes', 'words'), WAITS)
def test_the_downloader_refuses_a_wait_past_its_limit(
    tmp_path: Path, changes: dict[str, float], words: str
) -> None:
    with pytest.raises(BVMValueError, match=re.escape(words)):
        Downloader(tmp_path / 's2', **changes)
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_a_thousand_panels_before_reading(
    hostile_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(BVMValueError, match='top must be between 0 and 100, got 1000'):
        compare_with_bvm(
            hostile_data / 'files/nope.shp', hostile_data / 'labels.tif', tmp_path,
            top=1000,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_a_sampler_epoch_of_a_trillion_crops_is_refused(
    hostile_data: Path, mini_flanders
) -> None:
    joint = _module(hostile_data, mini_flanders, sheets=[22]).build()
    with pytest.raises(BVMValueError, match='length must be between 1 and 100,000,000'):
        SheetSampler(joint.for_split('train', 0), size=64, length=10**12)


def test_band_statistics_at_a_resolution_no_memory_holds(
    mini_flanders, tmp_path: Path, capsys
) -> None:
    # Each sheet is read whole on each date: at 5 cm, 3.2 billion pixels.
    folder, _ = mini_flanders
    outcome = run_cli(
        capsys, 'stats', '--bands', 'rgb', '--sentinel2', folder / 'TOC_V2',
        '--crs', 'EPSG:32631', '--res', '0.05', '--out', tmp_path / 'out',
    )  # fmt: skip
    assert_refused(
        outcome, 'reading a sheet of', 'pixels at res (0.05, 0.05) at once would take',
        'more than the limit of 4 GiB', 'give a coarser res',
    )  # fmt: skip
    assert not (tmp_path / 'out').exists() or list((tmp_path / 'out').iterdir()) == []


def test_a_single_date_sample_past_the_memory_limit_is_refused(mini_flanders) -> None:
    folder, manifest = mini_flanders
    ds = Sentinel2TOC(folder / 'TOC_V2', crs='EPSG:32631', res=10, mosaic_dates=True)
    xmin, ymin, _, _ = manifest['imagery']['bounds']
    # 100,000 x 100,000 pixels of 11 bands: 410 GiB of float32.
    x = slice(xmin, xmin + 1e6, 10.0)
    y = slice(ymin, ymin + 1e6, 10.0)
    with pytest.raises(BVMValueError) as info:
        ds[x, y, slice(None)]
    assert str(info.value) == (
        'a sample of 11 bands x 100000 x 100000 pixels would take 410 GiB of '
        'memory, more than the limit of 4 GiB; read a smaller window'
    )
