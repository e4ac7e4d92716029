"""Crop centres drawn more often where rare classes are.

The BVM's classes are very unequal: the rarest are 0.01 % of Flanders' pixels,
so uniform crops (:class:`~torchgeo_bvm.samplers.sheet.SheetSampler`) show
them seldom. Beside the class-weighted and focal losses, the training sampler
can draw its crops where rare classes are, with a strength ``s`` in
``[0, 1]`` (``sampling.rare_classes`` of the data module):

* each crop's centre is drawn uniformly from the split's region, as without
  the preference, with probability ``1 - s``, and by class weight with
  probability ``s``;
* by class weight means: the region is cut into square **cells** of
  ``patch_size // 2`` pixels on the imagery's grid (:func:`cell_size`); a cell
  is chosen with probability proportional to its labelled pixels weighted by
  their class, ``sum_c n_c w_c``, and the centre uniformly among the cell's
  pixels in the region. Equivalently, every pixel is drawn with probability
  proportional to the mean class weight of its cell;
* the class weights ``w_c`` are the loss's, median frequency balancing of the
  split's own counts (:func:`~torchgeo_bvm.bvm.statistics.median_frequency_weights`,
  capped at 50), so ``n_c w_c`` is the same for every class below the cap: at
  strength 1 with cells of one class each, every class present gets the same
  share of crop centres (a capped class less).

Why cells of half a patch: a crop centred anywhere in a cell contains the whole
cell, so the weighted draw chooses crops by class content they are sure to
hold, and the counts stay small (the train split of Flanders at 10 m, about
135 million pixels, is about 8,000 cells of 128 x 128 pixels at the paper's
256-pixel patches). The counts are made once, when the sampler is built, by
reading the split's labels block by block through the dataset's own label
dataset (:func:`label_dataset`): a pass over the split's labels.

At strength 0 nothing is read and the crops are those of the uniform sampler,
draw for draw: the sampler then draws from the region itself.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import GeoDataset

from ..bvm.statistics import median_frequency_weights
from ..checks import check_bytes
from ..classes import NUM_CLASSES
from ..datasets.joint import BVMSentinel2
from ..errors import BVMValueError
from ..sheets.layout import SplitRegion
from ..spatial.scanline import pixel_runs, runs_to_mask

__all__ = [
    'MAX_CELL_BYTES',
    'ClassCells',
    'RareClassCentres',
    'cell_size',
    'check_rare_classes',
    'label_dataset',
]

#: Memory of the class counts of a split's cells: the train split of Flanders
#: at 10 m with 32-pixel patches (16-pixel cells) takes about 30 MB; more means
#: a resolution far finer than the imagery's.
MAX_CELL_BYTES = 2**30
#: Side of the label blocks read at once, in pixels (rounded to whole cells).
BLOCK_PIXELS = 2048
#: Side of a block in cells at most, which bounds a block's tally of tiny cells.
BLOCK_CELLS = 256


def check_rare_classes(value: object, name: str = 'rare_classes') -> float:
    """The strength of the rare-class preference: a number from 0 to 1.

    Args:
        value: the value given.
        name: the option's name, for the message.

    Returns:
        The strength as a float.

    Raises:
        BVMValueError: for anything but a number in ``[0, 1]`` (text,
            booleans, NaN, infinities, numbers outside).
    """
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
        given = f'{value!r} (text)' if isinstance(value, str) else repr(value)
        raise BVMValueError(
            f'{name} must be a number from 0 (crops drawn uniformly) to 1 (every '
            f'crop drawn by class weight), got {given}'
        )
    return float(value)  # type: ignore[arg-type]


def cell_size(patch_size: int) -> int:
    """The side of the cells for a patch size: half a patch, at least 1 pixel.

    Args:
        patch_size: the crop size in pixels.

    Returns:
        The cell side in pixels; a crop centred in a cell contains all of it.
    """
    return max(1, patch_size // 2)


def label_dataset(dataset: GeoDataset) -> GeoDataset:
    """Where a dataset's labels are read: a joint dataset's labels, else itself.

    Args:
        dataset: a :class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`, or a
            dataset whose samples hold ``mask`` (e.g.
            :class:`~torchgeo_bvm.datasets.BVMRaster`).

    Returns:
        The dataset to read ``mask`` from.
    """
    if isinstance(dataset, BVMSentinel2):
        labels: GeoDataset = dataset.datasets[1]
        return labels
    return dataset


@dataclass(frozen=True)
class ClassCells:
    """The labelled pixels of each class in the cells of a split region.

    Cell ``(i, j)`` covers the columns ``i * size`` to ``(i + 1) * size - 1``
    and the rows ``j * size`` to ``(j + 1) * size - 1`` of the grid; only
    cells holding a labelled pixel of the region are kept.

    Args:
        size: the cell side in pixels.
        columns: ``i`` of each cell.
        rows: ``j`` of each cell.
        counts: int32 ``[cells, NUM_CLASSES]``: the cell's pixels of each
            class whose centre lies in the region.
        inside: int32 ``[cells]``: the cell's pixels whose centre lies in the
            region, labelled or not.
    """

    size: int
    columns: NDArray[np.int64]
    rows: NDArray[np.int64]
    counts: NDArray[np.int32]
    inside: NDArray[np.int32]

    @classmethod
    def count(cls, region: SplitRegion, labels: GeoDataset, size: int) -> ClassCells:
        """Count the labels of a region per cell, block by block.

        A pixel belongs to the region when its centre lies inside one of the
        region's parts (:attr:`~torchgeo_bvm.sheets.layout.SplitRegion.allowed`:
        a sheet of the split, inside Flanders and the data), the scanline rule
        of the labels themselves.

        Args:
            region: the split's region.
            labels: the dataset whose ``mask`` holds the class ids, on the
                region's grid.
            size: the cell side in pixels.

        Returns:
            The cells.

        Raises:
            BVMValueError: if the counts would take more than
                :data:`MAX_CELL_BYTES`.
        """
        spans = [_cell_span(region, part, size) for part in region.allowed]
        cells = sum((c1 - c0) * (r1 - r0) for c0, r0, c1, r1 in spans)
        check_bytes(
            4.0 * (NUM_CLASSES + 1) * cells,
            MAX_CELL_BYTES,
            f'the class counts of {cells:,} cells of {size} x {size} pixels',
            'use a larger patch_size or a coarser res',
        )
        found = [
            _count_block(region, part, labels, size, block)
            for part, span in zip(region.allowed, spans, strict=True)
            for block in _blocks(span, size)
        ]
        return _merged(size, [f for f in found if f is not None])

    def __len__(self) -> int:
        """The number of cells."""
        return len(self.columns)


class RareClassCentres:
    """Crop centres drawn uniformly or, with some probability, by class weight.

    See the module docstring for the rule. :meth:`draw` takes the place of
    :meth:`~torchgeo_bvm.sheets.layout.SplitRegion.draw` in
    :class:`~torchgeo_bvm.samplers.sheet.SheetSampler` and
    :class:`~torchgeo_bvm.samplers.sheet.CropRedraw`, so redrawn crops keep the
    same preference.

    Args:
        region: the split's region (the uniform draws).
        cells: its cells' class counts.
        weights: one weight per class.
        strength: the share of centres drawn by class weight, in ``[0, 1]``.

    Raises:
        BVMValueError: if ``strength`` is not in ``[0, 1]``, or no cell has a
            positive weight.
    """

    def __init__(
        self,
        region: SplitRegion,
        cells: ClassCells,
        weights: Sequence[float],
        strength: float,
    ) -> None:
        self.region = region
        self.cells = cells
        self.weights = np.asarray(weights, dtype=np.float64)
        self.strength = check_rare_classes(strength)
        cell_weights = cells.counts @ self.weights
        total = float(cell_weights.sum())
        if not total > 0:
            raise BVMValueError(
                f'rare_classes: split {region.split!r} holds no labelled pixel of '
                'a class with a positive weight to draw crops by'
            )
        #: The probability of each cell in a weighted draw.
        self.probabilities: NDArray[np.float64] = cell_weights / total
        self.parts = np.array(region.allowed, dtype=object)
        self.tree = shapely.STRtree(self.parts)

    @classmethod
    def of(
        cls,
        region: SplitRegion,
        labels: GeoDataset,
        patch_size: int,
        strength: float,
        max_weight: float = 50.0,
    ) -> RareClassCentres:
        """Count a region's labels and weigh its classes by their rarity.

        Args:
            region: the split's region.
            labels: the dataset whose ``mask`` holds the class ids.
            patch_size: the crop size (the cells are :func:`cell_size`).
            strength: the share of centres drawn by class weight.
            max_weight: the largest class weight.

        Returns:
            The centres.

        Raises:
            BVMValueError: if the region holds no labelled pixel, or the
                counts would not fit in memory.
        """
        cells = ClassCells.count(region, labels, cell_size(patch_size))
        totals = cells.counts.sum(axis=0, dtype=np.int64)
        if not totals.any():
            raise BVMValueError(
                f'rare_classes: split {region.split!r} holds no labelled pixel to '
                'weigh crops by'
            )
        weights = median_frequency_weights(totals, max_weight)
        return cls(region, cells, weights, strength)

    def draw(
        self, rng: np.random.Generator, count: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Draw crop centres.

        Args:
            rng: the random generator.
            count: how many centres.

        Returns:
            ``(columns, rows)`` of the centre pixels.
        """
        weighted = rng.random(count) < self.strength
        columns = np.empty(count, dtype=np.int64)
        rows = np.empty(count, dtype=np.int64)
        uniform = ~weighted
        if uniform.any():
            columns[uniform], rows[uniform] = self.region.draw(rng, int(uniform.sum()))
        if weighted.any():
            columns[weighted], rows[weighted] = self._draw_weighted(
                rng, int(weighted.sum())
            )
        return columns, rows

    def _draw_weighted(
        self, rng: np.random.Generator, count: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``count`` centres drawn by class weight alone (strength 1)."""
        size = self.cells.size
        chosen = rng.choice(len(self.probabilities), size=count, p=self.probabilities)
        # Most cells lie wholly in the region: any of their pixels will do.
        picks = rng.integers(0, size * size, count)
        columns = self.cells.columns[chosen] * size + picks % size
        rows = self.cells.rows[chosen] * size + picks // size
        partial = np.flatnonzero(self.cells.inside[chosen] < size * size)
        order = partial[np.argsort(chosen[partial], kind='stable')]
        cells, starts, counts = np.unique(
            chosen[order], return_index=True, return_counts=True
        )
        for cell, start, drawn in zip(
            cells.tolist(), starts.tolist(), counts.tolist(), strict=True
        ):
            where = order[start : start + drawn]
            columns[where], rows[where] = self._pixels_in_part_of_cell(rng, cell, drawn)
        return columns, rows

    def _pixels_in_part_of_cell(
        self, rng: np.random.Generator, cell: int, count: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``count`` pixels drawn uniformly among a cell's pixels in the region."""
        size, grid = self.cells.size, self.region.grid
        c0 = int(self.cells.columns[cell]) * size
        r0 = int(self.cells.rows[cell]) * size
        x, y = grid.window(c0, r0, size, size)
        bounds = (x.start, y.start, x.stop, y.stop)
        near = self.parts[self.tree.query(shapely.box(*bounds))]
        # Clipped to the cell, the parts' long outlines (the Flanders boundary)
        # burn in a few edges; no pixel centre of the cell changes side.
        clipped = shapely.clip_by_rect(near, *bounds)
        transform = grid.window_transform(c0, r0)
        _, row, start, stop = pixel_runs(clipped, transform, (size, size))
        inside = np.flatnonzero(runs_to_mask(row, start, stop, (size, size)))
        picks = inside[rng.integers(0, inside.size, count)]
        return c0 + picks % size, r0 + picks // size


def _cell_span(
    region: SplitRegion, part: BaseGeometry, size: int
) -> tuple[int, int, int, int]:
    """``(first column, first row, stop column, stop row)`` of a part, in cells."""
    window = region.grid.covering(part.bounds)
    column, row = int(window.col_off), int(window.row_off)
    return (
        column // size,
        row // size,
        math.ceil((column + int(window.width)) / size),
        math.ceil((row + int(window.height)) / size),
    )


def _blocks(
    span: tuple[int, int, int, int], size: int
) -> list[tuple[int, int, int, int]]:
    """Blocks of whole cells covering a span: ``(column, row, width, height)``."""
    c0, r0, c1, r1 = span
    step = min(BLOCK_CELLS, max(1, BLOCK_PIXELS // size))
    return [
        (
            c * size,
            r * size,
            (min(c + step, c1) - c) * size,
            (min(r + step, r1) - r) * size,
        )
        for r in range(r0, r1, step)
        for c in range(c0, c1, step)
    ]


def _count_block(
    region: SplitRegion,
    part: BaseGeometry,
    labels: GeoDataset,
    size: int,
    block: tuple[int, int, int, int],
) -> ClassCells | None:
    """The cells of one block of one part of the region (None: no label)."""
    column, row, width, height = block
    grid = region.grid
    _, runs, start, stop = pixel_runs(
        np.array([part], dtype=object),
        grid.window_transform(column, row),
        (height, width),
    )
    inside = runs_to_mask(runs, start, stop, (height, width))
    if not inside.any():
        return None
    try:
        mask = labels[grid.window(column, row, width, height)]['mask']
    except IndexError:
        return None
    classes = mask.reshape(height, width).numpy()
    labelled = inside & (classes >= 0) & (classes < NUM_CLASSES)
    # One bincount over the whole block, two extra bins per cell (in the region
    # but unlabelled, outside it), is several times faster than selecting the
    # pixels inside first.
    bins = NUM_CLASSES + 2
    across = width // size
    cell_rows = (np.arange(height, dtype=np.int32) // size) * across * bins
    key = cell_rows[:, None] + (np.arange(width, dtype=np.int32) // size * bins)
    key += np.where(labelled, classes.astype(np.int32), NUM_CLASSES)
    key[~inside] += 1
    cells = across * (height // size)
    tally = np.bincount(key.ravel(), minlength=cells * bins).reshape(cells, bins)
    kept = np.flatnonzero(tally[:, :NUM_CLASSES].any(axis=1))
    if kept.size == 0:
        return None
    return ClassCells(
        size,
        column // size + kept % across,
        row // size + kept // across,
        tally[kept, :NUM_CLASSES].astype(np.int32),
        tally[kept, : NUM_CLASSES + 1].sum(axis=1).astype(np.int32),
    )


def _merged(size: int, parts: list[ClassCells]) -> ClassCells:
    """One set of cells: the counts of a cell that several parts share, added."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ClassCells(
            size,
            empty,
            empty,
            np.zeros((0, NUM_CLASSES), dtype=np.int32),
            np.zeros(0, dtype=np.int32),
        )
    columns = np.concatenate([p.columns for p in parts])
    rows = np.concatenate([p.rows for p in parts])
    keys, which = np.unique(
        np.stack([rows, columns], axis=1), axis=0, return_inverse=True
    )
    counts = np.zeros((len(keys), NUM_CLASSES), dtype=np.int32)
    inside = np.zeros(len(keys), dtype=np.int32)
    np.add.at(counts, which.ravel(), np.concatenate([p.counts for p in parts]))
    np.add.at(inside, which.ravel(), np.concatenate([p.inside for p in parts]))
    return ClassCells(
        size, keys[:, 1].astype(np.int64), keys[:, 0].astype(np.int64), counts, inside
    )
