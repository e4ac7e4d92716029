"""The files of an imagery dataset: listing and opening them, their headers.

What every sensor of :class:`~torchgeo_bvm.datasets.imagery.ImageryDataset`
shares about files, whatever their naming: :func:`list_files` finds the
GeoTIFFs under the dataset's paths (skipping hidden staging files),
:func:`open_file` opens one without listing its folder, :class:`Header` is
what indexing needs of a file's header, :class:`FileInfo` what a read needs,
and :class:`HeaderCache` keeps the headers between runs, keyed by each file's
path, size and the hash of its header bytes
(:func:`~torchgeo_bvm.fileio.header_fingerprint`), so indexing an archive
already seen reads a few kilobytes per file and opens nothing with GDAL.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.env import get_gdal_config
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from torchgeo.datasets.utils import find_files as torchgeo_find_files

from ..errors import BVMNotFoundError, BVMValueError
from ..fileio import (
    atomic_path,
    default_cache_dir,
    header_fingerprint,
    read_cache_entry,
)
from ..spatial.pixelgrid import Grid, nodata_is_the_only_mask

__all__ = [
    'GDAL_OPEN_OPTIONS',
    'FileInfo',
    'Header',
    'HeaderCache',
    'corrupt_file_error',
    'list_files',
    'open_checked',
    'open_file',
]

#: GDAL options set around every open of an imagery file: GDAL would otherwise
#: list the file's folder on each open to look for side-car files (.aux.xml,
#: .ovr, .msk), which Terrascope and openEO files do not have; on a network file
#: system (where the archive usually lives) that listing costs more than the open.
GDAL_OPEN_OPTIONS: dict[str, str] = {'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR'}


#: Bumped when what a :class:`Header` holds, or the key of an entry, changes
#: (older caches are ignored).
_HEADER_CACHE_VERSION = 2


@dataclass(frozen=True)
class FileInfo:
    """What a read needs to know of a file, noted once per file and process."""

    grid: Grid
    #: Nodata value of each band (1-based index - 1); None where there is none.
    nodata: tuple[float | None, ...]
    #: False when some band is masked by something else than its nodata value
    #: (an internal mask or alpha band), or the file is not north up: such files
    #: are always read by merging.
    direct: bool

    @classmethod
    def of(cls, src: DatasetReader, crs: CRS | None = None) -> FileInfo:
        """Note what an open file holds.

        Args:
            src: the open file.
            crs: its CRS when already known (saves parsing it again).

        Returns:
            The file's info.
        """
        if crs is None:
            crs = CRS.from_user_input(src.crs) if src.crs is not None else None
        grid = Grid(crs, src.transform, src.width, src.height)
        return cls(
            grid, tuple(src.nodatavals), nodata_is_the_only_mask(src) and grid.north_up
        )


@dataclass(frozen=True)
class Header:
    """What indexing needs of a file's header, in a form kept between runs.

    Args:
        crs: the CRS as WKT.
        transform: the first six coefficients of the affine transform.
        width: width in pixels.
        height: height in pixels.
        nodata: each band's nodata value (None where there is none).
        direct: see :attr:`FileInfo.direct`.
        descriptions: each band's description (None where there is none).
    """

    crs: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    nodata: tuple[float | None, ...]
    direct: bool
    descriptions: tuple[str | None, ...]

    @classmethod
    def read(cls, path: str) -> Header:
        """Read the header of a file.

        Args:
            path: the file.

        Returns:
            Its header.

        Raises:
            ValueError: if GDAL cannot read the file or it has no CRS.
        """
        with open_checked(path) as src:
            north_up = Grid(None, src.transform, src.width, src.height).north_up
            return cls(
                src.crs.to_wkt(),
                tuple(src.transform)[:6],
                src.width,
                src.height,
                tuple(src.nodatavals),
                nodata_is_the_only_mask(src) and north_up,
                tuple(src.descriptions),
            )

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the file (north up).

        Returns:
            The bounds.
        """
        # The transform's corners, as Affine(*transform) @ (x, y) gives them.
        a, b, left, d, e, top = self.transform
        right = a * self.width + b * self.height + left
        bottom = d * self.width + e * self.height + top
        return (
            min(left, right),
            min(top, bottom),
            max(left, right),
            max(top, bottom),
        )

    def file_info(self, crs: CRS) -> FileInfo:
        """The :class:`FileInfo` this header describes.

        Args:
            crs: the header's CRS, parsed (shared between files).

        Returns:
            The info.
        """
        grid = Grid(crs, Affine(*self.transform), self.width, self.height)
        return FileInfo(grid, self.nodata, self.direct)


