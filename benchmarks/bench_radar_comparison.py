"""Sentinel-2, Sentinel-1 and both, on a normal and a very cloudy year.

The experiment of issue 27, with the demo's network, steps and tiles: the
demo's U-Net (``torchgeo_bvm/configs/demo.yaml``: ResNet-18 encoder, random
weights, 64 x 64 crops, batch 16, ``--max-steps`` steps, the same train,
validation and test sheets of ``kbl`` 22) trained on a year (2022) of monthly
steps stacked as channels (early fusion), with three inputs:

* ``S2``: the 12 monthly Sentinel-2 composites (11 bands: 132 channels);
* ``S1``: the 12 ascending Sentinel-1 monthly means (VV, VH in dB: 24);
* ``S1+S2``: both, each month's Sentinel-2 bands then its VV and VH (156),
  a pixel valid on a month where either sensor has data.

Each input is trained and tested on two mini-Flanders regions of the same
landscape (``--seed``) that differ only in their weather: a normal year
(``sunshine=1``, Uccle's monthly normals) and a very cloudy one
(``sunshine=0.56``,
:data:`~torchgeo_bvm.synth.flanders.weather.DULL_YEAR_SUNSHINE`: the dullest
season on record at Uccle, spring 1983, all year long). The radar is the same
in both years (clouds do not touch it), so ``S1`` is trained once and its row
stands for both years.

Reported per run, on the test sheet's tiles: overall accuracy, mean IoU of the
classes present, IoU of grassland, cropland, marshes and heath, and the share
of the test sheet's labelled pixels that get a prediction (a pixel is scored
where it is valid on at least one month: ``series.min_clear = 1``).

Usage::

    .venv/bin/python benchmarks/bench_radar_comparison.py --workdir /tmp/radar-compare
        [--size demo] [--seed 0] [--max-steps 200]

Writes ``comparison.json`` and prints the table and the wall time; what is
already in ``--workdir`` (regions, checkpoints, confusion matrices) is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.bvm.statistics import split_class_counts
from torchgeo_bvm.datasets import Sentinel1Sigma0, Sentinel2TOC
from torchgeo_bvm.demo import (
    DEMO_CONFIG,
    DEMO_CRS,
    evaluated_checkpoint,
    evaluation_from_confusion,
)
from torchgeo_bvm.sheets.boundary import read_boundary
from torchgeo_bvm.synth.flanders import write_mini_flanders
from torchgeo_bvm.synth.flanders.weather import DULL_YEAR_SUNSHINE
from torchgeo_bvm.training.normalization import compute_band_stats

YEAR = 2022
WEATHERS = {'normal year': 1.0, 'very cloudy year': DULL_YEAR_SUNSHINE}
INPUTS = ('S2', 'S1', 'S1+S2')
CLASSES = {
    'grassland': 'Grasslands',
    'cropland': 'Cultivated land',
    'marshes': 'Inland marshes',
    'heath': 'Heathland',
}


def region(workdir: Path, weather: str, size: str, seed: int) -> dict[str, Path]:
    """A mini-Flanders of one weather, its labels and band statistics."""
    folder = workdir / weather.replace(' ', '-')
    manifest = write_mini_flanders(
        folder / 'data',
        size,
        seed,
        plot=False,
        season=True,
        radar=True,
        sunshine=WEATHERS[weather],
    )
    data = folder / 'data'
    paths = {
        'folder': folder,
        'optical': data / manifest['season']['composites_root'],
        'radar': data / manifest['radar']['composites_root'],
        'boundary': data / manifest['boundary'],
        'labels': folder / 'labels.tif',
        'optical stats': folder / 'band-stats.json',
        'radar stats': folder / 'radar-stats.json',
    }
    if not paths['labels'].exists():
        rasterize_bvm(data / manifest['bvm'], paths['labels'], crs=DEMO_CRS, res=10.0)
    flanders = read_boundary(paths['boundary'])
    for key, dataset in (
        ('optical stats', lambda: Sentinel2TOC(paths['optical'], crs=DEMO_CRS)),
        (
            'radar stats',
            lambda: Sentinel1Sigma0(paths['radar'], crs=DEMO_CRS, decibels=True),
        ),
    ):
        if not paths[key].exists():
            statistics = compute_band_stats(
                dataset(), numbers=[22], flanders=flanders, progress=False
            )
            statistics.write(paths[key])
    return paths


def config(paths: dict[str, Path], inputs: str, max_steps: int) -> Path:
    """The demo's configuration on a year of ``inputs``."""
    text = resources.files('torchgeo_bvm').joinpath('configs', DEMO_CONFIG).read_text()
    settings = yaml.safe_load(text)
    run = paths['folder'] / inputs.replace('+', '')
    data = settings['data']['init_args']
    data.update(
        {
            'sentinel2_paths': str(paths['optical']) if 'S2' in inputs else None,
            'bvm_paths': str(paths['labels']),
            'time_series': True,
            'series': {'temporal': 'monthly', 'stack': 'channels'},
        }
    )
    data['labels']['boundary'] = str(paths['boundary'])
    data['imagery']['stats'] = str(paths['optical stats']) if 'S2' in inputs else None
    data['prediction'] = {'output_dir': str(run / 'predictions')}
    channels = 0
    if 'S2' in inputs:
        channels += 11
    if 'S1' in inputs:
        data['sentinel1_paths'] = str(paths['radar'])
        data['radar'] = {'stats': str(paths['radar stats'])}
        channels += 2
    settings['model']['init_args']['in_channels'] = 12 * channels
    trainer = settings['trainer']
    trainer['max_steps'] = max_steps
    # An epoch no longer than the training: validation runs, a best checkpoint
    # exists (as the demo does).
    data['length'] = min(data['length'], max_steps * data['batch_size'])
    trainer['log_every_n_steps'] = min(trainer['log_every_n_steps'], max_steps)
    trainer['default_root_dir'] = str(run)
    trainer['logger']['init_args']['save_dir'] = str(run)
    for callback in trainer['callbacks']:
        arguments = callback.setdefault('init_args', {})
        if callback['class_path'].endswith('ModelCheckpoint'):
            arguments['dirpath'] = str(run / 'checkpoints')
        if callback['class_path'].endswith('ConfusionMatrixWriter'):
            arguments['dirpath'] = str(run / 'evaluation')
    run.mkdir(parents=True, exist_ok=True)
    path = run / 'config.yaml'
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def torchgeo(arguments: list[str]) -> None:
    """TorchGeo's command line in this process, its GDAL settings undone after."""
    from torchgeo.main import main

    saved, argv = dict(os.environ), sys.argv
    sys.argv = ['torchgeo']
    try:
        main(arguments)
    finally:
        sys.argv = argv
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def fit_and_test(path: Path) -> pd.DataFrame:
    """Train (unless done) and test a run; its test confusion matrix."""
    run = path.parent
    if not any((run / 'checkpoints').glob('*.ckpt')):
        torchgeo(['fit', '--config', str(path)])
    confusion = run / 'evaluation' / 'confusion_matrix.csv'
    if not confusion.exists():
        checkpoint, _ = evaluated_checkpoint(run / 'checkpoints')
        torchgeo(['test', '--config', str(path), '--ckpt_path', str(checkpoint)])
    return pd.read_csv(confusion, index_col=0)


