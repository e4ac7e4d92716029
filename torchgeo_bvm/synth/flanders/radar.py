"""The radar season: a year of Sentinel-1 over mini-Flanders and its monthly means.

``write_mini_flanders(..., radar=True)`` (``torchgeo-bvm synth --radar``)
adds to the folder, on the imagery grid of the optical dates (UTM 31N,
EPSG:32631, 10 m, the manifest's ``imagery.bounds``), so the labels fit:

* ``radar/CGS_S1_GRD_SIGMA0_L1/2022/MM/DD/<product>/``: the Terrascope sigma0
  products of every pass of 2022 (:data:`RADAR_DATES`: 61 products, VV, VH
  and the incidence angle;
  :func:`~torchgeo_bvm.synth.sentinel1.write_sigma0_product`);
* ``radar/openeo/<sheet>/<sheet>_openEO_S1-ASCENDING_2022-MM_mean.tif``: for
  each ``kbl4`` sheet and month, the mean of the month's ascending passes in
  linear power, as ``torchgeo-bvm download --sensor s1 --composite monthly
  --crs native`` writes them (float32 VV and VH; ascending is the default
  direction of the downloader and the dataset) and as
  :class:`~torchgeo_bvm.datasets.Sentinel1Sigma0` computes them from the
  products (:func:`~torchgeo_bvm.datasets.series.clear_mean`);
* ``radar/overview.png``: the ascending monthly means in false colour and the
  VH course of arable fields, meadows and marshes.

**Passes** (:data:`PASSES`): in 2022 only Sentinel-1A flew (Sentinel-1B
failed in December 2021), every 12 days on each relative orbit. Over Gent:
ascending orbit 161 in the evening (17:32 UTC; VITO's public test product
``S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161`` covers 1.7 to 5.8
degrees east, and Sentinel-1A flew it 6 days before Sentinel-1B) and
descending orbit 110 in the morning (05:58 UTC;
``S1A_IW_GRDH_SIGMA0_DV_20220913T055845_DESCENDING_110``), 12 days apart
each: 30 ascending and 31 descending passes.

**Geometry.** Each direction has its incidence angle across the scene (the
interferometric wide swath spans about 29 to 46 degrees over 250 km: 0.068
degrees per km; the angles at the scene's centre, :data:`PASSES`, are drawn,
not measured): growing eastwards for ascending passes (looking east),
westwards for descending ones. Backscatter falls with the angle
(:data:`~torchgeo_bvm.synth.flanders.backscatter.ANGLE_SLOPE_DB`), and built-up
polygons face the two directions differently.

**Speckle.** Every pass multiplies the rendered backscatter (polygons mixed at
their edges and blurred for the resolution, as the optical dates) by gamma
speckle of :data:`ENL` looks (the GRD high-resolution product's equivalent
number of looks, 4.4), correlated over 2 x 2 pixels (its 20 x 22 m
resolution on a 10 m grid). Clouds do not exist for radar: every pixel of
every pass has data. The products keep 10 bits of each float32 value's
mantissa (0.002 dB at most, far below the speckle), which halves their size
on disk.

Same seed and size, same bytes; the radar draws from its own random streams,
so every other file is the same with or without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from ...datasets.radar import from_db
from ...datasets.series import clear_mean
from ...spatial.crs import UTM31N
from ...spatial.pixelgrid import Grid
from ..noise import seeded_rng
from ..sentinel1 import (
    ARCHIVE_ROOT,
    incidence_angle,
    write_openeo_s1_sheet,
    write_sigma0_product,
)
from .backscatter import (
    ANGLE_SLOPE_DB,
    BACKSCATTER_DB,
    REFERENCE_ANGLE,
    WATER_SLOPE_DB,
    RadarTraits,
    polygon_backscatter,
)
from .composites import SheetWindow, sheet_windows
from .imagery import PixelMixes, Scene, render
from .kinds import KIND
from .landscape import World
from .overview import plot_radar
from .region import SEASON_YEAR, month_by_month
from .spectra import draw_season_traits

__all__ = [
    'COMPOSITES_ROOT',
    'COMPOSITE_ORBIT',
    'DEGREES_PER_KM',
    'ENL',
    'MANTISSA_BITS',
    'PASSES',
    'PRODUCTS_ROOT',
    'RADAR_DATES',
    'RADAR_FOLDER',
    'REPEAT_DAYS',
    'radar_dates',
    'write_radar',
]

#: The radar's folder in a mini-Flanders folder.
RADAR_FOLDER = 'radar'
#: Where its products and composites lie, relative to the mini-Flanders folder.
PRODUCTS_ROOT = f'{RADAR_FOLDER}/{ARCHIVE_ROOT}'
COMPOSITES_ROOT = f'{RADAR_FOLDER}/openeo'
#: Days between two passes of one relative orbit by Sentinel-1A alone.
REPEAT_DAYS = 12
#: Orbit direction -> (relative orbit, a pass of 2022 (UTC), incidence angle
#: at the scene's centre in degrees).
PASSES: dict[str, tuple[int, str, float]] = {
    'ascending': (161, '2022-01-07T17:32:53', 35.2),
    'descending': (110, '2022-01-04T05:58:45', 39.4),
}
#: How the incidence angle grows across the swath (29 to 46 degrees in 250 km).
DEGREES_PER_KM = 0.068
#: Equivalent number of looks of the speckle.
ENL = 4.4
#: The orbit direction of the monthly means.
COMPOSITE_ORBIT = 'ascending'
#: The float32 mantissa bits the products keep (of 23).
MANTISSA_BITS = 10
#: Highest tide over the mudflats on a pass.
_HIGHEST_TIDE = 0.7
_WATER = ('river', 'canal', 'lake', 'pond')


def radar_dates(year: int) -> tuple[tuple[str, str], ...]:
    """Every pass of :data:`PASSES` in a year.

    Args:
        year: the year.

    Returns:
        ``(sensing time UTC, orbit direction)`` in time order.
    """
    dates = []
    for orbit, (_, first, _) in PASSES.items():
        day = datetime.fromisoformat(first)
        while day.year >= year:
            day -= timedelta(days=REPEAT_DAYS)
        while day.year <= year:
            if day.year == year:
                dates.append((day.isoformat(), orbit))
            day += timedelta(days=REPEAT_DAYS)
    return tuple(sorted(dates))


#: The passes of the radar season (:data:`~.region.SEASON_YEAR`).
RADAR_DATES: tuple[tuple[str, str], ...] = radar_dates(SEASON_YEAR)


def _angle_gain(
    world: World, mixes: PixelMixes, angle: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``(2, rows, cols)``: backscatter's factor at each pixel's incidence angle."""
    kind = np.append(world.kinds, KIND['grass'])[mixes.first]
    water = np.isin(kind, [KIND[k] for k in _WATER])
    gains = []
    for band in range(2):
        slope = np.where(water, WATER_SLOPE_DB[band], ANGLE_SLOPE_DB[band])
        gains.append(from_db(slope * (angle - REFERENCE_ANGLE)).astype(np.float32))
    return np.stack(gains)


