"""Read time of one 256 x 256, 11-band Sentinel2TOC sample per layout.

Layout (a): a Terrascope product folder, one GeoTIFF per band at 10/20/60 m plus
SCL at 20 m. Layout (b): one openEO multi-band GeoTIFF (11 bands + SCL at 10 m).
Both in UTM 31N, written by the synth writers into a temporary folder; also read
warped into EPSG:4326 and with the paper's 400 m cloud dilation.

Usage: .venv/bin/python benchmarks/bench_sentinel2.py [--reads 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from torchgeo_bvm.datasets.bands import ALL_BANDS, PAPER_CLOUD_RULE, CloudRule
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.synth.sentinel2 import (
    synthetic_scene,
    write_openeo_sheet,
    write_terrascope_product,
)

SIZE_M = 5760.0  # 576 x 576 pixels at 10 m
X0, Y0 = 500000.0, 5650020.0
BOUNDS = (X0, Y0, X0 + SIZE_M, Y0 + SIZE_M)


def write_fixtures(root: Path) -> None:
    reflectance, scl = synthetic_scene((576, 576), seed=0)
    write_terrascope_product(
        root / 'a', bounds=BOUNDS, reflectance=reflectance, scl=scl, seed=0
    )
    bands = {**reflectance, 'SCL': scl}
    write_openeo_sheet(
        root / 'b', '22/1-2', '2020-04-05', bands, bounds=BOUNDS, crs=32631
    )


def time_reads(ds: Sentinel2TOC, reads: int, seed: int) -> list[float]:
    x, y, _ = ds.bounds
    xres, yres = ds.res
    width, height = 256 * xres, 256 * yres
    rng = np.random.default_rng(seed)
    day = slice(pd.Timestamp('2020-04-05'), pd.Timestamp('2020-04-05 23:59'))
    ds[x.start : x.start + width, y.start : y.start + height, day]  # warm-up
    times = []
    for _ in range(reads):
        col = int(rng.integers(0, int((x.stop - x.start - width) / xres)))
        row = int(rng.integers(0, int((y.stop - y.start - height) / yres)))
        left, bottom = x.start + col * xres, y.start + row * yres
        start = time.perf_counter()
        sample = ds[left : left + width, bottom : bottom + height, day]
        times.append(time.perf_counter() - start)
        assert sample['image'].shape == (len(ALL_BANDS), 256, 256)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--reads', type=int, default=40)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_fixtures(root)
        cases: list[tuple[str, str, str | None, CloudRule]] = [
            ('a', 'UTM, no dilation', None, CloudRule()),
            ('b', 'UTM, no dilation', None, CloudRule()),
            ('a', 'UTM, 400 m dilation', None, PAPER_CLOUD_RULE),
            ('b', 'UTM, 400 m dilation', None, PAPER_CLOUD_RULE),
            ('a', 'EPSG:4326, no dilation', 'EPSG:4326', CloudRule()),
            ('b', 'EPSG:4326, no dilation', 'EPSG:4326', CloudRule()),
        ]
        for layout, label, crs, rule in cases:
            ds = Sentinel2TOC(root / layout, crs=crs, bands='all', cloud_rule=rule)
            times = time_reads(ds, args.reads, args.seed)
            rows.append((layout, label, 1000 * float(np.median(times))))
    baseline = {label: ms for layout, label, ms in rows if layout == 'b'}
    print('| layout | case | median ms / sample | (a) / (b) |')
    print('|---|---|---:|---:|')
    for layout, label, ms in rows:
        ratio = f'{ms / baseline[label]:.2f}' if layout == 'a' else '1.00'
        print(f'| {layout} | {label} | {ms:.1f} | {ratio} |')


if __name__ == '__main__':
    main()
