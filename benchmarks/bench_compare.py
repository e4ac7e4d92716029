"""Benchmark: ``torchgeo-bvm compare`` at the real map's size.

Generates (once, cached in ``--workdir``) a synthetic ``BwkHab`` shapefile of
650,000 polygons in the real format (:func:`torchgeo_bvm.synth.bvm.synthetic_bwkhab`:
a tessellation of ~2 ha polygons over ~13,500 km², the size of Flanders) and a
fused map of its whole extent in the contract format
(:mod:`torchgeo_bvm.maps.files`): EPSG:4326 at the 10 m equivalent, cut into
``--tiles`` sheet-like maps on one lattice, each ``<tile>.tif`` (classes: the
polygons' BVM classes burnt smaller-over-larger, 3 % of polygons changed to
another class, 8 % of pixels flipped at random, 255 outside every polygon) with
``<tile>_confidence.tif`` (random 100..250, 255 where the class is 255) and
``<tile>_count.tif``.

Then measures, in one run:

* **ours**: ``torchgeo-bvm compare`` on it, in a child process (wall time and
  peak RSS, the child's ``VmHWM``, with its RSS after the imports), and the
  time of each step of :func:`~torchgeo_bvm.maps.compare.compare_with_bvm`;
* **raw read**: reading every block of every class and confidence raster once
  (the floor of any method that reads the maps);
* **per-polygon masks**: the rasterstats-style approach (for each polygon: read
  the window of its bounds, ``rasterio.features.geometry_mask`` with GDAL's
  pixel-centre rule, count classes and confidence) on a random subset of
  polygons, extrapolated to all; its counts are checked against ours.

Usage:
    .venv/bin/python benchmarks/bench_compare.py [--polygons 650000]
        [--tiles 4 2] [--subset 2000] [--workdir /tmp/bench_compare] [--bvm PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyogrio
import rasterio
import rasterio.features
import shapely
from numpy.typing import NDArray
from rasterio.windows import Window
from steptimes import STEP_TIMER

from torchgeo_bvm.bvm.layer import BVMLayer
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.maps.files import CONFIDENCE_SCALE
from torchgeo_bvm.spatial.crs import DEFAULT_CRS, resolution_for
from torchgeo_bvm.spatial.geometry import repair_polygons, reproject_geometry
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.spatial.scanline import burn_polygons
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab
from torchgeo_bvm.synth.classmap import write_class_map

BLOCK = 2048

_COMPARE_CHILD = """
import json, sys, time, warnings
warnings.simplefilter('ignore')
def high_water_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
from torchgeo_bvm import fileio
from torchgeo_bvm.maps import compare, zonal
from torchgeo_bvm.bvm.layer import BVMLayer
from torchgeo_bvm.cli import main
# Time the steps of compare_with_bvm where it looks them up: the reprojection
# and the tree are steps of zonal_counts (their time is inside its time).
for name in ('find_class_maps', 'check_maps_disjoint', 'repair_polygons',
             'zonal_counts', 'polygon_table', 'class_summary', 'plot_candidates',
             'save_figure', '_output_frame', '_write_geopackage', 'polygon_accuracy'):
    setattr(compare, name, timed(name, getattr(compare, name)))
for name in ('reproject_geometry', 'STRtree'):
    setattr(zonal, name, timed(name, getattr(zonal, name)))
# Every file written is read back whole before it is renamed into place.
fileio.read_back = timed('read_back', fileio.read_back)
compare.BVMLayer = type('TimedLayer', (BVMLayer,), {
    name: timed(name, getattr(BVMLayer, name))
    for name in ('read_labels', 'read_geometries', 'read_columns')
})
before = high_water_mb()
start = time.perf_counter()
status = main(sys.argv[1:])
seconds = time.perf_counter() - start
print(json.dumps({'status': status, 'seconds': seconds, 'peak_mb': high_water_mb(),
                  'baseline_mb': before, 'phases': steps}))