class HeaderCache:
    """Headers of files kept between runs, keyed by path, size and header bytes.

    One JSON file per sensor and set of dataset paths in the cache folder
    (``<prefix>-index-<key>.json`` in :func:`~torchgeo_bvm.fileio.default_cache_dir`,
    ``sentinel2-index-<key>.json`` for Sentinel-2).
    An entry is used only while its file has the size and the
    :func:`~torchgeo_bvm.fileio.header_fingerprint` it had when read (an edit
    that keeps size and time is noticed too); entries of files no longer found
    are dropped when the cache is saved. The cache is a speed-up only: a
    missing or read-only cache just means headers are read from the files, and
    a damaged one is read again with one warning naming it.

    Args:
        roots: the dataset's paths (they name the cache file).
        folder: the cache folder (default
            :func:`~torchgeo_bvm.fileio.default_cache_dir`).
        prefix: the start of the cache file's name (the sensor's
            :attr:`~torchgeo_bvm.datasets.imagery.ImageryDataset.index_prefix`).
    """

    def __init__(
        self,
        roots: Sequence[str | Path],
        folder: str | Path | None = None,
        *,
        prefix: str,
    ) -> None:
        key = json.dumps(sorted(str(Path(r).resolve()) for r in roots))
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        base = Path(folder) if folder is not None else default_cache_dir()
        self.path = base / f'{prefix}-index-{name}.json'
        self.read = 0
        self.changed = False
        self._seen: dict[str, Header] = {}
        entries = read_cache_entry(self.path, _read_header_cache)
        self.entries: dict[str, list[Any]] = entries or {}

    def header(self, path: str) -> Header:
        """The header of a file, from the cache while the file is unchanged.

        Args:
            path: the file.

        Returns:
            Its header.

        Raises:
            ValueError: if the file must be read and GDAL cannot read it.
        """
        if path in self._seen:
            return self._seen[path]
        key = [os.stat(path).st_size, header_fingerprint(path)]
        entry = self.entries.get(path)
        header = None
        if isinstance(entry, list) and entry[:2] == key:
            try:
                header = _header_from_json(entry[2])
            except (TypeError, ValueError, IndexError):
                header = None
        if header is None:
            header = Header.read(path)
            self.read += 1
            self.entries[path] = [*key, _header_to_json(header)]
            self.changed = True
        self._seen[path] = header
        return header

    def save(self, listed: Iterable[str]) -> None:
        """Write the cache if it changed, keeping only the files still listed.

        Args:
            listed: every file the dataset found this time.
        """
        present = set(listed)
        stale = [path for path in self.entries if path not in present]
        for path in stale:
            del self.entries[path]
        if not (self.changed or stale):
            return
        try:
            with atomic_path(self.path) as temporary:
                temporary.write_text(
                    json.dumps(
                        {'version': _HEADER_CACHE_VERSION, 'entries': self.entries}
                    )
                )
        except OSError:
            pass  # a read-only cache folder: headers are read again next time


def _read_header_cache(path: Path) -> dict[str, list[Any]] | None:
    content = json.loads(path.read_text())
    if content.get('version') != _HEADER_CACHE_VERSION:
        return None  # another version's: rebuilt without a word
    entries: dict[str, list[Any]] = dict(content['entries'])
    return entries


def _header_to_json(header: Header) -> list[Any]:
    return [
        header.crs,
        list(header.transform),
        header.width,
        header.height,
        list(header.nodata),
        header.direct,
        list(header.descriptions),
    ]


def _header_from_json(values: list[Any]) -> Header:
    crs, transform, width, height, nodata, direct, descriptions = values
    return Header(
        str(crs),
        tuple(float(v) for v in transform),  # type: ignore[arg-type]
        int(width),
        int(height),
        tuple(None if v is None else float(v) for v in nodata),
        bool(direct),
        tuple(None if v is None else str(v) for v in descriptions),
    )


def corrupt_file_error(path: str, error: Exception) -> BVMValueError:
    """The error of a file that GDAL cannot read.

    Args:
        path: the file.
        error: what rasterio raised.

    Returns:
        A ValueError naming the file.
    """
    return BVMValueError(f'{path}: cannot be read as a GeoTIFF ({error})')


def open_file(path: str) -> DatasetReader:
    """Open an imagery file without listing its folder (:data:`GDAL_OPEN_OPTIONS`).

    Args:
        path: the file.

    Returns:
        The open file.

    Raises:
        BVMNotFoundError: if the file no longer exists (moved or deleted after the
            dataset indexed it).
        ValueError: if GDAL cannot read it.
    """
    try:
        if all(
            get_gdal_config(key, normalize=False) == value
            for key, value in GDAL_OPEN_OPTIONS.items()
        ):
            # Already so (TorchGeo's command line sets them in os.environ). An
            # outermost rasterio.Env would note them on entry and set them as
            # GDAL options on exit, where they would outlive os.environ and hide
            # every later raster's .aux.xml from the process.
            return rasterio.open(path)
        with rasterio.Env(**GDAL_OPEN_OPTIONS):
            return rasterio.open(path)
    except RasterioError as error:
        if not os.path.exists(path):
            raise BVMNotFoundError(
                f'{path}: no longer exists (moved or deleted after the dataset '
                'indexed it); create the dataset again to index the files as they '
                'are now'
            ) from None
        raise corrupt_file_error(path, error) from error


def open_checked(path: str) -> DatasetReader:
    """Open a GeoTIFF, refusing one that GDAL cannot read or that has no CRS.

    Args:
        path: the file.

    Returns:
        The open file.

    Raises:
        BVMNotFoundError: if the file does not exist.
        ValueError: naming the file, if GDAL cannot read it or it has no CRS.
    """
    src = open_file(path)
    if src.crs is None:
        src.close()
        raise BVMValueError(f'{path}: the GeoTIFF has no CRS')
    return src


def list_files(paths: Iterable[str | Path]) -> Iterator[str]:
    """Every ``.tif`` file under some folders (or the files themselves).

    Hidden files and folders (names starting with a dot: staging files of an
    interrupted write) are skipped, as ``glob`` skips them.

    Args:
        paths: folders or files.

    Yields:
        The files' paths.
    """
    for path in map(str, paths):
        if os.path.isdir(path):
            yield from _walk(path)
        elif os.path.isfile(path) and path.endswith('.tif'):
            yield path
        elif path.startswith('/vsi'):  # archives and object stores: TorchGeo's
            yield from torchgeo_find_files(Path(path), '*.tif')


def _walk(folder: str) -> Iterator[str]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith('.'):
                continue
            if entry.is_dir():
                yield from _walk(entry.path)
            elif entry.name.endswith('.tif'):
                yield entry.path
