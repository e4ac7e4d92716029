"""Georeferenced prediction maps, one GeoTIFF per map sheet.

:class:`SheetPredictionWriter` is a Lightning ``BasePredictionWriter`` for
``torchgeo predict``: it takes the tiles of the evaluation sampler
(:class:`~torchgeo_bvm.samplers.KaartbladGridSampler`), finds each tile's sheet,
and stitches the tiles into one map per sheet on the sheet's exact pixel grid:
the imagery's grid, cut to the pixels whose centre lies inside the sheet.

Overlapping tiles (a grid sampler ``stride`` smaller than the tile) are stitched
in one of two ways:

* ``'centre'`` (default): every pixel takes the prediction of the tile whose
  centre is nearest, so each pixel is predicted with the most context around it
  (tile borders, where a CNN sees the least context and the mirrored margin, are
  never used where another tile covers the pixel more centrally);
* ``'blend'``: class probabilities are averaged with a weight that falls off
  linearly from the tile centre to its border, which smooths seams.

With non-overlapping tiles both give the argmax of each tile's output.

Pixels outside the sheet, outside Flanders or covered by no tile are
:data:`~torchgeo_bvm.classes.IGNORE_INDEX`. Maps carry the class colour table and
names (QGIS shows them labelled); optionally the per-class probabilities are
written too, as uint8 0..250 (255 = nodata) with GDAL's per-band scale 1/250,
so QGIS shows probabilities 0..1 and ``raw * dataset.scales[band]`` gives them
in rasterio; and a PNG preview. Every GeoTIFF is a Cloud Optimized GeoTIFF.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
import torch
from affine import Affine
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from numpy.typing import NDArray
from pyproj import CRS
from torch import Tensor

from .classes import CLASS_NAMES, IGNORE_INDEX
from .cog import write_cog
from .errors import BVMValueError
from .labels import write_class_raster
from .pixelgrid import Grid
from .plot import plot_class_map
from .samplers import KaartbladGridSampler
from .scanline import polygon_coverage

__all__ = ['PROBABILITY_SCALE', 'SheetMosaic', 'SheetPredictionWriter', 'tile_weights']

Blend = Literal['centre', 'blend']

#: Probabilities are stored as round(p * PROBABILITY_SCALE) so 255 stays nodata.
PROBABILITY_SCALE = 250


def tile_weights(size: int, blend: Blend) -> NDArray[np.float32]:
    """Per-pixel weights of a square tile: high at the centre, low at the border.

    Args:
        size: tile size in pixels.
        blend: ``'centre'`` (used to pick the most central tile) or ``'blend'``
            (used to average; never zero, so a pixel covered by border pixels
            only still gets a prediction).

    Returns:
        A ``[size, size]`` float32 array.
    """
    centre = (size - 1) / 2
    distance = np.abs(np.arange(size) - centre) / (centre + 1)
    # Chebyshev distance to the tile centre: square rings of equal weight.
    ring = np.maximum.outer(distance, distance)
    weights = 1.0 - ring
    if blend == 'centre':
        return weights.astype(np.float32)
    return np.maximum(weights, 1e-3).astype(np.float32)


@dataclass
class SheetMosaic:
    """The stitched prediction of one sheet.

    Args:
        transform: the affine transform of the sheet's pixel box.
        shape: (height, width) of the box.
        num_classes: number of classes.
        blend: ``'centre'`` or ``'blend'`` (see the module docstring).
        valid: pixels that may carry a class (inside the sheet and Flanders);
            all if None.
    """

    transform: Affine
    shape: tuple[int, int]
    num_classes: int
    blend: Blend = 'centre'
    valid: NDArray[np.bool_] | None = None
    _scores: NDArray[np.float32] = field(init=False, repr=False)
    _weights: NDArray[np.float32] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        height, width = self.shape
        self._scores = np.zeros((self.num_classes, height, width), dtype=np.float32)
        self._weights = np.zeros((height, width), dtype=np.float32)

    def add(
        self, probabilities: torch.Tensor | NDArray[np.float32], column: int, row: int
    ) -> None:
        """Add one tile's class probabilities.

        Args:
            probabilities: ``[num_classes, size, size]`` probabilities of the tile.
            column: the tile's left column relative to the sheet's box (may be
                negative: tiles reach past the sheet's edge).
            row: the tile's top row relative to the box.

        Raises:
            BVMValueError: if the tile is not square or has the wrong class count.
        """
        tile = np.asarray(
            probabilities.detach().float().cpu().numpy()
            if isinstance(probabilities, torch.Tensor)
            else probabilities,
            dtype=np.float32,
        )
        classes, size, width = tile.shape
        if classes != self.num_classes or size != width:
            raise BVMValueError(
                f'expected a square tile of {self.num_classes} classes, '
                f'got the shape {tile.shape}'
            )
        weights = tile_weights(size, self.blend)
        height, box_width = self.shape
        r0, c0 = max(row, 0), max(column, 0)
        r1, c1 = min(row + size, height), min(column + size, box_width)
        if r0 >= r1 or c0 >= c1:
            return
        tile_rows = slice(r0 - row, r1 - row)
        tile_cols = slice(c0 - column, c1 - column)
        part, weight = tile[:, tile_rows, tile_cols], weights[tile_rows, tile_cols]
        if self.blend == 'blend':
            self._scores[:, r0:r1, c0:c1] += part * weight
            self._weights[r0:r1, c0:c1] += weight
            return
        # Strictly greater: at equal distance the earlier tile is kept, which makes
        # the result independent of the batch size.
        better = weight > self._weights[r0:r1, c0:c1]
        self._scores[:, r0:r1, c0:c1] = np.where(
            better, part, self._scores[:, r0:r1, c0:c1]
        )
        self._weights[r0:r1, c0:c1] = np.where(
            better, weight, self._weights[r0:r1, c0:c1]
        )

    @property
    def covered(self) -> NDArray[np.bool_]:
        """Pixels that some tile predicted (and may carry a class)."""
        covered: NDArray[np.bool_] = self._weights > 0
        if self.valid is not None:
            covered &= self.valid
        return covered

    def probabilities(self) -> NDArray[np.float32]:
        """The stitched class probabilities (0 where not covered).

        Returns:
            ``[num_classes, height, width]`` float32.
        """
        if self.blend == 'centre':
            result = self._scores.copy()
        else:
            result = (self._scores / np.maximum(self._weights, 1e-12)).astype(
                np.float32
            )
        result[:, ~self.covered] = 0.0
        return result

    def classes(self) -> NDArray[np.uint8]:
        """The stitched class map.

        Returns:
            ``[height, width]`` uint8 class ids, IGNORE_INDEX where not covered.
        """
        result = self._scores.argmax(axis=0).astype(np.uint8)
        result[~self.covered] = IGNORE_INDEX
        return result

    def scaled_probabilities(self) -> NDArray[np.uint8]:
        """Probabilities as uint8 0..PROBABILITY_SCALE, 255 where not covered.

        Returns:
            ``[num_classes, height, width]`` uint8.
        """
        scaled = np.rint(self.probabilities() * PROBABILITY_SCALE).astype(np.uint8)
        scaled[:, ~self.covered] = IGNORE_INDEX
        return scaled


class SheetPredictionWriter(BasePredictionWriter):
    """Write the predictions of ``torchgeo predict`` as one GeoTIFF per sheet.

    Use it as a trainer callback with a data module whose ``predict_sampler`` is a
    :class:`~torchgeo_bvm.samplers.KaartbladGridSampler` (alone or composed with a
    temporal sampler through ``@``), such as
    :class:`~torchgeo_bvm.datamodules.BVMDataModule`. For each sheet it writes
    ``<output_dir>/<sheet>.tif`` (file-safe code, e.g. ``22_7-8.tif``): uint8 class
    ids, nodata :data:`~torchgeo_bvm.classes.IGNORE_INDEX`, the class colour table
    and names, on the sheet's pixel box of the imagery grid. Optionally
    ``<sheet>_probabilities.tif`` (one uint8 band per class, ``p * 250`` with
    GDAL scale ``1/250``, band descriptions = class names, nodata 255) and
    ``<sheet>.png``, a preview. At the end of prediction it prints the paths
    of the files written (:attr:`written`).

    A sheet is written as soon as its last tile has arrived, so memory holds one
    sheet at a time; run prediction on a single device (under DDP every rank would
    hold only its share of the tiles).

    Args:
        output_dir: folder for the maps.
        blend: ``'centre'`` or ``'blend'`` (see :mod:`torchgeo_bvm.prediction`).
        probabilities: also write the per-class probabilities.
        preview: also write a PNG preview of each map.
    """

    def __init__(
        self,
        output_dir: str | Path,
        blend: Blend = 'centre',
        probabilities: bool = False,
        preview: bool = True,
    ) -> None:
        super().__init__(write_interval='batch')
        if blend not in ('centre', 'blend'):
            raise BVMValueError(f"blend must be 'centre' or 'blend', got {blend!r}")
        self.output_dir = Path(output_dir)
        self.blend: Blend = blend
        self.probabilities = probabilities
        self.preview = preview
        self.written: list[Path] = []
        self._sampler: KaartbladGridSampler | None = None
        self._crs: CRS | None = None
        self._mosaics: dict[int, tuple[SheetMosaic, tuple[int, int]]] = {}
        self._remaining: Counter[int] = Counter()

    def on_predict_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Find the evaluation sampler and count the tiles of every sheet.

        Args:
            trainer: the trainer.
            pl_module: the task.

        Raises:
            BVMValueError: if the data module has no KaartbladGridSampler for predict.
        """
        datamodule = getattr(trainer, 'datamodule', None)
        sampler = getattr(datamodule, 'predict_sampler', None)
        sampler = getattr(sampler, 'spatial_sampler', sampler)
        if not isinstance(sampler, KaartbladGridSampler):
            raise BVMValueError(
                'SheetPredictionWriter needs a data module whose predict_sampler is '
                'a KaartbladGridSampler (or one composed with @), got '
                f'{type(sampler).__name__}'
            )
        self._sampler = sampler
        self._crs = sampler.layout.crs
        self._mosaics = {}
        self._remaining = Counter(index for index, _, _ in sampler.tiles)
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
            prediction: ``predict_step``'s output with ``probabilities`` and
                ``transform`` (``SemanticSegmentation``), or the probabilities
                alone (``SpatioTemporalSegmentation``: then the tiles'
                ``transform`` comes from the batch).
            batch_indices: unused.
            batch: the batch, with the tiles' ``transform``.
            batch_idx: unused.
            dataloader_idx: unused.
        """
        if isinstance(prediction, Tensor):
            probabilities, transforms = prediction, batch['transform']
        else:
            probabilities, transforms = (
                prediction['probabilities'],
                prediction['transform'],
            )
        for tile, transform in zip(probabilities, transforms, strict=True):
            index, column, row = self._locate(transform, tile.shape[-1])
            mosaic, (c0, r0) = self._mosaic(index, tile.shape[0])
            mosaic.add(tile, column - c0, row - r0)
            self._remaining[index] -= 1
            if self._remaining[index] == 0:
                self._finish(index)

    def on_predict_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Write the sheets still in memory; print the paths of every file written.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        for index in list(self._mosaics):
            self._finish(index)
        if trainer.is_global_zero:
            print(f'predictions: {len(self.written)} files written', flush=True)
            for path in self.written:
                print(f'  {path}', flush=True)

    def _locate(self, transform: Tensor, size: int) -> tuple[int, int, int]:
        assert self._sampler is not None
        grid, layout = self._sampler.grid, self._sampler.layout
        left, top = float(transform[2]), float(transform[5])
        column = round((left - grid.left) / grid.xres)
        row = round((grid.top - top) / grid.yres)
        window = (left, top - size * grid.yres, left + size * grid.xres, top)
        centre = (
            left + (size // 2 + 0.5) * grid.xres,
            top - (size // 2 + 0.5) * grid.yres,
        )
        index = layout.find(window, centre, self._sampler.region.split)
        if index is None:
            raise BVMValueError(
                f'a predicted tile at {window} lies in no sheet of the split'
            )
        return index, column, row

    def _mosaic(
        self, index: int, num_classes: int
    ) -> tuple[SheetMosaic, tuple[int, int]]:
        if index not in self._mosaics:
            assert self._sampler is not None
            c0, r0, c1, r1 = self._sampler.sheet_pixels(index)
            transform = self._sampler.grid.window_transform(c0, r0)
            shape = (r1 - r0, c1 - c0)
            region = self._sampler.region
            allowed = region.allowed[region.indices.index(index)]
            # Same pixel rule as the sampler's sheet masks and the labels.
            valid = polygon_coverage(shapely.get_parts(allowed), transform, shape)
            mosaic = SheetMosaic(transform, shape, num_classes, self.blend, valid)
            self._mosaics[index] = (mosaic, (c0, r0))
        return self._mosaics[index]

    def _finish(self, index: int) -> None:
        assert self._sampler is not None
        assert self._crs is not None
        mosaic, _ = self._mosaics.pop(index)
        sheet = self._sampler.layout.sheets[index]
        height, width = mosaic.shape
        grid = Grid(self._crs, mosaic.transform, width, height)
        path = self.output_dir / f'{sheet.file_safe}.tif'
        write_class_raster(
            path, mosaic.classes(), grid, description='predicted class', progress=False
        )
        self.written.append(path)
        if self.probabilities:
            self._write_probabilities(
                path.with_name(f'{sheet.file_safe}_probabilities.tif'), mosaic, grid
            )
        if self.preview:
            preview = path.with_suffix('.png')
            plot_class_map(
                mosaic.classes(),
                grid,
                preview,
                f'Predicted classes, sheet {sheet.code}',
            )
            self.written.append(preview)

    def _write_probabilities(self, path: Path, mosaic: SheetMosaic, grid: Grid) -> None:
        write_cog(
            path,
            mosaic.scaled_probabilities(),
            grid,
            count=mosaic.num_classes,
            dtype='uint8',
            nodata=IGNORE_INDEX,
            descriptions=CLASS_NAMES[: mosaic.num_classes],
            scales=[1 / PROBABILITY_SCALE] * mosaic.num_classes,
            offsets=[0.0] * mosaic.num_classes,
            overview_resampling='average',
            progress=False,
        )
        self.written.append(path)
