"""What mini-Flanders looks like from space: spectra per polygon and date.

Every polygon is a mixture of endmember spectra (crop, grass, soil, forest,
water, roofs, ...) whose fractions follow its kind, its crop's phenology, the
leaves of deciduous trees, mowing and the tide; each polygon keeps its own
traits (brightness, crop rotation, sowing date, weeds) on every date.

Through a year (the season: :func:`season_fractions` mixed by
:func:`mixed_spectra`) this gives:

* arable fields (Cultivated land): each its crop of :data:`CROPS` for the
  year (:class:`SeasonTraits`), green as :data:`PHENOLOGY` says: spring crops
  (maize, potato, beet) bare soil from January into May, a green peak in
  summer, then harvest residue and soil; winter cereal green from winter to
  its June peak, harvested to stubble in July; ley (grass on arable land)
  green all year, like a meadow;
* meadows (Grasslands): green all year (a little less in winter), mown 0 to
  4 times between May and October on each meadow's own dates (:data:`MOWING`):
  on a cut the green cover drops from 0.9 to 0.4 and grows back over
  :data:`REGROWTH_DAYS`;
* deciduous woods, hedges, parks and gardens: leafless from November to
  March, leafing out in April and May, browning in October;
* urban land and water: the same all year (a little algae in summer).

So on one summer date most crops are as green as the meadows, while over the
year bare spring soil and summer harvests set them apart.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..noise import seeded_rng
from .kinds import KIND
from .region import DATES

__all__ = [
    'BACKGROUND_SPECTRUM',
    'CROPS',
    'CROP_SHARES',
    'ENDMEMBERS',
    'ENDMEMBER_NAMES',
    'MOWING',
    'PHENOLOGY',
    'PHENOLOGY_FILE',
    'REGROWTH_DAYS',
    'Mowing',
    'SeasonTraits',
    'Traits',
    'draw_season_traits',
    'draw_traits',
    'meadow_green',
    'mixed_spectra',
    'polygon_spectra',
    'season_fractions',
]

#: Endmember spectra (reflectance x 10000) for B01 B02 B03 B04 B05 B06 B07 B08
#: B8A B11 B12, typical Sentinel-2 L2A values of each surface.
ENDMEMBERS: dict[str, tuple[float, ...]] = {
    'crop': (250, 300, 600, 300, 1000, 2900, 3600, 3900, 4000, 2100, 1000),
    'grass': (300, 360, 720, 420, 1150, 2550, 3050, 3350, 3450, 2250, 1200),
    'dry': (700, 800, 1050, 1250, 1550, 1850, 2050, 2200, 2300, 3300, 2600),
    'soil': (900, 1000, 1300, 1650, 1850, 2000, 2150, 2250, 2350, 3000, 2550),
    'forest': (220, 250, 480, 230, 800, 2400, 3000, 3300, 3400, 1600, 700),
    'bare_trees': (450, 480, 620, 650, 850, 1150, 1350, 1450, 1550, 1900, 1300),
    'conifer': (200, 230, 380, 220, 600, 1400, 1700, 1850, 1950, 950, 450),
    'turbid': (750, 700, 800, 650, 520, 330, 280, 240, 220, 120, 90),
    'clear': (500, 430, 480, 300, 240, 190, 170, 140, 130, 70, 50),
    'urban': (1150, 1200, 1300, 1400, 1550, 1700, 1800, 1900, 1950, 2200, 2000),
    'asphalt': (800, 750, 800, 850, 900, 950, 1000, 1050, 1080, 1300, 1200),
    'roof': (2200, 2300, 2450, 2600, 2700, 2800, 2900, 3000, 3050, 3200, 3000),
    'sand': (1500, 1750, 2150, 2550, 2800, 3000, 3150, 3250, 3350, 3900, 3300),
    'mud': (650, 700, 850, 950, 1050, 1150, 1200, 1250, 1250, 1000, 700),
    'heath': (280, 320, 480, 450, 780, 1450, 1750, 1950, 2050, 1950, 1250),
    'reed': (320, 380, 650, 500, 1000, 2200, 2650, 2850, 2950, 2150, 1200),
}
#: The endmembers' names, in the columns of :func:`season_fractions`.
ENDMEMBER_NAMES: tuple[str, ...] = tuple(ENDMEMBERS)
_ENDMEMBER_NAMES = ENDMEMBER_NAMES
_E = {name: i for i, name in enumerate(_ENDMEMBER_NAMES)}
_EM = np.array([ENDMEMBERS[n] for n in _ENDMEMBER_NAMES], dtype=np.float64)

#: The crops of arable fields; 'ley' is grass sown on arable land for a year or
#: two, spectrally grassland.
CROPS = ('winter_cereal', 'maize', 'potato', 'beet', 'vegetable', 'ley')
#: The share of fields that grow each crop.
CROP_SHARES = (0.27, 0.27, 0.12, 0.08, 0.12, 0.14)
#: The file under ``torchgeo_bvm/data`` that holds :data:`PHENOLOGY`: one row a
#: node, columns ``crop``, ``day`` (day of year), ``green`` (green cover, 0..1)
#: and ``residue`` (harvest residue, 0..1), each crop's nodes by day.
PHENOLOGY_FILE = 'mini_flanders_phenology.csv'


def _read_phenology() -> dict[str, tuple[tuple[float, float, float], ...]]:
    nodes: dict[str, list[tuple[float, float, float]]] = {}
    with (resources.files('torchgeo_bvm') / 'data' / PHENOLOGY_FILE).open() as f:
        for row in csv.DictReader(f):
            node = (float(row['day']), float(row['green']), float(row['residue']))
            nodes.setdefault(row['crop'], []).append(node)
    return {crop: tuple(crop_nodes) for crop, crop_nodes in nodes.items()}


#: Green cover and residue of each crop by day of year: (day, green, residue)
#: nodes, linearly interpolated; read from :data:`PHENOLOGY_FILE`.
PHENOLOGY = _read_phenology()


def _interp_phenology(crop: str, doy: NDArray[np.float64]) -> tuple[Any, Any]:
    nodes = np.array(PHENOLOGY[crop], dtype=np.float64)
    return np.interp(doy, nodes[:, 0], nodes[:, 1]), np.interp(
        doy, nodes[:, 0], nodes[:, 2]
    )


def _leaf(doy: float) -> float:
    """Leaf cover of deciduous trees (0 leafless .. 1 full) by day of year."""
    return float(np.interp(doy, [95, 140, 285, 320], [0.05, 1.0, 1.0, 0.1]))


@dataclass
class Traits:
    """Per-polygon properties that stay the same on every date.

    Args:
        brightness: a factor on the polygon's spectrum.
        crops: ``(polygons, years)``: the crop of an arable field per year (an
            index into :data:`CROPS`).
        shift: days earlier or later than the average crop.
        green: garden share of urban polygons.
        mix: ``(polygons, 4)``: grass, soil, urban and forest cover of
            unmapped polygons.
        weeds: share of a field or meadow that departs from its crop.
        mowing: how often a meadow is mown.
    """

    brightness: NDArray[np.float64]
    crops: NDArray[np.int64]
    shift: NDArray[np.float64]
    green: NDArray[np.float64]
    mix: NDArray[np.float64]
    weeds: NDArray[np.float64]
    mowing: NDArray[np.float64]


def draw_traits(kinds: NDArray[np.int64], seed: int) -> Traits:
    """Draw the traits of every polygon.

    Args:
        kinds: the kind of each polygon.
        seed: the scene's seed.

    Returns:
        The traits.
    """
    rng = seeded_rng(seed, 6)
    n = len(kinds)
    green = rng.uniform(0.2, 0.5, n)
    green[kinds == KIND['urban_dense']] = rng.uniform(
        0.03, 0.12, int((kinds == KIND['urban_dense']).sum())
    )
    green[kinds == KIND['industry']] = rng.uniform(
        0.0, 0.1, int((kinds == KIND['industry']).sum())
    )
    return Traits(
        brightness=rng.lognormal(0.0, 0.12, n),
        crops=rng.choice(len(CROPS), (n, 2), p=CROP_SHARES).astype(np.int64),
        shift=rng.normal(0.0, 8.0, n),
        green=green,
        mix=rng.dirichlet([1.0, 1.0, 1.0, 1.0], n),
        mowing=rng.uniform(0.0, 0.9, n),
        weeds=rng.uniform(0.0, 0.3, n),
    )


def _fractions(
    kinds: NDArray[np.int64],
    traits: Traits,
    doy: float,
    crop: NDArray[np.int64],
    tide: float,
    rng: np.random.Generator,
    meadow: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Endmember fractions (n, endmembers) of every polygon on one date.

    ``crop`` is each polygon's crop that year; ``meadow`` the green cover of
    meadows before the season's dimming (None: each meadow freshly mown or
    grazed short on the day with a chance set by its mowing trait).
    """
    n = len(kinds)
    fractions = np.zeros((n, len(_ENDMEMBER_NAMES)))
    leaf = _leaf(doy)
    spring = float(np.interp(doy, [60, 130, 280, 330], [0.65, 0.9, 0.9, 0.75]))

    def put(kind: str | Sequence[str], **cover: float | NDArray[np.float64]) -> None:
        rows = np.isin(
            kinds, [KIND[k] for k in ([kind] if isinstance(kind, str) else kind)]
        )
        for name, value in cover.items():
            fractions[rows, _E[name]] += (
                value[rows] if isinstance(value, np.ndarray) else value
            )

    # Arable fields: each its own crop, sown a little earlier or later.
    arable = kinds == KIND['arable']
    for index, name in enumerate(CROPS):
        rows = arable & (crop == index)
        g, residue = _interp_phenology(name, doy + traits.shift[rows])
        fractions[rows, _E['grass' if name == 'ley' else 'crop']] = g
        fractions[rows, _E['dry']] = (1 - g) * residue
        fractions[rows, _E['soil']] = (1 - g) * (1 - residue)
    # Meadows: green all year, but mown or grazed short on some dates.
    if meadow is None:
        mown = rng.random(n) < traits.mowing * (0.5 if 140 < doy < 260 else 0.05)
        meadow = np.where(mown, 0.4, 0.9)
    g = meadow * spring
    put('grass', grass=g, dry=(1 - g) * 0.7, soil=(1 - g) * 0.3)
    # Weeds, patchy emergence, lodging: part of every field and meadow departs
    # from its crop, each field by its own amount and mixture.
    farmed = (kinds == KIND['arable']) | (kinds == KIND['grass'])
    other = rng.dirichlet([1.0, 1.0, 1.0, 1.0], n)
    weeds = np.where(farmed, traits.weeds, 0.0)[:, None]
    fractions *= 1 - weeds
    for column, name in enumerate(('crop', 'grass', 'dry', 'soil')):
        fractions[:, _E[name]] += weeds[:, 0] * other[:, column]
    put(
        'orchard_low',
        grass=0.5,
        forest=0.3 * leaf,
        bare_trees=0.3 * (1 - leaf),
        soil=0.2,
    )
    gardens = traits.green
    put(
        ['urban', 'urban_dense'],
        urban=1 - gardens,
        grass=gardens * 0.6 * spring,
        soil=gardens * 0.6 * (1 - spring),
        forest=gardens * 0.4 * leaf,
        bare_trees=gardens * 0.4 * (1 - leaf),
    )
    put(
        'industry', roof=0.6 * (1 - gardens), asphalt=0.4 * (1 - gardens), grass=gardens
    )
    put(
        'park',
        grass=0.55 * spring,
        dry=0.55 * (1 - spring),
        forest=0.4 * leaf,
        bare_trees=0.4 * (1 - leaf),
        urban=0.05,
    )
    put('road', asphalt=0.85, grass=0.15)
    put('rail', urban=0.5, asphalt=0.3, dry=0.2)
    autumn = 0.2 if doy > 270 else 0.0
    put(
        ['wood', 'poplar', 'hedge'],
        forest=leaf * (1 - autumn),
        dry=leaf * autumn,
        bare_trees=1 - leaf,
    )
    # Young scrub: deciduous shrubs (birch, blackthorn) over the old grass.
    put(
        'scrub',
        forest=0.6 * leaf * (1 - autumn),
        dry=0.6 * leaf * autumn + 0.4 * (1 - spring),
        bare_trees=0.6 * (1 - leaf),
        grass=0.4 * spring,
    )
    put('orchard', grass=0.55, forest=0.45 * leaf, bare_trees=0.45 * (1 - leaf))
    put('conifer', conifer=0.85, grass=0.15)
    put('heath', heath=0.8, dry=0.1, grass=0.1)
    reed = float(np.interp(doy, [90, 160, 250, 300], [0.15, 0.85, 0.9, 0.4]))
    put('marsh', reed=reed, dry=1 - reed)
    put('pioneer', sand=0.5, soil=0.25, grass=0.25 * spring)
    summer = 0.04 if 150 < doy < 250 else 0.0  # algae
    put(['river', 'canal'], turbid=1 - summer, crop=summer)
    put('lake', clear=0.85 - summer, turbid=0.15, crop=summer)
    put(
        'stream', clear=0.45, grass=0.35, forest=0.2 * leaf, bare_trees=0.2 * (1 - leaf)
    )
    put('mudflat', mud=1 - tide, turbid=tide)
    put('saltmarsh', reed=0.5 * spring, dry=0.5 * (1 - spring), grass=0.2, mud=0.3)
    put('dune', sand=0.55, grass=0.25, dry=0.2)
    put('verge', grass=0.6 * spring, dry=0.4 + 0.6 * (1 - spring))
    put('pond', clear=0.6, grass=0.4)
    put('dyke', grass=0.8, dry=0.2)
    rows = kinds == KIND['unmapped']
    for column, name in enumerate(('grass', 'soil', 'urban', 'forest')):
        fractions[rows, _E[name]] += traits.mix[rows, column]
    total = fractions.sum(axis=1, keepdims=True)
    result: NDArray[np.float64] = fractions / np.where(total > 0, total, 1.0)
    return result


