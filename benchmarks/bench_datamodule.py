"""DataLoader throughput of the Sentinel-2 x BVM training pipeline.

Writes a synthetic scene in the real formats (openEO downloader GeoTIFFs in
EPSG:4326 at 10 m, 11 bands + SCL, for the train sheets 22/1-2 and 22/5-6 on two
dates; a ``BwkHab`` shapefile of 150,000 polygons at the real map's density,
about a quarter of the real map, starting at those sheets; its label raster on
the imagery grid) and measures samples/s of 256 x 256 crops
(11 bands + mask) with 0 and 2 workers for:

* ``ours (vector)``: ``BVMSentinel2(Sentinel2TOC, BVMDataset)`` with
  ``SheetSampler @ CentreTimestampSampler``, as ``BVMDataModule`` trains;
* ``ours (raster)``: the same with ``BVMRaster`` label GeoTIFFs;
* ``ours (raster, 400 m)``: the same with the paper's cloud rule (clouds and
  their shadows dilated by 400 m, so SCL is read with a 40 px margin);
* ``stock (vector)``: TorchGeo's ``RasterDataset & VectorDataset`` over the same
  files with ``RandomPatchSampler @ RandomTimestampSampler``;
* ``raw read``: plain rasterio window reads of the same bytes (12 imagery bands
  and the label raster), the limit any pipeline over these files can reach;
* ``Sentinel2TOC alone``: the imagery reader on the same windows, without labels,
  mirroring or masking (what our pipeline cannot go below).

GDAL's block cache: the files here decompress to 160 MB, which GDAL's default
cache (5 % of RAM) holds whole after the warm-up epoch, so every pipeline then
copies decompressed strips instead of inflating them. The real imagery (43
sheets, 70-150 dates a year, about 150 MB decompressed per sheet and date) is
thousands of times larger than any such cache, and random crops almost never
hit it. ``--gdal-cache 16`` (the default) gives GDAL 16 MB, room for the strips
of one window, so every window is decompressed as in a real training run;
``--gdal-cache default`` leaves GDAL's own cache size (the warm, small-data case).

Usage::

    .venv/bin/python benchmarks/bench_datamodule.py [--samples 96] [--out DIR] \
        [--gdal-cache {MB,default}]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
import shapely
import torch
from rasterio.windows import Window
from torch.utils.data import DataLoader, Dataset
from torchgeo.datasets import RasterDataset, VectorDataset, stack_samples
from torchgeo.samplers import RandomPatchSampler, RandomTimestampSampler

from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.datasets.bands import ALL_BANDS, PAPER_CLOUD_RULE, CloudRule
from torchgeo_bvm.datasets.bvm import BVMDataset, BVMRaster
from torchgeo_bvm.datasets.joint import BVMSentinel2
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.samplers.sheet import SheetSampler
from torchgeo_bvm.samplers.temporal import CentreTimestampSampler
from torchgeo_bvm.sheets.boundary import flanders_from_labels
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab
from torchgeo_bvm.synth.sentinel2 import write_openeo_sheet

SHEETS = ('22/1-2', '22/5-6')
DATES = ('2021-05-01', '2021-06-10')
SIZE = 256
BATCH = 8
CRS = 'EPSG:4326'


def write_data(root: Path, polygons: int) -> tuple[Path, Path, Path]:
    xres, yres = resolution_for(CRS)
    from rasterio.warp import transform_bounds

    rng = np.random.default_rng(0)
    for sheet in map(Sheet.parse, SHEETS):
        xmin, ymin, xmax, ymax = transform_bounds('EPSG:31370', CRS, *sheet.bounds)
        # every file on one lattice (multiples of the resolution), like the labels
        left, top = math.floor(xmin / xres) * xres, math.ceil(ymax / yres) * yres
        width = math.ceil((xmax - left) / xres)
        height = math.ceil((top - ymin) / yres)
        bounds = (left, top - height * yres, left + width * xres, top)
        for day in DATES:
            bands = {
                b: rng.integers(200, 4000, (height, width), dtype=np.int16)
                for b in ALL_BANDS
            }
            scl = np.full((height, width), 4, np.int16)
            scl[: height // 8] = 9
            bands['SCL'] = scl
            write_openeo_sheet(root / 's2', sheet, day, bands, bounds=bounds, crs=CRS)
    frame = synthetic_bwkhab(polygons, seed=0)
    x0, y0 = frame.total_bounds[:2]
    target = Sheet.parse('22/5-6').bounds
    frame = frame.set_geometry(
        shapely.transform(
            frame.geometry.to_numpy(),
            lambda xy: xy + np.array([target[0] - x0, target[1] - y0]),
        )
    )
    shp = write_bwkhab(frame, root / 'bvm' / 'BwkHab.shp')
    labels = rasterize_bvm(
        shp,
        root / 'labels' / 'labels.tif',
        crs=CRS,
        res=(xres, yres),
        sheets=SHEETS,
        progress=False,
    )
    return root / 's2', shp, labels


class OpenEOFiles(RasterDataset):
    """The downloader's files read the stock TorchGeo way (bands by position)."""

    filename_glob = '*_openEO_*.tif'
    filename_regex = r'^(?P<sheet>.+)_openEO_(?P<date>\d{4}-\d{2}-\d{2})Z\.tif$'
    date_format = '%Y-%m-%d'
    all_bands = (*ALL_BANDS, 'SCL')


