"""Which temporal model? Five ways to fuse a year of months, three seeds each.

The experiment of issue 28 on the paper's open question (when and how to fuse
the dates): :class:`~torchgeo_bvm.training.temporal.BVMTemporalSegmentation`
trained with each of its five models on the same data, steps, crops and tiles:

* ``early``: U-Net (ResNet-18) over the 12 months stacked as 132 channels;
* ``convlstm``: TorchGeo's ConvLSTM (two layers of ``--convlstm-hidden``
  channels; with the config's 64 a step of batch 16 took 16.8 s on a 2-core
  CPU);
* ``utae``: U-TAE, the ResNet-18 encoder shared by the months, L-TAE attention;
* ``late``: the ResNet-18 U-Net on every month, the months' logits averaged;
* ``pixel``: L-TAE over every pixel's months, no convolution.

The data: the demo's mini-Flanders (``--size``, ``--seed``, a normal year), its
12 monthly Sentinel-2 composites of 2022 (11 bands, normalised by the train
sheets' statistics), the demo's train, validation and test sheets of ``kbl``
22, ``--patch-size`` crops, ``--batch-size`` and ``--max-steps`` steps, random
initial weights (no download), the validation's best checkpoint tested on the
test sheet's tiles (22/7-8). Each seed sets the weights' initialisation and the
crops (``seed_everything`` and ``sampling.seed``): for one seed, the five models
see the same crops. ``--rare-classes S`` repeats everything with the rare-class
sampler (``sampling.rare_classes: S``).

Reported, mean and spread (sample standard deviation) over the seeds: overall
accuracy, mean IoU of the classes present in the test sheet, IoU of cropland
and grassland and of the two rarest classes (marshes and heath); then the
parameters the model trains, seconds per training step (the median of the
logged steps) and seconds per predicted km2 (``torchgeo predict`` of the test
sheet, seed 0, its wall time over the area mapped).

Usage::

    .venv/bin/python benchmarks/bench_temporal_models.py --workdir /tmp/temporal
        [--seeds 0 1 2] [--max-steps 100] [--rare-classes 0.5]

Writes ``temporal.json`` and prints the tables; finished runs in
``--workdir`` are reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import rasterio
import torch
import yaml
from bench_radar_comparison import fit_and_test, metrics, region, torchgeo
from lightning.pytorch.callbacks import Callback

from torchgeo_bvm.bvm.statistics import split_class_counts
from torchgeo_bvm.demo import DEMO_CONFIG, evaluated_checkpoint
from torchgeo_bvm.maps.files import SIBLING_SUFFIXES
from torchgeo_bvm.training.temporal import TEMPORAL_MODELS, BVMTemporalSegmentation

YEAR = 2022
STEP_TIMES = 'step-seconds.json'
SHOWN = (
    'overall accuracy',
    'mean IoU',
    'IoU cropland',
    'IoU grassland',
    'IoU marshes',
    'IoU heath',
)


def config(
    paths: dict[str, Path],
    run: Path,
    model: str,
    seed: int,
    args: argparse.Namespace,
    rare: float,
) -> Path:
    """The demo's configuration with a temporal model over a year of months."""
    text = resources.files('torchgeo_bvm').joinpath('configs', DEMO_CONFIG).read_text()
    settings = yaml.safe_load(text)
    settings['seed_everything'] = seed
    arguments = settings['model']['init_args']
    settings['model']['class_path'] = (
        'torchgeo_bvm.training.temporal.BVMTemporalSegmentation'
    )
    for key in ('backbone', 'weights'):
        arguments.pop(key)
    arguments.update({'model': model, 'in_channels': 11, 'steps': 12})
    if model in ('convlstm', 'pixel'):
        arguments['hidden_dim'] = args.convlstm_hidden if model == 'convlstm' else 64
    data = settings['data']['init_args']
    data.update(
        {
            'sentinel2_paths': str(paths['optical']),
            'bvm_paths': str(paths['labels']),
            'time_series': True,
            'series': {'temporal': 'monthly', 'stack': 'time'},
            'patch_size': args.patch_size,
            'batch_size': args.batch_size,
            # One epoch: validation once, at the end; its checkpoint is tested.
            'length': args.max_steps * args.batch_size,
            'sampling': {'seed': seed, 'rare_classes': rare},
        }
    )
    data['labels']['boundary'] = str(paths['boundary'])
    data['imagery']['stats'] = str(paths['optical stats'])
    data['prediction'] = {
        'sheets': 'test',
        'years': [YEAR],
        'stride': 48,
        'batch_size': 16,
        'output_dir': str(run / 'predictions'),
    }
    trainer = settings['trainer']
    trainer.update(
        {
            'max_steps': args.max_steps,
            'log_every_n_steps': 1,
            'default_root_dir': str(run),
        }
    )
    trainer['logger']['init_args']['save_dir'] = str(run)
    for callback in trainer['callbacks']:
        options = callback.setdefault('init_args', {})
        if callback['class_path'].endswith('ModelCheckpoint'):
            options['dirpath'] = str(run / 'checkpoints')
        if callback['class_path'].endswith('ConfusionMatrixWriter'):
            options['dirpath'] = str(run / 'evaluation')
    trainer['callbacks'].append(
        {
            'class_path': 'bench_temporal_models.StepTimer',
            'init_args': {'path': str(run / STEP_TIMES)},
        }
    )
    run.mkdir(parents=True, exist_ok=True)
    path = run / 'config.yaml'
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def step_seconds(run: Path) -> float:
    """The median time of a training step (forward, backward, optimiser)."""
    times = json.loads((run / STEP_TIMES).read_text())
    return float(np.median(times[1:] if len(times) > 1 else times))


