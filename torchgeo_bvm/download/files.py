"""The files a download delivers: their announced length, bands and type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import rasterio
import requests

from .backend import DownloadError

__all__ = ['TruncatedError', 'check_length', 'label_bands']


class TruncatedError(requests.exceptions.ChunkedEncodingError):
    """A body ended before its announced ``Content-Length``.

    A dropped connection, retried as one
    (:meth:`~torchgeo_bvm.download.backend.Backend.retrying`).
    """


def check_length(path: Path, headers: Mapping[str, str]) -> None:
    """Check that a downloaded body is as long as its answer announced.

    A dropped connection can look like a normal end of the body; the announced
    length tells them apart. Compressed bodies are checked by urllib3 itself.

    Args:
        path: the downloaded file.
        headers: the answer's headers.

    Raises:
        TruncatedError: if the file is shorter or longer than announced.
    """
    announced = headers.get('Content-Length')
    if announced is None or headers.get('Content-Encoding'):
        return
    size = path.stat().st_size
    if size != int(announced):
        raise TruncatedError(f'got {size} of {announced} bytes')


def label_bands(
    path: Path, names: Sequence[str], shown: str, dtype: str = 'int16'
) -> None:
    """Check the band count and type and store the band names in the file.

    Args:
        path: the downloaded GeoTIFF.
        names: the band names it must hold, in order.
        shown: the file name to show in errors.
        dtype: the data type the file is stored in (``'int16'``: rounded and
            clipped; ``'float32'``: NaN where there is no data).

    Raises:
        DownloadError: if the file is not a GeoTIFF, has another band count,
            or names its bands differently.
    """
    try:
        with rasterio.open(path) as src:
            count, found_dtype, found = src.count, src.dtypes[0], src.descriptions
    except rasterio.errors.RasterioIOError as error:
        raise DownloadError(
            f'{shown}: the backend delivered no readable GeoTIFF ({error})'
        ) from None
    if count != len(names):
        raise DownloadError(
            f'{shown}: expected {len(names)} bands ({", ".join(names)}), '
            f'the file has {count}'
        )
    if any(found) and tuple(found) != tuple(names):
        raise DownloadError(
            f'{shown}: the backend named the bands {list(found)}, '
            f'expected {list(names)}'
        )
    if found_dtype != dtype and dtype == 'float32':
        _to_float32(path)
    elif found_dtype != dtype:
        _to_int16(path)
    with rasterio.open(path, 'r+') as dst:
        dst.descriptions = tuple(names)


def _to_int16(path: Path) -> None:
    # Reflectance x 10000 fits int16; some backends write medians as floats.
    with rasterio.open(path) as src:
        profile, data = src.profile, np.ma.masked_invalid(src.read(masked=True))
    nodata = profile.get('nodata')
    if nodata is None or not np.isfinite(nodata) or not -32768 <= nodata <= 32767:
        nodata = -32768
    values = np.clip(np.rint(data.filled(nodata)), -32768, 32767).astype(np.int16)
    values[np.ma.getmaskarray(data)] = int(nodata)
    profile.update(dtype='int16', nodata=int(nodata))
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(values)


def _to_float32(path: Path) -> None:
    # Backscatter is linear power: float64 answers are narrowed, nodata is NaN.
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read(masked=True)
    values = np.ma.filled(np.ma.masked_invalid(data).astype(np.float32), np.nan)
    profile.update(dtype='float32', nodata=float('nan'))
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(values)
