"""The Sentinel-1 band catalogue, file naming and conversions.

What every part of the package that touches Sentinel-1 agrees on, without
reading a file (and without torch, so that the downloader can use it):

* the bands of Terrascope's sigma0 products (collection
  ``terrascope-s1-grd-sigma0-v1``, one GeoTIFF per band: ``VV``, ``VH`` and
  ``angle``) and the band the dataset derives from them, the cross-polarisation
  ratio ``VH/VV`` (:data:`ALL_BANDS`, :data:`RATIO_BAND`,
  :func:`resolve_bands`);
* the orbit directions (:data:`ORBITS`, :func:`check_orbit`) and how a
  product's name tells its direction (:func:`orbit_of`);
* the names of the files the openEO downloader writes for Sentinel-1
  (:func:`openeo_s1_acquisition_path`, :func:`openeo_s1_composite_path`,
  :func:`parse_openeo_s1_name`), apart from Sentinel-2's so that one folder
  holds both and each sensor reads its own;
* linear sigma0 to decibels (:func:`to_db`) and the noise floor below which a
  value is no backscatter (:data:`NOISE_FLOOR_DB`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import BVMValueError
from ..sheets.codes import Sheet

__all__ = [
    'ALL_BANDS',
    'ANGLE_BAND',
    'ANGLE_SCALE',
    'BAND_MODES',
    'DERIVED_BANDS',
    'FILE_BANDS',
    'NOISE_FLOOR_DB',
    'ORBITS',
    'POLARISATIONS',
    'RATIO_BAND',
    'Orbit',
    'check_orbit',
    'from_db',
    'openeo_s1_acquisition_path',
    'openeo_s1_composite_path',
    'orbit_of',
    'parse_openeo_s1_name',
    'resolve_bands',
    'to_db',
]

#: The polarisations of Sentinel-1's interferometric wide swath mode over land
#: (vertical transmit, vertical or horizontal receive).
POLARISATIONS: tuple[str, ...] = ('VV', 'VH')
#: The incidence angle band of a Terrascope sigma0 product (its file name's
#: spelling, ``..._angle.tif``).
ANGLE_BAND = 'angle'
#: The bands stored in files, in the order of the Terrascope product's assets.
FILE_BANDS: tuple[str, ...] = (*POLARISATIONS, ANGLE_BAND)
#: The cross-polarisation ratio, derived from VV and VH while reading:
#: ``VH / VV`` in linear power, ``VH - VV`` in decibels.
RATIO_BAND = 'VH/VV'
#: Bands computed from the files' bands.
DERIVED_BANDS: tuple[str, ...] = (RATIO_BAND,)
#: Every band a sample may hold.
ALL_BANDS: tuple[str, ...] = (*FILE_BANDS, RATIO_BAND)
#: Band modes accepted wherever a list of band names is.
BAND_MODES: dict[str, tuple[str, ...]] = {
    'dual': POLARISATIONS,
    'ratio': (*POLARISATIONS, RATIO_BAND),
}
#: The angle file's digital numbers per degree: VITO's own reader test of a
#: product over Flanders (openeo-geotrellis-extensions,
#: ``S1GrdSigma0FileLayerProviderTest``) finds a mean of 33,460.7 over a window
#: where the ellipsoid incidence angle is about 33.5 degrees.
ANGLE_SCALE = 1000.0
#: Backscatter at or below this (in dB, -45 dB: 3.2e-5 in linear power) is no
#: signal: what thermal-noise and border-noise removal leave at the edges of a
#: swath and where they subtract more than was received. Natural surfaces at
#: C band stay above it (calm water in VH is about -30 dB).
NOISE_FLOOR_DB = -45.0

Orbit = Literal['ascending', 'descending']
#: The orbit directions, as the dataset and the downloader spell them.
ORBITS: tuple[Orbit, ...] = ('ascending', 'descending')

_ORBIT_IN_NAME = re.compile(r'[_-](ASCENDING|DESCENDING)_')
_S1_OPENEO = re.compile(
    r'^(?P<sheet>[^.].*)_openEO_S1-(?P<orbit>ASCENDING|DESCENDING)_'
    r'(?:(?P<date>\d{4}-\d{2}-\d{2})Z|(?P<month>\d{4}-\d{2})_mean)\.tif$'
)


def resolve_bands(bands: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a band mode or band names into the bands of a sample.

    Args:
        bands: ``'dual'`` (VV, VH), ``'ratio'`` (VV, VH, VH/VV), or names from
            :data:`ALL_BANDS` in any case (``'vv,vh'``, ``['VH', 'angle']``).

    Returns:
        The names as :data:`ALL_BANDS` spells them, in the requested order.

    Raises:
        BVMValueError: for an unknown mode or band, a repeated band, or none.
    """
    if isinstance(bands, str):
        mode = bands.strip().lower()
        if mode in BAND_MODES:
            return BAND_MODES[mode]
        bands = [b for b in bands.split(',') if b.strip()]
    spelling = {band.upper(): band for band in ALL_BANDS}
    names = []
    for band in bands:
        name = spelling.get(str(band).strip().upper())
        if name is None:
            raise BVMValueError(
                f'unknown Sentinel-1 band {band!r}: expected names from '
                f'{", ".join(ALL_BANDS)} or a mode ({", ".join(BAND_MODES)})'
            )
        names.append(name)
    if not names:
        raise BVMValueError(
            f'no Sentinel-1 band requested: choose from {", ".join(ALL_BANDS)}'
        )
    if len(set(names)) != len(names):
        raise BVMValueError(f'Sentinel-1 band requested twice in {names}')
    return tuple(names)


