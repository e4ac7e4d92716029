"""Sentinel-2 products on disk: the two layouts, recognised and indexed.

:class:`~torchgeo_bvm.datasets.Sentinel2TOC` reads Terrascope TOC products (one
file per band) and the files of the openEO downloader (one multi-band file per
sheet and date or month). This module finds them among the dataset's files,
checks that each holds the requested bands, and notes what a read needs to know
of every file (:class:`FileInfo`), so that reads derive nothing again.

Indexing reads the headers of a product's requested bands: a Terrascope file
name gives the product's tile, date, band and resolution, the headers must
agree (one CRS, one tile, each band at its native resolution: a replaced or
damaged file is refused), and the header of one band (the reference) places
the product. What the headers say is kept between runs in a
:class:`HeaderCache` keyed by each file's path, size and the hash of its header
bytes (:func:`~torchgeo_bvm.fileio.header_fingerprint`), so indexing an archive
already seen reads a few kilobytes per product and opens nothing with GDAL.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import re
import resource
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
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
from ..spatial.crs import pixel_size_m, resolution_for
from ..spatial.pixelgrid import Grid, nodata_is_the_only_mask
from .bands import NATIVE_RESOLUTION, SCL_BAND, CloudRule, parse_openeo_name

__all__ = [
    'GDAL_OPEN_OPTIONS',
    'FileInfo',
    'Header',
    'HeaderCache',
    'Item',
    'Layout',
    'OpenFiles',
    'Source',
    'corrupt_file_error',
    'default_res',
    'find_items',
    'list_files',
    'open_checked',
    'open_file',
    'open_files_capacity',
]

#: GDAL options set around every open of an imagery file: GDAL would otherwise
#: list the file's folder on each open to look for side-car files (.aux.xml,
#: .ovr, .msk), which Terrascope and openEO files do not have; on a network file
#: system (where the archive usually lives) that listing costs more than the open.
GDAL_OPEN_OPTIONS: dict[str, str] = {'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR'}

#: The most files a process keeps open by default (see :func:`open_files_capacity`).
_MAX_OPEN_FILES = 16_384

#: Bumped when what a :class:`Header` holds, or the key of an entry, changes
#: (older caches are ignored).
_HEADER_CACHE_VERSION = 2

# Built from integers: pandas' Timedelta arithmetic warns under numpy 2.
_ONE_MICROSECOND = pd.Timedelta(1, unit='us')
_ONE_DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')

#: The grid, in metres, onto which every band of a Terrascope product is read.
_TERRASCOPE_GRID_M = 10.0

_TERRASCOPE_BAND_RE = re.compile(
    r"""
    ^(?P<stem>(?P<platform>S2[A-D])_(?P<date>\d{8})T(?P<time>\d{6})
      _(?P<tile>\d{2}[A-Z]{3}))
    _TOC-(?P<band>B\d[\dA])_(?P<res>\d{2})M_(?P<version>V\d{3})\.tiff?$
    """,
    re.VERBOSE,
)
_TERRASCOPE_SCL_RE = re.compile(
    r"""
    ^(?P<stem>(?P<platform>S2[A-D])_(?P<date>\d{8})T(?P<time>\d{6})
      _(?P<tile>\d{2}[A-Z]{3}))
    _SCENECLASSIFICATION_(?P<res>\d{2})M_(?P<version>V\d{3})\.tiff?$
    """,
    re.VERBOSE,
)


Layout = Literal['terrascope', 'openeo', 'composite']


@dataclass(frozen=True)
class Source:
    """One band: which file, which 1-based band of it."""

    path: str
    index: int


@dataclass(frozen=True)
class Item:
    """One indexed unit: a Terrascope product or an openEO file."""

    key: str
    layout: Layout
    period: str
    start: pd.Timestamp
    stop: pd.Timestamp
    bands: dict[str, Source]
    scl: Source | None
    version: str = ''
    reference: str = field(default='')


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

    One JSON file per set of dataset paths in the cache folder
    (``sentinel2-index-<key>.json`` in :func:`~torchgeo_bvm.fileio.default_cache_dir`).
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
    """

    def __init__(
        self, roots: Sequence[str | Path], folder: str | Path | None = None
    ) -> None:
        key = json.dumps(sorted(str(Path(r).resolve()) for r in roots))
        name = hashlib.sha256(key.encode()).hexdigest()[:16]
        base = Path(folder) if folder is not None else default_cache_dir()
        self.path = base / f'sentinel2-index-{name}.json'
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


