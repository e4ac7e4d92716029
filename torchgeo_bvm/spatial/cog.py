"""Cloud Optimized GeoTIFFs: the layout of every raster the package writes.

:func:`write_cog` writes bands block by block into a staging GeoTIFF, then
copies it with GDAL's COG driver (512 x 512 DEFLATE tiles, overviews, the
image file directory at the start of the file), and the file appears under its
name only when complete. Label rasters, prediction maps and probabilities all
go through it, so QGIS and cloud readers get the same layout everywhere.

Per-band ``scales`` and ``offsets`` are GDAL's standard ones (``value = raw *
scale + offset``), which QGIS applies for display and rasterio exposes as
``dataset.scales`` and ``dataset.offsets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
import rasterio.shutil
from numpy.typing import NDArray
from rasterio.windows import Window
from tqdm import tqdm

from ..checks import check_pixels
from ..errors import BVMValueError
from ..fileio import atomic_path, staging_folder

if TYPE_CHECKING:
    from .pixelgrid import Grid

__all__ = ['COG_BLOCK_SIZE', 'COG_SUFFIXES', 'BlockSource', 'write_cog']

#: Tile size of the written GeoTIFFs.
COG_BLOCK_SIZE = 512
#: The suffixes a written GeoTIFF may have.
COG_SUFFIXES = ('.tif', '.tiff')

#: The pixels to write: a ``[bands, height, width]`` array, or a function
#: returning the ``[bands, rows, cols]`` block of a window (bounded memory).
BlockSource = NDArray[np.generic] | Callable[[Window], NDArray[np.generic]]


def write_cog(
    path: str | os.PathLike[str],
    data: BlockSource,
    grid: Grid,
    *,
    count: int,
    dtype: str,
    nodata: float | None,
    descriptions: Sequence[str] | None = None,
    scales: Sequence[float] | None = None,
    offsets: Sequence[float] | None = None,
    overview_resampling: str = 'nearest',
    aux_xml: str | None = None,
    block_size: int = 2048,
    progress: bool = True,
    before_commit: Callable[[], None] | None = None,
) -> Path:
    """Write a raster as a Cloud Optimized GeoTIFF, block by block, atomically.

    Args:
        path: the ``.tif`` to write.
        data: ``[count, height, width]`` pixels, or a function returning the
            ``[count, rows, cols]`` block of a :class:`~rasterio.windows.Window`.
        grid: the raster grid (CRS, transform, size).
        count: number of bands.
        dtype: the data type, e.g. ``'uint8'``.
        nodata: the nodata value, or None.
        descriptions: one description per band.
        scales: GDAL's per-band scale (``value = raw * scale + offset``).
        offsets: GDAL's per-band offset.
        overview_resampling: resampling of the overviews (``'nearest'`` for
            classes, ``'average'`` for continuous values).
        aux_xml: the text of a GDAL ``.aux.xml`` (PAM) file to write beside the
            GeoTIFF, appearing with it.
        block_size: pixels per block side when producing ``data`` (a multiple
            of :data:`COG_BLOCK_SIZE`).
        progress: show a progress bar.
        before_commit: called once every block is written, before the file
            appears; raising from it leaves no file (and any old one as it was).

    Returns:
        The written path.

    Raises:
        BVMValueError: if ``path`` is not named ``.tif``/``.tiff``, the grid has
            no CRS or is too large, or the data or a block has the wrong shape.
    """
    path = Path(path)
    if path.suffix.lower() not in COG_SUFFIXES:
        raise BVMValueError(
            f'{path}: a GeoTIFF is written here; name it .tif (a raster named '
            f'{path.suffix or "without a suffix"} is read as something else)'
        )
    if grid.crs is None:
        raise BVMValueError(f'{path}: the grid has no CRS')
    height, width = grid.shape
    check_pixels(width, height, f'{path}')
    if isinstance(data, np.ndarray) and data.shape != (count, height, width):
        raise BVMValueError(
            f'{path}: data of shape {data.shape} for {count} bands of '
            f'{height} x {width} pixels'
        )
    profile = {
        'driver': 'GTiff',
        'dtype': dtype,
        'count': count,
        'width': width,
        'height': height,
        'crs': grid.crs.to_wkt(),
        'transform': grid.transform,
        'nodata': nodata,
        'tiled': True,
        'blockxsize': COG_BLOCK_SIZE,
        'blockysize': COG_BLOCK_SIZE,
        'compress': 'deflate',
        'BIGTIFF': 'IF_SAFER',
    }
    windows = list(grid.windows(block_size))
    # The staging file sits in a hidden folder beside the output (same file
    # system, never found by a dataset scan), removed whatever happens.
    with staging_folder(path) as folder, atomic_path(path) as temporary:
        staging = folder / 'blocks.tif'
        with rasterio.open(staging, 'w', **profile) as dst:
            for window in tqdm(
                windows, desc=f'writing {path.name}', unit='block', disable=not progress
            ):
                dst.write(_block(data, window, count, dtype), window=window)
            for band, description in enumerate(descriptions or [], start=1):
                dst.set_band_description(band, description)
            if scales is not None:
                dst.scales = tuple(scales)
            if offsets is not None:
                dst.offsets = tuple(offsets)
        if before_commit is not None:
            before_commit()
        # The COG driver only copies from a finished dataset; the staging file
        # lets the blocks be produced one at a time.
        rasterio.shutil.copy(
            staging,
            temporary,
            driver='COG',
            COMPRESS='DEFLATE',
            BLOCKSIZE=str(COG_BLOCK_SIZE),
            OVERVIEW_RESAMPLING=overview_resampling.upper(),
            BIGTIFF='IF_SAFER',
        )
        if aux_xml is not None:
            temporary.with_name(temporary.name + '.aux.xml').write_text(aux_xml)
    return path


def _block(
    data: BlockSource, window: Window, count: int, dtype: str
) -> NDArray[np.generic]:
    if isinstance(data, np.ndarray):
        rows, cols = window.toslices()
        return np.asarray(data[:, rows, cols], dtype=dtype)
    block = np.asarray(data(window), dtype=dtype)
    if block.shape != (count, window.height, window.width):
        raise BVMValueError(
            f'block function returned shape {block.shape} for window {window}'
        )
    return block
