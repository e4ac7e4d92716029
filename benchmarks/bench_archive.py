"""A year of Terrascope products over Flanders: index, per-sample reads, setup.

Writes (once, under ``--data``) Terrascope TOC archives of 10, 100 and 1,000
products in the real layout (``TOC_V2/YYYY/MM/DD/<product>/``, 19 files per
product, 12 of them read: 11 bands and SCL) over the seven Sentinel-2 tiles that
cover the 43 map sheets, every file at its real size (10,980 x 10,980 pixels at
10 m, tiled 512 x 512, deflate) with data in a 5 km study area at each tile's
centre and sparse elsewhere (:func:`torchgeo_bvm.synth.archive.write_terrascope_archive`),
and a ``BwkHab`` shapefile of 650,000 polygons. Every measurement runs in a
fresh process (imports done, nothing else), on the files in the OS page cache:

* ``index``: ``Sentinel2TOC(archive)`` construction (all 11 bands, the default
  cloud rule), cold (empty ``TORCHGEO_BVM_CACHE``) and warm (a second process),
  and the size of the pickled dataset (what a ``spawn`` worker receives);
* ``reads``: random-date 256 x 256 queries, each on a random product and a
  random window of its study area, with GDAL's block cache at ``--gdal-cache``
  MB (16 by default: the real archive is thousands of times larger than any
  block cache, so every window is decompressed), in one process: one untimed
  query per product first (in random order: what an epoch of training has
  opened), then ``--queries`` timed ones;
* ``series``: 12-step stacks of a year (``Sentinel2TOC(time_series=True)``)
  on random 256 x 256 windows of the largest archive, against the same
  windows read date by date with the single-date reader, each in its own
  process as in training (one data set per process, with the whole open-file
  budget; warmed up with one stack per tile, or one query per product):
  ``temporal='dates', max_dates=12`` (12 dates kept, spread over the year's
  ~143 at each tile) against those 12 dates; ``'monthly'`` (each month the
  median of its ~12 dates) against every date of the year;
* ``setup``: ``BVMDataModule(archive of 1,000 products, the 650,000 polygons)``
  over all 43 sheets in EPSG:4326: ``setup('fit')`` and ``setup('test')``, cold
  and warm, with the time of each part and the number of evaluation tiles.

Run it from a folder without Python files of its own (its child processes put
the working folder first on ``sys.path``).

Usage::

    .venv/bin/python benchmarks/bench_archive.py [--data /tmp/bvm-archive]
        [--parts index reads setup series] [--products 10 100 1000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from steptimes import STEP_TIMER

_INDEX = r"""
import json, pickle, sys, time, warnings
warnings.simplefilter('ignore')
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
start = time.perf_counter()
ds = Sentinel2TOC(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'entries': len(ds.index),
                  'pickled_mb': len(pickle.dumps(ds)) / 1e6}))
"""

_READS = r"""
import json, sys, time, warnings
warnings.simplefilter('ignore')
import numpy as np, pandas as pd
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.synth.archive import study_area
from torchgeo_bvm.synth.sentinel2 import FLANDERS_TILES
ds = Sentinel2TOC(sys.argv[1])
queries, seed = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
keys = ds.index['filepath'].to_numpy()
days = ds.index.index.left
size = 2560.0
times = []
# Warm-up: every product once, in random order (the files an epoch has opened),
# then random products.
warm = list(rng.permutation(len(keys)))
for i in range(len(warm) + queries):
    row = int(warm[i]) if i < len(warm) else int(rng.integers(len(keys)))
    tile = keys[row].rsplit('/', 1)[-1].split('_')[2]
    xmin, ymin, xmax, ymax = study_area(FLANDERS_TILES[tile])
    x = xmin + 10.0 * int(rng.integers(0, int((xmax - xmin - size) / 10)))
    y = ymin + 10.0 * int(rng.integers(0, int((ymax - ymin - size) / 10)))
    day = pd.Timestamp(days[row])
    start = time.perf_counter()
    sample = ds[x : x + size, y : y + size, day : day + pd.Timedelta(hours=23)]
    if i >= len(warm):
        times.append(time.perf_counter() - start)
    assert sample['image'].shape == (11, 256, 256)
times = np.array(times) * 1000
print(json.dumps({'mean_ms': float(times.mean()), 'median_ms': float(np.median(times)),
                  'p90_ms': float(np.percentile(times, 90))}))
