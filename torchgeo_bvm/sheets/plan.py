"""The prediction plan: which sheets a map run covers, with what tiles and dates.

A map run (``torchgeo predict`` into fused maps) is decided before anything is
read. :meth:`PredictionPlan.build` lays the chosen sheets of a
:class:`~torchgeo_bvm.sheets.layout.SheetLayout` on the imagery's pixel grid and
says, per sheet (:class:`SheetPlan`):

* its **grid**: the sheet's pixel box on the imagery's grid (the pixels whose
  centre lies in the sheet), the grid of its files;
* its **mask**: the pixels that may carry a class (inside the sheet, Flanders
  and the data; the scanline pixel rule of the labels);
* its **tiles**: the tiling of the sheet (:meth:`SplitRegion.tiles`);
* its **observations**: the acquisition dates of the period that overlap its
  tiles (or, for time-series data, the periods, one observation each), and for
  each the tiles it covers.

The prediction sampler (:class:`~torchgeo_bvm.samplers.SheetObservationSampler`)
yields the plan's queries (:meth:`PredictionPlan.queries`), each a
:class:`TileQuery`: a plain TorchGeo ``(x, y, t)`` that also names its sheet,
observation and tile; the dataset copies these ids into the sample, and the
writer (:class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter`) places
each prediction by them, whatever order the samples come in. Nothing here
reads a file or imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ..checks import check_count, check_numbers
from ..errors import BVMValueError
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import polygon_coverage
from .codes import Sheet
from .layout import SheetLayout, SheetSelection, SplitRegion

__all__ = ['PredictionPlan', 'SheetPlan', 'TileQuery', 'period_name', 'period_words']

#: The ids a :class:`TileQuery` carries, as the sample keys the dataset gives them.
TILE_IDS = ('sheet', 'observation', 'tile')


class TileQuery(tuple[slice, slice, slice]):
    """A TorchGeo query ``(x, y, t)`` of a prediction plan that names its tile.

    Any ``GeoDataset`` reads it as the plain ``GeoSlice`` it is; a dataset that
    knows it (:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2` reading for
    prediction) copies :attr:`ids` into the sample.

    Args:
        query: ``(x, y, t)`` slices.
        sheet: the sheet's position in :attr:`PredictionPlan.sheets`.
        observation: the observation's position in the sheet's ``times``.
        tile: the tile's position in the sheet's ``tiles``.
    """

    sheet: int
    observation: int
    tile: int

    def __new__(
        cls, query: Iterable[slice], sheet: int, observation: int, tile: int
    ) -> TileQuery:
        """Make the query (see the class)."""
        made = super().__new__(cls, tuple(query))
        made.sheet, made.observation, made.tile = sheet, observation, tile
        return made

    def __getnewargs__(self) -> tuple[tuple[slice, ...], int, int, int]:
        """What :mod:`pickle` passes to ``__new__`` (DataLoader workers)."""
        return tuple(self), self.sheet, self.observation, self.tile

    @property
    def ids(self) -> dict[str, int]:
        """The sheet, observation and tile, by the sample keys of :data:`TILE_IDS`.

        Returns:
            The ids.
        """
        values = (self.sheet, self.observation, self.tile)
        return dict(zip(TILE_IDS, values, strict=True))


@dataclass(frozen=True)
class SheetPlan:
    """One sheet of a prediction plan.

    Args:
        sheet: the sheet.
        index: its index into the layout's sheets.
        grid: its pixel box on the imagery's grid (CRS, transform, size).
        origin: ``(column, row)`` of the box's first pixel on the imagery's grid.
        region: where its pixels may carry a class (sheet, Flanders, data).
        tiles: ``(n, 2)`` column and row of each tile's top-left pixel on the
            imagery's grid.
        times: the time slice of each observation, in the order predicted.
        tiles_of: per observation, the positions in ``tiles`` of the tiles it
            covers, in order.
    """

    sheet: Sheet
    index: int
    grid: Grid
    origin: tuple[int, int]
    region: BaseGeometry
    tiles: NDArray[np.int64]
    times: tuple[slice, ...]
    tiles_of: tuple[NDArray[np.int64], ...]

    @property
    def samples(self) -> int:
        """How many tiles are predicted on this sheet, all observations together."""
        return sum(len(positions) for positions in self.tiles_of)

    def mask(self) -> NDArray[np.bool_]:
        """The pixels of :attr:`grid` that may carry a class.

        Returns:
            Boolean ``[height, width]``: the pixel's centre lies in
            :attr:`region` (the pixel rule of the labels and the samplers).
        """
        return polygon_coverage(
            shapely.get_parts(self.region), self.grid.transform, self.grid.shape
        )

    def tile_position(self, tile: int) -> tuple[int, int]:
        """Where a tile starts on the sheet's own grid.

        Args:
            tile: the tile's position in :attr:`tiles`.

        Returns:
            ``(column, row)`` relative to :attr:`grid` (negative where the tile
            reaches past the sheet's west or north edge).
        """
        column, row = (int(v) for v in self.tiles[tile])
        return column - self.origin[0], row - self.origin[1]


@dataclass(frozen=True)
class PredictionPlan:
    """Every sheet, tile and observation of a map run, in the order predicted.

    Build it with :meth:`build`.

    Args:
        grid: the imagery's pixel grid (lattice).
        size: tile size in pixels.
        stride: step between tiles in pixels.
        sheets: the sheets with observations, in layout order.
        years: the period's years (None: every year).
        months: the period's months (None: every month).
    """

    grid: Grid
    size: int
    stride: int
    sheets: tuple[SheetPlan, ...]
    years: tuple[int, ...] | None
    months: tuple[int, ...] | None

    @classmethod
    def build(
        cls,
        layout: SheetLayout,
        grid: Grid,
        domain: BaseGeometry | None,
        index: pd.DataFrame,
        *,
        size: int,
        stride: int,
        sheets: SheetSelection | None = None,
        years: Iterable[int] | None = None,
        months: Iterable[int] | None = None,
        periods: Sequence[slice] | None = None,
    ) -> PredictionPlan:
        """Plan the map of some sheets for a period.

        Args:
            layout: the sheets, in the imagery's CRS.
            grid: the imagery's pixel grid.
            domain: where data exist, inside Flanders (None: anywhere).
            index: the imagery's index (an interval index of dates and a
                ``geometry`` column of footprints), as TorchGeo datasets hold it.
            size: tile size in pixels.
            stride: step between tiles in pixels (at most ``size``).
            sheets: the sheets to map (default: every sheet of the layout
                that holds data; a sheet named by its own code must hold some).
            years: only dates in these years.
            months: only dates in these months.
            periods: time slices, one observation each (time-series data); None:
                every date is one observation.

        Returns:
            The plan.

        Raises:
            BVMValueError: if the period holds no date of the imagery, a sheet
                named holds no data or no date in the period, the tiling is too
                large, or no sheet has imagery in the period.
        """
        chosen = required = None
        if sheets is not None:
            chosen = sheets.indices(layout)
            required = sheets.indices(layout, exact=True)
        region = SplitRegion(layout, None, grid, domain, chosen, required or ())
        years_ = check_numbers(years, 'years', 2015, 2100)
        months_ = check_numbers(months, 'months', 1, 12)
        period = period_words(years_, months_)
        index = _in_period(index, years_, months_, period)
        tiles = region.tiles(size, stride)
        planned = []
        for position, index_ in enumerate(region.indices):
            own = np.array(
                [(c, r) for i, c, r in tiles if i == index_], dtype=np.int64
            ).reshape(-1, 2)
            times, tiles_of = _observations(index, grid, size, own, periods)
            if not times:
                if sheets is not None:
                    raise BVMValueError(
                        f'sheet {layout.sheets[index_].code} has no imagery in the '
                        f'period ({period})'
                    )
                continue
            c0, r0, c1, r1 = layout.pixel_box(index_, grid)
            transform = grid.window_transform(c0, r0)
            sheet_grid = Grid(layout.crs, transform, c1 - c0, r1 - r0)
            planned.append(
                SheetPlan(
                    layout.sheets[index_],
                    index_,
                    sheet_grid,
                    (c0, r0),
                    region.allowed[position],
                    own,
                    times,
                    tiles_of,
                )
            )
        if not planned:
            raise BVMValueError(f'no sheet has imagery in the period ({period})')
        return cls(
            grid,
            size,
            stride,
            tuple(planned),
            None if years_ is None else tuple(sorted(years_)),
            None if months_ is None else tuple(sorted(months_)),
        )

    @property
    def period(self) -> str:
        """The period in words, e.g. ``'2020'`` or ``'2020, 2021, months 4, 7'``."""
        return period_words(self.years, self.months)

    @property
    def name(self) -> str:
        """The period as a folder name, e.g. ``'2020'`` or ``'2021_m05-06'``."""
        return period_name(self.years, self.months)

    @property
    def samples(self) -> int:
        """How many tiles are predicted, every sheet and observation together."""
        return sum(sheet.samples for sheet in self.sheets)

    def ranks(self, world_size: int) -> list[int]:
        """Deal whole sheets to processes: the rank of each sheet.

        The sheet with the most samples first, each to the rank with the fewest
        samples so far (ties to the lower rank), so no raster is split between
        processes.

        Args:
            world_size: the number of processes.

        Returns:
            The rank of each sheet of :attr:`sheets`.

        Raises:
            BVMValueError: if there are more processes than sheets.
        """
        world_size = check_count(world_size, 'world_size')
        if world_size > len(self.sheets):
            raise BVMValueError(
                f'{world_size} ranks for {len(self.sheets)} sheets: each rank '
                f'predicts whole sheets, so use at most {len(self.sheets)} devices'
            )
        samples = [sheet.samples for sheet in self.sheets]
        load = [0] * world_size
        owner = [0] * len(samples)
        for item in sorted(range(len(samples)), key=lambda i: (-samples[i], i)):
            rank = min(range(world_size), key=lambda r: (load[r], r))
            owner[item] = rank
            load[rank] += samples[item]
        return owner

    def queries(self, positions: Iterable[int] | None = None) -> Iterator[TileQuery]:
        """The queries of some sheets, in the order they are predicted.

        Sheet by sheet, observation by observation (in time order), then the
        tiles row by row.

        Args:
            positions: positions in :attr:`sheets` (default: every sheet).

        Yields:
            Each sample's query, naming its sheet, observation and tile.
        """
        wanted = range(len(self.sheets)) if positions is None else positions
        for position in wanted:
            sheet = self.sheets[position]
            for observation, (time, tiles) in enumerate(
                zip(sheet.times, sheet.tiles_of, strict=True)
            ):
                for tile in tiles.tolist():
                    column, row = sheet.tiles[tile].tolist()
                    x, y = self.grid.window(column, row, self.size, self.size)
                    yield TileQuery((x, y, time), position, observation, tile)


def period_words(years: Iterable[int] | None, months: Iterable[int] | None) -> str:
    """A period in words, e.g. ``'2020'``, ``'every date'``, ``'2021, months 5, 6'``.

    Args:
        years: the years (None: every year).
        months: the months (None: every month).

    Returns:
        The words.
    """
    year_text = ', '.join(map(str, sorted(years or [])))
    if not months:
        return year_text or 'every date'
    return f'{year_text or "every year"}, months {", ".join(map(str, sorted(months)))}'


def period_name(years: Iterable[int] | None, months: Iterable[int] | None) -> str:
    """A period as a folder name: ``'2020'``, ``'2020_2021'``, ``'2021_m05-06'``.

    Args:
        years: the years (None: every year; ``'all-dates'`` without months).
        months: the months (None: every month).

    Returns:
        The name (letters, digits, ``_`` and ``-`` only).
    """
    year_text = '_'.join(map(str, sorted(years or [])))
    if not months:
        return year_text or 'all-dates'
    month_text = '-'.join(f'{m:02d}' for m in sorted(months))
    return f'{year_text or "all-years"}_m{month_text}'


def _in_period(
    index: pd.DataFrame,
    years: frozenset[int] | None,
    months: frozenset[int] | None,
    period: str,
) -> pd.DataFrame:
    """The index entries whose date starts in the period."""
    starts = pd.DatetimeIndex(cast(pd.IntervalIndex, index.index).left)
    keep = np.ones(len(index), dtype=bool)
    if years is not None:
        keep &= np.isin(starts.year, sorted(years))
    if months is not None:
        keep &= np.isin(starts.month, sorted(months))
    if not keep.any():
        found = sorted({f'{s:%Y-%m}' for s in starts})
        raise BVMValueError(
            f'no imagery in the period ({period}): the imagery has dates '
            f'in {", ".join(found) or "no month"}'
        )
    return index[keep]


def _observations(
    index: pd.DataFrame,
    grid: Grid,
    size: int,
    tiles: NDArray[np.int64],
    periods: Sequence[slice] | None,
) -> tuple[tuple[slice, ...], tuple[NDArray[np.int64], ...]]:
    """A sheet's observations and, for each, the tiles whose box its footprint meets."""
    left = grid.left + tiles[:, 0] * grid.xres
    top = grid.top - tiles[:, 1] * grid.yres
    boxes = shapely.box(left, top - size * grid.yres, left + size * grid.xres, top)
    near = index[index.geometry.intersects(shapely.union_all(boxes))]
    intervals = cast(pd.IntervalIndex, near.index)
    if periods is None:
        groups = [
            (slice(i.left, i.right), near.geometry[intervals == i])
            for i in sorted(pd.unique(intervals))
        ]
    else:
        groups = []
        for period in periods:
            start, stop = pd.Timestamp(period.start), pd.Timestamp(period.stop)
            inside = (intervals.left <= stop) & (intervals.right >= start)
            groups.append((period, near.geometry[inside]))
    times: list[slice] = []
    tiles_of: list[NDArray[np.int64]] = []
    for time, footprints in groups:
        if len(footprints) == 0:
            continue
        covered = shapely.intersects(boxes, shapely.union_all(footprints.values))
        if covered.any():
            times.append(time)
            tiles_of.append(np.flatnonzero(covered).astype(np.int64))
    return tuple(times), tuple(tiles_of)
