"""Map sheets on a pixel grid: which sheet a window belongs to, and mirroring.

The paper splits Flanders by map sheet
(:class:`~torchgeo_bvm.sheets.scheme.SplitScheme`) and never lets a sample show pixels
of another sheet. This module holds what the dataset and the samplers must agree on
pixel for pixel, so both use it:

* :class:`SheetLayout`: the sheets of a scheme as polygons in the dataset's CRS;
  the sheet of a window is the one containing its centre pixel, else the one
  overlapping it most (:meth:`SheetLayout.find`); a sheet's pixel box on a grid
  (:meth:`SheetLayout.pixel_box`);
* :class:`SheetSelection`: sheets named by codes, ``kbl`` numbers or split
  names, the one parser of such names;
* :class:`SplitRegion`: where crops of one split may be centred (sheet, Flanders
  and the data footprint, :func:`crop_domain`), and the tiling of its sheets
  (:meth:`SplitRegion.tiles`);
* :func:`mirror_sources_from_extent` and :func:`reflect_index`: where each pixel
  of a window past its sheet's edge takes its value from (``numpy.pad``
  'reflect' semantics);
* :class:`SheetDataset`: what the samplers read from a dataset besides its index.

A pixel lies in a sheet when its centre does (the scanline rule of
:mod:`torchgeo_bvm.spatial.scanline`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from ..checks import MAX_TILES
from ..errors import BVMValueError
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import pixel_runs, runs_to_mask
from .codes import Sheet
from .scheme import SplitScheme

__all__ = [
    'SheetDataset',
    'SheetLayout',
    'SheetSelection',
    'SplitRegion',
    'crop_domain',
    'mirror_sources_from_extent',
    'reflect_index',
    'tile_starts',
]

#: Densification (metres) of sheet edges before reprojection; the sampler and the
#: dataset must use the same polygons so that they agree on every pixel.
_SHEET_DENSIFY = 100.0


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

        Raises:
            ValueError: if the scheme has no such split.
        """
        if split not in self.scheme.splits:
            raise BVMValueError(
                f'unknown split {split!r}: the scheme has '
                f'{", ".join(self.scheme.splits)}'
            )
        return [i for i, s in enumerate(self.splits) if s == split]

    def select(
        self, names: str | Sequence[int | str], exact: bool = False
    ) -> list[int]:
        """The layout's sheets named by sheet codes, sheet numbers or split names.

        See :class:`SheetSelection`, which parses the names.

        Args:
            names: a comma-separated string or a list of names.
            exact: only the sheets named by their own code (``'22/7-8'``), not
                those named through a split or a larger sheet.

        Returns:
            Indices into :attr:`sheets`, in layout order, each once.

        Raises:
            BVMValueError: for an invalid code, no name at all, a sheet finer
                than the layout's sheets, or a sheet the layout does not hold
                (outside its ``numbers``).
        """
        return SheetSelection.parse(names, self.scheme.splits).indices(self, exact)

    def pixel_box(self, index: int, grid: Grid) -> tuple[int, int, int, int]:
        """The pixel box of a sheet: the pixels whose centre lies inside it.

        Args:
            index: the sheet's index into :attr:`sheets`.
            grid: the pixel grid.

        Returns:
            ``(first column, first row, stop column, stop row)`` on ``grid``.
        """
        xmin, ymin, xmax, ymax = self.polygons[index].bounds
        c0, c1 = int(grid.column(xmin)), int(grid.column(xmax))
        r0, r1 = int(grid.row(ymax)), int(grid.row(ymin))
        inside = self.inside(
            index, grid.window_transform(c0, r0), (r1 - r0 + 1, c1 - c0 + 1)
        )
        rows, columns = np.nonzero(inside)
        return (
            c0 + int(columns.min()),
            r0 + int(rows.min()),
            c0 + int(columns.max()) + 1,
            r0 + int(rows.max()) + 1,
        )

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
            :func:`torchgeo_bvm.spatial.scanline.pixel_runs`).
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
        grid: Grid,
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


