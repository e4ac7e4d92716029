"""Samplers that draw crops per map sheet, with mirrored borders.

The paper splits Flanders by map sheet (:class:`~torchgeo_bvm.kaartblad.SplitScheme`)
and never lets a crop show pixels of another sheet: where a crop reaches past its
sheet's edge, the part outside is filled by reflecting the pixels inside the sheet
and carries no label. Two samplers implement this:

* :class:`KaartbladSampler` (training): random crops, each centred on a pixel that
  lies inside one sheet of the split, inside Flanders and inside the imagery;
* :class:`KaartbladGridSampler` (validation, test, prediction): a fixed tiling of
  every sheet of the split.

**How the sheet reaches the dataset.** A query is a plain TorchGeo ``GeoSlice``
(``x``, ``y`` slices on the imagery's pixel grid, plus the time slice that a
temporal sampler adds through ``@``), so the samplers compose with TorchGeo's
temporal samplers and any ``GeoDataset`` can read their queries. The dataset
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`) finds the sheet again from the
query: it is the sheet of the split whose polygon contains the centre pixel of the
window (both sides use :class:`SheetLayout`, so they agree pixel for pixel). For the
rare evaluation tile whose centre pixel falls just outside its sheet (sheet edges
are not grid-aligned outside EPSG:31370), it is the sheet of the split that
overlaps the window most. The dataset then reads the window clipped to that sheet
and fills the rest by reflection (:func:`mirror_sources`).

**Reach past the edge.** The issue asks both for a centre pixel inside the sheet
and for crops reaching up to ``patch_size - 1`` pixels past the edge; the two
cannot hold together. The centre rule wins: it is what lets the dataset recover
the sheet from a plain query, and it guarantees every crop a labelled centre. A
crop therefore reaches at most ``patch_size // 2`` pixels past its sheet's edge,
and every labelled pixel can appear at every position of the half of the patch
that faces the inside of its sheet (the paper's code padded by 255 px and cut
crops anywhere, so up to 255 of 256 columns could be mirror).

**Pixel grid.** Windows are snapped to the imagery's pixel grid
(:class:`PixelGrid`, taken from the dataset's ``grid`` attribute when it has one,
else anchored at the dataset's bounds like TorchGeo's samplers), so data already
on that grid is read without resampling.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from geopandas import GeoDataFrame
from numpy.random import BitGenerator, Generator, RandomState, SeedSequence
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GeoSampler, RandomTimestampSampler, SpatialSampler

from .kaartblad import Sheet, SplitScheme
from .scanline import pixel_runs, runs_to_mask

__all__ = [
    'CachedBounds',
    'CentreTimestampSampler',
    'IndexArrays',
    'KaartbladGridSampler',
    'KaartbladSampler',
    'PixelGrid',
    'SheetLayout',
    'SplitRegion',
    'mirror_sources',
    'mirror_sources_from_extent',
    'reflect_index',
]

Seed = int | BitGenerator | Generator | RandomState | SeedSequence | None

#: Densification (metres) of sheet edges before reprojection; the sampler and the
#: dataset must use the same polygons so that they agree on every pixel.
_SHEET_DENSIFY = 100.0


@dataclass(frozen=True)
class PixelGrid:
    """A north-up pixel grid: the top-left corner of one pixel and the resolution.

    Column ``c`` spans ``left + c * xres .. left + (c + 1) * xres``; row ``r`` spans
    ``top - (r + 1) * yres .. top - r * yres``. Indices may be negative.

    Args:
        left: x of the left edge of column 0.
        top: y of the top edge of row 0.
        xres: pixel width.
        yres: pixel height (positive).
    """

    left: float
    top: float
    xres: float
    yres: float

    @classmethod
    def of(cls, dataset: GeoDataset) -> PixelGrid:
        """The grid of a dataset: its ``grid`` attribute, else anchored at its bounds.

        Args:
            dataset: a TorchGeo dataset.

        Returns:
            The grid.
        """
        grid = getattr(dataset, 'grid', None)
        if isinstance(grid, PixelGrid):
            return grid
        xmin, _, _, ymax = dataset.index.total_bounds
        return cls(float(xmin), float(ymax), *map(float, dataset.res))

    def column(self, x: NDArray[np.float64] | float) -> NDArray[np.int64]:
        """The column holding x-coordinate(s) ``x``.

        Args:
            x: coordinate(s).

        Returns:
            Column index(es).
        """
        return np.floor((np.asarray(x) - self.left) / self.xres).astype(np.int64)

    def row(self, y: NDArray[np.float64] | float) -> NDArray[np.int64]:
        """The row holding y-coordinate(s) ``y``.

        Args:
            y: coordinate(s).

        Returns:
            Row index(es).
        """
        return np.floor((self.top - np.asarray(y)) / self.yres).astype(np.int64)

    def centre(
        self, column: NDArray[np.int64] | int, row: NDArray[np.int64] | int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The centre coordinates of pixel(s).

        Args:
            column: column index(es).
            row: row index(es).

        Returns:
            (x, y) of the pixel centre(s).
        """
        x = self.left + (np.asarray(column) + 0.5) * self.xres
        y = self.top - (np.asarray(row) + 0.5) * self.yres
        return x, y

    def window(
        self, column: int, row: int, width: int, height: int
    ) -> tuple[slice, slice]:
        """The ``(x, y)`` slices of a window of pixels.

        Args:
            column: column of the window's left pixel.
            row: row of the window's top pixel.
            width: width in pixels.
            height: height in pixels.

        Returns:
            ``slice(xmin, xmax, xres), slice(ymin, ymax, yres)``.
        """
        xmin = self.left + column * self.xres
        ymax = self.top - row * self.yres
        return (
            slice(xmin, xmin + width * self.xres, self.xres),
            slice(ymax - height * self.yres, ymax, self.yres),
        )

    def locate(self, x: slice, y: slice) -> tuple[int, int, int, int]:
        """Snap a query to the grid.

        Args:
            x: the x slice of a query.
            y: the y slice of a query.

        Returns:
            ``(column, row, width, height)`` of the nearest window on the grid.
        """
        column = round((x.start - self.left) / self.xres)
        row = round((self.top - y.stop) / self.yres)
        width = max(1, round((x.stop - x.start) / self.xres))
        height = max(1, round((y.stop - y.start) / self.yres))
        return column, row, width, height

    def transform(self, column: int, row: int) -> Affine:
        """The affine transform of a window whose top-left pixel is given.

        Args:
            column: column of the window's left pixel.
            row: row of the window's top pixel.

        Returns:
            The transform.
        """
        return Affine(
            self.xres,
            0.0,
            self.left + column * self.xres,
            0.0,
            -self.yres,
            self.top - row * self.yres,
        )


