"""What the caches' content fingerprint costs at the real map's size (issue 24).

On a ``BwkHab`` shapefile of 650,000 polygons in the real format (the layer of
``bench_bvm.py``, written into ``--workdir`` if it is not there yet), times:

* ``fingerprint``: :func:`torchgeo_bvm.fileio.fingerprint` of the layer's
  files, the SHA-256 of every byte (the rule now);
* ``before``: the rule it replaces, measured in the same run: size,
  modification time and the SHA-256 of the first 64 kB of each file;
* ``cold build``: what the fingerprint keys, the polygon store prepared with an
  empty cache folder (``BVMPolygons(...).load()``: read, repair, order,
  reproject, index, write), which includes the two fingerprints a process
  takes (when the layer is opened and when the store is loaded);
* ``warm open``: a second process's view, ``BVMPolygons(...).load()`` with the
  store cached (both fingerprints, the label columns from their cache);
* the archive index's key per file: :func:`~torchgeo_bvm.fileio.header_fingerprint`
  of a Terrascope-sized band (10,980 x 10,980 px, tiled 512, deflate) against
  the ``os.stat`` it adds to.

Every figure is the median of ``--repeat`` runs with the files in the page
cache (the machine gives no way to drop it).

Usage::

    .venv/bin/python benchmarks/bench_fingerprint.py [--workdir /tmp/bench_bvm]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio

from torchgeo_bvm.bvm.polygons import BVMPolygons
from torchgeo_bvm.fileio import fingerprint, header_fingerprint
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab

POLYGONS = 650_000


def before(paths: list[Path]) -> list[list[object]]:
    """The fingerprint rule before issue 24, for the baseline."""
    entries: list[list[object]] = []
    for path in paths:
        with path.open('rb') as file:
            stat = os.fstat(file.fileno())
            digest = hashlib.sha256(file.read(65_536)).hexdigest()
        entries.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns, digest])
    return entries


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer(workdir: Path) -> Path:
    path = workdir / f'bwkhab_{POLYGONS}' / 'BwkHab.shp'
    if not path.exists():
        start = time.perf_counter()
        write_bwkhab(synthetic_bwkhab(POLYGONS, seed=0), path)
        print(f'layer written in {time.perf_counter() - start:.1f} s')
    return path


def band(folder: Path) -> Path:
    path = folder / 'S2B_20200405T104619_31UES_TOC-B04_10M_V210.tif'
    profile = {
        'driver': 'GTiff', 'width': 10_980, 'height': 10_980, 'count': 1,
        'dtype': 'uint16', 'crs': 'EPSG:32631', 'nodata': 32767,
        'transform': rasterio.Affine(10, 0, 499_980, 0, -10, 5_700_000),
        'tiled': True, 'blockxsize': 512, 'blockysize': 512, 'compress': 'deflate',
    }  # fmt: skip
    rows = np.arange(512, dtype=np.uint16)[:, np.newaxis] * np.ones(10_980, np.uint16)
    with rasterio.open(path, 'w', **profile) as dst:
        for top in range(0, 10_980, 512):
            height = min(512, 10_980 - top)
            window = rasterio.windows.Window(0, top, 10_980, height)
            dst.write(rows[np.newaxis, :height], window=window)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/bench_bvm'))
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    path = layer(args.workdir)
    files = sorted(path.parent.glob('BwkHab.*'))
    size = sum(f.stat().st_size for f in files)
    print(f'{path}: {len(files)} files, {size / 1e6:.1f} MB')
    fingerprint(files)  # into the page cache
    new = median_seconds(lambda: fingerprint(files), args.repeat)
    old = median_seconds(lambda: before(files), args.repeat)
    print(
        f'fingerprint (SHA-256 of every byte): {new:.3f} s, {size / new / 1e9:.2f} GB/s'
    )
    print(f'before (size, time, first 64 kB):    {old:.4f} s')
    with tempfile.TemporaryDirectory(dir=args.workdir) as cache:
        start = time.perf_counter()
        report = BVMPolygons(path, cache_dir=cache).load()
        cold = time.perf_counter() - start
        assert not report.cached
        warm = median_seconds(
            lambda: BVMPolygons(path, cache_dir=cache).load(), args.repeat
        )
    print(f'cold build of the polygon store: {cold:.1f} s')
    print(
        f'fingerprint / cold build: {new / cold:.1%} (two per process: '
        f'{2 * new / cold:.1%})'
    )
    print(f'warm open (store cached, two fingerprints): {warm:.2f} s')
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        raster = band(Path(folder))
        calls = 1000
        digest = median_seconds(
            lambda: [header_fingerprint(raster) for _ in range(calls)], args.repeat
        )
        stat = median_seconds(
            lambda: [os.stat(raster) for _ in range(calls)], args.repeat
        )
        print(
            f'header_fingerprint of a {raster.stat().st_size / 1e6:.0f} MB band: '
            f'{digest / calls * 1e6:.0f} us per file (os.stat: '
            f'{stat / calls * 1e6:.1f} us); 1,000 products: {digest:.2f} s'
        )


if __name__ == '__main__':
    main()
