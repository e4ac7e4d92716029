"""Fused prediction maps of ``torchgeo predict``, one set of files per map sheet.

:class:`SheetPredictionWriter` is a Lightning ``BasePredictionWriter``. With
:class:`~torchgeo_bvm.training.datamodule.BVMDataModule` it reads the run's
:class:`~torchgeo_bvm.sheets.plan.PredictionPlan` (the predict sampler's
``plan``: the sheets, their grids and masks, their tiles and observations) and
places every predicted tile by the ids its sample carries (``sheet``,
``observation``, ``tile``), in whatever order they come, fusing them per pixel
(:class:`~torchgeo_bvm.maps.fusion.SheetFusion`: class probabilities of every
clear observation, weighted by a taper that hides tile borders). As soon as a
sheet's last tile is in, its files are written, so with the plan's order
memory holds one sheet's accumulators per process. At the end one process
joins the sheets into a mosaic, draws a quick-look and swaps the run's folder
in (:mod:`torchgeo_bvm.maps.folder`): the output folder holds one period of
one run, whole.

Under ``--trainer.devices=N`` every rank predicts and writes whole sheets of
its own (no raster is gathered across processes) into one staging folder,
which must therefore be on a file system all ranks share; the result is the
same as on one device.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from numpy.typing import NDArray
from torch import Tensor

from ..errors import BVMValueError
from ..fileio import atomic_path, check_output_folder
from ..maps.folder import (
    MANIFEST,
    MapRun,
    check_run_folder,
    finish_map_run,
    start_map_run,
    write_manifest,
)
from ..maps.fusion import (
    MOSAIC,
    SheetFusion,
    edge_taper,
    fused_map_files,
    plot_fused_map,
    write_mosaic,
)
from ..sheets.plan import TILE_IDS, PredictionPlan, SheetPlan

__all__ = ['MOSAIC', 'SheetPredictionWriter']


class SheetPredictionWriter(BasePredictionWriter):
    """Write fused maps, per sheet and as a mosaic, from ``torchgeo predict``.

    Use it as a trainer callback with
    :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`, whose
    ``predict_sampler`` holds the run's plan. For each sheet it writes the files
    of the fused-map contract (:mod:`torchgeo_bvm.maps.files`), on the sheet's
    exact pixel grid, every one a Cloud Optimized GeoTIFF with overviews
    (file-safe sheet code, e.g. ``22_7-8``):

    * ``<sheet>.tif``: the fused class (uint8, 255 where no observation was
      clear, or outside the sheet, Flanders or the data), with the class colour
      table and names;
    * ``<sheet>_confidence.tif``: the fused maximum class probability x 250
      (GDAL scale 1/250, 255 = nodata), through the task's confidence table
      when it has one (``map_confidence_table``: a calibrated probability);
    * ``<sheet>_count.tif``: clear observations, or a series' clear dates (255
      outside the sheet);
    * with ``probabilities``, ``<sheet>_probabilities.tif``: the fused
      probability of each class, the same scale;
    * with ``preview``, ``<sheet>.png``.

    Then, unless ``mosaic`` is False, ``mosaic.vrt`` with ``mosaic_confidence.vrt``
    and ``mosaic_count.vrt`` (virtual rasters over the sheets, see
    :func:`~torchgeo_bvm.maps.fusion.write_mosaic`) and ``mosaic.png``, a quick-look
    with a legend, and ``prediction.json`` listing the period, the sheets and the
    files. It prints every file written.

    **The folder**: the data module's ``prediction.output_dir`` (or this
    writer's ``output_dir``), by default in a subfolder named after the period
    (``prediction.period_folder``). The run is written beside it, hidden, and
    swapped in when it is complete (:mod:`torchgeo_bvm.maps.folder`): an earlier
    run of the same period is replaced, a folder holding another period's maps
    or files that are no maps is refused, and the folder may not be, or lie in,
    a folder the data module's datasets read.

    Predictions are ``SemanticSegmentation``'s dictionaries (``probabilities``)
    or bare probability tensors (``SpatioTemporalSegmentation``); the batch
    holds each tile's ``sheet``, ``observation`` and ``tile`` ids and its
    ``valid`` mask: ``[H, W]`` for one date, ``[T, H, W]`` for a time series
    (one observation, clear where one of its dates is, counting its clear dates).

    Args:
        output_dir: the folder of the maps, when the data module's
            ``prediction.output_dir`` does not name one.
        probabilities: also write the fused per-class probabilities.
        preview: also write a PNG of each sheet.
        mosaic: also write the mosaic and its quick-look.
    """

    def __init__(
        self,
        output_dir: str | Path | None = None,
        probabilities: bool = False,
        preview: bool = True,
        mosaic: bool = True,
    ) -> None:
        super().__init__(write_interval='batch')
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.probabilities = probabilities
        self.preview = preview
        self.mosaic = mosaic
        #: The files of the last run, in the output folder.
        self.written: list[Path] = []
        #: The output folder of the last run.
        self.folder: Path | None = None
        self._plan: PredictionPlan | None = None
        self._staging = Path()
        self._stack = ExitStack()
        self._open: dict[int, SheetFusion] = {}
        self._remaining: dict[int, list[int]] = {}
        self._done: list[int] = []
        self._table: NDArray[np.float64] | None = None
        self._taper: dict[tuple[int, int], NDArray[np.float32]] = {}

    # -- the run -------------------------------------------------------------------

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Keep no predictions in memory: they are written, not returned.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        trainer.predict_loop.return_predictions = False

    def on_predict_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Check the plan and the output folder before anything is predicted.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            BVMValueError: if the data module's predict sampler has no
                :class:`~torchgeo_bvm.sheets.plan.PredictionPlan`, or no folder
                is named.
            BVMExistsError: if the folder is, or lies in, a folder the data
                module's datasets read, or holds another period's maps or files
                that are no maps.
        """
        datamodule = getattr(trainer, 'datamodule', None)
        plan = getattr(getattr(datamodule, 'predict_sampler', None), 'plan', None)
        if not isinstance(plan, PredictionPlan) or datamodule is None:
            raise BVMValueError(
                'SheetPredictionWriter needs a data module whose predict_sampler '
                'holds a PredictionPlan (BVMDataModule, SheetObservationSampler)'
            )
        self._plan = plan
        folder = datamodule.prediction_folder(self.output_dir)
        inputs = datamodule.check().input_paths()
        scanned = {
            name: inputs.pop(name)
            for name in ('sentinel2_paths', 'sentinel1_paths', 'bvm_paths')
            if name in inputs
        }
        given = datamodule.prediction.output_dir or self.output_dir or folder
        for checked in dict.fromkeys((Path(given), folder)):
            check_output_folder(
                checked, scanned, inputs, option='prediction.output_dir'
            )
        self.folder = folder
        # Every rank checks, so that a refusal stops them all alike.
        check_run_folder(folder, self._run(plan, []))
        self._stack = ExitStack()
        staging = None
        if trainer.is_global_zero:
            staging = start_map_run(folder, self._run(plan, []), self._stack)
        # Every rank writes its sheets into the one folder rank 0 made.
        self._staging = Path(trainer.strategy.broadcast(str(staging)))
        ranks = plan.ranks(trainer.world_size)
        self._remaining = {
            i: [len(tiles) for tiles in sheet.tiles_of]
            for i, sheet in enumerate(plan.sheets)
            if ranks[i] == trainer.global_rank
        }
        self._open = {}
        self._done = []
        self.written = []

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: dict[str, Tensor] | Tensor,
        batch_indices: object,
        batch: dict[str, Tensor],
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Add a batch of tiles to their sheets; write the sheets that are complete.

        Args:
            trainer: the trainer.
            pl_module: the task.
            prediction: ``predict_step``'s output: a dictionary with
                ``probabilities`` (``SemanticSegmentation``), or the
                probabilities alone (``SpatioTemporalSegmentation``).
            batch_indices: unused.
            batch: the batch, with ``valid`` and the tiles' ids.
            batch_idx: unused.
            dataloader_idx: unused.

        Raises:
            BVMValueError: if the batch has no ``valid`` mask or ids.
        """
        probabilities = (
            prediction
            if isinstance(prediction, Tensor)
            else prediction['probabilities']
        )
        missing = [key for key in ('valid', *TILE_IDS) if key not in batch]
        if missing:
            raise BVMValueError(
                f'the predicted batch has no {", ".join(map(repr, missing))}: '
                'predict with BVMDataModule, whose prediction samples carry the '
                'clear pixels and the ids of their tile'
            )
        table = getattr(pl_module, 'map_confidence_table', None)
        self._table = table() if callable(table) else None
        tiles = probabilities.detach().float().cpu().numpy()
        valid = batch['valid'].detach().cpu().numpy()
        ids = zip(*(batch[key].cpu().tolist() for key in TILE_IDS), strict=True)
        for tile, clear, (sheet, observation, position) in zip(
            tiles, valid, ids, strict=True
        ):
            self._add(tile, clear, sheet, observation, position)

    def on_predict_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Write what is left; on rank 0, the mosaic, the list, and swap the folder in.

        Sheets whose tiles did not all come (``limit_predict_batches``,
        ``fast_dev_run``) are written with what came.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        for sheet in list(self._open):
            self._finish(sheet)
        done = self._gather_done(trainer)
        if not trainer.is_global_zero:
            return
        plan, folder = self._plan, self.folder
        assert plan is not None
        assert folder is not None
        sheets = [plan.sheets[i] for i in sorted(done)]
        every = self._outputs(sheets, mosaic=self.mosaic and bool(sheets))
        if self.mosaic and sheets:
            mosaic = self._staging / MOSAIC
            write_mosaic([self._staging / self._name(s) for s in sheets], mosaic)
            title = f'Fused map, {plan.period}'
            plot_fused_map(mosaic, mosaic.with_suffix('.png'), title)
        write_manifest(self._staging, self._run(plan, sheets, every))
        finish_map_run(self._staging, folder)
        self._stack.close()
        self.written = [folder / name for name in every]
        print(
            f'predictions: {len(every)} files of {len(sheets)} sheets in {folder}',
            flush=True,
        )
        for path in self.written:
            print(f'  {path}', flush=True)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Leave the output folder as it was: remove the unfinished run.

        Args:
            trainer: the trainer.
            pl_module: the task.
            exception: what stopped the run.
        """
        self._open = {}
        self._stack.close()

    def _gather_done(self, trainer: Trainer) -> set[int]:
        """The sheets every rank wrote, known on rank 0 (through small files)."""
        done = set(self._done)
        ranks = trainer.world_size
        if ranks == 1:
            return done
        # Each rank lists its sheets in a hidden file of the folder: the ranks
        # share the folder, not memory.
        listing = self._staging / f'.{MANIFEST}.rank{trainer.global_rank}'
        with atomic_path(listing) as temporary:
            temporary.write_text(json.dumps(sorted(done)))
        # Every rank's sheets exist before they are joined.
        trainer.strategy.barrier('fused sheets written')
        if trainer.is_global_zero:
            for rank in range(ranks):
                other = self._staging / f'.{MANIFEST}.rank{rank}'
                done.update(int(i) for i in json.loads(other.read_text()))
                other.unlink()
        return done

    # -- sheets ----------------------------------------------------------------------

    def _add(
        self,
        tile: NDArray[np.float32],
        clear: NDArray[np.bool_],
        sheet: int,
        observation: int,
        position: int,
    ) -> None:
        assert self._plan is not None
        if sheet not in self._remaining:
            raise BVMValueError(
                f'a predicted tile names sheet {sheet} of the plan, which is not '
                "this process's: predict with the data module's own sampler"
            )
        plan = self._plan.sheets[sheet]
        fusion = self._fusion(sheet, tile.shape[0])
        steps = clear.sum(axis=0) if clear.ndim == 3 else clear
        shape = (tile.shape[1], tile.shape[2])
        if shape not in self._taper:
            self._taper[shape] = (
                edge_taper(shape[0])
                if shape[0] == shape[1]
                else np.ones(shape, np.float32)
            )
        column, row = plan.tile_position(position)
        fusion.add(tile, steps, column, row, observation, self._taper[shape])
        remaining = self._remaining[sheet]
        remaining[observation] -= 1
        if remaining[observation] == 0:
            fusion.close(observation)
        if not any(remaining):
            self._finish(sheet)

    def _fusion(self, sheet: int, num_classes: int) -> SheetFusion:
        """The sheet's fusion, made when its first tile comes."""
        if sheet not in self._open:
            assert self._plan is not None
            plan = self._plan.sheets[sheet]
            self._open[sheet] = SheetFusion(
                plan.grid, num_classes, plan.mask(), self._table
            )
        return self._open[sheet]

    def _finish(self, sheet: int) -> None:
        assert self._plan is not None
        fusion = self._open.pop(sheet)
        self._done.append(sheet)
        plan = self._plan.sheets[sheet]
        path = self._staging / self._name(plan)
        fusion.write(path, self.probabilities)
        if self.preview:
            title = f'Fused map {plan.sheet.code}, {self._plan.period}'
            plot_fused_map(path, path.with_suffix('.png'), title)

    # -- files -----------------------------------------------------------------------

    @staticmethod
    def _name(sheet: SheetPlan) -> str:
        return f'{sheet.sheet.file_safe}.tif'

    @staticmethod
    def _run(
        plan: PredictionPlan, sheets: list[SheetPlan], files: list[str] | None = None
    ) -> MapRun:
        codes = tuple(s.sheet.code for s in sheets)
        return MapRun(plan.period, plan.name, codes, tuple(files or ()))

    def _outputs(self, sheets: list[SheetPlan], mosaic: bool) -> list[str]:
        """The names of every file of these sheets, in order, and of the mosaic."""
        return fused_map_files(
            [self._name(sheet) for sheet in sheets],
            self.probabilities,
            self.preview,
            mosaic,
        )
