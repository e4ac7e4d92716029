"""What mini-Flanders looks like to C-band radar: backscatter per polygon and date.

The same cover that gives each polygon its reflectance
(:func:`~torchgeo_bvm.synth.flanders.spectra.season_fractions`: crops'
phenology, mowing, leaves, tide, weeds) gives it its backscatter: each cover
(endmember) has a typical VV and VH sigma0 at 35 degrees of incidence
(:data:`BACKSCATTER_DB`, values of the C-band literature for crops, grass,
forests, water, towns and bare surfaces), and a polygon's backscatter is the
area-weighted sum of its covers' in linear power. On top of that, what radar
sees and optical sensors do not:

* **soil moisture**: bare and sparsely covered ground is brighter when wet,
  in winter (:func:`moisture_db`, +1.5 dB in mid-January, -1.5 dB in July);
* **tillage**: fields of spring crops are ploughed after harvest (rough,
  bright soil, +3 dB in VV and +2 dB in VH, until March) and harrowed to a
  fine seedbed in spring (-2 and -1.5 dB, March to May); winter cereal is
  sown on a seedbed in autumn (-1.5 and -1 dB);
* **stem geometry**: a winter cereal's vertical stems damp VV from April to
  June (-3 dB), a known C-band signature of cereals;
* **flooding**: marshes stand in water in winter (:func:`flooded_share`, 70 %
  from December to February, 10 % in summer): open water (dark) and emergent
  reed over water, whose stems and the water surface form a double bounce
  (:data:`FLOODED_REED_DB`: bright in VV, dark in VH);
* **orientation**: a built-up polygon's double bounce depends on how its
  streets face the radar, different for ascending and descending passes
  (:meth:`RadarTraits.draw`).

The incidence angle lowers backscatter by :data:`ANGLE_SLOPE_DB` per degree
(water more steeply); speckle and the sensor's resolution are the writer's
(:mod:`~torchgeo_bvm.synth.flanders.radar`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...datasets.radar import from_db
from ..noise import seeded_rng
from .kinds import KIND
from .spectra import CROPS, ENDMEMBER_NAMES, SeasonTraits, Traits, season_fractions

__all__ = [
    'ANGLE_SLOPE_DB',
    'BACKSCATTER_DB',
    'FLOODED_REED_DB',
    'REFERENCE_ANGLE',
    'WATER_SLOPE_DB',
    'RadarTraits',
    'flooded_share',
    'moisture_db',
    'polygon_backscatter',
    'tillage_db',
]

#: VV and VH sigma0 (dB) of each cover at :data:`REFERENCE_ANGLE`.
BACKSCATTER_DB: dict[str, tuple[float, float]] = {
    'crop': (-9.5, -14.0),
    'grass': (-11.0, -17.5),
    'dry': (-13.0, -20.5),
    'soil': (-12.5, -22.0),
    'forest': (-7.5, -12.5),
    'bare_trees': (-8.5, -14.5),
    'conifer': (-7.0, -12.0),
    'turbid': (-17.0, -25.0),
    'clear': (-21.0, -28.0),
    'urban': (-2.0, -9.5),
    'asphalt': (-15.0, -23.0),
    'roof': (1.0, -8.5),
    'sand': (-15.5, -23.5),
    'mud': (-12.5, -21.5),
    'heath': (-10.0, -16.5),
    'reed': (-8.5, -14.0),
}
#: Reed standing in water: stems and water surface bounce VV back strongly.
FLOODED_REED_DB = (-5.5, -19.5)
#: The incidence angle (degrees) of :data:`BACKSCATTER_DB`.
REFERENCE_ANGLE = 35.0
#: dB per degree of incidence, VV and VH, over land and over water.
ANGLE_SLOPE_DB = (-0.13, -0.10)
WATER_SLOPE_DB = (-0.35, -0.20)

_E = {name: i for i, name in enumerate(ENDMEMBER_NAMES)}
_TABLE = np.array([BACKSCATTER_DB[name] for name in ENDMEMBER_NAMES])
_MOIST = [_E[name] for name in ('soil', 'mud', 'dry', 'grass')]
_SPRING_CROPS = [CROPS.index(c) for c in ('maize', 'potato', 'beet', 'vegetable')]
_WINTER_CEREAL = CROPS.index('winter_cereal')
_BUILT = ('urban', 'urban_dense', 'industry')


def moisture_db(doy: float) -> float:
    """How much wetter ground raises backscatter on a day of year (dB).

    Args:
        doy: the day of year.

    Returns:
        ``1.5 * cos(2 pi (doy - 15) / 365)``: +1.5 dB in mid-January.
    """
    return 1.5 * math.cos(2 * math.pi * (doy - 15) / 365)


def flooded_share(doy: float) -> float:
    """The share of a marsh under water on a day of year.

    Args:
        doy: the day of year.

    Returns:
        0.7 from December to February, 0.1 from May to October, linear between.
    """
    return float(
        np.interp(doy, [0, 59, 120, 300, 335, 366], [0.7, 0.7, 0.1, 0.1, 0.7, 0.7])
    )


def tillage_db(crops: NDArray[np.int64], doy: float) -> NDArray[np.float64]:
    """The roughness of each arable field's soil on a day of year (dB).

    Args:
        crops: each field's crop (an index into
            :data:`~torchgeo_bvm.synth.flanders.spectra.CROPS`).
        doy: the day of year.

    Returns:
        ``(fields, 2)``, VV and VH. Spring crops: ploughed (+3, +2) until day
        75 and from day 300, a seedbed (-2, -1.5) from day 75 to 150; winter
        cereal: a seedbed (-1.5, -1) from day 290; 0 otherwise.
    """
    spring = np.isin(crops, _SPRING_CROPS)
    offset = np.zeros((len(crops), 2))
    if doy < 75 or doy >= 300:
        offset[spring] = (3.0, 2.0)
    elif doy < 150:
        offset[spring] = (-2.0, -1.5)
    if doy >= 290:
        offset[crops == _WINTER_CEREAL] = (-1.5, -1.0)
    return offset


@dataclass(frozen=True)
class RadarTraits:
    """Per-polygon radar properties that stay the same on every date.

    Args:
        roughness: a factor on each polygon's backscatter (linear).
        facing: ``(polygons, 2)``: built-up polygons' double bounce factor
            for ascending and descending passes (1 elsewhere).
    """

    roughness: NDArray[np.float64]
    facing: NDArray[np.float64]

    @classmethod
    def draw(cls, kinds: NDArray[np.int64], seed: int) -> RadarTraits:
        """Draw the traits of every polygon.

        Args:
            kinds: the kind of each polygon.
            seed: the scene's seed.

        Returns:
            The traits: roughness log-normal with sigma 0.12 (about 0.5 dB),
            facing log-normal with sigma 0.35 (about 1.5 dB) per direction.
        """
        rng = seeded_rng(seed, 110)
        n = len(kinds)
        built = np.isin(kinds, [KIND[k] for k in _BUILT])
        facing = np.where(built[:, None], rng.lognormal(0.0, 0.35, (n, 2)), 1.0)
        return cls(rng.lognormal(0.0, 0.12, n), facing)


def polygon_backscatter(
    kinds: NDArray[np.int64],
    traits: Traits,
    season: SeasonTraits,
    radar: RadarTraits,
    doy: float,
    tide: float,
    descending: bool,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """VV and VH sigma0 of every polygon on a day, at :data:`REFERENCE_ANGLE`.

    The cover of :func:`~torchgeo_bvm.synth.flanders.spectra.season_fractions`
    weighs its covers' sigma0, moistened, tilled, stem-damped and flooded as
    the module says, then each polygon's roughness and facing scale it.

    Args:
        kinds: the kind of each polygon.
        traits: their traits.
        season: their traits in the season's year.
        radar: their radar traits.
        doy: the day of year.
        tide: how far the tide covers the mudflats (0..1).
        descending: whether the pass is descending.
        rng: the date's generator.

    Returns:
        Linear power ``(polygons, 2)``.
    """
    fractions = season_fractions(kinds, traits, season, doy, tide, rng)
    table = _TABLE.copy()
    table[_MOIST] += moisture_db(doy)
    linear = from_db(table)
    values = fractions @ linear
    # Columns whose value depends on the polygon: tilled soil, cereal stems.
    arable = kinds == KIND['arable']
    soil = fractions[:, _E['soil'], None] * linear[_E['soil']][None]
    gain = from_db(tillage_db(season.crops, doy)) - 1
    values += np.where(arable[:, None], gain, 0.0) * soil
    if 100 <= doy < 180:
        cereal = arable & (season.crops == _WINTER_CEREAL)
        crop = fractions[:, _E['crop']] * linear[_E['crop'], 0]
        values[:, 0] -= np.where(cereal, crop * (1 - from_db(-3.0)), 0.0)
    marsh = kinds == KIND['marsh']
    flooded = 0.5 * (linear[_E['clear']] + from_db(np.array(FLOODED_REED_DB)))
    share = flooded_share(doy)
    values[marsh] = (1 - share) * values[marsh] + share * flooded[None]
    values *= radar.roughness[:, None] * rng.lognormal(0.0, 0.05, len(kinds))[:, None]
    values *= radar.facing[:, int(descending)][:, None]
    result: NDArray[np.float64] = values
    return result
