"""Write class maps in the fused-map format (see :mod:`torchgeo_bvm.classmap`).

A map is ``<name>.tif`` (uint8 class ids 0..13, 255 where there is no class; a
COG with colour table and class names, as
:func:`~torchgeo_bvm.labels.write_class_raster` writes it) with
``<name>_confidence.tif`` (uint8 0..250, 255 = nodata) and optionally
``<name>_count.tif`` (uint8 clear observations) on the same grid. Arrays or
block functions can be given, so maps of all of Flanders are written with
bounded memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.windows import Window
from tqdm import tqdm

from ..classes import IGNORE_INDEX
from ..fileio import atomic_path
from ..labels import COG_BLOCK_SIZE, write_class_raster
from ..pixelgrid import Grid

__all__ = ['write_class_map']

Blocks = NDArray[np.uint8] | Callable[[Window], NDArray[np.uint8]]


def write_class_map(
    path: str | os.PathLike[str],
    classes: Blocks,
    grid: Grid,
    confidence: Blocks | None = None,
    count: Blocks | None = None,
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
        block_size: pixels per block side when calling block functions (a
            multiple of :data:`~torchgeo_bvm.labels.COG_BLOCK_SIZE`).
        progress: show progress bars.

    Returns:
        The written files by kind: ``classes``, and ``confidence`` and
        ``count`` where written.
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
    return written


def _write_band(
    path: Path, data: Blocks, grid: Grid, kind: str, block_size: int, progress: bool
) -> None:
    height, width = grid.shape
    assert grid.crs is not None
    profile = {
        'driver': 'GTiff',
        'dtype': 'uint8',
        'count': 1,
        'width': width,
        'height': height,
        'crs': grid.crs.to_wkt(),
        'transform': grid.transform,
        'nodata': IGNORE_INDEX,
        'tiled': True,
        'blockxsize': COG_BLOCK_SIZE,
        'blockysize': COG_BLOCK_SIZE,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }
    windows = list(grid.windows(block_size))
    with (
        atomic_path(path) as temporary,
        rasterio.open(temporary, 'w', **profile) as dst,
    ):
        for window in tqdm(
            windows, desc=f'writing {path.name}', unit='block', disable=not progress
        ):
            if isinstance(data, np.ndarray):
                rows, columns = window.toslices()
                block = data[rows, columns]
            else:
                block = data(window)
            dst.write(np.asarray(block, dtype=np.uint8), 1, window=window)
        dst.set_band_description(1, kind)
