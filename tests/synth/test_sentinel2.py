from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.warp import transform_bounds

from torchgeo_bvm.datasets.bands import ALL_BANDS, NATIVE_RESOLUTION
from torchgeo_bvm.sheets.codes import KBL_CRS, Sheet
from torchgeo_bvm.synth.sentinel2 import (
    QUALITY_LAYERS,
    SCL_SPECTRA,
    TERRASCOPE_NODATA,
    native_layers,
    reflectance_from_classes,
    synthetic_scene,
    synthetic_scl,
    terrascope_product_id,
    write_openeo_file,
    write_openeo_sheet,
    write_terrascope_product,
)

BOUNDS = (500000.0, 5650020.0, 500240.0, 5650260.0)
STEM = 'S2B_20200405T104619_31UDS'


def native_arrays() -> dict[str, np.ndarray]:
    """24 x 24 px at 10 m: every pixel of every band a different value."""
    arrays = {}
    for i, band in enumerate(ALL_BANDS, start=1):
        n = 240 // NATIVE_RESOLUTION[band]
        arrays[band] = (i * 1000 + np.arange(n * n).reshape(n, n)).astype(np.int16)
    return arrays


def test_product_id() -> None:
    assert (
        terrascope_product_id('S2C', '2025-07-01T10:46:21', '31UES', 'V220')
        == 'S2C_20250701T104621_31UES_TOC_V220'
    )


def test_product_folder_has_every_real_file(tmp_path: Path) -> None:
    folder = write_terrascope_product(tmp_path, bounds=BOUNDS)
    assert folder == tmp_path / 'TOC_V2/2020/04/05' / f'{STEM}_TOC_V210'
    expected = {f'{STEM}_TOC-{b}_{NATIVE_RESOLUTION[b]}M_V210.tif' for b in ALL_BANDS}
    expected |= {f'{STEM}_{q}_60M_V210.tif' for q in QUALITY_LAYERS}
    expected |= {
        f'{STEM}_SCENECLASSIFICATION_20M_V210.tif',
        f'{STEM}_TOC_QUICKLOOK_V210.tif',
        f'{STEM}_TOC_V210.xml',
    }
    assert {p.name for p in folder.iterdir()} == expected
    assert (
        'TERRASCOPE_S2_TOC_V2:S2B_20200405T104619_31UDS_TOC_V210'
        in (folder / f'{STEM}_TOC_V210.xml').read_text()
    )


@pytest.mark.parametrize('band', ['B02', 'B05', 'B01', 'SCENECLASSIFICATION'])
def test_band_files_format(tmp_path: Path, band: str) -> None:
    folder = write_terrascope_product(tmp_path, bounds=BOUNDS, archive=False)
    assert folder == tmp_path / f'{STEM}_TOC_V210'
    metres = NATIVE_RESOLUTION.get(band, 20)
    kind = band if band == 'SCENECLASSIFICATION' else f'TOC-{band}'
    with rasterio.open(folder / f'{STEM}_{kind}_{metres}M_V210.tif') as src:
        assert CRS.from_user_input(src.crs) == CRS.from_epsg(32631)
        assert src.res == (metres, metres)
        assert tuple(src.bounds) == BOUNDS
        assert src.count == 1
        if band == 'SCENECLASSIFICATION':
            assert src.dtypes == ('uint8',)
            assert src.nodata == 0
            assert src.colormap(1)[9] == (255, 255, 255, 255)
        else:
            assert src.dtypes == ('int16',)
            assert src.nodata == TERRASCOPE_NODATA


