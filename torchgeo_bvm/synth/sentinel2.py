"""Sentinel-2 TOC files in the two layouts that ``Sentinel2TOC`` reads.

* :func:`write_terrascope_product` writes a complete Terrascope TOC product folder
  (``TOC_V2/YYYY/MM/DD/S2B_20200405T104619_31UDS_TOC_V210/``): the 11 band files
  at 10, 20 and 60 m, the scene classification at 20 m, the ignored quality layers
  (AOT, WVP, SZA, VZA, RAA at 60 m), the quicklook and the metadata ``.xml``, all
  int16 (SCL uint8) in a UTM CRS.
* :func:`write_openeo_file` writes the multi-band GeoTIFFs of the openEO
  downloader (:func:`write_openeo_sheet` where the downloader puts them):
  int16, one band per requested band, each band's description its name
  (``B02``, ..., ``SCL``).

Content is controllable: pass exact arrays (tests know every pixel), or let
:func:`synthetic_scl` and :func:`reflectance_from_classes` generate a seeded
scene with clouds, shadows, cirrus, water and vegetation and class-dependent
spectra (the demo passes its own class map and spectra).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.transform import Affine, from_bounds
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from ..datasets.bands import (
    ALL_BANDS,
    NATIVE_RESOLUTION,
    SCL_BAND,
    openeo_acquisition_path,
    openeo_composite_path,
)
from ..errors import BVMValueError
from ..fileio import atomic_path
from ..sheets.codes import KBL_CRS, Sheet
from ..spatial.crs import DEFAULT_CRS, UTM31N
from .noise import Clouds, wave_field

__all__ = [
    'FLANDERS_TILES',
    'QUALITY_LAYERS',
    'SCL_COLOURS',
    'SCL_SPECTRA',
    'TERRASCOPE_NODATA',
    'TILE_SIZE_M',
    'band_shape',
    'native_layers',
    'product_folder',
    'reflectance_from_classes',
    'synthetic_scene',
    'synthetic_scl',
    'terrascope_product_id',
    'write_geotiff',
    'write_openeo_file',
    'write_openeo_sheet',
    'write_product_metadata',
    'write_terrascope_product',
]

#: Reflectance nodata written by default (the reader takes it from the file).
TERRASCOPE_NODATA = 32767
#: Quality layers of a Terrascope TOC product, all at 60 m; the reader ignores them.
QUALITY_LAYERS: tuple[str, ...] = ('AOT', 'WVP', 'SZA', 'VZA', 'RAA')

#: Typical digital numbers (reflectance x 10000) per SCL class and band.
SCL_SPECTRA: dict[int, dict[str, float]] = {
    cls: dict(zip(ALL_BANDS, values, strict=True))
    for cls, values in {
        1: (15000,) * 11,
        2: (300, 250, 250, 200, 250, 300, 300, 300, 300, 250, 200),
        3: (350, 300, 400, 300, 500, 900, 1000, 1100, 1100, 700, 400),
        4: (300, 400, 700, 400, 1100, 2800, 3300, 3500, 3600, 1900, 900),
        5: (1200, 1300, 1500, 1700, 1900, 2100, 2200, 2300, 2400, 2800, 2300),
        6: (600, 500, 500, 300, 250, 200, 180, 150, 140, 80, 60),
        7: (900, 1000, 1100, 1200, 1500, 1900, 2100, 2200, 2300, 2200, 1700),
        8: (4000, 4200, 4300, 4400, 4600, 4800, 4900, 5000, 5000, 3800, 3000),
        9: (6000, 6200, 6300, 6400, 6600, 6800, 6900, 7000, 7000, 5000, 4000),
        10: (1800, 1900, 2000, 2100, 2300, 2600, 2700, 2800, 2900, 2600, 2000),
        11: (9000, 9000, 9000, 9000, 8800, 8600, 8500, 8400, 8300, 800, 600),
    }.items()
}

#: The Sentinel-2 (MGRS) tiles of UTM zone 31N that cover the 43 map sheets of
#: Flanders, with the upper-left corner of each in EPSG:32631; every tile spans
#: 109.8 km (10,980 pixels at 10 m) and overlaps its neighbours by 9.8 km. The
#: corners of three more tiles (31UDR, 31UER, 31UGT) reach 20-40 km² of sheets
#: 36, 37 and 35; they are left out.
FLANDERS_TILES: dict[str, tuple[float, float]] = {
    '31UDS': (399960.0, 5700000.0),
    '31UDT': (399960.0, 5800020.0),
    '31UES': (499980.0, 5700000.0),
    '31UET': (499980.0, 5800020.0),
    '31UFS': (600000.0, 5700000.0),
    '31UFT': (600000.0, 5800020.0),
    '31UGS': (699960.0, 5700000.0),
}

#: Width and height of a Sentinel-2 tile in metres.
TILE_SIZE_M = 109_800.0

#: The usual Sen2Cor SCL colours, written as the SCL files' colour table.
SCL_COLOURS: dict[int, tuple[int, int, int, int]] = {
    0: (0, 0, 0, 255),
    1: (255, 0, 0, 255),
    2: (47, 47, 47, 255),
    3: (100, 50, 0, 255),
    4: (0, 160, 0, 255),
    5: (255, 230, 90, 255),
    6: (0, 0, 255, 255),
    7: (128, 128, 128, 255),
    8: (192, 192, 192, 255),
    9: (255, 255, 255, 255),
    10: (100, 200, 255, 255),
    11: (255, 150, 255, 255),
}

_METADATA_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"
    xmlns:gco="http://www.isotc211.org/2005/gco">
  <gmd:fileIdentifier>
    <gco:CharacterString>urn:eop:VITO:{collection}:{product}</gco:CharacterString>
  </gmd:fileIdentifier>
  <!-- synthetic placeholder written by {writer} -->
</gmd:MD_Metadata>
"""