"""

_SERIES = r"""
import json, sys, time, warnings
warnings.simplefilter('ignore')
import numpy as np, pandas as pd
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.datasets.series import calendar_year, spread
from torchgeo_bvm.synth.archive import study_area
from torchgeo_bvm.synth.sentinel2 import FLANDERS_TILES
root, queries, seed, layout, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
single = Sentinel2TOC(root)
keys = single.index['filepath'].to_numpy()
days = single.index.index.left
year = calendar_year(int(days[0].year))
size = 2560.0
tiles = sorted({k.rsplit('/', 1)[-1].split('_')[2] for k in keys})
if mode == 'stack':
    options = {'temporal': 'dates', 'max_dates': 12} if layout == 'dates' else {}
    series = Sentinel2TOC(root, time_series=True, **options)
    # Warm-up: one stack per tile (the files an epoch of stacks has opened).
    for tile in tiles:
        xmin, ymin, _, _ = study_area(FLANDERS_TILES[tile])
        series[xmin : xmin + size, ymin : ymin + size, year]
else:
    # Warm-up: every product once, in random order (what an epoch has opened).
    for row in np.random.default_rng(seed + 1000).permutation(len(keys)):
        tile = keys[row].rsplit('/', 1)[-1].split('_')[2]
        xmin, ymin, _, _ = study_area(FLANDERS_TILES[tile])
        day = pd.Timestamp(days[row])
        single[xmin : xmin + size, ymin : ymin + size, day : day + pd.Timedelta(hours=23)]
rng = np.random.default_rng(seed)
seconds, reads = [], []
for i in range(queries):
    tile = tiles[int(rng.integers(len(tiles)))]
    xmin, ymin, xmax, ymax = study_area(FLANDERS_TILES[tile])
    x = xmin + 10.0 * int(rng.integers(0, int((xmax - xmin - size) / 10)))
    y = ymin + 10.0 * int(rng.integers(0, int((ymax - ymin - size) / 10)))
    window = (slice(x, x + size), slice(y, y + size))
    # The dates the stack reads: the 12 kept, or every date of the year for
    # monthly medians.
    here = single.index.cx[x : x + size, y : y + size]
    every = sorted(set(here.index.left))
    dates = [every[k] for k in spread(len(every), 12)] if layout == 'dates' else every
    reads.append(len(dates))
    start = time.perf_counter()
    if mode == 'stack':
        sample = series[(*window, year)]
        assert sample['image'].shape == (12, 11, 256, 256)
    else:
        for day in dates:
            single[(*window, slice(day, day + pd.Timedelta(hours=23)))]
    seconds.append(time.perf_counter() - start)
print(json.dumps({'ms': 1000 * float(np.mean(seconds)), 'dates_read': float(np.mean(reads))}))
"""

_SETUP = r"""
import json, sys, time, warnings
warnings.simplefilter('ignore')
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.settings import DataSettings
# Which part of the build takes the time (the data module's own steps).
for name in ('_imagery', '_labels', '_flanders'):
    setattr(DataSettings, name, timed(name.strip('_'), getattr(DataSettings, name)))
start = time.perf_counter()
dm = BVMDataModule(sys.argv[1], sys.argv[2], batch_size=8, patch_size=256)
dm.setup('fit')
fit = time.perf_counter() - start
start = time.perf_counter()
dm.setup('test')
test = time.perf_counter() - start
print(json.dumps({'fit_s': fit, 'test_s': test, **{f'{k}_s': v for k, v in steps.items()},
                  'val_tiles': len(dm.val_sampler), 'test_tiles': len(dm.test_sampler),
                  'train_length': len(dm.train_sampler)}))