def _shortened(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """``values`` rounded to :data:`MANTISSA_BITS` bits of mantissa (in place)."""
    drop = 23 - MANTISSA_BITS
    bits = values.view(np.uint32)
    bits += np.uint32(1 << (drop - 1))
    bits &= np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    return values


def _speckle(shape: tuple[int, int], rng: np.random.Generator) -> NDArray[np.float32]:
    """``(2, rows, cols)`` gamma speckle of :data:`ENL` looks, mean 1, over 2 x 2."""
    looks = ENL / 4
    fine = rng.gamma(looks, 1 / looks, (2, shape[0] + 1, shape[1] + 1))
    summed = fine[:, :-1, :-1] + fine[:, 1:, :-1] + fine[:, :-1, 1:] + fine[:, 1:, 1:]
    speckle: NDArray[np.float32] = (summed / 4).astype(np.float32)
    return speckle


class _Months:
    """The ascending passes month by month, and their means per sheet."""

    def __init__(self, out: Path, grid: Grid, windows: Sequence[SheetWindow]) -> None:
        self.out, self.grid, self.windows = out, grid, windows
        self.images: list[NDArray[np.float32]] = []
        self.entries: list[dict[str, str]] = []
        self.pictures: list[NDArray[np.float32]] = []

    def add(self, image: NDArray[np.float32]) -> None:
        self.images.append(image)

    def close(self, month: str) -> None:
        """Write the month's means; the next pass starts a new month."""
        crs = CRS.from_user_input(self.grid.crs)
        orbit = COMPOSITE_ORBIT
        if self.images:
            mean = clear_mean(np.stack(self.images))
            self.pictures.append(mean)
            for sheet, rows, cols in self.windows:
                transform = self.grid.window_transform(cols.start, rows.start)
                bounds = (
                    transform.c,
                    transform.f - (rows.stop - rows.start) * self.grid.yres,
                    transform.c + (cols.stop - cols.start) * self.grid.xres,
                    transform.f,
                )
                path = write_openeo_s1_sheet(
                    self.out / COMPOSITES_ROOT,
                    sheet,
                    orbit,  # type: ignore[arg-type]
                    month,
                    {'VV': mean[0, rows, cols], 'VH': mean[1, rows, cols]},
                    bounds=bounds,
                    crs=crs,
                    composite=True,
                )
                self.entries.append(
                    {
                        'sheet': sheet.code,
                        'orbit': orbit,
                        'month': month,
                        'path': path.relative_to(self.out).as_posix(),
                    }
                )
        self.images = []


def write_radar(
    out: Path,
    scene: Scene,
    *,
    plot: bool = False,
    on_date: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Write the radar season's products and monthly means (see the module).

    Args:
        out: the mini-Flanders folder.
        scene: the ground the passes are rendered from.
        plot: also write ``radar/overview.png``.
        on_date: called after each pass is written.

    Returns:
        The manifest's ``radar`` entry, paths relative to ``out``.
    """
    world, mixes, grid, seed = scene.world, scene.mixes, scene.grid, scene.seed
    season = draw_season_traits(scene.traits, seed)
    radar = RadarTraits.draw(world.kinds, seed)
    rows, cols = grid.shape
    across = DEGREES_PER_KM * cols * grid.xres / 1000
    angles = {
        orbit: incidence_angle((rows, cols), orbit, centre - across / 2, across)  # type: ignore[arg-type]
        for orbit, (_, _, centre) in PASSES.items()
    }
    gains = {orbit: _angle_gain(world, mixes, a) for orbit, a in angles.items()}
    background = from_db(np.array(BACKSCATTER_DB['grass']))
    months = _Months(out, grid, sheet_windows(grid, scene.sheets))
    courses = _Courses(world, mixes)
    products = []
    stamps = [datetime.fromisoformat(sensing) for sensing, _ in RADAR_DATES]
    for index in month_by_month(stamps, months.close, on_date):
        sensing, orbit = RADAR_DATES[index]
        rng = seeded_rng(seed, 120, index)
        doy = float(stamps[index].timetuple().tm_yday)
        values = polygon_backscatter(
            world.kinds,
            scene.traits,
            season,
            radar,
            doy,
            rng.uniform(0, _HIGHEST_TIDE),
            orbit == 'descending',
            rng,
        )
        image = render(
            world.kinds,
            mixes,
            values,
            scene.grain,
            np.zeros((1, 1, 1)),
            tuple(background),
        )
        image *= gains[orbit]
        image *= _speckle((rows, cols), rng)
        image = _shortened(image)
        folder = write_sigma0_product(
            out / RADAR_FOLDER,
            sensing=sensing,
            bounds=grid.bounds,
            vv=image[0],
            vh=image[1],
            angle=angles[orbit],
            platform='S1A',
            orbit=orbit,  # type: ignore[arg-type]
            relative_orbit=PASSES[orbit][0],
            crs=UTM31N,
        )
        products.append(
            {
                'date': sensing[:10],
                'sensing': sensing,
                'orbit': orbit,
                'relative_orbit': PASSES[orbit][0],
                'platform': 'S1A',
                'path': folder.relative_to(out).as_posix(),
            }
        )
        if orbit == COMPOSITE_ORBIT:
            months.add(image)
            courses.add(stamps[index], image)
    overview = out / RADAR_FOLDER / 'overview.png'
    if plot:
        plot_radar(overview, months.pictures, *courses.result())
    return {
        'year': SEASON_YEAR,
        'overview': overview.relative_to(out).as_posix() if plot else None,
        'products_root': PRODUCTS_ROOT,
        'composites_root': COMPOSITES_ROOT,
        'passes': {
            orbit: {'relative_orbit': number, 'centre_incidence': centre}
            for orbit, (number, _, centre) in PASSES.items()
        },
        'dates': [p['date'] for p in products],
        'products': products,
        'composite': {
            'reducer': 'mean',
            'bands': ['VV', 'VH'],
            'crs': 'EPSG:32631',
            'dtype': 'float32',
        },
        'composites': months.entries,
    }


#: The land covers whose VH the overview follows: pixels wholly in one polygon.
_FOLLOWED = {
    'arable fields (Cultivated land)': 'arable',
    'meadows (Grasslands)': 'grass',
    'marshes (Inland marshes)': 'marsh',
}


class _Courses:
    """The median VH (dB) of a few land covers on every ascending pass."""

    def __init__(self, world: World, mixes: PixelMixes) -> None:
        whole = mixes.mixture < len(world.kinds)
        kind = np.where(whole, world.kinds[np.where(whole, mixes.first, 0)], -1)
        self.pixels = {label: kind == KIND[k] for label, k in _FOLLOWED.items()}
        self.days: list[datetime] = []
        self.values: dict[str, list[float]] = {label: [] for label in _FOLLOWED}

    def add(self, day: datetime, image: NDArray[np.float32]) -> None:
        self.days.append(day)
        for label, pixels in self.pixels.items():
            vh = image[1][pixels]
            median = float(np.median(vh)) if vh.size else float('nan')
            self.values[label].append(10 * np.log10(median) if median > 0 else np.nan)

    def result(self) -> tuple[list[datetime], dict[str, list[float]]]:
        return self.days, self.values
