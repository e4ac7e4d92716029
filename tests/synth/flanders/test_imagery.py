from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from tests.synth.flanders.reading import TINY
from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.spatial.crs import LAMBERT72, UTM31N
from torchgeo_bvm.spatial.geometry import reproject_geometry
from torchgeo_bvm.synth.flanders.geometry import blob
from torchgeo_bvm.synth.flanders.imagery import (
    FINE,
    PixelMixes,
    class_pixels,
    imagery_grid,
    polygon_ids,
    render,
)
from torchgeo_bvm.synth.flanders.kinds import KIND, KIND_NAMES
from torchgeo_bvm.synth.flanders.landscape import World
from torchgeo_bvm.synth.flanders.spectra import BACKGROUND_SPECTRUM
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA


def test_products_read_through_sentinel2toc(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    dataset = Sentinel2TOC(out)
    assert list(dataset.index['period']) == manifest['dates']
    assert CRS.from_user_input(dataset.crs) == CRS.from_epsg(32631)
    assert dataset.res == (10.0, 10.0)
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    assert (dataset.bounds[0].start, dataset.bounds[0].stop) == (xmin, xmax)
    assert (dataset.bounds[1].start, dataset.bounds[1].stop) == (ymin, ymax)
    product = out / manifest['imagery']['products'][0]['path']
    assert product.name == 'S2A_20200418T105031_31UES_TOC_V210'
    for band, metres in (('B02', 10), ('B05', 20), ('B01', 60)):
        with rasterio.open(
            product / f'S2A_20200418T105031_31UES_TOC-{band}_{metres}M_V210.tif'
        ) as src:
            assert src.dtypes[0] == 'int16'
            assert src.nodata == TERRASCOPE_NODATA
            assert src.res == (metres, metres)


def _world(geometries: list[BaseGeometry]) -> World:
    return World(
        np.asarray(geometries, dtype=object),
        np.zeros(len(geometries), dtype=np.int64),
        box(0, 0, 1, 1),
    )


def _smallest_containing(
    geometries: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Per point, the smallest geometry whose interior holds it (-1: none)."""
    owner = np.full(x.shape, -1)
    for index in np.argsort(-shapely.area(geometries), kind='stable'):
        owner[shapely.contains_xy(geometries[index], x, y)] = index
    return owner


def test_imagery_grid_tiles_the_region_in_60_m_blocks() -> None:
    grid = imagery_grid(TINY.bounds)
    assert grid.crs == CRS.from_epsg(32631)
    assert grid.res == (10.0, 10.0)
    assert all(edge % 60 == 0 for edge in grid.bounds)
    assert (grid.height, grid.width) == (
        round((grid.bounds[3] - grid.bounds[1]) / 10),
        round((grid.bounds[2] - grid.bounds[0]) / 10),
    )
    region = reproject_geometry(box(*TINY.bounds), LAMBERT72, UTM31N)
    assert box(*grid.bounds).contains(region.buffer(100))
    assert not box(*grid.bounds).contains(region.buffer(220))


def test_polygon_ids_burn_pixel_centres_smaller_polygons_on_top() -> None:
    grid = imagery_grid(TINY.bounds)
    x0, y0 = 113_000.0, 188_000.0
    rng = np.random.default_rng(0)
    geometries = [
        box(x0, y0, x0 + 600, y0 + 400),
        box(x0 + 100, y0 + 100, x0 + 300, y0 + 250),  # inside the first
        *(
            blob((x0 + dx, y0 + dy), 70.0, rng)
            for dx, dy in rng.uniform(0, 600, (6, 2))
        ),
    ]
    ids = polygon_ids(_world(geometries), grid)
    assert ids.shape == (grid.height * FINE, grid.width * FINE)
    assert ids.dtype == np.int32
    # Independently: every 5 m pixel centre, projected back to Lambert 72,
    # in the smallest polygon that holds it.
    rows, cols = np.mgrid[0 : ids.shape[0], 0 : ids.shape[1]]
    x = grid.bounds[0] + (cols + 0.5) * 10 / FINE
    y = grid.bounds[3] - (rows + 0.5) * 10 / FINE
    to_utm = Transformer.from_crs(31370, 32631, always_xy=True)
    utm = shapely.transform(
        np.asarray(geometries, dtype=object),
        lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])),
    )
    expected = _smallest_containing(utm, x, y)
    assert np.array_equal(ids, expected)
    assert set(np.unique(ids)) == {-1, *range(len(geometries))}


def test_class_pixels_put_the_smaller_polygon_on_top() -> None:
    xmin, ymin, _, _ = TINY.bounds
    geometries = [
        box(xmin - 50, ymin + 100, xmin + 1000, ymin + 800),
        box(xmin + 200, ymin + 200, xmin + 400, ymin + 400),
        # Edges on pixel boundaries, never on centres: no tie to break.
        box(xmin + 1000, ymin + 800, xmin + 1200, ymin + 1000),
    ]
    frame = gpd.GeoDataFrame(geometry=geometries, crs=LAMBERT72)
    classes = class_pixels(frame, np.array([3, 7, 11], dtype=np.uint8), TINY.bounds)
    assert classes.shape == TINY.pixels
    assert classes.dtype == np.uint8
    expected = np.full(TINY.pixels, IGNORE_INDEX, dtype=np.uint8)
    expected[-80:-10, :100] = 3
    expected[-40:-20, 20:40] = 7
    expected[-100:-80, 100:120] = 11
    assert np.array_equal(classes, expected)


def test_render_averages_the_fine_pixels_of_every_band() -> None:
    rng = np.random.default_rng(6)
    # Mostly whole blocks of one polygon, some mixed, some of no polygon (-1).
    ids = np.repeat(np.repeat(rng.integers(-1, 5, (12, 18)), 2, 0), 2, 1)
    ids[rng.random(ids.shape) < 0.1] = 3
    ids = ids.astype(np.int32)
    kinds = np.array(
        [KIND['arable'], KIND['grass'], KIND['wood'], KIND['road'], KIND['dyke']]
    )
    spectra = rng.uniform(100, 4000, (5, len(ALL_BANDS)))
    grain = rng.standard_normal((12, 18))
    noise = rng.normal(0, 25, (len(ALL_BANDS), 12, 18))
    mixes = PixelMixes.of(ids, polygons=5)
    image = render(kinds, mixes, spectra, grain, noise)
    # Independently: each band on the fine grid, the mean of every 2 x 2 block
    # summed in float32 in row order, the 0.2 / 0.6 / 0.2 blur along rows then
    # columns (edges repeated), the texture and the noise.
    table = np.vstack([spectra, BACKGROUND_SPECTRUM]).astype(np.float32)
    fine = np.moveaxis(table[ids], -1, 0)
    total = np.zeros((len(ALL_BANDS), 12, 18), dtype=np.float32)
    for dr in (0, 1):
        for dc in (0, 1):
            total += fine[:, dr::2, dc::2]
    expected = total / np.float32(4)
    for axis in (1, 2):
        padded = np.pad(
            expected, [(1, 1) if a == axis else (0, 0) for a in range(3)], 'edge'
        )
        ahead = np.take(padded, range(2, padded.shape[axis]), axis=axis)
        behind = np.take(padded, range(padded.shape[axis] - 2), axis=axis)
        expected = np.float32(0.6) * expected + np.float32(0.2) * (behind + ahead)
    amplitude = np.full(len(KIND_NAMES), 0.04)
    amplitude[KIND['arable']] = amplitude[KIND['grass']] = 0.05
    amplitude[KIND['wood']] = 0.09
    kind10 = np.append(kinds, KIND['grass'])[ids[::2, ::2]]
    expected *= (1 + amplitude[kind10] * grain).astype(np.float32)
    expected += noise.astype(np.float32)
    assert image.dtype == np.float32
    assert np.array_equal(image, expected)
    assert (mixes.mixture < 6).mean() > 0.5  # most pixels are whole
    assert len(mixes.parts) == 6 + int((mixes.mixture >= 6).sum())
