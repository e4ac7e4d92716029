"""Polygon rasterisation by an even-odd scanline fill in numpy.

``rasterio.features.rasterize`` hands every geometry to GDAL as a GeoJSON-like
mapping, so each vertex becomes a Python tuple and then an OGR point, one at a
time: for a 256 x 256 window of the Biological Valuation Map (a few hundred
polygons) that conversion, not the fill, is most of the cost, and for the whole
map (11 million vertices) it takes 20 s. Here the vertices come out of shapely
as one array and every step is a vectorised numpy operation: polygon edges are
intersected with the centre lines of the pixel rows, the crossings of each
geometry and row are sorted and paired (even-odd rule, so holes stay empty),
and each pair is a run of pixels.

The pixel rule is GDAL's (``all_touched=False``): a pixel is inside when its
centre is. Where a centre lies exactly on an edge, GDAL's answer depends on the
direction the ring runs in (its own comments call such cases hard to predict);
here it is fixed: an edge counts for the rows whose centre ``v`` satisfies
``top <= v < bottom``, and a run covers the centres ``x`` with
``start < x <= end``, so of two polygons sharing an edge exactly one gets each
pixel. Everywhere else the result equals ``rasterio.features.rasterize`` pixel
for pixel (the tests compare them on random polygons with holes, multipolygons
and overlaps, and on Biological Valuation Map windows), four times faster for a
256 x 256 window of the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray

from ..errors import BVMValueError

__all__ = [
    'Outlines',
    'burn_polygons',
    'is_simple_polygon',
    'pixel_runs',
    'polygon_coverage',
    'row_extent',
    'run_pixels',
    'runs_to_mask',
]


@dataclass(frozen=True)
class Outlines:
    """The rings of some polygons as flat arrays: what the fill works on.

    The vertices of every ring follow each other in ``xy``; ``ring`` says which
    ring each vertex belongs to (consecutive vertices of the same ring are an
    edge) and ``owner`` which geometry each ring belongs to. Geometries stored
    this way (see :mod:`torchgeo_bvm.bvm.polygonstore`) are filled without shapely.

    Args:
        xy: float64 ``[vertices, 2]``.
        ring: int64 ``[vertices]``, the ring of each vertex.
        owner: int64 ``[rings]``, the geometry (0 .. ``count`` - 1) of each ring.
        count: the number of geometries.
    """

    xy: NDArray[np.float64]
    ring: NDArray[np.int64]
    owner: NDArray[np.int64]
    count: int

    @classmethod
    def of(cls, geometries: NDArray[np.object_]) -> Outlines:
        """The rings of the polygons among some geometries.

        Simple polygons (no holes, the bulk of the map) come first, in one
        vectorised call, each polygon being one ring; then the rings of polygons
        with holes, multipolygons and collections, through
        ``get_parts``/``get_rings``, which cost more per vertex. Only polygons
        are kept: lines and points have no inside.

        Args:
            geometries: shapely geometries.

        Returns:
            Their outlines.
        """
        simple = is_simple_polygon(geometries)
        plain, other = np.flatnonzero(simple), np.flatnonzero(~simple)
        xy, ring = shapely.get_coordinates(geometries[plain], return_index=True)
        owner = plain.astype(np.int64)
        if other.size:
            parts, part_owner = shapely.get_parts(geometries[other], return_index=True)
            polygons = shapely.get_type_id(parts) == _POLYGON
            parts, part_owner = parts[polygons], part_owner[polygons]
            rings, ring_part = shapely.get_rings(parts, return_index=True)
            more_xy, more_ring = shapely.get_coordinates(rings, return_index=True)
            xy = np.concatenate([xy, more_xy])
            ring = np.concatenate([ring, more_ring + len(plain)])
            owner = np.concatenate([owner, other[part_owner[ring_part]]])
        return cls(xy, ring.astype(np.int64), owner, len(geometries))


def is_simple_polygon(geometries: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Which geometries are Polygons without holes (one ring each).

    Args:
        geometries: shapely geometries.

    Returns:
        A boolean per geometry.
    """
    simple: NDArray[np.bool_] = (shapely.get_type_id(geometries) == _POLYGON) & (
        shapely.get_num_interior_rings(geometries) == 0
    )
    return simple