def find_items(
    files: Iterable[str],
    bands: tuple[str, ...],
    cloud_rule: CloudRule | None,
    headers: HeaderCache,
) -> list[Item]:
    """The products and openEO files among some files.

    Terrascope products are recognised by their files' names alone; openEO
    files by their name and their header's band names.

    Args:
        files: the files (hidden files, such as the staging files of an
            interrupted write, are skipped).
        bands: the requested bands; every product must hold them.
        cloud_rule: the cloud rule; with one, every product needs its SCL.
        headers: where the openEO files' headers come from.

    Returns:
        The items found.

    Raises:
        FileNotFoundError: if a product lacks a requested band or its SCL.
        ValueError: for unreadable openEO files or openEO files without band
            names.
    """
    return _Finder(bands, cloud_rule, headers).discover(files)


class _Finder:
    def __init__(
        self,
        bands: tuple[str, ...],
        cloud_rule: CloudRule | None,
        headers: HeaderCache,
    ) -> None:
        self.bands = bands
        self.cloud_rule = cloud_rule
        self.cache = headers

    def discover(self, files: Iterable[str]) -> list[Item]:
        products: dict[tuple[str, str, str], dict[str, str]] = {}
        items: list[Item] = []
        for path in files:
            name = os.path.basename(path)
            if name.startswith('.'):
                continue  # temporary files of an interrupted write
            match = _TERRASCOPE_BAND_RE.match(name) or _TERRASCOPE_SCL_RE.match(name)
            if match is not None:
                key = (os.path.dirname(path), match['stem'], match['version'])
                band = match.groupdict().get('band') or SCL_BAND
                products.setdefault(key, {})[band] = path
                continue
            openeo = parse_openeo_name(name)
            if openeo is not None:
                items.append(self._openeo_item(path, *openeo))
        for (folder, stem, version), files in products.items():
            items.append(self._terrascope_item(folder, stem, version, files))
        return items

    def _terrascope_item(
        self, folder: str, stem: str, version: str, files: dict[str, str]
    ) -> Item:
        product_id = f'{stem}_TOC_{version}'
        # In the archive layout the folder is the product; otherwise name it.
        product = (
            folder
            if os.path.basename(folder) == product_id
            else os.path.join(folder, product_id)
        )
        needed = list(self.bands) + ([SCL_BAND] if self.cloud_rule else [])
        for band in needed:
            if band not in files:
                kind = 'SCENECLASSIFICATION' if band == SCL_BAND else f'TOC-{band}'
                expected = f'{stem}_{kind}_{NATIVE_RESOLUTION[band]}M_{version}.tif'
                raise BVMNotFoundError(
                    f'Terrascope product {product} has no file for band {band} '
                    f'(expected {expected} in {folder})'
                )
        headers = {band: self.cache.header(files[band]) for band in needed}
        _check_product(product, {b: files[b] for b in needed}, headers)
        try:
            sensing = pd.Timestamp(
                datetime.strptime(stem.split('_')[1], '%Y%m%dT%H%M%S')
            )
        except ValueError:
            raise BVMValueError(
                f'{files[needed[0]]}: {stem.split("_")[1]} in the name is no sensing '
                'date and time (YYYYMMDDTHHMMSS)'
            ) from None
        ten_metre = [b for b in self.bands if NATIVE_RESOLUTION[b] == 10]
        reference = files[(ten_metre or list(self.bands))[0]]
        start = sensing.normalize()
        return Item(
            key=product,
            layout='terrascope',
            period=start.strftime('%Y-%m-%d'),
            start=start,
            stop=start + _ONE_DAY,
            bands={b: Source(files[b], 1) for b in self.bands},
            scl=Source(files[SCL_BAND], 1) if self.cloud_rule else None,
            version=version,
            reference=reference,
        )

    def _openeo_item(self, path: str, layout: Layout, stamp: str) -> Item:
        header = self.cache.header(path)
        names = [d.strip().upper() if d else None for d in header.descriptions]
        if any(n is None for n in names):
            raise BVMValueError(
                f'{path}: band {names.index(None) + 1} has no name (band '
                'description); openEO downloads must name every band (B02, ..., SCL)'
            )
        wanted = [*self.bands, SCL_BAND]
        twice = sorted({n for n in names if n in wanted and names.count(n) > 1})
        if twice:
            # Which of two bands named alike holds the band is anyone's guess.
            raise BVMValueError(
                f'{path}: band {", ".join(str(n) for n in twice)} is named by more '
                f'than one band description ({", ".join(str(n) for n in names)}); '
                'each band must be named exactly once'
            )
        indexes = {str(n): i + 1 for i, n in enumerate(names)}
        missing = [b for b in self.bands if b not in indexes]
        if missing:
            raise BVMValueError(
                f'{path}: has no band {", ".join(missing)}; its bands are '
                f'{", ".join(str(n) for n in names)}'
            )
        scl = None
        if self.cloud_rule is not None and layout == 'openeo':
            if SCL_BAND not in indexes:
                raise BVMValueError(
                    f'{path}: has no SCL band to mask clouds with (bands: '
                    f'{", ".join(str(n) for n in names)}); pass cloud_rule=None '
                    'to read it without cloud masking'
                )
            scl = Source(path, indexes[SCL_BAND])
        try:
            start = pd.Timestamp(stamp + '-01' if layout == 'composite' else stamp)
        except ValueError:
            raise BVMValueError(
                f'{path}: {stamp} in the name is no date (YYYY-MM-DD, or YYYY-MM '
                'for a monthly composite)'
            ) from None
        if layout == 'composite':
            stop = start + pd.offsets.MonthBegin(1) - _ONE_MICROSECOND
            period = f'{stamp} (monthly median)'
        else:
            stop = start + _ONE_DAY
            period = stamp
        return Item(
            key=path,
            layout=layout,
            period=period,
            start=start,
            stop=stop,
            bands={b: Source(path, indexes[b]) for b in self.bands},
            scl=scl,
            reference=path,
        )


