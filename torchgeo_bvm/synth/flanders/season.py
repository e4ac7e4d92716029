"""The season: a year of acquisitions over mini-Flanders and its monthly composites.

``write_mini_flanders(..., season=True)`` (``torchgeo-bvm synth --season``)
adds to the folder, on the same imagery grid as the single dates (UTM 31N,
EPSG:32631, 10 m, the bounds in the manifest's ``imagery.bounds``), so the
labels rasterised for them fit every date:

* ``season/TOC_V2/2022/MM/DD/<product>/``: 36 Terrascope TOC products of tile
  31UES (:func:`~torchgeo_bvm.synth.sentinel2.write_terrascope_product`: 11
  band files at 10, 20 and 60 m, the 20 m SCL, quality layers, quicklook and
  ``.xml``), product ids like ``S2A_20220105T104619_31UES_TOC_V210``;
* ``season/openeo/<sheet>/<sheet>_openEO_2022-MM_median.tif``: 12 monthly
  median composites for each ``kbl4`` sheet the region touches (``22_1-2``,
  ``22_3-4``, ``22_5-6``, ``22_7-8``: 48 files), in the layout and format of
  ``torchgeo-bvm download --composite monthly --crs native``
  (:mod:`~torchgeo_bvm.synth.flanders.composites`: 11 int16 bands named
  ``B01`` ... ``B12``, no SCL, nodata -32768, UTM 31N at 10 m).

The manifest's ``season`` entry lists every product (date, sensing time,
platform, path, the clear share its sky was drawn with) and every composite
(sheet, month, path).

**Dates** (:data:`~torchgeo_bvm.synth.flanders.region.SEASON_DATES`): the
relative orbit of the single date 2021-06-14 is flown every 5 days by
Sentinel-2A and -2B in turn; of each month of 2022 the passes nearest the
5th, 15th and 25th are kept: three dates a month, 10 days apart (15 once,
between 23 August and 7 September), 24 by S2A then 12 by S2B, all at
10:46:19 UTC. Keeping a third of the passes keeps the files and time small
while every month still has a median of up to three observations.

**Cloudiness** (:mod:`~torchgeo_bvm.synth.flanders.weather`): each month's
mean clear share is :data:`~torchgeo_bvm.synth.flanders.weather.MONTHLY_CLEAR`
(0.20 in December to 0.44 in August, from Uccle's relative sunshine
duration); October to March each have one overcast date (no clear pixel) and
two dates clear over ``c`` and ``2c`` of the scene, April to September
``0.2c``, ``0.8c`` and ``2c``. The clouds (fractal, with shadows to the
north-west and, on about a quarter of the partly cloudy dates, cirrus) are
drawn on the 20 m grid so the stored SCL marks them exactly (classes 3, 8, 9
and 10 over the ground's 2, 4, 5, 6 and 7); the swath covers the whole
region (no SCL 0). A month's pixels that no date saw clear are nodata in its
composite.

**Phenology** (:mod:`~torchgeo_bvm.synth.flanders.spectra`): each arable field
grows one crop in 2022 (bare soil in winter and spring for maize, potato and
beet, a green summer, harvest residue after; winter cereal green in spring
and stubble from July), each meadow is green all year and mown on its own
dates (0 to 4 cuts, May to October, each a drop in green cover and a
regrowth over four weeks), deciduous trees leaf out in spring and drop their
leaves in autumn, urban land and water stay alike. Each date has its own draw
of every polygon's brightness, weeds and the tide over the mudflats.

Same seed and size, same bytes; the season draws from its own random streams,
so it leaves every file of the single dates as it is without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...crs import UTM31N
from ...datasets.bands import ALL_BANDS
from ...download.graph import VALID_SCL
from ...pixelgrid import Grid
from ...sheets import Sheet
from ..noise import seeded_rng
from ..sentinel2 import native_layers, write_terrascope_product
from .composites import (
    COMPOSITE_NODATA,
    MonthStack,
    sheet_windows,
    write_sheet_composites,
)
from .imagery import PixelMixes, render
from .kinds import KIND
from .landscape import World
from .overview import plot_season
from .region import SEASON_DATES, SEASON_YEAR, TILE, VERSION
from .spectra import Traits, draw_season_traits, season_spectra
from .weather import MONTHLY_CLEAR, season_skies, season_weather

__all__ = ['COMPOSITES_ROOT', 'PRODUCTS_ROOT', 'SEASON_FOLDER', 'write_season']

#: The season's folder in a mini-Flanders folder.
SEASON_FOLDER = 'season'
#: Where its products and composites lie, relative to the mini-Flanders folder.
PRODUCTS_ROOT = f'{SEASON_FOLDER}/TOC_V2'
COMPOSITES_ROOT = f'{SEASON_FOLDER}/openeo'
#: Highest tide over the mudflats on a date of the season.
_HIGHEST_TIDE = 0.7
#: Standard deviation of the pixel noise, in digital numbers (as the single
#: dates'): one field, shifted by a random offset on each date.
_NOISE = 25.0


def write_season(
    out: Path,
    world: World,
    mixes: PixelMixes,
    traits: Traits,
    grain: NDArray[np.float64],
    grid: Grid,
    sheets: Sequence[Sheet],
    seed: int,
    *,
    plot: bool = False,
    on_date: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Write the season's products and monthly composites (see the module).

    Args:
        out: the mini-Flanders folder.
        world: the land cover.
        mixes: the polygons of each pixel.
        traits: the polygons' traits.
        grain: the texture.
        grid: the imagery grid.
        sheets: the ``kbl4`` sheets to write composites for.
        seed: the scene's seed.
        plot: also write ``season/overview.png``
            (:func:`~torchgeo_bvm.synth.flanders.overview.plot_season`).
        on_date: called after each date is written.

    Returns:
        The manifest's ``season`` entry, paths relative to ``out``.
    """
    season = draw_season_traits(traits, seed)
    stamps = [datetime.fromisoformat(sensing) for sensing, _ in SEASON_DATES]
    skies = season_skies([stamp.month for stamp in stamps], seed)
    windows = sheet_windows(grid, sheets)
    noise = _NOISE * seeded_rng(seed, 104).standard_normal(
        (len(ALL_BANDS), *grid.shape), dtype=np.float32
    )
    products, composites = [], []
    stack = MonthStack()
    farmed = _farmed_pixels(world, mixes)
    pictures: list[NDArray[np.float64]] = []
    profiles: dict[str, list[NDArray[np.float64]]] = {label: [] for label in farmed}
    for index, ((sensing, platform), stamp) in enumerate(
        zip(SEASON_DATES, stamps, strict=True)
    ):
        rng = seeded_rng(seed, 100, index)
        doy = float(stamp.timetuple().tm_yday)
        tide = rng.uniform(0, _HIGHEST_TIDE)
        spectra = season_spectra(world.kinds, traits, season, doy, tide, rng)
        shift = (int(rng.integers(grid.shape[0])), int(rng.integers(grid.shape[1])))
        image = render(
            world.kinds, mixes, spectra, grain, np.roll(noise, shift, axis=(1, 2))
        )
        reflectance, scl = season_weather(
            image, skies[index], seeded_rng(seed, 101, index)
        )
        bands, scl20 = native_layers(
            {band: reflectance[i] for i, band in enumerate(ALL_BANDS)}, scl, grid.shape
        )
        folder = write_terrascope_product(
            out / SEASON_FOLDER,
            sensing=sensing,
            tile=TILE,
            platform=platform,
            version=VERSION,
            bounds=grid.bounds,
            crs=UTM31N,
            reflectance=bands,
            scl=scl20,
            seed=seed * 100 + 10 + index,
        )
        products.append(
            {
                'date': sensing[:10],
                'sensing': sensing,
                'platform': platform,
                'path': folder.relative_to(out).as_posix(),
                'clear': skies[index].clear,
            }
        )
        stack.add(bands, scl20)
        last_of_month = (
            index + 1 == len(stamps) or stamps[index + 1].month != stamp.month
        )
        if last_of_month:
            month = f'{stamp:%Y-%m}'
            composite = stack.composite()
            paths = write_sheet_composites(
                out / COMPOSITES_ROOT, month, composite, grid, windows
            )
            pictures.append(_false_colour(composite))
            for label, pixels in farmed.items():
                profiles[label].append(_ndvi_percentiles(composite, pixels))
            composites += [
                {
                    'sheet': sheet.code,
                    'month': month,
                    'path': path.relative_to(out).as_posix(),
                }
                for (sheet, *_), path in zip(windows, paths, strict=True)
            ]
            stack = MonthStack()
        if on_date is not None:
            on_date()
    overview = None
    if plot:
        overview = out / SEASON_FOLDER / 'overview.png'
        plot_season(
            overview,
            [c['month'] for c in composites[:: max(1, len(windows))]],
            pictures,
            {label: np.stack(rows) for label, rows in profiles.items()},
        )
    return {
        'year': SEASON_YEAR,
        'overview': None if overview is None else overview.relative_to(out).as_posix(),
        'products_root': PRODUCTS_ROOT,
        'composites_root': COMPOSITES_ROOT,
        'monthly_clear': list(MONTHLY_CLEAR),
        'dates': [p['date'] for p in products],
        'products': products,
        'composite': {
            'reducer': 'median',
            'valid_scl': list(VALID_SCL),
            'bands': list(ALL_BANDS),
            'crs': 'EPSG:32631',
            'nodata': COMPOSITE_NODATA,
        },
        'composites': composites,
    }


