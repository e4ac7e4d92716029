"""The prediction sampler: every tile of some sheets on every observation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from torch.utils.data import DistributedSampler
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice
from torchgeo.samplers import GeoSampler

from ..checks import MAX_PATCH_PIXELS, check_count
from ..errors import BVMValueError
from ..sheets.layout import SheetSelection, crop_domain
from ..sheets.plan import PredictionPlan, TileQuery
from ._common import sheet_context

__all__ = ['SheetObservationSampler']


class SheetObservationSampler(GeoSampler, DistributedSampler[GeoSlice]):
    """Every tile of some sheets on every observation of a period, sheet by sheet.

    What ``torchgeo predict`` reads to make fused maps
    (:class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter`). It
    builds the run's :class:`~torchgeo_bvm.sheets.plan.PredictionPlan` from the
    dataset (its pixel grid, sheet layout, Flanders region and index) and
    yields the plan's queries:

    * **tiles**: the tiling of each sheet
      (:meth:`~torchgeo_bvm.sheets.layout.SplitRegion.tiles`: ``size``,
      ``stride``; any split, or the ``sheets`` named);
    * **observations**: by default every acquisition date of the dataset's index
      whose start lies in ``years`` and ``months`` (all when None) and whose
      footprint overlaps the sheet's tiles; a tile is predicted on a date when
      the date's footprint overlaps it. With ``periods`` (datasets that return a
      time series per query), each period in which some date overlaps the sheet
      is one observation, read once per tile.

    Each query is a :class:`~torchgeo_bvm.sheets.plan.TileQuery`, a plain
    TorchGeo ``(x, y, t)`` that names its sheet, observation and tile, so the
    writer places every prediction without relying on the order. The order is
    still sheet by sheet, observation by observation (in time order), then the
    tiles row by row, so that a sheet is complete, and its accumulators freed,
    as soon as its last sample has come.

    **Ranks**: with ``world_size > 1`` whole sheets are dealt to the ranks
    (:meth:`~torchgeo_bvm.sheets.plan.PredictionPlan.ranks`), and each rank's
    sampler yields its own sheets only, so no raster is split between
    processes. It is a :class:`~torch.utils.data.DistributedSampler` so that
    Lightning, which would otherwise wrap it in one that deals single samples,
    uses it as it is.

    Args:
        dataset: the dataset (its index gives the dates and footprints).
        size: tile size in pixels.
        stride: step between tiles in pixels (default ``size // 2``: tiles
            overlap by half, so the writer's taper blends them without seams).
        sheets: sheet codes, ``kbl`` numbers or split names
            (:class:`~torchgeo_bvm.sheets.layout.SheetSelection`; default: every
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
        sheets: str | Sequence[int | str] | SheetSelection | None = None,
        years: Iterable[int] | None = None,
        months: Iterable[int] | None = None,
        periods: Sequence[slice] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        world_size = check_count(world_size, 'world_size')
        rank = check_count(rank, 'rank', minimum=0, maximum=world_size - 1)
        size = check_count(size, 'size', maximum=MAX_PATCH_PIXELS)
        stride = max(size // 2, 1) if stride is None else check_count(stride, 'stride')
        if stride > size:
            raise BVMValueError(
                f'need 1 <= stride <= size, got size={size}, stride={stride}: a stride '
                'larger than the tile would leave pixels uncovered'
            )
        grid, layout, flanders = sheet_context(dataset, None, None)
        if sheets is not None and not isinstance(sheets, SheetSelection):
            sheets = SheetSelection.parse(sheets, layout.scheme.splits)
        #: The run: every sheet, tile and observation (all ranks).
        self.plan = PredictionPlan.build(
            layout,
            grid,
            crop_domain(dataset.index.geometry.union_all(), flanders),
            dataset.index,
            size=size,
            stride=stride,
            sheets=sheets,
            years=years,
            months=months,
            periods=periods,
        )
        ranks = self.plan.ranks(world_size)
        #: This rank's sheets (positions in the plan's sheets), in the order yielded.
        self.own: list[int] = [i for i, r in enumerate(ranks) if r == rank]
        # What torch's DistributedSampler would hold.
        self.dataset = dataset
        self.num_replicas = world_size
        self.rank = rank
        self.epoch = 0
        self.shuffle = False
        self.seed = 0
        self.drop_last = False
        self._length = sum(self.plan.sheets[i].samples for i in self.own)
        self.num_samples = self.total_size = self._length

    def __iter__(self) -> Iterator[TileQuery]:
        """Yield this rank's samples: sheet, observation, then tile.

        Yields:
            ``(x, y, t)`` of each sample, naming its sheet, observation and tile.
        """
        yield from self.plan.queries(self.own)

    def __len__(self) -> int:
        """The number of this rank's samples.

        Returns:
            The length.
        """
        return self._length

    def set_epoch(self, epoch: int) -> None:
        """Note the epoch (every epoch yields the same samples).

        Args:
            epoch: the epoch.
        """
        self.epoch = epoch
