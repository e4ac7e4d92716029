"""The season of the tiny mini-Flanders: its files, weather, composites, phenology."""

import filecmp
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.transform import from_origin

from tests.synth.flanders.reading import bvm_dataset
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.spatial.crs import UTM31N
from torchgeo_bvm.synth.flanders import (
    MANIFEST_NAME,
    SEASON_DATES,
    load_manifest,
    write_mini_flanders,
)
from torchgeo_bvm.synth.flanders.weather import MONTHLY_CLEAR
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA

MONTHS = [f'2022-{month:02d}' for month in range(1, 13)]
SHEETS = ['22_1-2', '22_3-4', '22_5-6', '22_7-8']
VALID = [4, 5, 6, 7]
Season = tuple[Path, dict[str, Any]]


def _grid(manifest: dict[str, Any]) -> tuple[float, float, int, int]:
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    return xmin, ymax, round((ymax - ymin) / 10), round((xmax - xmin) / 10)


def _product(folder: Path, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Every band and the SCL of a product, read onto its 10 m grid (nearest)."""
    bands = []
    for band in ALL_BANDS:
        (path,) = folder.glob(f'*_TOC-{band}_*M_V210.tif')
        with rasterio.open(path) as src:
            assert src.nodata == TERRASCOPE_NODATA
            bands.append(src.read(1, out_shape=shape, resampling=Resampling.nearest))
    (path,) = folder.glob('*_SCENECLASSIFICATION_20M_V210.tif')
    with rasterio.open(path) as src:
        scl = src.read(1, out_shape=shape, resampling=Resampling.nearest)
    return np.stack(bands), scl


@pytest.fixture(scope='module')
def products(tiny_season: Season) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out, manifest = tiny_season
    _, _, rows, cols = _grid(manifest)
    return {
        p['date']: _product(out / p['path'], (rows, cols))
        for p in manifest['season']['products']
    }


def test_the_season_is_36_products_and_48_composites(tiny_season: Season) -> None:
    out, manifest = tiny_season
    season = manifest['season']
    assert manifest == {
        **load_manifest(out),
        'reused': False,
        'seconds': manifest['seconds'],
    }
    assert season['year'] == 2022
    assert season['dates'] == [sensing[:10] for sensing, _ in SEASON_DATES]
    assert len(season['products']) == 36
    first = season['products'][0]
    assert first['path'] == (
        'season/TOC_V2/2022/01/05/S2A_20220105T104619_31UES_TOC_V210'
    )
    assert (first['sensing'], first['platform']) == ('2022-01-05T10:46:19', 'S2A')
    for product in season['products']:
        folder = out / product['path']
        stamp = product['sensing'].replace('-', '').replace(':', '')
        stem = f'{product["platform"]}_{stamp}_31UES'
        names = sorted(p.name for p in folder.iterdir())
        assert len(names) == 19
        assert f'{stem}_TOC-B02_10M_V210.tif' in names
        assert f'{stem}_TOC-B8A_20M_V210.tif' in names
        assert f'{stem}_SCENECLASSIFICATION_20M_V210.tif' in names
        assert f'{stem}_TOC_V210.xml' in names
    # Twelve months for each kbl4 sheet, in the downloader's layout.
    expected = [
        f'season/openeo/{sheet}/{sheet}_openEO_{month}_median.tif'
        for month in MONTHS
        for sheet in SHEETS
    ]
    assert [c['path'] for c in season['composites']] == expected
    assert sorted(
        p.relative_to(out).as_posix()
        for p in (out / 'season/openeo').rglob('*')
        if p.is_file()
    ) == sorted(expected)
    for name in [*expected, *(p['path'] for p in season['products'])]:
        assert any(key.startswith(name) for key in manifest['sizes'])
    # The single dates are as they are without the season.
    assert manifest['dates'] == ['2020-04-18', '2020-07-27', '2020-10-05', '2021-06-14']


def test_composites_are_int16_files_on_the_products_grid(tiny_season: Season) -> None:
    out, manifest = tiny_season
    xmin, ymax, rows, cols = _grid(manifest)
    covered = np.zeros((rows, cols), dtype=int)
    for entry in manifest['season']['composites'][:4]:
        with rasterio.open(out / entry['path']) as src:
            assert src.count == 11
            assert src.descriptions == ALL_BANDS
            assert set(src.dtypes) == {'int16'}
            assert src.nodata == -32768
            assert CRS.from_user_input(src.crs) == UTM31N
            assert src.res == (10.0, 10.0)
            column = (src.bounds.left - xmin) / 10
            row = (ymax - src.bounds.top) / 10
            assert (column, row) == (round(column), round(row))
            covered[
                round(row) : round(row) + src.height,
                round(column) : round(column) + src.width,
            ] += 1
    assert covered.min() == 1


def test_monthly_cloudiness_is_flanders(
    tiny_season: Season, products: dict[str, Any]
) -> None:
    _, manifest = tiny_season
    shares: dict[str, list[float]] = {}
    for product in manifest['season']['products']:
        _, scl = products[product['date']]
        share = float(np.isin(scl, VALID).mean())
        # Each date leaves clear the share its sky was drawn with.
        assert share == pytest.approx(product['clear'], abs=0.001)
        shares.setdefault(product['date'][:7], []).append(share)
        assert not (scl == 0).any()
        assert set(np.unique(scl).tolist()) <= {2, 3, 4, 5, 6, 7, 8, 9, 10}
    for month, mean in zip(MONTHS, MONTHLY_CLEAR, strict=True):
        assert np.mean(shares[month]) == pytest.approx(mean, abs=0.002), month
    overcast = sorted(m for m, values in shares.items() for v in values if v == 0)
    assert overcast == [
        '2022-01',
        '2022-02',
        '2022-03',
        '2022-10',
        '2022-11',
        '2022-12',
    ]
    classes = np.unique(np.stack([scl for _, scl in products.values()]))
    assert {3, 8, 9, 10} <= set(classes.tolist())


def _median(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # pixels never clear
        counted = np.where(clear, values.astype(np.float64), np.nan)
        median = np.nanmedian(np.moveaxis(counted, 0, -1), axis=-1)
    return np.where(np.isnan(median), -32768, np.rint(median)).astype(np.int16)


@pytest.mark.slow
def test_composites_are_the_median_of_the_clear_observations(
    tiny_season: Season, products: dict[str, Any]
) -> None:
    out, manifest = tiny_season
    xmin, ymax, _, _ = _grid(manifest)
    empty = {}
    for month in MONTHS:
        dates = [d for d in products if d.startswith(month)]
        values = np.stack([products[d][0] for d in dates])  # (3, 11, rows, cols)
        scl = np.stack([products[d][1] for d in dates])
        clear = np.isin(scl, VALID)[:, None] & (values != TERRASCOPE_NODATA)
        expected = _median(values, clear)
        never = ~clear.any(axis=0)
        empty[month] = float(never[0].mean())
        for sheet in SHEETS:
            path = out / 'season/openeo' / sheet / f'{sheet}_openEO_{month}_median.tif'
            with rasterio.open(path) as src:
                composite = src.read()
                row = round((ymax - src.bounds.top) / 10)
                column = round((src.bounds.left - xmin) / 10)
            window = (
                slice(None),
                slice(row, row + composite.shape[1]),
                slice(column, column + composite.shape[2]),
            )
            assert np.array_equal(composite, expected[window]), (month, sheet)
            # A pixel no date saw clear is nodata in every band.
            assert np.array_equal(composite == -32768, never[window])
    # Months with an overcast date leave pixels without any clear observation.
    assert all(empty[m] > 0.05 for m in ('2022-01', '2022-11', '2022-12'))
    assert max(empty.values()) < 0.8


def test_a_summer_date_confuses_crops_and_meadows_the_year_does_not(
    tiny_season: Season, products: dict[str, Any]
) -> None:
    out, manifest = tiny_season
    xmin, ymax, rows, cols = _grid(manifest)
    labels = bvm_dataset(out, UTM31N).rasterize(
        from_origin(xmin, ymax, 10, 10), cols, rows
    )
    crop = labels == class_by_name('Cultivated land').id
    meadow = labels == class_by_name('Grasslands').id
    farmed = crop | meadow
    is_crop = crop[farmed]

    def ndvi(image: np.ndarray) -> np.ndarray:
        red, nir = image[ALL_BANDS.index('B04')], image[ALL_BANDS.index('B08')]
        valid = (red != -32768) & (nir != -32768)
        value = (nir.astype(float) - red) / (nir.astype(float) + red)
        return np.where(valid, value, np.nan)[farmed]

    # One summer date: the clearest acquisition of July, and the best NDVI
    # threshold between the two classes, chosen knowing the answer.
    july = max(
        (p for p in manifest['season']['products'] if p['date'].startswith('2022-07')),
        key=lambda p: p['clear'],
    )
    assert july['date'] == '2022-07-24'
    image, scl = products[july['date']]
    single = np.where(np.isin(scl[farmed], VALID), ndvi(image), np.nan)
    seen = np.isfinite(single)
    assert seen.mean() > 0.8
    ordered = np.argsort(single[seen])
    crops_below = np.concatenate([[0], np.cumsum(is_crop[seen][ordered])])
    meadows_above = (~is_crop[seen]).sum() - np.concatenate(
        [[0], np.cumsum(~is_crop[seen][ordered])]
    )
    single_accuracy = ((crops_below + meadows_above) / seen.sum()).max()
    majority = max(is_crop.mean(), 1 - is_crop.mean())

    # The year: the 12 monthly composites' NDVI, each pixel given the class
    # whose mean profile is nearer over the months it has.
    series = []
    for month in MONTHS:
        mosaic = np.full((len(ALL_BANDS), rows, cols), -32768, dtype=np.int16)
        for sheet in SHEETS:
            path = out / 'season/openeo' / sheet / f'{sheet}_openEO_{month}_median.tif'
            with rasterio.open(path) as src:
                row = round((ymax - src.bounds.top) / 10)
                column = round((src.bounds.left - xmin) / 10)
                mosaic[:, row : row + src.height, column : column + src.width] = (
                    src.read()
                )
        series.append(ndvi(mosaic))
    profiles = np.stack(series, axis=1)  # (pixels, months)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        crop_mean = np.nanmean(profiles[is_crop], axis=0)
        meadow_mean = np.nanmean(profiles[~is_crop], axis=0)
        to_crop = np.nanmean((profiles - crop_mean) ** 2, axis=1)
        to_meadow = np.nanmean((profiles - meadow_mean) ** 2, axis=1)
    assert np.isfinite(to_crop).all()  # every pixel is seen in some month
    series_accuracy = ((to_crop < to_meadow) == is_crop).mean()

    # Crops are bare in spring, green like the meadows in July.
    assert crop_mean[3] < meadow_mean[3] - 0.15
    assert abs(crop_mean[6] - meadow_mean[6]) < 0.08
    assert single_accuracy < majority + 0.05
    assert series_accuracy > 0.88
    assert series_accuracy - single_accuracy > 0.25


@pytest.mark.slow
def test_the_same_seed_gives_the_same_season_and_radar(
    tiny_season: Season, tmp_path: Path
) -> None:
    out, manifest = tiny_season
    again = write_mini_flanders(
        tmp_path / 'again', 'tiny', seed=0, plot=False, season=True, radar=True
    )
    assert again['sizes'] == manifest['sizes']
    names = [*manifest['sizes'], MANIFEST_NAME]
    match, mismatch, errors = filecmp.cmpfiles(
        out, tmp_path / 'again', names, shallow=False
    )
    assert (mismatch, errors) == ([], [])
    # The single dates, the season's products and composites, the radar's 61
    # products of four files and 48 monthly means, the truth (changes.csv and
    # a raster with its .aux.xml for each of three years).
    assert len(match) == len(names) == 102 + 36 * 19 + 48 + 61 * 4 + 48 + 7 + 1