class IndexArrays:
    """A GeoDataset index as numpy arrays, for the lookup every sample makes.

    TorchGeo finds the files of a query with
    ``index.iloc[index.index.overlaps(interval)].iloc[::step].cx[x, y]``: three
    pandas/geopandas selections that build new frames, about a millisecond per
    query, more than reading a 256 x 256 window. The same rows come from two
    vectorised comparisons here: ``IntervalIndex.overlaps`` of the index's closed
    intervals with TorchGeo's right-closed query interval is
    ``left <= stop and right > start``, and ``.cx`` (shapely ``intersects`` with
    the query box) is a bounding-box overlap for rectangular footprints (every
    footprint of a file in the dataset's CRS); other footprints are tested with
    shapely, so the rows are always those of TorchGeo's lookup, in its order.

    Args:
        index: the dataset's index (an ``IntervalIndex`` closed on both sides).
    """

    def __init__(self, index: GeoDataFrame) -> None:
        self.index = index
        geometries = index.geometry.to_numpy()
        self.bounds: NDArray[np.float64] = shapely.bounds(geometries)
        self.geometries = geometries
        self.rectangular: NDArray[np.bool_] = np.asarray(
            shapely.equals(geometries, shapely.envelope(geometries)), dtype=bool
        )
        intervals = index.index
        self.usable = (
            isinstance(intervals, pd.IntervalIndex)
            and intervals.closed == 'both'
            and intervals.left.dtype == np.dtype('datetime64[ns]')
        )
        # Nanoseconds as int64: numpy refuses to compare datetime64 values near
        # pd.Timestamp.min/max (TorchGeo's unbounded dates) across units.
        self.left = intervals.left.asi8 if self.usable else None
        self.right = intervals.right.asi8 if self.usable else None
        self._columns: dict[str, NDArray[np.object_]] = {}

    @classmethod
    def of(cls, owner: GeoDataset | GeoSampler) -> IndexArrays:
        """The arrays of a dataset's or sampler's current index, built once.

        Args:
            owner: the dataset or sampler (its ``_index_arrays`` attribute holds
                the cache, rebuilt when ``owner.index`` is another object).

        Returns:
            The arrays.
        """
        index = owner.index  # type: ignore[union-attr]
        cached = owner.__dict__.get('_index_arrays')
        if cached is None or cached.index is not index:
            cached = cls(index)
            owner.__dict__['_index_arrays'] = cached
        return cast(IndexArrays, cached)

    def column(self, name: str) -> NDArray[np.object_]:
        """A column of the index as a numpy array (cached).

        Args:
            name: the column.

        Returns:
            Its values, one per row.
        """
        if name not in self._columns:
            self._columns[name] = self.index[name].to_numpy(dtype=object)
        return self._columns[name]

    def lookup(self, x: slice, y: slice, t: slice) -> NDArray[np.intp] | None:
        """Positions of the rows TorchGeo's lookup would select for a query.

        Args:
            x: the x slice (start and stop set).
            y: the y slice (start and stop set).
            t: the time slice (start and stop set).

        Returns:
            Row positions, in index order, or None when the query is outside
            what this shortcut handles (then use TorchGeo's lookup).
        """
        step = 1 if t.step is None else t.step
        if not self.usable or not isinstance(step, int) or step <= 0:
            return None
        try:
            first, last = pd.Timestamp(t.start), pd.Timestamp(t.stop)
            start, stop = first.as_unit('ns').value, last.as_unit('ns').value
        except (TypeError, ValueError, OverflowError):
            return None
        if first.tzinfo is not None or last.tzinfo is not None or stop < start:
            return None  # TorchGeo's lookup raises or converts; leave it to it
        assert self.left is not None
        assert self.right is not None
        in_time = np.flatnonzero((self.left <= stop) & (self.right > start))[::step]
        if in_time.size == 0:
            return in_time
        return self.intersecting(x, y, in_time)

    def intersecting(
        self, x: slice, y: slice, rows: NDArray[np.intp] | None = None
    ) -> NDArray[np.intp]:
        """Positions of the rows whose footprint ``.cx[x, y]`` would select.

        Args:
            x: the x slice (start and stop set).
            y: the y slice (start and stop set).
            rows: only consider these positions (default: all).

        Returns:
            Row positions, in index order.
        """
        if rows is None:
            rows = np.arange(len(self.bounds))
        xmin, xmax = min(x.start, x.stop), max(x.start, x.stop)
        ymin, ymax = min(y.start, y.stop), max(y.start, y.stop)
        b = self.bounds[rows]
        hit = (b[:, 0] <= xmax) & (b[:, 2] >= xmin) & (b[:, 1] <= ymax)
        hit &= b[:, 3] >= ymin
        irregular = hit & ~self.rectangular[rows]
        if irregular.any():
            query = box(x.start, y.start, x.stop, y.stop)
            hit[irregular] = shapely.intersects(self.geometries[rows[irregular]], query)
        result: NDArray[np.intp] = rows[hit]
        return result