def write_product_metadata(
    folder: Path, product: str, collection: str, writer: str
) -> Path:
    """Write a Terrascope product's ``<product>.xml``: a placeholder naming it.

    Args:
        folder: the product's folder.
        product: the product id.
        collection: its Terrascope collection (``TERRASCOPE_S2_TOC_V2``).
        writer: the module writing it, as the file's comment names it.

    Returns:
        The file written.
    """
    path = folder / f'{product}.xml'
    text = _METADATA_XML.format(collection=collection, product=product, writer=writer)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding='utf-8')
    return path


def product_folder(
    root: str | Path, archive_root: str | None, sensing: datetime | str, product: str
) -> Path:
    """The folder of a Terrascope product, in the archive's date folders or not.

    Args:
        root: where the products are written.
        archive_root: the collection's root folder in the archive (``TOC_V2``,
            ``CGS_S1_GRD_SIGMA0_L1``); None: no archive folders.
        sensing: the sensing start (UTC).
        product: the product id.

    Returns:
        ``root/<archive_root>/YYYY/MM/DD/<product>``, or ``root/<product>``
        without an ``archive_root``.
    """
    folder = Path(root)
    if archive_root is not None:
        stamp = pd.Timestamp(sensing)
        folder = folder / archive_root / f'{stamp:%Y}' / f'{stamp:%m}' / f'{stamp:%d}'
    return folder / product


def band_shape(
    bands: Mapping[str, NDArray[Any]], names: Sequence[str]
) -> tuple[int, int]:
    """The one 2-D shape of the named bands' arrays.

    Args:
        bands: band name -> array.
        names: the bands that must be there.

    Returns:
        ``(rows, cols)``.

    Raises:
        BVMValueError: if there is no name, a name has no array, or the arrays
            are not 2-D arrays of one shape.
    """
    if not names:
        raise BVMValueError('no bands to write')
    missing = [name for name in names if name not in bands]
    if missing:
        raise BVMValueError(f'no array for band {", ".join(missing)}')
    shapes = {np.asarray(bands[name]).shape for name in names}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise BVMValueError(f'bands must be 2-D arrays of one shape, got {shapes}')
    rows, cols = next(iter(shapes))
    return rows, cols


