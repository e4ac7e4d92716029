"""Written files read back whole before they take their final name.

GDAL reports some failed writes only in its log: on a full disk a GeoTIFF or a
shapefile can lose its last blocks while the call that wrote it returns as if
all went well, and the file then opens but cannot be read. Python's own writes
(text, JSON, CSV, ``numpy``, PNG) raise instead, so only the formats GDAL writes
need reading back. :func:`~torchgeo_bvm.fileio.atomic_path` calls
:func:`read_back` on every file of a write before renaming it, so a damaged file
never replaces a good one and the command stops with one line naming the file.

What is read: every block a raster (``.tif``, ``.tiff``) stores, of every
band and of each of its overviews, in windows of bounded size, and its last
pixel (a block a GeoTIFF does not store, written with ``SPARSE_OK``, is nodata
without being in the file: reading it would check nothing); every feature of
every layer of a vector file GDAL wrote (``.shp``, ``.gpkg``, ``.fgb``),
geometry and fields, and the count GDAL reports for the layer must match the
features read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import underlying_message

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from rasterio.windows import Window

__all__ = ['READ_BACK_SUFFIXES', 'WINDOW_BYTES', 'read_back']

#: The most bytes one window of a raster read back takes in memory.
WINDOW_BYTES = 64 * 2**20


def _read_raster(path: Path) -> None:
    import rasterio

    with rasterio.open(path) as source:
        levels = len(source.overviews(1)) if source.count else 0
        _read_every_window(source)
    for level in range(levels):
        with rasterio.open(path, overview_level=level) as source:
            _read_every_window(source)


def _read_every_window(source: DatasetReader) -> None:
    stored = _stored_blocks(source)
    rows, cols = source.block_shapes[0] if source.count else (1, 1)
    if stored is not None:
        # The last block's entry ends the file's tables of block offsets and
        # sizes: cut short, GDAL knows no block, and this read fails.
        source.read(window=_last_pixel(source))
    for window in _windows(source):
        part = window if stored is None else _stored_part(window, stored, rows, cols)
        if part is not None:
            source.read(window=part)


def _stored_blocks(source: DatasetReader) -> set[tuple[int, int]] | None:
    """The ``(row, column)`` of each block the GeoTIFF stores, None if unknown.

    A GeoTIFF written with ``SPARSE_OK`` (a Terrascope product of the
    synthetic archive, 10,980 pixels square with data in a corner) stores no
    block where the data left nodata, and GDAL reads such a block as nodata
    without touching the file: reading it checks nothing. GDAL tells a stored
    block's size (``BLOCK_SIZE_<column>_<row>`` of the ``TIFF`` domain) and
    nothing for one it does not store. Other formats say nothing of their
    blocks, and every window is read.
    """
    from rasterio.errors import RasterBlockError

    if source.driver != 'GTiff' or not source.count:
        return None
    rows, cols = source.block_shapes[0]
    stored = set()
    for row in range(math.ceil(source.height / rows)):
        for column in range(math.ceil(source.width / cols)):
            for band in source.indexes:
                try:
                    source.block_size(band, row, column)
                except RasterBlockError:
                    continue
                stored.add((row, column))
                break
    return stored


def _last_pixel(source: DatasetReader) -> Window:
    from rasterio.windows import Window

    return Window(source.width - 1, source.height - 1, 1, 1)


def _stored_part(
    window: Window, stored: set[tuple[int, int]], rows: int, cols: int
) -> Window | None:
    """The part of a block-aligned window that covers its stored blocks."""
    from rasterio.windows import Window

    top, left = int(window.row_off) // rows, int(window.col_off) // cols
    bottom = math.ceil((window.row_off + window.height) / rows)
    right = math.ceil((window.col_off + window.width) / cols)
    inside = [
        (row, column)
        for row, column in stored
        if top <= row < bottom and left <= column < right
    ]
    if not inside:
        return None
    first_row = min(row for row, _ in inside)
    first_column = min(column for _, column in inside)
    row_off, col_off = first_row * rows, first_column * cols
    last_row = (max(row for row, _ in inside) + 1) * rows
    last_column = (max(column for _, column in inside) + 1) * cols
    return Window(
        col_off,
        row_off,
        min(last_column, window.col_off + window.width) - col_off,
        min(last_row, window.row_off + window.height) - row_off,
    )


def _windows(source: DatasetReader) -> Iterator[Window]:
    """Windows of whole blocks covering the raster, each under WINDOW_BYTES."""
    from rasterio.windows import Window

    rows, cols = source.block_shapes[0] if source.count else (1, 1)
    pixel = max(1, sum(_itemsize(dtype) for dtype in source.dtypes))
    blocks = max(1, WINDOW_BYTES // (pixel * rows * cols))
    across = max(1, min(math.ceil(source.width / cols), blocks))
    down = max(1, blocks // across)
    height, width = rows * down, cols * across
    for top in range(0, source.height, height):
        for left in range(0, source.width, width):
            yield Window(
                left,
                top,
                min(width, source.width - left),
                min(height, source.height - top),
            )


def _itemsize(dtype: str) -> int:
    import numpy as np

    return int(np.dtype(dtype).itemsize)


def _read_vector(path: Path) -> None:
    import pyogrio
    import pyogrio.raw

    if path.suffix.lower() == '.shp':
        # GDAL reads the features of a cut .shp as empty geometries; the
        # header's own length tells.
        for part in (path, path.with_suffix('.shx')):
            _check_shapefile_length(part)
    for name, _ in pyogrio.list_layers(path):
        expected = pyogrio.read_info(path, layer=name, force_feature_count=True)[
            'features'
        ]
        read = pyogrio.raw.read(path, layer=name)
        found = len(read[2]) if read[2] is not None else len(read[3][0])
        if expected >= 0 and found != expected:
            raise OSError(
                f'layer {name!r} holds {expected} features, {found} could be read'
            )


def _check_shapefile_length(path: Path) -> None:
    """A ``.shp`` or ``.shx`` is as long as its header says (in 16-bit words)."""
    with path.open('rb') as file:
        header = file.read(28)
    size = path.stat().st_size
    stated = int.from_bytes(header[24:28], 'big') * 2 if len(header) == 28 else -1
    if stated != size:
        raise OSError(f'{path.suffix} of {size} bytes, its header says {stated}')


#: The formats read back, by suffix: those GDAL writes.
_READERS: dict[str, Callable[[Path], None]] = {
    '.tif': _read_raster,
    '.tiff': _read_raster,
    '.shp': _read_vector,
    '.gpkg': _read_vector,
    '.fgb': _read_vector,
}
#: Suffixes of the files :func:`read_back` reads (others it leaves alone).
READ_BACK_SUFFIXES = tuple(_READERS)


def read_back(path: str | Path) -> None:
    """Read a just-written file back whole, through the library that reads it.

    Files of other formats than :data:`READ_BACK_SUFFIXES` are left alone
    (Python's writes raise when they fail).

    Args:
        path: the file (a staging name: its suffix counts).

    Raises:
        OSError: if the file cannot be read back whole, with the reason.
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None or not path.is_file():
        return
    try:
        reader(path)
    except Exception as error:  # rasterio's, pyogrio's and GDAL's own kinds
        raise OSError(
            f'it does not read back whole ({underlying_message(error)})'
        ) from error
