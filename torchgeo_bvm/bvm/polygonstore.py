"""Polygons prepared once, as flat arrays in a file every process maps.

The Biological Valuation Map has about 650,000 polygons (11 million vertices).
Read, repaired, sorted into burn order and reprojected as shapely objects they
take tens of seconds and over a gigabyte, and a DataLoader worker that did this
itself would hold a private copy: shapely objects cannot be shared between
processes, since Python writes to every object it touches (reference counts),
so even the pages a forked worker inherits become its own as soon as it reads
them. Rasterising a window needs none of that: only the vertices of the rings
it touches, in burn order, and a way to find them.

A :class:`PolygonStore` keeps exactly that as flat numpy arrays:

* the vertices of every ring (``xy``), where each ring starts (``ring_start``),
  where each polygon's rings start (``polygon_ring``) and whether a polygon is
  a simple one (one ring, no hole), all in burn order;
* each polygon's bounding box and a uniform grid of cells listing the polygons
  whose box meets each cell, to find the polygons a window touches;
* each polygon's row in the source file, to give it its label.

:meth:`PolygonStore.save` writes them into one file (atomically: under a
temporary name in the same folder, then renamed) and :meth:`PolygonStore.open`
maps it read-only: every process that opens it, and every worker forked after,
reads the same pages of the operating system's page cache, so the polygons
cost the machine their size once (about 200 MB for the real map), whatever the
number of workers, and opening the file takes milliseconds.

Why a file of flat arrays rather than the alternatives: preparing the shapely
polygons once in the main process before the workers fork would still cost every
run the preparation, and the workers' pages would still turn private as they
touch the objects; a label raster on the imagery grid would serve one grid only
(a change of CRS, resolution or window alignment needs another) and would be a
second rasterisation whose pixels may differ where a pixel centre lies on an
edge. The flat arrays serve any grid, are prepared once per layer and CRS, and
give the very pixels of the shapely path.

The window's outlines come out exactly as
:meth:`torchgeo_bvm.spatial.scanline.Outlines.of`
makes them from the shapely polygons the same query finds in a
:class:`shapely.STRtree` (every polygon whose bounding box meets the window's,
in burn order), so the fill is bit for bit the same.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import shapely
from numpy.typing import NDArray

from ..fileio import atomic_path
from ..spatial.scanline import Outlines, is_simple_polygon

__all__ = ['PolygonStore', 'StoreInfo']

#: The first bytes of a store file; the last byte is the format version.
MAGIC = b'torchgeo-bvm-polygons\x00\x02'
_ALIGN = 64
#: Polygons per cell of the index grid, on average over the extent.
_POLYGONS_PER_CELL = 16.0
_MAX_CELLS = 4_000_000

_POLYGON = 3  # shapely.get_type_id of a Polygon


@dataclass(frozen=True)
class StoreInfo:
    """What a store was made from, kept in its header.

    Args:
        source: the fingerprint of the source files
            (:func:`torchgeo_bvm.fileio.fingerprint`).
        crs: the WKT of the CRS the polygons are in.
        repaired: invalid geometries repaired while preparing.
        skipped: empty or unrepairable geometries, and points or lines, left
            out.
        source_bounds: ``(xmin, ymin, xmax, ymax)`` of the polygons kept, in
            the source's CRS.
    """

    source: list[list[object]]
    crs: str
    repaired: int
    skipped: int
    source_bounds: tuple[float, float, float, float]


class PolygonStore:
    """Polygons in burn order as flat arrays, in memory or mapped from a file.

    Build one with :meth:`build`, write it with :meth:`save`, map a saved one
    with :meth:`open`.

    Args:
        info: what the store was made from.
        arrays: the arrays (see the module docstring).
        grid: ``(left, bottom, cell size, columns, rows)`` of the index grid.
        path: the file the arrays are mapped from, if any.
    """

    def __init__(
        self,
        info: StoreInfo,
        arrays: dict[str, NDArray[Any]],
        grid: tuple[float, float, float, int, int],
        path: Path | None = None,
    ) -> None:
        self.info = info
        self.arrays = arrays
        self.grid = grid
        self.path = path
        self.xy: NDArray[np.float64] = arrays['xy']
        self.ring_start: NDArray[np.int64] = arrays['ring_start']
        self.polygon_ring: NDArray[np.int64] = arrays['polygon_ring']
        self.simple: NDArray[np.bool_] = arrays['simple']
        self.bounds: NDArray[np.float64] = arrays['bounds']
        self.source_index: NDArray[np.int64] = arrays['source_index']
        self.cell_start: NDArray[np.int64] = arrays['cell_start']
        self.cell_items: NDArray[np.int32] = arrays['cell_items']

    def __len__(self) -> int:
        """The number of polygons.

        Returns:
            The number.
        """
        return len(self.simple)

    @property
    def mapped(self) -> bool:
        """Whether the arrays are views of a memory-mapped file (shared pages).

        Returns:
            True for a store from :meth:`open`.
        """
        owner: object = self.xy
        while isinstance(owner, np.ndarray):
            owner = owner.base
        if isinstance(owner, memoryview):
            owner = owner.obj
        return isinstance(owner, mmap.mmap)

    @property
    def nbytes(self) -> int:
        """The size of the arrays in bytes.

        Returns:
            The size.
        """
        return sum(array.nbytes for array in self.arrays.values())

    # -- building --------------------------------------------------------------

    @classmethod
    def build(
        cls,
        geometries: Iterable[NDArray[np.object_]],
        source_index: NDArray[np.int64],
        info: StoreInfo,
    ) -> PolygonStore:
        """Flatten polygons (in burn order, in their final CRS) into a store.

        Args:
            geometries: the polygons in chunks (concatenated, they are in burn
                order); a chunk can be freed once flattened.
            source_index: the source row of each polygon.
            info: what they were made from.

        Returns:
            The store, in memory.
        """
        parts: dict[str, list[NDArray[Any]]] = {
            'xy': [np.empty((0, 2))],
            'ring_start': [np.empty(0, np.int64)],
            'polygon_ring': [np.empty(0, np.int64)],
            'simple': [np.empty(0, bool)],
            'bounds': [np.empty((0, 4))],
        }
        rings_before = vertices_before = 0
        for chunk in geometries:
            polygons, polygon_of = shapely.get_parts(chunk, return_index=True)
            keep = shapely.get_type_id(polygons) == _POLYGON
            polygons, polygon_of = polygons[keep], polygon_of[keep]
            rings, ring_of = shapely.get_rings(polygons, return_index=True)
            xy = shapely.get_coordinates(rings)
            vertices = shapely.get_num_coordinates(rings).astype(np.int64)
            per_geometry = np.bincount(polygon_of[ring_of], minlength=len(chunk))
            parts['xy'].append(xy)
            parts['ring_start'].append(vertices_before + np.cumsum(vertices) - vertices)
            parts['polygon_ring'].append(
                rings_before + np.cumsum(per_geometry) - per_geometry
            )
            parts['simple'].append(is_simple_polygon(chunk))
            parts['bounds'].append(shapely.bounds(chunk))
            rings_before += len(rings)
            vertices_before += len(xy)
        bounds = np.ascontiguousarray(np.concatenate(parts['bounds']), np.float64)
        grid, cell_start, cell_items = _grid_index(bounds)
        arrays: dict[str, NDArray[Any]] = {
            'xy': np.ascontiguousarray(np.concatenate(parts['xy']), np.float64),
            'ring_start': np.append(
                np.concatenate(parts['ring_start']), vertices_before
            ).astype(np.int64),
            'polygon_ring': np.append(
                np.concatenate(parts['polygon_ring']), rings_before
            ).astype(np.int64),
            'simple': np.concatenate(parts['simple']).astype(bool),
            'bounds': bounds,
            'source_index': np.asarray(source_index, dtype=np.int64),
            'cell_start': cell_start,
            'cell_items': cell_items,
        }
        return cls(info, arrays, grid)

    # -- files -----------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the store into one file, atomically.

        Args:
            path: the file.

        Returns:
            ``path``.
        """
        path = Path(path)
        header: dict[str, Any] = {
            'info': {
                'source': self.info.source,
                'crs': self.info.crs,
                'repaired': self.info.repaired,
                'skipped': self.info.skipped,
                'source_bounds': list(self.info.source_bounds),
            },
            'grid': list(self.grid),
            'arrays': {},
        }
        offset = 0
        for name, array in self.arrays.items():
            header['arrays'][name] = {
                'dtype': array.dtype.str,
                'shape': list(array.shape),
                'offset': offset,
            }
            offset += _aligned(array.nbytes)
        text = json.dumps(header).encode()
        start = _aligned(len(MAGIC) + 8 + len(text))
        with atomic_path(path) as temporary, temporary.open('wb') as file:
            file.write(MAGIC + len(text).to_bytes(8, 'little') + text)
            _pad(file, start)
            for array in self.arrays.values():
                file.write(np.ascontiguousarray(array).data)
                _pad(file, _aligned(file.tell()))
            file.flush()
            os.fsync(file.fileno())
        return path

    @classmethod
    def open(cls, path: str | Path) -> PolygonStore | None:
        """Map a saved store read-only.

        Args:
            path: the file.

        Returns:
            The store, or None if the file is missing or a store of another
            format version (then it is built again).

        Raises:
            ValueError: if the file is damaged: not a store, cut short, or its
                header unreadable (the caller builds it again).
            OSError: if it cannot be read.
        """
        path = Path(path)
        try:
            file = path.open('rb')
        except FileNotFoundError:
            return None
        with file:
            magic = file.read(len(MAGIC))
            if magic != MAGIC:
                if len(magic) == len(MAGIC) and magic[:-1] == MAGIC[:-1]:
                    return None  # another format version
                raise ValueError('not a polygon store of this package')
            length = int.from_bytes(file.read(8), 'little')
            size = os.fstat(file.fileno()).st_size
            if length > size:
                raise ValueError(f'a header of {length} bytes in {size}')
            header = json.loads(file.read(length))
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        start = _aligned(len(MAGIC) + 8 + length)
        arrays = {}
        for name, spec in header['arrays'].items():
            dtype = np.dtype(spec['dtype'])
            shape = tuple(spec['shape'])
            count = math.prod(shape)
            end = start + spec['offset'] + count * dtype.itemsize
            if end > len(mapping):
                raise ValueError(f'cut short: {len(mapping)} of {end} bytes')
            arrays[name] = np.frombuffer(
                mapping, dtype=dtype, count=count, offset=start + spec['offset']
            ).reshape(shape)
        fields = header['info']
        info = StoreInfo(
            fields['source'],
            fields['crs'],
            fields['repaired'],
            fields['skipped'],
            tuple(fields['source_bounds']),
        )
        left, bottom, cell, columns, rows = header['grid']
        return cls(info, arrays, (left, bottom, cell, columns, rows), path)

    # -- queries ---------------------------------------------------------------

    def query(self, bounds: tuple[float, float, float, float]) -> NDArray[np.intp]:
        """The polygons whose bounding box meets a box, in burn order.

        The same polygons as :meth:`shapely.STRtree.query` of the box without a
        predicate (bounding boxes meeting, edges included).

        Args:
            bounds: ``(xmin, ymin, xmax, ymax)``.

        Returns:
            Polygon positions, sorted.
        """
        xmin, ymin, xmax, ymax = bounds
        left, bottom, cell, columns, rows = self.grid
        if not len(self) or xmax < xmin or ymax < ymin:
            return np.empty(0, dtype=np.intp)
        c0, c1 = _cells(xmin, xmax, left, cell, columns)
        r0, r1 = _cells(ymin, ymax, bottom, cell, rows)
        if c0 > c1 or r0 > r1:
            return np.empty(0, dtype=np.intp)
        cells = (
            np.arange(r0, r1 + 1)[:, None] * columns + np.arange(c0, c1 + 1)
        ).ravel()
        starts, stops = self.cell_start[cells], self.cell_start[cells + 1]
        found = np.unique(self.cell_items[_ranges(starts, stops - starts)])
        box = self.bounds[found]
        meets = (box[:, 0] <= xmax) & (box[:, 2] >= xmin)
        meets &= (box[:, 1] <= ymax) & (box[:, 3] >= ymin)
        result: NDArray[np.intp] = found[meets].astype(np.intp)
        return result

    def outlines(self, polygons: NDArray[np.intp]) -> Outlines:
        """The outlines of some polygons, as :meth:`Outlines.of` makes them.

        Args:
            polygons: polygon positions (e.g. from :meth:`query`).

        Returns:
            Their outlines: simple polygons first, then the others, each group in
            the given order, ``owner`` counting positions in ``polygons``.
        """
        simple = self.simple[polygons]
        position = np.concatenate([np.flatnonzero(simple), np.flatnonzero(~simple)])
        ordered = polygons[position]
        first_ring = self.polygon_ring[ordered]
        ring_count = self.polygon_ring[ordered + 1] - first_ring
        rings = _ranges(first_ring, ring_count)
        first_vertex = self.ring_start[rings]
        vertex_count = self.ring_start[rings + 1] - first_vertex
        xy = self.xy[_ranges(first_vertex, vertex_count)]
        ring = np.repeat(np.arange(len(rings), dtype=np.int64), vertex_count)
        owner = np.repeat(position.astype(np.int64), ring_count)
        return Outlines(xy, ring, owner, len(polygons))


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _pad(file: BinaryIO, position: int) -> None:
    file.write(b'\x00' * (position - file.tell()))