def test_given_arrays_are_written_exactly(tmp_path: Path) -> None:
    b02 = np.arange(576, dtype=np.int16).reshape(24, 24)
    b05 = np.arange(144, dtype=np.int16).reshape(12, 12)
    b11_10m = np.kron(np.arange(144).reshape(12, 12), np.ones((2, 2))) * 10
    b11_10m[0, 0] += 4  # block mean of 0, 0, 0, 4 -> 1
    scl10 = np.full((24, 24), 4, dtype=np.uint8)
    scl10[0:2, 0:2] = [[9, 9], [9, 4]]  # most frequent: 9
    scl10[0:2, 2:4] = [[9, 4], [3, 6]]  # tie between 9, 4, 3, 6 -> lowest
    folder = write_terrascope_product(
        tmp_path,
        bounds=BOUNDS,
        reflectance={'B02': b02, 'B05': b05, 'B11': b11_10m},
        scl=scl10,
        nodata=-1,
    )

    def read(name: str) -> np.ndarray:
        with rasterio.open(folder / name) as src:
            assert src.nodata in (-1, 0)
            return src.read(1)

    np.testing.assert_array_equal(read(f'{STEM}_TOC-B02_10M_V210.tif'), b02)
    np.testing.assert_array_equal(read(f'{STEM}_TOC-B05_20M_V210.tif'), b05)
    b11 = read(f'{STEM}_TOC-B11_20M_V210.tif')
    assert b11[0, 0] == 1
    np.testing.assert_array_equal(b11.ravel()[1:], np.arange(1, 144) * 10)
    scl = read(f'{STEM}_SCENECLASSIFICATION_20M_V210.tif')
    assert scl[0, 0] == 9
    assert scl[0, 1] == 3
    assert (scl.ravel()[2:] == 4).all()


