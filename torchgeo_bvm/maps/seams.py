"""How much tile borders show in a class map.

A map stitched from tiles predicted one by one shows rectangular seams where
neighbouring tiles disagree: the class changes more often between two pixels
on either side of a tile border than between two neighbouring pixels
elsewhere. :func:`seam_rates` counts both among the pairs of 4-neighbours that
both have a class; the **seam ratio** is the rate of class changes across tile
borders divided by the rate elsewhere. A map without seams has a ratio near 1
(borders are ordinary places); ``benchmarks/bench_seams.py`` measures it on
the demo's fused map against the one-date-per-tile patchwork.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..classes import IGNORE_INDEX
from ..errors import BVMValueError

__all__ = ['SeamRates', 'seam_rates', 'tile_borders']


@dataclass(frozen=True)
class SeamRates:
    """Class changes between 4-neighbours, across tile borders and elsewhere.

    Args:
        border_changes: pairs across a tile border whose classes differ.
        border_pairs: pairs across a tile border.
        other_changes: other pairs whose classes differ.
        other_pairs: other pairs.
    """

    border_changes: int
    border_pairs: int
    other_changes: int
    other_pairs: int

    @property
    def border_rate(self) -> float:
        """The share of pairs across tile borders whose classes differ."""
        return self.border_changes / self.border_pairs if self.border_pairs else 0.0

    @property
    def other_rate(self) -> float:
        """The share of the other pairs whose classes differ."""
        return self.other_changes / self.other_pairs if self.other_pairs else 0.0

    @property
    def ratio(self) -> float:
        """``border_rate / other_rate`` (NaN without changes elsewhere)."""
        return self.border_rate / self.other_rate if self.other_rate else float('nan')

    def __add__(self, other: SeamRates) -> SeamRates:
        """The counts of two maps together.

        Args:
            other: the other map's counts.

        Returns:
            The sums.
        """
        return SeamRates(
            self.border_changes + other.border_changes,
            self.border_pairs + other.border_pairs,
            self.other_changes + other.other_changes,
            self.other_pairs + other.other_pairs,
        )


def tile_borders(starts: Iterable[int], size: int, extent: int) -> NDArray[np.int64]:
    """Where tile edges cut a map along one axis.

    Args:
        starts: the first pixel of every tile along the axis, relative to the
            map (negative where a tile begins before it).
        size: the tiles' length in pixels.
        extent: the map's length in pixels.

    Returns:
        Sorted positions ``b`` in ``1 .. extent - 1``: a tile edge lies between
        pixels ``b - 1`` and ``b``.
    """
    first = np.asarray(list(starts), dtype=np.int64)
    edges = np.unique(np.concatenate([first, first + size]))
    return edges[(edges > 0) & (edges < extent)]


def seam_rates(
    classes: NDArray[np.integer],
    border_columns: Iterable[int],
    border_rows: Iterable[int],
    nodata: int = IGNORE_INDEX,
) -> SeamRates:
    """Count class changes between 4-neighbours across tile borders and elsewhere.

    Args:
        classes: ``[height, width]`` class ids.
        border_columns: ``b`` where a vertical tile edge lies between columns
            ``b - 1`` and ``b`` (:func:`tile_borders`).
        border_rows: the same for horizontal edges between rows.
        nodata: the value of pixels without a class; pairs with one are left
            out.

    Returns:
        The counts.

    Raises:
        BVMValueError: if ``classes`` is not two-dimensional.
    """
    if classes.ndim != 2:
        raise BVMValueError(f'expected a [height, width] map, got {classes.shape}')
    height, width = classes.shape
    totals = [0, 0, 0, 0]
    for axis, borders, extent in ((1, border_columns, width), (0, border_rows, height)):
        first = classes[:, :-1] if axis == 1 else classes[:-1, :]
        second = classes[:, 1:] if axis == 1 else classes[1:, :]
        both = (first != nodata) & (second != nodata)
        changed = both & (first != second)
        across = np.zeros(max(extent - 1, 0), dtype=bool)
        positions = np.asarray(list(borders), dtype=np.int64)
        positions = positions[(positions > 0) & (positions < extent)]
        across[positions - 1] = True
        shape = (1, -1) if axis == 1 else (-1, 1)
        at_border = np.broadcast_to(across.reshape(shape), both.shape)
        totals[0] += int(np.count_nonzero(changed & at_border))
        totals[1] += int(np.count_nonzero(both & at_border))
        totals[2] += int(np.count_nonzero(changed & ~at_border))
        totals[3] += int(np.count_nonzero(both & ~at_border))
    return SeamRates(*totals)
