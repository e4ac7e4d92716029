"""Training throughput of the paper's configuration: does the data loader keep the GPU busy?

The paper's setting: TorchGeo's SemanticSegmentation task, U-Net with a VGG16
encoder, all 11 bands, batch 8, 256 x 256 patches, fed by BVMDataModule. Measured
in one run, on the same model and device:

* ``model only``: training steps on batches already on the device (the upper
  bound: what the GPU can do when data costs nothing);
* ``pipeline, N workers``: ``Trainer.fit`` with the real data module and N
  DataLoader workers, for each N given.

Reported: steps/s, samples/s, the ratio pipeline / model-only (>= 0.9 means the
loader keeps the device busy), and on CUDA the mean GPU utilisation sampled by
``torch.cuda.utilization`` (NVML) during the run.

The data is the embedded mini-Flanders (``--size demo`` by default), written once
into ``--data``; imagery and labels are joined in EPSG:4326 (the paper's choice:
every read is warped from the products' UTM grid) or, with ``--crs EPSG:32631``,
on the products' own grid.

Run::

    python benchmarks/bench_training.py --steps 50 --workers 0 4 8
    python benchmarks/bench_training.py --device cpu --steps 5 --patch-size 64 --workers 0 2
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import warnings
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.synth.flanders import write_mini_flanders
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import ImageryOptions, LabelOptions


class StepTimer(Callback):
    """Wall-clock time of the training steps after a warm-up."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.steps = 0

    def on_train_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: object,
        batch_idx: int,
    ) -> None:
        if trainer.global_step == self.warmup and self.start is None:
            _synchronise()
            self.start = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: object,
        batch_idx: int,
    ) -> None:
        if self.start is not None:
            self.steps += 1
            _synchronise()
            self.end = time.perf_counter()

    def seconds(self) -> float:
        # From the first timed step to the end of the last: validation, which
        # follows the epoch, is not counted.
        assert self.start is not None
        assert self.end is not None
        return self.end - self.start


class Utilisation:
    """Samples torch.cuda.utilization() every 0.2 s in a thread."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(int(torch.cuda.utilization()))
            except Exception:  # NVML missing: no utilisation figures
                return
            time.sleep(0.2)

    def __enter__(self) -> Utilisation:
        if torch.cuda.is_available():
            self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._stop.set()

    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def _synchronise() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def task(channels: int) -> SemanticSegmentation:
    return SemanticSegmentation(
        model='unet',
        backbone='vgg16',
        weights=None,  # the paper used ImageNet weights; speed is the same
        in_channels=channels,
        num_classes=NUM_CLASSES,
        ignore_index=IGNORE_INDEX,
    )


def model_only(args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    model = task(11).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    image = torch.randn(
        args.batch_size, 11, args.patch_size, args.patch_size, device=device
    )
    mask = torch.randint(
        0,
        NUM_CLASSES,
        (args.batch_size, args.patch_size, args.patch_size),
        device=device,
    )
    with Utilisation() as utilisation:
        for step in range(args.warmup + args.steps):
            if step == args.warmup:
                _synchronise()
                start = time.perf_counter()
            loss = model.criterion(model(image), mask)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        _synchronise()
        seconds = time.perf_counter() - start
    return _figures(args, args.steps, seconds, utilisation.mean())


def pipeline(
    args: argparse.Namespace, workers: int, data: Path, labels: Path, boundary: Path
) -> dict[str, float]:
    datamodule = BVMDataModule(
        sentinel2_paths=str(data / 'TOC_V2'),
        bvm_paths=str(labels),
        sheets=[22],
        imagery=ImageryOptions(bands='all', crs=args.crs),
        labels=LabelOptions(boundary=str(boundary)),
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        length=args.batch_size * (args.warmup + args.steps),
        num_workers=workers,
    )
    timer = StepTimer(args.warmup)
    trainer = Trainer(
        accelerator=args.device,
        devices=1,
        max_steps=args.warmup + args.steps,
        # One validation batch: TorchGeo's ReduceLROnPlateau needs a val_loss.
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    with Utilisation() as utilisation, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        trainer.fit(task(11), datamodule=datamodule)
    return _figures(args, timer.steps, timer.seconds(), utilisation.mean())


def _figures(
    args: argparse.Namespace, steps: int, seconds: float, utilisation: float | None
) -> dict[str, float]:
    figures = {
        'steps': steps,
        'seconds': seconds,
        'steps/s': steps / seconds,
        'samples/s': steps * args.batch_size / seconds,
    }
    if utilisation is not None:
        figures['gpu %'] = utilisation
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('/tmp/bench-training'))
    parser.add_argument('--size', default='demo')
    parser.add_argument('--crs', default='EPSG:4326')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu'
    )
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--patch-size', type=int, default=256)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 4, 8])
    args = parser.parse_args()

    manifest = write_mini_flanders(args.data / 'mini', args.size, plot=False)
    labels = args.data / f'labels-{args.crs.replace(":", "")}.tif'
    if not labels.exists():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            res = 10.0 if args.crs != 'EPSG:4326' else None
            rasterize_bvm(
                args.data / 'mini' / manifest['bvm'],
                labels,
                crs=args.crs,
                res=res,
                progress=False,
            )
    device = torch.device('cuda' if args.device in ('cuda', 'gpu') else 'cpu')
    name = torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'
    print(
        f'device: {name}; U-Net VGG16, 11 bands, batch {args.batch_size}, {args.patch_size} px, {args.steps} timed steps after {args.warmup}'
    )
    results = {'model only': model_only(args, device)}
    for workers in args.workers:
        results[f'pipeline, {workers} workers'] = pipeline(
            args,
            workers,
            args.data / 'mini',
            labels,
            args.data / 'mini' / manifest['boundary'],
        )
    baseline = results['model only']['samples/s']
    print('| run | steps/s | samples/s | vs model only | GPU % |')
    print('|---|---:|---:|---:|---:|')
    for run, figures in results.items():
        gpu = f'{figures["gpu %"]:.0f}' if 'gpu %' in figures else 'n/a'
        print(
            f'| {run} | {figures["steps/s"]:.2f} | {figures["samples/s"]:.1f} | {figures["samples/s"] / baseline:.2f} | {gpu} |'
        )
    print(json.dumps(results))


if __name__ == '__main__':
    main()
