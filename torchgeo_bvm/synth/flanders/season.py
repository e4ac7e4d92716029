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
  ``B01`` ... ``B12``, no SCL, nodata -32768, UTM 31N at 10 m);
* ``season/overview.png`` (unless ``plot=False``): the monthly composites and
  the NDVI of arable fields and meadows month by month.

A reader that takes a month's products, reads every band and the SCL onto
the 10 m grid with nearest resampling and follows steps 2 to 4 of
:mod:`~torchgeo_bvm.synth.flanders.composites` gets the composites' values
exactly. The manifest's ``season`` entry lists every product (date, sensing time,
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
duration), times the year's ``sunshine`` (1, the normals, by default;
:data:`~torchgeo_bvm.synth.flanders.weather.DULL_YEAR_SUNSHINE`, 0.56, for a
very cloudy year: every month as dull as Uccle's dullest spring on record);
months below 0.35 (October to March in a normal year, every month in a very
cloudy one) each have one overcast date (no clear pixel) and two dates clear
over ``c`` and ``2c`` of the scene, the others ``0.2c``, ``0.8c`` and ``2c``.
The clouds (fractal, of the single dates' sizes, with shadows to the
north-west and, on about a quarter of the partly cloudy dates, cirrus) are
drawn on the 20 m grid so the stored SCL marks them exactly (classes 3, 8, 9
and 10 over the ground's 2, 4, 5, 6 and 7), and the stored SCL of each date
leaves clear (classes 4 to 7) the share its sky says, to 0.001; the swath
covers the whole region (no SCL 0). A month's pixels that no date saw clear
are nodata in its
composite.

**Phenology** (:mod:`~torchgeo_bvm.synth.flanders.spectra`): each arable field
grows one crop in 2022 (bare soil in winter and spring for maize, potato and
beet, a green summer, harvest residue after; winter cereal green in spring
and stubble from July), each meadow is green all year and mown on its own
dates (0 to 4 cuts, May to October, each a drop in green cover and a
regrowth over four weeks), deciduous trees leaf out in spring and drop their
leaves in autumn, urban land and water stay alike. Each date has its own draw
of every polygon's brightness, weeds and the tide over the mudflats; its pixel
noise (25 digital numbers, as the single dates') is one field shifted by a
random offset on each date, which is several times faster to draw.

Same seed and size, same bytes; the season draws from its own random streams,
so it leaves every file of the single dates as it is without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...datasets.bands import ALL_BANDS
from ...download.graph import VALID_SCL
from ...spatial.pixelgrid import Grid
from ..noise import seeded_rng
from ..sentinel2 import native_layers
from .composites import (
    COMPOSITE_NODATA,
    MonthStack,
    SheetWindow,
    sheet_windows,
    write_sheet_composites,
)
from .imagery import PixelMixes, Scene, render, write_tile_product
from .kinds import KIND
from .landscape import World
from .overview import plot_season
from .region import SEASON_DATES, SEASON_YEAR, month_by_month
from .spectra import (
    SeasonTraits,
    draw_season_traits,
    mixed_spectra,
    season_fractions,
)
from .weather import MONTHLY_CLEAR, Sky, season_skies, season_weather

__all__ = ['COMPOSITES_ROOT', 'PRODUCTS_ROOT', 'SEASON_FOLDER', 'write_season']

#: The season's folder in a mini-Flanders folder.
SEASON_FOLDER = 'season'
#: Where its products and composites lie, relative to the mini-Flanders folder.
PRODUCTS_ROOT = f'{SEASON_FOLDER}/TOC_V2'
COMPOSITES_ROOT = f'{SEASON_FOLDER}/openeo'
#: Highest tide over the mudflats on a date of the season.
_HIGHEST_TIDE = 0.7
#: Land cover -> its pixels (see ``_FOLLOWED``).
Farmed = dict[str, NDArray[np.bool_]]
#: Standard deviation of the pixel noise, in digital numbers (as the single
#: dates'): one field, shifted by a random offset on each date.
_NOISE = 25.0


@dataclass(frozen=True)
class _Season:
    """What every date of the season is rendered from."""

    scene: Scene
    traits: SeasonTraits
    noise: NDArray[np.float32]


def _acquire(
    season: _Season, index: int, stamp: datetime, sky: Sky
) -> tuple[dict[str, NDArray[np.int16]], NDArray[np.uint8]]:
    """One date's bands and SCL, each on its native grid as the product holds it."""
    scene = season.scene
    rng = seeded_rng(scene.seed, 100, index)
    doy = float(stamp.timetuple().tm_yday)
    tide = rng.uniform(0, _HIGHEST_TIDE)
    kinds = scene.world.kinds_in(stamp.year)
    fractions = season_fractions(kinds, scene.traits, season.traits, doy, tide, rng)
    spectra = mixed_spectra(fractions, scene.traits, rng)
    rows, cols = scene.grid.shape
    shift = (int(rng.integers(rows)), int(rng.integers(cols)))
    noise = np.roll(season.noise, shift, axis=(1, 2))
    image = render(kinds, scene.mixes, spectra, scene.grain, noise)
    reflectance, scl = season_weather(image, sky, seeded_rng(scene.seed, 101, index))
    return native_layers(
        {band: reflectance[i] for i, band in enumerate(ALL_BANDS)}, scl, (rows, cols)
    )


class _Months:
    """Gathers the dates month by month and writes each month's composites."""

    def __init__(
        self, out: Path, grid: Grid, windows: Sequence[SheetWindow], farmed: Farmed
    ) -> None:
        self.out, self.grid, self.windows, self.farmed = out, grid, windows, farmed
        self.stack = MonthStack()
        self.entries: list[dict[str, str]] = []
        self.months: list[str] = []
        self.pictures: list[NDArray[np.float64]] = []
        self.profiles: dict[str, list[NDArray[np.float64]]] = {f: [] for f in farmed}

    def add(self, bands: dict[str, NDArray[np.int16]], scl: NDArray[np.uint8]) -> None:
        self.stack.add(bands, scl)

    def close(self, month: str) -> None:
        """Write the month's composites; the next date starts a new month."""
        composite = self.stack.composite()
        paths = write_sheet_composites(
            self.out / COMPOSITES_ROOT, month, composite, self.grid, self.windows
        )
        self.entries += [
            {
                'sheet': sheet.code,
                'month': month,
                'path': path.relative_to(self.out).as_posix(),
            }
            for (sheet, *_), path in zip(self.windows, paths, strict=True)
        ]
        self.months.append(month)
        self.pictures.append(_false_colour(composite))
        for label, pixels in self.farmed.items():
            self.profiles[label].append(_ndvi_percentiles(composite, pixels))
        self.stack = MonthStack()

    def plot(self, path: Path) -> None:
        profiles = {label: np.stack(rows) for label, rows in self.profiles.items()}
        plot_season(path, self.months, self.pictures, profiles)


def write_season(
    out: Path,
    scene: Scene,
    *,
    plot: bool = False,
    on_date: Callable[[], object] | None = None,
    sunshine: float = 1.0,
) -> dict[str, Any]:
    """Write the season's products and monthly composites (see the module).

    Args:
        out: the mini-Flanders folder.
        scene: the ground the dates are rendered from.
        plot: also write ``season/overview.png``
            (:func:`~torchgeo_bvm.synth.flanders.overview.plot_season`).
        on_date: called after each date is written.
        sunshine: the year's sunshine as a share of the normal (every month's
            mean clear share times it; see
            :func:`~torchgeo_bvm.synth.flanders.weather.season_skies`).

    Returns:
        The manifest's ``season`` entry, paths relative to ``out``.
    """
    seed, grid = scene.seed, scene.grid
    noise = _NOISE * seeded_rng(seed, 104).standard_normal(
        (len(ALL_BANDS), *grid.shape), dtype=np.float32
    )
    season = _Season(scene, draw_season_traits(scene.traits, seed), noise)
    stamps = [datetime.fromisoformat(sensing) for sensing, _ in SEASON_DATES]
    skies = season_skies([stamp.month for stamp in stamps], seed, sunshine)
    months = _Months(
        out,
        grid,
        sheet_windows(grid, scene.sheets),
        _farmed_pixels(scene.world, scene.mixes),
    )
    products = []
    for index in month_by_month(stamps, months.close, on_date):
        sensing, platform = SEASON_DATES[index]
        bands, scl = _acquire(season, index, stamps[index], skies[index])
        folder = write_tile_product(
            out / SEASON_FOLDER,
            sensing,
            platform,
            grid,
            bands,
            scl,
            seed * 100 + 10 + index,
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
        months.add(bands, scl)
    overview = out / SEASON_FOLDER / 'overview.png'
    if plot:
        months.plot(overview)
    return {
        'year': SEASON_YEAR,
        'overview': overview.relative_to(out).as_posix() if plot else None,
        'products_root': PRODUCTS_ROOT,
        'composites_root': COMPOSITES_ROOT,
        'monthly_clear': list(MONTHLY_CLEAR),
        'sunshine': sunshine,
        'dates': [p['date'] for p in products],
        'products': products,
        'composite': {
            'reducer': 'median',
            'valid_scl': list(VALID_SCL),
            'bands': list(ALL_BANDS),
            'crs': 'EPSG:32631',
            'nodata': COMPOSITE_NODATA,
        },
        'composites': months.entries,
    }


#: The land covers whose NDVI the season's overview follows: pixels wholly in
#: one polygon of the kind.
_FOLLOWED = {
    'arable fields (Cultivated land)': 'arable',
    'meadows (Grasslands)': 'grass',
}
#: Largest side of the overview's pictures, in pixels.
_PICTURE = 400


def _farmed_pixels(world: World, mixes: PixelMixes) -> Farmed:
    polygons = len(world.kinds)
    whole = mixes.mixture < polygons
    kinds = world.kinds_in(SEASON_YEAR)
    kind = np.where(whole, kinds[np.where(whole, mixes.first, 0)], -1)
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