@dataclass(frozen=True)
class SheetSelection:
    """Sheets named by codes, ``kbl`` numbers or split names, parsed once.

    A split name (``'test'``) names every sheet of that split; a code names the
    sheets of a layout that lie inside it: a ``kbl`` number (``22``) every part
    of that sheet, a code of the layout's own level (``'22/7-8'``) that sheet.
    Nothing finer than the layout's sheets is accepted, since they are the
    units of what is written. :meth:`parse` checks the names without a layout
    (a configuration is checked before anything is read); :meth:`indices`
    finds them in one.

    Args:
        names: the names as given.
        splits: the split names among them.
        sheets: the sheet codes among them, parsed.
    """

    names: str | tuple[int | str, ...]
    splits: tuple[str, ...]
    sheets: tuple[Sheet, ...]

    @classmethod
    def parse(
        cls, names: str | Sequence[int | str], splits: Sequence[str]
    ) -> SheetSelection:
        """Parse sheet codes, ``kbl`` numbers and split names.

        Args:
            names: a comma-separated string or a list; empty items of a string
                are skipped.
            splits: the split names of the scheme in use.

        Returns:
            The selection.

        Raises:
            BVMValueError: for an invalid code, or no name at all.
        """
        items = names.split(',') if isinstance(names, str) else list(names)
        named_splits: list[str] = []
        sheets: list[Sheet] = []
        for item in items:
            text = str(item).strip()
            if isinstance(item, str) and not text:
                continue
            if text in splits:
                named_splits.append(text)
            else:
                sheets.append(Sheet.parse(item))
        if not named_splits and not sheets:
            raise BVMValueError('no sheet named: give sheet codes or split names')
        given = names if isinstance(names, str) else tuple(names)
        return cls(given, tuple(named_splits), tuple(sheets))

    def check_numbers(self, numbers: Sequence[int] | None) -> None:
        """Check that every sheet named lies in the ``kbl`` sheets in use.

        Args:
            numbers: the ``kbl`` numbers in use (None: all).

        Raises:
            BVMValueError: naming the first sheet outside them.
        """
        for sheet in self.sheets:
            if numbers is not None and sheet.number not in numbers:
                raise BVMValueError(
                    f'sheet {sheet.code} is not among the sheets {list(numbers)}; '
                    f'add {sheet.number} to sheets'
                )

    def indices(self, layout: SheetLayout, exact: bool = False) -> list[int]:
        """The layout's sheets this selection names.

        Args:
            layout: the layout.
            exact: only the sheets named by their own code (``'22/7-8'``), not
                those named through a split or a larger sheet.

        Returns:
            Indices into the layout's sheets, in layout order, each once.

        Raises:
            BVMValueError: for a sheet finer than the layout's sheets, or one
                the layout does not hold.
        """
        chosen: set[int] = set()
        if not exact:
            for split in self.splits:
                chosen.update(layout.of_split(split))
        for wanted in self.sheets:
            inside = [i for i, s in enumerate(layout.sheets) if wanted.contains(s)]
            if inside:
                chosen.update(
                    i for i in inside if not exact or layout.sheets[i] == wanted
                )
                continue
            holder = next((s for s in layout.sheets if s.contains(wanted)), None)
            if holder is not None:
                raise BVMValueError(
                    f'sheet {wanted.code} is part of sheet {holder.code}: maps are '
                    f'made per sheet of the split scheme; give {holder.code}'
                )
            held = sorted({s.number for s in layout.sheets})
            raise BVMValueError(
                f'sheet {wanted.code} is not among the sheets in use '
                f'({", ".join(map(str, held)) or "none"}); add its number to the '
                'sheets of the data'
            )
        return sorted(chosen)


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


