"""Geometry helpers: reprojection and repair, each in one place.

:func:`reproject_geometry` is how every geometry of the package changes CRS
(sheets, the Flanders boundary, the BVM polygons); :func:`polygonal` and
:func:`repair_polygons` turn invalid geometries into valid (multi)polygons the
same way for the BVM layer and for boundary files.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ['polygonal', 'repair_polygons', 'reproject_bounds', 'reproject_geometry']


@cache
def _transformer(src: CRS, dst: CRS) -> Transformer:
    # Building a Transformer costs tens of milliseconds; sheets are reprojected
    # thousands of times (a split's sheets, every sampler and download plan).
    return Transformer.from_crs(src, dst, always_xy=True)


def reproject_geometry[G: (BaseGeometry, NDArray[np.object_])](
    geometry: G,
    src_crs: CRS | str | int,
    dst_crs: CRS | str | int,
    densify: float = 100.0,
) -> G:
    """Reproject a geometry, densifying its edges first so they stay true.

    Args:
        geometry: the geometry in ``src_crs``, or an array of geometries.
        src_crs: its CRS.
        dst_crs: the target CRS.
        densify: maximum segment length in ``src_crs`` units before reprojecting;
            0 reprojects the vertices only.

    Returns:
        The geometry in ``dst_crs``.
    """
    src, dst = CRS.from_user_input(src_crs), CRS.from_user_input(dst_crs)
    if src == dst:
        return geometry
    if densify > 0:
        geometry = shapely.segmentize(geometry, densify)
    transformer = _transformer(src, dst)

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(geometry, project)


def reproject_bounds(
    bounds: tuple[float, float, float, float] | NDArray[np.float64],
    src_crs: CRS | str | int,
    dst_crs: CRS | str | int,
) -> tuple[float, float, float, float]:
    """The box around a box in another CRS, its edges densified to stay covered.

    Args:
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``src_crs``.
        src_crs: their CRS.
        dst_crs: the target CRS.

    Returns:
        ``(xmin, ymin, xmax, ymax)`` in ``dst_crs`` (21 points per edge).

    Raises:
        pyproj.exceptions.ProjError: if the box cannot be transformed.
    """
    src, dst = CRS.from_user_input(src_crs), CRS.from_user_input(dst_crs)
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if src == dst:
        return (xmin, ymin, xmax, ymax)
    box = _transformer(src, dst).transform_bounds(
        xmin, ymin, xmax, ymax, densify_pts=21
    )
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    """A geometry made valid, keeping only its polygonal parts.

    Args:
        geometry: any geometry.

    Returns:
        ``shapely.make_valid(geometry)`` when that is a (Multi)Polygon, else the
        union of its polygonal parts (an empty Polygon when it has none: lines
        and points have no area).
    """
    fixed = shapely.make_valid(geometry)
    if isinstance(fixed, Polygon | MultiPolygon):
        return fixed
    parts = [
        part
        for part in shapely.get_parts(fixed)
        if isinstance(part, Polygon | MultiPolygon)
    ]
    if not parts:
        return Polygon()
    union = shapely.union_all(parts)
    return union if isinstance(union, Polygon | MultiPolygon) else Polygon()


def repair_polygons(
    geometries: NDArray[np.object_],
) -> tuple[NDArray[np.object_], int]:
    """Make the invalid geometries of an array valid (see :func:`polygonal`).

    Args:
        geometries: shapely geometries (missing ones are left as they are).

    Returns:
        The geometries (a copy if any was repaired) and how many were repaired.
    """
    present = ~shapely.is_missing(geometries)
    invalid = np.flatnonzero(present & ~shapely.is_valid(geometries))
    if not len(invalid):
        return geometries, 0
    geometries = geometries.copy()
    for i in invalid:
        geometries[i] = polygonal(geometries[i])
    return geometries, len(invalid)
