"""DataLoader throughput of Sentinel1Sigma0: a year of radar, 256 x 256 windows.

Data (written once under ``--data``): the mini-Flanders at demo size with its
radar (``torchgeo_bvm.synth.flanders``, ``radar=True``: 16 x 10 km, the 61
Sentinel-1A passes of 2022 as Terrascope sigma0 products, and the ascending
monthly means of each ``kbl4`` sheet in the openEO downloader's format).
Every measurement runs in this process, with GDAL's block cache at
``--gdal-cache`` MB (16 by default: every window is decompressed, as with a
real archive).

Samples: ``Sentinel1Sigma0(time_series=True)`` (ascending passes, VV and VH,
linear) on random 256 x 256 windows of the imagery grid and the calendar year
2022: ``image`` ``[12, 2, 256, 256]``, ``valid`` and ``dates``, batches of 8
through a DataLoader with 0 and 2 workers; a warm-up epoch, then a second
epoch on new windows timed whole. Baseline (**raw read**): the same windows
read with plain rasterio window reads of every file the sample touches (both
bands), cast into a sample-sized float32 tensor, through the same DataLoader.

* ``composites``: the downloader's monthly means, read as they are (12 x the
  sheet files a window touches);
* ``products``: the 30 ascending passes, each month the mean of its 2-3
  passes computed while reading (the raw read: 30 products x 2 files);
* ``products, dB + ratio``: the same, returned as VV, VH and VH/VV in dB.

Usage::

    .venv/bin/python benchmarks/bench_sentinel1.py [--data /tmp/bvm-radar]
        [--samples 48] [--gdal-cache 16]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import torch
from bench_datamodule import FreshIndices, use_gdal_cache
from bench_series import Epochs, pss_mb
from rasterio.windows import Window, from_bounds, intersect
from torch.utils.data import DataLoader, Dataset
from torchgeo.datasets import stack_samples

from torchgeo_bvm.datasets import Sentinel1Sigma0
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.synth.flanders import write_mini_flanders

SIZE = 256
BATCH = 8
YEAR = 2022


def write_data(root: Path) -> tuple[Path, dict[str, Any]]:
    manifest = write_mini_flanders(root / 'mini', 'demo', 0, plot=False, radar=True)
    return root / 'mini', manifest


def windows(manifest: dict[str, Any], count: int, seed: int) -> list[Any]:
    """Random 256 x 256 windows on the imagery's 10 m grid, the year 2022."""
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    rng = np.random.default_rng(seed)
    cols = int((xmax - xmin) / 10) - SIZE
    rows = int((ymax - ymin) / 10) - SIZE
    queries = []
    for _ in range(count):
        left = xmin + 10 * int(rng.integers(cols))
        bottom = ymin + 10 * int(rng.integers(rows))
        queries.append(
            (
                slice(left, left + 10 * SIZE),
                slice(bottom, bottom + 10 * SIZE),
                calendar_year(YEAR),
            )
        )
    return queries