def pixel_runs(
    geometries: NDArray[np.object_] | Outlines,
    transform: Affine,
    shape: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Runs of pixels whose centre lies inside a geometry.

    Args:
        geometries: shapely geometries (Polygons, MultiPolygons and the polygons
            of GeometryCollections are filled, lines and points ignored), or
            their :class:`Outlines`.
        transform: the grid's affine transform (north up, no rotation).
        shape: (height, width) of the grid.

    Returns:
        ``(owner, row, start, stop)``: the index into ``geometries``, the row
        and the half-open column range of every non-empty run, sorted by owner.

    Raises:
        ValueError: if the transform is rotated or not north up.
    """
    if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
        raise BVMValueError(f'scanline fill needs a north-up grid, got {transform!r}')
    height, width = shape
    outlines = (
        geometries if isinstance(geometries, Outlines) else Outlines.of(geometries)
    )
    if outlines.count == 0 or height == 0 or width == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty
    xy, ring, ring_owner = outlines.xy, outlines.ring, outlines.owner
    # Pixel coordinates with the pixel centres on whole numbers.
    u = (xy[:, 0] - transform.c) / transform.a - 0.5
    v = (xy[:, 1] - transform.f) / transform.e - 0.5
    edge = ring[:-1] == ring[1:]
    ua, ub, va, vb = u[:-1][edge], u[1:][edge], v[:-1][edge], v[1:][edge]
    owner = ring_owner[ring[:-1][edge]]
    # Rows r with min(va, vb) <= r < max(va, vb), clipped to the grid: a vertex on
    # a centre line counts once, horizontal edges never.
    first = np.clip(np.ceil(np.minimum(va, vb)), 0, height).astype(np.int64)
    stop = np.clip(np.ceil(np.maximum(va, vb)), 0, height).astype(np.int64)
    count = stop - first
    crossing = np.repeat(np.arange(count.size), count)
    offset = np.arange(crossing.size) - np.repeat(np.cumsum(count) - count, count)
    row = first[crossing] + offset
    ua, va = ua[crossing], va[crossing]
    slope = (ub[crossing] - ua) / (vb[crossing] - va)
    # Clipping x to just outside the grid changes no run (they are clipped to
    # it below) and lets one float key sort by geometry, row and x together,
    # several times faster than ``np.lexsort`` of the three.
    x = np.clip(ua + (row - va) * slope, -1.0, width + 1.0)
    owner = owner[crossing]
    if outlines.count * height * (width + 4) < _EXACT_KEYS:
        order = np.argsort((owner * height + row) * (width + 4.0) + (x + 1.0))
    else:  # the key would lose x's precision: sort by the three exactly
        order = np.lexsort((x, row, owner))
    x, row, owner = x[order], row[order][0::2], owner[order][0::2]
    start = np.clip(np.floor(x[0::2]) + 1, 0, width).astype(np.int64)
    stop = np.clip(np.floor(x[1::2]) + 1, 0, width).astype(np.int64)
    keep = stop > start
    return owner[keep], row[keep], start[keep], stop[keep]


def runs_to_mask(
    row: NDArray[np.int64],
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
    shape: tuple[int, int],
) -> NDArray[np.bool_]:
    """The pixels covered by runs, clipped to a grid.

    Args:
        row: the row of each run (may lie outside the grid).
        start: its first column (may be negative).
        stop: one past its last column.
        shape: (height, width) of the grid.

    Returns:
        A boolean array of ``shape``.
    """
    height, width = shape
    keep = (row >= 0) & (row < height)
    row = row[keep]
    start, stop = np.clip(start[keep], 0, width), np.clip(stop[keep], 0, width)
    # A difference array: +1 where a run starts, -1 where it stops.
    base = row * (width + 1)
    size = height * (width + 1)
    edges = np.bincount(base + start, minlength=size) - np.bincount(
        base + stop, minlength=size
    )
    inside: NDArray[np.bool_] = (
        np.cumsum(edges.reshape(height, width + 1)[:, :-1], axis=1) > 0
    )
    return inside


def run_pixels(
    row: NDArray[np.int64],
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
    width: int,
) -> NDArray[np.int64]:
    """The flat index (``row * width + column``) of every pixel of some runs.

    Args:
        row: the row of each run, inside the grid.
        start: its first column, inside the grid.
        stop: one past its last column.
        width: the grid's width.

    Returns:
        The indices, run after run, ``stop - start`` of them per run.
    """
    length = stop - start
    first = row * width + start - (np.cumsum(length) - length)
    pixel = np.repeat(first, length)
    pixel += np.arange(pixel.size, dtype=np.int64)
    return pixel


def row_extent(
    row: NDArray[np.int64],
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
    shape: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Per row of a grid, the first and one-past-last column covered by runs.

    Args:
        row: the row of each run, inside the grid.
        start: its first column, inside the grid.
        stop: one past its last column.
        shape: (height, width) of the grid.

    Returns:
        ``(first, last, covered)`` per row; rows without a run get ``(0, width)``
        and ``covered`` False.
    """
    height, width = shape
    first = np.full(height, width, dtype=np.int64)
    last = np.zeros(height, dtype=np.int64)
    np.minimum.at(first, row, start)
    np.maximum.at(last, row, stop)
    covered = last > first
    first[~covered], last[~covered] = 0, width
    return first, last, covered


def polygon_coverage(
    geometries: NDArray[np.object_], transform: Affine, shape: tuple[int, int]
) -> NDArray[np.bool_]:
    """Pixels whose centre lies inside any of the polygons.

    Args:
        geometries: shapely geometries (see :func:`pixel_runs`).
        transform: the grid's affine transform (north up).
        shape: (height, width) of the grid.

    Returns:
        A boolean array of ``shape``.

    Raises:
        ValueError: if the transform is rotated or not north up.
    """
    _, row, start, stop = pixel_runs(geometries, transform, shape)
    return runs_to_mask(row, start, stop, shape)


def burn_polygons(
    geometries: NDArray[np.object_] | Outlines,
    values: NDArray[np.uint8],
    transform: Affine,
    shape: tuple[int, int],
    fill: int,
) -> NDArray[np.uint8]:
    """Burn polygons into a new uint8 raster, later polygons over earlier ones.

    The same pixels and values as ``rasterio.features.rasterize(zip(geometries,
    values), ...)`` with ``all_touched=False``: GDAL also burns the shapes in
    order, each over the previous ones.

    Args:
        geometries: shapely geometries or their outlines (see :func:`pixel_runs`).
        values: the value of each geometry.
        transform: the grid's affine transform (north up).
        shape: (height, width) of the grid.
        fill: the value where no polygon lies.

    Returns:
        uint8 [height, width].

    Raises:
        ValueError: if the transform is rotated or not north up, or
            ``values`` does not have one value per geometry.
    """
    count = geometries.count if isinstance(geometries, Outlines) else len(geometries)
    if len(values) != count:
        raise BVMValueError(f'{count} geometries but {len(values)} values to burn')
    height, width = shape
    owner, row, start, stop = pixel_runs(geometries, transform, shape)
    # The last geometry per pixel: GDAL's painter's order, without relying on
    # the order of numpy's fancy assignment (unspecified for repeated indices).
    pixel = run_pixels(row, start, stop, width)
    latest = np.full(height * width, -1, dtype=np.int64)
    np.maximum.at(latest, pixel, np.repeat(owner, stop - start))
    lookup = np.append(np.asarray(values, dtype=np.uint8), np.uint8(fill))
    burnt: NDArray[np.uint8] = lookup[latest].reshape(height, width)
    return burnt


#: Largest sort key for which float64 still resolves x to 2**-21 pixels.
_EXACT_KEYS = 2**32

#: ``shapely.get_type_id`` of a Polygon.
_POLYGON = 3