"""


def write_layer(workdir: Path, n: int) -> Path:
    path = workdir / f'bwkhab_{n}' / 'BwkHab.shp'
    if not path.exists():
        start = time.perf_counter()
        write_bwkhab(synthetic_bwkhab(n, seed=0), path)
        print(
            f'  wrote {n} polygons in {time.perf_counter() - start:.0f} s', flush=True
        )
    return path


def write_maps(layer_path: Path, folder: Path, tiles: tuple[int, int]) -> list[Path]:
    """The fused map of the layer's whole extent, as ``tiles`` maps on one lattice."""
    done = folder / 'complete'
    if done.exists():
        return sorted(p for p in folder.glob('tile_*.tif') if p.stem.count('_') == 2)
    start = time.perf_counter()
    layer = BVMLayer.open(layer_path)
    # Not seed 0: synthetic_bwkhab drew the classes from that stream.
    rng = np.random.default_rng(2024)
    labels = layer.read_labels().result.ids.copy()
    changed = rng.random(len(labels)) < 0.03
    shift = rng.integers(1, NUM_CLASSES, int(changed.sum())).astype(np.uint8)
    labels[changed] = (labels[changed] + shift) % NUM_CLASSES
    geometries, _ = repair_polygons(layer.read_geometries())
    projected = reproject_geometry(geometries, layer.info.crs, DEFAULT_CRS, 0.0)
    order = np.argsort(-shapely.area(geometries), kind='stable')
    projected, labels = projected[order], labels[order]
    tree = shapely.STRtree(projected)
    grid = Grid.from_bounds(
        shapely.total_bounds(projected), DEFAULT_CRS, resolution_for(DEFAULT_CRS)
    )
    height, width = grid.shape
    print(f'  map grid {width} x {height} = {width * height / 1e6:.0f} Mpx', flush=True)
    columns = np.linspace(0, width, tiles[0] + 1).astype(int)
    rows = np.linspace(0, height, tiles[1] + 1).astype(int)
    paths = []
    for i in range(tiles[1]):
        for j in range(tiles[0]):
            tile = Grid(
                grid.crs,
                grid.window_transform(int(columns[j]), int(rows[i])),
                int(columns[j + 1] - columns[j]),
                int(rows[i + 1] - rows[i]),
            )
            path = folder / f'tile_{i}_{j}.tif'
            _write_tile(path, tile, projected, labels, tree, seed=i * 100 + j)
            paths.append(path)
            print(f'  wrote {path.name}', flush=True)
    done.touch()
    print(f'  wrote the maps in {time.perf_counter() - start:.0f} s', flush=True)
    return paths


def _write_tile(
    path: Path,
    tile: Grid,
    projected: NDArray[np.object_],
    labels: NDArray[np.uint8],
    tree: shapely.STRtree,
    seed: int,
) -> None:
    empty: dict[tuple[int, int], NDArray[np.bool_]] = {}

    def classes(window: Window) -> NDArray[np.uint8]:
        transform = rasterio.windows.transform(window, tile.transform)
        shape = (int(window.height), int(window.width))
        box = shapely.box(*rasterio.windows.bounds(window, tile.transform))
        hits = np.sort(tree.query(box))
        block = burn_polygons(
            projected[hits], labels[hits], transform, shape, IGNORE_INDEX
        )
        rng = np.random.default_rng([seed, int(window.row_off), int(window.col_off)])
        flip = (rng.random(shape) < 0.08) & (block != IGNORE_INDEX)
        block[flip] = rng.integers(0, NUM_CLASSES, int(flip.sum()))
        empty[(int(window.row_off), int(window.col_off))] = block == IGNORE_INDEX
        return block

    def confidence(window: Window) -> NDArray[np.uint8]:
        key = (int(window.row_off), int(window.col_off))
        rng = np.random.default_rng([seed, *key, 1])
        block = rng.integers(100, 251, (int(window.height), int(window.width)))
        block = block.astype(np.uint8)
        block[empty.pop(key)] = IGNORE_INDEX
        return block

    def count(window: Window) -> NDArray[np.uint8]:
        return np.full((int(window.height), int(window.width)), 12, dtype=np.uint8)

    write_class_map(path, classes, tile, confidence, count, block_size=BLOCK)


def raw_read(paths: list[Path]) -> tuple[float, int]:
    """Seconds to read every block of the class and confidence rasters; pixels."""
    start = time.perf_counter()
    pixels = 0
    for path in paths:
        for name in (path, path.with_name(path.stem + '_confidence.tif')):
            with rasterio.open(name) as src:
                grid = Grid.of_file(src)
                for window in grid.windows(BLOCK):
                    pixels += src.read(1, window=window).size
    return time.perf_counter() - start, pixels // 2


