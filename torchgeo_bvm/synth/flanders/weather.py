"""The weather over mini-Flanders on each date, and the scene classification.

Clouds, their shadows and cirrus come from the shared generator
(:class:`torchgeo_bvm.synth.noise.Clouds`); the ground's SCL classes follow
the reflectance under them (vegetation, bare, water, a few unclassified and
dark pixels).

* The single dates (:data:`~torchgeo_bvm.synth.flanders.region.DATES`) have
  the hand-set weather of :data:`WEATHER`: a cloud cover, cirrus or not, and
  one date partly outside the orbit's swath (no data).
* The season (:data:`~torchgeo_bvm.synth.flanders.region.SEASON_DATES`) has
  the cloudiness of Flanders month by month (:data:`MONTHLY_CLEAR`, spread
  over the month's dates by :func:`season_skies`); its clouds are drawn on the
  20 m grid of the scene classification, so the SCL that the product stores at
  20 m marks exactly the clouded pixels, and leave clear the share of the
  scene that the date's :class:`Sky` asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...datasets.bands import ALL_BANDS
from ...errors import BVMValueError
from ..noise import Clouds, seeded_rng
from ..sentinel2 import SCL_SPECTRA, TERRASCOPE_NODATA

__all__ = [
    'CIRRUS_SHARE',
    'DULL_YEAR_SUNSHINE',
    'MAX_SUNSHINE',
    'MONTHLY_CLEAR',
    'OVERCAST_BELOW',
    'WEATHER',
    'Sky',
    'Weather',
    'check_sunshine',
    'clouded',
    'season_skies',
    'season_weather',
    'weather',
]


@dataclass(frozen=True)
class Weather:
    """The weather of one of the single dates.

    Args:
        cloud: the share of the scene under cloud.
        cirrus: whether there is cirrus.
        nodata: whether a corner lies outside the orbit's swath.
    """

    cloud: float
    cirrus: bool
    nodata: bool


#: The weather per date, in the order of
#: :data:`~torchgeo_bvm.synth.flanders.region.DATES`.
WEATHER = (
    Weather(cloud=0.06, cirrus=False, nodata=False),
    Weather(cloud=0.02, cirrus=True, nodata=False),
    Weather(cloud=0.22, cirrus=False, nodata=True),
    Weather(cloud=0.10, cirrus=True, nodata=False),
)

#: The mean share of a Sentinel-2 scene over Flanders that is clear (neither
#: cloud, cloud shadow nor cirrus), January to December: the relative sunshine
#: duration at Uccle, the KMI/IRM 1991-2020 normals of monthly sunshine hours
#: (about 59, 77, 126, 165, 200, 192, 203, 200, 150, 113, 66 and 49 h)
#: divided by the hours the sun is up at 50.8 degrees N, rounded to 0.01;
#: clearer in spring and summer than in winter.
MONTHLY_CLEAR: tuple[float, ...] = (
    0.23,
    0.28,
    0.34,
    0.40,
    0.42,
    0.39,
    0.41,
    0.44,
    0.40,
    0.34,
    0.25,
    0.20,
)
#: A very cloudy year's sunshine, as a share of the normal of every month:
#: the dullest season on record at Uccle, spring 1983 (276 h 52 min of sun,
#: IRM/KMI), against the 1991-2020 spring normal of 491 h (126 + 165 + 200 h,
#: the normals behind :data:`MONTHLY_CLEAR`): 0.56. A whole year that dull is
#: duller than any year measured there; it bounds what clouds can do.
DULL_YEAR_SUNSHINE = 0.56
#: The sunniest year the season can have: its clearest date (twice August's
#: mean) must stay below a clear sky.
MAX_SUNSHINE = 1.13
#: Months clearer than this on average have no overcast date.
OVERCAST_BELOW = 0.35
#: The share of partly cloudy dates with cirrus as well.
CIRRUS_SHARE = 0.25
#: How the clear shares of a month's three dates relate to its mean: a grey
#: month has one overcast date, a bright one a nearly clear date.
_GREY_MONTH = (0.0, 1.0, 2.0)
_BRIGHT_MONTH = (0.2, 0.8, 2.0)
#: Cirrus is left out of dates clearer than this, which it could not leave clear.
_CIRRUS_MAX_CLEAR = 0.7


@dataclass(frozen=True)
class Sky:
    """The sky of one date of the season.

    Args:
        clear: the share of the scene left clear: no cloud, shadow or cirrus
            (0 for an overcast date).
        cirrus: whether there is cirrus.
    """

    clear: float
    cirrus: bool


def check_sunshine(sunshine: float) -> float:
    """A year's sunshine (share of the normal), checked.

    Args:
        sunshine: the value.

    Returns:
        It, as a float.

    Raises:
        BVMValueError: unless it lies in (0, :data:`MAX_SUNSHINE`].
    """
    value = float(sunshine)
    if not 0 < value <= MAX_SUNSHINE:
        raise BVMValueError(
            f'sunshine must lie in (0, {MAX_SUNSHINE}] (a share of the normal year; '
            f'{DULL_YEAR_SUNSHINE} for a very cloudy one), got {sunshine}'
        )
    return value


def season_skies(
    months: Sequence[int], seed: int, sunshine: float = 1.0
) -> tuple[Sky, ...]:
    """The sky of every date of the season, from the month of each date.

    A month with mean clear share ``c`` (:data:`MONTHLY_CLEAR` times
    ``sunshine``) and three dates gives them the clear shares ``(0, c, 2c)``
    when ``c`` is below
    :data:`OVERCAST_BELOW` (October to March: one overcast date a month) and
    ``(0.2c, 0.8c, 2c)`` otherwise, in an order drawn for each month; so
    every month's mean is exactly ``c``. A partly cloudy date not clearer than
    0.7 has cirrus with probability :data:`CIRRUS_SHARE`.

    Args:
        months: the month (1-12) of each date, in date order.
        seed: the scene's seed.
        sunshine: the year's sunshine as a share of the normal (1: the
            normals; :data:`DULL_YEAR_SUNSHINE`: a very cloudy year).

    Returns:
        The skies, in date order.

    Raises:
        ValueError: if a month has not three dates, or for a sunshine outside
            :func:`check_sunshine`'s range.
    """
    sunshine = check_sunshine(sunshine)
    rng = seeded_rng(seed, 103)
    skies: list[Sky | None] = [None] * len(months)
    for month in sorted(set(months)):
        dates = [i for i, m in enumerate(months) if m == month]
        if len(dates) != 3:
            raise ValueError(f'month {month} has {len(dates)} dates, expected 3')
        mean = MONTHLY_CLEAR[month - 1] * sunshine
        pattern = _GREY_MONTH if mean < OVERCAST_BELOW else _BRIGHT_MONTH
        for index, factor in zip(dates, rng.permutation(pattern), strict=True):
            clear = round(float(factor) * mean, 4)
            cirrus = bool(
                0 < clear <= _CIRRUS_MAX_CLEAR and rng.random() < CIRRUS_SHARE
            )
            skies[index] = Sky(clear, cirrus)
    return tuple(sky for sky in skies if sky is not None)


def _spectrum(scl_class: int) -> NDArray[np.float32]:
    return np.array([SCL_SPECTRA[scl_class][b] for b in ALL_BANDS], dtype=np.float32)


def _ground_scl(
    reflectance: NDArray[np.float32], rng: np.random.Generator
) -> NDArray[np.uint8]:
    """SCL classes of the ground from its reflectance, with a few odd pixels."""
    b03, b04, b08 = (reflectance[ALL_BANDS.index(b)] for b in ('B03', 'B04', 'B08'))
    ndvi = (b08 - b04) / np.maximum(b08 + b04, 1)
    ndwi = (b03 - b08) / np.maximum(b03 + b08, 1)
    scl = np.full(b08.shape, 5, dtype=np.uint8)
    scl[ndvi > 0.4] = 4
    scl[(ndwi > 0.05) & (b08 < 1000)] = 6
    speckle = rng.random(b08.shape)
    scl[speckle < 0.003] = 7
    scl[(speckle > 0.998) & (b08 < 1500)] = 2
    return scl


def _outside_swath(rows: int, cols: int) -> NDArray[np.bool_]:
    """A corner beyond the edge of the orbit's swath.

    On the 60 m grid, so that the 20 m and 60 m aggregates of the product
    writer never mix data with no-data.
    """
    r60, c60 = np.mgrid[0 : rows // 6, 0 : cols // 6]
    wedge = c60 + 1.5 * r60 < 0.2 * (cols // 6 + 1.5 * rows // 6)
    outside: NDArray[np.bool_] = np.repeat(np.repeat(wedge, 6, axis=0), 6, axis=1)
    return outside


def clouded(
    image: NDArray[np.float32],
    clouds: Clouds,
    rng: np.random.Generator,
    *,
    nodata: bool = False,
) -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """A surface under clouds, and its scene classification.

    Args:
        image: the surface reflectance ``(bands, rows, cols)`` at 10 m, rows
            and columns whole multiples of 6.
        clouds: the clouds, on the same grid.
        rng: the date's generator; draws the ground's odd pixels.
        nodata: whether a corner lies outside the orbit's swath.

    Returns:
        ``(reflectance, scl)``: int16 reflectance as the product stores it
        (1 to 20000, :data:`~torchgeo_bvm.synth.sentinel2.TERRASCOPE_NODATA`
        outside the swath) and the uint8 SCL at 10 m.
    """
    rows, cols = image.shape[1:]
    out = clouds.over(image, _spectrum(9), _spectrum(10))
    scl = _ground_scl(out, rng)
    clouds.mark(scl)
    reflectance = np.clip(np.round(out), 1, 20000).astype(np.int16)
    if nodata:
        outside = _outside_swath(rows, cols)
        reflectance[:, outside] = TERRASCOPE_NODATA
        scl[outside] = 0
    return reflectance, scl


def weather(
    image: NDArray[np.float32], date_index: int, seed: int
) -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """Clouds, shadows, cirrus and no-data over a surface on a single date.

    Args:
        image: the surface reflectance ``(bands, rows, cols)`` at 10 m, rows
            and columns whole multiples of 6.
        date_index: the date's index (its weather is :data:`WEATHER`'s).
        seed: the scene's seed.

    Returns:
        ``(reflectance, scl)`` (see :func:`clouded`).
    """
    today = WEATHER[date_index % len(WEATHER)]
    rng = seeded_rng(seed, 30 + date_index)
    rows, cols = image.shape[1:]
    clouds = Clouds.fractal((rows, cols), rng, today.cloud, cirrus=today.cirrus)
    return clouded(image, clouds, rng, nodata=today.nodata)


def season_weather(
    image: NDArray[np.float32], sky: Sky, rng: np.random.Generator
) -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """The clouds of a season's date over a surface.

    The clouds are drawn on the 20 m grid (:meth:`Clouds.leaving_clear`, with
    features of the single dates' sizes in metres) and repeated onto the 10 m
    grid, so each 2 x 2 block of 10 m pixels is clouded
    alike and the product's 20 m SCL keeps the clouds' shapes exactly.

    Args:
        image: the surface reflectance ``(bands, rows, cols)`` at 10 m, rows
            and columns whole multiples of 6.
        sky: the date's sky.
        rng: the date's generator.

    Returns:
        ``(reflectance, scl)`` (see :func:`clouded`); no pixel lies outside
        the swath.
    """
    rows, cols = image.shape[1:]
    clouds = Clouds.leaving_clear(
        (rows // 2, cols // 2), rng, sky.clear, sky.cirrus, scale=0.5
    )
    return clouded(image, clouds.upsampled(2), rng)
