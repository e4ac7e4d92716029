"""What one window read of an openEO file costs, with and without GDAL's cache.

Writes one downloader GeoTIFF in the real format (EPSG:4326 at 10 m, 11 bands +
SCL, int16, deflate, as ``bench_datamodule.py`` does: full-width one-row strips,
pixel-interleaved) and times plain rasterio reads of random windows of all 12
bands: 256 x 256 (a training crop) and 336 x 336 (the same with the 400 m cloud
margin), once in a process whose GDAL cache already holds the whole file
(decompressed) and once in a process with ``GDAL_CACHEMAX=1`` (every strip
inflated again), the case of a data set much larger than the cache.

Usage::

    .venv/bin/python benchmarks/bench_window_reads.py [--reads 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window


def write_file(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_datamodule import write_data

    imagery, _, _ = write_data(folder, polygons=200)
    return sorted(imagery.rglob('*.tif'))[0]


def time_reads(path: Path, reads: int, warm: bool) -> dict[str, float]:
    rng = np.random.default_rng(0)
    result = {}
    with rasterio.open(path) as src:
        if warm:
            src.read()  # every strip into GDAL's cache
        for size in (256, 336):
            seconds = []
            for _ in range(reads):
                col = int(rng.integers(0, src.width - size))
                row = int(rng.integers(0, src.height - size))
                start = time.perf_counter()
                src.read(window=Window(col, row, size, size))
                seconds.append(time.perf_counter() - start)
            result[str(size)] = 1000 * float(np.median(seconds))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reads', type=int, default=40)
    parser.add_argument('--child', type=Path, help=argparse.SUPPRESS)
    parser.add_argument('--warm', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_reads(args.child, args.reads, args.warm)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(Path(folder))
        with rasterio.open(path) as src:
            print(f'{path.name}: {src.width} x {src.height} px, {src.count} bands')
        rows = {}
        for name, env, flags in [
            ('cached (whole file in GDAL cache)', {}, ['--warm']),
            ('not cached (GDAL_CACHEMAX=1)', {'GDAL_CACHEMAX': '1'}, []),
        ]:
            command = [sys.executable, __file__, '--child', str(path)]
            command += ['--reads', str(args.reads), *flags]
            output = subprocess.run(
                command,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows[name] = json.loads(output.strip().splitlines()[-1])
    print('| GDAL cache | 256 x 256 ms | 336 x 336 ms |')
    print('|---|---:|---:|')
    for name, row in rows.items():
        print(f'| {name} | {row["256"]:.2f} | {row["336"]:.2f} |')


if __name__ == '__main__':
    main()
