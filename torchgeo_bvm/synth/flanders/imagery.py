"""Rasterising mini-Flanders: the class map, and the surface on each date.

The polygons are burnt with the package's scanline rule
(:mod:`torchgeo_bvm.spatial.scanline`: a pixel belongs to a polygon when its centre
lies inside, later polygons over earlier ones, as GDAL burns), the smaller
polygon on top as :class:`~torchgeo_bvm.datasets.bvm.BVMDataset` burns them.
The surface is rendered at 5 m and averaged to 10 m, so pixels on polygon
edges mix, then blurred for the sensor's point spread, textured and noised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.transform import from_origin

from ...classes import IGNORE_INDEX
from ...datasets.bands import ALL_BANDS
from ...sheets.codes import Sheet
from ...spatial.crs import LAMBERT72, UTM31N
from ...spatial.geometry import reproject_geometry
from ...spatial.pixelgrid import Grid
from ...spatial.scanline import burn_polygons, pixel_runs
from ..noise import gaussian_field, seeded_rng
from ..sentinel2 import write_terrascope_product
from .kinds import KIND, KIND_NAMES
from .landscape import World
from .region import DATES, TILE, VERSION
from .spectra import BACKGROUND_SPECTRUM, Traits, polygon_spectra

__all__ = [
    'FINE',
    'PixelMixes',
    'Scene',
    'class_pixels',
    'imagery_grid',
    'polygon_ids',
    'render',
    'surface',
    'texture',
    'write_tile_product',
]

#: The surface is rendered at 10 m / FINE, then averaged: mixed pixels at edges.
FINE = 2

#: Relative brightness texture within polygons of each kind (others 0.04).
_TEXTURE = {
    'arable': 0.05,
    'grass': 0.05,
    'urban': 0.16,
    'urban_dense': 0.2,
    'industry': 0.18,
    'park': 0.1,
    'wood': 0.09,
    'poplar': 0.08,
    'conifer': 0.07,
    'scrub': 0.09,
    'heath': 0.08,
    'marsh': 0.07,
    'pioneer': 0.12,
    'dune': 0.1,
    'mudflat': 0.05,
}


def imagery_grid(region: tuple[float, float, float, float]) -> Grid:
    """The imagery's grid: UTM 31N at 10 m, whole multiples of 60 m.

    It covers the region with a margin of at least 100 m, so that the 20 m
    and 60 m bands tile it exactly.

    Args:
        region: ``(xmin, ymin, xmax, ymax)`` in EPSG:31370.

    Returns:
        The grid.
    """
    to_utm = Transformer.from_crs(LAMBERT72, UTM31N, always_xy=True)
    xmin, ymin, xmax, ymax = to_utm.transform_bounds(*region, densify_pts=21)
    snap = 60.0
    bounds = (
        math.floor((xmin - 100) / snap) * snap,
        math.floor((ymin - 100) / snap) * snap,
        math.ceil((xmax + 100) / snap) * snap,
        math.ceil((ymax + 100) / snap) * snap,
    )
    return Grid.from_bounds(bounds, UTM31N, 10.0)


def class_pixels(
    frame: gpd.GeoDataFrame,
    ids: NDArray[np.uint8],
    region: tuple[float, float, float, float],
) -> NDArray[np.uint8]:
    """The BVM's class map at 10 m over the region.

    Args:
        frame: the BVM layer (EPSG:31370).
        ids: the class id of each polygon.
        region: ``(xmin, ymin, xmax, ymax)`` in EPSG:31370, whole multiples of
            10 m.

    Returns:
        Class ids ``(rows, cols)``, :data:`~torchgeo_bvm.classes.IGNORE_INDEX`
        where no polygon lies.
    """
    geometries = frame.geometry.to_numpy()
    order = np.argsort(-shapely.area(geometries), kind='stable')
    xmin, ymin, xmax, ymax = region
    shape = (round((ymax - ymin) / 10), round((xmax - xmin) / 10))
    transform = from_origin(xmin, ymax, 10.0, 10.0)
    return burn_polygons(geometries[order], ids[order], transform, shape, IGNORE_INDEX)


def polygon_ids(world: World, grid: Grid) -> NDArray[np.int32]:
    """The polygon of each pixel at 10 m / :data:`FINE` over the imagery grid.

    Args:
        world: the land cover.
        grid: the imagery grid (:func:`imagery_grid`).

    Returns:
        Indices into ``world.geometries`` ``(rows * FINE, cols * FINE)``, -1
        where no polygon lies; where polygons overlap, the smaller one's.
    """
    crs = UTM31N if grid.crs is None else grid.crs
    utm = reproject_geometry(world.geometries, LAMBERT72, crs, densify=0)
    order = np.argsort(-shapely.area(utm), kind='stable')
    fine = Grid.from_bounds(grid.bounds, crs, grid.res[0] / FINE)
    shape = fine.shape
    width = shape[1]
    drawn, row, start, stop = pixel_runs(utm[order], fine.transform, shape)
    # The last polygon drawn over a pixel is its polygon: the runs' pixels get
    # the position of their polygon in drawing order, and each pixel the highest.
    count = stop - start
    first = np.repeat(row * width + start, count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    last = np.full(shape[0] * width, -1, dtype=np.int64)
    np.maximum.at(last, first + within, np.repeat(drawn, count))
    ids = np.where(last >= 0, order[last], -1).astype(np.int32)
    return ids.reshape(shape)


def texture(grid: Grid, seed: int) -> NDArray[np.float64]:
    """Brightness texture within polygons: smooth grain plus pixel noise.

    Args:
        grid: the imagery grid.
        seed: the scene's seed.

    Returns:
        A field ``(rows, cols)`` of mean about 0 and standard deviation about 1.
    """
    shape = grid.shape
    grain = gaussian_field(shape, seeded_rng(seed, 7), 1.5)
    return 0.7 * grain + 0.3 * seeded_rng(seed, 8).standard_normal(shape)


def _blur(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """A small separable blur standing in for the sensor's point spread."""
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], 'edge')
        before = padded[:-2] if axis == 0 else padded[:, :-2]
        after = padded[2:] if axis == 0 else padded[:, 2:]
        out = 0.6 * out + 0.2 * (before + after)
    result: NDArray[np.float32] = out.astype(np.float32)
    return result


