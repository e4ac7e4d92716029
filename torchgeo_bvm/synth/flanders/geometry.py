"""Shapes the mini-Flanders landscape is drawn with: curves, blobs and cuts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    'blob',
    'clean',
    'curve',
    'polygonal_parts',
    'subtract',
    'subtract_earlier',
]


def curve(
    xy: NDArray[np.float64],
    rng: np.random.Generator,
    wiggle: float,
    spacing: float,
) -> LineString:
    """A smooth line through points, meandering by about ``wiggle``.

    Args:
        xy: the points ``(n, 2)`` in metres.
        rng: the generator; six draws for the meanders.
        wiggle: how far the line strays from the rounded polyline.
        spacing: distance between the line's vertices.

    Returns:
        The line.
    """
    for _ in range(3):  # Chaikin corner cutting rounds the polyline off
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        xy = np.vstack([xy[:1], np.column_stack([q, r]).reshape(-1, 2), xy[-1:]])
    line = LineString(xy)
    n = max(8, int(line.length / spacing))
    coords = shapely.get_coordinates(
        shapely.line_interpolate_point(line, np.linspace(0, line.length, n))
    )
    tangent = np.gradient(coords, axis=0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    s = np.linspace(0, 1, n)
    offset = np.zeros(n)
    for _ in range(3):
        offset += np.sin(2 * np.pi * (rng.uniform(2, 7) * s + rng.uniform(0, 1)))
    return LineString(coords + normal * (wiggle / 3 * offset)[:, None])


def polygonal_parts(
    geometries: Sequence[BaseGeometry] | NDArray[np.object_],
) -> NDArray[np.object_]:
    """The polygonal parts (area over 1 m²) of geometries.

    Args:
        geometries: any geometries.

    Returns:
        Their Polygons, multipolygons split into parts.
    """
    parts = shapely.get_parts(np.asarray(geometries, dtype=object))
    parts = parts[shapely.get_type_id(parts) == 3]
    kept: NDArray[np.object_] = parts[shapely.area(parts) > 1.0]
    return kept


def blob(
    centre: tuple[float, float], radius: float, rng: np.random.Generator
) -> Polygon:
    """An irregular roundish polygon.

    Args:
        centre: its centre.
        radius: its mean radius.
        rng: the generator; 17 draws.

    Returns:
        The polygon, of 16 vertices.
    """
    angles = np.linspace(0, 2 * np.pi, 17)[:-1]
    r = radius * (1 + 0.25 * np.sin(angles * 2 + rng.uniform(0, 6)))
    r *= rng.uniform(0.85, 1.15, len(angles))
    return Polygon(
        np.column_stack(
            [centre[0] + r * np.cos(angles), centre[1] + r * np.sin(angles)]
        )
    )


def subtract(
    cells: NDArray[np.object_], cutters: Sequence[BaseGeometry] | NDArray[np.object_]
) -> NDArray[np.object_]:
    """Cut ``cutters`` out of ``cells``; only the cells they touch are computed.

    Args:
        cells: the geometries to cut.
        cutters: what to cut out of them.

    Returns:
        The cells, cut (a new array; cells no cutter touches are the same objects).
    """
    cutters = np.asarray(cutters, dtype=object)
    if not len(cutters) or not len(cells):
        return cells
    hit_cutter, hit_cell = shapely.STRtree(cells).query(cutters, predicate='intersects')
    if not len(hit_cell):
        return cells
    order = np.argsort(hit_cell, kind='stable')
    hit_cell, hit_cutter = hit_cell[order], hit_cutter[order]
    starts = np.flatnonzero(np.r_[True, hit_cell[1:] != hit_cell[:-1]])
    merged = np.array(
        [
            shapely.union_all(cutters[group])
            for group in np.split(hit_cutter, starts[1:])
        ],
        dtype=object,
    )
    out = cells.copy()
    targets = hit_cell[starts]
    out[targets] = shapely.difference(cells[targets], merged)
    return out


def subtract_earlier(strips: NDArray[np.object_]) -> NDArray[np.object_]:
    """Cut each strip by the strips before it, so crossing strips do not overlap.

    Args:
        strips: the geometries, in drawing order.

    Returns:
        The strips, each cut by the earlier ones.
    """
    if len(strips) < 2:
        return strips
    out = strips.copy()
    earlier, later = shapely.STRtree(strips).query(strips, predicate='intersects')
    keep = earlier < later
    for index in np.unique(later[keep]):
        cutters = strips[earlier[keep & (later == index)]]
        out[index] = strips[index].difference(shapely.union_all(cutters))
    return out


def clean(geometry: BaseGeometry) -> BaseGeometry:
    """Polygonal parts over 1 m², valid, as one geometry.

    Args:
        geometry: any geometry.

    Returns:
        A Polygon, a MultiPolygon of several parts, or an empty Polygon.
    """
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = polygonal_parts([geometry])
    if not len(parts):
        return Polygon()
    if len(parts) == 1:
        single: BaseGeometry = parts[0]
        return single
    multi: BaseGeometry = shapely.multipolygons(list(parts))
    return multi