class FreshIndices:
    """Indices ``0..n-1`` in the first epoch, ``n..2n-1`` in the second, ...

    Every pipeline reads new windows in the timed epoch, as the random samplers
    do, so no one is served from GDAL's block cache of the warm-up epoch.
    """

    def __init__(self, n: int) -> None:
        self.n, self.epoch = n, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterable[int]:
        start, self.epoch = self.epoch * self.n, self.epoch + 1
        return iter(range(start, start + self.n))


class RawWindows(Dataset[dict[str, torch.Tensor]]):
    """Plain rasterio window reads: 12 imagery bands and the label raster."""

    def __init__(self, images: list[Path], labels: Path, count: int) -> None:
        self.images, self.labels = images, labels
        rng = np.random.default_rng(0)
        self.windows = []
        with rasterio.open(labels) as lab:
            inverse, lwidth, lheight = ~lab.transform, lab.width, lab.height
        while len(self.windows) < count:
            path = images[int(rng.integers(len(images)))]
            with rasterio.open(path) as src:
                col = int(rng.integers(0, src.width - SIZE))
                row = int(rng.integers(0, src.height - SIZE))
                x, y = src.transform * (col, row)
            lcol, lrow = (round(v) for v in inverse * (x, y))
            if 0 <= lcol <= lwidth - SIZE and 0 <= lrow <= lheight - SIZE:
                self.windows.append((path, col, row, lcol, lrow))
        self._handles: dict[Path, rasterio.DatasetReader] = {}

    def _open(self, path: Path) -> rasterio.DatasetReader:
        if path not in self._handles:
            self._handles[path] = rasterio.open(path)
        return self._handles[path]

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, '_handles': {}}

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        path, col, row, lcol, lrow = self.windows[i]
        image = self._open(path).read(window=Window(col, row, SIZE, SIZE))
        mask = self._open(self.labels).read(1, window=Window(lcol, lrow, SIZE, SIZE))
        return {
            'image': torch.from_numpy(image[:11].astype(np.float32)),
            'mask': torch.from_numpy(mask.astype(np.int64)),
        }


def throughput(
    dataset: Dataset[dict[str, torch.Tensor]],
    sampler: Iterable[object] | None,
    workers: int,
) -> float:
    loader = DataLoader(
        dataset,
        batch_size=BATCH,
        sampler=sampler,  # type: ignore[arg-type]
        num_workers=workers,
        collate_fn=stack_samples,
        persistent_workers=workers > 0,
    )
    # A first epoch starts the workers and opens the files; the second is timed
    # whole, from the first request to the last batch.
    for batch in loader:
        assert batch['image'].shape[1:] == (11, SIZE, SIZE), batch['image'].shape
        assert batch['mask'].shape[1:] == (SIZE, SIZE)
    start, count = time.perf_counter(), 0
    for batch in loader:
        count += batch['image'].shape[0]
    elapsed = time.perf_counter() - start
    del loader
    return count / elapsed