@dataclass(frozen=True)
class PixelMixes:
    """Which polygons each 10 m pixel averages, from its FINE x FINE fine pixels.

    Most pixels lie inside one polygon; the others mix the few polygons of
    their fine pixels. Each mixture is averaged once per date and every pixel
    looks its mixture up: the same numbers as averaging the fine pixels of
    every band, with a fraction of the work.

    Args:
        parts: ``(mixtures, FINE * FINE)``: the polygon of each fine pixel of a
            mixture (-1 for none), row by row as the average adds them up.
            Row ``i`` is the pure mixture of polygon ``i`` and the row after
            the polygons' that of no polygon; the mixed pixels' own follow.
        mixture: ``(rows, cols)``: each pixel's row of ``parts``.
        first: ``(rows, cols)``: the polygon of each pixel's top-left fine pixel.
    """

    parts: NDArray[np.int32]
    mixture: NDArray[np.int64]
    first: NDArray[np.int32]

    @classmethod
    def of(cls, ids: NDArray[np.int32], polygons: int) -> PixelMixes:
        """The mixtures of a scene.

        Args:
            ids: the polygon of each fine pixel (:func:`polygon_ids`).
            polygons: how many polygons the scene has.

        Returns:
            The mixtures.
        """
        corners = np.stack(
            [ids[dr::FINE, dc::FINE] for dr in range(FINE) for dc in range(FINE)],
            axis=-1,
        )
        first = np.ascontiguousarray(corners[..., 0])
        mixed = (corners != first[..., None]).any(axis=-1)
        pure = np.repeat(np.arange(polygons + 1, dtype=np.int32), FINE * FINE)
        pure[-FINE * FINE :] = -1
        parts = np.concatenate([pure.reshape(-1, FINE * FINE), corners[mixed]])
        mixture = np.where(first >= 0, first, polygons).astype(np.int64)
        mixture[mixed] = polygons + 1 + np.arange(int(mixed.sum()))
        return cls(parts.astype(np.int32), mixture, first)


@dataclass(frozen=True)
class Scene:
    """The ground of mini-Flanders that a season's dates are rendered from.

    Args:
        world: the land cover.
        mixes: the polygons of each pixel (:class:`PixelMixes`).
        traits: the polygons' traits.
        grain: the texture (:func:`texture`).
        grid: the imagery grid (:func:`imagery_grid`).
        sheets: the ``kbl4`` sheets the region touches (a season's composites
            are written for them).
        seed: the scene's seed.
    """

    world: World
    mixes: PixelMixes
    traits: Traits
    grain: NDArray[np.float64]
    grid: Grid
    sheets: Sequence[Sheet]
    seed: int


