"""Plain windowed reads of a file's own pixels: the fast paths of a read.

A window on a file's pixel grid (in the dataset's CRS, at the file's
resolution, :meth:`~torchgeo_bvm.datasets.reader.FileReader.aligned`) needs no
merge: one plain windowed read, clipped to the file, gives the values that
``rasterio.merge.merge`` (TorchGeo's path) gives, NaN outside the file and at
nodata, in a fraction of the time. These functions are those reads: a window
(:func:`read_window`, :func:`read_window_into`), a window whose pixels split
the file's (:func:`read_subdivided`), and the bands with the validity layer
of one file over a wider window (:func:`read_bands_and_mask`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from rasterio.errors import RasterioError

from .headers import FileInfo, corrupt_file_error

if TYPE_CHECKING:
    from .reader import OpenFiles

__all__ = [
    'read_bands_and_mask',
    'read_clipped',
    'read_subdivided',
    'read_window',
    'read_window_into',
]


def read_clipped(
    files: OpenFiles, path: str, indexes: list[int], window: tuple[int, int, int, int]
) -> tuple[NDArray[Any], slice, slice] | None:
    """The part of a window inside a file: one plain windowed read.

    Args:
        files: the open files.
        path: the file.
        indexes: its 1-based bands to read.
        window: ``(column, row, width, height)`` on the file's pixels.

    Returns:
        The file's values there and where they go in the window (rows,
        columns); None, and nothing is read, when the window misses the file.

    Raises:
        BVMNotFoundError: if the file no longer exists.
        ValueError: if GDAL cannot read it.
    """
    clipped = files.file_info(path).grid.clip(*window)
    if clipped is None:
        return None
    part, rows, columns = clipped
    src = files.open(path)
    try:
        data: NDArray[Any] = src.read(indexes, window=part)
    except RasterioError as error:
        raise corrupt_file_error(path, error) from error
    finally:
        files.release(src)
    return data, rows, columns


def read_window(
    files: OpenFiles,
    path: str,
    indexes: list[int],
    aligned: tuple[FileInfo, int, int],
    shape: tuple[int, int],
) -> NDArray[np.float32]:
    """Read a window that lies on the file's own pixel grid.

    The same values as ``rasterio.merge.merge`` (TorchGeo's path, and ours
    for windows off the file's grid) in a fraction of the time: merge reads
    every band through a masked, resampling read (GDAL computes a mask band)
    into a nodata-filled mosaic, and a second merge for the validity layer
    (Sentinel-2's SCL) decompresses the same pixel-interleaved strips again.
    Here one plain windowed read of the bands and the layer together
    (:func:`read_bands_and_mask`) decompresses each strip once, with no
    merge, VRT or mask band; only the part of the window outside the file is
    filled (NaN), and nodata values become NaN as merge's mask would make them.

    Args:
        files: the open files.
        path: the file.
        indexes: its 1-based bands to read.
        aligned: the file's info and the window's first column and row in the
            file (:meth:`~torchgeo_bvm.datasets.reader.FileReader.aligned`).
        shape: the window's shape.

    Returns:
        ``[len(indexes), height, width]`` float32.
    """
    out = np.empty((len(indexes), *shape), dtype=np.float32)
    read_window_into(files, path, indexes, aligned, out)
    return out


def read_window_into(
    files: OpenFiles,
    path: str,
    indexes: list[int],
    aligned: tuple[FileInfo, int, int],
    out: NDArray[np.float32],
) -> bool:
    """:func:`read_window` into ``out``; whether it holds no NaN.

    Args:
        files: the open files.
        path: the file.
        indexes: its 1-based bands to read.
        aligned: as for :func:`read_window`.
        out: ``[len(indexes), height, width]`` float32 to fill.

    Returns:
        True when ``out`` holds no NaN (NaN scans can then be skipped).
    """
    file, col, row = aligned
    height, width = out.shape[1:]
    clipped = read_clipped(files, path, indexes, (col, row, width, height))
    if clipped is None:
        out[...] = np.nan
        return False
    data, rows, columns = clipped
    if data.shape[1:] == out.shape[1:]:
        # The usual case, a window inside the file: one conversion straight
        # into place, no NaN-filled canvas to fill and copy into.
        np.copyto(out, data, casting='unsafe')
        part = out
        clean = data.dtype.kind in 'iu'  # floats may hold NaN
    else:
        out[...] = np.nan
        part = out[:, rows, columns]
        part[...] = data
        clean = False
    if _nan_at_nodata(part, data, file, indexes):
        clean = False
    return clean


def _nan_at_nodata(
    values: NDArray[np.float32],
    data: NDArray[Any],
    file: FileInfo,
    indexes: list[int],
) -> bool:
    """Put NaN in ``values`` where ``data`` holds its band's nodata value.

    Args:
        values: ``[len(indexes), height, width]``, written in place.
        data: the file's values of those bands, the same shape.
        file: the file's info (its nodata values).
        indexes: the file's 1-based bands, one per channel.

    Returns:
        Whether some pixel held nodata.
    """
    found = False
    for channel, index in enumerate(indexes):
        nodata = file.nodata[index - 1]
        if nodata is not None and not math.isnan(nodata):
            hole = data[channel] == nodata
            if hole.any():
                values[channel][hole] = np.nan
                found = True
    return found


def read_subdivided(
    files: OpenFiles,
    path: str,
    indexes: list[int],
    file: FileInfo,
    column: int,
    row: int,
    x_factor: int,
    y_factor: int,
    shape: tuple[int, int],
) -> NDArray[np.float32]:
    """Read a window whose pixels split the file's (a 20 m band at 10 m).

    Nearest-neighbour resampling then repeats each file pixel over the
    window pixels inside it: the same values as ``rasterio.merge.merge``
    with nearest resampling (see :func:`read_window`), from one plain
    windowed read of the file's pixels and a gather, with no merge.

    Args:
        files: the open files.
        path: the file.
        indexes: its 1-based bands to read.
        file: its info.
        column: the window's first column, in window pixels from the
            file's first column.
        row: the window's first row, likewise.
        x_factor: window pixels per file pixel along x.
        y_factor: window pixels per file pixel along y.
        shape: the window's shape.

    Returns:
        ``[len(indexes), height, width]``, NaN outside the file and at nodata.
    """
    height, width = shape
    out = np.full((len(indexes), height, width), np.nan, dtype=np.float32)
    # The file pixel of every window row and column.
    rows = (row + np.arange(height)) // y_factor
    columns = (column + np.arange(width)) // x_factor
    r0, c0 = int(rows[0]), int(columns[0])
    window = (c0, r0, int(columns[-1]) - c0 + 1, int(rows[-1]) - r0 + 1)
    clipped = read_clipped(files, path, indexes, window)
    if clipped is None:
        return out
    data, data_rows, data_columns = clipped
    values = data.astype(np.float32)
    _nan_at_nodata(values, data, file, indexes)
    # The window rows and columns whose file pixel was read (a run of each).
    inside_rows = np.flatnonzero(
        (rows - r0 >= data_rows.start) & (rows - r0 < data_rows.stop)
    )
    inside_columns = np.flatnonzero(
        (columns - c0 >= data_columns.start) & (columns - c0 < data_columns.stop)
    )
    take_rows = rows[inside_rows] - r0 - data_rows.start
    take_columns = columns[inside_columns] - c0 - data_columns.start
    rs = slice(int(inside_rows[0]), int(inside_rows[-1]) + 1)
    cs = slice(int(inside_columns[0]), int(inside_columns[-1]) + 1)
    out[:, rs, cs] = values[:, take_rows][:, :, take_columns]
    return out


def read_bands_and_mask(
    files: OpenFiles,
    path: str,
    channels: list[int],
    indexes: list[int],
    mask_index: int,
    aligned: tuple[FileInfo, int, int],
    wide_shape: tuple[int, int],
    image: NDArray[np.float32],
) -> tuple[NDArray[np.float32], bool, bool]:
    """Bands and the validity layer of one file on its grid, in one read.

    Gives what :func:`read_window` of the wide window (the window with the
    mask rule's margin, such as Sentinel-2's cloud dilation) followed by
    cropping the bands gives, without converting the bands' margin to
    float32 (1.7 times the pixels of a 256 px window at 400 m) only to crop
    it away, and without a NaN canvas when the window lies inside the file:
    the bands are cast from the file's integers straight into ``image``
    (exact for int16), the validity layer is kept wide.

    Args:
        files: the open files.
        path: the file.
        channels: where the bands go in ``image``.
        indexes: the file's 1-based bands, one per channel.
        mask_index: the file's 1-based band of the validity layer.
        aligned: :meth:`~torchgeo_bvm.datasets.reader.FileReader.aligned` of
            the wide window.
        wide_shape: the wide window's shape.
        image: ``[C, height, width]``; ``image[channels]`` is written (NaN
            outside the file and at nodata).

    Returns:
        The validity layer over the wide window (NaN likewise), whether the
        bands hold no NaN and whether the layer holds none (the caller's
        NaN bookkeeping can then be skipped).
    """
    file, col, row = aligned
    height, width = image.shape[1:]
    wide_height, wide_width = wide_shape
    my, mx = (wide_height - height) // 2, (wide_width - width) // 2
    whole = channels == list(range(image.shape[0]))
    bands = image if whole else np.empty((len(channels), height, width), np.float32)
    layer = np.full(wide_shape, np.nan, dtype=np.float32)
    clipped = read_clipped(
        files, path, [*indexes, mask_index], (col, row, wide_width, wide_height)
    )
    if clipped is None:
        bands[...] = np.nan
        data: NDArray[Any] = np.empty((len(indexes) + 1, 0, 0), dtype=np.int16)
        dr = dc = 0
    else:
        data, rows, columns = clipped
        # The data's rows and columns in the wide window.
        dr, dc = rows.start, columns.start
    # The inner window's rows and columns in the data.
    ir0, ir1 = max(dr, my), min(dr + data.shape[1], my + height)
    ic0, ic1 = max(dc, mx), min(dc + data.shape[2], mx + width)
    bands_clean = False
    if ir0 >= ir1 or ic0 >= ic1:
        bands[...] = np.nan
    else:
        inner = data[:-1, ir0 - dr : ir1 - dr, ic0 - dc : ic1 - dc]
        if (ir0, ir1, ic0, ic1) == (my, my + height, mx, mx + width):
            part = bands
            bands_clean = data.dtype.kind in 'iu'  # floats may hold NaN
        else:
            bands[...] = np.nan
            part = bands[:, ir0 - my : ir1 - my, ic0 - mx : ic1 - mx]
        np.copyto(part, inner, casting='unsafe')
        if _nan_at_nodata(part, inner, file, indexes):
            bands_clean = False
    if not whole:
        image[channels] = bands
    mask_clean = data.shape[1:] == wide_shape and data.dtype.kind in 'iu'
    if data.shape[1] and data.shape[2]:
        mask_part = layer[dr : dr + data.shape[1], dc : dc + data.shape[2]]
        np.copyto(mask_part, data[-1], casting='unsafe')
        if _nan_at_nodata(mask_part[np.newaxis], data[-1:], file, [mask_index]):
            mask_clean = False
    return layer, bands_clean, mask_clean