def terrascope_product_id(
    platform: str, sensing: datetime | str, tile: str, version: str
) -> str:
    """The Terrascope product id, e.g. ``S2B_20200405T104619_31UDS_TOC_V210``.

    Args:
        platform: ``S2A``, ``S2B`` or ``S2C``.
        sensing: the sensing start time (UTC).
        tile: the MGRS tile, e.g. ``31UDS``.
        version: the processing version, e.g. ``V210``.

    Returns:
        The product id, also the product folder's name.
    """
    stamp = pd.Timestamp(sensing).strftime('%Y%m%dT%H%M%S')
    return f'{platform}_{stamp}_{tile}_TOC_{version}'


def synthetic_scl(
    shape: tuple[int, int], *, seed: int = 0, cloud_fraction: float = 0.15
) -> NDArray[np.uint8]:
    """A seeded scene classification with clouds, shadows, cirrus and land cover.

    The background is vegetation (4), not-vegetated (5) and water (6) from a
    smooth random field, with scattered unclassified (7) and dark (2) pixels and
    one saturated (1) pixel; cloud blobs have a high-probability core (9) and a
    medium-probability rim (8) and cast shadows (3) towards the north-west;
    one elliptical patch of thin cirrus (10) lies over the background.

    Args:
        shape: ``(rows, cols)``.
        seed: random seed.
        cloud_fraction: roughly the share of pixels covered by cloud blobs.

    Returns:
        uint8 array of SCL classes.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    field = wave_field(shape, rng)
    scl = np.full(shape, 4, dtype=np.uint8)
    scl[field > 0.6] = 5
    scl[field < -1.1] = 6
    sparse = rng.random(shape)
    scl[sparse < 0.01] = 7
    scl[(sparse >= 0.01) & (sparse < 0.015)] = 2
    scl[rng.integers(rows), rng.integers(cols)] = 1
    Clouds.blobs(shape, rng, cloud_fraction).mark(scl)
    return scl


def reflectance_from_classes(
    class_map: NDArray[Any],
    spectra: Mapping[int, Mapping[str, float]] = SCL_SPECTRA,
    *,
    bands: Sequence[str] = ALL_BANDS,
    noise: float = 0.0,
    seed: int = 0,
) -> dict[str, NDArray[np.int16]]:
    """Digital numbers per band from a class map and a spectrum per class.

    Args:
        class_map: 2-D array of class ids (SCL classes, or any classes the
            spectra are keyed by).
        spectra: class id -> band name -> digital number (reflectance x 10000).
        bands: the bands to make.
        noise: standard deviation of Gaussian noise added, in digital numbers.
        seed: random seed for the noise.

    Returns:
        Band name -> int16 array shaped like ``class_map``, clipped to 0..32000.

    Raises:
        ValueError: if a class in ``class_map`` or a band has no spectrum.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(class_map)
    missing = [int(c) for c in classes if int(c) not in spectra]
    if missing:
        raise BVMValueError(f'no spectrum for classes {missing}')
    result: dict[str, NDArray[np.int16]] = {}
    for band in bands:
        lookup = np.zeros(int(classes.max()) + 1, dtype=np.float64)
        for cls in classes:
            try:
                lookup[int(cls)] = spectra[int(cls)][band]
            except KeyError:
                raise BVMValueError(
                    f'class {int(cls)} has no value for {band}'
                ) from None
        values = lookup[class_map]
        if noise > 0:
            values = values + rng.normal(0.0, noise, size=values.shape)
        result[band] = np.clip(np.round(values), 0, 32000).astype(np.int16)
    return result