"""


def archive(data: Path, products: int) -> Path:
    root = data / f'archive-{products}'
    done = root / '.complete'
    if not done.exists():
        from torchgeo_bvm.synth.archive import write_terrascope_archive

        shutil.rmtree(root, ignore_errors=True)
        start = time.perf_counter()
        write_terrascope_archive(root, products, progress=True)
        done.write_text('ok')
        print(f'wrote {products} products in {time.perf_counter() - start:.0f} s')
    return root


def layer(data: Path, polygons: int = 650_000) -> Path:
    path = data / f'bwkhab_{polygons}' / 'BwkHab.shp'
    if not path.exists():
        from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab

        write_bwkhab(synthetic_bwkhab(polygons, seed=0), path)
    return path


def child(code: str, *args: object, **env: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, '-c', code, *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
    )
    if result.returncode:
        sys.exit(f'a benchmark process failed:\n{result.stderr}')
    parsed: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def bench_index(data: Path, sizes: list[int]) -> None:
    print('\n| products | files read | cold s | warm s | pickled MB |')
    print('|---:|---:|---:|---:|---:|')
    for n in sizes:
        root = archive(data, n)
        cache = str(fresh(data / f'cache-index-{n}'))
        cold = child(_INDEX, root, TORCHGEO_BVM_CACHE=cache)
        warm = child(_INDEX, root, TORCHGEO_BVM_CACHE=cache)
        print(
            f'| {n:,} | {12 * int(cold["entries"]):,} | {cold["seconds"]:.2f} '
            f'| {warm["seconds"]:.2f} | {warm["pickled_mb"]:.2f} |',
            flush=True,
        )


def bench_reads(data: Path, sizes: list[int], args: argparse.Namespace) -> None:
    rows = []
    for repeat in range(args.repeat):
        for n in sizes:
            root = archive(data, n)
            cache = str(data / f'cache-index-{n}')
            result = child(
                _READS,
                root,
                args.queries,
                repeat,
                TORCHGEO_BVM_CACHE=cache,
                GDAL_CACHEMAX=args.gdal_cache,
            )
            rows.append((repeat, n, result))
            print(json.dumps({'run': repeat, 'products': n, **result}), flush=True)
    print('\n| run | products | mean ms | median ms | p90 ms | mean vs smallest |')
    print('|---:|---:|---:|---:|---:|---:|')
    for repeat, n, r in rows:
        # The baseline: the smallest archive, in the same run.
        base_mean = min(
            ((m, x['mean_ms']) for rr, m, x in rows if rr == repeat),
            key=lambda pair: pair[0],
        )[1]
        print(
            f'| {repeat + 1} | {n:,} | {r["mean_ms"]:.1f} | {r["median_ms"]:.1f} '
            f'| {r["p90_ms"]:.1f} | {r["mean_ms"] / base_mean:.2f} |'
        )


def bench_series(data: Path, products: int, args: argparse.Namespace) -> None:
    root = archive(data, products)
    cache = str(data / f'cache-index-{products}')
    print(
        '\n| run | layout | products | dates read | 12-step stack ms '
        '| the same dates one by one ms | stack / one by one |'
    )
    print('|---:|---|---:|---:|---:|---:|---:|')
    for repeat in range(args.repeat):
        for layout in ('dates', 'monthly'):
            queries = args.series_queries if layout == 'dates' else 10
            ms = {}
            for mode in ('stack', 'singles'):
                r = child(
                    _SERIES,
                    root,
                    queries,
                    repeat,
                    layout,
                    mode,
                    TORCHGEO_BVM_CACHE=cache,
                    GDAL_CACHEMAX=args.gdal_cache,
                )
                ms[mode] = r['ms']
            print(
                f'| {repeat + 1} | {layout} | {products:,} | {r["dates_read"]:.0f} '
                f'| {ms["stack"]:.0f} | {ms["singles"]:.0f} '
                f'| {ms["stack"] / ms["singles"]:.2f} |',
                flush=True,
            )


def bench_setup(data: Path, products: int) -> None:
    root = archive(data, products)
    shp = layer(data)
    cache = str(fresh(data / 'cache-setup'))
    print('\n| run | setup fit s | setup test s | parts s | val tiles | test tiles |')
    print('|---|---:|---:|---|---:|---:|')
    for label in ('cold', 'warm'):
        r = child(STEP_TIMER + _SETUP, root, shp, TORCHGEO_BVM_CACHE=cache)
        parts = ', '.join(
            f'{k[:-2]} {v:.1f}'
            for k, v in r.items()
            if k.endswith('_s') and k not in ('fit_s', 'test_s')
        )
        print(
            f'| {label} | {r["fit_s"]:.1f} | {r["test_s"]:.1f} | {parts} '
            f'| {int(r["val_tiles"])} | {int(r["test_tiles"])} |',
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('/tmp/bvm-archive'))
    parser.add_argument(
        '--parts',
        nargs='+',
        default=['index', 'reads', 'setup'],
        choices=['index', 'reads', 'setup', 'series'],
    )
    parser.add_argument('--products', type=int, nargs='+', default=[10, 100, 1000])
    parser.add_argument('--read-products', type=int, nargs='+', default=[100, 1000])
    parser.add_argument('--queries', type=int, default=300)
    parser.add_argument('--series-queries', type=int, default=40)
    parser.add_argument('--repeat', type=int, default=1)
    parser.add_argument('--gdal-cache', default='16')
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if 'index' in args.parts:
        bench_index(args.data, args.products)
    if 'reads' in args.parts:
        bench_reads(args.data, args.read_products, args)
    if 'setup' in args.parts:
        bench_setup(args.data, max(args.products))
    if 'series' in args.parts:
        bench_series(args.data, max(args.products), args)


if __name__ == '__main__':
    main()
