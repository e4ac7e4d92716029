"""Benchmark: tile seams of the fused map against the one-date patchwork.

On the demo's test sheet (22/7-8 of the mini-Flanders) and with the demo's
trained model, measures in one run:

* **patchwork** (the baseline: ``torchgeo predict`` before fusion): the test
  tiles of the data module side by side (``SheetGridSampler``, no
  overlap), each predicted on one date chosen by a hash of its location
  (``CentreTimestampSampler(per_location=True)``), every pixel taken from its
  tile, clouds not masked;
* **fused**: ``SheetPredictionWriter`` on every date of the year (tiles
  overlapping by half, probabilities weighted by clear x the tile taper).

For each map: the rate of class changes between 4-neighbours across the tile
borders of its own tiling and elsewhere, and their ratio (the goal: at most 1.2
for the fused map); the fused map also at the patchwork's borders; the share of
the sheet with a class; agreement with the BVM labels where both have a class;
and wall times.

The model is the demo's evaluated checkpoint (``make demo``, 200 training
steps). Without ``--demo`` or when the folder holds no checkpoint, the script
first runs the demo into ``--workdir`` with a short training (``--max-steps``,
default 40) and says so: its model is weaker, its seams the same kind.

Usage::

    .venv/bin/python benchmarks/bench_seams.py --demo demo-output [--year 2020]
    .venv/bin/python benchmarks/bench_seams.py --workdir /tmp/bench_seams --max-steps 40
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import torch
import yaml
from lightning.pytorch import Trainer
from rasterio.enums import Resampling
from rasterio.warp import reproject

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.demo import evaluated_checkpoint, run_demo
from torchgeo_bvm.maps.fusion import SheetFusion
from torchgeo_bvm.maps.seams import SeamRates, seam_rates, tile_borders
from torchgeo_bvm.sheets.plan import PredictionPlan
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.spatial.scanline import polygon_coverage
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
)
from torchgeo_bvm.training.prediction import SheetPredictionWriter
from torchgeo_bvm.training.tasks import BVMSemanticSegmentation

GOAL = 1.2


def demo_folder(args: argparse.Namespace) -> tuple[Path, str]:
    """A demo output with a checkpoint, and how it was trained."""
    if args.demo is not None:
        checkpoints = args.demo / 'training' / 'checkpoints'
        if any(checkpoints.glob('*.ckpt')):
            return args.demo, 'the demo checkpoint (`make demo`)'
    out = args.workdir / 'demo'
    run_demo(out, max_steps=args.max_steps, progress=False)
    return out, f'a short training of {args.max_steps} steps (no demo output given)'


def load(
    demo: Path, year: int, stride: int | None
) -> tuple[BVMDataModule, BVMSemanticSegmentation]:
    settings = yaml.safe_load((demo / 'demo.yaml').read_text())['data']['init_args']
    settings.update(
        num_workers=0,
        imagery=ImageryOptions(**settings['imagery']),
        labels=LabelOptions(**settings['labels']),
        prediction=PredictionOptions(
            sheets='test', years=[year], stride=stride, period_folder=False
        ),
    )
    checkpoint, _ = evaluated_checkpoint(demo / 'training' / 'checkpoints')
    task = BVMSemanticSegmentation.load_from_checkpoint(checkpoint, map_location='cpu')
    task.eval()
    return BVMDataModule(**settings), task


Maps = dict[int, tuple[np.ndarray, Grid, list[int], list[int]]]


def inside_mask(sampler: Any, index: int, grid: Grid) -> np.ndarray:
    """The sheet's pixels inside Flanders and the data (where a map has classes)."""
    region = sampler.region
    allowed = region.allowed[region.indices.index(index)]
    return polygon_coverage(shapely.get_parts(allowed), grid.transform, grid.shape)


def patchwork(dm: BVMDataModule, task: BVMSemanticSegmentation) -> Maps:
    """The test tiles, one date each, side by side: classes per test sheet."""
    dm.setup('test')
    sampler = dm.test_sampler.spatial_sampler  # type: ignore[union-attr]
    sheets: dict[int, tuple[SheetFusion, int, int]] = {}
    starts: dict[int, tuple[set[int], set[int]]] = {}
    tiles = iter(sampler.tiles)
    flat = np.ones((sampler.size, sampler.size), np.float32)
    with torch.no_grad():
        for batch in dm.test_dataloader():
            batch = dm.aug(batch)
            probabilities = task(batch['image']).softmax(dim=1).numpy()
            for tile in probabilities:
                index, column, row = next(tiles)
                if index not in sheets:
                    c0, r0, c1, r1 = sampler.layout.pixel_box(index, sampler.grid)
                    grid = Grid(
                        sampler.layout.crs,
                        sampler.grid.window_transform(c0, r0),
                        c1 - c0,
                        r1 - r0,
                    )
                    sheets[index] = (SheetFusion(grid, tile.shape[0]), c0, r0)
                    starts[index] = (set(), set())
                fusion, c0, r0 = sheets[index]
                # One observation, every pixel counted, no taper: the tile's
                # own classes, as the writer of one date per tile stitched them.
                fusion.add(tile, flat > 0, column - c0, row - r0, 0, flat)
                starts[index][0].add(column - c0)
                starts[index][1].add(row - r0)
    result = {}
    for index, (fusion, _, _) in sheets.items():
        classes = fusion.classes()
        # That writer gave every pixel inside Flanders and the data a class,
        # clouds or not.
        classes[~inside_mask(sampler, index, fusion.grid)] = IGNORE_INDEX
        columns, rows = starts[index]
        result[index] = (classes, fusion.grid, sorted(columns), sorted(rows))
    return result


