"""Time-series samples of Sentinel2TOC: the steps, their values, their errors."""

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from rasterio.enums import Resampling
from torch.utils.data import DataLoader
from torchgeo.datasets.utils import stack_samples

from tests.datasets.reference_reads import reference_read
from torchgeo_bvm.datasets import Sentinel2TOC
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.datasets.series import (
    DATE_PAD,
    calendar_year,
    check_max_dates,
    check_min_clear,
    check_temporal,
    clear_median,
    day_number,
    month_steps,
    observed_steps,
    spread,
)
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA, write_openeo_sheet

Season = tuple[Path, dict[str, Any]]
YEAR = calendar_year(2022)
VALID_SCL = [4, 5, 6, 7]
DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')

# ------------------------------------------------------------------ the rules


def test_dates_are_days_since_1970() -> None:
    assert day_number(pd.Timestamp('1970-01-01')) == 0
    assert day_number(pd.Timestamp('2022-01-05T10:46:19')) == 18_997
    assert (
        day_number(pd.Timestamp('2022-01-05'))
        == (pd.Timestamp('2022-01-05') - pd.Timestamp('1970-01-01')).days
    )


def test_month_steps_of_a_period() -> None:
    steps = month_steps(YEAR.start, YEAR.stop)
    assert steps == [pd.Timestamp(2022, m, 1) for m in range(1, 13)]
    assert month_steps(YEAR.start, YEAR.stop, [7, 4, 5]) == [
        pd.Timestamp(2022, m, 1) for m in (4, 5, 7)
    ]
    # A period of two years holds each month twice.
    two = month_steps(pd.Timestamp('2021-01-01'), pd.Timestamp('2022-12-31'), [6])
    assert two == [pd.Timestamp('2021-06-01'), pd.Timestamp('2022-06-01')]
    with pytest.raises(
        BVMValueError,
        match=r'^the period 2022-03-01\.\.2022-05-31 is shorter than the 12 months '
        r'requested: it holds no Jan, Feb, Jun, Jul, Aug, Sep, Oct, Nov, Dec;',
    ):
        month_steps(pd.Timestamp('2022-03-01'), pd.Timestamp('2022-05-31'))


def test_calendar_year() -> None:
    period = calendar_year(2022)
    assert period.start == pd.Timestamp('2022-01-01')
    assert period.stop == pd.Timestamp('2022-12-31 23:59:59.999999')


def test_spread_keeps_the_first_and_last_and_spaces_the_rest() -> None:
    assert spread(5, 12) == [0, 1, 2, 3, 4]
    assert spread(36, 12) == [0, 3, 6, 10, 13, 16, 19, 22, 25, 29, 32, 35]
    assert spread(36, 1) == [0]
    assert spread(4, 3) == [0, 2, 3]  # 1.5 goes up, never to a kept position
    for count in range(1, 40):
        for most in range(1, 15):
            kept = spread(count, most)
            assert len(kept) == min(count, most)
            assert kept == sorted(set(kept))
            assert (kept[0] == 0 and kept[-1] == count - 1) or count == 1 or most == 1


def test_clear_median_against_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(-2000, 12000, (5, 3, 40, 50)).astype(np.float32)
    values[rng.random(values.shape) < 0.4] = np.nan
    values[:, 0, 0, 0] = np.nan  # no observation
    values[:, 1, 0, 0] = [np.nan, 101, np.nan, 102, np.nan]  # 101.5 -> 102
    values[:, 1, 0, 1] = [100, np.nan, 101, np.nan, np.nan]  # 100.5 -> 100
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN pixels
        expected = np.rint(np.nanmedian(values.astype(np.float64), axis=0))
    got = clear_median(values)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[0, 0, 0])
    assert (got[1, 0, 0], got[1, 0, 1]) == (102, 100)
    np.testing.assert_array_equal(clear_median(values[:1]), values[0])


