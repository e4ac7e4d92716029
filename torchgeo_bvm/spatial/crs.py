"""Coordinate reference systems and resolutions used throughout the package.

Imagery and labels are intersected in EPSG:4326 by default, as in the paper. A
resolution of 10 m is expressed in degrees at the centre of Flanders, so one
pixel is about 10 m x 10 m there (the x and y resolutions differ).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from pyproj import CRS, Geod

from ..errors import BVMValueError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    'DEFAULT_CRS',
    'FLANDERS_CENTRE',
    'LAMBERT72',
    'UTM31N',
    'is_lambert72',
    'pixel_size_m',
    'resolution_for',
    'to_lambert72',
]

#: The CRS in which imagery and labels are intersected by default.
DEFAULT_CRS = CRS.from_epsg(4326)
#: Belgian Lambert 72, the CRS of the BVM and the map-sheet grid.
LAMBERT72 = CRS.from_epsg(31370)
#: WGS 84 / UTM zone 31N, the CRS of the Sentinel-2 tiles over Flanders.
UTM31N = CRS.from_epsg(32631)
#: (longitude, latitude) of the centre of Flanders, where degrees are converted.
FLANDERS_CENTRE = (4.25, 51.0)


@cache
def _degrees_per_metre(longitude: float, latitude: float) -> tuple[float, float]:
    geod = Geod(ellps='WGS84')
    east_lon, _, _ = geod.fwd(longitude, latitude, 90.0, 1000.0)
    _, north_lat, _ = geod.fwd(longitude, latitude, 0.0, 1000.0)
    return ((east_lon - longitude) / 1000.0, (north_lat - latitude) / 1000.0)


def resolution_for(crs: CRS | str | int, metres: float = 10.0) -> tuple[float, float]:
    """The (x, y) resolution in the units of ``crs`` equivalent to ``metres``.

    For a projected CRS in metres this is ``(metres, metres)``; for a geographic CRS
    the metres are converted to degrees at :data:`FLANDERS_CENTRE`.

    Args:
        crs: the CRS.
        metres: the ground sampling distance in metres.

    Returns:
        The resolution as TorchGeo expects it, ``(xres, yres)``.

    Raises:
        ValueError: if ``crs`` uses neither metres nor degrees.
    """
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        dx, dy = _degrees_per_metre(*FLANDERS_CENTRE)
        return (metres * dx, metres * dy)
    unit = crs.axis_info[0].unit_name if crs.axis_info else ''
    if unit not in ('metre', 'meter'):
        raise BVMValueError(
            f'cannot express {metres} m in the units {unit!r} of {crs.name}'
        )
    return (metres, metres)


def is_lambert72(crs: CRS | None) -> bool:
    """Whether a file's CRS is Belgian Lambert 72 (EPSG:31370) or unknown.

    INBO's and Digitaal Vlaanderen's files often ship the ESRI
    "Belge_Lambert_1972" WKT, which pyproj cannot map to an EPSG code; it is
    EPSG:31370 all the same. A file without any CRS is taken as Lambert 72 too,
    since every official Flemish vector file is.

    Args:
        crs: the CRS read from the file, or None.

    Returns:
        True if the data should be treated as EPSG:31370.
    """
    if crs is None:
        return True
    if crs.to_epsg() == 31370 or crs.to_epsg(min_confidence=20) == 31370:
        return True
    name = crs.name.lower().replace('_', ' ')
    return 'lambert' in name and ('1972' in name or '72' in name) and 'belg' in name


def to_lambert72(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A frame read from a file, in EPSG:31370.

    Lambert 72 by :func:`is_lambert72` (including a missing or ESRI ``.prj``) is
    declared EPSG:31370; any other CRS is reprojected.

    Args:
        frame: the frame as read.

    Returns:
        The frame in EPSG:31370.
    """
    if is_lambert72(frame.crs):
        return frame.set_crs(LAMBERT72, allow_override=True)
    return frame.to_crs(LAMBERT72)


def pixel_size_m(
    crs: CRS, res: tuple[float, float], centre: tuple[float, float]
) -> tuple[float, float]:
    """The size of a pixel in metres at a point.

    Args:
        crs: the CRS of the pixel grid.
        res: its (x, y) resolution in units of ``crs``.
        centre: the point, in ``crs`` coordinates (used for degrees only).

    Returns:
        ``(x, y)`` size in metres.
    """
    if crs.is_geographic:
        lon, lat = centre
        geod = Geod(ellps='WGS84')
        _, _, dx = geod.inv(lon - res[0] / 2, lat, lon + res[0] / 2, lat)
        _, _, dy = geod.inv(lon, lat - res[1] / 2, lon, lat + res[1] / 2)
        return (float(dx), float(dy))
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return (res[0] * factor, res[1] * factor)
