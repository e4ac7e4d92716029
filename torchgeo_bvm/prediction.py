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
written too, scaled to uint8 0..250 (255 = nodata), and a PNG preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from affine import Affine
from numpy.typing import NDArray

from .classes import IGNORE_INDEX

__all__ = ['SheetMosaic', 'tile_weights']

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
            ValueError: if the tile is not square or has the wrong class count.
        """
        tile = np.asarray(
            probabilities.detach().float().cpu().numpy()
            if isinstance(probabilities, torch.Tensor)
            else probabilities,
            dtype=np.float32,
        )
        classes, size, width = tile.shape
        if classes != self.num_classes or size != width:
            raise ValueError(
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