def _check_product(
    product: str, files: dict[str, str], headers: dict[str, Header]
) -> None:
    """Refuse a product whose band files disagree on CRS, extent or pixel size.

    Each band of a Terrascope product covers the same tile in the same CRS at
    its native resolution (10, 20 or 60 m); a file that does not was replaced
    or damaged, and reading it would misplace its pixels. Only the headers are
    compared (kept between runs by :class:`HeaderCache`).
    """
    reference_band = next(iter(files))
    reference = headers[reference_band]
    crs = _parsed_crs(reference.crs)
    for band, path in files.items():
        header = headers[band]
        if header.crs != reference.crs and _parsed_crs(header.crs) != crs:
            raise BVMValueError(
                f'{path}: band {band} is in {_parsed_crs(header.crs).name}, the '
                f'product {product} in {crs.name}; every band of a product shares '
                'its CRS'
            )
        native = NATIVE_RESOLUTION[band]
        if crs.is_projected:
            xres, yres = abs(header.transform[0]), abs(header.transform[4])
            if abs(xres - native) > 0.01 * native or abs(yres - native) > 0.01 * native:
                raise BVMValueError(
                    f'{path}: band {band} has pixels of {xres:g} x {yres:g}, its '
                    f'native resolution is {native} m'
                )
        worst = max(
            abs(a - b) for a, b in zip(header.bounds, reference.bounds, strict=True)
        )
        if worst > max(native, NATIVE_RESOLUTION[reference_band]):
            raise BVMValueError(
                f'{path}: band {band} covers '
                f'{tuple(round(v) for v in header.bounds)}, the product {product} '
                f'{tuple(round(v) for v in reference.bounds)}; every band of a '
                'product covers the same tile'
            )


