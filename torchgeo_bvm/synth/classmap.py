"""Write class maps in the fused-map format (see :mod:`torchgeo_bvm.maps.files`).

A map is ``<name>.tif`` (uint8 class ids 0..13, 255 where there is no class; a
COG with colour table and class names, as
:func:`~torchgeo_bvm.spatial.classraster.write_class_raster` writes it) with
``<name>_confidence.tif`` (uint8 0..250, 255 = nodata) and optionally
``<name>_count.tif`` (uint8 clear observations) and
``<name>_probabilities.tif`` (one uint8 band per class, 0..250) on the same
grid. Arrays or
block functions can be given, so maps of all of Flanders are written with
bounded memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from ..classes import CLASS_NAMES, IGNORE_INDEX
from ..spatial.classraster import write_class_raster
from ..spatial.cog import BlockSource, write_cog
from ..spatial.pixelgrid import Grid

__all__ = ['write_class_map']

Blocks = NDArray[np.uint8] | Callable[[Window], NDArray[np.uint8]]


def write_class_map(
    path: str | os.PathLike[str],
    classes: Blocks,
    grid: Grid,
    confidence: Blocks | None = None,
    count: Blocks | None = None,
    probabilities: NDArray[np.uint8] | None = None,
    block_size: int = 2048,
    progress: bool = False,
) -> dict[str, Path]:
    """Write a class map and its siblings.

    Args:
        path: the class raster, ``<name>.tif``.
        classes: uint8 class ids [height, width] (255: no class), or a function
            returning the block of a window.
        grid: the map's grid.
        confidence: uint8 0..250 (255: nodata), or a block function; None
            writes no confidence raster.
        count: uint8 observation counts, or a block function; None writes none.
        probabilities: ``[classes, height, width]`` uint8 0..250 (255:
            nodata), the class names as band descriptions; None writes none.
        block_size: pixels per block side when calling block functions (a
            multiple of :data:`~torchgeo_bvm.spatial.cog.COG_BLOCK_SIZE`).
        progress: show progress bars.

    Returns:
        The written files by kind: ``classes``, and ``confidence``, ``count``
        and ``probabilities`` where written.
    """
    path = Path(path)
    written = {
        'classes': write_class_raster(
            path,
            classes,
            grid,
            description='class',
            block_size=block_size,
            progress=progress,
        )
    }
    for kind, data in (('confidence', confidence), ('count', count)):
        if data is None:
            continue
        sibling = path.with_name(f'{path.stem}_{kind}{path.suffix}')
        _write_band(sibling, data, grid, kind, block_size, progress)
        written[kind] = sibling
    if probabilities is not None:
        sibling = path.with_name(f'{path.stem}_probabilities{path.suffix}')
        write_cog(
            sibling,
            np.asarray(probabilities, dtype=np.uint8),
            grid,
            count=len(probabilities),
            dtype='uint8',
            nodata=IGNORE_INDEX,
            descriptions=list(CLASS_NAMES[: len(probabilities)]),
            block_size=block_size,
            progress=progress,
        )
        written['probabilities'] = sibling
    return written


def _write_band(
    path: Path, data: Blocks, grid: Grid, kind: str, block_size: int, progress: bool
) -> None:
    if isinstance(data, np.ndarray):
        source: BlockSource = data[np.newaxis]
    else:
        function = data

        def source(window: Window) -> NDArray[np.uint8]:
            return np.asarray(function(window), dtype=np.uint8)[np.newaxis]

    write_cog(
        path,
        source,
        grid,
        count=1,
        dtype='uint8',
        nodata=IGNORE_INDEX,
        descriptions=[kind],
        block_size=block_size,
        progress=progress,
    )
