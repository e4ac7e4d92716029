"""Monthly composites of the season, as the openEO downloader receives them.

``torchgeo-bvm download --composite monthly --crs native`` sends the backend,
per map sheet and period, the process graph of
:func:`~torchgeo_bvm.download.graph.build_process_graph`:
``load_collection('TERRASCOPE_S2_TOC_V2')`` over the sheet's EPSG:4326
bounding box (:func:`~torchgeo_bvm.download.graph.sheet_extent`) with the
bands and ``SCL``, every band on the collection's 10 m grid; ``mask`` where
``SCL`` is not in :data:`~torchgeo_bvm.download.graph.VALID_SCL` (4, 5, 6, 7);
``aggregate_temporal_period('month', reducer='median')``; ``save_result``
as GeoTIFF, on the native grid (UTM 31N, 10 m), one file per month.

Here the same is computed from the season's products, pixel by pixel:

1. **Observations.** Every date of the month, every band on the 10 m grid:
   the 20 m and 60 m bands and the 20 m SCL repeated onto it (nearest, as
   the backend loads the collection and as
   :class:`~torchgeo_bvm.datasets.Sentinel2TOC` reads by default).
2. **Mask.** An observation counts where its SCL class is in ``VALID_SCL``
   and the band is not the product's nodata.
3. **Median.** Of the month's counted observations: the middle one of an odd
   count, the mean of the two middle ones of an even count (what
   ``numpy.nanmedian`` gives), as a float.
4. **Int16.** A median is a float; the downloader turns a float GeoTIFF into
   int16 by rounding half to even (``numpy.rint``) and writes the backend's
   empty pixels (NaN: no observation counted, openEO's median of an empty
   array) as :data:`COMPOSITE_NODATA` (-32768), so the composites hold exactly
   that.
5. **Sheets.** Each ``kbl4`` sheet's file holds the pixels of the imagery's
   10 m grid inside the UTM bounding box of the sheet's EPSG:4326 extent
   (neighbouring sheets overlap there, as real downloads do), written by
   :func:`~torchgeo_bvm.synth.sentinel2.write_openeo_sheet` at
   ``<sheet>/<sheet>_openEO_<YYYY-MM>_median.tif``: the 11 bands of
   :data:`~torchgeo_bvm.datasets.bands.ALL_BANDS` in that order, each band's
   description its name, no ``SCL``.

A reader that computes monthly medians from the products while reading gets
the same numbers when it follows steps 1 to 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.warp import transform_bounds

from ...datasets.bands import ALL_BANDS, NATIVE_RESOLUTION
from ...download.graph import VALID_SCL, sheet_extent
from ...sheets.codes import Sheet
from ...spatial.pixelgrid import Grid
from ..sentinel2 import TERRASCOPE_NODATA, write_openeo_sheet

__all__ = [
    'COMPOSITE_NODATA',
    'MonthStack',
    'SheetWindow',
    'clear_median',
    'sheet_windows',
    'write_sheet_composites',
]

#: Nodata of the composites: where a month left no clear observation.
COMPOSITE_NODATA = -32768

#: Sorts after every int16 value.
_UNCOUNTED = np.iinfo(np.int32).max

#: (sheet, rows, columns): a sheet's part of the imagery grid.
SheetWindow = tuple[Sheet, slice, slice]


def clear_median(
    values: NDArray[np.int16], clear: NDArray[np.bool_]
) -> NDArray[np.int16]:
    """The per-pixel median of the clear observations, as the downloader stores it.

    Args:
        values: ``(dates, rows, cols)`` observations.
        clear: ``(dates, rows, cols)``, True where an observation counts.

    Returns:
        ``(rows, cols)`` int16: the median rounded half to even,
        :data:`COMPOSITE_NODATA` where no observation counts.
    """
    if len(values) == 0:
        return np.full(values.shape[1:], COMPOSITE_NODATA, dtype=np.int16)
    # Uncounted observations sort last; a few dates are sorted fastest by
    # compare-and-swap passes over whole images (odd-even transposition).
    ordered = [
        np.where(c, v.astype(np.int32), _UNCOUNTED)
        for v, c in zip(values, clear, strict=True)
    ]
    for step in range(len(ordered)):
        for i in range(step % 2, len(ordered) - 1, 2):
            low, high = ordered[i], ordered[i + 1]
            ordered[i], ordered[i + 1] = np.minimum(low, high), np.maximum(low, high)
    count = clear.sum(axis=0)
    low = np.choose(np.maximum(count - 1, 0) // 2, ordered)
    high = np.choose(count // 2, ordered)
    median = np.rint((low.astype(np.float64) + high) / 2)
    return np.where(count > 0, median, COMPOSITE_NODATA).astype(np.int16)


def _repeated[S: np.generic](array: NDArray[S], factor: int) -> NDArray[S]:
    """Each pixel repeated ``factor x factor`` times (the last two axes)."""
    if factor == 1:
        return array
    result: NDArray[S] = np.repeat(np.repeat(array, factor, axis=-2), factor, axis=-1)
    return result


class MonthStack:
    """The products of one month, gathered for its composite.

    Args:
        nodata: the reflectance nodata of the products.
    """

    def __init__(self, nodata: int = TERRASCOPE_NODATA) -> None:
        self.nodata = nodata
        self.bands: list[dict[str, NDArray[np.int16]]] = []
        self.scl: list[NDArray[np.uint8]] = []

    def add(self, bands: dict[str, NDArray[np.int16]], scl: NDArray[np.uint8]) -> None:
        """Add one date.

        Args:
            bands: band name -> array on its native grid (as the product holds it).
            scl: the SCL on the 20 m grid.
        """
        self.bands.append(bands)
        self.scl.append(scl)

    def composite(self) -> dict[str, NDArray[np.int16]]:
        """The month's median composite on the 10 m grid.

        Each band is composited on the finer of its own grid and the SCL's
        20 m grid, then repeated onto 10 m: the same values as repeating
        everything onto 10 m first, with less work.

        Returns:
            Band name -> int16 array at 10 m, in the order of :data:`ALL_BANDS`.

        Raises:
            ValueError: if no date was added.
        """
        if not self.scl:
            raise ValueError('a composite needs at least one date')
        valid20 = np.isin(np.stack(self.scl), VALID_SCL)
        result = {}
        for band in ALL_BANDS:
            metres = NATIVE_RESOLUTION[band]
            work = min(metres, 20)
            values = _repeated(np.stack([b[band] for b in self.bands]), metres // work)
            valid = _repeated(valid20, 20 // work) & (values != self.nodata)
            result[band] = _repeated(clear_median(values, valid), work // 10)
        return result


def sheet_windows(grid: Grid, sheets: Sequence[Sheet]) -> list[SheetWindow]:
    """Each sheet's part of the imagery grid, as a native-grid download holds it.

    Args:
        grid: the imagery's 10 m grid (UTM).
        sheets: the map sheets.

    Returns:
        ``(sheet, rows, columns)`` of each sheet that overlaps the grid: the
        grid's pixels that share area with the UTM bounding box of the
        sheet's EPSG:4326 extent.
    """
    crs = CRS.from_user_input(grid.crs)
    rows, cols = grid.shape
    windows = []
    for sheet in sheets:
        extent = sheet_extent(sheet)
        xmin, ymin, xmax, ymax = transform_bounds(
            'EPSG:4326',
            crs,
            extent['west'],
            extent['south'],
            extent['east'],
            extent['north'],
            densify_pts=21,
        )
        c0 = max(0, int(np.floor((xmin - grid.left) / grid.xres)))
        c1 = min(cols, int(np.ceil((xmax - grid.left) / grid.xres)))
        r0 = max(0, int(np.floor((grid.top - ymax) / grid.yres)))
        r1 = min(rows, int(np.ceil((grid.top - ymin) / grid.yres)))
        if c0 < c1 and r0 < r1:
            windows.append((sheet, slice(r0, r1), slice(c0, c1)))
    return windows


def write_sheet_composites(
    out: Path,
    month: str,
    composite: dict[str, NDArray[np.int16]],
    grid: Grid,
    windows: Sequence[SheetWindow],
) -> list[Path]:
    """Write one month's composite, one file per sheet.

    Args:
        out: the download folder (the files go to ``out/<sheet>/``).
        month: ``'YYYY-MM'``.
        composite: band name -> int16 array on ``grid`` (:meth:`MonthStack.composite`).
        grid: the imagery grid.
        windows: the sheets' parts of it (:func:`sheet_windows`).

    Returns:
        The files written, in the order of ``windows``.
    """
    paths = []
    for sheet, rows, cols in windows:
        transform = grid.window_transform(cols.start, rows.start)
        bounds = (
            transform.c,
            transform.f - (rows.stop - rows.start) * grid.yres,
            transform.c + (cols.stop - cols.start) * grid.xres,
            transform.f,
        )
        paths.append(
            write_openeo_sheet(
                out,
                sheet,
                month,
                {band: array[rows, cols] for band, array in composite.items()},
                bounds=bounds,
                crs=CRS.from_user_input(grid.crs),
                nodata=COMPOSITE_NODATA,
                composite=True,
            )
        )
    return paths