def synthetic_scene(
    shape: tuple[int, int],
    *,
    bands: Sequence[str] = ALL_BANDS,
    seed: int = 0,
    cloud_fraction: float = 0.15,
    noise: float = 50.0,
) -> tuple[dict[str, NDArray[np.int16]], NDArray[np.uint8]]:
    """A seeded scene: reflectance per band and its SCL, on one grid.

    Args:
        shape: ``(rows, cols)``.
        bands: the reflectance bands to make.
        seed: random seed.
        cloud_fraction: see :func:`synthetic_scl`.
        noise: see :func:`reflectance_from_classes`.

    Returns:
        ``(band name -> int16 array, uint8 SCL array)``.
    """
    scl = synthetic_scl(shape, seed=seed, cloud_fraction=cloud_fraction)
    return reflectance_from_classes(scl, bands=bands, noise=noise, seed=seed), scl


def _block_mean(
    array: NDArray[Any], factor: int, nodata: int | None = None
) -> NDArray[np.int16]:
    rows, cols = array.shape
    blocks = array.reshape(rows // factor, factor, cols // factor, factor)
    values = blocks.astype(np.float64)
    if nodata is None:
        return np.round(values.mean(axis=(1, 3))).astype(np.int16)
    # A coarse pixel averages its valid fine pixels only; it is nodata where
    # none is valid, so nodata never leaks into real reflectance.
    valid = blocks != nodata
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, values, 0.0).sum(axis=(1, 3))
    mean = np.round(total / np.maximum(count, 1))
    return np.where(count > 0, mean, nodata).astype(np.int16)


