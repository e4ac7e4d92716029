import json
import os
import pickle
import re
import shutil
from pathlib import Path

import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.merge
import torch
from pyproj import CRS
from torch.utils.data import DataLoader
from torchgeo.datasets import DatasetNotFoundError, IntersectionDataset, RasterDataset
from torchgeo.datasets.utils import stack_samples
from torchgeo.samplers import GriddedPatchSampler, RandomTimestampSampler

from tests.datasets.reference_reads import reference_read
from torchgeo_bvm.datasets import headers
from torchgeo_bvm.datasets.bands import (
    ALL_BANDS,
    NATIVE_RESOLUTION,
    RGB_BANDS,
    CloudRule,
)
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.errors import BVMFileError
from torchgeo_bvm.synth.sentinel2 import (
    TERRASCOPE_NODATA,
    write_openeo_file,
    write_openeo_sheet,
    write_terrascope_product,
)

X0, Y0 = 500000.0, 5650020.0
SIZE = 240.0  # 24 x 24 pixels at 10 m, 12 x 12 at 20 m, 4 x 4 at 60 m
BOUNDS = (X0, Y0, X0 + SIZE, Y0 + SIZE)
DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')


def native_arrays(offset: int = 0) -> dict[str, np.ndarray]:
    """Every pixel of every band a different value: band * 1000 + row * cols + col."""
    arrays = {}
    for i, band in enumerate(ALL_BANDS, start=1):
        n = round(SIZE / NATIVE_RESOLUTION[band])
        arrays[band] = (i * 1000 + offset + np.arange(n * n).reshape(n, n)).astype(
            np.int16
        )
    return arrays