def metrics(matrix: pd.DataFrame, labelled: int) -> dict[str, float]:
    """The table's numbers of one run."""
    overall, iou = evaluation_from_confusion(matrix)
    present = [str(c) for c, n in matrix.sum(axis=1).items() if n > 0]
    return {
        'overall accuracy': overall,
        'mean IoU': float(np.mean([iou[c] for c in present])),
        **{
            f'IoU {short}': iou.get(name, float('nan'))
            for short, name in CLASSES.items()
        },
        'share predicted': float(matrix.to_numpy().sum()) / labelled,
    }


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown: one row per weather and input."""
    keys = list(next(iter(next(iter(results.values())).values())))
    lines = [
        '| year | input | ' + ' | '.join(keys) + ' |',
        '|---|---|' + '---:|' * len(keys),
    ]
    for weather, runs in results.items():
        for inputs, values in runs.items():
            cells = [
                f'{100 * values[k]:.1f} %'
                if k in ('overall accuracy', 'share predicted')
                else f'{values[k]:.3f}'
                for k in keys
            ]
            lines.append(f'| {weather} | {inputs} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main() -> None:
    """Run the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', type=Path, default=Path('/tmp/radar-compare'))
    parser.add_argument('--size', default='demo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-steps', type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter('ignore')
    start = time.perf_counter()
    results: dict[str, dict[str, dict[str, float]]] = {}
    radar_alone: dict[str, float] | None = None
    for weather in WEATHERS:
        paths = region(args.workdir, weather, args.size, args.seed)
        counts = split_class_counts(paths['labels'], numbers=[22], progress=False)
        labelled = int(counts.counts['test'].sum())
        results[weather] = {}
        for inputs in INPUTS:
            if inputs == 'S1' and radar_alone is not None:
                # The radar of both years is the same: one run stands for both.
                results[weather][inputs] = radar_alone
                continue
            matrix = fit_and_test(config(paths, inputs, args.max_steps))
            results[weather][inputs] = metrics(matrix, labelled)
            if inputs == 'S1':
                radar_alone = results[weather][inputs]
    seconds = time.perf_counter() - start
    (args.workdir / 'comparison.json').write_text(
        json.dumps({'results': results, 'seconds': seconds}, indent=2)
    )
    print(table(results))
    print(f'wall time: {seconds:.0f} s')


if __name__ == '__main__':
    main()