def parameters(model: str, args: argparse.Namespace) -> int:
    """Parameters that one training step updates (smp keeps unused stages)."""
    hidden = {'convlstm': args.convlstm_hidden, 'pixel': 64}.get(model, 64)
    task = BVMTemporalSegmentation(
        model=model, in_channels=11, num_classes=14, steps=12, hidden_dim=hidden
    )
    images = torch.randn(1, 12, 11, args.patch_size, args.patch_size)
    task(images).sum().backward()
    return sum(p.numel() for p in task.parameters() if p.grad is not None)


def prediction_seconds_per_km2(path: Path) -> float:
    """Time ``torchgeo predict`` of the test sheet; seconds per km2 mapped."""
    run = path.parent
    checkpoint, _ = evaluated_checkpoint(run / 'checkpoints')
    start = time.perf_counter()
    torchgeo(['predict', '--config', str(path), '--ckpt_path', str(checkpoint)])
    seconds = time.perf_counter() - start
    area = 0.0
    for map_path in (run / 'predictions').glob(f'{YEAR}/*.tif'):
        if map_path.stem.endswith(SIBLING_SUFFIXES):
            continue
        with rasterio.open(map_path) as source:
            classes = source.read(1)
            mapped = int((classes != source.nodata).sum())
            area += mapped * abs(source.res[0] * source.res[1]) / 1e6
    return seconds / area


class StepTimer(Callback):
    """Times every training step, from batch start to after the optimiser step.

    Args:
        path: the JSON file the times (seconds) are written to when training ends.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = Path(path)
        self.times: list[float] = []
        self.start = 0.0

    def on_train_batch_start(self, *args: object) -> None:
        """Start the clock."""
        self.start = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        """Stop it."""
        self.times.append(time.perf_counter() - self.start)

    def on_train_end(self, *args: object) -> None:
        """Write the times."""
        self.path.write_text(json.dumps(self.times))


def summary(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation."""
    spread = statistics.stdev(values) if len(values) > 1 else float('nan')
    return statistics.fmean(values), spread


def table(
    results: dict[str, dict[str, list[dict[str, float]]]],
    costs: dict[str, dict[str, float]],
) -> str:
    """Markdown: one row per sampler and model."""
    header = ['sampler', 'model', *SHOWN, 'parameters', 's / step', 's / km2']
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|---|---|' + '---:|' * (len(header) - 2),
    ]
    for sampler, models in results.items():
        for model, runs in models.items():
            cells = []
            for key in SHOWN:
                mean, spread = summary([run[key] for run in runs])
                scale = 100 if key == 'overall accuracy' else 1
                unit = ' %' if key == 'overall accuracy' else ''
                digits = 1 if key == 'overall accuracy' else 3
                cells.append(
                    f'{scale * mean:.{digits}f} ± {scale * spread:.{digits}f}{unit}'
                )
            cost = (
                costs[sampler][model] if sampler in costs else costs['uniform'][model]
            )
            cells += [
                f'{int(cost["parameters"]):,}',
                f'{cost["step seconds"]:.2f}',
                f'{cost["seconds per km2"]:.1f}' if 'seconds per km2' in cost else '',
            ]
            lines.append(f'| {sampler} | {model} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main() -> None:
    """Run the experiment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/temporal'))
    parser.add_argument('--size', default='demo')
    parser.add_argument('--world-seed', type=int, default=0)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--models', nargs='+', default=list(TEMPORAL_MODELS))
    parser.add_argument('--max-steps', type=int, default=100)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--patch-size', type=int, default=64)
    parser.add_argument('--convlstm-hidden', type=int, default=16)
    parser.add_argument('--rare-classes', type=float, default=0.5)
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    start = time.perf_counter()
    paths = region(args.workdir, 'normal year', args.size, args.world_seed)
    counts = split_class_counts(paths['labels'], numbers=[22], progress=False)
    labelled = int(counts.counts['test'].sum())
    samplers = {
        'uniform': 0.0,
        f'rare classes {args.rare_classes:g}': args.rare_classes,
    }
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    costs: dict[str, dict[str, dict[str, float]]] = {}
    for sampler, rare in samplers.items():
        results[sampler], costs[sampler] = {}, {}
        for model in args.models:
            runs = []
            for seed in args.seeds:
                folder = (
                    args.workdir / sampler.replace(' ', '-') / model / f'seed-{seed}'
                )
                path = config(paths, folder, model, seed, args, rare)
                runs.append(metrics(fit_and_test(path), labelled))
                print(sampler, model, seed, runs[-1], flush=True)
            results[sampler][model] = runs
            first = (
                args.workdir
                / sampler.replace(' ', '-')
                / model
                / f'seed-{args.seeds[0]}'
            )
            costs[sampler][model] = {
                'parameters': parameters(model, args),
                'step seconds': statistics.median(
                    step_seconds(first.parent / f'seed-{seed}') for seed in args.seeds
                ),
            }
            if rare == 0.0:
                costs[sampler][model]['seconds per km2'] = prediction_seconds_per_km2(
                    first / 'config.yaml'
                )
    seconds = time.perf_counter() - start
    (args.workdir / 'temporal.json').write_text(
        json.dumps({'results': results, 'costs': costs, 'seconds': seconds}, indent=2)
    )
    print(table(results, costs))
    print(f'wall time: {seconds:.0f} s')


if __name__ == '__main__':
    main()