def write_tile_product(
    root: Path,
    sensing: str,
    platform: str,
    grid: Grid,
    reflectance: Mapping[str, NDArray[Any]],
    scl: NDArray[Any],
    seed: int,
) -> Path:
    """Write a Terrascope product of mini-Flanders' tile on the imagery grid.

    Args:
        root: the archive's folder (the product goes to its ``TOC_V2/``).
        sensing: the sensing time (UTC).
        platform: ``S2A`` or ``S2B``.
        grid: the imagery grid (the product's bounds).
        reflectance: band name -> int16 array (see
            :func:`~torchgeo_bvm.synth.sentinel2.write_terrascope_product`).
        scl: the SCL classes.
        seed: the seed of what the product holds beyond its bands.

    Returns:
        The product's folder.
    """
    return write_terrascope_product(
        root,
        sensing=sensing,
        tile=TILE,
        platform=platform,
        version=VERSION,
        bounds=grid.bounds,
        crs=UTM31N,
        reflectance=reflectance,
        scl=scl,
        seed=seed,
    )


def surface(
    world: World,
    mixes: PixelMixes,
    traits: Traits,
    grain: NDArray[np.float64],
    date_index: int,
    seed: int,
) -> NDArray[np.float32]:
    """Surface reflectance at 10 m on one of the single dates, before the weather.

    Each polygon shows what lies on the ground in the date's year
    (:meth:`~torchgeo_bvm.synth.flanders.landscape.World.kinds_in`).

    Args:
        world: the land cover.
        mixes: the polygons of each pixel (:class:`PixelMixes`).
        traits: the polygons' traits.
        grain: the texture (:func:`texture`).
        date_index: the date's index in
            :data:`~torchgeo_bvm.synth.flanders.region.DATES`.
        seed: the scene's seed.

    Returns:
        Reflectance x 10000 ``(bands, rows, cols)`` in the order of
        :data:`~torchgeo_bvm.datasets.bands.ALL_BANDS`.
    """
    rng = seeded_rng(seed, 20 + date_index)
    kinds = world.kinds_in(int(DATES[date_index][0][:4]))
    spectra = polygon_spectra(kinds, traits, date_index, rng)
    rows, cols = mixes.mixture.shape
    noise = rng.normal(0.0, 25.0, (len(ALL_BANDS), rows, cols))
    return render(kinds, mixes, spectra, grain, noise)


def render(
    kinds: NDArray[np.int64],
    mixes: PixelMixes,
    spectra: NDArray[np.float64],
    grain: NDArray[np.float64],
    noise: NDArray[np.floating[Any]],
    background: Sequence[float] = BACKGROUND_SPECTRUM,
) -> NDArray[np.float32]:
    """Surface reflectance at 10 m from the spectra of the polygons.

    Any per-polygon quantity that mixes linearly renders the same way (radar
    backscatter in linear power, say).

    Args:
        kinds: the kind of each polygon.
        mixes: the polygons of each pixel (:class:`PixelMixes`).
        spectra: reflectance x 10000 ``(polygons, bands)`` on the day.
        grain: the texture (:func:`texture`).
        noise: the pixel noise of the date ``(bands, rows, cols)``, added last.
        background: the values of pixels no polygon covers, one per band.

    Returns:
        Reflectance x 10000 ``(bands, rows, cols)`` in the order of
        :data:`~torchgeo_bvm.datasets.bands.ALL_BANDS`.
    """
    table = np.vstack([spectra, background]).astype(np.float32)  # id -1
    values = table[mixes.parts]
    total = np.zeros((len(values), table.shape[1]), dtype=np.float32)
    for part in range(FINE * FINE):
        total += values[:, part]
    average = (total / (FINE * FINE)).astype(np.float32)
    rows, cols = mixes.mixture.shape
    image = np.empty((table.shape[1], rows, cols), dtype=np.float32)
    for band in range(table.shape[1]):
        image[band] = _blur(average[:, band][mixes.mixture])
    kind10 = np.append(kinds, KIND['grass'])[mixes.first]
    amplitude = np.full(len(KIND_NAMES), 0.04)
    for name, value in _TEXTURE.items():
        amplitude[KIND[name]] = value
    image *= (1 + amplitude[kind10] * grain).astype(np.float32)[None]
    image += np.asarray(noise, dtype=np.float32)
    return image