def test_native_layers_are_what_a_product_holds(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    reflectance = {
        b: rng.integers(1, 9000, (24, 24)).astype(np.int16) for b in ALL_BANDS
    }
    reflectance['B05'][:2, :2] = -1  # a 20 m pixel of nodata
    scl10 = rng.integers(0, 12, (24, 24)).astype(np.uint8)
    bands, scl20 = native_layers(reflectance, scl10, (24, 24), nodata=-1)
    assert list(bands) == list(ALL_BANDS)
    assert bands['B05'][0, 0] == -1
    folder = write_terrascope_product(
        tmp_path, bounds=BOUNDS, reflectance=reflectance, scl=scl10, nodata=-1
    )
    for band, array in bands.items():
        metres = NATIVE_RESOLUTION[band]
        assert array.dtype == np.int16
        assert array.shape == (240 // metres, 240 // metres)
        with rasterio.open(folder / f'{STEM}_TOC-{band}_{metres}M_V210.tif') as src:
            np.testing.assert_array_equal(src.read(1), array)
    with rasterio.open(folder / f'{STEM}_SCENECLASSIFICATION_20M_V210.tif') as src:
        np.testing.assert_array_equal(src.read(1), scl20)
    # Given on their native grids, the layers pass through unchanged.
    again, scl_again = native_layers(bands, scl20, (24, 24), nodata=-1)
    assert all(np.array_equal(again[b], bands[b]) for b in ALL_BANDS)
    assert np.array_equal(scl_again, scl20)
    with pytest.raises(ValueError, match=r"no array for bands \['B12'\]"):
        native_layers({b: reflectance[b] for b in ALL_BANDS[:-1]}, scl10, (24, 24))


def test_generated_bands_follow_the_scl_spectra(tmp_path: Path) -> None:
    scl = np.full((12, 12), 6, dtype=np.uint8)
    scl[:, 6:] = 9
    folder = write_terrascope_product(tmp_path, bounds=BOUNDS, scl=scl)
    with rasterio.open(folder / f'{STEM}_TOC-B08_10M_V210.tif') as src:
        b08 = src.read(1).astype(float)
    water, cloud = b08[:, :12], b08[:, 12:]
    assert abs(water.mean() - SCL_SPECTRA[6]['B08']) < 30
    assert abs(cloud.mean() - SCL_SPECTRA[9]['B08']) < 30


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='whole multiples of 60 m'):
        write_terrascope_product(tmp_path, bounds=(0, 0, 250, 240))
    with pytest.raises(ValueError, match=r"unknown bands \['B10'\]"):
        write_terrascope_product(
            tmp_path, bounds=BOUNDS, reflectance={'B10': np.zeros((24, 24))}
        )
    with pytest.raises(ValueError, match=r'B05: array of shape \(5, 5\) fits neither'):
        write_terrascope_product(
            tmp_path, bounds=BOUNDS, reflectance={'B05': np.zeros((5, 5))}
        )
    with pytest.raises(ValueError, match=r'no spectrum for classes \[42\]'):
        reflectance_from_classes(np.array([[4, 42]]))
    assert not any(tmp_path.rglob('*.tif'))


def test_full_size_tile_with_data_in_a_study_area(tmp_path: Path) -> None:
    tile = (499980.0, 5590200.0, 609780.0, 5700000.0)  # 31UES, 10,980 px at 10 m
    study = (550020.0, 5640060.0, 550260.0, 5640300.0)  # 24 x 24 px
    folder = write_terrascope_product(
        tmp_path,
        tile='31UES',
        bounds=tile,
        data_bounds=study,
        reflectance=native_arrays(),
        scl=np.full((12, 12), 4, dtype=np.uint8),
        blocksize=256,
    )
    b02 = folder / 'S2B_20200405T104619_31UES_TOC-B02_10M_V210.tif'
    with rasterio.open(b02) as src:
        assert (src.width, src.height) == (10980, 10980)
        assert tuple(src.bounds) == tile
        assert src.block_shapes == [(256, 256)]
        window = src.window(*study)
        np.testing.assert_array_equal(
            src.read(1, window=window), native_arrays()['B02']
        )
        assert (src.read(1, window=((0, 256), (0, 256))) == TERRASCOPE_NODATA).all()
    with rasterio.open(
        folder / 'S2B_20200405T104619_31UES_TOC-B01_60M_V210.tif'
    ) as src:
        assert (src.width, src.height) == (1830, 1830)
        np.testing.assert_array_equal(
            src.read(1, window=src.window(*study)), native_arrays()['B01']
        )
    # Blocks without data are not written: 19 files of 10,980 x 10,980 pixels.
    assert sum(p.stat().st_size for p in folder.iterdir()) < 200_000
    with pytest.raises(ValueError, match='must lie inside'):
        write_terrascope_product(
            tmp_path, bounds=BOUNDS, data_bounds=(BOUNDS[0] + 30, *BOUNDS[1:])
        )


def test_writers_are_deterministic(tmp_path: Path) -> None:
    one = write_terrascope_product(tmp_path / 'a', bounds=BOUNDS, seed=3)
    two = write_terrascope_product(tmp_path / 'b', bounds=BOUNDS, seed=3)
    other = write_terrascope_product(tmp_path / 'c', bounds=BOUNDS, seed=4)
    for path in sorted(one.glob('*.tif')):
        with rasterio.open(path) as a, rasterio.open(two / path.name) as b:
            np.testing.assert_array_equal(a.read(), b.read())
    name = f'{STEM}_SCENECLASSIFICATION_20M_V210.tif'
    with rasterio.open(one / name) as a, rasterio.open(other / name) as c:
        assert not np.array_equal(a.read(), c.read())


def test_synthetic_scl_has_clouds_shadows_cirrus_and_land_cover() -> None:
    scl = synthetic_scl((120, 120), seed=0)
    assert scl.dtype == np.uint8
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 10} <= set(np.unique(scl).tolist())
    cloud = np.isin(scl, (8, 9)).mean()
    assert 0.05 < cloud < 0.35
    assert np.array_equal(scl, synthetic_scl((120, 120), seed=0))
    clear = synthetic_scl((120, 120), seed=0, cloud_fraction=0.0)
    assert np.isin(clear, (8, 9)).mean() < cloud


