"""Sentinel-1 sigma0 files in the two layouts that ``Sentinel1Sigma0`` reads.

* :func:`write_sigma0_product` writes a Terrascope sigma0 product folder as
  VITO archives them (collection ``terrascope-s1-grd-sigma0-v1``)::

      CGS_S1_GRD_SIGMA0_L1/2020/04/05/
        S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110/
          S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110_VV.tif
          S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110_VH.tif
          S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110_angle.tif
          S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110.xml

  VV and VH as float32 linear sigma0, the incidence angle as uint16
  thousandths of a degree, in a UTM CRS at 10 m (the names, folders and band
  titles of the real products in VITO's public reader tests, see
  ``docs/sentinel1.rst``).
* :func:`write_openeo_sigma0` writes the float32 GeoTIFFs of
  ``torchgeo-bvm download --sensor s1``, each band's description its name;
  :func:`write_openeo_s1_sheet` puts them where the downloader does.

The values are the caller's (the tests know every pixel; the mini-Flanders
renders its landscape, :mod:`torchgeo_bvm.synth.flanders.radar`);
:func:`incidence_angle` gives a swath's angle across a scene and
:func:`border_noise` what an edge of the swath leaves.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.transform import from_bounds

from ..datasets.radar import (
    ANGLE_BAND,
    ANGLE_SCALE,
    POLARISATIONS,
    Orbit,
    check_orbit,
    openeo_s1_acquisition_path,
    openeo_s1_composite_path,
)
from ..errors import BVMValueError
from ..sheets.codes import Sheet
from ..spatial.crs import UTM31N
from .sentinel2 import (
    band_shape,
    product_folder,
    write_geotiff,
    write_product_metadata,
)

__all__ = [
    'ARCHIVE_ROOT',
    'SIGMA0_NODATA',
    'border_noise',
    'incidence_angle',
    'sigma0_product_id',
    'write_openeo_s1_sheet',
    'write_openeo_sigma0',
    'write_sigma0_product',
]

#: The archive's root folder of the sigma0 products (``/data/MTDA/CGS_S1/`` on
#: Terrascope's file system).
ARCHIVE_ROOT = 'CGS_S1_GRD_SIGMA0_L1'
#: The nodata value written in the sigma0 files' tags by default.
SIGMA0_NODATA = 0.0


def sigma0_product_id(
    platform: str,
    sensing: datetime | str,
    orbit: Orbit,
    relative_orbit: int,
    version: str = 'V110',
) -> str:
    """A Terrascope sigma0 product id.

    The last four hex digits stand for the GRD product's unique id; here they
    are drawn from the other fields, so a product's id is always the same.

    Args:
        platform: ``S1A``, ``S1B`` or ``S1C``.
        sensing: the sensing start (UTC).
        orbit: the orbit direction.
        relative_orbit: the relative orbit (1-175).
        version: the processing version (``V110``, ``V120``).

    Returns:
        E.g. ``S1A_IW_GRDH_SIGMA0_DV_20220913T055845_DESCENDING_110_2A71_V110``.
    """
    stamp = pd.Timestamp(sensing).strftime('%Y%m%dT%H%M%S')
    direction = check_orbit(orbit)[0].upper()
    unique = zlib.crc32(f'{platform}{stamp}{relative_orbit}'.encode()) & 0xFFFF
    return (
        f'{platform}_IW_GRDH_SIGMA0_DV_{stamp}_{direction}_{relative_orbit}_'
        f'{unique:04X}_{version}'
    )


def incidence_angle(
    shape: tuple[int, int], orbit: Orbit, near: float, across: float
) -> NDArray[np.float32]:
    """The ellipsoid incidence angle over a scene, in degrees.

    Sentinel-1 looks to the right of its track: flying north (ascending) it
    looks east, so the angle grows eastwards; descending, westwards.

    Args:
        shape: ``(rows, cols)``.
        orbit: the orbit direction.
        near: the angle at the scene's near-range edge (degrees).
        across: how much it grows across the scene (degrees).

    Returns:
        ``(rows, cols)`` float32.
    """
    ramp = np.linspace(0.0, 1.0, shape[1], dtype=np.float32)
    if check_orbit(orbit)[0] == 'descending':
        ramp = ramp[::-1]
    row: NDArray[np.float32] = (near + across * ramp).astype(np.float32)
    return np.broadcast_to(row, shape).copy()


def border_noise(
    shape: tuple[int, int], edge: int, width: int, seed: int
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """A swath's edge through a scene: no data beyond, low noise along it.

    Past the edge of the swath a product holds no data (its nodata); along the
    edge, GRD border noise that noise removal did not clear leaves values far
    below any backscatter (-65 to -50 dB).

    Args:
        shape: ``(rows, cols)``.
        edge: the first column inside the swath.
        width: how many columns along the edge hold border noise.
        seed: the noise's seed.

    Returns:
        ``(outside, noise)``: the pixels outside the swath, and the border
        noise's linear values (NaN where there is none).
    """
    outside = np.zeros(shape, dtype=bool)
    outside[:, :edge] = True
    noise = np.full(shape, np.nan, dtype=np.float32)
    decibels = np.random.default_rng(seed).uniform(-65, -50, (shape[0], width))
    noise[:, edge : edge + width] = np.power(10.0, decibels / 10).astype(np.float32)
    return outside, noise


def _write(
    path: Path,
    data: NDArray[Any],
    bounds: tuple[float, float, float, float],
    crs: CRS,
    nodata: float | None,
    descriptions: tuple[str, ...] | None = None,
) -> Path:
    """Write a sigma0 file: tiled in 256-pixel blocks, with its dtype's predictor."""
    rows, cols = data.shape[1:]
    return write_geotiff(
        path,
        data,
        from_bounds(*bounds, cols, rows),
        crs,
        nodata,
        descriptions=descriptions,
        blocksize=256,
        predictor=3 if data.dtype.kind == 'f' else 2,
    )