@pytest.mark.parametrize('count', [2, 3, 4, 7, 12, 13, 31, 32, 33, 40])
def test_clear_median_of_every_count_against_numpy(count: int) -> None:
    # Up to 32 observations are sorted by a network, more by numpy; both in
    # blocks of pixels, one of them partial here.
    rng = np.random.default_rng(count)
    values = rng.integers(0, 3000, (count, 2, 130, 131)).astype(np.float32)
    values[rng.random(values.shape) < 0.5] = np.nan
    values[:, 0, :3] = np.nan  # pixels without an observation
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        expected = np.rint(np.nanmedian(values.astype(np.float64), axis=0))
    np.testing.assert_array_equal(clear_median(values), expected)


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(BVMValueError, match=r"^unknown temporal layout 'weekly'"):
        check_temporal('weekly')
    for bad in (0, -3):
        expected = (
            f'max_dates must be between 1 and 1000, got {bad} (the most dates of a '
            'sample; every sample is padded to it)'
        )
        with pytest.raises(BVMValueError, match=rf'^{re.escape(expected)}$'):
            check_max_dates(bad)
    with pytest.raises(BVMValueError, match=r'^max_dates must be a whole number'):
        check_max_dates(2.5)
    assert check_max_dates(None) is None
    with pytest.raises(BVMValueError, match=r'^min_clear must be at least 1, got 0 '):
        check_min_clear(0)
    with pytest.raises(BVMValueError, match=r'^min_clear must be a whole number'):
        check_min_clear(True)


# ---------------------------------------------------- the season's products


def _window(manifest: dict[str, Any], col: int, row: int, size: int) -> tuple:
    xmin, _, _, ymax = manifest['imagery']['bounds']
    x = slice(xmin + 10 * col, xmin + 10 * (col + size), 10.0)
    y = slice(ymax - 10 * (row + size), ymax - 10 * row, 10.0)
    return x, y