def _ranges(starts: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    result: NDArray[np.int64] = np.arange(total, dtype=np.int64) + np.repeat(
        starts - offsets, counts
    )
    return result


def _cells(
    low: float, high: float, origin: float, cell: float, count: int
) -> tuple[int, int]:
    first = math.floor((low - origin) / cell)
    last = math.floor((high - origin) / cell)
    return max(first, 0), min(last, count - 1)


def _grid_index(
    bounds: NDArray[np.float64],
) -> tuple[tuple[float, float, float, int, int], NDArray[np.int64], NDArray[np.int32]]:
    """A uniform grid over the boxes: per cell, the boxes that meet it.

    The cell of a coordinate is ``floor((v - origin) / cell)`` for boxes and
    queries alike, so a box and a query box that meet share a cell.
    """
    if not len(bounds):
        return (0.0, 0.0, 1.0, 1, 1), np.zeros(2, dtype=np.int64), np.empty(0, np.int32)
    left, bottom = float(bounds[:, 0].min()), float(bounds[:, 1].min())
    width = float(bounds[:, 2].max()) - left
    height = float(bounds[:, 3].max()) - bottom
    cell = math.sqrt(max(width * height, 1e-24) * _POLYGONS_PER_CELL / len(bounds))
    cell = max(cell, math.sqrt(max(width * height, 1e-24) / _MAX_CELLS), 1e-12)
    columns = max(1, math.floor(width / cell) + 1)
    rows = max(1, math.floor(height / cell) + 1)
    c0 = np.clip(np.floor((bounds[:, 0] - left) / cell), 0, columns - 1).astype(
        np.int64
    )
    c1 = np.clip(np.floor((bounds[:, 2] - left) / cell), 0, columns - 1).astype(
        np.int64
    )
    r0 = np.clip(np.floor((bounds[:, 1] - bottom) / cell), 0, rows - 1).astype(np.int64)
    r1 = np.clip(np.floor((bounds[:, 3] - bottom) / cell), 0, rows - 1).astype(np.int64)
    across, down = c1 - c0 + 1, r1 - r0 + 1
    per_box = across * down
    box = np.repeat(np.arange(len(bounds), dtype=np.int64), per_box)
    k = _ranges(np.zeros(len(bounds), dtype=np.int64), per_box)
    column = c0[box] + k % across[box]
    row = r0[box] + k // across[box]
    cell_of = row * columns + column
    order = np.argsort(cell_of, kind='stable')
    counts = np.bincount(cell_of, minlength=columns * rows)
    cell_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return (left, bottom, cell, columns, rows), cell_start, box[order].astype(np.int32)
