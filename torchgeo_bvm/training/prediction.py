"""Fused prediction maps of ``torchgeo predict``, one set of files per map sheet.

:class:`SheetPredictionWriter` is a Lightning ``BasePredictionWriter``. With
:class:`~torchgeo_bvm.training.datamodule.BVMDataModule` it receives every tile of the
chosen sheets on every observation of the period
(:class:`~torchgeo_bvm.samplers.SheetObservationSampler`), sheet by sheet,
and fuses them per pixel (:class:`~torchgeo_bvm.maps.fusion.SheetFusion`: class
probabilities of every clear observation, weighted by a taper that hides tile
borders). As soon as a sheet's last tile has come its files are written, so
memory holds one sheet's accumulators per process. At the end one process
joins the sheets into a mosaic and draws a quick-look.

Under ``--trainer.devices=N`` every rank predicts and writes whole sheets of
its own (no raster is gathered across processes) into one folder, which must
therefore be on a file system all ranks share; the result is the same as on
one device.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from numpy.typing import NDArray
from torch import Tensor

from ..errors import BVMValueError
from ..fileio import atomic_path, check_output
from ..maps.files import sibling_path
from ..maps.fusion import SheetFusion, edge_taper, plot_fused_map, write_mosaic
from ..samplers.prediction import SheetObservations, SheetObservationSampler
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import polygon_coverage

__all__ = ['MANIFEST', 'MOSAIC', 'SheetPredictionWriter']

#: The mosaic's class raster in the output folder (see
#: :func:`~torchgeo_bvm.maps.fusion.write_mosaic`).
MOSAIC = 'mosaic.vrt'
#: What a run wrote, so that the next run into the folder removes what it does
#: not write again.
MANIFEST = 'prediction.json'


class SheetPredictionWriter(BasePredictionWriter):
    """Write fused maps, per sheet and as a mosaic, from ``torchgeo predict``.

    Use it as a trainer callback with
    :class:`~torchgeo_bvm.training.datamodule.BVMDataModule` (its ``predict_sampler`` is
    a :class:`~torchgeo_bvm.samplers.SheetObservationSampler`). For each
    sheet it writes into ``output_dir`` the files of the fused-map contract
    (:mod:`torchgeo_bvm.maps.files`), on the sheet's exact pixel grid, every one a
    Cloud Optimized GeoTIFF with overviews (file-safe sheet code, e.g.
    ``22_7-8``):

    * ``<sheet>.tif``: the fused class (uint8, 255 where no observation was
      clear, or outside the sheet, Flanders or the data), with the class colour
      table and names;
    * ``<sheet>_confidence.tif``: the fused maximum class probability x 250
      (GDAL scale 1/250, 255 = nodata), through the task's confidence table
      when it has one (``map_confidence_table``: a calibrated probability);
    * ``<sheet>_count.tif``: clear observations (255 outside the sheet);
    * with ``probabilities``, ``<sheet>_probabilities.tif``: the fused
      probability of each class, the same scale;
    * with ``preview``, ``<sheet>.png``.

    Then, unless ``mosaic`` is False, ``mosaic.vrt`` with ``mosaic_confidence.vrt``
    and ``mosaic_count.vrt`` (virtual rasters over the sheets, see
    :func:`~torchgeo_bvm.maps.fusion.write_mosaic`) and ``mosaic.png``, a quick-look
    with a legend. It prints every file written, and lists them in
    ``prediction.json`` with the period and sheets: the folder is the writer's,
    and a later run into it removes the files of the earlier run that it does
    not write again, so a folder never mixes two runs. No output may be one of
    the data module's inputs, and the folder may not lie inside the imagery.

    Predictions are ``SemanticSegmentation``'s dictionaries (``probabilities``)
    or bare probability tensors (``SpatioTemporalSegmentation``); the batch
    holds each tile's ``transform`` and ``valid`` mask: ``[H, W]`` for one date,
    ``[T, H, W]`` for a time series (one observation, clear where one of its
    dates is, counting its clear dates).

    Args:
        output_dir: the folder of the maps.
        probabilities: also write the fused per-class probabilities.
        preview: also write a PNG of each sheet.
        mosaic: also write the mosaic and its quick-look.
    """

    def __init__(
        self,
        output_dir: str | Path,
        probabilities: bool = False,
        preview: bool = True,
        mosaic: bool = True,
    ) -> None:
        super().__init__(write_interval='batch')
        self.output_dir = Path(output_dir)
        self.probabilities = probabilities
        self.preview = preview
        self.mosaic = mosaic
        self.written: list[Path] = []
        self._sampler: SheetObservationSampler | None = None
        self._cursor: Iterator[tuple[SheetObservations, int, int, int]] = iter(())
        self._open: dict[int, tuple[SheetFusion, SheetObservations, int, int]] = {}
        self._remaining: Counter[int] = Counter()
        self._previous: list[str] = []
        self._taper: dict[tuple[int, int], NDArray[np.float32]] = {}
        self._done: list[int] = []
        self._table: NDArray[np.float64] | None = None

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
        """Check the sampler and every output before anything is predicted.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            BVMValueError: if the data module's predict sampler is no
                :class:`~torchgeo_bvm.samplers.SheetObservationSampler`.
            BVMExistsError: if an output would be one of the data module's
                inputs, or the folder lies inside the imagery.
        """
        datamodule = getattr(trainer, 'datamodule', None)
        sampler = getattr(datamodule, 'predict_sampler', None)
        if not isinstance(sampler, SheetObservationSampler):
            raise BVMValueError(
                'SheetPredictionWriter needs a data module whose predict_sampler is '
                'a SheetObservationSampler (BVMDataModule), got '
                f'{type(sampler).__name__}'
            )
        self._sampler = sampler
        inputs = _inputs(datamodule)
        self._check_folder(getattr(datamodule, 'sentinel2_paths', []))
        for path in self._outputs(sampler.plans):
            check_output(path, inputs, overwrite=True, option='output_dir')
        self._previous = _listed(self.output_dir / MANIFEST)
        self._cursor = self._samples(sampler.own)
        self._remaining = Counter({p.sheet: p.samples for p in sampler.own})
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
            batch: the batch, with ``transform`` and ``valid``.
            batch_idx: unused.
            dataloader_idx: unused.

        Raises:
            BVMValueError: if the batch has no ``valid`` mask, or a tile is not
                the one the sampler's order says comes next.
        """
        probabilities = (
            prediction
            if isinstance(prediction, Tensor)
            else prediction['probabilities']
        )
        if 'valid' not in batch:
            raise BVMValueError(
                "the predicted batch has no 'valid' mask of clear pixels: predict "
                'with BVMDataModule, whose prediction samples carry it'
            )
        table = getattr(pl_module, 'map_confidence_table', None)
        self._table = table() if callable(table) else None
        tiles = probabilities.detach().float().cpu().numpy()
        valid = batch['valid'].detach().cpu().numpy()
        transforms = batch['transform'].detach().cpu().double().numpy()
        for tile, clear, transform in zip(tiles, valid, transforms, strict=True):
            self._add(tile, clear, transform)

    def on_predict_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Write what is left; on rank 0, the mosaic, the quick-look and the list.

        Sheets whose tiles did not all come (``limit_predict_batches``,
        ``fast_dev_run``) are written with what came.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        for sheet in list(self._open):
            self._finish(sheet)
        assert self._sampler is not None
        done = self._gather_done(trainer)
        if not trainer.is_global_zero:
            return
        plans = [p for p in self._sampler.plans if p.sheet in done]
        every = self._outputs(plans, mosaic=self.mosaic and bool(plans))
        if self.mosaic and plans:
            mosaic = self.output_dir / MOSAIC
            self._note(
                *write_mosaic([self._sheet_path(p) for p in plans], mosaic).values()
            )
            self._note(
                plot_fused_map(
                    mosaic,
                    mosaic.with_suffix('.png'),
                    f'Fused map, {self._sampler.period}',
                )
            )
        self._write_manifest(plans, every)
        print(
            f'predictions: {len(every)} files of {len(plans)} sheets in '
            f'{self.output_dir}',
            flush=True,
        )
        for path in every:
            print(f'  {path}', flush=True)

    def _gather_done(self, trainer: Trainer) -> set[int]:
        """The sheets every rank wrote, known on rank 0 (through small files)."""
        done = set(self._done)
        ranks = trainer.world_size
        if ranks == 1:
            return done
        # Each rank lists its sheets in a hidden file of the folder: the ranks
        # share the folder, not memory.
        listing = self.output_dir / f'.{MANIFEST}.rank{trainer.global_rank}'
        with atomic_path(listing) as temporary:
            temporary.write_text(json.dumps(sorted(done)))
        # Every rank's sheets exist before they are joined.
        trainer.strategy.barrier('fused sheets written')
        if trainer.is_global_zero:
            for rank in range(ranks):
                other = self.output_dir / f'.{MANIFEST}.rank{rank}'
                done.update(int(i) for i in json.loads(other.read_text()))
                other.unlink()
        return done

    # -- sheets ----------------------------------------------------------------------

    def _samples(
        self, plans: list[SheetObservations]
    ) -> Iterator[tuple[SheetObservations, int, int, int]]:
        """(plan, observation, column, row) of every sample, in the sampler's order."""
        for plan in plans:
            for observation, positions in enumerate(plan.tiles_of):
                for column, row in plan.tiles[positions].tolist():
                    yield plan, observation, column, row

    def _add(
        self,
        tile: NDArray[np.float32],
        clear: NDArray[np.bool_],
        transform: NDArray[np.float64],
    ) -> None:
        assert self._sampler is not None
        grid = self._sampler.tiling.grid
        column = round((transform[2] - grid.left) / grid.xres)
        row = round((grid.top - transform[5]) / grid.yres)
        expected = next(self._cursor, None)
        if expected is None or expected[2:] != (column, row):
            raise BVMValueError(
                f'a predicted tile at column {column}, row {row} is not the one the '
                "sampler yields next: predictions must come in the sampler's order "
                '(one DataLoader, in order)'
            )
        plan, observation = expected[0], expected[1]
        fusion, _, c0, r0 = self._fusion(plan, tile.shape[0])
        steps = clear.sum(axis=0) if clear.ndim == 3 else clear
        shape = (tile.shape[1], tile.shape[2])
        if shape not in self._taper:
            self._taper[shape] = (
                edge_taper(shape[0])
                if shape[0] == shape[1]
                else np.ones(shape, np.float32)
            )
        fusion.add(tile, steps, column - c0, row - r0, observation, self._taper[shape])
        self._remaining[plan.sheet] -= 1
        if self._remaining[plan.sheet] == 0:
            self._finish(plan.sheet)

    def _fusion(
        self, plan: SheetObservations, num_classes: int
    ) -> tuple[SheetFusion, SheetObservations, int, int]:
        """The sheet's fusion, its plan and the grid position of its first pixel."""
        if plan.sheet not in self._open:
            assert self._sampler is not None
            tiling = self._sampler.tiling
            c0, r0, c1, r1 = tiling.sheet_pixels(plan.sheet)
            transform = tiling.grid.window_transform(c0, r0)
            grid = Grid(tiling.layout.crs, transform, c1 - c0, r1 - r0)
            region = tiling.region
            allowed = region.allowed[region.indices.index(plan.sheet)]
            # The pixel rule of the labels and the samplers' sheet masks.
            inside = polygon_coverage(shapely.get_parts(allowed), transform, grid.shape)
            fusion = SheetFusion(grid, num_classes, inside, self._table)
            self._open[plan.sheet] = (fusion, plan, c0, r0)
        return self._open[plan.sheet]

    def _finish(self, sheet: int) -> None:
        fusion, plan, _, _ = self._open.pop(sheet)
        self._done.append(sheet)
        path = self._sheet_path(plan)
        self._note(*fusion.write(path, self.probabilities).values())
        if self.preview:
            assert self._sampler is not None
            code = self._sampler.tiling.layout.sheets[sheet].code
            self._note(
                plot_fused_map(
                    path,
                    path.with_suffix('.png'),
                    f'Fused map {code}, {self._sampler.period}',
                )
            )

    def _note(self, *paths: Path) -> None:
        self.written += paths

    # -- files -----------------------------------------------------------------------

    def _sheet_path(self, plan: SheetObservations) -> Path:
        assert self._sampler is not None
        sheet = self._sampler.tiling.layout.sheets[plan.sheet]
        return self.output_dir / f'{sheet.file_safe}.tif'

    def _outputs(
        self, plans: list[SheetObservations], mosaic: bool | None = None
    ) -> list[Path]:
        """Every file of these sheets, all ranks together, in order, and the mosaic."""
        paths = []
        suffixes = ['_count', '_confidence']
        if self.probabilities:
            suffixes.append('_probabilities')
        for plan in plans:
            path = self._sheet_path(plan)
            paths += [sibling_path(path, s) for s in suffixes] + [path]
            if self.preview:
                paths.append(path.with_suffix('.png'))
        if self.mosaic if mosaic is None else mosaic:
            joined = self.output_dir / MOSAIC
            paths += [joined] + [sibling_path(joined, s) for s in suffixes]
            paths.append(joined.with_suffix('.png'))
        return paths

    def _check_folder(self, imagery: list[str]) -> None:
        folder = self.output_dir.resolve()
        for root in map(Path, imagery):
            root = root.resolve()
            if root.is_dir() and (folder == root or root in folder.parents):
                raise BVMValueError(
                    f'output_dir {self.output_dir} lies inside the imagery folder '
                    f'{root}: the maps would be read as imagery; choose another folder'
                )

    def _write_manifest(
        self, plans: list[SheetObservations], paths: list[Path]
    ) -> None:
        assert self._sampler is not None
        keep = {os.path.realpath(p) for p in paths}
        for name in self._previous:
            stale = self.output_dir / name
            if os.path.realpath(stale) not in keep and stale.is_file():
                stale.unlink()
                Path(str(stale) + '.aux.xml').unlink(missing_ok=True)
        layout = self._sampler.tiling.layout
        manifest = {
            'period': self._sampler.period,
            'sheets': [layout.sheets[p.sheet].code for p in plans],
            'files': [p.name for p in paths],
        }
        with atomic_path(self.output_dir / MANIFEST) as temporary:
            temporary.write_text(json.dumps(manifest, indent=2) + '\n')


def _inputs(datamodule: Any) -> list[str]:  # noqa: ANN401
    """The files and folders the data module reads."""
    paths: list[str] = []
    for name in ('sentinel2_paths', 'bvm_paths'):
        paths += [str(p) for p in getattr(datamodule, name, None) or []]
    for name in ('boundary', 'stats_path'):
        value = getattr(datamodule, name, None)
        if value is not None:
            paths.append(str(value))
    return paths


def _listed(manifest: Path) -> list[str]:
    """The files an earlier run listed in its manifest (none if unreadable)."""
    try:
        files = json.loads(manifest.read_text())['files']
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Path(str(name)).name for name in files if isinstance(name, str)]
