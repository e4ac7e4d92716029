"""What ``torchgeo-bvm download`` would write for a mini-Flanders, offline.

:func:`write_openeo_downloads` turns the Terrascope products of a mini-Flanders
folder into the openEO downloader's files (``<out>/<sheet>/<sheet>_openEO_
<YYYY-MM-DD>Z.tif`` per date, or ``..._<YYYY-MM>_median.tif`` monthly
composites: int16 bands in catalogue order, ``SCL`` last for dates, band names
in the file, EPSG:4326 at 10 m), so that everything downstream of a download
runs on the mini-Flanders without an openEO account. The files cover the part
of each sheet where the mini-Flanders has imagery.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.warp import Resampling, reproject, transform_bounds

from ...crs import DEFAULT_CRS, resolution_for
from ...datasets.bands import ALL_BANDS, SCL_BAND
from ...pixelgrid import Grid
from ...sheets import Sheet
from ..sentinel2 import (
    TERRASCOPE_NODATA,
    write_openeo_acquisition,
    write_openeo_composite,
)
from .manifest import load_manifest

__all__ = ['USABLE_SCL', 'write_openeo_downloads']

#: SCL classes a composite keeps (vegetation, bare soil, water, unclassified).
USABLE_SCL = (4, 5, 6, 7)


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
        folder: a mini-Flanders folder (:func:`write_mini_flanders`).
        out: the download folder.
        sheets: the map sheets (any level).
        years: the years.
        months: the months 1..12 (default all).
        composite: monthly median composites (clouds masked by SCL) instead
            of every date.

    Returns:
        The files written (sheets the imagery does not reach get none).
    """
    folder = Path(folder)
    manifest = load_manifest(folder)
    wanted_years = set(years)
    wanted_months = set(months) if months is not None else set(range(1, 13))
    imagery = manifest['imagery']
    footprint = shapely.box(
        *transform_bounds(imagery['crs'], DEFAULT_CRS, *imagery['bounds'])
    )
    written = []
    for product in imagery['products']:
        day = date.fromisoformat(product['date'])
        if day.year not in wanted_years or day.month not in wanted_months:
            continue
        for sheet in map(Sheet.parse, sheets):
            area = sheet.geometry(DEFAULT_CRS).intersection(footprint)
            if area.is_empty:
                continue
            grid = Grid.from_bounds(
                area.bounds, DEFAULT_CRS, resolution_for(DEFAULT_CRS)
            )
            bands = _read_product(folder / product['path'], grid)
            if composite:
                cloudy = ~np.isin(bands.pop(SCL_BAND), USABLE_SCL)
                for values in bands.values():
                    values[cloudy] = TERRASCOPE_NODATA
                path = write_openeo_composite(
                    out, sheet, day, bands, bounds=grid.bounds
                )
            else:
                path = write_openeo_acquisition(
                    out, sheet, day, bands, bounds=grid.bounds
                )
            written.append(path)
    return written


def _read_product(product: Path, grid: Grid) -> dict[str, NDArray[np.int16]]:
    """Every band and SCL of a Terrascope product on ``grid`` (nearest)."""
    bands = {}
    for name in (*ALL_BANDS, SCL_BAND):
        pattern = (
            '*_SCENECLASSIFICATION_20M_*.tif'
            if name == SCL_BAND
            else f'*_TOC-{name}_*.tif'
        )
        (path,) = product.glob(pattern)
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