def mirror_sources_from_extent(
    first: NDArray[np.int64],
    last: NDArray[np.int64],
    covered: NDArray[np.bool_],
    top: int,
    left: int,
    height: int,
    width: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Where each pixel of a window takes its value from, mirroring at a sheet edge.

    The sheet's pixels on a region around the window are given per region row,
    as the extent of its run of sheet pixels (a sheet is convex, so one run per
    row; :meth:`SheetLayout.row_runs` and
    :func:`torchgeo_bvm.spatial.scanline.row_extent` give it without rasterising the
    region). Pixels of the window outside the sheet are reflected into it
    (``numpy.pad`` 'reflect', edge not repeated): each window row onto the run
    of region rows that hold sheet pixels, then each pixel onto its source
    row's run of sheet pixels. For a sheet that is an axis-aligned rectangle on the grid
    this is exactly ``numpy.pad(sheet_pixels, ..., mode='reflect')``; for the
    slightly rotated sheets of a geographic CRS every source is still a pixel of
    the sheet. Pixels inside the sheet are their own source.

    Args:
        first: per region row, the first column of the sheet.
        last: per region row, one past its last column.
        covered: per region row, whether it holds a sheet pixel.
        top: row of the window's top pixel in the region.
        left: column of the window's left pixel in the region.
        height: window height.
        width: window width.

    Returns:
        ``(rows, columns)``: ``rows[i]`` is the source row (in the region) of
        window row ``i`` and ``columns[i, j]`` the source column of pixel
        ``(i, j)``. The region must reach far enough around the window to hold
        the sources (the window's size on each side suffices).

    Raises:
        ValueError: if no row holds a sheet pixel.
    """
    occupied = np.flatnonzero(covered)
    if occupied.size == 0:
        raise BVMValueError(
            'mirror_sources_from_extent: the region holds no pixel of the sheet'
        )
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
        split: the split, or None for the sheets of every split.
        grid: the pixel grid.
        domain: where data exist (imagery ∩ labels) intersected with Flanders, in
            the layout's CRS; None for no restriction.
        indices: only these sheets (indices into the layout's sheets, e.g. from
            :meth:`SheetLayout.select`), those that overlap ``domain``. Default:
            every sheet of ``split`` that overlaps it.
        required: sheets of ``indices`` that must overlap ``domain`` (named by
            the user one by one).

    Raises:
        ValueError: if no sheet of ``split`` overlaps ``domain``, or a sheet of
            ``required`` does not.
    """

    def __init__(
        self,
        layout: SheetLayout,
        split: str | None,
        grid: Grid,
        domain: BaseGeometry | None,
        indices: Sequence[int] | None = None,
        required: Sequence[int] = (),
    ) -> None:
        self.layout = layout
        self.split = split
        self.grid = grid
        self.indices: list[int] = []
        self.allowed: list[BaseGeometry] = []
        candidates = (
            list(indices)
            if indices is not None
            else (
                range(len(layout.sheets)) if split is None else layout.of_split(split)
            )
        )
        outside = []
        for i in candidates:
            polygon = layout.polygons[i]
            allowed = polygon if domain is None else polygon.intersection(domain)
            if allowed.area > 0:
                self.indices.append(i)
                shapely.prepare(allowed)
                self.allowed.append(allowed)
            elif i in required:
                outside.append(layout.sheets[i].code)
        if outside:
            raise BVMValueError(
                f'sheet{"s" * (len(outside) > 1)} {", ".join(outside)} outside the '
                'data: no pixel where imagery, labels and Flanders meet'
                + (
                    '; the data cover '
                    + ', '.join(layout.sheets[i].code for i in self.indices)
                    if self.indices
                    else ''
                )
            )
        if not self.indices:
            codes = ', '.join(layout.sheets[i].code for i in candidates)
            what = 'the sheets' if split is None else f'split {split!r}'
            raise BVMValueError(
                f'{what} {"have" if split is None else "has"} no data: none of '
                f'{"them" if split is None else "its sheets"} ({codes or "none"}) '
                'overlaps the region where imagery, labels and Flanders meet'
            )
        areas = np.array([a.area for a in self.allowed])
        self.weights = areas / areas.sum()
        self.area = float(areas.sum())

    def tiles(self, size: int, stride: int) -> list[tuple[int, int, int]]:
        """A fixed tiling of every sheet of the region.

        Per sheet, the pixel box of the sheet (:meth:`SheetLayout.pixel_box`)
        is cut into ``size`` x ``size`` tiles every ``stride`` pixels, centred
        on the box, so the overhang at both ends is at most half a tile and the
        outermost tiles keep their centre pixel inside the sheet; tiles holding
        no pixel of the region are skipped. Order: sheets in order, then rows
        north to south, then columns west to east.

        Args:
            size: tile size in pixels.
            stride: step between tiles in pixels, at most ``size``.

        Returns:
            ``(sheet, column, row)`` of each tile's top-left pixel on the grid.

        Raises:
            BVMValueError: if the tiling would hold more than
                :data:`~torchgeo_bvm.checks.MAX_TILES` tiles.
        """
        boxes = [self.layout.pixel_box(index, self.grid) for index in self.indices]
        candidates = sum(
            len(tile_starts(r0, r1, size, stride))
            * len(tile_starts(c0, c1, size, stride))
            for c0, r0, c1, r1 in boxes
        )
        if candidates > MAX_TILES:
            raise BVMValueError(
                f'size={size}, stride={stride} cut the {self.split or "chosen"} '
                f'sheets into {candidates:,} tiles, more than the limit of '
                f'{MAX_TILES:,}; use a larger size or stride'
            )
        tiles = []
        for index, allowed, (c0, r0, c1, r1) in zip(
            self.indices, self.allowed, boxes, strict=True
        ):
            for row in tile_starts(r0, r1, size, stride):
                for column in tile_starts(c0, c1, size, stride):
                    x, y = self.grid.window(column, row, size, size)
                    if allowed.intersects(box(x.start, y.start, x.stop, y.stop)):
                        tiles.append((index, column, row))
        return tiles

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
            raise BVMValueError(
                f'sheet {code} of split {self.split!r}: no pixel centre found inside '
                'the sheet, Flanders and the data; its overlap is smaller than a pixel'
            )
        return np.concatenate(found_c)[:count], np.concatenate(found_r)[:count]


def tile_starts(first: int, stop: int, size: int, stride: int) -> list[int]:
    """The starts of tiles every ``stride`` pixels covering ``[first, stop)``.

    The tiling is centred on the range: the larger half of the overhang goes
    before it, so with an even ``size`` (centre pixel at ``size // 2``) both end
    tiles keep their centre inside the range.

    Args:
        first: the first pixel of the range.
        stop: one past its last pixel.
        size: tile size.
        stride: step between tiles.

    Returns:
        The first pixel of each tile.
    """
    extent = stop - first
    count = max(1, math.ceil(max(extent - size, 0) / stride) + 1)
    overhang = (count - 1) * stride + size - extent
    start = first - math.ceil(overhang / 2)
    return [start + k * stride for k in range(count)]


def crop_domain(footprint: BaseGeometry, flanders: BaseGeometry | None) -> BaseGeometry:
    """Where data exist for crops: the data footprint inside Flanders.

    Args:
        footprint: where the dataset has data (its index's union, perhaps cut to
            a region of interest).
        flanders: the Flanders region in the same CRS, or None.

    Returns:
        The domain.
    """
    if flanders is None:
        return footprint
    return footprint.intersection(flanders)


@runtime_checkable
class SheetDataset(Protocol):
    """What the sheet samplers read from a dataset, besides its index and CRS.

    :class:`~torchgeo_bvm.datasets.joint.BVMSentinel2` provides all of it. For
    any other dataset the samplers anchor windows at its bounds (as TorchGeo's
    samplers do), use the whole footprint, the paper's scheme and all sheets.
    """

    #: The pixel lattice windows are snapped to.
    grid: Grid
    #: The sheets in the dataset's CRS.
    layout: SheetLayout
    #: The split scheme.
    scheme: SplitScheme
    #: The ``kbl`` sheet numbers in use (None: all).
    numbers: list[int | str] | None

    @property
    def flanders_region(self) -> BaseGeometry | None:
        """The Flanders region in the dataset's CRS, or None."""