class CachedBounds:
    """Mixin caching ``GeoDataset.bounds`` per index object and resolution.

    TorchGeo recomputes the bounds (``total_bounds`` of the index and the
    min/max of its intervals, about 0.2 ms) on every ``_disambiguate_slice``,
    several times per sample; they only change with the index or ``res``.
    """

    @property
    def bounds(self) -> tuple[slice, slice, slice]:
        """Bounds of the index (cached).

        Returns:
            Bounding x, y and t slices.
        """
        index, res = self.index, self.res  # type: ignore[attr-defined]
        cached = self.__dict__.get('_bounds_cached')
        if cached is None or cached[0] is not index or cached[1] != res:
            value = super().bounds  # type: ignore[misc]
            cached = (index, res, value)
            self.__dict__['_bounds_cached'] = cached
        bounds: tuple[slice, slice, slice] = cached[2]
        return bounds


class SheetLayout:
    """The sheets of a split scheme as polygons in a CRS, with pixel lookups.

    Args:
        scheme: the split scheme.
        crs: the CRS of the polygons (the dataset's CRS).
        numbers: ``kbl`` sheet numbers to keep (default all 43).
        splits: the splits to keep (default all splits of ``scheme``).

    Raises:
        ValueError: for an unknown split or sheet number.
    """

    def __init__(
        self,
        scheme: SplitScheme,
        crs: CRS | str | int,
        numbers: Sequence[int | str] | None = None,
        splits: Sequence[str] | None = None,
    ) -> None:
        self.scheme = scheme
        self.crs = CRS.from_user_input(crs)
        self.numbers = None if numbers is None else list(numbers)
        wanted = list(splits) if splits is not None else scheme.splits
        self.sheets: list[Sheet] = []
        self.splits: list[str] = []
        for split in wanted:
            for sheet in scheme.sheets(split, self.numbers):
                self.sheets.append(sheet)
                self.splits.append(split)
        self.polygons: list[Polygon] = [
            s.geometry(self.crs, densify=_SHEET_DENSIFY) for s in self.sheets
        ]
        self._tree = shapely.STRtree(self.polygons)

    def of_split(self, split: str) -> list[int]:
        """Positions of the sheets of one split.

        Args:
            split: a split name.

        Returns:
            Indices into :attr:`sheets`.
        """
        return [i for i, s in enumerate(self.splits) if s == split]

    def find(
        self,
        window: tuple[float, float, float, float],
        centre: tuple[float, float],
        split: str | None = None,
    ) -> int | None:
        """The sheet a window belongs to.

        The sheet (of ``split``, if given) containing ``centre``; else the one
        overlapping ``window`` most; None if no sheet overlaps it.

        Args:
            window: (xmin, ymin, xmax, ymax) of the window.
            centre: (x, y) of the window's centre pixel.
            split: only consider sheets of this split.

        Returns:
            An index into :attr:`sheets`, or None.
        """
        point = shapely.Point(centre)
        hits = [
            int(i)
            for i in self._tree.query(point, predicate='intersects')
            if split is None or self.splits[int(i)] == split
        ]
        if hits:
            return min(hits)
        area = box(*window)
        overlaps = [
            (self.polygons[int(i)].intersection(area).area, -int(i))
            for i in self._tree.query(area, predicate='intersects')
            if split is None or self.splits[int(i)] == split
        ]
        if not overlaps:
            return None
        return -max(overlaps)[1]

    def row_runs(
        self, index: int, transform: Affine, shape: tuple[int, int]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """The runs of a window's pixels whose centre lies inside a sheet.

        Args:
            index: the sheet's index into :attr:`sheets`.
            transform: the window's transform (north up).
            shape: (height, width) of the window.

        Returns:
            ``(row, start, stop)`` of every run (see
            :func:`torchgeo_bvm.scanline.pixel_runs`).
        """
        _, row, start, stop = pixel_runs(
            np.array([self.polygons[index]], dtype=object), transform, shape
        )
        return row, start, stop

    def inside(
        self, index: int, transform: Affine, shape: tuple[int, int]
    ) -> NDArray[np.bool_]:
        """Which pixels of a window have their centre inside a sheet.

        Args:
            index: the sheet's index into :attr:`sheets`.
            transform: the window's transform (north up).
            shape: (height, width) of the window.

        Returns:
            Boolean array of ``shape``.
        """
        return runs_to_mask(*self.row_runs(index, transform, shape), shape)

    def contains_window(
        self,
        index: int,
        grid: PixelGrid,
        column: int,
        row: int,
        width: int,
        height: int,
    ) -> bool:
        """Whether every pixel centre of a window lies inside a sheet.

        Args:
            index: the sheet's index into :attr:`sheets`.
            grid: the pixel grid.
            column: the window's left column.
            row: the window's top row.
            width: width in pixels.
            height: height in pixels.

        Returns:
            True if the whole window is inside the (convex) sheet.
        """
        (x0, x1), (y0, y1) = grid.centre(
            np.array([column, column + width - 1]), np.array([row, row + height - 1])
        )
        return bool(self.polygons[index].contains(box(x0, y1, x1, y0)))


def reflect_index(
    index: NDArray[np.int64],
    low: NDArray[np.int64] | int,
    high: NDArray[np.int64] | int,
) -> NDArray[np.int64]:
    """Map indices onto ``[low, high)`` by reflection, as ``numpy.pad(mode='reflect')``.

    The edge pixel is not repeated: with ``[a b c d]``, index ``low - 1`` maps to
    ``b`` and ``high`` maps to ``c``. Indices inside the range map to themselves.

    Args:
        index: indices.
        low: first valid index (per element, broadcast).
        high: one past the last valid index; ``high > low``.

    Returns:
        The reflected indices.
    """
    low = np.asarray(low)
    length = np.asarray(high) - low
    period = np.maximum(2 * (length - 1), 1)
    offset = np.mod(index - low, period)
    offset = np.where(offset >= length, period - offset, offset)
    result: NDArray[np.int64] = low + np.where(length > 1, offset, 0)
    return result


def mirror_sources(
    inside: NDArray[np.bool_], top: int, left: int, height: int, width: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Where each pixel of a window takes its value from, mirroring at a sheet edge.

    ``inside`` marks the sheet's pixels on a region around the window. Pixels of
    the window outside the sheet are reflected into it (``numpy.pad`` 'reflect',
    edge not repeated): first along each row, within that row's run of inside
    pixels, then along columns, within the run of rows that hold inside pixels.
    For a sheet that is an axis-aligned rectangle on the grid this is exactly
    ``numpy.pad(sheet_pixels, ..., mode='reflect')``; for the slightly rotated
    sheets of a geographic CRS every source is still a pixel of the sheet. Inside
    pixels are their own source.

    Args:
        inside: region mask, True for pixels of the sheet; the region must reach far
            enough around the window to hold the sources (the window's size on each
            side suffices) and contain at least one inside pixel.
        top: row of the window's top pixel in the region.
        left: column of the window's left pixel in the region.
        height: window height.
        width: window width.

    Returns:
        ``(rows, columns)``: ``rows[i]`` is the source row (in the region) of window
        row ``i`` and ``columns[i, j]`` the source column of pixel ``(i, j)``.

    Raises:
        ValueError: if ``inside`` has no True pixel.
    """
    first = np.argmax(inside, axis=1)
    last = inside.shape[1] - np.argmax(inside[:, ::-1], axis=1)
    return mirror_sources_from_extent(
        first, last, inside.any(axis=1), top, left, height, width
    )


def mirror_sources_from_extent(
    first: NDArray[np.int64],
    last: NDArray[np.int64],
    covered: NDArray[np.bool_],
    top: int,
    left: int,
    height: int,
    width: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """:func:`mirror_sources` from each region row's extent of sheet pixels.

    The same sources without the region's boolean mask: a sheet's scanline runs
    (:meth:`SheetLayout.row_runs`, :func:`torchgeo_bvm.scanline.row_extent`)
    give the extents directly, several times faster than rasterising the
    region, which is nine times the window's area.

    Args:
        first: per region row, the first column of the sheet.
        last: per region row, one past its last column.
        covered: per region row, whether it holds a sheet pixel.
        top: row of the window's top pixel in the region.
        left: column of the window's left pixel in the region.
        height: window height.
        width: window width.

    Returns:
        ``(rows, columns)`` as :func:`mirror_sources`.

    Raises:
        ValueError: if no row holds a sheet pixel.
    """
    occupied = np.flatnonzero(covered)
    if occupied.size == 0:
        raise ValueError('mirror_sources: the region holds no pixel of the sheet')
    rows = reflect_index(
        top + np.arange(height, dtype=np.int64), int(occupied[0]), int(occupied[-1]) + 1
    )
    columns = reflect_index(
        (left + np.arange(width, dtype=np.int64))[None, :],
        first[rows][:, None],
        last[rows][:, None],
    )
    return rows, columns


class SplitRegion:
    """Where crops of one split may be centred: sheet ∩ Flanders ∩ data footprint.

    Args:
        layout: the sheet layout (all splits or some).
        split: the split.
        grid: the pixel grid.
        domain: where data exist (imagery ∩ labels) intersected with Flanders, in
            the layout's CRS; None for no restriction.

    Raises:
        ValueError: if no sheet of ``split`` overlaps ``domain``.
    """

    def __init__(
        self,
        layout: SheetLayout,
        split: str,
        grid: PixelGrid,
        domain: BaseGeometry | None,
    ) -> None:
        self.layout = layout
        self.split = split
        self.grid = grid
        self.indices: list[int] = []
        self.allowed: list[BaseGeometry] = []
        for i in layout.of_split(split):
            polygon = layout.polygons[i]
            allowed = polygon if domain is None else polygon.intersection(domain)
            if allowed.area > 0:
                self.indices.append(i)
                shapely.prepare(allowed)
                self.allowed.append(allowed)
        if not self.indices:
            codes = ', '.join(layout.sheets[i].code for i in layout.of_split(split))
            raise ValueError(
                f'split {split!r} has no data: none of its sheets ({codes or "none"}) '
                'overlaps the region where imagery, labels and Flanders meet'
            )
        areas = np.array([a.area for a in self.allowed])
        self.weights = areas / areas.sum()
        self.area = float(areas.sum())

    def draw(
        self, rng: np.random.Generator, count: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Draw pixels uniformly from the region.

        Args:
            rng: the random generator.
            count: how many pixels.

        Returns:
            ``(columns, rows)`` of the drawn pixels.

        Raises:
            ValueError: if the region holds (almost) no pixel centre.
        """
        chosen = rng.choice(len(self.indices), size=count, p=self.weights)
        columns = np.empty(count, dtype=np.int64)
        rows = np.empty(count, dtype=np.int64)
        for k in np.unique(chosen):
            where = np.flatnonzero(chosen == k)
            c, r = self._draw_in(rng, int(k), where.size)
            columns[where], rows[where] = c, r
        return columns, rows

    def _draw_in(
        self, rng: np.random.Generator, k: int, count: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        allowed = self.allowed[k]
        xmin, ymin, xmax, ymax = allowed.bounds
        found_c: list[NDArray[np.int64]] = []
        found_r: list[NDArray[np.int64]] = []
        total = 0
        # Rejection sampling of snapped pixel centres: the allowed region fills
        # most of its bounding box, so a couple of rounds suffice.
        for _ in range(100):
            batch = max(64, 2 * (count - total))
            c = self.grid.column(rng.uniform(xmin, xmax, batch))
            r = self.grid.row(rng.uniform(ymin, ymax, batch))
            x, y = self.grid.centre(c, r)
            keep = shapely.contains_xy(allowed, x, y)
            found_c.append(c[keep])
            found_r.append(r[keep])
            total += int(keep.sum())
            if total >= count:
                break
        else:
            code = self.layout.sheets[self.indices[k]].code
            raise ValueError(
                f'sheet {code} of split {self.split!r}: no pixel centre found inside '
                'the sheet, Flanders and the data; its overlap is smaller than a pixel'
            )
        return np.concatenate(found_c)[:count], np.concatenate(found_r)[:count]


def _domain(dataset: GeoDataset, roi: BaseGeometry | None) -> BaseGeometry:
    footprint = dataset.index.geometry.union_all()
    flanders = getattr(dataset, 'flanders_region', None)
    if flanders is not None:
        footprint = footprint.intersection(flanders)
    if roi is not None:
        footprint = footprint.intersection(roi)
    return cast(BaseGeometry, footprint)


def _layout_for(
    dataset: GeoDataset,
    scheme: SplitScheme | None,
    numbers: Sequence[int | str] | None,
) -> SheetLayout:
    own = getattr(dataset, 'layout', None)
    if isinstance(own, SheetLayout) and scheme is None and numbers is None:
        return own
    scheme = scheme or getattr(dataset, 'scheme', None) or SplitScheme()
    if numbers is None:
        numbers = getattr(dataset, 'numbers', None)
    return SheetLayout(scheme, dataset.crs, numbers)


class KaartbladSampler(SpatialSampler):
    """Random square crops centred inside the sheets of one split.

    Each crop's centre pixel (index ``size // 2`` along both axes) is drawn
    uniformly from the pixels whose centre lies inside a sheet of ``split``, inside
    Flanders (the dataset's ``flanders_region``) and inside the data footprint.
    The crop may reach up to ``size // 2`` pixels past the sheet's edge; the
    dataset mirrors that part (see the module docstring). Crops are snapped to the
    pixel grid. Compose with a temporal sampler to pick one date per crop::

        sampler = KaartbladSampler(ds, split='train', size=256, length=1000,
                                   generator=0) @ RandomTimestampSampler(ds)

    Re-iterating draws new crops; two samplers built with the same seed yield the
    same crops.

    Args:
        dataset: the dataset (usually a
            :class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`).
        split: the split to draw from.
        size: crop size in pixels.
        length: crops per epoch (default: the split's area in crops, at least 1).
        scheme: the split scheme (default: the dataset's, else the paper's).
        numbers: ``kbl`` sheet numbers (default: the dataset's, else all 43).
        roi: an extra region of interest in the dataset's CRS.
        generator: seed or random generator.

    Raises:
        ValueError: if ``size`` < 1 or the split has no data.
    """

    strategy = 'random'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        split: str = 'train',
        size: int = 256,
        length: int | None = None,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        roi: Polygon | None = None,
        generator: Seed = None,
    ) -> None:
        if size < 1:
            raise ValueError(f'size must be a positive number of pixels, got {size}')
        super().__init__(dataset, roi=roi)
        self.size = int(size)
        self.grid = PixelGrid.of(dataset)
        self.layout = _layout_for(dataset, scheme, numbers)
        self.region = SplitRegion(self.layout, split, self.grid, _domain(dataset, roi))
        self.generator = np.random.default_rng(generator)
        pixels = self.region.area / (self.grid.xres * self.grid.yres)
        self._length = int(length) if length else max(1, int(pixels // self.size**2))

    def __len__(self) -> int:
        """Crops per epoch.

        Returns:
            The length.
        """
        return self._length

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Draw the crops of one epoch.

        Yields:
            ``(x, y)`` slices of each crop.
        """
        columns, rows = self.region.draw(self.generator, len(self))
        half = self.size // 2
        for column, row in zip(columns.tolist(), rows.tolist(), strict=True):
            yield self.grid.window(column - half, row - half, self.size, self.size)


class KaartbladGridSampler(SpatialSampler):
    """A fixed tiling of every sheet of a split, for validation and testing.

    Per sheet, the bounding box of its pixels (pixel centres inside the sheet) is
    cut into ``size`` x ``size`` tiles every ``stride`` pixels. The tiling is
    centred on the box, so the overhang at both ends is at most half a tile and
    the outermost tiles keep their centre pixel inside the sheet; what lies beyond
    the sheet is mirrored by the dataset and carries no label, so no tile shows a
    pixel of another sheet. Tiles holding no pixel of the sheet inside Flanders and
    the data footprint are skipped. Order: sheets in order, then rows north to
    south, then columns west to east; identical on every iteration.

    With ``stride == size`` (the default) the tiles do not overlap: every pixel of
    a sheet lies in exactly one tile, so metrics count each pixel exactly once.
    A smaller stride gives overlapping tiles (context for stitched predictions);
    then pixels in overlaps are counted more than once.

    Args:
        dataset: the dataset.
        split: the split to tile.
        size: tile size in pixels.
        stride: step between tiles in pixels (default ``size``).
        scheme: the split scheme (default: the dataset's, else the paper's).
        numbers: ``kbl`` sheet numbers (default: the dataset's, else all 43).
        roi: an extra region of interest in the dataset's CRS.

    Raises:
        ValueError: if ``size`` or ``stride`` is not positive, ``stride > size``, or
            the split has no data.
    """

    strategy = 'sequential'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        split: str = 'val',
        size: int = 256,
        stride: int | None = None,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        roi: Polygon | None = None,
    ) -> None:
        stride = size if stride is None else stride
        if size < 1 or stride < 1 or stride > size:
            raise ValueError(
                f'need 1 <= stride <= size, got size={size}, stride={stride}: a stride '
                'larger than the tile would leave pixels uncovered'
            )
        super().__init__(dataset, roi=roi)
        self.size = int(size)
        self.stride = int(stride)
        self.grid = PixelGrid.of(dataset)
        self.layout = _layout_for(dataset, scheme, numbers)
        self.region = SplitRegion(self.layout, split, self.grid, _domain(dataset, roi))
        self.tiles: list[tuple[int, int, int]] = []
        for k, index in enumerate(self.region.indices):
            self.tiles += self._tile_sheet(index, self.region.allowed[k])
        self._length = len(self.tiles)

    def sheet_pixels(self, index: int) -> tuple[int, int, int, int]:
        """The pixel box of a sheet: the pixels whose centre lies inside it.

        Args:
            index: the sheet's index into the layout's sheets.

        Returns:
            ``(first column, first row, stop column, stop row)`` on :attr:`grid`.
        """
        xmin, ymin, xmax, ymax = self.layout.polygons[index].bounds
        c0, c1 = int(self.grid.column(xmin)), int(self.grid.column(xmax))
        r0, r1 = int(self.grid.row(ymax)), int(self.grid.row(ymin))
        inside = self.layout.inside(
            index, self.grid.transform(c0, r0), (r1 - r0 + 1, c1 - c0 + 1)
        )
        rows, columns = np.nonzero(inside)
        return (
            c0 + int(columns.min()),
            r0 + int(rows.min()),
            c0 + int(columns.max()) + 1,
            r0 + int(rows.max()) + 1,
        )

    def _starts(self, first: int, stop: int) -> list[int]:
        extent = stop - first
        count = max(1, math.ceil(max(extent - self.size, 0) / self.stride) + 1)
        overhang = (count - 1) * self.stride + self.size - extent
        # The larger half of the overhang goes before the box: with an even size
        # the centre pixel sits at size // 2, so this keeps both end tiles' centres
        # inside the box.
        start = first - math.ceil(overhang / 2)
        return [start + k * self.stride for k in range(count)]

    def _tile_sheet(
        self, index: int, allowed: BaseGeometry
    ) -> list[tuple[int, int, int]]:
        c0, r0, c1, r1 = self.sheet_pixels(index)
        tiles = []
        for row in self._starts(r0, r1):
            for column in self._starts(c0, c1):
                x, y = self.grid.window(column, row, self.size, self.size)
                if allowed.intersects(box(x.start, y.start, x.stop, y.stop)):
                    tiles.append((index, column, row))
        return tiles

    def __len__(self) -> int:
        """Number of tiles.

        Returns:
            The length.
        """
        return self._length

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Yield the tiles.

        Yields:
            ``(x, y)`` slices of each tile.
        """
        for _, column, row in self.tiles:
            yield self.grid.window(column, row, self.size, self.size)

    def sheet_of_tile(self, position: int) -> Sheet:
        """The sheet a tile was cut from.

        Args:
            position: the tile's position in the iteration order.

        Returns:
            The sheet.
        """
        return self.layout.sheets[self.tiles[position][0]]


def _location_seed(seed: int, x: slice, y: slice) -> list[int]:
    packed = struct.pack(
        '<4d', float(x.start), float(x.stop), float(y.start), float(y.stop)
    )
    digest = hashlib.sha256(packed).digest()
    return [seed, int.from_bytes(digest[:8], 'little')]


class CentreTimestampSampler(RandomTimestampSampler):
    """One acquisition date per location, among the dates covering its centre.

    TorchGeo's :class:`~torchgeo.samplers.RandomTimestampSampler` picks among the
    dates of every file that touches the window, so a crop near a sheet edge may
    get a date that was downloaded only for the neighbouring sheet and hold no data
    where its labels are. This sampler prefers the dates whose footprint holds the
    window's centre (falling back to the window).

    With ``per_location=True`` the date of a location depends only on ``seed`` and
    the location, so evaluation tiles get the same date in every epoch and run.
    Either way, exactly one date is yielded per location (``len() == 1``), so
    ``grid_sampler @ CentreTimestampSampler(...)`` yields one sample per tile.

    Args:
        dataset: the dataset.
        toi: time of interest (default: the dataset's).
        generator: seed or random generator (for ``per_location=False``).
        per_location: choose the date from a hash of the location and ``seed``.
        seed: the seed for ``per_location``.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        toi: pd.Interval | None = None,
        generator: Seed = None,
        per_location: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(dataset, toi=toi, generator=generator)
        self.per_location = per_location
        self.seed = seed
        self._length = 1

    def _init_subset(
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> pd.IntervalIndex:
        x, y = location
        if x.start is None:
            return super()._init_subset(location)
        # ``self.index.cx[cx:cx, cy:cy]`` and TorchGeo's ``.cx[x, y]``, without
        # building two GeoDataFrames per sample (about 2 ms, as long as reading
        # the sample): the same rows, in the same order (:class:`IndexArrays`).
        arrays = IndexArrays.of(self)
        cx, cy = (x.start + x.stop) / 2, (y.start + y.stop) / 2
        rows = arrays.intersecting(slice(cx, cx), slice(cy, cy))
        if rows.size == 0:
            rows = arrays.intersecting(x, y)
        return cast(pd.IntervalIndex, self.index.index[rows])

    def _iter_subset(
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> Iterator[tuple[slice, slice, slice]]:
        if not self.per_location:
            # TorchGeo's ``pd.unique(...).to_series().sample(frac=1, random_state=
            # generator)`` is ``generator.choice(n, n, replace=False)`` over the
            # unique intervals in order of appearance: the same draws, the same
            # dates, without a Series per sample.
            unique = pd.unique(self._init_subset(location))
            order = self.generator.choice(len(unique), size=len(unique), replace=False)
            x, y = location
            for k in order.tolist():
                yield x, y, slice(unique[k].left, unique[k].right)
            return
        intervals = sorted(pd.unique(self._init_subset(location)))
        rng = np.random.default_rng(_location_seed(self.seed, *location))
        order = rng.permutation(len(intervals))
        x, y = location
        for k in order.tolist():
            yield x, y, slice(intervals[k].left, intervals[k].right)
