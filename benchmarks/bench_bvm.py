"""Benchmark: BVM labels per sample, stock TorchGeo VectorDataset vs ours.

On synthetic ``BwkHab`` shapefiles in the real format (a tessellation at
realistic polygon sizes, see :mod:`torchgeo_bvm.synth.bvm`) of 10k, 100k and
650k polygons, measures in one run:

* seconds per 256 x 256 sample (EPSG:4326, 10 m equivalent, the same random
  windows for all) for stock ``torchgeo.datasets.VectorDataset``,
  ``BVMDataset`` and ``BVMRaster`` (on the raster ``rasterize`` wrote);
* first-load time (construction + first sample; for BVMDataset the polygon
  load is reported separately);
* ``rasterize`` throughput for the whole extent (megapixels/s) and its peak
  memory (high-water RSS of a child process doing only the rasterisation, and
  its growth over the imports).

Stock VectorDataset re-reads the whole file per sample, so only a few of its
samples are timed, with a time cap.

Usage:
    .venv/bin/python benchmarks/bench_bvm.py [--sizes 10000 100000 650000]
        [--samples 30] [--stock-samples 3] [--stock-cap 300] [--workdir DIR]
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
from pyproj import CRS
from torchgeo.datasets import VectorDataset

from torchgeo_bvm.datasets.bvm import BVMDataset, BVMRaster
from torchgeo_bvm.spatial.crs import DEFAULT_CRS, resolution_for
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab

PATCH = 256

_RASTERIZE_CHILD = """
import json, sys, time, warnings
warnings.simplefilter('ignore')
from torchgeo_bvm.bvm.labels import rasterize_bvm
import rasterio
def high_water_mb():
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's
    # peak over the exec.
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
before = high_water_mb()
start = time.perf_counter()
rasterize_bvm(sys.argv[1], sys.argv[2], progress=False)
seconds = time.perf_counter() - start
with rasterio.open(sys.argv[2]) as src:
    pixels = src.width * src.height
peak = high_water_mb()
print(json.dumps({'seconds': seconds, 'pixels': pixels, 'peak_mb': peak,
                  'baseline_mb': before}))
"""


def layer(workdir: Path, n: int) -> Path:
    path = workdir / f'bwkhab_{n}' / 'BwkHab.shp'
    if not path.exists():
        start = time.perf_counter()
        write_bwkhab(synthetic_bwkhab(n, seed=0), path)
        print(
            f'  wrote {n} polygons in {time.perf_counter() - start:.1f} s', flush=True
        )
    return path


def windows(ds: BVMDataset, count: int, seed: int = 0) -> list[tuple[slice, slice]]:
    rng = np.random.default_rng(seed)
    (xs, ys, _), (xres, yres) = ds.bounds, ds.res
    out = []
    for _ in range(count):
        x = xs.start + rng.uniform(0, xs.stop - xs.start - PATCH * xres)
        y = ys.start + rng.uniform(0, ys.stop - ys.start - PATCH * yres)
        out.append((slice(x, x + PATCH * xres, xres), slice(y, y + PATCH * yres, yres)))
    return out


def per_sample(ds: object, queries: list[tuple[slice, slice]], cap: float) -> float:
    times = []
    for query in queries:
        start = time.perf_counter()
        sample = ds[query]  # type: ignore[index]
        times.append(time.perf_counter() - start)
        assert sample['mask'].shape == (PATCH, PATCH)
        if sum(times) > cap:
            break
    return float(np.mean(times)), len(times)  # type: ignore[return-value]


def bench(path: Path, n: int, args: argparse.Namespace) -> dict[str, float]:
    crs: CRS = DEFAULT_CRS
    res = resolution_for(crs)
    result: dict[str, float] = {'n': n}

    start = time.perf_counter()
    ours = BVMDataset(path, crs=crs, res=res)
    result['ours_init'] = time.perf_counter() - start
    report = ours.load()
    result['ours_load'] = report.seconds
    queries = windows(ours, args.samples + 1)
    start = time.perf_counter()
    ours[queries[0]]
    first_sample = time.perf_counter() - start
    result['ours_first'] = result['ours_init'] + report.seconds + first_sample
    result['ours_sample'], _ = per_sample(ours, queries[1:], cap=1e9)

    out = path.parent / 'labels.tif'
    child = subprocess.run(
        [sys.executable, '-c', _RASTERIZE_CHILD, str(path), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    raster = json.loads(child.stdout.strip().splitlines()[-1])
    result['rasterize_s'] = raster['seconds']
    result['rasterize_mpx'] = raster['pixels'] / 1e6
    result['rasterize_mpx_s'] = raster['pixels'] / 1e6 / raster['seconds']
    result['rasterize_peak_mb'] = raster['peak_mb']
    result['rasterize_growth_mb'] = raster['peak_mb'] - raster['baseline_mb']

    start = time.perf_counter()
    labels = BVMRaster(out, crs=crs, res=res)
    labels[queries[0]]
    result['raster_first'] = time.perf_counter() - start
    result['raster_sample'], _ = per_sample(labels, queries[1:], cap=1e9)

    start = time.perf_counter()
    stock = VectorDataset(path, crs=crs, res=res)
    stock[queries[0]]
    result['stock_first'] = time.perf_counter() - start
    stock_queries = queries[1 : 1 + args.stock_samples]
    result['stock_sample'], result['stock_n'] = per_sample(
        stock, stock_queries, cap=args.stock_cap
    )
    result['speedup_ours'] = result['stock_sample'] / result['ours_sample']
    result['speedup_raster'] = result['stock_sample'] / result['raster_sample']
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[10_000, 100_000, 650_000]
    )
    parser.add_argument('--samples', type=int, default=30)
    parser.add_argument('--stock-samples', type=int, default=3)
    parser.add_argument('--stock-cap', type=float, default=300.0)
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/bench_bvm'))
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    rows = []
    for n in args.sizes:
        print(f'{n} polygons', flush=True)
        row = bench(layer(args.workdir, n), n, args)
        print('  ' + json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
        rows.append(row)
    print()
    print(
        '| polygons | stock s/sample | BVMDataset s/sample | BVMRaster s/sample '
        '| speed-up BVMDataset | speed-up BVMRaster | stock first load s '
        '| BVMDataset init s | polygon load s | BVMDataset first load s '
        '| BVMRaster first s '
        '| rasterize MPx | rasterize MPx/s | rasterize peak RSS MB (growth) |'
    )
    print('|' + '---|' * 14)
    for r in rows:
        print(
            f'| {int(r["n"]):,} | {r["stock_sample"]:.3f} (n={int(r["stock_n"])}) '
            f'| {r["ours_sample"]:.4f} | {r["raster_sample"]:.4f} '
            f'| {r["speedup_ours"]:.0f}x | {r["speedup_raster"]:.0f}x '
            f'| {r["stock_first"]:.1f} | {r["ours_init"]:.2f} | {r["ours_load"]:.1f} '
            f'| {r["ours_first"]:.1f} | {r["raster_first"]:.2f} '
            f'| {r["rasterize_mpx"]:.1f} | {r["rasterize_mpx_s"]:.1f} '
            f'| {r["rasterize_peak_mb"]:.0f} ({r["rasterize_growth_mb"]:.0f}) |'
        )


if __name__ == '__main__':
    main()
