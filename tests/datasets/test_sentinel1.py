"""Sentinel1Sigma0: Terrascope sigma0 products and openEO downloads, as written
by ``torchgeo_bvm.synth.sentinel1`` in the real layouts."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from pyproj import CRS
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_bvm.datasets import Sentinel1Sigma0, Sentinel2TOC
from torchgeo_bvm.datasets.radar import (
    ANGLE_SCALE,
    NOISE_FLOOR_DB,
    from_db,
    openeo_s1_acquisition_path,
    openeo_s1_composite_path,
    orbit_of,
    parse_openeo_s1_name,
    resolve_bands,
    to_db,
)
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.synth.sentinel1 import (
    border_noise,
    incidence_angle,
    sigma0_product_id,
    write_openeo_s1_sheet,
    write_sigma0_product,
)
from torchgeo_bvm.synth.sentinel2 import write_openeo_sheet

X0, Y0 = 500000.0, 5650020.0
SIZE = 240.0  # 24 x 24 pixels at 10 m
BOUNDS = (X0, Y0, X0 + SIZE, Y0 + SIZE)
DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')


def sigma0(offset: float) -> dict[str, np.ndarray]:
    """VV and VH ramps, every pixel its own value, -20..-5 dB."""
    ramp = np.arange(24 * 24, dtype=np.float64).reshape(24, 24) / (24 * 24)
    return {
        'VV': from_db(-14 + 8 * ramp + offset).astype(np.float32),
        'VH': from_db(-20 + 6 * ramp + offset).astype(np.float32),
    }


def product(
    root: Path, day: str, offset: float = 0.0, orbit: str = 'ascending', **kwargs
) -> Path:
    values = sigma0(offset)
    sensing = f'{day}T17:32:23' if orbit == 'ascending' else f'{day}T05:58:45'
    return write_sigma0_product(
        root,
        sensing=sensing,
        bounds=BOUNDS,
        vv=kwargs.pop('vv', values['VV']),
        vh=kwargs.pop('vh', values['VH']),
        orbit=orbit,  # type: ignore[arg-type]
        relative_orbit=161 if orbit == 'ascending' else 110,
        **kwargs,
    )


def at(day: str) -> slice:
    start = pd.Timestamp(day)
    return slice(start, start + DAY)


def window() -> tuple[slice, slice]:
    return slice(X0, X0 + SIZE), slice(Y0, Y0 + SIZE)


# ------------------------------------------------------------------ the archive


def test_terrascope_product_layout_and_names(tmp_path: Path) -> None:
    folder = product(tmp_path, '2020-04-05', platform='S1B')
    stem = 'S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_'
    assert folder.parent == tmp_path / 'CGS_S1_GRD_SIGMA0_L1' / '2020' / '04' / '05'
    assert folder.name.startswith(stem)
    assert folder.name.endswith('_V110')
    assert len(folder.name) == len(stem) + len('32CD_V110')
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        f'{folder.name}{suffix}'
        for suffix in ('_VV.tif', '_VH.tif', '_angle.tif', '.xml')
    )
    with rasterio.open(folder / f'{folder.name}_VV.tif') as src:
        assert (src.dtypes[0], src.nodata, src.res) == ('float32', 0.0, (10.0, 10.0))
        assert src.crs == CRS.from_epsg(32631)
    with rasterio.open(folder / f'{folder.name}_angle.tif') as src:
        assert src.dtypes[0] == 'uint16'
        # Thousandths of a degree: 30.5 degrees at the near-range (west) edge.
        assert int(src.read(1)[0, 0]) == 30500
    assert sigma0_product_id(
        'S1A', '2022-09-13T05:58:45', 'descending', 110
    ).startswith('S1A_IW_GRDH_SIGMA0_DV_20220913T055845_DESCENDING_110_')


def test_terrascope_bands_by_name_in_linear_power(tmp_path: Path) -> None:
    product(tmp_path, '2020-04-05')
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', bands='vh,VV,angle')
    assert ds.bands == ('VH', 'VV', 'angle')
    assert list(ds.index['layout']) == ['terrascope-s1']
    assert ds.res == (10.0, 10.0)
    assert ds.crs == CRS.from_epsg(32631)
    sample = ds[*window(), at('2020-04-05')]
    assert sample['image'].shape == (3, 24, 24)
    assert sample['image'].dtype == torch.float32
    np.testing.assert_array_equal(sample['image'][0].numpy(), sigma0(0)['VH'])
    np.testing.assert_array_equal(sample['image'][1].numpy(), sigma0(0)['VV'])
    # The angle in degrees: 30.5 at the west edge, 31.5 at the east edge.
    expected = np.rint(incidence_angle((24, 24), 'ascending', 30.5, 1.0) * 1000) / 1000
    np.testing.assert_allclose(sample['image'][2].numpy(), expected, atol=1e-6)
    assert sample['valid'].all()
    cached = [p.name.split('-index-')[0] for p in (tmp_path / 'cache').iterdir()]
    assert cached == ['sentinel1']


def test_decibels_and_the_ratio(tmp_path: Path) -> None:
    product(tmp_path, '2020-04-05')
    linear = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', bands='ratio')
    assert linear.bands == ('VV', 'VH', 'VH/VV')
    sample = linear[*window(), at('2020-04-05')]
    vv, vh = sigma0(0)['VV'], sigma0(0)['VH']
    np.testing.assert_array_equal(sample['image'][2].numpy(), vh / vv)
    db = Sentinel1Sigma0(
        tmp_path, cache_dir=tmp_path / 'cache', bands='VH/VV,VV', decibels=True
    )
    in_db = db[*window(), at('2020-04-05')]['image'].numpy()
    np.testing.assert_array_equal(in_db[0], to_db(vh) - to_db(vv))
    np.testing.assert_array_equal(in_db[1], to_db(vv))
    # -14 dB at the first pixel, as written.
    assert in_db[1, 0, 0] == pytest.approx(-14.0, abs=1e-5)


def test_nodata_and_border_noise_are_invalid(tmp_path: Path) -> None:
    values = sigma0(0)
    outside, noise = border_noise((24, 24), edge=5, width=3, seed=1)
    vv = np.where(outside, np.nan, np.where(np.isnan(noise), values['VV'], noise))
    vh = np.where(outside, np.nan, np.where(np.isnan(noise), values['VH'], noise))
    product(tmp_path, '2020-04-05', vv=vv, vh=vh)
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', decibels=True)
    sample = ds[*window(), at('2020-04-05')]
    valid = sample['valid'].numpy()
    # Columns 0-4 lie outside the swath, 5-7 hold border noise (-65..-50 dB).
    assert not valid[:, :8].any()
    assert valid[:, 8:].all()
    assert (sample['image'][:, :, :8] == 0).all()
    np.testing.assert_array_equal(
        sample['image'][0, :, 8:].numpy(), to_db(values['VV'])[:, 8:]
    )
    # A lower floor lets the border noise through (it is data, just faint).
    faint = Sentinel1Sigma0(
        tmp_path, cache_dir=tmp_path / 'cache', noise_floor_db=-70.0
    )
    assert faint[*window(), at('2020-04-05')]['valid'].numpy()[:, 5:].all()


def test_a_product_without_a_nodata_tag(tmp_path: Path) -> None:
    values = sigma0(0)
    vv = values['VV'].copy()
    vv[:, :4] = np.nan
    product(tmp_path, '2020-04-05', vv=vv, nodata=None)
    with rasterio.open(next(tmp_path.rglob('*_VV.tif'))) as src:
        assert src.nodata is None
        assert (src.read(1)[:, :4] == 0).all()
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache')
    sample = ds[*window(), at('2020-04-05')]
    # Zero is no backscatter: below the noise floor, so invalid, never -inf dB.
    assert not sample['valid'][:, :4].any()
    assert sample['valid'][:, 4:].all()


# ---------------------------------------------------------------- the downloads


def test_openeo_names() -> None:
    acquisition = openeo_s1_acquisition_path(
        '/s1', '22/1-2', 'descending', '2022-04-05'
    )
    composite = openeo_s1_composite_path('/s1', '22/1-2', 'ascending', '2022-04-17')
    assert acquisition == Path('/s1/22_1-2/22_1-2_openEO_S1-DESCENDING_2022-04-05Z.tif')
    assert composite == Path('/s1/22_1-2/22_1-2_openEO_S1-ASCENDING_2022-04_mean.tif')
    assert parse_openeo_s1_name(acquisition.name) == ('openeo-s1', '2022-04-05')
    assert parse_openeo_s1_name(composite.name) == ('composite', '2022-04')
    # Sentinel-2's files are not Sentinel-1's.
    assert parse_openeo_s1_name('22_1-2_openEO_2022-04-05Z.tif') is None
    assert parse_openeo_s1_name('22_1-2_openEO_2022-04_median.tif') is None
    assert parse_openeo_s1_name('.22_1-2_openEO_S1-ASCENDING_2022-04_mean.tif') is None
    assert orbit_of(acquisition.name) == 'descending'
    assert (
        orbit_of('S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161') == 'ascending'
    )


def test_openeo_downloads_beside_sentinel2(tmp_path: Path) -> None:
    values = sigma0(0)
    write_openeo_s1_sheet(
        tmp_path, '22/1-2', 'ascending', '2022-04-05', values, bounds=BOUNDS
    )
    write_openeo_s1_sheet(
        tmp_path,
        '22/1-2',
        'ascending',
        '2022-05',
        sigma0(1),
        bounds=BOUNDS,
        composite=True,
    )
    s2 = {
        'B02': np.full((24, 24), 500, np.int16),
        'B03': np.full((24, 24), 600, np.int16),
    }
    write_openeo_sheet(
        tmp_path, '22/1-2', '2022-04', s2, bounds=BOUNDS, crs=32631, composite=True
    )
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache')
    assert sorted(ds.index['layout']) == ['composite', 'openeo-s1']
    assert sorted(ds.index['period']) == ['2022-04-05', '2022-05 (monthly median)']
    sample = ds[*window(), at('2022-04-05')]
    np.testing.assert_array_equal(sample['image'][0].numpy(), values['VV'])
    np.testing.assert_array_equal(sample['image'][1].numpy(), values['VH'])
    assert sample['valid'].all()
    # Sentinel-2 reads its own composite and leaves the radar alone.
    optical = Sentinel2TOC(tmp_path, cache_dir=tmp_path / 'cache', bands='B02,B03')
    assert list(optical.index['layout']) == ['composite']
    # Downloads carry VV and VH only.
    with pytest.raises(BVMValueError, match=r'_2022-04-05Z\.tif: has no band angle'):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', bands='VV,angle')


def test_nan_in_a_download_is_no_data(tmp_path: Path) -> None:
    values = sigma0(0)
    values['VH'][3:6, 3:6] = np.nan
    write_openeo_s1_sheet(
        tmp_path, '22/1-2', 'ascending', '2022-04-05', values, bounds=BOUNDS
    )
    sample = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache')[
        *window(), at('2022-04-05')
    ]
    expected = np.ones((24, 24), bool)
    expected[3:6, 3:6] = False
    np.testing.assert_array_equal(sample['valid'].numpy(), expected)
    assert (sample['image'][:, 3:6, 3:6] == 0).all()


# -------------------------------------------------------------------- orbits


def test_orbit_direction_is_selectable(tmp_path: Path) -> None:
    product(tmp_path, '2020-04-05', 0.0, 'ascending')
    product(tmp_path, '2020-04-06', 2.0, 'descending')
    ascending = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache')
    assert list(ascending.index['period']) == ['2020-04-05']
    descending = Sentinel1Sigma0(
        tmp_path, cache_dir=tmp_path / 'cache', orbit='Descending'
    )
    assert list(descending.index['period']) == ['2020-04-06']
    both = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', orbit='both')
    assert list(both.index['period']) == ['2020-04-05', '2020-04-06']
    only_descending = tmp_path / 'descending'
    product(only_descending, '2020-04-06', 0.0, 'descending')
    with pytest.raises(
        BVMValueError,
        match=r'^no ascending Sentinel-1 product under .*: the data hold descending '
        r"passes; pass orbit='both'",
    ):
        Sentinel1Sigma0(only_descending, cache_dir=tmp_path / 'cache')
    with pytest.raises(BVMValueError, match=r"^unknown orbit 'north'"):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', orbit='north')


def test_both_passes_of_a_day_merge(tmp_path: Path) -> None:
    morning = sigma0(1.0)
    morning['VV'][:, 12:] = np.nan
    morning['VH'][:, 12:] = np.nan
    product(tmp_path, '2020-04-05', 0.0, 'ascending')
    product(
        tmp_path, '2020-04-05', 1.0, 'descending', vv=morning['VV'], vh=morning['VH']
    )
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', orbit='both')
    sample = ds[*window(), at('2020-04-05')]
    # The morning's descending pass first where it has data (the west half),
    # the evening's ascending pass in the rest.
    vv = sample['image'][0].numpy()
    np.testing.assert_array_equal(vv[:, :12], morning['VV'][:, :12])
    np.testing.assert_array_equal(vv[:, 12:], sigma0(0)['VV'][:, 12:])
    assert sample['valid'].all()


# -------------------------------------------------------------- time series


def test_monthly_series_is_the_mean_in_linear_power(tmp_path: Path) -> None:
    days = {'2021-04-02': 0.0, '2021-04-14': 3.0, '2021-06-11': -1.0}
    for day, offset in days.items():
        product(tmp_path / 'archive', day, offset)
    write_openeo_s1_sheet(
        tmp_path / 'downloads',
        '22/1-2',
        'ascending',
        '2021-05',
        sigma0(5),
        bounds=BOUNDS,
        composite=True,
    )
    roots = [tmp_path / 'archive', tmp_path / 'downloads']
    monthly = Sentinel1Sigma0(
        roots, cache_dir=tmp_path / 'cache', time_series=True, months=[4, 5, 6]
    )
    sample = monthly[*window(), calendar_year(2021)]
    assert sample['image'].shape == (3, 2, 24, 24)
    assert [int(d) for d in sample['dates']] == [
        int((pd.Timestamp(m) - pd.Timestamp('1970-01-01')).days)
        for m in ('2021-04-01', '2021-05-01', '2021-06-01')
    ]
    april = (sigma0(0)['VV'].astype(np.float64) + sigma0(3)['VV']) / 2
    np.testing.assert_allclose(sample['image'][0, 0].numpy(), april, rtol=1e-6)
    np.testing.assert_array_equal(sample['image'][1, 0].numpy(), sigma0(5)['VV'])
    np.testing.assert_array_equal(sample['image'][2, 1].numpy(), sigma0(-1)['VH'])
    assert sample['valid'].all()
    # In dB, the mean is taken in power first.
    db = Sentinel1Sigma0(
        roots,
        cache_dir=tmp_path / 'cache',
        time_series=True,
        months=[4, 5, 6],
        decibels=True,
    )[*window(), calendar_year(2021)]
    np.testing.assert_allclose(db['image'][0, 0].numpy(), to_db(april), atol=1e-4)


def test_a_month_without_data_at_a_pixel(tmp_path: Path) -> None:
    first = sigma0(0)
    first['VV'][0, 0] = np.nan
    product(tmp_path, '2021-04-02', vv=first['VV'])
    product(tmp_path, '2021-04-14', 2.0)
    product(tmp_path, '2021-05-08', vv=first['VV'])
    ds = Sentinel1Sigma0(
        tmp_path, cache_dir=tmp_path / 'cache', time_series=True, months=[4, 5]
    )
    sample = ds[*window(), calendar_year(2021)]
    # April: the second date alone at (0, 0), both elsewhere.
    assert sample['image'][0, 0, 0, 0] == pytest.approx(float(sigma0(2)['VV'][0, 0]))
    assert sample['valid'][0].all()
    # May: no data at (0, 0): 0 and invalid in every band.
    assert not sample['valid'][1, 0, 0]
    assert (sample['image'][1, :, 0, 0] == 0).all()
    assert int(sample['valid'][1].sum()) == 24 * 24 - 1


def test_dates_series_of_both_orbits(tmp_path: Path) -> None:
    product(tmp_path, '2021-04-02', 0.0, 'ascending')
    product(tmp_path, '2021-04-05', 1.0, 'descending')
    product(tmp_path, '2021-04-14', 2.0, 'ascending')
    ds = Sentinel1Sigma0(
        tmp_path,
        cache_dir=tmp_path / 'cache',
        orbit='both',
        time_series=True,
        temporal='dates',
        max_dates=4,
    )
    sample = ds[*window(), calendar_year(2021)]
    assert sample['image'].shape == (4, 2, 24, 24)
    assert int(sample['length']) == 3
    for step, offset in enumerate((0.0, 1.0, 2.0)):
        np.testing.assert_array_equal(
            sample['image'][step, 1].numpy(), sigma0(offset)['VH']
        )
    assert int(sample['dates'][3]) == -1
    assert not sample['valid'][3].any()


# --------------------------------------------------------------------- CRSs


@pytest.mark.parametrize('crs', ['EPSG:31370', 'EPSG:4326', 'EPSG:3035'])
def test_any_crs(tmp_path: Path, crs: str) -> None:
    product(tmp_path, '2021-04-02')
    ds = Sentinel1Sigma0(
        tmp_path, cache_dir=tmp_path / 'cache', crs=crs, time_series=True, months=[4]
    )
    assert ds.crs == CRS.from_user_input(crs)
    xmin, ymin = ds.bounds[0].start, ds.bounds[1].start
    xres, yres = ds.res
    # A window well inside the warped footprint: every pixel has data.
    x0, y0 = xmin + 4 * xres, ymin + 4 * yres
    sample = ds[x0 : x0 + 12 * xres, y0 : y0 + 12 * yres, calendar_year(2021)]
    assert sample['image'].shape == (1, 2, 12, 12)
    assert sample['valid'].all()
    vv = sample['image'][0, 0].numpy()
    assert vv.min() > from_db(-14.5)
    assert vv.max() < from_db(-5.5)


# ------------------------------------------------------------------- errors


def test_errors(tmp_path: Path) -> None:
    product(tmp_path, '2020-04-05')
    with pytest.raises(BVMValueError, match=r"^unknown Sentinel-1 band 'HH'"):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', bands='VV,HH')
    with pytest.raises(BVMValueError, match=r"requested twice in \['VV', 'VV'\]"):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', bands=['vv', 'VV'])
    with pytest.raises(BVMValueError, match=r'^noise_floor_db must be a number'):
        Sentinel1Sigma0(
            tmp_path, cache_dir=tmp_path / 'cache', noise_floor_db=float('nan')
        )
    with pytest.raises(
        BVMValueError, match=r'^years must be between 2014 and 2100, got 2013$'
    ):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', years=[2013])
    with pytest.raises(BVMValueError, match=r'^no Sentinel-1 date in years \[2021\]'):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', years=[2021])
    band = next(tmp_path.rglob('*_VH.tif'))
    band.rename(band.with_suffix('.old'))
    with pytest.raises(
        FileNotFoundError,
        match=r'^Terrascope product .*_V110 has no file for band VH \(expected '
        r'S1A_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_[0-9A-F]{4}_V110_VH\.tif',
    ):
        Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache')
    with pytest.raises(DatasetNotFoundError):
        Sentinel1Sigma0(tmp_path / 'nothing', cache_dir=tmp_path / 'cache')


def test_resolve_bands_and_decibels() -> None:
    assert resolve_bands('dual') == ('VV', 'VH')
    assert resolve_bands(['ANGLE', 'vh/vv']) == ('angle', 'VH/VV')
    with pytest.raises(BVMValueError, match='no Sentinel-1 band requested'):
        resolve_bands(',')
    linear = np.array([1.0, 0.1, 0.0, -1.0, np.nan], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        db = to_db(linear)
    np.testing.assert_array_equal(db[:2], [0.0, -10.0])
    assert np.isnan(db[2:]).all()
    assert from_db(NOISE_FLOOR_DB) == pytest.approx(10**-4.5)
    assert ANGLE_SCALE == 1000.0
