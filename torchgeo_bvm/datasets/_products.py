"""Sentinel-2 products on disk: the two layouts, recognised and indexed.

:class:`~torchgeo_bvm.datasets.Sentinel2TOC` reads Terrascope TOC products (one
file per band) and the files of the openEO downloader (one multi-band file per
sheet and date or month). This module finds them among the dataset's files,
checks that each holds the requested bands, and notes what a read needs to know
of every file (:class:`FileInfo`), so that reads derive nothing again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pandas as pd
import rasterio
from pyproj import CRS
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader

from ..crs import pixel_size_m, resolution_for
from ..pixelgrid import Grid, nodata_is_the_only_mask
from .bands import NATIVE_RESOLUTION, SCL_BAND, CloudRule, parse_openeo_name

__all__ = [
    'FileInfo',
    'Item',
    'Layout',
    'Source',
    'corrupt_file_error',
    'default_res',
    'find_items',
    'open_checked',
]

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
    """What a read needs to know of a file, noted at index time."""

    grid: Grid
    #: Nodata value of each band (1-based index - 1); None where there is none.
    nodata: tuple[float | None, ...]
    #: False when some band is masked by something else than its nodata value
    #: (an internal mask or alpha band), or the file is not north up: such files
    #: are always read by merging.
    direct: bool

    @classmethod
    def of(cls, src: DatasetReader) -> FileInfo:
        """Note what an open file holds."""
        grid = Grid.of_file(src)
        return cls(
            grid, tuple(src.nodatavals), nodata_is_the_only_mask(src) and grid.north_up
        )


def corrupt_file_error(path: str, error: Exception) -> ValueError:
    """The error of a file that GDAL cannot read.

    Args:
        path: the file.
        error: what rasterio raised.

    Returns:
        A ValueError naming the file.
    """
    return ValueError(f'{path}: cannot be read as a GeoTIFF ({error})')


def open_checked(path: str) -> DatasetReader:
    """Open a GeoTIFF, refusing one that GDAL cannot read or that has no CRS.

    Args:
        path: the file.

    Returns:
        The open file.

    Raises:
        ValueError: naming the file.
    """
    try:
        src = rasterio.open(path)
    except RasterioError as error:
        raise corrupt_file_error(path, error) from error
    if src.crs is None:
        src.close()
        raise ValueError(f'{path}: the GeoTIFF has no CRS')
    return src


def find_items(
    files: Iterable[str], bands: tuple[str, ...], cloud_rule: CloudRule | None
) -> tuple[list[Item], dict[str, FileInfo]]:
    """The products and openEO files among some files.

    Args:
        files: the files (hidden files, such as the staging files of an
            interrupted write, are skipped).
        bands: the requested bands; every product must hold them.
        cloud_rule: the cloud rule; with one, every product needs its SCL.

    Returns:
        The items found, and what was noted of every file they read.

    Raises:
        FileNotFoundError: if a product lacks a requested band or its SCL.
        ValueError: for unreadable files or openEO files without band names.
    """
    finder = _Finder(bands, cloud_rule)
    return finder.discover(files), finder.files


class _Finder:
    def __init__(self, bands: tuple[str, ...], cloud_rule: CloudRule | None) -> None:
        self.bands = bands
        self.cloud_rule = cloud_rule
        self.files: dict[str, FileInfo] = {}

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
                raise FileNotFoundError(
                    f'Terrascope product {product} has no file for band {band} '
                    f'(expected {expected} in {folder})'
                )
        for band in needed:
            with open_checked(files[band]) as src:
                self.files[files[band]] = FileInfo.of(src)
        sensing = pd.Timestamp(datetime.strptime(stem.split('_')[1], '%Y%m%dT%H%M%S'))
        start = sensing.normalize()
        ten_metre = [b for b in self.bands if NATIVE_RESOLUTION[b] == 10]
        return Item(
            key=product,
            layout='terrascope',
            period=start.strftime('%Y-%m-%d'),
            start=start,
            stop=start + _ONE_DAY,
            bands={b: Source(files[b], 1) for b in self.bands},
            scl=Source(files[SCL_BAND], 1) if self.cloud_rule else None,
            version=version,
            reference=files[(ten_metre or list(self.bands))[0]],
        )

    def _openeo_item(self, path: str, layout: Layout, stamp: str) -> Item:
        with open_checked(path) as src:
            names = [d.strip().upper() if d else None for d in src.descriptions]
            self.files[path] = FileInfo.of(src)
        if any(n is None for n in names):
            raise ValueError(
                f'{path}: band {names.index(None) + 1} has no name (band '
                'description); openEO downloads must name every band (B02, ..., SCL)'
            )
        indexes = {str(n): i + 1 for i, n in enumerate(names)}
        missing = [b for b in self.bands if b not in indexes]
        if missing:
            raise ValueError(
                f'{path}: has no band {", ".join(missing)}; its bands are '
                f'{", ".join(str(n) for n in names)}'
            )
        scl = None
        if self.cloud_rule is not None and layout == 'openeo':
            if SCL_BAND not in indexes:
                raise ValueError(
                    f'{path}: has no SCL band to mask clouds with (bands: '
                    f'{", ".join(str(n) for n in names)}); pass cloud_rule=None '
                    'to read it without cloud masking'
                )
            scl = Source(path, indexes[SCL_BAND])
        if layout == 'composite':
            start = pd.Timestamp(stamp + '-01')
            stop = start + pd.offsets.MonthBegin(1) - _ONE_MICROSECOND
            period = f'{stamp} (monthly median)'
        else:
            start = pd.Timestamp(stamp)
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


def default_res(item: Item, src: DatasetReader, dst_crs: CRS) -> tuple[float, float]:
    """The resolution an item is read at by default in a CRS.

    In the file's own CRS: its own grid (Terrascope products on their 10 m
    grid, openEO files at their pixel size). In any other CRS: the file's
    ground sampling distance in metres expressed in that CRS by
    :func:`~torchgeo_bvm.crs.resolution_for`, the rule
    :class:`~torchgeo_bvm.datasets.BVMDataset` follows too, so imagery and
    labels opened in the same CRS share a resolution.

    Args:
        item: the item.
        src: its reference file, open.
        dst_crs: the CRS of the dataset.

    Returns:
        ``(x, y)`` in units of ``dst_crs``.
    """
    src_crs = CRS.from_user_input(src.crs)
    left, bottom, right, top = src.bounds
    if item.layout == 'terrascope':
        if src_crs != dst_crs:
            return resolution_for(dst_crs, _TERRASCOPE_GRID_M)
        width = max(1, round((right - left) / _TERRASCOPE_GRID_M))
        height = max(1, round((top - bottom) / _TERRASCOPE_GRID_M))
        return ((right - left) / width, (top - bottom) / height)
    if src_crs == dst_crs:
        return ((right - left) / src.width, (top - bottom) / src.height)
    centre = ((left + right) / 2, (bottom + top) / 2)
    # The north-south size: in degrees it hardly varies across Flanders.
    metres = pixel_size_m(src_crs, (float(src.res[0]), float(src.res[1])), centre)[1]
    return resolution_for(dst_crs, round(metres, 2))