@functools.lru_cache(maxsize=64)
def _parsed_crs(wkt: str) -> CRS:
    # Products of one tile share their CRS; parsing WKT costs about 0.1 ms.
    return CRS.from_wkt(wkt)


def default_res(
    item: Item, header: Header, src_crs: CRS, dst_crs: CRS
) -> tuple[float, float]:
    """The resolution an item is read at by default in a CRS.

    In the file's own CRS: its own grid (Terrascope products on their 10 m
    grid, openEO files at their pixel size). In any other CRS: the file's
    ground sampling distance in metres expressed in that CRS by
    :func:`~torchgeo_bvm.spatial.crs.resolution_for`, the rule
    :class:`~torchgeo_bvm.datasets.BVMDataset` follows too, so imagery and
    labels opened in the same CRS share a resolution.

    Args:
        item: the item.
        header: the header of its reference file.
        src_crs: the reference file's CRS.
        dst_crs: the CRS of the dataset.

    Returns:
        ``(x, y)`` in units of ``dst_crs``.
    """
    left, bottom, right, top = header.bounds
    if item.layout == 'terrascope':
        if src_crs != dst_crs:
            return resolution_for(dst_crs, _TERRASCOPE_GRID_M)
        width = max(1, round((right - left) / _TERRASCOPE_GRID_M))
        height = max(1, round((top - bottom) / _TERRASCOPE_GRID_M))
        return ((right - left) / width, (top - bottom) / height)
    if src_crs == dst_crs:
        return ((right - left) / header.width, (top - bottom) / header.height)
    centre = ((left + right) / 2, (bottom + top) / 2)
    res = (abs(header.transform[0]), abs(header.transform[4]))
    # The north-south size: in degrees it hardly varies across Flanders.
    metres = pixel_size_m(src_crs, res, centre)[1]
    return resolution_for(dst_crs, round(metres, 2))


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


