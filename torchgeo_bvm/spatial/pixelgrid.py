"""Pixel grids: the one north-up grid type of the package.

:class:`Grid` is a CRS, an affine transform and, for a raster, a size in pixels.
It serves every place a pixel grid appears:

* a raster to write (:func:`~torchgeo_bvm.spatial.classraster.write_class_raster`): CRS,
  transform, width and height, cut into blocks by :meth:`Grid.windows`;
* a file to read (:class:`~torchgeo_bvm.datasets.Sentinel2TOC`,
  :class:`~torchgeo_bvm.datasets.BVMRaster`): whether a query lies on the file's
  own pixels (:meth:`Grid.aligned`) and which part of a window the file holds
  (:meth:`Grid.clip`, the clipped read);
* the imagery's pixel lattice that samplers snap windows to (no size: column and
  row indices may be negative or beyond any file): :meth:`Grid.column`,
  :meth:`Grid.row`, :meth:`Grid.centre`, :meth:`Grid.window`, :meth:`Grid.locate`.

Column ``c`` spans ``left + c * xres .. left + (c + 1) * xres``; row ``r`` spans
``top - (r + 1) * yres .. top - r * yres``.

:meth:`Grid.from_bounds` snaps bounds outward to multiples of the resolution.
``rasterio.warp.aligned_target`` does the same from a transform and a size, but
it is not exactly equivalent: it recomputes the far edges as ``xoff + width * a``
(a float round trip that can move an edge lying on a grid line by one ulp, and
with it the size by a pixel) and has no tolerance for float noise, where this
snapping ignores an overshoot of less than 1e-9 pixel. Both are kept to one
implementation here.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import MaskFlags
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..checks import check_pixels, check_resolution
from ..errors import BVMNotFoundError, BVMValueError

if TYPE_CHECKING:  # only a type here: reading a grid needs no torch
    from torchgeo.datasets import GeoDataset

__all__ = [
    'Grid',
    'declared_grid',
    'lattice_at_bounds',
    'location_seed',
    'merge_fill',
    'nodata_is_the_only_mask',
]

#: How far (in pixels) a query may be off a file's pixels and still be on them.
_ALIGNED = 1e-6


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: CRS, affine transform and size in pixels.

    Args:
        crs: the CRS (None where it does not matter, e.g. a lattice of windows).
        transform: the affine transform of the upper-left corner of pixel (0, 0).
        width: width in pixels (None: the grid is an unbounded lattice).
        height: height in pixels (None: unbounded).
    """

    crs: CRS | None
    transform: Affine
    width: int | None = None
    height: int | None = None

    # -- construction ----------------------------------------------------------

    @classmethod
    def lattice(
        cls, left: float, top: float, xres: float, yres: float, crs: CRS | None = None
    ) -> Grid:
        """An unbounded lattice of pixels.

        Args:
            left: x of the left edge of column 0.
            top: y of the top edge of row 0.
            xres: pixel width.
            yres: pixel height (positive).
            crs: the CRS.

        Returns:
            The grid.
        """
        return cls(crs, Affine(xres, 0.0, left, 0.0, -yres, top))

    @classmethod
    def from_bounds(
        cls,
        bounds: Sequence[float],
        crs: CRS | str | int,
        res: float | tuple[float, float],
    ) -> Grid:
        """The grid covering ``bounds``, its edges snapped outward to ``res``.

        Args:
            bounds: (xmin, ymin, xmax, ymax) in ``crs``.
            crs: the CRS.
            res: pixel size (x, y) or one value for both.

        Returns:
            The grid.

        Raises:
            ValueError: if a resolution is not positive.
        """
        xres, yres = check_resolution(res)
        xmin, ymin, xmax, ymax = bounds
        check_pixels((xmax - xmin) / xres, (ymax - ymin) / yres, 'the grid')
        left = math.floor(xmin / xres) * xres
        top = math.ceil(ymax / yres) * yres
        width = max(1, math.ceil((xmax - left) / xres - 1e-9))
        height = max(1, math.ceil((top - ymin) / yres - 1e-9))
        transform = rasterio.transform.from_origin(left, top, xres, yres)
        return cls(CRS.from_user_input(crs), transform, width, height)

    @classmethod
    def like(cls, path: str | os.PathLike[str]) -> Grid:
        """The grid of an existing raster.

        Args:
            path: the reference raster (e.g. a Sentinel-2 band).

        Returns:
            Its grid.

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: if it has no CRS or is not north up.
        """
        if not Path(path).exists():
            raise BVMNotFoundError(f'reference raster not found: {path}')
        with rasterio.open(path) as src:
            if src.crs is None:
                raise BVMValueError(f'{path}: the reference raster has no CRS')
            grid = cls.of_file(src)
        if not grid.north_up:
            raise BVMValueError(f'{path}: the reference raster is not north up')
        return grid

    @classmethod
    def of_file(cls, src: DatasetReader) -> Grid:
        """The grid of an open raster, whatever its orientation.

        Args:
            src: the open file.

        Returns:
            Its grid (see :attr:`north_up`).
        """
        crs = CRS.from_user_input(src.crs) if src.crs is not None else None
        return cls(crs, src.transform, src.width, src.height)

    @classmethod
    def of(cls, dataset: GeoDataset) -> Grid:
        """The lattice of a dataset: its ``grid``, else anchored at its bounds.

        Anchoring at the bounds is what TorchGeo's samplers do.

        Args:
            dataset: a TorchGeo dataset.

        Returns:
            The grid.
        """
        declared = declared_grid(dataset, 'grid')
        return declared if declared is not None else lattice_at_bounds(dataset)

    # -- description -------------------------------------------------------------

    @property
    def left(self) -> float:
        """The x of the left edge of column 0."""
        return float(self.transform.c)

    @property
    def top(self) -> float:
        """The y of the top edge of row 0."""
        return float(self.transform.f)

    @property
    def xres(self) -> float:
        """Pixel width."""
        return float(self.transform.a)

    @property
    def yres(self) -> float:
        """Pixel height (positive on a north-up grid)."""
        return float(-self.transform.e)

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y), both positive."""
        return (self.transform.a, -self.transform.e)

    @property
    def north_up(self) -> bool:
        """Whether rows run south and columns east, without rotation."""
        t = self.transform
        return t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid."""
        width, height = self._size()
        xmin, ymax = self.transform @ (0, 0)
        xmax, ymin = self.transform @ (width, height)
        return (xmin, ymin, xmax, ymax)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        width, height = self._size()
        return (height, width)

    def _size(self) -> tuple[int, int]:
        if self.width is None or self.height is None:
            raise BVMValueError('an unbounded grid has no size or bounds')
        return self.width, self.height

    # -- the lattice ---------------------------------------------------------------

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
        """The ``(x, y)`` slices of a window of pixels, as a TorchGeo query.

        Args:
            column: column of the window's left pixel.
            row: row of the window's top pixel.
            width: width in pixels.
            height: height in pixels.

        Returns:
            ``slice(xmin, xmax, xres), slice(ymin, ymax, yres)``.
        """
        xres, yres = self.xres, self.yres
        xmin = self.left + column * xres
        ymax = self.top - row * yres
        return (
            slice(xmin, xmin + width * xres, xres),
            slice(ymax - height * yres, ymax, yres),
        )

    def locate(self, x: slice, y: slice) -> tuple[int, int, int, int]:
        """Snap a query to the lattice.

        Args:
            x: the x slice of a query.
            y: the y slice of a query.

        Returns:
            ``(column, row, width, height)`` of the nearest window on the grid.
        """
        xres, yres = self.xres, self.yres
        column = round((x.start - self.left) / xres)
        row = round((self.top - y.stop) / yres)
        width = max(1, round((x.stop - x.start) / xres))
        height = max(1, round((y.stop - y.start) / yres))
        return column, row, width, height

    def covering(self, bounds: Sequence[float]) -> Window:
        """The smallest window of whole pixels holding some bounds.

        Args:
            bounds: (xmin, ymin, xmax, ymax) in the grid's CRS.

        Returns:
            The window; it may reach past a sized grid's edges.
        """
        xmin, ymin, xmax, ymax = bounds
        column = math.floor((xmin - self.left) / self.xres)
        row = math.floor((self.top - ymax) / self.yres)
        width = math.ceil((xmax - self.left) / self.xres) - column
        height = math.ceil((self.top - ymin) / self.yres) - row
        return Window(column, row, max(width, 0), max(height, 0))

    def window_transform(self, column: int, row: int) -> Affine:
        """The affine transform of a window whose top-left pixel is given.

        Args:
            column: column of the window's left pixel.
            row: row of the window's top pixel.

        Returns:
            The transform.
        """
        xres, yres = self.xres, self.yres
        return Affine(
            xres, 0.0, self.left + column * xres, 0.0, -yres, self.top - row * yres
        )

    # -- files ---------------------------------------------------------------------

    def aligned(
        self,
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        shape: tuple[int, int],
    ) -> tuple[int, int] | None:
        """``(column, row)`` of a window on this grid, or None when off its pixels.

        On the grid means the same pixel size (within 1e-6 pixel over the
        window) and a whole number of pixels away (within 1e-6 pixel): the
        grid's pixels then are the window's pixels, and no resampling can change
        a value.

        Args:
            bounds: (xmin, ymin, xmax, ymax) of the window.
            res: its (x, y) resolution.
            shape: its (height, width) in pixels.

        Returns:
            The window's top-left pixel on this grid, or None.
        """
        if not self.north_up:
            return None
        height, width = shape
        xres, yres = self.xres, self.yres
        for mine, theirs, count in ((xres, res[0], width), (yres, res[1], height)):
            if abs(mine - theirs) * max(count, 1) > _ALIGNED * mine:
                return None
        return _whole_pixels_from_origin(self, bounds, xres, yres)

    def subdivided(
        self,
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        shape: tuple[int, int],
    ) -> tuple[int, int, int, int] | None:
        """A window whose pixels split this grid's evenly, or None.

        Evenly means this grid's pixel size is a whole multiple (2 or more, the
        same within 1e-6 pixel over the window) of the window's along each axis,
        and the window starts a whole number of its own pixels from this grid's
        origin: every window pixel then lies inside exactly one of this grid's,
        the one that nearest-neighbour resampling takes, with no tie.

        Args:
            bounds: (xmin, ymin, xmax, ymax) of the window.
            res: its (x, y) resolution.
            shape: its (height, width) in pixels.

        Returns:
            ``(column, row, x_factor, y_factor)``: the window's top-left pixel
            counted in window pixels from this grid's origin, and how many
            window pixels make one of this grid's along x and y.
        """
        if not self.north_up:
            return None
        height, width = shape
        factors = []
        for mine, theirs, count in (
            (self.xres, res[0], width),
            (self.yres, res[1], height),
        ):
            factor = round(mine / theirs)
            if factor < 2 or abs(mine - factor * theirs) * count > _ALIGNED * mine:
                return None
            factors.append(factor)
        start = _whole_pixels_from_origin(self, bounds, res[0], res[1])
        return None if start is None else (*start, factors[0], factors[1])

    def clip(
        self, column: int, row: int, width: int, height: int
    ) -> tuple[Window, slice, slice] | None:
        """The part of a window that lies on this (sized) grid: the clipped read.

        Args:
            column: the window's left column on this grid.
            row: its top row.
            width: its width in pixels.
            height: its height in pixels.

        Returns:
            ``(window, rows, columns)``: what to read from the file, and where it
            goes in an array of the whole window; None when nothing overlaps.
        """
        grid_width, grid_height = self._size()
        c0, r0 = max(column, 0), max(row, 0)
        c1, r1 = min(column + width, grid_width), min(row + height, grid_height)
        if c0 >= c1 or r0 >= r1:
            return None
        return (
            Window(c0, r0, c1 - c0, r1 - r0),
            slice(r0 - row, r1 - row),
            slice(c0 - column, c1 - column),
        )

    def windows(self, block_size: int) -> Iterator[Window]:
        """The grid cut into blocks, row by row.

        Args:
            block_size: block width and height in pixels.

        Yields:
            The blocks' windows.
        """
        width, height = self._size()
        for row in range(0, height, block_size):
            for col in range(0, width, block_size):
                size = min(block_size, width - col), min(block_size, height - row)
                yield Window(col, row, *size)