def upsample(array: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(array, np.ones((factor, factor), dtype=array.dtype))


def all_clear_scl() -> np.ndarray:
    return np.full((12, 12), 4, dtype=np.uint8)


def product(root: Path, **kwargs) -> Path:
    kwargs.setdefault('reflectance', native_arrays())
    kwargs.setdefault('scl', all_clear_scl())
    kwargs.setdefault('bounds', BOUNDS)
    return write_terrascope_product(root, **kwargs)


def at(day: str) -> slice:
    start = pd.Timestamp(day)
    return slice(start, start + DAY)


# -------------------------------------------------------------- layout (a) reading


def test_terrascope_reads_every_band_by_name_on_the_10m_grid(tmp_path: Path) -> None:
    product(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands=['B8A', 'B02', 'B01', 'B12'])
    assert ds.crs == CRS.from_epsg(32631)
    assert ds.res == (10.0, 10.0)
    x, y, t = ds.bounds
    assert (x.start, x.stop, y.start, y.stop) == (X0, X0 + SIZE, Y0, Y0 + SIZE)
    assert t.start == pd.Timestamp('2020-04-05')
    sample = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    arrays = native_arrays()
    assert sample['image'].dtype == torch.float32
    assert sample['image'].shape == (4, 24, 24)
    image = sample['image'].numpy()
    np.testing.assert_array_equal(image[0], upsample(arrays['B8A'], 2))
    np.testing.assert_array_equal(image[1], arrays['B02'])
    np.testing.assert_array_equal(image[2], upsample(arrays['B01'], 6))
    np.testing.assert_array_equal(image[3], upsample(arrays['B12'], 2))
    assert sample['valid'].dtype == torch.bool
    assert sample['valid'].shape == (24, 24)
    assert bool(sample['valid'].all())
    assert set(sample) == {'image', 'valid', 'bounds', 'transform'}
    np.testing.assert_allclose(
        sample['transform'].numpy()[:6], [10, 0, X0, 0, -10, Y0 + SIZE]
    )


def test_terrascope_window_not_aligned_to_the_20m_and_60m_grids(
    tmp_path: Path,
) -> None:
    product(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands=['B05', 'B01', 'B03'])
    # 3 columns and 5 rows in from the corner: odd offsets on the 20 m and 60 m grids
    col0, row0 = 3, 5
    top = Y0 + SIZE - row0 * 10
    sample = ds[X0 + col0 * 10 : X0 + col0 * 10 + 120, top - 100 : top]
    image = sample['image'].numpy()
    assert image.shape == (3, 10, 12)
    arrays = native_arrays()
    rows = np.arange(10)[:, None] + row0
    cols = np.arange(12)[None, :] + col0
    np.testing.assert_array_equal(image[0], arrays['B05'][rows // 2, cols // 2])
    np.testing.assert_array_equal(image[1], arrays['B01'][rows // 6, cols // 6])
    np.testing.assert_array_equal(image[2], arrays['B03'][rows, cols])


def test_quality_layers_quicklook_and_temporary_files_are_ignored(
    tmp_path: Path,
) -> None:
    folder = product(tmp_path)
    (folder / '.S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tmp-1-ab.tif').write_bytes(
        b'partial'
    )
    ds = Sentinel2TOC(tmp_path)
    assert len(ds) == 1
    assert ds.index['filepath'].iloc[0] == str(folder)
    assert ds.index['layout'].iloc[0] == 'terrascope'


def test_reflectance_nodata_is_read_from_the_files(tmp_path: Path) -> None:
    arrays = native_arrays()
    arrays['B02'][0, 0] = -9999
    arrays['B11'][3, 4] = -9999  # a 20 m pixel: rows 6-7, cols 8-9 at 10 m
    product(tmp_path, reflectance=arrays, nodata=-9999)
    ds = Sentinel2TOC(tmp_path, bands=['B02', 'B11'])
    sample = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    expected = np.ones((24, 24), dtype=bool)
    expected[0, 0] = False
    expected[6:8, 8:10] = False
    np.testing.assert_array_equal(sample['valid'].numpy(), expected)
    assert sample['image'][0, 0, 0] == 0
    assert sample['image'][1, 6, 8] == 0
    assert sample['image'][0, 6, 8] == arrays['B02'][6, 8]
    # -9999 is data when the files say nothing else
    other = tmp_path / 'other'
    product(other, reflectance=arrays, nodata=None)
    sample = Sentinel2TOC(other, bands=['B02'])[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    assert sample['image'][0, 0, 0] == -9999
    assert bool(sample['valid'].all())


def test_outside_the_product_is_invalid_and_zero(tmp_path: Path) -> None:
    product(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands=['B04'])
    sample = ds[X0 - 50 : X0 + 50, Y0 : Y0 + 100]
    valid = sample['valid'].numpy()
    assert not valid[:, :5].any()
    assert valid[:, 5:].all()
    assert (sample['image'][0, :, :5] == 0).all()


def test_reprojected_read_uses_only_source_values_by_default(tmp_path: Path) -> None:
    product(tmp_path)
    ds = Sentinel2TOC(tmp_path, crs='EPSG:4326', bands=['B02', 'B05'])
    assert ds.crs == CRS.from_epsg(4326)
    x, y, _ = ds.bounds
    sample = ds[x.start : x.stop, y.start : y.stop]
    arrays = native_arrays()
    image = sample['image'].numpy()
    valid = sample['valid'].numpy()
    assert valid.mean() > 0.8
    assert set(np.unique(image[0][valid])) <= set(arrays['B02'].ravel())
    assert set(np.unique(image[1][valid])) <= set(arrays['B05'].ravel())


def test_bilinear_resampling_is_an_option(tmp_path: Path) -> None:
    arrays = native_arrays()
    arrays['B05'] = (np.arange(144).reshape(12, 12) * 100).astype(np.int16)
    product(tmp_path, reflectance=arrays)
    ds = Sentinel2TOC(tmp_path, bands=['B05'], resampling='bilinear')
    image = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['image'].numpy()[0]
    # Between the centres of two 20 m pixels 100 apart: a quarter of the way
    assert image[0, 2] - image[0, 1] == pytest.approx(50, abs=1)
    assert not set(np.unique(image)) <= set(arrays['B05'].ravel())


# ---------------------------------------------------------------- SCL and clouds


def test_scl_is_read_with_nearest_neighbour(tmp_path: Path) -> None:
    # A checkerboard of 4 and 6: any interpolation would produce 5 somewhere.
    scl = np.where(np.indices((12, 12)).sum(axis=0) % 2 == 0, 4, 6).astype(np.uint8)
    product(tmp_path, scl=scl)
    for crs, res in ((None, 7.0), ('EPSG:4326', None)):
        only5 = Sentinel2TOC(
            tmp_path, crs=crs, res=res, bands=['B02'], cloud_rule=CloudRule(valid=(5,))
        )
        x, y, _ = only5.bounds
        assert not only5[x.start : x.stop, y.start : y.stop]['valid'].any()
        both = Sentinel2TOC(
            tmp_path, crs=crs, res=res, bands=['B02'], cloud_rule=CloudRule(valid=(4,))
        )
        valid = both[x.start : x.stop, y.start : y.stop]['valid'].numpy()
        assert 0.3 < valid.mean() < 0.7


def test_scl_20m_pixels_land_on_the_right_10m_blocks(tmp_path: Path) -> None:
    scl = all_clear_scl()
    scl[2, 3] = 9
    scl[5, 0] = 3
    scl[11, 11] = 0
    product(tmp_path, scl=scl)
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    valid = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['valid'].numpy()
    expected = np.ones((24, 24), dtype=bool)
    expected[4:6, 6:8] = False
    expected[10:12, 0:2] = False
    expected[22:24, 22:24] = False
    np.testing.assert_array_equal(valid, expected)


def test_dilation_sees_clouds_outside_the_window(tmp_path: Path) -> None:
    scl = all_clear_scl()
    scl[5, 2] = 9  # 10 m rows 10-11, cols 4-5
    product(tmp_path, scl=scl)
    rule = CloudRule(dilation_m=40.0)
    ds = Sentinel2TOC(tmp_path, bands=['B02'], cloud_rule=rule)
    full = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['valid'].numpy()
    np.testing.assert_array_equal(full, rule.mask(upsample(scl, 2), (10.0, 10.0)))
    assert not full[10:12, 4:10].any()
    assert full[10, 10]
    # A window starting east of the cloud: its dilation still reaches in.
    window = ds[X0 + 60 : X0 + 160, Y0 : Y0 + SIZE]['valid'].numpy()
    np.testing.assert_array_equal(window, full[:, 6:16])
    assert not window[10:12, :4].all()


def test_dilation_in_degrees_sees_clouds_outside_the_window(tmp_path: Path) -> None:
    scl = all_clear_scl()
    scl[5, 2] = 9
    product(tmp_path, scl=scl)
    plain = Sentinel2TOC(tmp_path, crs='EPSG:4326', bands=['B02'])
    ds = Sentinel2TOC(
        tmp_path, crs='EPSG:4326', bands=['B02'], cloud_rule=CloudRule(dilation_m=40)
    )
    x, y, _ = ds.bounds
    xres, _yres = ds.res
    full = ds[x.start : x.stop, y.start : y.stop]['valid'].numpy()
    bare = plain[x.start : x.stop, y.start : y.stop]['valid'].numpy()
    assert (~full).sum() > (~bare).sum() + 20
    # 8 columns in: on the same grid, past the cloud's own pixels
    left = x.start + 8 * xres
    window = ds[left : left + 12 * xres, y.start : y.stop]['valid'].numpy()
    np.testing.assert_array_equal(window, full[:, 8:20])
    assert not np.array_equal(window, bare[:, 8:20])


# ---------------------------------------------------------- layout (b) reading


def openeo_bands(names: list[str], shape=(20, 30)) -> dict[str, np.ndarray]:
    rows, cols = shape
    bands = {}
    for name in names:
        if name == 'SCL':
            scl = np.full(shape, 4, dtype=np.int16)
            scl[:, :5] = 9
            scl[0, :] = 0
            bands[name] = scl
        else:
            value = 100 * (ALL_BANDS.index(name) + 1)
            bands[name] = value + np.arange(rows * cols).reshape(shape) % 97
    return bands


def test_openeo_file_bands_by_name_in_any_order(tmp_path: Path) -> None:
    names = ['B08', 'SCL', 'B04', 'B02', 'B03']
    bands = openeo_bands(names)
    path = write_openeo_sheet(tmp_path, '22/1-2', '2022-04-05', bands)
    assert path == tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    ds = Sentinel2TOC(tmp_path, bands='rgb')
    assert ds.crs == CRS.from_epsg(4326)
    with rasterio.open(path) as src:
        assert ds.res == pytest.approx(src.res)
        left, bottom, right, top = src.bounds
    sample = ds[left:right, bottom:top]
    image = sample['image'].numpy()
    assert image.shape == (3, 20, 30)
    for channel, name in enumerate(['B02', 'B03', 'B04']):
        np.testing.assert_array_equal(image[channel], bands[name])
    expected = np.ones((20, 30), dtype=bool)
    expected[:, :5] = False
    expected[0, :] = False
    np.testing.assert_array_equal(sample['valid'].numpy(), expected)
    assert ds.index['period'].iloc[0] == '2022-04-05'


def test_openeo_file_in_utm(tmp_path: Path) -> None:
    bands = openeo_bands(['B02', 'SCL'], shape=(24, 24))
    write_openeo_sheet(
        tmp_path, '22/1-2', '2022-04-05', bands, bounds=BOUNDS, crs=32631
    )
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    assert ds.crs == CRS.from_epsg(32631)
    assert ds.res == (10.0, 10.0)
    image = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['image'].numpy()
    np.testing.assert_array_equal(image[0], bands['B02'])


def on_grid_scene(root: Path, layout: str, shape: tuple[int, int]) -> Path:
    """A scene with nodata, clouds, a no-data SCL row and a cloudy column."""
    rows, cols = shape
    rng = np.random.default_rng(0)
    bands = {
        b: rng.integers(1, 4000, shape).astype(np.int16) for b in ('B04', 'B02', 'B08')
    }
    bands['B02'][5, 6] = TERRASCOPE_NODATA
    bands['B08'][rows - 3 :, cols - 2] = TERRASCOPE_NODATA
    scl = np.full(shape, 4, dtype=np.int16)
    scl[10:12, 12:15] = 9
    scl[0, :] = 0
    scl[:, cols - 4] = 8
    bands['SCL'] = scl
    if layout == 'openeo-4326':
        extent = (4.0, 51.0, 4.0 + cols * 1.4e-4, 51.0 + rows * 0.9e-4)
        crs: int | str = 'EPSG:4326'
    else:
        extent = (X0, Y0, X0 + 10 * cols, Y0 + 10 * rows)
        crs = 32631
    if layout == 'terrascope':
        reflectance = native_arrays()
        for band in ('B04', 'B02', 'B08'):
            reflectance[band] = bands[band]
        return product(
            root, reflectance=reflectance, scl=scl[::2, ::2].astype(np.uint8)
        )
    return write_openeo_sheet(
        root, '22/1-2', '2022-04-05', bands, bounds=extent, crs=crs
    )


@pytest.mark.parametrize('layout', ['openeo-4326', 'openeo-utm', 'terrascope'])
@pytest.mark.parametrize('dilation_m', [0.0, 25.0])
def test_reads_on_the_file_grid_equal_the_merging_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, dilation_m: float
) -> None:
    # Terrascope: the product fixture's extent; its 10 m bands are read on their
    # grid, its 20 m and 60 m bands and SCL, whose pixels the 10 m grid splits,
    # are read on theirs and repeated: no merge either.
    shape = (24, 24) if layout == 'terrascope' else (40, 50)
    on_grid_scene(tmp_path, layout, shape)
    names = ['B08', 'B02', 'B04']
    if layout == 'terrascope':
        names += ['B11', 'B01']
    rule = CloudRule(dilation_m=dilation_m)
    fast = Sentinel2TOC(tmp_path, bands=names, cloud_rule=rule)
    x, y, t = fast.bounds
    xres, yres = fast.res
    rows, cols = shape
    windows = [
        (0, 0, cols, rows),  # the whole file
        (7, 3, 16, 12),  # inside
        (-5, -4, 20, 15),  # across the top-left corner
        (cols - 10, rows - 8, 20, 20),  # across the bottom-right corner
        (11, 0, 1, 20),  # the no-data SCL row and clouds just outside
    ]
    real_merge = rasterio.merge.merge
    for col, row, width, height in windows:
        query = (
            slice(x.start + col * xres, x.start + (col + width) * xres, xres),
            slice(y.stop - (row + height) * yres, y.stop - row * yres, yres),
        )
        monkeypatch.setattr(rasterio.merge, 'merge', None)
        got = fast[query]
        monkeypatch.setattr(rasterio.merge, 'merge', real_merge)
        # Every band of the file merged on its own onto the query grid, as
        # TorchGeo reads rasters, and the cloud rule applied to the merged SCL.
        image, valid = reference_read(fast, *query, t)
        assert got['image'].shape == (len(names), height, width)
        np.testing.assert_array_equal(got['image'].numpy(), image)
        np.testing.assert_array_equal(got['valid'].numpy(), valid)
        assert bool(got['valid'].any())


def test_composites_have_no_scl_and_valid_is_not_nodata(tmp_path: Path) -> None:
    bands = openeo_bands(['B04', 'B02', 'B03'])
    bands['B03'][4, 7] = -1
    extent = (X0, Y0, X0 + 300, Y0 + 200)
    write_openeo_sheet(
        tmp_path,
        '22/1-2',
        '2022-04',
        bands,
        bounds=extent,
        crs=32631,
        nodata=-1,
        composite=True,
    )
    ds = Sentinel2TOC(tmp_path, bands='rgb')
    assert ds.index['layout'].iloc[0] == 'composite'
    _, _, t = ds.bounds
    assert (t.start, t.stop) == (
        pd.Timestamp('2022-04-01'),
        pd.Timestamp('2022-05-01') - pd.Timedelta(1, unit='us'),
    )
    sample = ds[X0 : X0 + 300, Y0 : Y0 + 200]
    expected = np.ones((20, 30), dtype=bool)
    expected[4, 7] = False
    np.testing.assert_array_equal(sample['valid'].numpy(), expected)
    np.testing.assert_array_equal(sample['image'][0].numpy(), bands['B02'])


# ------------------------------------------------------------------ time


def three_dates(root: Path) -> None:
    for day, offset in (('2020-04-05', 0), ('2020-06-10', 50), ('2021-04-20', 100)):
        product(
            root,
            sensing=f'{day}T10:46:19',
            reflectance=native_arrays(offset),
        )


def test_years_and_months_filters(tmp_path: Path) -> None:
    three_dates(tmp_path)
    assert len(Sentinel2TOC(tmp_path, bands='rgb')) == 3
    assert list(Sentinel2TOC(tmp_path, bands='rgb', years=[2020]).index['period']) == [
        '2020-04-05',
        '2020-06-10',
    ]
    assert list(Sentinel2TOC(tmp_path, bands='rgb', months=[4]).index['period']) == [
        '2020-04-05',
        '2021-04-20',
    ]
    only = Sentinel2TOC(tmp_path, bands='rgb', years=[2020], months=[6])
    assert list(only.index['period']) == ['2020-06-10']
    with pytest.raises(ValueError, match=r'no Sentinel-2 date in years.*2020-04-05'):
        Sentinel2TOC(tmp_path, years=[2019])
    with pytest.raises(ValueError, match='months must be between 1 and 12, got 13'):
        Sentinel2TOC(tmp_path, months=[13])


def test_one_date_per_sample(tmp_path: Path) -> None:
    three_dates(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    with pytest.raises(ValueError, match=r'3 dates \(2020-04-05, 2020-06-10, 2021'):
        ds[X0 : X0 + 100, Y0 : Y0 + 100]
    with pytest.raises(ValueError, match='RandomTimestampSampler'):
        ds[
            X0 : X0 + 100,
            Y0 : Y0 + 100,
            pd.Timestamp('2020-01-01') : pd.Timestamp('2020-12-31'),
        ]
    image = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE, at('2020-06-10')]['image'].numpy()
    np.testing.assert_array_equal(image[0], native_arrays(50)['B02'])
    mosaic = Sentinel2TOC(tmp_path, bands=['B02'], mosaic_dates=True)
    image = mosaic[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['image'].numpy()
    np.testing.assert_array_equal(image[0], native_arrays(0)['B02'])


def test_mosaic_takes_the_earliest_valid_pixel(tmp_path: Path) -> None:
    cloudy = all_clear_scl()
    cloudy[:6] = 9
    product(tmp_path, sensing='2020-04-05T10:46:19', scl=cloudy)
    product(tmp_path, sensing='2020-04-08T10:46:19', reflectance=native_arrays(50))
    ds = Sentinel2TOC(tmp_path, bands=['B02'], mosaic_dates=True)
    sample = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    expected = native_arrays(0)['B02']
    expected[:12] = native_arrays(50)['B02'][:12]
    np.testing.assert_array_equal(sample['image'][0].numpy(), expected)
    assert bool(sample['valid'].all())


def test_composites_of_two_months_are_not_mixed(tmp_path: Path) -> None:
    for month in ('2022-04', '2022-05'):
        write_openeo_sheet(
            tmp_path,
            '22/1-2',
            month,
            openeo_bands(['B02']),
            bounds=(X0, Y0, X0 + 300, Y0 + 200),
            crs=32631,
            composite=True,
        )
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    with pytest.raises(ValueError, match=r'2 dates \(2022-04 \(monthly median\)'):
        ds[X0 : X0 + 100, Y0 + 40 : Y0 + 140]
    t = slice(pd.Timestamp('2022-05-01'), pd.Timestamp('2022-05-31'))
    assert ds[X0 : X0 + 100, Y0 + 40 : Y0 + 140, t]['image'].shape == (1, 10, 10)


def test_spatial_at_temporal_sampler(tmp_path: Path) -> None:
    three_dates(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands=['B02', 'B05'])
    sampler = GriddedPatchSampler(ds, size=12) @ RandomTimestampSampler(ds, generator=0)
    offsets = {'2020-04-05': 0, '2020-06-10': 50, '2021-04-20': 100}
    seen = set()
    for x, y, t in sampler:
        sample = ds[x, y, t]
        assert sample['image'].shape == (2, 12, 12)
        day = f'{t.start:%Y-%m-%d}'
        row, col = round((Y0 + SIZE - y.stop) / 10), round((x.start - X0) / 10)
        expected = native_arrays(offsets[day])['B02'][row : row + 12, col : col + 12]
        np.testing.assert_array_equal(sample['image'][0].numpy(), expected)
        seen.add(day)
    assert seen == set(offsets)


def test_adjacent_tiles_of_one_date_are_merged(tmp_path: Path) -> None:
    product(tmp_path, tile='31UDS')
    east = (X0 + SIZE, Y0, X0 + 2 * SIZE, Y0 + SIZE)
    product(tmp_path, tile='31UES', bounds=east, reflectance=native_arrays(offset=500))
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    assert len(ds) == 2
    sample = ds[X0 + 120 : X0 + 360, Y0 : Y0 + SIZE]
    image = sample['image'][0].numpy()
    np.testing.assert_array_equal(image[:, :12], native_arrays()['B02'][:, 12:])
    np.testing.assert_array_equal(image[:, 12:], native_arrays(500)['B02'][:, :12])
    assert bool(sample['valid'].all())


def test_an_overlapping_file_is_read_only_where_it_can_fill(tmp_path: Path) -> None:
    # Two sheets' files of one date overlapping on a window: the second (by
    # name) is truncated, so reading it fails, naming it.
    first = tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    second = tmp_path / '22_3-4' / '22_3-4_openEO_2022-04-05Z.tif'
    bounds = (X0, Y0, X0 + 3000, Y0 + 3000)
    clear = openeo_bands(['B02'], shape=(300, 300))
    clear['SCL'] = np.full((300, 300), 4, dtype=np.int16)
    write_openeo_file(first, clear, bounds=bounds, crs=32631)
    write_openeo_file(second, clear, bounds=bounds, crs=32631)
    data = second.read_bytes()
    ds = Sentinel2TOC(tmp_path, bands=['B02'], cache=False)
    second.write_bytes(data[: len(data) // 2])
    # Every pixel of the first file is valid: the second is never opened.
    sample = ds[X0 : X0 + 3000, Y0 : Y0 + 3000]
    assert bool(sample['valid'].all())
    np.testing.assert_array_equal(sample['image'][0].numpy(), clear['B02'])
    # A cloud in the first file: the second must fill it, and is read.
    cloudy = dict(clear, SCL=clear['SCL'].copy())
    cloudy['SCL'][:10] = 9
    write_openeo_file(first, cloudy, bounds=bounds, crs=32631)
    second.write_bytes(data)
    ds = Sentinel2TOC(tmp_path, bands=['B02'], cache=False)
    second.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(f'{second}: cannot be read')):
        ds[X0 : X0 + 3000, Y0 : Y0 + 3000]


def test_the_newest_processing_version_wins(tmp_path: Path) -> None:
    product(tmp_path / 'old', version='V200', reflectance=native_arrays(7))
    product(tmp_path / 'new', version='V210')
    ds = Sentinel2TOC(tmp_path, bands=['B02'])
    image = ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]['image'][0].numpy()
    np.testing.assert_array_equal(image, native_arrays()['B02'])


# ------------------------------------------------------ working with TorchGeo


class Labels(RasterDataset):
    filename_glob = 'labels*.tif'
    is_image = False


def test_intersection_with_a_label_raster(tmp_path: Path) -> None:
    product(tmp_path / 's2')
    values = (np.arange(576) % 14).astype(np.uint8).reshape(24, 24)
    labels = tmp_path / 'labels' / 'labels.tif'
    labels.parent.mkdir()
    profile = {
        'driver': 'GTiff',
        'width': 24,
        'height': 24,
        'count': 1,
        'dtype': 'uint8',
        'crs': 'EPSG:32631',
        'transform': rasterio.transform.from_origin(X0, Y0 + SIZE, 10, 10),
    }
    with rasterio.open(labels, 'w', **profile) as dst:
        dst.write(values[None])
    s2 = Sentinel2TOC(tmp_path / 's2', bands='rgnir')
    joint = IntersectionDataset(s2, Labels(labels.parent))
    sample = joint[X0 + 50 : X0 + 150, Y0 + 50 : Y0 + 150, at('2020-04-05')]
    assert sample['image'].shape == (3, 10, 10)
    assert sample['valid'].shape == (10, 10)
    np.testing.assert_array_equal(sample['mask'].numpy(), values[9:19, 5:15])


def test_dataloader_with_workers(tmp_path: Path) -> None:
    three_dates(tmp_path)
    ds = Sentinel2TOC(tmp_path, bands='rgb', cloud_rule=CloudRule(dilation_m=20))
    ds[X0 : X0 + 60, Y0 : Y0 + 60, at('2020-04-05')]  # opens handles before forking
    sampler = GriddedPatchSampler(ds, size=12) @ RandomTimestampSampler(ds, generator=1)
    loader = DataLoader(
        ds, sampler=sampler, batch_size=4, num_workers=2, collate_fn=stack_samples
    )
    batches = list(loader)
    assert sum(len(b['image']) for b in batches) == len(sampler) == 12
    assert batches[0]['image'].shape == (4, 3, 12, 12)
    assert batches[0]['valid'].dtype == torch.bool
    assert pickle.loads(pickle.dumps(ds)).bands == RGB_BANDS


def test_plot(tmp_path: Path) -> None:
    product(tmp_path, scl=np.where(np.eye(12) > 0, 9, 4).astype(np.uint8))
    for bands in ('rgb', 'rgnir', ['B11']):
        ds = Sentinel2TOC(tmp_path, bands=bands)
        fig = ds.plot(ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE], suptitle='x')
        assert len(fig.axes) == 2
        matplotlib.pyplot.close(fig)


# --------------------------------------------------------------- bad input


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / 'notes.txt').write_text('nothing here')
    with pytest.raises(DatasetNotFoundError, match='Dataset not found'):
        Sentinel2TOC(tmp_path)


def test_unknown_band(tmp_path: Path) -> None:
    product(tmp_path)
    with pytest.raises(ValueError, match="unknown band 'B10': available bands are"):
        Sentinel2TOC(tmp_path, bands=['B02', 'B10'])


def test_product_missing_a_band_file(tmp_path: Path) -> None:
    folder = product(tmp_path)
    (folder / 'S2B_20200405T104619_31UDS_TOC-B8A_20M_V210.tif').unlink()
    Sentinel2TOC(tmp_path, bands='rgb')  # B8A is not needed
    with pytest.raises(FileNotFoundError) as error:
        Sentinel2TOC(tmp_path, bands='all')
    message = str(error.value)
    assert 'S2B_20200405T104619_31UDS_TOC_V210' in message
    assert 'band B8A' in message
    assert 'S2B_20200405T104619_31UDS_TOC-B8A_20M_V210.tif' in message


def test_product_missing_its_scl(tmp_path: Path) -> None:
    folder = product(tmp_path)
    (folder / 'S2B_20200405T104619_31UDS_SCENECLASSIFICATION_20M_V210.tif').unlink()
    with pytest.raises(FileNotFoundError, match='has no file for band SCL'):
        Sentinel2TOC(tmp_path, bands='rgb')
    sample = Sentinel2TOC(tmp_path, bands='rgb', cloud_rule=None)[
        X0 : X0 + SIZE, Y0 : Y0 + SIZE
    ]
    assert bool(sample['valid'].all())


def test_corrupt_tiff(tmp_path: Path) -> None:
    folder = product(tmp_path)
    bad = folder / 'S2B_20200405T104619_31UDS_TOC-B05_20M_V210.tif'
    ds = Sentinel2TOC(tmp_path)
    # Damaged after indexing: the band file is named when it is first read.
    bad.write_bytes(b'II*\x00' + b'\x00' * 40)
    with pytest.raises(ValueError, match=re.escape(f'{bad}: cannot be read as a')):
        ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    # Indexing reads the headers of the requested bands: damaged, it is named then.
    with pytest.raises(ValueError, match=re.escape(f'{bad}: cannot be read as a')):
        Sentinel2TOC(tmp_path)
    reference = folder / 'S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tif'
    reference.write_bytes(b'II*\x00' + b'\x00' * 40)
    with pytest.raises(ValueError, match=re.escape(f'{reference}: cannot be read')):
        Sentinel2TOC(tmp_path)


# ------------------------------------------------------------ the archive index


def test_index_is_cached_and_opens_no_file_when_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day, offset in (('2020-04-05T10:46:19', 0), ('2020-04-10T10:46:19', 500)):
        product(tmp_path / 'data', sensing=day, reflectance=native_arrays(offset))
    cache = tmp_path / 'cache'
    first = Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
    (entry,) = cache.glob('sentinel2-index-*.json')

    def no_header(path: str) -> None:
        raise AssertionError(f'{path} was opened')

    monkeypatch.setattr(headers.Header, 'read', no_header)
    again = Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
    assert again.index.equals(first.index)
    assert again.res == first.res
    sample = again[X0 : X0 + SIZE, Y0 : Y0 + SIZE, at('2020-04-10')]
    np.testing.assert_array_equal(
        sample['image'][1].numpy(), upsample(native_arrays(500)['B02'], 1)
    )
    # Touched: its header is as it was.
    reference = next((tmp_path / 'data').rglob('*_20200405T*_TOC-B02_10M_V210.tif'))
    times = (reference.stat().st_atime_ns, reference.stat().st_mtime_ns)
    os.utime(reference, ns=(0, times[1] + 10**9))
    Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
    # Its header rewritten, with its size and time kept: read again.
    monkeypatch.undo()
    with rasterio.open(reference, 'r+') as dst:
        dst.nodata = 7
    os.utime(reference, ns=times)
    monkeypatch.setattr(headers.Header, 'read', no_header)
    with pytest.raises(AssertionError, match=f'{reference} was opened'):
        Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
    assert entry.exists()


def test_index_cache_survives_moved_and_deleted_products(tmp_path: Path) -> None:
    data, cache = tmp_path / 'data', tmp_path / 'cache'
    old = product(data / 'a', sensing='2020-04-05T10:46:19')
    product(data / 'b', sensing='2020-04-10T10:46:19')
    assert len(Sentinel2TOC(data, cache_dir=cache).index) == 2
    # Moved: found at its new place. Deleted: gone from the index.
    moved = data / 'elsewhere' / old.name
    moved.parent.mkdir()
    old.rename(moved)
    ds = Sentinel2TOC(data, cache_dir=cache)
    assert sorted(ds.index['filepath']) == sorted(
        [str(moved), str(next((data / 'b').rglob('*_TOC_V210')))]
    )
    shutil.rmtree(data / 'b')
    ds = Sentinel2TOC(data, cache_dir=cache)
    assert list(ds.index['filepath']) == [str(moved)]
    (entry,) = cache.glob('sentinel2-index-*.json')
    assert all(str(moved) in path for path in json.loads(entry.read_text())['entries'])
    # Deleted after the dataset indexed it: the read names the file and what to do.
    band = next(moved.glob('*_TOC-B03_10M_V210.tif'))
    band.unlink()
    with pytest.raises(
        BVMFileError, match=re.escape(f'{band}: no longer exists (moved or deleted')
    ) as error:
        ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE]
    assert 'create the dataset again' in str(error.value)


def test_a_damaged_index_cache_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    product(tmp_path / 'data')
    cache = tmp_path / 'cache'
    Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
    (entry,) = cache.glob('sentinel2-index-*.json')
    for damage in ('{"version": 2, "entries": {"x": [1]', '[]', 'null'):
        entry.write_text(damage)
        caplog.clear()
        ds = Sentinel2TOC(tmp_path / 'data', cache_dir=cache)
        assert len(ds.index) == 1
        (warning,) = caplog.messages
        assert warning.startswith(f'{entry}: a damaged cache entry (')
    assert json.loads(entry.read_text())['version'] == 2


def test_what_a_worker_receives_is_small(tmp_path: Path) -> None:
    for day in range(1, 11):
        product(tmp_path, sensing=f'2020-04-{day:02d}T10:46:19')
    ds = Sentinel2TOC(tmp_path)
    ds[X0 : X0 + SIZE, Y0 : Y0 + SIZE, at('2020-04-03')]  # opens and notes files
    payload = pickle.dumps(ds)
    # Ten products of 12 files: paths travel compressed, open files and what
    # was noted of them not at all.
    assert len(payload) < 20_000
    copy = pickle.loads(payload)
    assert copy._open.handles == {}
    assert copy._open.info == {}
    window = (slice(X0, X0 + SIZE), slice(Y0, Y0 + SIZE), at('2020-04-07'))
    assert torch.equal(copy[window]['image'], ds[window]['image'])


def test_truncated_tiff_fails_at_read_time_naming_the_file(tmp_path: Path) -> None:
    bands = openeo_bands(['B02', 'SCL'], shape=(300, 300))
    path = tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    write_openeo_file(path, bands, bounds=(X0, Y0, X0 + 3000, Y0 + 3000), crs=32631)
    data = path.read_bytes()
    ds = Sentinel2TOC(tmp_path, bands=['B02'], cache=False)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(f'{path}: cannot be read')):
        ds[X0 : X0 + 3000, Y0 : Y0 + 3000]


def test_openeo_file_without_band_names(tmp_path: Path) -> None:
    path = tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    path.parent.mkdir()
    profile = {
        'driver': 'GTiff',
        'width': 4,
        'height': 4,
        'count': 2,
        'dtype': 'int16',
        'crs': 'EPSG:32631',
        'transform': rasterio.transform.from_origin(X0, Y0, 10, 10),
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.zeros((2, 4, 4), dtype=np.int16))
    with pytest.raises(ValueError, match=re.escape(f'{path}: band 1 has no name')):
        Sentinel2TOC(tmp_path)


def test_openeo_file_missing_a_band_or_scl(tmp_path: Path) -> None:
    write_openeo_sheet(
        tmp_path, '22/1-2', '2022-04-05', openeo_bands(['B04', 'B02', 'B03'])
    )
    with pytest.raises(ValueError, match='has no band B08; its bands are B04, B02'):
        Sentinel2TOC(tmp_path, bands='rgnir')
    with pytest.raises(ValueError, match='has no SCL band to mask clouds with'):
        Sentinel2TOC(tmp_path, bands='rgb')
    assert len(Sentinel2TOC(tmp_path, bands='rgb', cloud_rule=None)) == 1


@pytest.mark.parametrize('crs', ['EPSG:32632', 'EPSG:4326'])
def test_nodata_is_never_data_when_warped(tmp_path: Path, crs: str) -> None:
    from torchgeo_bvm.synth.sentinel2 import write_openeo_file

    b02 = np.full((40, 40), 1000, dtype=np.int16)
    b02[10:20, 10:20] = 32767
    scl = np.full((40, 40), 4, dtype=np.uint8)
    path = tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    write_openeo_file(
        path,
        {'B02': b02, 'SCL': scl},
        bounds=(560000, 5650000, 560400, 5650400),
        crs=32631,
    )
    native = Sentinel2TOC(tmp_path, bands=['B02'])
    warped = Sentinel2TOC(tmp_path, bands=['B02'], crs=crs)
    sample = warped[warped.bounds]
    image, valid = sample['image'][0].numpy(), sample['valid'].numpy()
    assert set(np.unique(image[valid])) == {1000.0}
    assert (image[~valid] == 0).all()
    # About the 100 nodata pixels and the area outside the file are invalid.
    assert valid.sum() < native[native.bounds]['valid'].numpy().sum() + 50


def test_one_default_grid_rule_with_the_labels(mini_flanders, tmp_path: Path) -> None:
    import warnings

    from torchgeo_bvm.datasets.bvm import BVMDataset
    from torchgeo_bvm.spatial.crs import resolution_for
    from torchgeo_bvm.synth.flanders import write_openeo_downloads

    folder, manifest = mini_flanders
    products = folder / manifest['imagery']['root']
    # In their own CRS, the products keep their own 10 m grid.
    assert Sentinel2TOC(products).res == (10.0, 10.0)
    # In another CRS, imagery and labels take the same default: 10 m expressed
    # in that CRS (in EPSG:4326, x and y differ in degrees).
    labels = BVMDataset(folder / manifest['bvm'])
    for crs in ('EPSG:4326', 'EPSG:31370'):
        imagery = Sentinel2TOC(products, crs=crs)
        assert imagery.res == resolution_for(crs)
        assert BVMDataset(
            folder / manifest['bvm'], crs=CRS.from_user_input(crs)
        ).res == (resolution_for(crs))
    assert labels.res == resolution_for('EPSG:4326')
    with warnings.catch_warnings():
        # TorchGeo warns "Converting BVMDataset res from ... to ..." when the
        # second dataset's resolution differs from the first's.
        warnings.simplefilter('error')
        joint = Sentinel2TOC(products, crs='EPSG:4326') & labels
    assert joint.res == resolution_for('EPSG:4326')
    # openEO files (EPSG:4326, as downloaded) keep their own grid in their CRS,
    # and take the rule in another.
    out = tmp_path / 's2'
    (first, *_) = write_openeo_downloads(folder, out, ['22'], [2020], [4])
    with rasterio.open(first) as source:
        own = source.res
    assert Sentinel2TOC(out).res == own
    assert Sentinel2TOC(out, crs='EPSG:32631').res == (10.0, 10.0)


@pytest.mark.slow
def test_data_sets_of_a_process_share_its_file_descriptor_budget(
    tmp_path: Path,
) -> None:
    import resource

    from torchgeo_bvm.synth.archive import study_area, write_terrascope_archive
    from torchgeo_bvm.synth.sentinel2 import FLANDERS_TILES

    # 25 products: 300 files read, more than a process keeps open at a limit
    # of 1,100 descriptors (256: the limit less 1,024 for everything else).
    tiles = {'31UDS': FLANDERS_TILES['31UDS']}
    write_terrascope_archive(tmp_path, 25, tiles=tiles, data_size=12)
    xmin, ymin, xmax, ymax = study_area(tiles['31UDS'], 12)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = len(os.listdir('/proc/self/fd'))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1100, hard))
    try:
        first, second = Sentinel2TOC(tmp_path), Sentinel2TOC(tmp_path)
        for dataset in (first, second):
            for interval in dataset.index.index:
                dataset[xmin:xmax, ymin:ymax, interval.left : interval.right]
        # Each alone would keep 256 open: together they do too.
        opened = len(os.listdir('/proc/self/fd')) - before
        assert opened <= 256 + 4, opened  # and PROJ's database, GDAL's own
        interval = first.index.index[0]
        sample = first[xmin:xmax, ymin:ymax, interval.left : interval.right]
        assert sample['image'].shape == (11, 12, 12)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
