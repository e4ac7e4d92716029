"""The Sentinel-2 band catalogue, file naming and the SCL cloud rule.

What every part of the package that touches Sentinel-2 agrees on, without
reading a file: the band names of ``TERRASCOPE_S2_TOC_V2`` and their native
resolutions (:data:`ALL_BANDS`, :data:`NATIVE_RESOLUTION`), the band modes of
the paper (:func:`resolve_bands`), the scene classification classes
(:data:`SCL_CLASSES`) and the rule that turns them into usable pixels
(:class:`CloudRule`, with its exact disk :func:`dilate`), and the names of the
files the openEO downloader writes (:func:`openeo_acquisition_path`,
:func:`openeo_composite_path`, :func:`parse_openeo_name`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import BVMValueError
from ..sheets.codes import Sheet

__all__ = [
    'ALL_BANDS',
    'BAND_MODES',
    'FALSE_COLOUR_BANDS',
    'MAX_DILATION_M',
    'NATIVE_RESOLUTION',
    'PAPER_CLOUD_RULE',
    'REFLECTANCE_SCALE',
    'RGB_BANDS',
    'RGNIR_BANDS',
    'SCL_BAND',
    'SCL_CLASSES',
    'TRUE_COLOUR_BANDS',
    'CloudRule',
    'dilate',
    'openeo_acquisition_path',
    'openeo_composite_path',
    'parse_openeo_name',
    'resolve_bands',
]

#: The widest dilation of a cloud rule, in metres: every window is read with
#: that margin around it (the paper's rule dilates by about 400 m).
MAX_DILATION_M = 5_000.0

ALL_BANDS: tuple[str, ...] = (
    'B01',
    'B02',
    'B03',
    'B04',
    'B05',
    'B06',
    'B07',
    'B08',
    'B8A',
    'B11',
    'B12',
)
#: The paper's ``rgb`` mode.
RGB_BANDS: tuple[str, ...] = ('B02', 'B03', 'B04')
#: The paper's ``rgnir`` mode.
RGNIR_BANDS: tuple[str, ...] = ('B03', 'B04', 'B08')
#: Bands of a true-colour picture (red, green, blue).
TRUE_COLOUR_BANDS: tuple[str, ...] = ('B04', 'B03', 'B02')
#: Bands of a false-colour (near infrared, red, green) picture.
FALSE_COLOUR_BANDS: tuple[str, ...] = ('B08', 'B04', 'B03')
#: Band modes accepted wherever a list of band names is.
BAND_MODES: dict[str, tuple[str, ...]] = {
    'rgb': RGB_BANDS,
    'rgnir': RGNIR_BANDS,
    'all': ALL_BANDS,
}
#: Native ground sampling distance of each band in metres.
NATIVE_RESOLUTION: dict[str, int] = {
    'B01': 60,
    'B02': 10,
    'B03': 10,
    'B04': 10,
    'B05': 20,
    'B06': 20,
    'B07': 20,
    'B08': 10,
    'B8A': 20,
    'B11': 20,
    'B12': 20,
    'SCL': 20,
}
#: Name of the scene classification band in openEO downloads.
SCL_BAND = 'SCL'
#: Sen2Cor scene classification classes.
SCL_CLASSES: dict[int, str] = {
    0: 'no data',
    1: 'saturated or defective',
    2: 'dark area pixels',
    3: 'cloud shadows',
    4: 'vegetation',
    5: 'not vegetated',
    6: 'water',
    7: 'unclassified',
    8: 'cloud medium probability',
    9: 'cloud high probability',
    10: 'thin cirrus',
    11: 'snow',
}
#: Digital numbers are reflectance times this factor (offset 0).
REFLECTANCE_SCALE = 10000

_OPENEO_RE = re.compile(r'^(?P<sheet>[^.].*)_openEO_(?P<date>\d{4}-\d{2}-\d{2})Z\.tif$')
_COMPOSITE_RE = re.compile(
    r'^(?P<sheet>[^.].*)_openEO_(?P<month>\d{4}-\d{2})_median\.tif$'
)


def resolve_bands(bands: str | Sequence[str]) -> tuple[str, ...]:
    """Turn a band mode or a list of band names into a tuple of band names.

    Args:
        bands: ``'rgb'``, ``'rgnir'``, ``'all'`` or band names such as
            ``['B08', 'B04']`` or ``'B08,B04'`` (any order, upper or lower case).

    Returns:
        The band names, in the requested order.

    Raises:
        ValueError: for an unknown mode or band name (the message lists the
            available ones), a repeated band, ``SCL`` or an empty list.
    """
    if isinstance(bands, str) and ',' in bands:
        bands = [b.strip() for b in bands.split(',') if b.strip()]
    if isinstance(bands, str):
        mode = bands.lower()
        if mode in BAND_MODES:
            return BAND_MODES[mode]
        if bands.upper() not in ALL_BANDS:
            raise BVMValueError(
                f'unknown band mode {bands!r}: expected one of {sorted(BAND_MODES)} '
                f'or a list of band names from {", ".join(ALL_BANDS)}'
            )
        bands = [bands]
    names = tuple(str(b).upper() for b in bands)
    if not names:
        raise BVMValueError(f'no bands requested: choose from {", ".join(ALL_BANDS)}')
    for name in names:
        if name == SCL_BAND:
            raise BVMValueError(
                'SCL is categorical and never part of `image`: it is read separately '
                'and returned as the `valid` mask through `cloud_rule`'
            )
        if name not in ALL_BANDS:
            raise BVMValueError(
                f'unknown band {name!r}: available bands are {", ".join(ALL_BANDS)} '
                f'or the modes {", ".join(BAND_MODES)}'
            )
    if len(set(names)) != len(names):
        raise BVMValueError(f'band requested twice in {list(names)}')
    return names


def openeo_acquisition_path(
    out: str | Path, sheet: Sheet | str | int, day: date | str
) -> Path:
    """Where the openEO downloader writes one sheet on one acquisition date.

    Args:
        out: the download folder.
        sheet: the map sheet (any spelling :meth:`Sheet.parse` accepts).
        day: the acquisition date (UTC), a date or ``'YYYY-MM-DD'``.

    Returns:
        ``out/<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif`` with the file-safe sheet code.
    """
    import pandas as pd

    return _openeo_path(out, sheet, pd.Timestamp(day).strftime('%Y-%m-%dZ'))


def openeo_composite_path(
    out: str | Path, sheet: Sheet | str | int, month: date | str
) -> Path:
    """Where the openEO downloader writes a sheet's monthly median composite.

    The file of a month, not of a date: its name holds the year and month only.

    Args:
        out: the download folder.
        sheet: the map sheet (any spelling :meth:`Sheet.parse` accepts).
        month: any date in the month, or ``'YYYY-MM'``.

    Returns:
        ``out/<sheet>/<sheet>_openEO_<YYYY-MM>_median.tif``.
    """
    import pandas as pd

    return _openeo_path(out, sheet, pd.Timestamp(month).strftime('%Y-%m_median'))


def _openeo_path(out: str | Path, sheet: Sheet | str | int, stamp: str) -> Path:
    code = Sheet.parse(sheet).file_safe
    return Path(out) / code / f'{code}_openEO_{stamp}.tif'


def parse_openeo_name(name: str) -> tuple[Literal['openeo', 'composite'], str] | None:
    """Recognise a file of the openEO downloader by its name.

    Args:
        name: a file name (not a path).

    Returns:
        ``('openeo', 'YYYY-MM-DD')`` for one acquisition date,
        ``('composite', 'YYYY-MM')`` for a monthly median composite, None for
        any other name (hidden files, the staging files of an interrupted
        write, included).
    """
    match = _OPENEO_RE.match(name)
    if match is not None:
        return 'openeo', match['date']
    match = _COMPOSITE_RE.match(name)
    if match is not None:
        return 'composite', match['month']
    return None


def dilate(mask: NDArray[np.bool_], radius: tuple[float, float]) -> NDArray[np.bool_]:
    """Binary dilation of ``mask`` by an elliptical disk.

    A pixel is set when some set pixel lies at an offset ``(dy, dx)`` with
    ``(dx / rx) ** 2 + (dy / ry) ** 2 <= 1``.

    Args:
        mask: a 2-D boolean array.
        radius: ``(rx, ry)``, the radius in pixels along x (columns) and y (rows).

    Returns:
        The dilated mask, same shape.
    """
    # Row by row, with a running sum per distinct half-width: O(H * W * ry) time
    # and O(H * W) memory, where kornia's morphology unfolds every pixel's
    # (2r + 1)^2 neighbourhood (1.7 GB for a 256 px tile at the paper's 400 m).
    rx, ry = radius
    height, width = mask.shape
    out = mask.copy()
    if rx < 1 and ry < 1:
        return out
    padded = np.zeros((height, width + 1), dtype=np.int32)
    np.cumsum(mask, axis=1, out=padded[:, 1:])
    columns = np.arange(width)
    by_half_width: dict[int, NDArray[np.bool_]] = {}
    reach = math.floor(ry)
    for dy in range(-reach, reach + 1):
        fraction = 1.0 - (dy / ry) ** 2 if ry > 0 else 1.0
        half = math.floor(rx * math.sqrt(max(fraction, 0.0)) + 1e-9)
        if half not in by_half_width:
            lo = np.clip(columns - half, 0, width)
            hi = np.clip(columns + half + 1, 0, width)
            by_half_width[half] = (padded[:, hi] - padded[:, lo]) > 0
        row_dilated = by_half_width[half]
        # out[y] |= row_dilated[y + dy]
        if dy >= 0:
            out[: height - dy] |= row_dilated[dy:]
        else:
            out[-dy:] |= row_dilated[: height + dy]
    return out


@functools.lru_cache(maxsize=32)
def _class_table(classes: tuple[int, ...]) -> NDArray[np.bool_]:
    """A lookup table over uint8 values: True for ``classes``."""
    table = np.zeros(256, dtype=bool)
    table[[c for c in classes if 0 <= c < 256]] = True
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class CloudRule:
    """Turns a scene classification (SCL) into a mask of usable pixels.

    A pixel is usable when its class is in ``valid`` and no pixel of a class in
    ``dilate_classes`` lies within ``dilation_m`` metres of it. Pixels of
    ``dilate_classes`` are never usable. The paper's code used the defaults with
    about 400 m of dilation (:data:`PAPER_CLOUD_RULE`; it smoothed with a Gaussian
    and a threshold, this rule uses an exact disk).

    Args:
        valid: SCL classes that are usable.
        dilate_classes: SCL classes that make their surroundings unusable.
        dilation_m: radius of that surrounding in metres (0 = the pixels only).

    Raises:
        ValueError: for a class outside 0..11, or a radius that is negative or
            over :data:`MAX_DILATION_M`.
    """

    valid: tuple[int, ...] = (4, 5, 6, 7)
    dilate_classes: tuple[int, ...] = (3, 8, 9, 10)
    dilation_m: float = 0.0

    def __post_init__(self) -> None:
        for name in ('valid', 'dilate_classes'):
            classes = tuple(int(c) for c in getattr(self, name))
            unknown = [c for c in classes if c not in SCL_CLASSES]
            if unknown:
                raise BVMValueError(
                    f'CloudRule.{name}: unknown SCL classes {unknown}, '
                    f'expected values in 0..{max(SCL_CLASSES)}'
                )
            object.__setattr__(self, name, classes)
        if not math.isfinite(self.dilation_m) or self.dilation_m < 0:
            raise BVMValueError(
                f'CloudRule.dilation_m must be >= 0 metres, got {self.dilation_m}'
            )
        if self.dilation_m > MAX_DILATION_M:
            raise BVMValueError(
                f'CloudRule.dilation_m must be at most {MAX_DILATION_M:g} metres, got '
                f'{self.dilation_m:g} (every window is read with that margin)'
            )

    def radius_pixels(self, pixel_size_m: tuple[float, float]) -> tuple[float, float]:
        """The dilation radius in pixels.

        Args:
            pixel_size_m: ``(x, y)`` size of a pixel in metres.

        Returns:
            ``(rx, ry)`` in pixels.
        """
        return (self.dilation_m / pixel_size_m[0], self.dilation_m / pixel_size_m[1])

    def margin(self, pixel_size_m: tuple[float, float]) -> tuple[int, int]:
        """How many pixels beyond a window can still affect it.

        Args:
            pixel_size_m: ``(x, y)`` size of a pixel in metres.

        Returns:
            ``(mx, my)`` in whole pixels.
        """
        rx, ry = self.radius_pixels(pixel_size_m)
        return (math.floor(rx + 1e-9), math.floor(ry + 1e-9))

    def mask(
        self, scl: NDArray[Any], pixel_size_m: tuple[float, float] = (10.0, 10.0)
    ) -> NDArray[np.bool_]:
        """The usable pixels of a scene classification.

        Args:
            scl: 2-D array of SCL classes.
            pixel_size_m: ``(x, y)`` size of a pixel in metres, to convert
                :attr:`dilation_m` into pixels.

        Returns:
            Boolean array, True where the pixel is usable.
        """
        if scl.dtype == np.uint8:
            # A 256-entry lookup table: one gather instead of np.isin's sort-based
            # search over the window with its cloud margin, twice per sample.
            cloudy = _class_table(self.dilate_classes)[scl]
            usable = _class_table(self.valid)[scl]
        else:
            cloudy = np.isin(scl, self.dilate_classes)
            usable = np.isin(scl, self.valid)
        if self.dilation_m > 0 and cloudy.any():  # dilating nothing gives nothing
            cloudy = dilate(cloudy, self.radius_pixels(pixel_size_m))
        result: NDArray[np.bool_] = usable & ~cloudy
        return result


#: The paper's rule: classes 4-7 usable, clouds, shadows and cirrus dilated ~400 m.
PAPER_CLOUD_RULE = CloudRule(dilation_m=400.0)