def _whole_pixels_from_origin(
    grid: Grid, bounds: tuple[float, float, float, float], xres: float, yres: float
) -> tuple[int, int] | None:
    """A window's top-left corner in pixels of ``xres`` x ``yres`` from a grid's origin.

    None unless it is a whole number of them (within 1e-6 pixel).
    """
    column = (bounds[0] - grid.left) / xres
    row = (grid.top - bounds[3]) / yres
    column_int, row_int = round(column), round(row)
    if abs(column - column_int) > _ALIGNED or abs(row - row_int) > _ALIGNED:
        return None
    return column_int, row_int


def nodata_is_the_only_mask(src: DatasetReader) -> bool:
    """Whether a file masks no pixel but those equal to its nodata value.

    False when some band has an internal mask or an alpha band: reading such a
    file needs GDAL's mask band (``masked=True``, or ``rasterio.merge``).

    Args:
        src: the open file.

    Returns:
        True if comparing with the nodata value finds every masked pixel.
    """
    return all(
        flags in ([MaskFlags.all_valid], [MaskFlags.nodata])
        for flags in src.mask_flag_enums
    )


def merge_fill(src: DatasetReader) -> float | None:
    """What ``rasterio.merge.merge`` puts where a file has no valid pixel.

    Args:
        src: the open file.

    Returns:
        Its nodata value (0 without one), or None when merge would mask other
        pixels than those equal to the nodata value (see
        :func:`nodata_is_the_only_mask`) or when the nodata value does not fit
        the file's integer dtype: reads of such files are left to merge.
    """
    if not nodata_is_the_only_mask(src):
        return None
    nodata = src.nodata
    if nodata is None:
        return 0
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind not in 'iu' or not float(nodata).is_integer():
        return None
    info = np.iinfo(dtype)
    return nodata if info.min <= nodata <= info.max else None