#: The land covers whose NDVI the season's overview follows: pixels wholly in
#: one polygon of the kind.
_FOLLOWED = {
    'arable fields (Cultivated land)': 'arable',
    'meadows (Grasslands)': 'grass',
}
#: Largest side of the overview's pictures, in pixels.
_PICTURE = 400


def _farmed_pixels(world: World, mixes: PixelMixes) -> dict[str, NDArray[np.bool_]]:
    polygons = len(world.kinds)
    whole = mixes.mixture < polygons
    kind = np.where(whole, world.kinds[np.where(whole, mixes.first, 0)], -1)
    return {label: kind == KIND[name] for label, name in _FOLLOWED.items()}


def _ndvi(composite: dict[str, NDArray[np.int16]]) -> NDArray[np.float64]:
    red, nir = composite['B04'].astype(np.float64), composite['B08'].astype(np.float64)
    seen = (composite['B04'] != COMPOSITE_NODATA) & (
        composite['B08'] != COMPOSITE_NODATA
    )
    ndvi: NDArray[np.float64] = np.where(
        seen, (nir - red) / np.maximum(nir + red, 1.0), np.nan
    )
    return ndvi


def _ndvi_percentiles(
    composite: dict[str, NDArray[np.int16]], pixels: NDArray[np.bool_]
) -> NDArray[np.float64]:
    values = _ndvi(composite)[pixels]
    values = values[np.isfinite(values)]
    if not len(values):
        return np.full(3, np.nan)
    result: NDArray[np.float64] = np.percentile(values, [10, 50, 90])
    return result


def _false_colour(composite: dict[str, NDArray[np.int16]]) -> NDArray[np.float64]:
    step = max(1, -(-max(composite['B08'].shape) // _PICTURE))
    layers = []
    for band, top in (('B08', 4500.0), ('B04', 2000.0), ('B03', 2000.0)):
        values = composite[band][::step, ::step].astype(np.float64)
        layers.append(
            np.where(values == COMPOSITE_NODATA, np.nan, np.clip(values / top, 0, 1))
        )
    return np.stack(layers, axis=-1)
