"""What an imagery product is, and how the products are found among files.

An imagery dataset (:class:`~torchgeo_bvm.datasets.imagery.ImageryDataset`)
indexes :class:`Product` s: one date (or one month, for a composite) of one
place, whose bands are :class:`Source` s, each a band of a GeoTIFF. Two
layouts are recognised, and a sensor names the files of each (see
:class:`SensorNaming`):

* an **archive** layout, one folder per product and one GeoTIFF per band at
  the band's native resolution (Terrascope: ``TOC_V2/2020/04/05/<product>/``),
  recognised by the file names alone (:class:`ArchiveNaming` and the sensor's
  ``filename_regex``, as TorchGeo's ``RasterDataset`` declares it with
  ``separate_files``); the band headers of a product must agree (one CRS, one
  tile, each band at its native resolution: a replaced or damaged file is
  refused), and the header of one band (the reference) places the product;
* a **download** layout, one multi-band GeoTIFF per place and date (or per
  month, for a composite), its bands named by the band descriptions
  (:class:`DownloadNaming`; openEO for Sentinel-2).

The headers come from a :class:`~torchgeo_bvm.datasets.headers.HeaderCache`,
so indexing an archive already seen opens no file.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pandas as pd
from pyproj import CRS

from ..errors import BVMNotFoundError, BVMValueError
from ..spatial.crs import pixel_size_m, resolution_for
from .headers import Header, HeaderCache

__all__ = [
    'COMPOSITE',
    'ArchiveNaming',
    'DownloadNaming',
    'Product',
    'SensorNaming',
    'Source',
    'default_res',
    'find_products',
]

#: The layout of a monthly composite (a product of a month, not of a date).
COMPOSITE = 'composite'

# Built from integers: pandas' Timedelta arithmetic warns under numpy 2.
_ONE_MICROSECOND = pd.Timedelta(1, unit='us')
_ONE_DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')


@dataclass(frozen=True)
class Source:
    """One band: which file, which 1-based band of it."""

    path: str
    index: int


@dataclass(frozen=True)
class Product:
    """One indexed unit: an archive product or a downloaded multi-band file.

    Args:
        key: the index's ``filepath``: the product's folder, or the file.
        layout: the layout it was found in (the index's ``layout`` column:
            the archive's or the downloader's name for it, :data:`COMPOSITE`
            for a monthly composite).
        period: its date (``YYYY-MM-DD``) or month, as messages show it.
        start: its first instant.
        stop: its last instant.
        bands: the file and band of each requested band.
        mask: the file and band of the validity layer (Sentinel-2's SCL), or
            None when it is not read.
        version: the processing version (the newest wins where products of
            a date overlap).
        reference: the file whose header places the product.
        grid_m: the grid, in metres, every band is read onto by default (an
            archive product's bands have several resolutions); None: the
            reference file's own grid.
    """

    key: str
    layout: str
    period: str
    start: pd.Timestamp
    stop: pd.Timestamp
    bands: dict[str, Source]
    mask: Source | None
    version: str = ''
    reference: str = ''
    grid_m: float | None = None

    @property
    def composite(self) -> bool:
        """Whether it is a monthly composite rather than an acquisition.

        Returns:
            True for a composite.
        """
        return self.layout == COMPOSITE


@dataclass(frozen=True)
class ArchiveNaming:
    """How an archive names a product's files (one GeoTIFF per band).

    The file names are matched by the sensor's ``filename_regex`` (named
    groups ``product``, ``date``, ``version`` and either ``band`` or
    ``mask``, the validity layer's file); the format strings below are filled
    with ``product``, ``version``, ``band`` and ``res`` (native resolution in
    metres) to name what a product should hold.

    Args:
        name: the archive, as messages name it (``'Terrascope'``).
        layout: the index's ``layout`` of its products (``'terrascope'``).
        product: the product's folder name, e.g. ``'{product}_TOC_{version}'``.
        band_file: a band's file name.
        mask_file: the validity layer's file name.
        grid_m: the grid in metres every band of a product is read onto.
    """

    name: str
    layout: str
    product: str
    band_file: str
    mask_file: str
    grid_m: float


@dataclass(frozen=True)
class DownloadNaming:
    """How a downloader names its files (one multi-band GeoTIFF per date or month).

    Args:
        name: the downloader, as messages name it (``'openEO'``).
        parse: a file name to ``(layout, stamp)``: ``stamp`` ``YYYY-MM-DD``
            for an acquisition, ``YYYY-MM`` for a monthly composite (layout
            :data:`COMPOSITE`); None for a name it does not write.
    """

    name: str
    parse: Callable[[str], tuple[str, str] | None]


class SensorNaming(Protocol):
    """What :func:`find_products` reads from a sensor's dataset."""

    @property
    def filename_regex(self) -> str:
        """Matches an archive's file names (:class:`ArchiveNaming`), ``re.VERBOSE``."""

    @property
    def date_format(self) -> str:
        """The ``date`` group's :func:`~datetime.datetime.strptime` format."""

    @property
    def archive(self) -> ArchiveNaming | None:
        """The archive layout (None: the sensor has none)."""

    @property
    def download(self) -> DownloadNaming | None:
        """The download layout (None: the sensor has none)."""

    @property
    def all_bands(self) -> tuple[str, ...]:
        """Every band the sensor offers."""

    @property
    def native_resolution(self) -> Mapping[str, float]:
        """Native resolution in metres of every band and of the validity layer."""

    @property
    def mask_band(self) -> str | None:
        """The validity layer's band name (None: the sensor has none)."""

    def missing_mask(self, path: str, names: list[str]) -> Exception:
        """The error of a downloaded file without the validity layer.

        Args:
            path: the file.
            names: its band names.
        """


def find_products(
    files: Iterable[str],
    naming: SensorNaming,
    bands: tuple[str, ...],
    masked: bool,
    headers: HeaderCache,
) -> list[Product]:
    """The products of the archive and download layouts among some files.

    Archive products are recognised by their files' names alone; downloaded
    files by their name and their header's band names.

    Args:
        files: the files (hidden files, such as the staging files of an
            interrupted write, are skipped).
        naming: the sensor's dataset (its naming).
        bands: the requested bands; every product must hold them.
        masked: whether every product needs its validity layer.
        headers: where the headers come from.

    Returns:
        The products found.

    Raises:
        FileNotFoundError: if a product lacks a requested band or its
            validity layer.
        ValueError: for unreadable files, downloaded files without band
            names, or dates that are no dates.
    """
    return _Finder(naming, bands, masked, headers).discover(files)


class _Finder:
    def __init__(
        self,
        naming: SensorNaming,
        bands: tuple[str, ...],
        masked: bool,
        headers: HeaderCache,
    ) -> None:
        self.naming = naming
        self.archive = naming.archive
        self.download = naming.download
        self.regex = None if self.archive is None else _compiled(naming.filename_regex)
        self.bands = bands
        self.mask = naming.mask_band if masked else None
        self.cache = headers

    def discover(self, files: Iterable[str]) -> list[Product]:
        products: dict[tuple[str, str, str], dict[str, str]] = {}
        dates: dict[tuple[str, str, str], str] = {}
        found: list[Product] = []
        for path in files:
            name = os.path.basename(path)
            if name.startswith('.'):
                continue  # temporary files of an interrupted write
            match = None if self.regex is None else self.regex.match(name)
            if match is not None:
                version = match.groupdict().get('version') or ''
                key = (os.path.dirname(path), match['product'], version)
                band = match['band'] or self.naming.mask_band or ''
                products.setdefault(key, {})[band] = path
                dates.setdefault(key, match['date'])
                continue
            download = None if self.download is None else self.download.parse(name)
            if download is not None:
                found.append(self._download_product(path, *download))
        for (folder, stem, version), band_files in products.items():
            found.append(
                self._archive_product(
                    folder, stem, version, dates[folder, stem, version], band_files
                )
            )
        return found

    def _archive_product(
        self, folder: str, stem: str, version: str, stamp: str, files: dict[str, str]
    ) -> Product:
        archive = self.archive
        assert archive is not None
        native = self.naming.native_resolution
        product_id = archive.product.format(product=stem, version=version)
        # In the archive layout the folder is the product; otherwise name it.
        product = (
            folder
            if os.path.basename(folder) == product_id
            else os.path.join(folder, product_id)
        )
        needed = [*self.bands, *([self.mask] if self.mask else [])]
        for band in needed:
            if band not in files:
                form = archive.mask_file if band == self.mask else archive.band_file
                expected = form.format(
                    product=stem, band=band, res=f'{native[band]:g}', version=version
                )
                raise BVMNotFoundError(
                    f'{archive.name} product {product} has no file for band {band} '
                    f'(expected {expected} in {folder})'
                )
        headers = {band: self.cache.header(files[band]) for band in needed}
        check_product(product, {b: files[b] for b in needed}, headers, native)
        try:
            sensing = pd.Timestamp(datetime.strptime(stamp, self.naming.date_format))
        except ValueError:
            raise BVMValueError(
                f'{files[needed[0]]}: {stamp} in the name is no sensing date and time '
                f'({_format_hint(self.naming.date_format)})'
            ) from None
        on_grid = [b for b in self.bands if native[b] == archive.grid_m]
        start = sensing.normalize()
        return Product(
            key=product,
            layout=archive.layout,
            period=start.strftime('%Y-%m-%d'),
            start=start,
            stop=start + _ONE_DAY,
            bands={b: Source(files[b], 1) for b in self.bands},
            mask=Source(files[self.mask], 1) if self.mask else None,
            version=version,
            reference=files[(on_grid or list(self.bands))[0]],
            grid_m=archive.grid_m,
        )

    def _download_product(self, path: str, layout: str, stamp: str) -> Product:
        header = self.cache.header(path)
        names = [d.strip().upper() if d else None for d in header.descriptions]
        assert self.download is not None
        download = self.download.name
        mask_band = self.naming.mask_band
        if any(n is None for n in names):
            every = [b for b in (self.naming.all_bands[0], mask_band) if b]
            raise BVMValueError(
                f'{path}: band {names.index(None) + 1} has no name (band '
                f'description); {download} downloads must name every band '
                f'({", ..., ".join(every)})'
            )
        wanted = [*self.bands, *([mask_band] if mask_band else [])]
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
        mask = None
        if self.mask is not None and layout != COMPOSITE:
            if self.mask not in indexes:
                raise self.naming.missing_mask(path, [str(n) for n in names])
            mask = Source(path, indexes[self.mask])
        composite = layout == COMPOSITE
        try:
            start = pd.Timestamp(stamp + '-01' if composite else stamp)
        except ValueError:
            raise BVMValueError(
                f'{path}: {stamp} in the name is no date (YYYY-MM-DD, or YYYY-MM '
                'for a monthly composite)'
            ) from None
        if composite:
            stop = start + pd.offsets.MonthBegin(1) - _ONE_MICROSECOND
            period = f'{stamp} (monthly median)'
        else:
            stop = start + _ONE_DAY
            period = stamp
        return Product(
            key=path,
            layout=layout,
            period=period,
            start=start,
            stop=stop,
            bands={b: Source(path, indexes[b]) for b in self.bands},
            mask=mask,
            reference=path,
        )


@functools.lru_cache(maxsize=16)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.VERBOSE)


def _format_hint(date_format: str) -> str:
    """A strptime format as people write it: ``%Y%m%dT%H%M%S`` is YYYYMMDDTHHMMSS."""
    hint = date_format
    for code, shown in (('%Y', 'YYYY'), ('%m', 'MM'), ('%d', 'DD'), ('%H', 'HH')):
        hint = hint.replace(code, shown)
    return hint.replace('%M', 'MM').replace('%S', 'SS')


def check_product(
    product: str,
    files: dict[str, str],
    headers: dict[str, Header],
    native_resolution: Mapping[str, float],
) -> None:
    """Refuse a product whose band files disagree on CRS, extent or pixel size.

    Each band of an archive product covers the same tile in the same CRS at
    its native resolution (10, 20 or 60 m for Sentinel-2); a file that does
    not was replaced or damaged, and reading it would misplace its pixels.
    Only the headers are compared (kept between runs by
    :class:`~torchgeo_bvm.datasets.headers.HeaderCache`).

    Args:
        product: the product, as messages name it.
        files: the file of each band, the reference band first.
        headers: the header of each band.
        native_resolution: each band's native resolution in metres.

    Raises:
        ValueError: naming the file that disagrees.
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
        native = native_resolution[band]
        if crs.is_projected:
            xres, yres = abs(header.transform[0]), abs(header.transform[4])
            if abs(xres - native) > 0.01 * native or abs(yres - native) > 0.01 * native:
                raise BVMValueError(
                    f'{path}: band {band} has pixels of {xres:g} x {yres:g}, its '
                    f'native resolution is {native:g} m'
                )
        worst = max(
            abs(a - b) for a, b in zip(header.bounds, reference.bounds, strict=True)
        )
        if worst > max(native, native_resolution[reference_band]):
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
    product: Product, header: Header, src_crs: CRS, dst_crs: CRS
) -> tuple[float, float]:
    """The resolution a product is read at by default in a CRS.

    In the file's own CRS: its own grid (archive products on their
    :attr:`~Product.grid_m` grid, downloaded files at their pixel size). In
    any other CRS: the file's ground sampling distance in metres expressed in
    that CRS by :func:`~torchgeo_bvm.spatial.crs.resolution_for`, the rule
    :class:`~torchgeo_bvm.datasets.BVMDataset` follows too, so imagery and
    labels opened in the same CRS share a resolution.

    Args:
        product: the product.
        header: the header of its reference file.
        src_crs: the reference file's CRS.
        dst_crs: the CRS of the dataset.

    Returns:
        ``(x, y)`` in units of ``dst_crs``.
    """
    left, bottom, right, top = header.bounds
    if product.grid_m is not None:
        if src_crs != dst_crs:
            return resolution_for(dst_crs, product.grid_m)
        width = max(1, round((right - left) / product.grid_m))
        height = max(1, round((top - bottom) / product.grid_m))
        return ((right - left) / width, (top - bottom) / height)
    if src_crs == dst_crs:
        return ((right - left) / header.width, (top - bottom) / header.height)
    centre = ((left + right) / 2, (bottom + top) / 2)
    res = (abs(header.transform[0]), abs(header.transform[4]))
    # The north-south size: in degrees it hardly varies across Flanders.
    metres = pixel_size_m(src_crs, res, centre)[1]
    return resolution_for(dst_crs, round(metres, 2))