def use_gdal_cache(size: str) -> None:
    """Run this script with GDAL's block cache set to ``size`` MB.

    GDAL reads ``GDAL_CACHEMAX`` once, when it first caches a block, so the
    script starts again with the variable set (workers inherit it).
    """
    wanted = None if size == 'default' else str(int(size))
    if os.environ.get('GDAL_CACHEMAX') == wanted:
        return
    env = dict(os.environ)
    if wanted is None:
        if 'GDAL_CACHEMAX' not in env:
            return
        del env['GDAL_CACHEMAX']
    else:
        env['GDAL_CACHEMAX'] = wanted
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--samples', type=int, default=96, help='timed samples per run')
    parser.add_argument('--stock-samples', type=int, default=32)
    parser.add_argument(
        '--polygons',
        type=int,
        default=150_000,
        help='polygons of the BwkHab layer (the real map has about 650,000)',
    )
    parser.add_argument('--out', type=Path, help='data folder (default: temporary)')
    parser.add_argument(
        '--gdal-cache',
        default='16',
        help="GDAL block cache in MB, or 'default' for GDAL's own (see above)",
    )
    args = parser.parse_args()
    use_gdal_cache(args.gdal_cache)
    print(f'GDAL_CACHEMAX={os.environ.get("GDAL_CACHEMAX", "GDAL default")}')
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as temporary:
        root = args.out or Path(temporary)
        start = time.perf_counter()
        imagery, shp, label_raster = write_data(root, args.polygons)
        print(f'data written in {time.perf_counter() - start:.1f} s under {root}')
        res = resolution_for(CRS)
        total = args.samples

        def ours(
            labels: object, rule: CloudRule | None = None
        ) -> tuple[BVMSentinel2, object]:
            rule = rule or CloudRule()  # the default: SCL classes 4-7, no dilation
            image = Sentinel2TOC(imagery, crs=CRS, res=res, cloud_rule=rule)
            joint = BVMSentinel2(image, labels, numbers=[22]).for_split('train')  # type: ignore[arg-type]
            spatial = SheetSampler(joint, size=SIZE, length=total, generator=0)
            return joint, spatial @ CentreTimestampSampler(joint, generator=0)

        class ImageOnly(Dataset[dict[str, torch.Tensor]]):
            def __init__(self) -> None:
                self.image = Sentinel2TOC(imagery, crs=CRS, res=res)

            def __getitem__(self, query: object) -> dict[str, torch.Tensor]:
                sample = self.image[query]  # type: ignore[index]
                return {'image': sample['image'], 'mask': sample['valid'].long()}

        def imagery_only() -> tuple[object, object]:
            _, sampler = ours(BVMRaster(label_raster, crs=CRS, res=res))
            return ImageOnly(), sampler

        def stock() -> tuple[object, object]:
            image = OpenEOFiles(imagery, crs=CRS, res=res, bands=list(ALL_BANDS))
            labels = VectorDataset(shp, crs=CRS, res=res)
            joint = image & labels
            spatial = RandomPatchSampler(
                joint, size=SIZE, length=args.stock_samples, generator=0
            )
            return joint, spatial @ RandomTimestampSampler(joint, generator=0)

        files = sorted(imagery.rglob('*.tif'))
        rows: list[tuple[str, int, float]] = []
        pipelines = {
            'raw read': lambda: (
                RawWindows(files, label_raster, 2 * total),
                FreshIndices(total),
            ),
            'Sentinel2TOC alone': imagery_only,
            'ours (vector)': lambda: ours(BVMDataset(shp, crs=CRS, res=res)),
            'ours (raster)': lambda: ours(BVMRaster(label_raster, crs=CRS, res=res)),
            'ours (raster, 400 m)': lambda: ours(
                BVMRaster(label_raster, crs=CRS, res=res), PAPER_CLOUD_RULE
            ),
            'stock (vector)': stock,
        }
        for name, build in pipelines.items():
            for workers in (0, 2):
                dataset, sampler = build()
                rate = throughput(dataset, sampler, workers)  # type: ignore[arg-type]
                rows.append((name, workers, rate))
                print(
                    f'{name:18s} workers={workers}: {rate:8.2f} samples/s', flush=True
                )
        for attempt in ('cold', 'cached'):
            start = time.perf_counter()
            flanders_from_labels([shp], cache_dir=root / 'cache')
            seconds = time.perf_counter() - start
            print(
                f'Flanders from {args.polygons} polygons ({attempt}): {seconds:.2f} s'
            )
        limit = {w: r for n, w, r in rows if n == 'raw read'}
        stock_rate = {w: r for n, w, r in rows if n == 'stock (vector)'}
        print('\n| pipeline | workers | samples/s | vs raw read | vs stock |')
        print('|---|---|---|---|---|')
        for name, workers, rate in rows:
            print(
                f'| {name} | {workers} | {rate:.1f} | {rate / limit[workers]:.2f} | '
                f'{rate / stock_rate[workers]:.1f}x |'
            )


if __name__ == '__main__':
    main()
