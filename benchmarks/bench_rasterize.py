"""Label windows: GDAL's rasterizer vs our numpy scanline fill.

Rasterises the same random 256 x 256 windows (EPSG:4326, 10 m equivalent) of a
synthetic ``BwkHab`` layer in the real format three ways, over the same polygons
in the same burn order: ``rasterio.features.rasterize`` given the shapely
polygons (the stock way); the same given GeoJSON-like rings built in one
vectorised call (what ``BVMDataset`` did before); and
:func:`torchgeo_bvm.spatial.scanline.burn_polygons` (what it does now). Reports the
median ms per window, the ratios, and how many pixels differ from GDAL's.

Usage::

    .venv/bin/python benchmarks/bench_rasterize.py [--polygons 20000] [--windows 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import geopandas
import numpy as np
import rasterio.features
import shapely
from rasterio.transform import from_origin

from torchgeo_bvm.bvm.polygons import BVMPolygons
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.spatial.scanline import burn_polygons
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab

SIZE = 256


def geojson_rings(geometries: np.ndarray) -> list[dict[str, object]]:
    """Polygons as GeoJSON-like dicts, all coordinates fetched in one call."""
    coordinates = shapely.get_coordinates(geometries).tolist()
    rings = shapely.get_rings(geometries)
    ends = np.cumsum(shapely.get_num_coordinates(rings)).tolist()
    ring_lists = [coordinates[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    shapes, first = [], 0
    for count in (shapely.get_num_interior_rings(geometries) + 1).tolist():
        shapes.append(
            {'type': 'Polygon', 'coordinates': ring_lists[first : first + count]}
        )
        first += count
    return shapes


def _polygons_in_burn_order(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The layer's polygons in EPSG:4326 with their class ids, largest first.

    The order :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons` burns them in (small
    polygons over the large ones that contain them); read with geopandas so
    that the three rasterisers get the same shapely geometries.
    """
    layer = geopandas.read_file(path).to_crs('EPSG:4326')
    classes = BVMPolygons(path).mapping_result.ids
    order = np.argsort(-layer.geometry.area.to_numpy(), kind='stable')
    return layer.geometry.to_numpy()[order], classes[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--polygons', type=int, default=20_000)
    parser.add_argument('--windows', type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    res = resolution_for('EPSG:4326')
    with tempfile.TemporaryDirectory() as folder:
        path = write_bwkhab(
            synthetic_bwkhab(args.polygons, seed=0), Path(folder) / 'BwkHab.shp'
        )
        geometries_all, labels_all = _polygons_in_burn_order(path)
    tree = shapely.STRtree(geometries_all)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geometries_all)
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {'shapely': [], 'geojson': [], 'ours': []}
    differing, counts = 0, []
    while len(times['ours']) < args.windows:
        left = rng.uniform(xmin, xmax - SIZE * res[0])
        top = rng.uniform(ymin + SIZE * res[1], ymax)
        window = shapely.box(left, top - SIZE * res[1], left + SIZE * res[0], top)
        hits = np.sort(tree.query(window))
        if not len(hits):
            continue
        geometries, labels = geometries_all[hits], labels_all[hits]
        transform = from_origin(left, top, *res)
        results = {}
        for name in times:
            start = time.perf_counter()
            if name == 'ours':
                burnt = burn_polygons(geometries, labels, transform, (SIZE, SIZE), 255)
            else:
                shapes = geometries if name == 'shapely' else geojson_rings(geometries)
                burnt = rasterio.features.rasterize(
                    zip(shapes, labels.tolist(), strict=True),
                    out_shape=(SIZE, SIZE),
                    transform=transform,
                    fill=255,
                    dtype=np.uint8,
                )
            times[name].append(1000 * (time.perf_counter() - start))
            results[name] = burnt
        differing += int((results['shapely'] != results['ours']).sum())
        counts.append((len(hits), int(shapely.get_num_coordinates(geometries).sum())))
    polygons_per_window, vertices_per_window = np.median(np.array(counts), axis=0)
    median = {name: float(np.median(values)) for name, values in times.items()}
    print(
        f'{args.windows} windows of {SIZE} x {SIZE} px, median '
        f'{polygons_per_window:.0f} polygons and {vertices_per_window:.0f} vertices'
    )
    print('| rasterizer | median ms per window | speed-up vs stock | vs before |')
    print('|---|---:|---:|---:|')
    labels_of = {
        'shapely': 'rasterio.features.rasterize, shapely polygons (stock)',
        'geojson': 'rasterio.features.rasterize, GeoJSON rings (before)',
        'ours': 'torchgeo_bvm.spatial.scanline.burn_polygons (now)',
    }
    for name, label in labels_of.items():
        print(
            f'| {label} | {median[name]:.2f} | '
            f'{median["shapely"] / median[name]:.2f}x | '
            f'{median["geojson"] / median[name]:.2f}x |'
        )
    print(f'pixels that differ from GDAL: {differing} of {args.windows * SIZE * SIZE}')


if __name__ == '__main__':
    main()