def _block_mode(array: NDArray[Any], factor: int) -> NDArray[np.uint8]:
    rows, cols = array.shape
    blocks = array.reshape(rows // factor, factor, cols // factor, factor)
    flat = blocks.transpose(0, 2, 1, 3).reshape(rows // factor, cols // factor, -1)
    counts = (flat[..., None] == np.arange(max(SCL_COLOURS) + 1)).sum(axis=2)
    mode: NDArray[np.uint8] = counts.argmax(axis=-1).astype(np.uint8)
    return mode


def _at_resolution(
    name: str,
    array: NDArray[Any],
    metres: int,
    grid: tuple[int, int],
    nodata: int | None = None,
) -> NDArray[Any]:
    """``array`` on the band's native grid: given there, or aggregated from 10 m."""
    native = (grid[0] * 10 // metres, grid[1] * 10 // metres)
    if array.shape == native:
        return array
    if array.shape == grid:
        factor = metres // 10
        return (
            _block_mode(array, factor)
            if name == SCL_BAND
            else _block_mean(array, factor, nodata)
        )
    raise BVMValueError(
        f'{name}: array of shape {array.shape} fits neither its {metres} m grid '
        f'{native} nor the 10 m grid {grid}'
    )


def native_layers(
    reflectance: Mapping[str, NDArray[Any]],
    scl: NDArray[Any],
    shape: tuple[int, int],
    nodata: int | None = TERRASCOPE_NODATA,
) -> tuple[dict[str, NDArray[np.int16]], NDArray[np.uint8]]:
    """Every band and the SCL on its native grid, as a Terrascope product holds them.

    What :func:`write_terrascope_product` writes: a 20 m or 60 m band given on
    the 10 m grid becomes the rounded mean of each 2 x 2 or 6 x 6 block of its
    pixels that are not ``nodata`` (``nodata`` where none is), an SCL given at
    10 m the most frequent class of each 2 x 2 block (the lowest on a tie).

    Args:
        reflectance: every band of :data:`ALL_BANDS` -> its array, on the
            band's native grid or on the 10 m grid.
        scl: the scene classification on the 20 m grid or the 10 m grid.
        shape: ``(rows, cols)`` of the 10 m grid, whole multiples of 6.
        nodata: the reflectance nodata.

    Returns:
        ``(band -> int16 array, uint8 SCL at 20 m)``.

    Raises:
        ValueError: if a band is missing or an array fits neither grid.
    """
    missing = [b for b in ALL_BANDS if b not in reflectance]
    if missing:
        raise BVMValueError(f'no array for bands {missing}')
    bands = {
        band: _at_resolution(
            band, np.asarray(reflectance[band]), NATIVE_RESOLUTION[band], shape, nodata
        ).astype(np.int16)
        for band in ALL_BANDS
    }
    scl20 = _at_resolution(SCL_BAND, np.asarray(scl), 20, shape).astype(np.uint8)
    return bands, scl20


def write_geotiff(
    path: Path,
    data: NDArray[Any],
    transform: Affine,
    crs: CRS,
    nodata: float | None,
    *,
    descriptions: Sequence[str] | None = None,
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
    size: tuple[int, int] | None = None,
    offset: tuple[int, int] = (0, 0),
    blocksize: int | None = None,
    predictor: int | None = None,
) -> Path:
    """Write a deflate-compressed GeoTIFF, whole or in part, atomically.

    With a ``size``, blocks the data do not fill are not written (``SPARSE_OK``).

    Args:
        path: the file to write.
        data: ``(bands, rows, cols)``, in the file's data type.
        transform: the file's geotransform.
        crs: the file's CRS.
        nodata: the nodata value in the file's tags (None: no tag).
        descriptions: each band's description, in band order.
        colormap: a colour table for the first band.
        size: ``(rows, cols)`` of the file (default: the data's).
        offset: ``(row, col)`` in the file where the data go.
        blocksize: tile the file in square blocks of this many pixels (default:
            strips).
        predictor: the deflate predictor (2: horizontal differencing, 3:
            floating point; default: none).

    Returns:
        ``path``.
    """
    bands, rows, cols = data.shape
    height, width = size or (rows, cols)
    profile: dict[str, Any] = {
        'driver': 'GTiff',
        'width': width,
        'height': height,
        'count': bands,
        'dtype': data.dtype.name,
        'crs': crs.to_wkt(),
        'transform': transform,
        'compress': 'deflate',
    }
    if predictor is not None:
        profile['predictor'] = predictor
    if size is not None:
        profile['sparse_ok'] = True
    if blocksize is not None:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if nodata is not None:
        profile['nodata'] = nodata
    with (
        atomic_path(path) as temporary,
        rasterio.open(temporary, 'w', **profile) as dst,
    ):
        dst.write(data, window=Window(offset[1], offset[0], cols, rows))
        for index, description in enumerate(descriptions or [], start=1):
            dst.set_band_description(index, description)
        if colormap is not None:
            dst.write_colormap(1, dict(colormap))
    return path


def write_terrascope_product(
    root: str | Path,
    *,
    sensing: datetime | str = '2020-04-05T10:46:19',
    tile: str = '31UDS',
    platform: str = 'S2B',
    version: str = 'V210',
    bounds: tuple[float, float, float, float] = (
        500000.0,
        5650020.0,
        501920.0,
        5651940.0,
    ),
    crs: CRS | str | int = UTM31N,
    reflectance: Mapping[str, NDArray[Any]] | None = None,
    scl: NDArray[Any] | None = None,
    nodata: int | None = TERRASCOPE_NODATA,
    seed: int = 0,
    archive: bool = True,
    data_bounds: tuple[float, float, float, float] | None = None,
    blocksize: int | None = None,
) -> Path:
    """Write one complete Terrascope TOC product folder.

    Args:
        root: where to write; with ``archive`` the product goes to
            ``root/TOC_V2/YYYY/MM/DD/<product id>/``, else to ``root/<product id>/``.
        sensing: sensing start time (UTC).
        tile: MGRS tile.
        platform: ``S2A``, ``S2B`` or ``S2C``.
        version: processing version (``V200``, ``V210``, ...).
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``crs``, whole multiples of 60 m.
        crs: the tile's UTM CRS.
        reflectance: band name -> int16 array, on the band's native grid or on
            the 10 m grid (then averaged over 2x2 or 6x6 blocks). Bands not given
            are generated from the SCL with :data:`SCL_SPECTRA`.
        scl: SCL classes on the 20 m grid, or on the 10 m grid (then the most
            frequent class of each 2x2 block); generated with :func:`synthetic_scl`
            when not given.
        nodata: reflectance nodata written in the band files' tags.
        seed: seed of everything generated.
        archive: use the archive's date folders.
        data_bounds: the part of ``bounds`` that ``reflectance`` and ``scl``
            cover (and where data are generated), on the product's 60 m grid;
            every file still spans ``bounds``, its blocks outside this part left
            unwritten (a sparse GeoTIFF: GDAL reads them as the nodata value, 0
            without one). This writes full-size tiles (109.8 km) with data in a
            study area only. Default: ``bounds``.
        blocksize: write tiled GeoTIFFs with square blocks of this many pixels
            (a multiple of 16); default: strips, as GDAL writes by default.

    Returns:
        The product folder.

    Raises:
        ValueError: if ``bounds`` are not whole multiples of 60 m, ``data_bounds``
            are not on their 60 m grid inside them, a band name is unknown or an
            array fits neither grid.
    """
    xmin, ymin, xmax, ymax = bounds
    width, height = xmax - xmin, ymax - ymin
    if width <= 0 or height <= 0 or width % 60 or height % 60:
        raise BVMValueError(f'bounds {bounds} must span whole multiples of 60 m')
    dxmin, dymin, dxmax, dymax = data_bounds or bounds
    # The data's offset from the product's top-left corner, and size, in metres.
    left, top, across, down = dxmin - xmin, ymax - dymax, dxmax - dxmin, dymax - dymin
    inside = left >= 0 and top >= 0 and dxmax <= xmax and dymin >= ymin
    if (
        not inside
        or across <= 0
        or down <= 0
        or any(v % 60 for v in (left, top, across, down))
    ):
        raise BVMValueError(
            f'data_bounds {data_bounds} must lie inside {bounds} on its 60 m grid'
        )
    unknown = sorted(set(reflectance or {}) - set(ALL_BANDS))
    if unknown:
        raise BVMValueError(f'unknown bands {unknown}: expected {", ".join(ALL_BANDS)}')
    crs = CRS.from_user_input(crs)
    grid = (round(down / 10), round(across / 10))

    if scl is None:
        scl20 = synthetic_scl((grid[0] // 2, grid[1] // 2), seed=seed)
    else:
        scl20 = _at_resolution(SCL_BAND, np.asarray(scl), 20, grid).astype(np.uint8)
    scl10 = np.repeat(np.repeat(scl20, 2, axis=0), 2, axis=1)
    given = dict(reflectance or {})
    missing = [b for b in ALL_BANDS if b not in given]
    if missing:
        given.update(
            reflectance_from_classes(scl10, bands=missing, noise=50.0, seed=seed)
        )

    product = terrascope_product_id(platform, sensing, tile, version)
    stem = product.removesuffix(f'_TOC_{version}')
    folder = product_folder(root, 'TOC_V2' if archive else None, sensing, product)

    def placed(metres: int) -> dict[str, Any]:
        """Where a file at ``metres`` lies and where its data go in it."""
        return {
            'transform': from_bounds(
                xmin, ymin, xmax, ymax, round(width / metres), round(height / metres)
            ),
            'size': None
            if data_bounds is None
            else (round(height / metres), round(width / metres)),
            'offset': (round(top / metres), round(left / metres)),
            'blocksize': blocksize,
        }

    # Every array is checked before the first file is written.
    native, _ = native_layers(given, scl20, grid, nodata)
    for band, data in native.items():
        metres = NATIVE_RESOLUTION[band]
        write_geotiff(
            folder / f'{stem}_TOC-{band}_{metres}M_{version}.tif',
            data[None],
            crs=crs,
            nodata=nodata,
            **placed(metres),
        )
    write_geotiff(
        folder / f'{stem}_SCENECLASSIFICATION_20M_{version}.tif',
        scl20[None],
        crs=crs,
        nodata=0,
        colormap=SCL_COLOURS,
        **placed(20),
    )
    rng = np.random.default_rng(seed + 1)
    shape60 = (grid[0] // 6, grid[1] // 6)
    for layer in QUALITY_LAYERS:
        values = rng.integers(0, 1000, size=shape60, dtype=np.int16)
        write_geotiff(
            folder / f'{stem}_{layer}_60M_{version}.tif',
            values[None],
            crs=crs,
            nodata=None,
            **placed(60),
        )
    quicklook = np.stack(
        [np.asarray(given[b], dtype=np.float64) for b in ('B04', 'B03', 'B02')]
    )
    quicklook = np.clip(quicklook / 3000 * 255, 0, 255)
    write_geotiff(
        folder / f'{stem}_TOC_QUICKLOOK_{version}.tif',
        _block_mean_stack(quicklook, 6).astype(np.uint8),
        crs=crs,
        nodata=None,
        **placed(60),
    )
    write_product_metadata(folder, product, 'TERRASCOPE_S2_TOC_V2', __name__)
    return folder


def _block_mean_stack(data: NDArray[Any], factor: int) -> NDArray[np.int16]:
    return np.stack([_block_mean(band, factor) for band in data])


def write_openeo_file(
    path: str | Path,
    bands: Mapping[str, NDArray[Any]],
    *,
    bounds: tuple[float, float, float, float],
    crs: CRS | str | int = DEFAULT_CRS,
    nodata: int | None = TERRASCOPE_NODATA,
) -> Path:
    """Write a multi-band GeoTIFF as the openEO downloader does.

    Args:
        path: the file to write.
        bands: band name -> 2-D array, in the order the bands go into the file
            (``SCL`` included where wanted); all the same shape.
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``crs``.
        crs: the file's CRS (EPSG:4326 by default, as the downloader).
        nodata: the nodata value in the file's tags.

    Returns:
        ``path``.

    Raises:
        ValueError: if no band is given or the arrays differ in shape.
    """
    rows, cols = band_shape(bands, list(bands))
    data = np.stack([np.asarray(a) for a in bands.values()]).astype(np.int16)
    return write_geotiff(
        Path(path),
        data,
        from_bounds(*bounds, cols, rows),
        CRS.from_user_input(crs),
        nodata,
        descriptions=list(bands),
    )


def _sheet_bounds(
    sheet: Sheet | str | int, crs: CRS | str | int
) -> tuple[float, float, float, float]:
    bounds = transform_bounds(
        KBL_CRS, CRS.from_user_input(crs), *Sheet.parse(sheet).bounds, densify_pts=21
    )
    return (bounds[0], bounds[1], bounds[2], bounds[3])


def write_openeo_sheet(
    out: str | Path,
    sheet: Sheet | str | int,
    when: date | str,
    bands: Mapping[str, NDArray[Any]],
    *,
    composite: bool = False,
    bounds: tuple[float, float, float, float] | None = None,
    crs: CRS | str | int = DEFAULT_CRS,
    nodata: int | None = TERRASCOPE_NODATA,
) -> Path:
    """Write one sheet's file where the openEO downloader puts it.

    An acquisition goes to :func:`openeo_acquisition_path`, a monthly median
    composite (``composite=True``) to :func:`openeo_composite_path`.

    Args:
        out: the download folder.
        sheet: the map sheet.
        when: the acquisition date; for a composite any date in the month, or
            ``'YYYY-MM'``.
        bands: see :func:`write_openeo_file`: an acquisition includes ``SCL``;
            a composite has none and holds nodata where no cloud-free pixel
            existed.
        composite: whether the file is a monthly composite.
        bounds: the extent in ``crs`` (default: the sheet's bounding box).
        crs: the file's CRS.
        nodata: the nodata value.

    Returns:
        The path written.
    """
    place = openeo_composite_path if composite else openeo_acquisition_path
    return write_openeo_file(
        place(out, sheet, when),
        bands,
        bounds=bounds or _sheet_bounds(sheet, crs),
        crs=crs,
        nodata=nodata,
    )