def test_reflectance_from_classes_is_exact_without_noise() -> None:
    classes = np.array([[1, 2], [2, 1]])
    spectra = {1: {'B02': 100, 'B08': 3000}, 2: {'B02': 50, 'B08': 200}}
    bands = reflectance_from_classes(classes, spectra, bands=['B08', 'B02'])
    assert list(bands) == ['B08', 'B02']
    np.testing.assert_array_equal(bands['B08'], [[3000, 200], [200, 3000]])
    assert bands['B02'].dtype == np.int16
    noisy = reflectance_from_classes(classes, spectra, bands=['B02'], noise=5, seed=1)
    assert not np.array_equal(noisy['B02'], bands['B02'])
    reflectance, scl = synthetic_scene((30, 40), bands=['B04'], seed=2)
    assert reflectance['B04'].shape == scl.shape == (30, 40)


def test_openeo_file(tmp_path: Path) -> None:
    bands = {
        'B08': np.full((3, 4), 8),
        'SCL': np.full((3, 4), 4),
        'B02': np.arange(12).reshape(3, 4),
    }
    path = write_openeo_file(
        tmp_path / 'x.tif', bands, bounds=(4.0, 51.0, 4.004, 51.003), nodata=-7
    )
    with rasterio.open(path) as src:
        assert src.descriptions == ('B08', 'SCL', 'B02')
        assert src.dtypes == ('int16',) * 3
        assert src.nodata == -7
        assert CRS.from_user_input(src.crs) == CRS.from_epsg(4326)
        assert src.res == pytest.approx((0.001, 0.001))
        np.testing.assert_array_equal(src.read(3), bands['B02'])
    with pytest.raises(ValueError, match='one shape'):
        write_openeo_file(
            tmp_path / 'y.tif',
            {'B02': np.zeros((2, 2)), 'B03': np.zeros((3, 2))},
            bounds=(0, 0, 1, 1),
        )


def test_openeo_paths_and_default_extent(tmp_path: Path) -> None:
    bands = {'B02': np.zeros((10, 10)), 'SCL': np.full((10, 10), 4)}
    path = write_openeo_sheet(tmp_path, '22/1-2', '2022-04-05', bands)
    assert path == tmp_path / '22_1-2' / '22_1-2_openEO_2022-04-05Z.tif'
    composite = write_openeo_sheet(
        tmp_path, '22/1-2', '2022-04', {'B02': np.zeros((10, 10))}, composite=True
    )
    assert composite == tmp_path / '22_1-2' / '22_1-2_openEO_2022-04_median.tif'
    sheet = transform_bounds(KBL_CRS, 'EPSG:4326', *Sheet.parse('22/1-2').bounds)
    with rasterio.open(path) as src:
        assert tuple(src.bounds) == pytest.approx(sheet, abs=1e-4)
    assert not list(tmp_path.rglob('.*'))


@pytest.mark.parametrize('nodata', [32767, None])
def test_coarse_bands_never_average_nodata(tmp_path: Path, nodata: int | None) -> None:
    # 10 m arrays of a 20 m band: the first 2 x 2 block one nodata, the second
    # all nodata.
    fine = np.full((24, 24), 500, dtype=np.int16)
    fine[:2, :2] = [[100, 200], [300, 32767]]
    fine[:2, 2:4] = 32767
    folder = write_terrascope_product(
        tmp_path, bounds=BOUNDS, reflectance={'B05': fine}, nodata=nodata
    )
    with rasterio.open(folder / f'{STEM}_TOC-B05_20M_V210.tif') as src:
        coarse = src.read(1)
    if nodata is None:  # no nodata: every value counts
        assert coarse[0, :2].tolist() == [round((100 + 200 + 300 + 32767) / 4), 32767]
    else:
        assert coarse[0, :2].tolist() == [200, 32767]
    assert (coarse.ravel()[2:] == 500).all()
