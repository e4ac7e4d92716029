"""Samplers that draw crops per map sheet, with mirrored borders.

The paper splits Flanders by map sheet (:class:`~torchgeo_bvm.sheets.SplitScheme`)
and never lets a crop show pixels of another sheet: where a crop reaches past its
sheet's edge, the part outside is filled by reflecting the pixels inside the sheet
and carries no label. Two samplers implement this:

* :class:`KaartbladSampler` (training): random crops, each centred on a pixel that
  lies inside one sheet of the split, inside Flanders and inside the imagery;
* :class:`KaartbladGridSampler` (validation, test): a fixed tiling of every
  sheet of the split.

A third, :class:`KaartbladObservationSampler` (prediction maps), takes the tiles
of any sheets, of any split, on every observation of a period, sheet by sheet
and whole sheets per rank; its dataset reads them without mirroring, since
without labels no split can leak into another.

**How the sheet reaches the dataset.** A query is a plain TorchGeo ``GeoSlice``
(``x``, ``y`` slices on the imagery's pixel grid, plus the time slice that a
temporal sampler adds through ``@``), so the samplers compose with TorchGeo's
temporal samplers and any ``GeoDataset`` can read their queries. The dataset
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`) finds the sheet again from the
query: it is the sheet of the split whose polygon contains the centre pixel of the
window (both sides use :class:`~torchgeo_bvm.layout.SheetLayout`, so they agree
pixel for pixel). For the
rare evaluation tile whose centre pixel falls just outside its sheet (sheet edges
are not grid-aligned outside EPSG:31370), it is the sheet of the split that
overlaps the window most. The dataset then reads the window clipped to that sheet
and fills the rest by reflection
(:func:`~torchgeo_bvm.layout.mirror_sources_from_extent`).

**Reach past the edge.** The issue asks both for a centre pixel inside the sheet
and for crops reaching up to ``patch_size - 1`` pixels past the edge; the two
cannot hold together. The centre rule wins: it is what lets the dataset recover
the sheet from a plain query, and it guarantees every crop a labelled centre. A
crop therefore reaches at most ``patch_size // 2`` pixels past its sheet's edge,
and every labelled pixel can appear at every position of the half of the patch
that faces the inside of its sheet (the paper's code padded by 255 px and cut
crops anywhere, so up to 255 of 256 columns could be mirror).

**Pixel grid.** Windows are snapped to the imagery's pixel grid
(:class:`~torchgeo_bvm.pixelgrid.Grid`, the dataset's ``grid`` when it is a
:class:`~torchgeo_bvm.layout.SheetDataset`, else anchored at the dataset's bounds
like TorchGeo's samplers), so data already on that grid is read without
resampling. What else the samplers take from a dataset (its layout, scheme,
sheets and Flanders region) is named by :class:`~torchgeo_bvm.layout.SheetDataset`.

The layout helpers that used to live here (``SheetLayout``, ``SplitRegion``,
``reflect_index``, ``mirror_sources_from_extent``, ``IndexArrays``,
``CachedBounds``) are still importable from this module under their names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import shapely
from numpy.random import BitGenerator, Generator, RandomState, SeedSequence
from numpy.typing import NDArray
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from torch.utils.data import DistributedSampler
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice
from torchgeo.samplers import GeoSampler, RandomTimestampSampler, SpatialSampler

from .checks import (
    MAX_PATCH_PIXELS,
    MAX_TILES,
    check_count,
    check_numbers,
    check_seed,
)
from .datasets import CachedBounds as CachedBounds, IndexArrays
from .datasets.series import calendar_year
from .errors import BVMValueError
from .layout import (
    SheetDataset,
    SheetLayout,
    SplitRegion,
    crop_domain,
    mirror_sources_from_extent as mirror_sources_from_extent,
    reflect_index as reflect_index,
)
from .pixelgrid import Grid, location_seed
from .sheets import Sheet, SplitScheme

__all__ = [
    'CalendarYearSampler',
    'CentreTimestampSampler',
    'KaartbladGridSampler',
    'KaartbladObservationSampler',
    'KaartbladSampler',
    'SheetObservations',
]

Seed = int | BitGenerator | Generator | RandomState | SeedSequence | None


def _seed(generator: Seed) -> Seed:
    """A seed checked as a seed (not negative, not a bool), or the generator."""
    if isinstance(generator, int | float | str):
        return check_seed(generator, 'generator')
    return generator


def _sheet_context(
    dataset: GeoDataset,
    scheme: SplitScheme | None,
    numbers: Sequence[int | str] | None,
) -> tuple[Grid, SheetLayout, BaseGeometry | None]:
    """The grid, sheet layout and Flanders region a sampler uses for a dataset."""
    if not isinstance(dataset, SheetDataset):
        return (
            Grid.of(dataset),
            SheetLayout(scheme or SplitScheme(), dataset.crs, numbers),
            None,
        )
    if isinstance(dataset.layout, SheetLayout) and scheme is None and numbers is None:
        layout = dataset.layout
    else:
        layout = SheetLayout(
            scheme or dataset.scheme or SplitScheme(),
            dataset.crs,
            dataset.numbers if numbers is None else numbers,
        )
    return Grid.of(dataset), layout, dataset.flanders_region


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
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        if length is not None:
            # 0 is no "default": None is.
            length = check_count(length, 'length')
        super().__init__(dataset, roi=roi)
        self.size = size
        self.grid, self.layout, flanders = _sheet_context(dataset, scheme, numbers)
        domain = crop_domain(self.geometry, flanders)
        self.region = SplitRegion(self.layout, split, self.grid, domain)
        self.generator = np.random.default_rng(_seed(generator))
        pixels = self.region.area / (self.grid.xres * self.grid.yres)
        self._length = (
            length if length is not None else max(1, int(pixels // self.size**2))
        )

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
        split: the split to tile, or None for every split.
        size: tile size in pixels.
        stride: step between tiles in pixels (default ``size``).
        scheme: the split scheme (default: the dataset's, else the paper's).
        numbers: ``kbl`` sheet numbers (default: the dataset's, else all 43).
        roi: an extra region of interest in the dataset's CRS.
        sheets: only these sheets: sheet codes, ``kbl`` numbers or split names
            (:meth:`~torchgeo_bvm.layout.SheetLayout.select`), those that hold
            data; a sheet named by its own code must. Default: every sheet of
            ``split`` that holds data.

    Raises:
        ValueError: if ``size`` or ``stride`` is not positive, ``stride > size``,
            the split has no data, or a sheet of ``sheets`` is unknown or holds
            no data.
    """

    strategy = 'sequential'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        split: str | None = 'val',
        size: int = 256,
        stride: int | None = None,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        roi: Polygon | None = None,
        sheets: str | Sequence[int | str] | None = None,
    ) -> None:
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        stride = size if stride is None else check_count(stride, 'stride')
        if stride > size:
            raise BVMValueError(
                f'need 1 <= stride <= size, got size={size}, stride={stride}: a stride '
                'larger than the tile would leave pixels uncovered'
            )
        super().__init__(dataset, roi=roi)
        self.size = size
        self.stride = stride
        self.grid, self.layout, flanders = _sheet_context(dataset, scheme, numbers)
        domain = crop_domain(self.geometry, flanders)
        indices, required = None, []
        if sheets is not None:
            indices = self.layout.select(sheets)
            required = self.layout.select(sheets, exact=True)
            if split is not None:
                indices = [i for i in indices if self.layout.splits[i] == split]
                if not indices:
                    raise BVMValueError(
                        f'none of the sheets {sheets!r} belongs to split {split!r}'
                    )
        self.region = SplitRegion(
            self.layout, split, self.grid, domain, indices, required
        )
        boxes = [self.sheet_pixels(index) for index in self.region.indices]
        candidates = sum(
            len(self._starts(r0, r1)) * len(self._starts(c0, c1))
            for c0, r0, c1, r1 in boxes
        )
        if candidates > MAX_TILES:
            raise BVMValueError(
                f'size={size}, stride={stride} cut the {split or "chosen"} sheets into '
                f'{candidates:,} tiles, more than the limit of {MAX_TILES:,}; use a '
                'larger size or stride'
            )
        self.tiles: list[tuple[int, int, int]] = []
        for k, index in enumerate(self.region.indices):
            self.tiles += self._tile_sheet(index, self.region.allowed[k], boxes[k])
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
            index, self.grid.window_transform(c0, r0), (r1 - r0 + 1, c1 - c0 + 1)
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
        self,
        index: int,
        allowed: BaseGeometry,
        pixels: tuple[int, int, int, int],
    ) -> list[tuple[int, int, int]]:
        c0, r0, c1, r1 = pixels
        tiles = []
        for row in self._starts(r0, r1):
            for column in self._starts(c0, c1):
                x, y = self.grid.window(column, row, self.size, self.size)
                if allowed.intersects(box(x.start, y.start, x.stop, y.stop)):
                    tiles.append((index, column, row))
        return tiles

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
        super().__init__(dataset, toi=toi, generator=_seed(generator))
        self.per_location = per_location
        self.seed = check_seed(seed)
        self._length = 1

    def _init_subset(
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> pd.IntervalIndex:
        x, y = location
        if x.start is None:
            return super()._init_subset(location)
        # ``self.index.cx[cx:cx, cy:cy]`` and TemporalSampler._init_subset's
        # ``.cx[x, y]``, without building two GeoDataFrames per sample (about
        # 2 ms, as long as reading the sample): the same rows, in the same order
        # (IndexArrays, torchgeo_bvm.datasets._fastpath).
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
            # Mirrors RandomTimestampSampler._iter_subset of torchgeo 0.10.1:
            # ``pd.unique(...).to_series().sample(frac=1, random_state=generator)``
            # is ``generator.choice(n, n, replace=False)`` over the unique
            # intervals in order of appearance: the same draws, the same dates,
            # without a Series per sample (test_centre_timestamp_sampler_draws_
            # like_pandas checks it against pandas).
            unique = pd.unique(self._init_subset(location))
            order = self.generator.choice(len(unique), size=len(unique), replace=False)
            x, y = location
            for k in order.tolist():
                yield x, y, slice(unique[k].left, unique[k].right)
            return
        intervals = sorted(pd.unique(self._init_subset(location)))
        rng = np.random.default_rng(location_seed(self.seed, *location))
        order = rng.permutation(len(intervals))
        x, y = location
        for k in order.tolist():
            yield x, y, slice(intervals[k].left, intervals[k].right)


class CalendarYearSampler(CentreTimestampSampler):
    """One calendar year per location: the period of a time-series sample.

    For datasets that return a time series per query (such as
    :class:`~torchgeo_bvm.datasets.Sentinel2TOC` with ``time_series=True``),
    the time slice of a query is the sample's period. This sampler gives each
    location one calendar year (``YYYY-01-01`` to ``YYYY-12-31``, see
    :func:`~torchgeo_bvm.datasets.series.calendar_year`): ``year`` when given
    (evaluation: the same period for every tile), else a year drawn uniformly
    among the years of the dates covering the window's centre (falling back to
    the window, as :class:`CentreTimestampSampler`). Exactly one period is
    yielded per location (``len() == 1``)::

        sampler = KaartbladSampler(ds, split='train', size=256, generator=0) @ (
            CalendarYearSampler(ds, generator=1))

    Args:
        dataset: the dataset.
        year: the year of every location (default: drawn per location).
        toi: time of interest (default: the dataset's).
        generator: seed or random generator of the drawn years.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        year: int | None = None,
        toi: pd.Interval | None = None,
        generator: Seed = None,
    ) -> None:
        super().__init__(dataset, toi=toi, generator=generator)
        self.year = None if year is None else int(year)

    def years(
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> list[int]:
        """The years with a date covering a location's centre (else the window).

        Args:
            location: ``(x, y)`` slices (default: anywhere).

        Returns:
            The years, increasing.
        """
        intervals = self._init_subset(location)
        starts = pd.DatetimeIndex(intervals.left)
        return sorted({int(year) for year in starts.year})

    def _iter_subset(
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> Iterator[tuple[slice, slice, slice]]:
        x, y = location
        if self.year is not None:
            yield x, y, calendar_year(self.year)
            return
        years = self.years(location)
        if years:
            yield x, y, calendar_year(years[int(self.generator.integers(len(years)))])


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


class KaartbladObservationSampler(GeoSampler, DistributedSampler[GeoSlice]):
    """Every tile of some sheets on every observation of a period, sheet by sheet.

    What ``torchgeo predict`` reads to make fused maps
    (:class:`~torchgeo_bvm.prediction.SheetPredictionWriter`):

    * **tiles**: the tiling of each sheet by :class:`KaartbladGridSampler`
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
        self.tiling = KaartbladGridSampler(
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
    def spatial_sampler(self) -> KaartbladGridSampler:
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