#: The spectrum of pixels no polygon covers: grass.
BACKGROUND_SPECTRUM = ENDMEMBERS['grass']


def polygon_spectra(
    kinds: NDArray[np.int64],
    traits: Traits,
    date_index: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """The reflectance of every polygon on one of :data:`DATES`.

    Args:
        kinds: the kind of each polygon.
        traits: their traits (:func:`draw_traits`).
        date_index: the date's index in :data:`DATES`.
        rng: the date's generator; draws for mowing, weeds and brightness.

    Returns:
        Reflectance x 10000 ``(polygons, bands)`` in the band order of the
        endmembers.
    """
    sensing, _ = DATES[date_index]
    stamp = pd.Timestamp(sensing)
    tide = (0.2, 0.65, 0.4, 0.1)[date_index % 4]
    crop = traits.crops[:, stamp.year - 2020]
    fractions = _fractions(kinds, traits, float(stamp.dayofyear), crop, tide, rng)
    return mixed_spectra(fractions, traits, rng)


def mixed_spectra(
    fractions: NDArray[np.float64], traits: Traits, rng: np.random.Generator
) -> NDArray[np.float64]:
    """The reflectance of polygons from their endmember fractions on a day.

    Each polygon is seen in its own brightness, varied a little from day to day.

    Args:
        fractions: endmember fractions ``(polygons, endmembers)``, e.g. of
            :func:`season_fractions`.
        traits: the polygons' traits (:func:`draw_traits`).
        rng: the date's generator; draws the brightness of the day.

    Returns:
        Reflectance x 10000 ``(polygons, bands)`` in the band order of the
        endmembers.
    """
    brightness = traits.brightness * rng.lognormal(0, 0.03, len(fractions))
    spectra: NDArray[np.float64] = fractions @ _EM * brightness[:, None]
    return spectra


@dataclass(frozen=True)
class Mowing:
    """How meadows are mown in the season.

    Args:
        most_cuts: the most cuts a meadow gets; a meadow's mowing trait (0 to
            0.9) scaled to 0 to ``most_cuts``, so some are only grazed.
        first: the range the first cut's day of year is drawn from.
        interval: the range the days between cuts are drawn from.
        last: the last day of year a cut can fall on.
    """

    most_cuts: int = 4
    first: tuple[float, float] = (125.0, 150.0)
    interval: tuple[float, float] = (35.0, 50.0)
    last: float = 290.0


#: The mowing of the season's meadows: up to four cuts from May to mid-October.
MOWING = Mowing()
#: Days a mown meadow takes to grow back to full green cover.
REGROWTH_DAYS = 28
_MOWN_GREEN, _FULL_GREEN = 0.4, 0.9


@dataclass
class SeasonTraits:
    """What the polygons do in the season's year.

    Args:
        crops: the crop of each arable field (an index into :data:`CROPS`).
        cuts: ``(polygons, MOWING.most_cuts)``: the days of year a meadow
            is mown, NaN for none (every polygon has a row; only meadows use
            it).
    """

    crops: NDArray[np.int64]
    cuts: NDArray[np.float64]


def draw_season_traits(traits: Traits, seed: int) -> SeasonTraits:
    """Draw the crops and mowing dates of the season's year.

    Args:
        traits: the polygons' traits (their mowing intensity).
        seed: the scene's seed.

    Returns:
        The season's traits.
    """
    rng = seeded_rng(seed, 102)
    n = len(traits.mowing)
    crops = rng.choice(len(CROPS), n, p=CROP_SHARES).astype(np.int64)
    count = np.floor(traits.mowing / 0.9 * (MOWING.most_cuts + 1)).astype(int)
    first = rng.uniform(*MOWING.first, n)
    interval = rng.uniform(*MOWING.interval, n)
    cut = np.arange(MOWING.most_cuts)
    days = first[:, None] + cut[None, :] * interval[:, None]
    kept = (cut[None, :] < count[:, None]) & (days <= MOWING.last)
    return SeasonTraits(crops, np.where(kept, days, np.nan))


def meadow_green(cuts: NDArray[np.float64], doy: float) -> NDArray[np.float64]:
    """The green cover of each meadow on a day of the season.

    Args:
        cuts: the mowing days (:attr:`SeasonTraits.cuts`).
        doy: the day of year.

    Returns:
        0.9, or on a mowing day 0.4, growing back linearly to 0.9 over
        :data:`REGROWTH_DAYS`.
    """
    since = doy - cuts
    since = np.where(since >= 0, since, np.inf)
    latest = np.min(since, axis=1, initial=np.inf)
    regrown = np.minimum(latest / REGROWTH_DAYS, 1.0)
    green: NDArray[np.float64] = _MOWN_GREEN + (_FULL_GREEN - _MOWN_GREEN) * regrown
    return green


def season_fractions(
    kinds: NDArray[np.int64],
    traits: Traits,
    season: SeasonTraits,
    doy: float,
    tide: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """What covers every polygon on a day of the season: endmember fractions.

    The cover of the season (crops' phenology, mowing, leaves, tide, weeds),
    for any sensor that renders it; :func:`mixed_spectra` turns it into
    Sentinel-2 reflectance.

    Args:
        kinds: the kind of each polygon.
        traits: their traits (:func:`draw_traits`).
        season: their traits in the season's year (:func:`draw_season_traits`).
        doy: the day of year.
        tide: how far the tide covers the mudflats (0..1).
        rng: the date's generator; draws the weeds' mixture.

    Returns:
        ``(polygons, endmembers)`` fractions summing to 1, columns in the
        order of :data:`ENDMEMBER_NAMES`.
    """
    meadow = meadow_green(season.cuts, doy)
    return _fractions(kinds, traits, doy, season.crops, tide, rng, meadow)
