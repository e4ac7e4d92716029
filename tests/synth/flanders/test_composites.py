import warnings

import numpy as np
import pytest
from pyproj import Transformer

from tests.synth.flanders.reading import TINY
from torchgeo_bvm.datasets.bands import ALL_BANDS, NATIVE_RESOLUTION
from torchgeo_bvm.download.graph import sheet_extent
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.synth.flanders.composites import (
    COMPOSITE_NODATA,
    MonthStack,
    clear_median,
    sheet_windows,
)
from torchgeo_bvm.synth.flanders.imagery import imagery_grid
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA


def _nanmedian(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN pixels
        median = np.nanmedian(
            np.where(clear, values.astype(np.float64), np.nan), axis=0
        )
    return np.where(np.isnan(median), COMPOSITE_NODATA, np.rint(median)).astype(
        np.int16
    )


@pytest.mark.parametrize('dates', [1, 2, 3, 4, 5])
def test_clear_median_is_numpys_median_rounded_half_to_even(dates: int) -> None:
    rng = np.random.default_rng(dates)
    values = rng.integers(-3, 4000, (dates, 30, 40)).astype(np.int16)
    clear = rng.random(values.shape) < 0.6
    result = clear_median(values, clear)
    assert result.dtype == np.int16
    assert np.array_equal(result, _nanmedian(values, clear))
    assert np.array_equal(result == COMPOSITE_NODATA, ~clear.any(axis=0))


def test_clear_median_of_two_rounds_halves_to_even() -> None:
    values = np.array([[[1000, 1000, 7]], [[1001, 1003, 8]]], dtype=np.int16)
    clear = np.ones(values.shape, dtype=bool)
    assert clear_median(values, clear).tolist() == [[1000, 1002, 8]]
    assert clear_median(values[:0], clear[:0]).tolist() == [[COMPOSITE_NODATA] * 3]


def test_a_month_is_composited_as_on_the_10_m_grid() -> None:
    rng = np.random.default_rng(3)
    rows, cols = 12, 18
    stack = MonthStack()
    dates = []
    for _ in range(3):
        bands = {
            band: rng.integers(1, 5000, (rows * 10 // m, cols * 10 // m)).astype(
                np.int16
            )
            for band, m in NATIVE_RESOLUTION.items()
            if band in ALL_BANDS
        }
        bands['B05'][0, 0] = TERRASCOPE_NODATA
        scl = rng.integers(0, 12, (rows // 2, cols // 2)).astype(np.uint8)
        stack.add(bands, scl)
        dates.append((bands, scl))
    composite = stack.composite()
    assert list(composite) == list(ALL_BANDS)

    def ten(array: np.ndarray, metres: int) -> np.ndarray:
        factor = metres // 10
        return np.repeat(np.repeat(array, factor, 0), factor, 1)

    scl10 = np.stack([ten(scl, 20) for _, scl in dates])
    for band in ALL_BANDS:
        values = np.stack([ten(b[band], NATIVE_RESOLUTION[band]) for b, _ in dates])
        clear = np.isin(scl10, [4, 5, 6, 7]) & (values != TERRASCOPE_NODATA)
        assert composite[band].shape == (rows, cols)
        assert np.array_equal(composite[band], _nanmedian(values, clear)), band
    with pytest.raises(ValueError, match='at least one date'):
        MonthStack().composite()


def test_sheet_windows_are_the_utm_boxes_of_the_download_extents() -> None:
    grid = imagery_grid(TINY.bounds)
    codes = ('22/1-2', '22/3-4', '22/5-6', '22/7-8', '21/1-2')
    windows = sheet_windows(grid, [Sheet.parse(code) for code in codes])
    assert [sheet.code for sheet, *_ in windows] == list(codes[:4])
    rows, cols = grid.shape
    left = grid.left + 10 * np.arange(cols)
    top = grid.top - 10 * np.arange(rows)
    covered = np.zeros(grid.shape, dtype=int)
    to_utm = Transformer.from_crs(4326, 32631, always_xy=True)
    for sheet, r, c in windows:
        window = np.zeros(grid.shape, dtype=bool)
        window[r, c] = True
        covered += window
        # Exactly the pixels that share area with the UTM box of the extent
        # the downloader asks openEO for.
        extent = sheet_extent(sheet)
        xmin, ymin, xmax, ymax = to_utm.transform_bounds(
            extent['west'],
            extent['south'],
            extent['east'],
            extent['north'],
            densify_pts=21,
        )
        inside_x = (left < xmax) & (left + 10 > xmin)
        inside_y = (top > ymin) & (top - 10 < ymax)
        assert np.array_equal(window, np.outer(inside_y, inside_x))
    # Together the sheets cover the grid; neighbours overlap along their edges.
    assert covered.min() == 1
    assert covered.max() == 4