def check_orbit(value: object) -> tuple[Orbit, ...]:
    """The orbit directions an ``orbit`` argument selects.

    Args:
        value: ``'ascending'``, ``'descending'`` or ``'both'`` (any case).

    Returns:
        The directions, in :data:`ORBITS` order.

    Raises:
        BVMValueError: for anything else.
    """
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text == 'both':
        return ORBITS
    for orbit in ORBITS:
        if text == orbit:
            return (orbit,)
    raise BVMValueError(
        f"unknown orbit {value!r}: expected 'ascending', 'descending' or 'both'"
    )


def orbit_of(name: str) -> Orbit | None:
    """The orbit direction a Sentinel-1 product or file name states.

    Args:
        name: a Terrascope product id or file name
            (``S1A_IW_GRDH_SIGMA0_DV_20220913T055845_DESCENDING_110_2A71_V110``)
            or a file of the openEO downloader.

    Returns:
        ``'ascending'`` or ``'descending'``; None when the name states none.
    """
    match = _ORBIT_IN_NAME.search(name)
    if match is None:
        return None
    return 'ascending' if match[1] == 'ASCENDING' else 'descending'


def openeo_s1_acquisition_path(
    out: str | Path, sheet: Sheet | str | int, orbit: Orbit, day: date | str
) -> Path:
    """Where the openEO downloader writes a sheet's sigma0 of one acquisition date.

    Args:
        out: the download folder.
        sheet: the map sheet (any spelling :meth:`Sheet.parse` accepts).
        orbit: the orbit direction.
        day: the acquisition date (UTC), a date or ``'YYYY-MM-DD'``.

    Returns:
        ``out/<sheet>/<sheet>_openEO_S1-<ORBIT>_<YYYY-MM-DD>Z.tif``.
    """
    import pandas as pd

    return _path(out, sheet, orbit, pd.Timestamp(day).strftime('%Y-%m-%dZ'))


def openeo_s1_composite_path(
    out: str | Path, sheet: Sheet | str | int, orbit: Orbit, month: date | str
) -> Path:
    """Where the openEO downloader writes a sheet's monthly mean sigma0.

    The file of a month, not of a date: its name holds the year and month only.

    Args:
        out: the download folder.
        sheet: the map sheet (any spelling :meth:`Sheet.parse` accepts).
        orbit: the orbit direction.
        month: any date in the month, or ``'YYYY-MM'``.

    Returns:
        ``out/<sheet>/<sheet>_openEO_S1-<ORBIT>_<YYYY-MM>_mean.tif``.
    """
    import pandas as pd

    return _path(out, sheet, orbit, pd.Timestamp(month).strftime('%Y-%m_mean'))


def _path(out: str | Path, sheet: Sheet | str | int, orbit: Orbit, stamp: str) -> Path:
    code = Sheet.parse(sheet).file_safe
    direction = check_orbit(orbit)[0].upper()
    return Path(out) / code / f'{code}_openEO_S1-{direction}_{stamp}.tif'


def parse_openeo_s1_name(
    name: str,
) -> tuple[Literal['openeo-s1', 'composite'], str] | None:
    """Recognise a Sentinel-1 file of the openEO downloader by its name.

    Args:
        name: a file name (not a path).

    Returns:
        ``('openeo-s1', 'YYYY-MM-DD')`` for one acquisition date,
        ``('composite', 'YYYY-MM')`` for a monthly mean composite, None for any
        other name (Sentinel-2's files, hidden staging files).
    """
    match = _S1_OPENEO.match(name)
    if match is None:
        return None
    if match['date'] is not None:
        return 'openeo-s1', match['date']
    return 'composite', match['month']


def to_db(values: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Linear power to decibels, ``10 * log10(values)``.

    Args:
        values: linear power.

    Returns:
        The decibels, float32; NaN where ``values`` are NaN, zero or negative
        (never -inf).
    """
    linear = np.asarray(values, dtype=np.float32)
    out = np.full(linear.shape, np.nan, dtype=np.float32)
    np.log10(linear, out=out, where=linear > 0)
    out *= np.float32(10.0)
    return out


def from_db(values: NDArray[np.floating[Any]] | float) -> NDArray[np.float64]:
    """Decibels to linear power, ``10 ** (values / 10)``.

    Args:
        values: decibels.

    Returns:
        Linear power, float64.
    """
    result: NDArray[np.float64] = np.power(10.0, np.asarray(values, np.float64) / 10)
    return result
