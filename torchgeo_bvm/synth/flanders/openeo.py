"""What ``torchgeo-bvm download`` would write for a mini-Flanders, offline.

:func:`write_openeo_downloads` turns the Terrascope products of a mini-Flanders
folder (its single dates and, when it has one, its season) into the openEO
downloader's files (``<out>/<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif`` per
date, or ``..._<YYYY-MM>_median.tif`` monthly composites: int16 bands in
catalogue order, ``SCL`` last for dates, band names in the file, EPSG:4326 at
10 m), so that everything downstream of a download runs on the mini-Flanders
without an openEO account. The files cover the part of each sheet where the
mini-Flanders has imagery. A composite is the per-pixel median of the month's
clear observations, by the rule of
:mod:`~torchgeo_bvm.synth.flanders.composites` (SCL in
:data:`~torchgeo_bvm.download.graph.VALID_SCL`, rounded half to even,
:data:`~torchgeo_bvm.synth.flanders.composites.COMPOSITE_NODATA` where the
month saw nothing clear).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.warp import Resampling, reproject, transform_bounds

from ...datasets.bands import ALL_BANDS, SCL_BAND
from ...download.graph import VALID_SCL
from ...fileio import is_hidden
from ...sheets.codes import Sheet
from ...spatial.crs import DEFAULT_CRS, resolution_for
from ...spatial.pixelgrid import Grid
from ..sentinel2 import (
    TERRASCOPE_NODATA,
    write_openeo_sheet,
)
from .composites import COMPOSITE_NODATA, clear_median
from .manifest import load_manifest

__all__ = ['write_openeo_downloads']


def write_openeo_downloads(
    folder: str | Path,
    out: str | Path,
    sheets: Iterable[Sheet | str],
    years: Iterable[int],
    months: Iterable[int] | None = None,
    composite: bool = False,
) -> list[Path]:
    """Write the downloader's files for the mini-Flanders dates asked for.

    Args:
        folder: a mini-Flanders folder (:func:`write_mini_flanders`), with or
            without its season.
        out: the download folder.
        sheets: the map sheets (any level).
        years: the years.
        months: the months 1..12 (default all).
        composite: monthly median composites of the clear observations
            instead of every date.

    Returns:
        The files written (sheets the imagery does not reach get none).
    """
    folder = Path(folder)
    manifest = load_manifest(folder)
    wanted_years = set(years)
    wanted_months = set(months) if months is not None else set(range(1, 13))
    products = [
        (date.fromisoformat(p['date']), folder / p['path']) for p in _products(manifest)
    ]
    products = sorted(
        (day, path)
        for day, path in products
        if day.year in wanted_years and day.month in wanted_months
    )
    imagery = manifest['imagery']
    footprint = shapely.box(
        *transform_bounds(imagery['crs'], DEFAULT_CRS, *imagery['bounds'])
    )
    written = []
    for sheet in map(Sheet.parse, sheets):
        area = sheet.geometry(DEFAULT_CRS).intersection(footprint)
        if area.is_empty:
            continue
        grid = Grid.from_bounds(area.bounds, DEFAULT_CRS, resolution_for(DEFAULT_CRS))
        if composite:
            for _, month in groupby(products, key=lambda p: (p[0].year, p[0].month)):
                days = list(month)
                bands = _monthly_median([_read_product(p, grid) for _, p in days])
                written.append(
                    write_openeo_sheet(
                        out,
                        sheet,
                        days[0][0],
                        bands,
                        bounds=grid.bounds,
                        nodata=COMPOSITE_NODATA,
                        composite=True,
                    )
                )
        else:
            for day, path in products:
                bands = _read_product(path, grid)
                written.append(
                    write_openeo_sheet(out, sheet, day, bands, bounds=grid.bounds)
                )
    return written


def _products(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every product entry of the manifest: the single dates, then the season's."""
    season = manifest.get('season') or {}
    return [*manifest['imagery']['products'], *season.get('products', [])]


def _monthly_median(
    observations: list[dict[str, NDArray[np.int16]]],
) -> dict[str, NDArray[np.int16]]:
    """Each band's median of the clear observations of a month (no ``SCL``)."""
    clear = np.stack([np.isin(o[SCL_BAND], VALID_SCL) for o in observations])
    return {
        name: clear_median(
            values := np.stack([o[name] for o in observations]),
            clear & (values != TERRASCOPE_NODATA),
        )
        for name in ALL_BANDS
    }


def _read_product(product: Path, grid: Grid) -> dict[str, NDArray[np.int16]]:
    """Every band and SCL of a Terrascope product on ``grid`` (nearest)."""
    bands = {}
    for name in (*ALL_BANDS, SCL_BAND):
        pattern = (
            '*_SCENECLASSIFICATION_20M_*.tif'
            if name == SCL_BAND
            else f'*_TOC-{name}_*.tif'
        )
        (path,) = [p for p in product.glob(pattern) if not is_hidden(p, product)]
        # SCL class 0 is "no data"; reflectance has its own nodata value.
        nodata = 0 if name == SCL_BAND else TERRASCOPE_NODATA
        target = np.full(grid.shape, nodata, dtype=np.int16)
        with rasterio.open(path) as source:
            reproject(
                rasterio.band(source, 1),
                target,
                dst_transform=grid.transform,
                dst_crs=CRS.from_user_input(grid.crs).to_wkt(),
                dst_nodata=nodata,
                resampling=Resampling.nearest,
            )
        bands[name] = target
    return bands
