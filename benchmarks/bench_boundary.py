"""Flanders from where the BVM labels are, at the real map's size.

Writes a synthetic ``BwkHab`` shapefile in the real format (default 650,000
polygons, the size of the real map) and times
:func:`torchgeo_bvm.sheets.boundary.flanders_from_labels` on it: cold (read, scanline
coverage on a 50 m grid, polygonise, write the cache) and cached.

Usage::

    .venv/bin/python benchmarks/bench_boundary.py [--polygons 650000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torchgeo_bvm.sheets.boundary import flanders_from_labels
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--polygons', type=int, default=650_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = write_bwkhab(
            synthetic_bwkhab(args.polygons, seed=0), Path(folder) / 'BwkHab.shp'
        )
        print(
            f'{args.polygons} polygons written in {time.perf_counter() - start:.1f} s'
        )
        for attempt in ('cold', 'cached'):
            start = time.perf_counter()
            region = flanders_from_labels([path], cache_dir=Path(folder) / 'cache')
            seconds = time.perf_counter() - start
            print(f'{attempt}: {seconds:.2f} s, {region.area / 1e6:.0f} km2')


if __name__ == '__main__':
    main()