def fused(dm: BVMDataModule, task: BVMSemanticSegmentation, out: Path) -> Maps:
    """The fused map of the test sheets (``SheetPredictionWriter``): classes per sheet."""
    if out.exists():
        shutil.rmtree(out)
    writer = SheetPredictionWriter(out, preview=False, mosaic=False)
    trainer = Trainer(
        accelerator='cpu',
        devices=1,
        logger=False,
        enable_progress_bar=False,
        callbacks=[writer],
    )
    trainer.predict(task, datamodule=dm)
    result = {}
    for sheet in plan_of(dm).sheets:
        c0, r0 = sheet.origin
        with rasterio.open(out / f'{sheet.sheet.file_safe}.tif') as src:
            classes = src.read(1)
            grid = Grid.of_file(src)
        columns = sorted({int(c) - c0 for c in sheet.tiles[:, 0]})
        rows = sorted({int(r) - r0 for r in sheet.tiles[:, 1]})
        result[sheet.index] = (classes, grid, columns, rows)
    return result


def plan_of(dm: BVMDataModule) -> PredictionPlan:
    """The prediction plan of the data module's run."""
    plan = getattr(dm.predict_sampler, 'plan', None)
    assert isinstance(plan, PredictionPlan)
    return plan


def rates(maps: Maps, size: int, borders_of: Maps | None = None) -> SeamRates:
    """Seam counts of the sheets together, at their own tile borders or others'."""
    total = SeamRates(0, 0, 0, 0)
    for index, (classes, _, columns, rows) in maps.items():
        if borders_of is not None:
            _, _, columns, rows = borders_of[index]
        height, width = classes.shape
        total += seam_rates(
            classes,
            tile_borders(columns, size, width),
            tile_borders(rows, size, height),
        )
    return total


def agreement(
    maps: Maps, labels: Path, masks: dict[int, np.ndarray]
) -> tuple[float, float]:
    """(share of the pixels inside Flanders and the data with a class, agreement
    with the BVM labels where both have one)."""
    classed = total = agree = compared = 0
    with rasterio.open(labels) as src:
        for index, (classes, grid, _, _) in maps.items():
            truth = np.full(classes.shape, IGNORE_INDEX, np.uint8)
            reproject(
                rasterio.band(src, 1),
                truth,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                dst_nodata=IGNORE_INDEX,
                resampling=Resampling.nearest,
            )
            has = classes != IGNORE_INDEX
            both = has & (truth != IGNORE_INDEX)
            classed += int(has.sum())
            total += int(masks[index].sum())
            agree += int((classes[both] == truth[both]).sum())
            compared += int(both.sum())
    return classed / max(total, 1), agree / max(compared, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demo', type=Path, help='a demo output with a checkpoint')
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/bench_seams'))
    parser.add_argument('--year', type=int, default=2020, help='the fused year')
    parser.add_argument('--max-steps', type=int, default=40)
    parser.add_argument(
        '--stride', type=int, help='fused tiles every N px (default: half a tile)'
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings('ignore', category=UserWarning)

    demo, trained = demo_folder(args)
    dm, task = load(demo, args.year, args.stride)
    size = int(dm.patch_size)  # type: ignore[arg-type]
    start = time.perf_counter()
    before = patchwork(dm, task)
    patchwork_s = time.perf_counter() - start
    start = time.perf_counter()
    after = fused(dm, task, args.workdir / 'fused')
    fused_s = time.perf_counter() - start
    plan = plan_of(dm)
    dates = {len(s.times) for s in plan.sheets}
    masks = {s.index: s.mask() for s in plan.sheets}

    rows: list[tuple[str, SeamRates, Any, float]] = []
    labels = Path(dm.check().bvm_paths[0])
    for name, maps, borders, seconds in (
        ('patchwork, one date per tile (baseline)', before, None, patchwork_s),
        (f'fused, every date of {args.year}', after, None, fused_s),
        ('fused, at the patchwork tile borders', after, before, float('nan')),
    ):
        shares = agreement(maps, labels, masks)
        rows.append((name, rates(maps, size, borders), shares, seconds))
    sheets = ', '.join(s.sheet.code for s in plan.sheets)
    stride = plan.stride
    print(
        f'model: {trained}; sheets {sheets}; {size} px tiles, fused every {stride} '
        f'px; dates per sheet: {sorted(dates)}'
    )
    print(
        '| map | change rate across tile borders | elsewhere | ratio | pixels with '
        'a class | agree with BVM labels | wall s |'
    )
    print('|---|---:|---:|---:|---:|---:|---:|')
    for name, seam, (share, agree), seconds in rows:
        print(
            f'| {name} | {seam.border_rate:.4f} ({seam.border_pairs:,} pairs) | '
            f'{seam.other_rate:.4f} | **{seam.ratio:.2f}** | {share:.1%} | '
            f'{agree:.1%} | {seconds:.1f} |'
        )
    ratio = rows[1][1].ratio
    print(f'goal: fused ratio <= {GOAL}: {"met" if ratio <= GOAL else "NOT met"}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
