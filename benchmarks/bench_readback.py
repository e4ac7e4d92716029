"""What reading every written raster back costs (issue 24).

Every file GDAL writes is read back whole before it takes its name
(:mod:`torchgeo_bvm.readback`). This times
:func:`~torchgeo_bvm.spatial.classraster.write_class_raster` (a class raster as
a COG with overviews: the labels, a fused map),
:func:`~torchgeo_bvm.spatial.cog.write_cog` of 14 uint8 probability bands and
:func:`~torchgeo_bvm.synth.sentinel2.write_geotiff` of one 10 m band of a
Terrascope product as the synthetic archive writes it (10,980 pixels square,
blocks of 512, data in a 5 km study area, the other blocks not stored), with
the read-back and, in the same run, without it (``read_back`` replaced by a
no-op), and the read-back alone; for the sparse band also the read of every
pixel, which the read-back did before it skipped the blocks a file does not
store.

Usage::

    .venv/bin/python benchmarks/bench_readback.py [--megapixels 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from torchgeo_bvm import fileio
from torchgeo_bvm.readback import read_back
from torchgeo_bvm.spatial.classraster import write_class_raster
from torchgeo_bvm.spatial.cog import write_cog
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.sentinel2 import write_geotiff

#: A Sentinel-2 tile at 10 m and its 5 km study area.
TILE, STUDY_AREA = 10_980, 500


def read_every_pixel(path: Path) -> None:
    """Every window of 64 MiB of a raster, the blocks it does not store too."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as source:
        rows = max(1, 2**25 // source.width)
        for top in range(0, source.height, rows):
            source.read(
                window=Window(0, top, source.width, min(rows, source.height - top))
            )


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--megapixels', type=float, default=100.0)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    width = int((args.megapixels * 1e6 * 1.7) ** 0.5)
    height = int(args.megapixels * 1e6 / width)
    grid = Grid(
        CRS.from_epsg(32631), Affine(10, 0, 500_000, 0, -10, 5_700_000), width, height
    )
    rng = np.random.default_rng(0)
    # Fields of a few hundred pixels, like a map: compresses as a map does.
    coarse = rng.integers(0, 14, (height // 16 + 1, width // 16 + 1), dtype=np.uint8)
    classes = np.repeat(np.repeat(coarse, 16, 0), 16, 1)[:height, :width]
    bands = min(14, max(1, int(2e9 // (width * height))))
    probabilities = rng.integers(0, 250, (bands, 512, 512), dtype=np.uint8)
    reflectance = rng.integers(0, 10_000, (1, STUDY_AREA, STUDY_AREA), dtype=np.int16)

    def block(window):  # type: ignore[no-untyped-def]
        rows = np.arange(window.row_off, window.row_off + window.height) % 512
        cols = np.arange(window.col_off, window.col_off + window.width) % 512
        return probabilities[:, rows][:, :, cols]

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        jobs = {
            'class raster': lambda: write_class_raster(
                out / 'classes.tif', classes, grid, progress=False
            ),
            f'{bands} probability bands': lambda: write_cog(
                out / 'probabilities.tif', block, grid, count=bands, dtype='uint8',
                nodata=255, overview_resampling='average', progress=False,
            ),
            'sparse Terrascope band': lambda: write_geotiff(
                out / 'sparse.tif', reflectance, grid.transform, grid.crs, 32767,
                size=(TILE, TILE), offset=((TILE - STUDY_AREA) // 2,) * 2,
                blocksize=512,
            ),
        }  # fmt: skip
        paths = {
            'class raster': out / 'classes.tif',
            f'{bands} probability bands': out / 'probabilities.tif',
            'sparse Terrascope band': out / 'sparse.tif',
        }
        print(f'{width} x {height} px ({width * height / 1e6:.0f} MPx)')
        original = fileio.read_back
        for name, job in jobs.items():
            path = paths[name]
            job()  # warm: imports, GDAL's drivers, the page cache
            checked, unchecked = [], []
            for _ in range(args.repeat):  # interleaved: the load varies
                checked.append(median_seconds(job, 1))
                fileio.read_back = lambda path: None  # type: ignore[assignment]
                try:
                    unchecked.append(median_seconds(job, 1))
                finally:
                    fileio.read_back = original
            alone = median_seconds(partial(read_back, path), args.repeat)
            with_check = statistics.median(checked)
            without = statistics.median(unchecked)
            size = path.stat().st_size / 1e6
            print(
                f'{name} ({size:.0f} MB): with read-back {with_check:.3f} s, without '
                f'{without:.3f} s ({with_check / without - 1:+.1%}); read-back alone '
                f'{alone:.3f} s ({alone / without:.1%} of the write)'
            )
            if name == 'sparse Terrascope band':
                every = median_seconds(partial(read_every_pixel, path), args.repeat)
                print(
                    f'  every pixel read {every:.3f} s: {every / alone:.0f} x the '
                    f'read-back of the blocks stored ({alone:.3f} s)'
                )


if __name__ == '__main__':
    main()