def lattice_at_bounds(dataset: GeoDataset) -> Grid:
    """The lattice anchored at a dataset's bounds, as TorchGeo's samplers anchor it.

    Args:
        dataset: a TorchGeo dataset.

    Returns:
        The lattice at the dataset's resolution, in its CRS.
    """
    xmin, _, _, ymax = map(float, dataset.index.total_bounds)
    xres, yres = map(float, dataset.res)
    return Grid.lattice(xmin, ymax, xres, yres, dataset.crs)


def declared_grid(dataset: object, attribute: str) -> Grid | None:
    """The grid a dataset declares as one of its attributes, if it does.

    Args:
        dataset: any dataset.
        attribute: the attribute's name (``'grid'``, ``'native_grid'``).

    Returns:
        The grid, or None where the attribute is missing or no :class:`Grid`.
    """
    grid = getattr(dataset, attribute, None)
    return grid if isinstance(grid, Grid) else None


def location_seed(seed: int, x: slice, y: slice) -> list[int]:
    """A seed for numpy made of ``seed`` and a window's coordinates.

    The same window gets the same seed in every process and run, so choices made
    per window (its date, a redrawn crop) do not depend on the order of queries.

    Args:
        seed: the base seed.
        x: the window's x slice.
        y: the window's y slice.

    Returns:
        Entropy for :func:`numpy.random.default_rng`.
    """
    packed = struct.pack(
        '<4d', float(x.start), float(x.stop), float(y.start), float(y.stop)
    )
    digest = hashlib.sha256(packed).digest()
    return [seed, int.from_bytes(digest[:8], 'little')]