def _products_read_directly(
    out: Path, manifest: dict[str, Any], col: int, row: int, size: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """date -> (bands, SCL) of a window, every file read with rasterio."""
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    shape = (round((ymax - ymin) / 10), round((xmax - xmin) / 10))
    window = (slice(row, row + size), slice(col, col + size))
    result = {}
    for product in manifest['season']['products']:
        folder = out / product['path']
        layers = []
        for name in [f'TOC-{b}_*M' for b in ALL_BANDS] + ['SCENECLASSIFICATION_20M']:
            (path,) = folder.glob(f'*_{name}_V210.tif')
            with rasterio.open(path) as src:
                full = src.read(1, out_shape=shape, resampling=Resampling.nearest)
            layers.append(full[window])
        result[product['date']] = (np.stack(layers[:-1]), layers[-1])
    return result


def test_monthly_median_of_products_against_numpy(mini_flanders: Season) -> None:
    out, manifest = mini_flanders
    col, row, size = 100, 60, 64
    ds = Sentinel2TOC(out / 'season/TOC_V2', time_series=True)
    x, y = _window(manifest, col, row, size)
    sample = ds[x, y, YEAR]
    assert sample['image'].shape == (12, 11, size, size)
    assert sample['image'].dtype == torch.float32
    assert sample['valid'].shape == (12, size, size)
    assert sample['dates'].tolist() == [
        day_number(pd.Timestamp(2022, m, 1)) for m in range(1, 13)
    ]
    assert 'length' not in sample
    direct = _products_read_directly(out, manifest, col, row, size)
    for month in range(12):
        days = [d for d in direct if d.startswith(f'2022-{month + 1:02d}')]
        values = np.stack([direct[d][0] for d in days]).astype(np.float64)
        scl = np.stack([direct[d][1] for d in days])
        counted = np.isin(scl, VALID_SCL)[:, None] & (values != TERRASCOPE_NODATA)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            median = np.nanmedian(np.where(counted, values, np.nan), axis=0)
        seen = ~np.isnan(median)
        np.testing.assert_array_equal(
            sample['image'][month].numpy(), np.where(seen, np.rint(median), 0)
        )
        np.testing.assert_array_equal(sample['valid'][month].numpy(), seen.all(axis=0))
    # Months with an overcast date still see most pixels; none is empty.
    assert 0.2 < float(sample['valid'].float().mean()) < 1.0


@pytest.mark.parametrize(('col', 'row'), [(100, 60), (140, 90), (0, 0)])
def test_monthly_from_products_equals_the_downloaders_composites(
    mini_flanders: Season, col: int, row: int
) -> None:
    out, manifest = mini_flanders
    products = Sentinel2TOC(out / 'season/TOC_V2', time_series=True)
    composites = Sentinel2TOC(out / 'season/openeo', time_series=True)
    assert set(composites.index['layout']) == {'composite'}
    x, y = _window(manifest, col, row, 64)
    a, b = products[x, y, YEAR], composites[x, y, YEAR]
    for key in ('image', 'valid', 'dates'):
        assert torch.equal(a[key], b[key]), key
    # The composites read directly: each month's file of the window's sheet.
    sheet = '22_1-2' if (col, row) == (0, 0) else None
    if sheet is not None:
        for month in range(12):
            path = (
                out
                / 'season/openeo'
                / sheet
                / f'{sheet}_openEO_2022-{month + 1:02d}_median.tif'
            )
            with rasterio.open(path) as src:
                c0 = round((x.start - src.bounds.left) / 10)
                r0 = round((src.bounds.top - y.stop) / 10)
                data = src.read(window=((r0, r0 + 64), (c0, c0 + 64)))
            np.testing.assert_array_equal(
                b['image'][month].numpy(), np.where(data == -32768, 0, data)
            )
            np.testing.assert_array_equal(
                b['valid'][month].numpy(), (data != -32768).all(axis=0)
            )


def test_dates_of_products_every_acquisition_in_order(mini_flanders: Season) -> None:
    out, manifest = mini_flanders
    x, y = _window(manifest, 30, 20, 48)
    series = Sentinel2TOC(out / 'season/TOC_V2', time_series=True, temporal='dates')
    sample = series[x, y, YEAR]
    days = manifest['season']['dates']
    assert sample['image'].shape == (36, 11, 48, 48)
    assert sample['valid'].shape == (36, 48, 48)
    assert sample['length'].item() == 36
    assert sample['dates'].tolist() == [day_number(pd.Timestamp(d)) for d in days]
    single = Sentinel2TOC(out / 'season/TOC_V2')
    for step in (0, 7, 20, 35):
        day = pd.Timestamp(days[step])
        image, valid = reference_read(single, x, y, slice(day, day + DAY, 1))
        np.testing.assert_array_equal(sample['image'][step].numpy(), image)
        np.testing.assert_array_equal(sample['valid'][step].numpy(), valid)


def test_dates_at_most_max_dates_spread_and_padded(mini_flanders: Season) -> None:
    out, manifest = mini_flanders
    x, y = _window(manifest, 30, 20, 32)
    root = out / 'season/TOC_V2'
    days = manifest['season']['dates']
    full = Sentinel2TOC(root, time_series=True, temporal='dates')[x, y, YEAR]
    twelve = Sentinel2TOC(root, time_series=True, temporal='dates', max_dates=12)
    sample = twelve[x, y, YEAR]
    kept = spread(36, 12)
    assert sample['image'].shape == (12, 11, 32, 32)
    assert sample['length'].item() == 12
    assert sample['dates'].tolist() == [day_number(pd.Timestamp(days[k])) for k in kept]
    assert torch.equal(sample['image'], full['image'][kept])
    assert torch.equal(sample['valid'], full['valid'][kept])
    # A summer quarter holds 9 dates: padded to 12, the true count in length.
    summer = slice(pd.Timestamp('2022-06-01'), pd.Timestamp('2022-08-31 23:59'))
    padded = twelve[x, y, summer]
    assert padded['length'].item() == 9
    assert padded['image'].shape == (12, 11, 32, 32)
    assert padded['dates'][9:].tolist() == [DATE_PAD] * 3
    assert not padded['valid'][9:].any()
    assert not padded['image'][9:].any()
    june = [k for k, d in enumerate(days) if '2022-06' <= d[:7] <= '2022-08']
    assert torch.equal(padded['image'][:9], full['image'][june])


def test_a_series_in_another_crs_steps_are_the_single_date_reads(
    mini_flanders: Season,
) -> None:
    out, _ = mini_flanders
    root = out / 'season/TOC_V2'
    single = Sentinel2TOC(root, crs='EPSG:31370', res=10.0, bands='rgb')
    series = Sentinel2TOC(
        root,
        crs='EPSG:31370',
        res=10.0,
        bands='rgb',
        time_series=True,
        temporal='dates',
    )
    bx, by, _ = single.bounds
    x = slice(bx.start + 300, bx.start + 300 + 320, 10.0)
    y = slice(by.start + 400, by.start + 400 + 320, 10.0)
    sample = series[x, y, slice(pd.Timestamp('2022-05-01'), pd.Timestamp('2022-05-31'))]
    assert sample['length'].item() == 3
    for step, day in enumerate(sample['dates'].tolist()):
        start = pd.Timestamp('1970-01-01') + day * pd.Timedelta(1, unit='D')
        one = single[x, y, slice(start, start + DAY)]
        assert torch.equal(sample['image'][step], one['image'])
        assert torch.equal(sample['valid'][step], one['valid'])
    assert bool(sample['valid'].any())


def test_monthly_composites_in_the_dates_layout_are_one_step_a_month(
    mini_flanders: Season,
) -> None:
    out, manifest = mini_flanders
    x, y = _window(manifest, 100, 60, 32)
    dates = Sentinel2TOC(out / 'season/openeo', time_series=True, temporal='dates')
    monthly = Sentinel2TOC(out / 'season/openeo', time_series=True)
    a, b = dates[x, y, YEAR], monthly[x, y, YEAR]
    assert a['length'].item() == 12
    for key in ('image', 'valid', 'dates'):
        assert torch.equal(a[key], b[key])


def test_series_through_a_dataloader_with_workers(mini_flanders: Season) -> None:
    out, manifest = mini_flanders
    ds = Sentinel2TOC(out / 'season/openeo', time_series=True)
    queries = [(*_window(manifest, c, 40, 32), YEAR) for c in (0, 50, 100, 150)]
    loader = DataLoader(
        ds, sampler=queries, batch_size=2, num_workers=2, collate_fn=stack_samples
    )
    batches = list(loader)
    assert [b['image'].shape for b in batches] == [(2, 12, 11, 32, 32)] * 2
    assert torch.equal(batches[1]['image'][0], ds[queries[2]]['image'])


# ------------------------------------------------------------ openEO dates


def _openeo_dates(root: Path, crs: str) -> dict[str, dict[str, np.ndarray]]:
    """Four dates of a 20 x 30 px sheet file: two in April, May, July."""
    rng = np.random.default_rng(1)
    written = {}
    for day in ('2022-04-05', '2022-04-25', '2022-05-15', '2022-07-04'):
        bands = {
            b: rng.integers(1, 3000, (20, 30)).astype(np.int16) for b in ('B04', 'B08')
        }
        scl = np.full((20, 30), 4, dtype=np.int16)
        scl[rng.random((20, 30)) < 0.3] = 9
        bands['SCL'] = scl
        bands['B08'][rng.random((20, 30)) < 0.1] = TERRASCOPE_NODATA
        if day == '2022-04-05':
            bands['B04'][0, :3] = [101, 100, 7]
            scl[0, :3] = 4
        if day == '2022-04-25':
            bands['B04'][0, :3] = [102, 101, 8]
            scl[0, :3] = [4, 4, 9]
        if crs == 'EPSG:4326':
            extent = (4.0, 51.0, 4.0 + 30 * 1.4e-4, 51.0 + 20 * 0.9e-4)
        else:
            extent = (500000.0, 5650000.0, 500300.0, 5650200.0)
        write_openeo_sheet(root, '22/1-2', day, bands, bounds=extent, crs=crs)
        written[day] = bands
    return written


@pytest.mark.parametrize('crs', ['EPSG:32631', 'EPSG:4326'])
def test_openeo_files_in_both_temporal_layouts(tmp_path: Path, crs: str) -> None:
    written = _openeo_dates(tmp_path, crs)
    names = ['B08', 'B04']
    spring = slice(pd.Timestamp('2022-04-01'), pd.Timestamp('2022-07-31 23:59'))
    dates = Sentinel2TOC(tmp_path, bands=names, time_series=True, temporal='dates')
    x, y, _ = dates.bounds
    sample = dates[x, y, spring]
    assert sample['image'].shape == (4, 2, 20, 30)
    assert sample['dates'].tolist() == [day_number(pd.Timestamp(d)) for d in written]
    for step, bands in enumerate(written.values()):
        for channel, name in enumerate(names):
            expected = np.where(bands[name] == TERRASCOPE_NODATA, 0, bands[name])
            np.testing.assert_array_equal(
                sample['image'][step, channel].numpy(), expected
            )
        clear = (bands['SCL'] == 4) & (bands['B08'] != TERRASCOPE_NODATA)
        np.testing.assert_array_equal(sample['valid'][step].numpy(), clear)

    monthly = Sentinel2TOC(tmp_path, bands=names, time_series=True, months=[4, 5, 6, 7])
    sample = monthly[x, y, spring]
    assert sample['image'].shape == (4, 2, 20, 30)
    assert sample['dates'].tolist() == [
        day_number(pd.Timestamp(2022, m, 1)) for m in (4, 5, 6, 7)
    ]
    # The median of each band's clear observations, band by band: B04 counts
    # where B08 has no data.
    stacks = {4: ['2022-04-05', '2022-04-25'], 5: ['2022-05-15'], 7: ['2022-07-04']}
    for step, month in enumerate((4, 5, 6, 7)):
        if month not in stacks:  # June: no acquisition, invalid and 0
            assert not sample['valid'][step].any()
            assert not sample['image'][step].any()
            continue
        observed = [written[d] for d in stacks[month]]
        clear = np.stack([b['SCL'] == 4 for b in observed])
        medians = []
        for name in names:
            values = np.stack([b[name] for b in observed]).astype(np.float64)
            counted = clear & (values != TERRASCOPE_NODATA)
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)
                medians.append(np.nanmedian(np.where(counted, values, np.nan), axis=0))
        median = np.stack(medians)
        seen = ~np.isnan(median)
        np.testing.assert_array_equal(
            sample['image'][step].numpy(), np.where(seen, np.rint(median), 0)
        )
        np.testing.assert_array_equal(sample['valid'][step].numpy(), seen.all(axis=0))
    # 101 and 102 -> 101.5 -> 102; 100 and 101 -> 100.5 -> 100 (half to even);
    # 7 alone (the other date cloudy).
    assert sample['image'][0, 1, 0, :3].tolist() == [102.0, 100.0, 7.0]


