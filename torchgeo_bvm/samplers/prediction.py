"""The prediction sampler: every tile of some sheets on every observation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from torch.utils.data import DistributedSampler
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice
from torchgeo.samplers import GeoSampler

from ..checks import MAX_PATCH_PIXELS, check_count, check_numbers
from ..errors import BVMValueError
from .sheet import SheetGridSampler

__all__ = [
    'SheetObservationSampler',
    'SheetObservations',
]


@dataclass(frozen=True)
class SheetObservations:
    """What prediction does on one sheet: its tiles and observations, in order.

    Args:
        sheet: the sheet's index into the layout's sheets.
        tiles: ``(n, 2)`` column and row of each tile's top-left pixel on the
            grid.
        times: the time slice of each observation, in the order predicted.
        tiles_of: per observation, the positions in ``tiles`` of the tiles it
            covers, in order.
    """

    sheet: int
    tiles: NDArray[np.int64]
    times: tuple[slice, ...]
    tiles_of: tuple[NDArray[np.int64], ...]

    @property
    def samples(self) -> int:
        """How many tiles are predicted on this sheet, all observations together."""
        return sum(len(positions) for positions in self.tiles_of)


class SheetObservationSampler(GeoSampler, DistributedSampler[GeoSlice]):
    """Every tile of some sheets on every observation of a period, sheet by sheet.

    What ``torchgeo predict`` reads to make fused maps
    (:class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter`):

    * **tiles**: the tiling of each sheet by :class:`SheetGridSampler`
      (``size``, ``stride``; any split, or the ``sheets`` named);
    * **observations**: by default every acquisition date of the dataset's index
      whose start lies in ``years`` and ``months`` (all when None) and whose
      footprint overlaps the sheet's tiles; a tile is predicted on a date when
      the date's footprint overlaps it. With ``periods`` (datasets that return a
      time series per query), each period in which some date overlaps the sheet
      is one observation, read once per tile.

    **Order**: sheet by sheet; within a sheet observation by observation (in
    time order), then its tiles row by row. The writer relies on it: a sheet is
    complete when its last sample has come, and a pixel's clear observations
    are counted once each.

    **Ranks**: with ``world_size > 1`` whole sheets are dealt to the ranks (the
    sheet with the most samples first, each to the rank with the fewest
    samples so far, ties to the lower rank), and each rank's sampler yields its
    own sheets only, so no raster is split between processes. It is a
    :class:`~torch.utils.data.DistributedSampler` so that Lightning, which
    would otherwise wrap it in one that deals single samples, uses it as it is.

    Args:
        dataset: the dataset (its index gives the dates and footprints).
        size: tile size in pixels.
        stride: step between tiles in pixels (default ``size // 2``: tiles
            overlap by half, so the writer's taper blends them without seams).
        sheets: sheet codes, ``kbl`` numbers or split names (default: every
            sheet of every split that holds data).
        years: only dates in these years.
        months: only dates in these months.
        periods: time slices, one observation each (time-series datasets);
            None: every date is one observation.
        rank: this process's rank.
        world_size: the number of processes.

    Raises:
        ValueError: if the period holds no date of the imagery, a sheet named
            holds no data or no date in the period, or there are more ranks than
            sheets with observations.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        size: int = 256,
        stride: int | None = None,
        sheets: str | Sequence[int | str] | None = None,
        years: Iterable[int] | None = None,
        months: Iterable[int] | None = None,
        periods: Sequence[slice] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        world_size = check_count(world_size, 'world_size')
        rank = check_count(rank, 'rank', minimum=0, maximum=world_size - 1)
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        stride = max(size // 2, 1) if stride is None else stride
        self.tiling = SheetGridSampler(
            dataset, split=None, size=size, stride=stride, sheets=sheets
        )
        self.years = check_numbers(years, 'years', 2015, 2100)
        self.months = check_numbers(months, 'months', 1, 12)
        index = self._in_period(dataset.index)
        plans = []
        for sheet in self.tiling.region.indices:
            plan = self._observations(index, sheet, periods)
            if plan.times:
                plans.append(plan)
            elif sheets is not None:
                raise BVMValueError(
                    f'sheet {self.tiling.layout.sheets[sheet].code} has no imagery '
                    f'in the period ({self.period})'
                )
        if not plans:
            raise BVMValueError(f'no sheet has imagery in the period ({self.period})')
        if world_size > len(plans):
            raise BVMValueError(
                f'{world_size} ranks for {len(plans)} sheets: each rank predicts '
                f'whole sheets, so use at most {len(plans)} devices'
            )
        #: Every sheet's plan, in layout order (all ranks).
        self.plans: list[SheetObservations] = plans
        #: The rank of each plan.
        self.ranks: list[int] = _deal([p.samples for p in plans], world_size)
        #: This rank's plans, in the order they are yielded.
        self.own: list[SheetObservations] = [
            p for p, r in zip(plans, self.ranks, strict=True) if r == rank
        ]
        # What torch's DistributedSampler would hold.
        self.dataset = dataset
        self.num_replicas = world_size
        self.rank = rank
        self.epoch = 0
        self.shuffle = False
        self.seed = 0
        self.drop_last = False
        self._length = sum(p.samples for p in self.own)
        self.num_samples = self.total_size = self._length

    @property
    def spatial_sampler(self) -> SheetGridSampler:
        """The tiling (as a composed sampler's ``spatial_sampler``)."""
        return self.tiling

    @property
    def period(self) -> str:
        """The period in words, e.g. ``'2020'`` or ``'2020, 2021, months 4, 7'``."""
        years = ', '.join(map(str, sorted(self.years or [])))
        months = ', '.join(map(str, sorted(self.months or [])))
        if not self.months:
            return years or 'every date'
        return f'{years or "every year"}, months {months}'

    def _in_period(self, index: pd.DataFrame) -> pd.DataFrame:
        starts = pd.DatetimeIndex(cast(pd.IntervalIndex, index.index).left)
        keep = np.ones(len(index), dtype=bool)
        if self.years is not None:
            keep &= np.isin(starts.year, sorted(self.years))
        if self.months is not None:
            keep &= np.isin(starts.month, sorted(self.months))
        if not keep.any():
            found = sorted({f'{s:%Y-%m}' for s in starts})
            raise BVMValueError(
                f'no imagery in the period ({self.period}): the imagery has dates '
                f'in {", ".join(found) or "no month"}'
            )
        return index[keep]

    def _observations(
        self,
        index: pd.DataFrame,
        sheet: int,
        periods: Sequence[slice] | None,
    ) -> SheetObservations:
        tiling = self.tiling
        tiles = np.array(
            [(c, r) for i, c, r in tiling.tiles if i == sheet], dtype=np.int64
        ).reshape(-1, 2)
        grid, size = tiling.grid, tiling.size
        left = grid.left + tiles[:, 0] * grid.xres
        top = grid.top - tiles[:, 1] * grid.yres
        boxes = shapely.box(left, top - size * grid.yres, left + size * grid.xres, top)
        near = index[index.geometry.intersects(shapely.union_all(boxes))]
        intervals = cast(pd.IntervalIndex, near.index)
        times: list[slice] = []
        tiles_of: list[NDArray[np.int64]] = []
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
        for time, footprints in groups:
            if len(footprints) == 0:
                continue
            covered = shapely.intersects(boxes, shapely.union_all(footprints.values))
            if covered.any():
                times.append(time)
                tiles_of.append(np.flatnonzero(covered).astype(np.int64))
        return SheetObservations(sheet, tiles, tuple(times), tuple(tiles_of))

    def __iter__(self) -> Iterator[GeoSlice]:
        """Yield this rank's samples: sheet, observation, then tile.

        Yields:
            ``(x, y, t)`` of each sample.
        """
        size = self.tiling.size
        for plan in self.own:
            for time, positions in zip(plan.times, plan.tiles_of, strict=True):
                for column, row in plan.tiles[positions].tolist():
                    x, y = self.tiling.grid.window(column, row, size, size)
                    yield x, y, time

    def set_epoch(self, epoch: int) -> None:
        """Note the epoch (every epoch yields the same samples).

        Args:
            epoch: the epoch.
        """
        self.epoch = epoch


def _deal(samples: Sequence[int], ranks: int) -> list[int]:
    """Deal items to ranks: largest first, each to the least loaded rank."""
    load = [0] * ranks
    owner = [0] * len(samples)
    for item in sorted(range(len(samples)), key=lambda i: (-samples[i], i)):
        rank = min(range(ranks), key=lambda r: (load[r], r))
        owner[item] = rank
        load[rank] += samples[item]
    return owner