class RawRadar(Dataset[dict[str, torch.Tensor]]):
    """The same windows, read plainly: both bands of every file they touch."""

    def __init__(self, queries: list[Any], index: Any) -> None:
        self.reads: list[list[tuple[str, tuple[float, float, float, float]]]] = []
        for x, y, t in queries:
            bounds = (x.start, y.start, x.stop, y.stop)
            found = index.iloc[index.index.overlaps(pd.Interval(t.start, t.stop))]
            found = found.cx[x.start : x.stop, y.start : y.stop]
            files = []
            for key in found['filepath']:
                if os.path.isdir(key):  # a Terrascope product: its VV and VH files
                    name = os.path.basename(key)
                    files += [
                        os.path.join(key, f'{name}_{b}.tif') for b in ('VV', 'VH')
                    ]
                else:
                    files.append(key)
            self.reads.append([(f, bounds) for f in files])
        self._handles: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, '_handles': {}}

    def __len__(self) -> int:
        return len(self.reads)

    def _window(self, path: str, bounds: tuple[float, ...]) -> np.ndarray:
        if path not in self._handles:
            self._handles[path] = rasterio.open(path)
        src = self._handles[path]
        window = from_bounds(*bounds, transform=src.transform).round_offsets()
        window, whole = window.round_lengths(), Window(0, 0, src.width, src.height)
        if not intersect([window, whole]):  # a file that only touches the window
            return np.empty((src.count, 0, 0), dtype=np.float32)
        return src.read(window=window.intersection(whole))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        # Every read cast into a sample-sized float32 tensor, as a loader must
        # (which step a read lands in does not change the cost).
        image = np.zeros((12, 2, SIZE, SIZE), dtype=np.float32)
        for k, (path, bounds) in enumerate(self.reads[i]):
            data = self._window(path, bounds)[:2]
            bands, height, width = data.shape
            image[k % 12, :bands, :height, :width] = data
        return {'image': torch.from_numpy(image)}


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
        count += batch['image'].shape[0]
    elapsed = time.perf_counter() - start
    memory = pss_mb()
    del loader
    return count / elapsed, memory, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('/tmp/bvm-radar'))
    parser.add_argument('--samples', type=int, default=48, help='timed samples')
    parser.add_argument('--gdal-cache', default='16')
    args = parser.parse_args()
    use_gdal_cache(args.gdal_cache)
    print(f'GDAL_CACHEMAX={os.environ.get("GDAL_CACHEMAX", "GDAL default")}')
    warnings.simplefilter('ignore')
    torch.set_num_threads(1)
    start = time.perf_counter()
    mini, manifest = write_data(args.data)
    print(f'data ready in {time.perf_counter() - start:.1f} s under {args.data}')
    radar = manifest['radar']
    sources: dict[str, tuple[Path, dict[str, Any]]] = {
        'composites': (mini / radar['composites_root'], {}),
        'products': (mini / radar['products_root'], {}),
        'products, dB + ratio': (
            mini / radar['products_root'],
            {'decibels': True, 'bands': 'ratio'},
        ),
    }
    rows = []
    for seed, (source, (root, options)) in enumerate(sources.items()):
        for workers in (0, 2):
            dataset = Sentinel1Sigma0(
                root, time_series=True, cache_dir=args.data / 'cache', **options
            )
            epochs = [
                windows(manifest, args.samples, 2 * seed + workers + 10 * k)
                for k in range(2)
            ]
            ours, ours_mb, batch = throughput(dataset, Epochs(epochs), workers)
            assert batch['image'].shape[1:] == (12, len(dataset.bands), SIZE, SIZE)
            raw_set = RawRadar(epochs[0] + epochs[1], dataset.index)
            raw, raw_mb, _ = throughput(raw_set, FreshIndices(args.samples), workers)
            files = np.mean([len(r) for r in raw_set.reads])
            sample_mb = sum(
                v[0].numel() * v.element_size()
                for v in batch.values()
                if isinstance(v, torch.Tensor)
            )
            rows.append((source, workers, ours, raw, files, sample_mb, ours_mb, raw_mb))
            print(
                f'{source} workers={workers}: ours {ours:.2f}, raw {raw:.2f} samples/s',
                flush=True,
            )
    print(
        '\n| months from | workers | ours samples/s | raw read samples/s | ours / raw '
        '| files read per sample | MB per sample | PSS ours MB | PSS raw MB |'
    )
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for source, workers, ours, raw, files, s_mb, o_mb, r_mb in rows:
        print(
            f'| {source} | {workers} | {ours:.2f} | {raw:.2f} | **{ours / raw:.2f}** '
            f'| {files:.0f} | {s_mb / 1e6:.1f} | {o_mb:,.0f} | {r_mb:,.0f} |'
        )


if __name__ == '__main__':
    main()