class OpenFiles:
    """The files one process has open, and what each holds, noted once.

    A least-recently-used set of open handles, at most ``capacity`` of them,
    and each file's :class:`FileInfo`, read when the file is first opened (or
    given from the index) and kept while the process lives, so a file opened
    again after its handle was closed is not described again. Handles inherited
    through ``fork`` are dropped in the child (they share file offsets with the
    parent); nothing of this is pickled.

    Args:
        capacity: the most handles kept open.
        keep_open: keep handles open between reads (else each read opens and
            closes its file).
    """

    def __init__(self, capacity: int, keep_open: bool = True) -> None:
        self.capacity = capacity
        self.keep_open = keep_open
        self.handles: OrderedDict[str, DatasetReader] = OrderedDict()
        self.info: dict[str, FileInfo] = {}
        self._crs: dict[str, CRS] = {}
        self._pid = os.getpid()
        _KEPT.add(self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle empty: a new process opens and notes its own files.

        Returns:
            The state.
        """
        return {'capacity': self.capacity, 'keep_open': self.keep_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Start empty in the new process.

        Args:
            state: from :meth:`__getstate__`.
        """
        self.__init__(state['capacity'], state['keep_open'])  # type: ignore[misc]

    def crs(self, wkt: str) -> CRS:
        """A parsed CRS, shared by every file that has it.

        Args:
            wkt: the CRS as WKT.

        Returns:
            The CRS.
        """
        if wkt not in self._crs:
            self._crs[wkt] = CRS.from_wkt(wkt)
        return self._crs[wkt]

    def note(self, path: str, header: Header) -> None:
        """Note a file's info from its header (read while indexing).

        Args:
            path: the file.
            header: its header.
        """
        self.info[path] = header.file_info(self.crs(header.crs))

    def file_info(self, path: str) -> FileInfo:
        """What a file holds, opening it the first time.

        Args:
            path: the file.

        Returns:
            Its info.

        Raises:
            BVMNotFoundError: if the file no longer exists.
            ValueError: if GDAL cannot read it or it has no CRS.
        """
        info = self.info.get(path)
        if info is None:
            src = self.open(path)
            self.release(src)
            info = self.info[path]
        return info

    def open(self, path: str) -> DatasetReader:
        """An open handle of a file (give it back with :meth:`release`).

        Args:
            path: the file.

        Returns:
            The open file.

        Raises:
            BVMNotFoundError: if the file no longer exists.
            ValueError: if GDAL cannot read it or it has no CRS.
        """
        pid = os.getpid()
        if pid != self._pid:
            # Handles inherited through fork share file offsets with the parent.
            self.handles = OrderedDict()
            self._pid = pid
        src = self.handles.get(path)
        if src is not None:
            self.handles.move_to_end(path)
            return src
        if path in self.info:
            src = open_file(path)
        else:
            src = open_checked(path)
            self.info[path] = FileInfo.of(src, self.crs(src.crs.to_wkt()))
        if self.keep_open:
            self.handles[path] = src
            # Every data set of the process draws on one file-descriptor budget:
            # two of them, each up to its own capacity, would run out of
            # descriptors, and GDAL then reports files it cannot open as unreadable.
            while len(self.handles) > self.capacity or (
                len(self.handles) > 1 and _kept_open() > _process_budget()
            ):
                _, oldest = self.handles.popitem(last=False)
                oldest.close()
        return src

    def held(self) -> int:
        """How many files this process keeps open here (inherited ones do not count).

        Returns:
            The number of handles kept open.
        """
        return len(self.handles) if self._pid == os.getpid() else 0

    def close(self) -> None:
        """Close every handle kept open (files are opened again when read)."""
        handles, self.handles = self.handles, OrderedDict()
        if self._pid == os.getpid():
            for src in handles.values():
                src.close()

    def release(self, src: DatasetReader) -> None:
        """Give back a handle from :meth:`open` (closed unless kept open).

        Args:
            src: the handle.
        """
        if not self.keep_open:
            src.close()


#: Every :class:`OpenFiles` of the process, closed at exit.
_KEPT: weakref.WeakSet[OpenFiles] = weakref.WeakSet()


def _kept_open() -> int:
    """How many files every :class:`OpenFiles` of this process keeps open."""
    return sum(files.held() for files in list(_KEPT))


def _process_budget() -> int:
    """The most files a process keeps open: ``ulimit -n`` less room for the rest."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _MAX_OPEN_FILES
    return min(_MAX_OPEN_FILES, max(256, soft - max(1024, soft // 8)))


@atexit.register
def _close_kept_files() -> None:
    # Files left open until the interpreter tears down are closed by GDAL when
    # Python can no longer report anything: "Error in sys.excepthook" once per
    # file. Closed here, before that.
    for files in list(_KEPT):
        files.close()


def open_files_capacity(files: int) -> int:
    """How many files a process keeps open: all the data set has, within limits.

    Opening a GeoTIFF again costs about as much as reading a 256 x 256 window
    from it (rasterio reads its CRS from the PROJ database on every open), and
    random dates touch every file of the archive, so a process keeps every file
    open that it can: the data set's files, within the process's file descriptor
    limit (``ulimit -n``) less an eighth of it (at least 1,024) for everything
    else, and within 16,384. An open file costs about 30 kB of memory.

    Args:
        files: the files the data set reads.

    Returns:
        The capacity, at least 256 (a twelve-date stack of one product's twelve
        files, plus a neighbouring tile's).
    """
    return max(256, min(files, _process_budget()))
