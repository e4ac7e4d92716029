"""DataLoader throughput of year-long samples: 12 monthly steps of 256 x 256.

Data (written once under ``--data``): the mini-Flanders at demo size with its
season (``torchgeo_bvm.synth.flanders``: 16 x 10 km over the four ``kbl4``
sheets of sheet 22; 36 Terrascope products of 2022 and 12 monthly composites
per sheet in the openEO downloader's format), and its label raster on the
imagery's 10 m UTM grid. Every measurement runs in this process, with GDAL's
block cache at ``--gdal-cache`` MB (16 by default: as with a real archive, every
window is decompressed; see ``bench_datamodule.py``).

For each source of the months, the training samples of
``BVMDataModule(time_series=True)`` (``SheetSampler @
CalendarYearSampler``: 256 x 256 crops of the train sheets, each the 12 months
of 2022, 11 bands, and the mask), through a DataLoader with 0 and 2 workers,
against the **raw read** of the same windows: for every month, a plain rasterio
window read of each file the sample touches (all its bands) and of the label
window, as tensors. A warm-up epoch starts the workers and opens the files; the
second epoch, on new windows, is timed whole.

* ``composites``: the downloader's monthly composites, read directly (12 x the
  sheet files a window touches);
* ``products``: the 36 products, each month the median of its three dates'
  clear observations computed while reading (the raw read: 36 dates x 12 files).

Memory: the bytes of one sample and one batch (its tensors), and the
proportional set size of the loading processes (main and workers) at the end
of the timed epoch.

Usage::

    .venv/bin/python benchmarks/bench_series.py [--data /tmp/bvm-series]
        [--samples 48] [--gdal-cache 16] [--sources composites products]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import torch
from bench_datamodule import FreshIndices, use_gdal_cache
from rasterio.windows import Window, from_bounds
from torch.utils.data import DataLoader, Dataset
from torchgeo.datasets import stack_samples

from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.synth.flanders import write_mini_flanders
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import ImageryOptions, LabelOptions

SIZE = 256
BATCH = 8
CRS = 'EPSG:32631'
YEAR = 2022


def write_data(root: Path) -> tuple[Path, dict[str, Any], Path]:
    manifest = write_mini_flanders(root / 'mini', 'demo', 0, plot=False, season=True)
    labels = root / 'labels.tif'
    if not labels.exists():
        rasterize_bvm(
            root / 'mini' / manifest['bvm'], labels, crs=CRS, res=10.0, progress=False
        )
    return root / 'mini', manifest, labels


class Epochs:
    """The queries of epoch 0, then those of epoch 1, ... (one list each)."""

    def __init__(self, epochs: list[list[Any]]) -> None:
        self.epochs, self.epoch = epochs, 0

    def __len__(self) -> int:
        return len(self.epochs[0])

    def __iter__(self) -> Iterator[Any]:
        queries, self.epoch = self.epochs[self.epoch], self.epoch + 1
        return iter(queries)


class RawSeries(Dataset[dict[str, torch.Tensor]]):
    """The same windows, read plainly: every file of every month, and the labels."""

    def __init__(self, queries: list[Any], index: Any, labels: Path) -> None:
        self.labels = labels
        self.reads: list[list[tuple[str, tuple[float, float, float, float]]]] = []
        for x, y, t in queries:
            bounds = (x.start, y.start, x.stop, y.stop)
            rows = index.iloc[index.index.overlaps(pd.Interval(t.start, t.stop))]
            rows = rows.cx[x.start : x.stop, y.start : y.stop]
            files = []
            for key in rows['filepath']:
                if os.path.isdir(key):  # a Terrascope product: its 11 bands and SCL
                    names = sorted(os.listdir(key))
                    files += [
                        os.path.join(key, n)
                        for n in names
                        if '_TOC-B' in n or '_SCENECLASSIFICATION_' in n
                    ]
                else:
                    files.append(key)
            self.reads.append([(f, bounds) for f in files])
        self._handles: dict[str, Any] = {}

    def _open(self, path: str) -> Any:
        if path not in self._handles:
            self._handles[path] = rasterio.open(path)
        return self._handles[path]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, '_handles': {}}

    def __len__(self) -> int:
        return len(self.reads)

    def _window(self, path: str, bounds: tuple[float, ...]) -> np.ndarray:
        src = self._open(path)
        window = from_bounds(*bounds, transform=src.transform).round_offsets()
        window = window.round_lengths().intersection(
            Window(0, 0, src.width, src.height)
        )
        return src.read(window=window)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        # Every read cast into a sample-sized float32 tensor, as a loader must
        # (which step a read lands in does not change the cost).
        image = np.zeros((12, 11, SIZE, SIZE), dtype=np.float32)
        for k, (path, bounds) in enumerate(self.reads[i]):
            data = self._window(path, bounds)[:11]
            bands, height, width = data.shape
            image[k % 12, :bands, :height, :width] = data
        labels = self._window(str(self.labels), self.reads[i][0][1])[0]
        mask = np.full((SIZE, SIZE), 255, dtype=np.int64)
        mask[: labels.shape[0], : labels.shape[1]] = labels
        return {
            'image': torch.from_numpy(image),
            'mask': torch.from_numpy(mask),
        }


def pss_mb() -> float:
    """Proportional set size of this process and its children, in MB."""
    pids = [os.getpid()]
    children = Path(f'/proc/{os.getpid()}/task/{os.getpid()}/children')
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        for line in Path(f'/proc/{pid}/smaps_rollup').read_text().splitlines():
            if line.startswith('Pss:'):
                total += int(line.split()[1])
    return total / 1024


def throughput(
    dataset: Dataset[dict[str, torch.Tensor]], sampler: Any, workers: int
) -> tuple[float, float, dict[str, torch.Tensor]]:
    loader = DataLoader(
        dataset,
        batch_size=BATCH,
        sampler=sampler,
        num_workers=workers,
        collate_fn=stack_samples,
        persistent_workers=workers > 0,
    )
    for _ in loader:
        pass  # the warm-up epoch
    start, count = time.perf_counter(), 0
    for batch in loader:
        count += batch['mask'].shape[0]
    elapsed = time.perf_counter() - start
    memory = pss_mb()
    del loader
    return count / elapsed, memory, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('/tmp/bvm-series'))
    parser.add_argument('--samples', type=int, default=48, help='timed samples')
    parser.add_argument('--gdal-cache', default='16')
    parser.add_argument(
        '--sources',
        nargs='+',
        default=['composites', 'products'],
        choices=['composites', 'products'],
    )
    args = parser.parse_args()
    use_gdal_cache(args.gdal_cache)
    print(f'GDAL_CACHEMAX={os.environ.get("GDAL_CACHEMAX", "GDAL default")}')
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    start = time.perf_counter()
    mini, manifest, labels = write_data(args.data)
    print(f'data ready in {time.perf_counter() - start:.1f} s under {args.data}')
    roots = {
        'composites': mini / manifest['season']['composites_root'],
        'products': mini / manifest['season']['products_root'],
    }
    rows = []
    for source in args.sources:
        for workers in (0, 2):
            # A new data module for each run: BVMRaster's open label files
            # (TorchGeo's cached handles) must not be inherited by workers.
            dm = BVMDataModule(
                str(roots[source]),
                str(labels),
                sheets=[22],
                patch_size=SIZE,
                batch_size=BATCH,
                length=args.samples,
                time_series=True,
                imagery=ImageryOptions(
                    crs=CRS, res=10.0, cache_dir=str(args.data / 'cache')
                ),
                labels=LabelOptions(boundary=str(mini / manifest['boundary'])),
            )
            dm.setup('fit')
            assert dm.train_dataset is not None
            image = dm.train_dataset.datasets[0]
            epochs = [list(dm.train_sampler), list(dm.train_sampler)]
            ours, ours_mb, batch = throughput(dm.train_dataset, Epochs(epochs), workers)
            assert batch['image'].shape[1:] == (12, 11, SIZE, SIZE)
            raw_set = RawSeries(epochs[0] + epochs[1], image.index, labels)
            raw, raw_mb, _ = throughput(raw_set, FreshIndices(args.samples), workers)
            files = np.mean([len(r) for r in raw_set.reads])
            sample_mb = sum(v[0].numel() * v.element_size() for v in batch.values())
            batch_mb = sum(v.numel() * v.element_size() for v in batch.values())
            rows.append(
                (
                    source,
                    workers,
                    ours,
                    raw,
                    files,
                    sample_mb,
                    batch_mb,
                    ours_mb,
                    raw_mb,
                )
            )
            print(
                f'{source} workers={workers}: ours {ours:.2f}, raw {raw:.2f} samples/s',
                flush=True,
            )
    print(
        '\n| months from | workers | ours samples/s | raw read samples/s | ours / raw '
        '| files read per sample | MB per sample | MB per batch of 8 '
        '| PSS ours MB | PSS raw MB |'
    )
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for source, workers, ours, raw, files, s_mb, b_mb, o_mb, r_mb in rows:
        print(
            f'| {source} | {workers} | {ours:.2f} | {raw:.2f} | **{ours / raw:.2f}** '
            f'| {files:.0f} | {s_mb / 1e6:.1f} | {b_mb / 1e6:.1f} | {o_mb:,.0f} '
            f'| {r_mb:,.0f} |'
        )


if __name__ == '__main__':
    main()