# ------------------------------------------------------------------ errors


def test_bad_time_series_queries_and_arguments(mini_flanders: Season) -> None:
    out, manifest = mini_flanders
    root = out / 'season/TOC_V2'
    x, y = _window(manifest, 0, 0, 32)
    monthly = Sentinel2TOC(root, time_series=True)
    with pytest.raises(
        BVMValueError,
        match=r'^no Sentinel-2 acquisition in the period 2019-01-01\.\.2019-12-31 at '
        r'x=.*: the data there hold 36 dates from 2022-01-05 to 2022-12-26$',
    ):
        monthly[x, y, calendar_year(2019)]
    dates = Sentinel2TOC(root, time_series=True, temporal='dates', max_dates=4)
    with pytest.raises(
        BVMValueError, match=r'^no Sentinel-2 acquisition in the period'
    ):
        dates[x, y, calendar_year(2019)]
    with pytest.raises(IndexError, match='not found in dataset'):
        monthly[0:100, 0:100, YEAR]
    quarter = slice(pd.Timestamp('2022-03-01'), pd.Timestamp('2022-05-31'))
    with pytest.raises(
        BVMValueError, match=r'^the period 2022-03-01\.\.2022-05-31 is '
    ):
        monthly[x, y, quarter]
    assert Sentinel2TOC(root, time_series=True, months=[3, 4, 5])[x, y, quarter][
        'image'
    ].shape == (3, 11, 32, 32)
    with pytest.raises(
        BVMValueError, match=r'^max_dates must be between 1 and 1000, got 0 '
    ):
        Sentinel2TOC(root, time_series=True, temporal='dates', max_dates=0)
    with pytest.raises(BVMValueError, match=r"^max_dates applies to temporal='dates'"):
        Sentinel2TOC(root, time_series=True, max_dates=12)
    with pytest.raises(BVMValueError, match=r'^unknown temporal layout'):
        Sentinel2TOC(root, time_series=True, temporal='yearly')  # type: ignore[arg-type]
    with pytest.raises(BVMValueError, match=r'choose one$'):
        Sentinel2TOC(root, time_series=True, mosaic_dates=True)


def test_single_dates_are_unchanged_by_the_series_options(
    mini_flanders: Season,
) -> None:
    out, manifest = mini_flanders
    x, y = _window(manifest, 10, 10, 32)
    root = out / 'season/TOC_V2'
    day = pd.Timestamp('2022-06-04')
    single = Sentinel2TOC(root)[x, y, slice(day, day + DAY)]
    assert set(single) == {'image', 'valid', 'bounds', 'transform'}
    assert single['image'].shape == (11, 32, 32)
    with pytest.raises(ValueError, match='36 dates'):
        Sentinel2TOC(root)[x, y, YEAR]


def test_observed_steps_are_those_with_any_value_but_the_fill() -> None:
    images = torch.zeros(2, 3, 2, 4, 4)
    images[0, 0, 1, 3, 3] = 0.5
    images[1, 2] = 7.0
    images[1, 1, 0, 0, 0] = -1.0
    assert observed_steps(images).tolist() == [
        [True, False, False],
        [False, True, True],
    ]