def write_sigma0_product(
    root: str | Path,
    *,
    sensing: datetime | str,
    bounds: tuple[float, float, float, float],
    vv: NDArray[Any],
    vh: NDArray[Any],
    angle: NDArray[Any] | None = None,
    platform: str = 'S1A',
    orbit: Orbit = 'ascending',
    relative_orbit: int = 161,
    version: str = 'V110',
    crs: CRS | str | int = UTM31N,
    nodata: float | None = SIGMA0_NODATA,
    archive: bool = True,
) -> Path:
    """Write one Terrascope sigma0 product folder (see the module).

    Args:
        root: where to write; with ``archive`` the product goes to
            ``root/CGS_S1_GRD_SIGMA0_L1/YYYY/MM/DD/<product id>/``, else to
            ``root/<product id>/``.
        sensing: the sensing start (UTC).
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``crs``.
        vv: linear sigma0 in VV ``(rows, cols)``; ``nodata`` where the swath
            has none (NaN is written as ``nodata``).
        vh: linear sigma0 in VH, the same shape.
        angle: the incidence angle in degrees (default: a near-range edge at
            30.5 degrees growing 1 degree across the scene); written as
            thousandths of a degree, 0 where VV has no data.
        platform: ``S1A``, ``S1B`` or ``S1C``.
        orbit: the orbit direction.
        relative_orbit: the relative orbit.
        version: the processing version.
        crs: the product's UTM CRS.
        nodata: the sigma0 files' nodata tag (None: no tag, the no-data
            pixels then hold 0).
        archive: use the archive's date folders.

    Returns:
        The product folder.

    Raises:
        BVMValueError: for arrays of different shapes.
    """
    rows, cols = band_shape({'VV': vv, 'VH': vh}, POLARISATIONS)
    crs = CRS.from_user_input(crs)
    product = sigma0_product_id(platform, sensing, orbit, relative_orbit, version)
    folder = product_folder(root, ARCHIVE_ROOT if archive else None, sensing, product)
    fill = 0.0 if nodata is None else nodata
    sigma0 = {}
    for name, values in (('VV', vv), ('VH', vh)):
        array = np.asarray(values, dtype=np.float32)
        sigma0[name] = np.where(np.isnan(array), np.float32(fill), array)
    if angle is None:
        angle = incidence_angle((rows, cols), orbit, 30.5, 1.0)
    degrees = np.asarray(angle, dtype=np.float64)
    if degrees.shape != (rows, cols):
        raise BVMValueError(f'angle has shape {degrees.shape}, VV {(rows, cols)}')
    thousandths = np.rint(degrees * ANGLE_SCALE).astype(np.uint16)
    thousandths[np.isnan(np.asarray(vv, dtype=np.float32))] = 0
    for name, values in sigma0.items():
        _write(folder / f'{product}_{name}.tif', values[None], bounds, crs, nodata)
    _write(folder / f'{product}_{ANGLE_BAND}.tif', thousandths[None], bounds, crs, 0)
    write_product_metadata(folder, product, ARCHIVE_ROOT, __name__)
    return folder


def write_openeo_sigma0(
    path: str | Path,
    bands: Mapping[str, NDArray[Any]],
    *,
    bounds: tuple[float, float, float, float],
    crs: CRS | str | int = UTM31N,
) -> Path:
    """Write a float32 GeoTIFF as the openEO downloader does for Sentinel-1.

    Args:
        path: the file to write.
        bands: band name -> linear sigma0 ``(rows, cols)``, in file order
            (``VV``, ``VH``); NaN where there is no data (the files' nodata).
        bounds: ``(xmin, ymin, xmax, ymax)`` in ``crs``.
        crs: the file's CRS.

    Returns:
        ``path``.

    Raises:
        BVMValueError: if no band is given or the arrays differ in shape.
    """
    names = tuple(bands)
    band_shape(bands, names)
    data = np.stack([np.asarray(bands[n], dtype=np.float32) for n in names])
    return _write(
        Path(path), data, bounds, CRS.from_user_input(crs), float('nan'), names
    )


def write_openeo_s1_sheet(
    out: str | Path,
    sheet: Sheet | str | int,
    orbit: Orbit,
    when: date | str,
    bands: Mapping[str, NDArray[Any]],
    *,
    composite: bool = False,
    bounds: tuple[float, float, float, float],
    crs: CRS | str | int = UTM31N,
) -> Path:
    """Write one sheet's sigma0 where the downloader puts it.

    An acquisition goes to
    :func:`~torchgeo_bvm.datasets.radar.openeo_s1_acquisition_path`, a monthly
    mean (``composite=True``) to
    :func:`~torchgeo_bvm.datasets.radar.openeo_s1_composite_path`.

    Args:
        out: the download folder.
        sheet: the map sheet.
        orbit: the orbit direction.
        when: the acquisition date; for a composite any date in the month, or
            ``'YYYY-MM'``.
        bands: see :func:`write_openeo_sigma0`.
        composite: whether the file is a monthly mean.
        bounds: the extent in ``crs``.
        crs: the file's CRS.

    Returns:
        The path written.
    """
    place = openeo_s1_composite_path if composite else openeo_s1_acquisition_path
    path = place(out, sheet, orbit, when)
    return write_openeo_sigma0(path, bands, bounds=bounds, crs=crs)