def per_polygon_masks(
    layer_path: Path, paths: list[Path], subset: int, ours: Path
) -> dict[str, float]:
    """The rasterstats-style approach on a subset of polygons, checked against ours."""
    layer = BVMLayer.open(layer_path)
    geometries, _ = repair_polygons(layer.read_geometries())
    uidn = layer.read_columns(['UIDN'])['UIDN'].to_numpy()
    projected = reproject_geometry(geometries, layer.info.crs, DEFAULT_CRS, 0.0)
    grids = []
    for path in paths:
        with rasterio.open(path) as src:
            grids.append(Grid.of_file(src))
    boxes = [shapely.box(*g.bounds) for g in grids]
    rng = np.random.default_rng(1)
    chosen = rng.choice(len(projected), size=subset, replace=False)
    counts = {}
    start = time.perf_counter()
    for index in chosen:
        polygon = projected[index]
        inside = [k for k, b in enumerate(boxes) if b.contains(polygon)]
        if not inside:  # straddles two maps: the per-polygon method reads both
            continue
        k = inside[0]
        window = grids[k].covering(polygon.bounds)
        transform = rasterio.windows.transform(window, grids[k].transform)
        with (
            rasterio.open(paths[k]) as src,
            rasterio.open(paths[k].with_name(paths[k].stem + '_confidence.tif')) as c,
        ):
            classes = src.read(1, window=window, boundless=True, fill_value=255)
            scores = c.read(1, window=window, boundless=True, fill_value=255)
        mask = rasterio.features.geometry_mask(
            [polygon], classes.shape, transform, invert=True
        )
        valid = mask & (classes != IGNORE_INDEX)
        histogram = np.bincount(classes[valid], minlength=NUM_CLASSES)
        sure = scores[valid & (scores != IGNORE_INDEX)]
        counts[int(uidn[index])] = (
            int(histogram.sum()),
            float(sure.mean()) / CONFIDENCE_SCALE,
        )
    seconds = time.perf_counter() - start
    frame = pyogrio.read_dataframe(ours, columns=['UIDN', 'pixels', 'confidence'])
    frame = frame.set_index('UIDN')
    equal = sum(
        frame.loc[k, 'pixels'] == n
        and (n == 0 or abs(frame.loc[k, 'confidence'] - c) < 1e-6)
        for k, (n, c) in counts.items()
    )
    return {
        'polygons': len(counts),
        'seconds': seconds,
        'per_polygon_ms': 1000 * seconds / len(counts),
        'equal': equal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--polygons', type=int, default=650_000)
    parser.add_argument('--tiles', type=int, nargs=2, default=[4, 2])
    parser.add_argument('--subset', type=int, default=2000)
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/bench_compare'))
    parser.add_argument(
        '--bvm', type=Path, help='an existing layer of --polygons polygons to use'
    )
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    layer = args.bvm or write_layer(args.workdir, args.polygons)
    maps = write_maps(layer, args.workdir / 'fused', tuple(args.tiles))
    out = args.workdir / 'comparison'
    command = ['compare', '--bvm', str(layer), '--maps', str(args.workdir / 'fused')]
    command += ['--out', str(out), '--overwrite']
    print('torchgeo-bvm ' + ' '.join(command), flush=True)
    child = subprocess.run(
        [sys.executable, '-c', STEP_TIMER + _COMPARE_CHILD, *command],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    print(child.stdout, flush=True)
    read_seconds, pixels = raw_read(maps)
    masks = per_polygon_masks(layer, maps, args.subset, out / 'disagreement.gpkg')
    extrapolated = masks['per_polygon_ms'] / 1000 * args.polygons
    result = {
        'polygons': args.polygons,
        'maps': len(maps),
        'megapixels': pixels / 1e6,
        'ours_s': ours['seconds'],
        'ours_peak_mb': ours['peak_mb'],
        'ours_import_mb': ours['baseline_mb'],
        'raw_read_s': read_seconds,
        'masks_ms_per_polygon': masks['per_polygon_ms'],
        'masks_extrapolated_s': extrapolated,
        'masks_checked': masks['polygons'],
        'masks_equal': masks['equal'],
        'speedup_vs_masks': extrapolated / ours['seconds'],
        'ours_vs_raw_read': ours['seconds'] / read_seconds,
    }
    print(json.dumps({k: round(float(v), 3) for k, v in result.items()}, indent=1))
    phases = {k: round(v, 1) for k, v in ours['phases'].items()}
    print('phases (s):', json.dumps(phases))


if __name__ == '__main__':
    main()
