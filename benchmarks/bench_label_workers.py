"""Vector labels with DataLoader workers: time to the first batch and total memory.

Writes (once, under ``--data``) a synthetic ``BwkHab`` shapefile in the real
format with 650,000 polygons, the size of the real map
(:func:`torchgeo_bvm.synth.bvm.synthetic_bwkhab`), and runs, each in a fresh
process (so that every run starts with the imports only):

* ``BVMDataset(shp)`` in EPSG:4326 at the 10 m equivalent, 256 x 256 windows
  from ``RandomPatchSampler``, batches of 8, with 0, 2 and 4 workers;
* the time from the dataset's construction to the first batch and until every
  worker has delivered one (so each has its polygons);
* total memory: the proportional set size (PSS, ``/proc/<pid>/smaps_rollup``)
  of the main process and its workers summed, measured once every worker has
  delivered a batch; PSS counts pages shared between the processes (forked
  copy-on-write pages, memory-mapped files) once in total, so the sum is what
  the run costs the machine;
* the size of the pickled dataset, what a worker started with ``spawn``
  receives.

The runs go in this order: 0 workers first (on a cold cache, if the code has
one), then 0, 2 and 4 workers again (``--repeat`` times each). The prepared
polygon cache lives in ``--cache`` (default a fresh folder under ``--data``, so
the first run is cold).

Usage::

    .venv/bin/python benchmarks/bench_label_workers.py [--data /tmp/bvm-archive]
        [--polygons 650000] [--repeat 1]
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

_CHILD = r"""
import json, os, pickle, sys, time, warnings
warnings.simplefilter('ignore')
import torch
from torch.utils.data import DataLoader
from torchgeo.datasets import stack_samples
from torchgeo.samplers import RandomPatchSampler
from torchgeo_bvm.datasets.bvm import BVMDataset

def pss_mb(pid):
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            if line.startswith('Pss:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(pid)

shp, workers = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)
start = time.perf_counter()
ds = BVMDataset(shp)
built = time.perf_counter() - start
sampler = RandomPatchSampler(ds, size=256, length=8 * max(2, 2 * workers), generator=0)
loader = DataLoader(ds, sampler=sampler, batch_size=8, num_workers=workers,
                    collate_fn=stack_samples)
iterator = iter(loader)
first = None
batches = 0
for batch in iterator:
    batches += 1
    assert batch['mask'].shape == (8, 256, 256)
    if first is None:
        first = time.perf_counter() - start
    if batches >= max(1, workers):
        break
every = time.perf_counter() - start
pids = [os.getpid()] + [w.pid for w in getattr(iterator, '_workers', [])]
pss = [pss_mb(pid) for pid in pids]
print(json.dumps({'workers': workers, 'construct_s': built, 'first_batch_s': first,
                  'every_worker_s': every, 'pss_mb': pss, 'pss_total_mb': sum(pss),
                  'pickled_mb': len(pickle.dumps(ds)) / 1e6}))
"""


def layer(data: Path, polygons: int) -> Path:
    path = data / f'bwkhab_{polygons}' / 'BwkHab.shp'
    if not path.exists():
        from torchgeo_bvm.synth.bvm import synthetic_bwkhab, write_bwkhab

        start = time.perf_counter()
        write_bwkhab(synthetic_bwkhab(polygons, seed=0), path)
        print(f'wrote {polygons} polygons in {time.perf_counter() - start:.0f} s')
    return path


def run(shp: Path, workers: int, cache: Path) -> dict[str, object]:
    env = dict(os.environ, TORCHGEO_BVM_CACHE=str(cache))
    child = subprocess.run(
        [sys.executable, '-c', _CHILD, str(shp), str(workers)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, object] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('/tmp/bvm-archive'))
    parser.add_argument('--polygons', type=int, default=650_000)
    parser.add_argument('--repeat', type=int, default=1)
    parser.add_argument('--cache', type=Path, help='cache folder (default: fresh)')
    args = parser.parse_args()
    shp = layer(args.data, args.polygons)
    cache = args.cache or args.data / 'cache-labels'
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)
    rows = [('first run', run(shp, 0, cache))]
    print(json.dumps(rows[-1][1]), flush=True)
    for _ in range(args.repeat):
        for workers in (0, 2, 4):
            rows.append(('again', run(shp, workers, cache)))
            print(json.dumps(rows[-1][1]), flush=True)
    base = [r for label, r in rows if label == 'again' and r['workers'] == 0]
    base_pss = sum(float(r['pss_total_mb']) for r in base) / len(base)  # type: ignore[arg-type]
    print(
        '\n| run | workers | construct s | first batch s | every worker s '
        '| PSS total MB | vs 0 workers | pickled MB |'
    )
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    for label, r in rows:
        total = float(r['pss_total_mb'])  # type: ignore[arg-type]
        print(
            f'| {label} | {r["workers"]} | {r["construct_s"]:.2f} '
            f'| {r["first_batch_s"]:.2f} | {r["every_worker_s"]:.2f} '
            f'| {total:.0f} | {total / base_pss:.2f} | {r["pickled_mb"]:.2f} |'
        )


if __name__ == '__main__':
    main()
