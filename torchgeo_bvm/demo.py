"""The whole pipeline on the embedded mini-Flanders, as ``make demo`` runs it.

:func:`run_demo` goes through every step a user takes on the real data, on the
region that :mod:`torchgeo_bvm.synth.flanders` writes:

1. generate the mini-Flanders (BVM, sheets, boundary, Sentinel-2 products);
2. rasterise the labels (``torchgeo-bvm rasterize``);
3. split statistics with chi-squared distances (``torchgeo-bvm stats``) and the
   band statistics for normalisation;
4. figures: the split map, the class distribution chart, a training sample;
5. train with TorchGeo's own CLI (``torchgeo fit``) on the CPU, with the demo
   configuration shipped in the package (``torchgeo_bvm/configs/demo.yaml``);
6. evaluate on the test sheets (``torchgeo test``: accuracy per sheet with
   its interval, and the reliability of the confidence);
7. calibrate the map confidence on the fused map of the validation sheets
   (:mod:`torchgeo_bvm.demo_truth`, as ``torchgeo-bvm calibrate``);
8. write the fused map of the test sheets for one year (``torchgeo predict``,
   every clear date fused per pixel) and compare it with the BVM
   (``torchgeo-bvm compare``: the polygons most probably out of date, scored
   against the mini-Flanders' truth);
9. train and test the same U-Net on a year of monthly composites, map the
   test sheets for that year with it and compare that map with the BVM too;
10. report overall accuracy with its interval, per-class IoU, the
    majority-class baseline, the strongest candidates for a BVM update, how
    well they find the real changes, how calibrated the map's confidence is
    against the truth, and one date against a year.

Every step reuses its output when it is already there, so a re-run after an
interruption continues where it stopped, and a second run only reports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from . import demo_truth
from .demo_truth import DemoRun
from .fileio import atomic_path, is_hidden

if TYPE_CHECKING:
    from .maps.compare import Comparison

__all__ = [
    'DemoComparison',
    'DemoResult',
    'compare_with_a_year',
    'evaluated_checkpoint',
    'evaluation_from_confusion',
    'labelled_area',
    'run_demo',
]

#: The packaged training configuration of the demo.
DEMO_CONFIG = 'demo.yaml'
#: The demo joins imagery and labels on the Terrascope products' own UTM grid
#: (10 m), so no pixel is ever resampled and CPU training stays fast; the paper's
#: EPSG:4326 is the data module's default for the real data.
DEMO_CRS = 'EPSG:32631'


@dataclass
class DemoResult:
    """What the demo made and measured.

    Accuracy is counted over the *evaluated* test pixels: labelled, inside
    Flanders, with a cloud-free observation on the tile's date. The split
    statistics count every labelled pixel of the test sheets, clouds
    included, so a class's share differs slightly between the two;
    :attr:`baseline_labelled` gives the baseline on those pixels.

    Args:
        overall_accuracy: test overall accuracy over the evaluated pixels.
        class_iou: per-class IoU on the test sheets (NaN for absent classes).
        baseline_accuracy: overall accuracy of always predicting the most
            frequent class of the train split, on the evaluated pixels.
        baseline_class: that class.
        evaluated_pixels: the number of evaluated test pixels.
        baseline_labelled: the baseline class's share of all labelled test
            pixels (the statistics table's percentage), NaN if unknown.
        labelled_pixels: the number of labelled test pixels.
        checkpoint: which weights were evaluated, in words.
        paths: the files made, by kind.
        seconds: wall-clock time per step.
        comparison: the single date against a year of monthly composites
            (:func:`compare_with_a_year`), when it ran.
        candidates: the lines of ``compare`` describing where the fused map
            disagrees with the BVM, strongest candidates first.
        year_candidates: the same for the year model's fused map.
        trust: accuracy with its interval, the candidates and the map's
            confidence against the mini-Flanders' truth, when measured.
    """

    overall_accuracy: float
    class_iou: dict[str, float]
    baseline_accuracy: float
    baseline_class: str
    evaluated_pixels: int = 0
    baseline_labelled: float = float('nan')
    labelled_pixels: int = 0
    checkpoint: str = ''
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    comparison: DemoComparison | None = None
    candidates: list[str] = field(default_factory=list)
    year_candidates: list[str] = field(default_factory=list)
    trust: demo_truth.DemoTrust | None = None

    def summary(self) -> str:
        """A printable report: the numbers, the two models side by side, the files.

        Returns:
            The text.
        """
        label = 25  # every value starts in one column
        lines = [
            '',
            '== torchgeo-bvm demo: test sheets of the mini-Flanders ==',
            f'{"overall accuracy":<{label}}{100 * self.overall_accuracy:.2f} % '
            f'of the {self.evaluated_pixels:,} evaluated test pixels '
            '(labelled, cloud-free)',
            f'{"majority-class baseline":<{label}}'
            f'{100 * self.baseline_accuracy:.2f} % '
            f'(always {self.baseline_class!r}, the most frequent class of the '
            'train sheets, on the same pixels)',
        ]
        if not np.isnan(self.baseline_labelled):
            lines.append(
                f'{"":<{label}}{100 * self.baseline_labelled:.2f} % of all '
                f'{self.labelled_pixels:,} labelled test pixels, clouds included '
                '(the statistics table)'
            )
        if self.checkpoint:
            lines.append(f'{"evaluated weights":<{label}}{self.checkpoint}')
        lines += ['', 'per-class IoU:']
        for name, iou in self.class_iou.items():
            value = '   n/a' if np.isnan(iou) else f'{iou:6.3f}'
            lines.append(f'  {name:<42} {value}')
        if self.candidates:
            lines += ['', 'where the fused map disagrees with the BVM:']
            lines += [f'  {line}' for line in self.candidates]
        if self.trust is not None:
            lines += ['', 'against the truth of the mini-Flanders:']
            lines += [f'  {line}' for line in self.trust.lines()]
        if self.year_candidates:
            lines += ['', "where the year model's fused map disagrees with the BVM:"]
            lines += [f'  {line}' for line in self.year_candidates]
        if self.comparison is not None:
            lines += ['', self.comparison.table()]
        lines += ['', 'made:']
        width = max(map(len, self.paths), default=0)
        lines += [f'  {kind:<{width}}  {path}' for kind, path in self.paths.items()]
        total = sum(self.seconds.values())
        steps = ', '.join(f'{k} {v:.0f} s' for k, v in self.seconds.items())
        lines += ['', f'time: {total:.0f} s ({steps})']
        return '\n'.join(lines)


def evaluation_from_confusion(matrix: pd.DataFrame) -> tuple[float, dict[str, float]]:
    """Overall accuracy and per-class IoU from a confusion matrix.

    Args:
        matrix: counts, rows = true classes, columns = predicted classes.

    Returns:
        Overall accuracy and IoU by class name (NaN where a class is neither
        present nor predicted).
    """
    counts = matrix.to_numpy(dtype=np.float64)
    overall = float(np.trace(counts) / max(counts.sum(), 1.0))
    true_positive = np.diag(counts)
    union = counts.sum(axis=0) + counts.sum(axis=1) - true_positive
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, true_positive / union, np.nan)
    return overall, {str(n): float(v) for n, v in zip(matrix.index, iou, strict=True)}


def _timed(seconds: dict[str, float], name: str, step: Callable[[], Any]) -> Any:  # noqa: ANN401
    start = time.perf_counter()
    result = step()
    seconds[name] = time.perf_counter() - start
    return result


def _merge(settings: dict[str, Any], changes: dict[str, Any]) -> None:
    """Change settings in place, groups of options key by key."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            _merge(settings[key], value)
        else:
            settings[key] = value


def _write_config(out: Path, data: dict[str, Any], max_steps: int | None) -> Path:
    text = resources.files('torchgeo_bvm').joinpath('configs', DEMO_CONFIG).read_text()
    config = yaml.safe_load(text)
    _merge(config['data']['init_args'], data)
    trainer = config['trainer']
    trainer['default_root_dir'] = str(out / 'training')
    trainer['logger']['init_args']['save_dir'] = str(out / 'training')
    if max_steps is not None:
        trainer['max_steps'] = max_steps
        settings = config['data']['init_args']
        # Validation runs at the end of each epoch: an epoch no longer than the
        # training makes it run at least once, so a best checkpoint exists.
        settings['length'] = min(settings['length'], max_steps * settings['batch_size'])
        # A shorter run still logs its loss (Lightning warns when an epoch holds
        # fewer batches than the logging interval).
        trainer['log_every_n_steps'] = min(trainer['log_every_n_steps'], max_steps)
    for callback in trainer['callbacks']:
        args = callback.setdefault('init_args', {})
        if callback['class_path'].endswith('ModelCheckpoint'):
            args['dirpath'] = str(out / 'training' / 'checkpoints')
        if callback['class_path'].endswith('ConfusionMatrixWriter'):
            args['dirpath'] = str(out / 'evaluation')
    path = out / 'demo.yaml'
    with atomic_path(path) as temporary:
        temporary.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_demo(
    out: str | Path = 'demo-output',
    size: str = 'demo',
    seed: int = 0,
    max_steps: int | None = None,
    length: int | None = None,
    progress: bool = True,
) -> DemoResult:
    """Run the whole pipeline on the mini-Flanders.

    Args:
        out: output folder; what is already there is reused.
        size: mini-Flanders size (``'demo'``; ``'tiny'`` for tests).
        seed: seed of the generated region.
        max_steps: training steps (default: the packaged config's 200).
        length: training crops per epoch (default: the config's).
        progress: show progress bars.

    Returns:
        The measured numbers and the paths of what was made.
    """
    from .bvm.labels import rasterize_bvm
    from .bvm.statistics import split_class_counts
    from .datasets.sentinel2 import Sentinel2TOC
    from .plot import plot_grid
    from .sheets.official import grid
    from .sheets.scheme import SplitScheme
    from .spatial.crs import resolution_for
    from .synth.flanders import write_mini_flanders
    from .training.normalization import compute_band_stats

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = DemoRun(out)
    seconds, paths = run.seconds, run.paths

    data = out / 'data'
    manifest = _timed(
        seconds,
        'generate',
        lambda: write_mini_flanders(data, size, seed, progress=progress, season=True),
    )
    sentinel2 = data / 'TOC_V2'
    boundary = data / manifest['boundary']
    paths['mini-Flanders overview'] = data / 'overview.png'

    labels = out / 'labels.tif'
    if not labels.exists():
        _timed(
            seconds,
            'rasterize',
            lambda: rasterize_bvm(
                data / manifest['bvm'],
                labels,
                crs=DEMO_CRS,
                res=10.0,
                progress=progress,
            ),
        )
    paths['label raster'] = labels

    statistics = _timed(
        seconds,
        'stats',
        lambda: split_class_counts(labels, numbers=[22], progress=False),
    )
    written = statistics.write(out / 'stats', log_scale=True)
    print(statistics.to_markdown())
    paths['class distribution'] = written['chart']

    band_stats = out / 'band-stats.json'
    if not band_stats.exists():
        from .sheets.boundary import read_boundary

        image = Sentinel2TOC(sentinel2, crs=DEMO_CRS, res=resolution_for(DEMO_CRS))
        stats = _timed(
            seconds,
            'band stats',
            lambda: compute_band_stats(
                image, numbers=[22], flanders=read_boundary(boundary), progress=progress
            ),
        )
        stats.write(band_stats)
    paths['band statistics'] = band_stats

    split_map = out / 'split_map.png'
    if not split_map.exists():
        sheets = grid('kbl4', numbers=[22], scheme=SplitScheme())
        plot_grid(
            sheets,
            split_map,
            title='Sheet 22 by split: the mini-Flanders covers the hatched area',
            data=labelled_area(labels, sheets.crs),
        )
    paths['split map'] = split_map

    overrides: dict[str, Any] = {
        'sentinel2_paths': str(sentinel2),
        'bvm_paths': str(labels),
        'labels': {'boundary': str(boundary)},
        'imagery': {'stats': str(band_stats)},
        'prediction': {'output_dir': str(out / 'predictions')},
    }
    if length is not None:
        overrides['length'] = length
    config = _write_config(out, overrides, max_steps)
    paths['training config'] = config

    sample_plot = out / 'sample.png'
    if not sample_plot.exists():
        _plot_sample(config, sample_plot)
    paths['training sample'] = sample_plot

    confusion = out / 'evaluation' / 'confusion_matrix.csv'
    checkpoint, which = _fit_and_test(
        config, out / 'training' / 'checkpoints', confusion, seconds
    )
    paths['checkpoint'] = checkpoint
    paths['confusion matrix'] = confusion.with_suffix('.png')

    calibrated = _timed(
        seconds,
        'calibrate',
        lambda: demo_truth.calibrate_for_maps(
            out, config, checkpoint, labels, _torchgeo
        ),
    )
    paths['calibrated checkpoint'] = calibrated
    bvm = data / manifest['bvm']
    truth = data / manifest['truth']['changes']
    year = demo_truth.map_year(config)
    images = [sentinel2 / str(year)] if year is not None else []
    comparison = _fused_map_and_candidates(run, config, calibrated, bvm, truth, images)
    candidates = comparison.describe(10)
    trust = demo_truth.measure_trust(run, config, comparison, data, manifest)

    matrix = pd.read_csv(confusion, index_col=0)
    overall, class_iou = evaluation_from_confusion(matrix)
    train = statistics.counts['train']
    majority = str(train.idxmax())
    test_counts = matrix.sum(axis=1)
    evaluated = int(test_counts.sum())
    baseline = float(test_counts[majority] / max(evaluated, 1))
    labelled = statistics.counts['test']
    result = DemoResult(
        overall,
        class_iou,
        baseline,
        majority,
        evaluated_pixels=evaluated,
        baseline_labelled=float(labelled[majority] / max(labelled.sum(), 1)),
        labelled_pixels=int(labelled.sum()),
        checkpoint=f'{checkpoint.name}: {which}',
        paths=paths,
        seconds=seconds,
        candidates=candidates,
        trust=trust,
    )
    season = manifest['season']
    composites = data / season['composites_root']
    result.comparison = compare_with_a_year(
        run, config, composites, int(season['year'])
    )
    year_checkpoint, _ = evaluated_checkpoint(out / 'training-year' / 'checkpoints')
    year_config = out / 'demo_year.yaml'
    year_comparison = _fused_map_and_candidates(
        run, year_config, year_checkpoint, bvm, truth, label=' (year)'
    )
    result.year_candidates = year_comparison.describe(10)
    summary = out / 'summary.json'
    with atomic_path(summary) as temporary:
        temporary.write_text(
            json.dumps(
                {
                    'overall_accuracy': overall,
                    'evaluated_pixels': evaluated,
                    'baseline_accuracy': baseline,
                    'baseline_class': majority,
                    'baseline_labelled': result.baseline_labelled,
                    'labelled_pixels': result.labelled_pixels,
                    'checkpoint': str(checkpoint),
                    'class_iou': {
                        k: (None if np.isnan(v) else v) for k, v in class_iou.items()
                    },
                    'truth': None if trust is None else trust.record(),
                    'paths': {k: str(v) for k, v in paths.items()},
                },
                indent=2,
            )
        )
    return result


def _fit_and_test(
    config: Path,
    checkpoints: Path,
    confusion: Path,
    seconds: dict[str, float],
    label: str = '',
) -> tuple[Path, str]:
    """``torchgeo fit`` and ``torchgeo test`` of a configuration, unless done.

    Fits when ``checkpoints`` holds no checkpoint, tests the checkpoint
    :func:`evaluated_checkpoint` chooses when ``confusion`` (the test's
    confusion matrix) does not exist yet; the steps' times go into ``seconds``
    as ``fit`` and ``test`` followed by ``label``. Returns the checkpoint and
    why it was chosen.
    """
    if not any(checkpoints.glob('*.ckpt')):
        _timed(
            seconds, f'fit{label}', lambda: _torchgeo(['fit', '--config', str(config)])
        )
    checkpoint, which = evaluated_checkpoint(checkpoints)
    print(f'evaluating {checkpoint}: {which}', flush=True)
    if not confusion.exists():
        arguments = ['test', '--config', str(config), '--ckpt_path', str(checkpoint)]
        _timed(seconds, f'test{label}', lambda: _torchgeo(arguments))
    return checkpoint, which


def _fused_map_and_candidates(
    run: DemoRun,
    config: Path,
    checkpoint: Path,
    bvm: Path,
    truth: Path | None = None,
    images: list[Path] | None = None,
    label: str = '',
) -> Comparison:
    """The fused map of a configuration's test sheets and period, and its candidates.

    ``torchgeo predict`` fuses every clear observation of the configuration's
    period (``prediction.sheets``, ``prediction.years``) into the period's
    folder of ``prediction.output_dir``; ``compare`` ranks the BVM polygons
    most probably out of date into ``comparison/`` (``comparison-year/`` for
    the year model, ``label`` ``' (year)'``), scored against ``truth``, the
    candidates shown on ``images``, the accuracy over 1 km blocks. The steps'
    times and files go into ``run``. Returns the comparison.
    """
    from .evaluation.units import EvaluationUnits
    from .maps.compare import compare_with_bvm
    from .maps.files import SIBLING_SUFFIXES
    from .training.prediction import MOSAIC

    predictions = demo_truth.map_folder(config)
    if not (predictions / MOSAIC).exists():
        _timed(
            run.seconds,
            f'predict{label}',
            lambda: _torchgeo(
                ['predict', '--config', str(config), '--ckpt_path', str(checkpoint)]
            ),
        )
    for tif in sorted(predictions.glob('*.tif')):
        # Hidden names are staging files of a write in progress or killed.
        if is_hidden(tif, predictions) or tif.stem.endswith(SIBLING_SUFFIXES):
            continue
        run.paths[f'fused map{label} {tif.stem}'] = tif
        run.paths[f'fused map{label} {tif.stem} (PNG)'] = tif.with_suffix('.png')
    run.paths[f'fused map{label} mosaic'] = predictions / MOSAIC
    run.paths[f'fused map{label} quick-look'] = (predictions / MOSAIC).with_suffix(
        '.png'
    )
    # The demo's folder is its own: the comparison is made afresh each run.
    folder = run.out / ('comparison-year' if label else 'comparison')
    comparison: Comparison = _timed(
        run.seconds,
        f'compare{label}',
        lambda: compare_with_bvm(
            bvm,
            predictions,
            folder,
            progress=False,
            truth=truth,
            images=images or [],
            units=EvaluationUnits(block=1000.0),
        ),
    )
    run.paths[f'disagreement with the BVM{label}'] = comparison.paths['geopackage']
    run.paths[f'strongest candidates{label}'] = comparison.paths['candidates']
    return comparison


def labelled_area(labels: Path, crs: CRS | str | int, step: int = 10) -> BaseGeometry:
    """Where a label raster holds a class, as a polygon in ``crs``.

    Args:
        labels: a class-id raster (nodata IGNORE_INDEX).
        crs: the CRS of the polygon.
        step: read every ``step``-th pixel (a coarser, faster outline).

    Returns:
        The union of the labelled pixels' cells.
    """
    import rasterio
    import rasterio.features
    import shapely
    from shapely.geometry import shape

    from .classes import IGNORE_INDEX
    from .spatial.geometry import reproject_geometry

    with rasterio.open(labels) as source:
        height = max(1, source.height // step)
        width = max(1, source.width // step)
        values = source.read(1, out_shape=(height, width))
        transform = source.transform @ source.transform.scale(
            source.width / width, source.height / height
        )
        source_crs = source.crs
    labelled = (values != IGNORE_INDEX).astype(np.uint8)
    parts = [
        shape(geometry)
        for geometry, value in rasterio.features.shapes(labelled, transform=transform)
        if value == 1
    ]
    return reproject_geometry(shapely.union_all(parts), source_crs, crs)


def evaluated_checkpoint(folder: Path) -> tuple[Path, str]:
    """The checkpoint the demo evaluates, and why.

    ``best.ckpt`` (the best validation overall accuracy) when validation ran,
    else ``last.ckpt`` (the weights at the end of training).

    Args:
        folder: the training run's checkpoint folder.

    Returns:
        The checkpoint and a sentence saying which weights it holds.

    Raises:
        FileNotFoundError: if the folder holds neither.
    """
    import torch

    for name in ('best.ckpt', 'last.ckpt'):
        path = folder / name
        if not path.exists():
            continue
        state = torch.load(path, map_location='cpu', weights_only=True)
        step = int(state.get('global_step', 0))
        if name == 'last.ckpt':
            return (
                path,
                f'the weights at step {step}, the end of training (no validation ran)',
            )
        scores = [
            float(callback['best_model_score'])
            for key, callback in state.get('callbacks', {}).items()
            if str(key).startswith('ModelCheckpoint')
            and callback.get('best_model_score') is not None
        ]
        score = f', overall accuracy {100 * max(scores):.2f} %' if scores else ''
        return path, f'the best weights by validation (step {step}{score})'
    raise FileNotFoundError(f'{folder}: no best.ckpt or last.ckpt: train first')


#: The demo's comparison: what each model sees, as the table names it.
_MODELS = {
    'one date': 'one date',
    'a year': '12 months, early fusion',
}
#: The classes the single date confuses and a year separates.
_FARMED = ('Cultivated land', 'Grasslands')


@dataclass
class DemoComparison:
    """One date against a year: the same U-Net, sheets and steps, on the test sheets.

    Args:
        metrics: model -> metric -> value, the models of :data:`_MODELS`.
        pixels: model -> labelled test pixels evaluated.
    """

    metrics: dict[str, dict[str, float]]
    pixels: dict[str, int]

    @classmethod
    def from_confusions(cls, confusions: dict[str, pd.DataFrame]) -> DemoComparison:
        """The comparison's numbers from each model's test confusion matrix.

        Args:
            confusions: model -> counts (rows true, columns predicted classes).

        Returns:
            Overall accuracy, the mean IoU over the classes present in the test
            labels, and the IoU of Cultivated land and Grasslands.
        """
        metrics, pixels = {}, {}
        for model, matrix in confusions.items():
            overall, iou = evaluation_from_confusion(matrix)
            present = [str(c) for c, n in matrix.sum(axis=1).items() if n > 0]
            metrics[model] = {
                'overall accuracy': overall,
                'mean IoU, classes present': float(np.mean([iou[c] for c in present])),
                **{f'IoU {name}': iou.get(name, float('nan')) for name in _FARMED},
            }
            pixels[model] = int(matrix.to_numpy().sum())
        return cls(metrics, pixels)

    def table(self) -> str:
        """The two models side by side.

        Returns:
            The text.
        """
        models = list(self.metrics)
        width = max(len(_MODELS.get(m, m)) for m in models) + 2
        head = ''.join(f'{_MODELS.get(m, m):>{width}}' for m in models)
        lines = [
            '== one date vs a year (same U-Net, sheets and training steps): '
            'test sheets ==',
            f'{"":<28}{head}',
        ]
        for metric in self.metrics[models[0]]:
            values = [self.metrics[m][metric] for m in models]
            shown = [
                f'{100 * v:.2f} %' if metric == 'overall accuracy' else f'{v:.3f}'
                for v in values
            ]
            lines.append(f'{metric:<28}' + ''.join(f'{v:>{width}}' for v in shown))
        counts = ''.join(f'{self.pixels[m]:>{width},}' for m in models)
        lines.append(f'{"labelled pixels evaluated":<28}{counts}')
        return '\n'.join(lines)


def compare_with_a_year(
    run: DemoRun,
    config: Path,
    composites: Path,
    year: int,
) -> DemoComparison:
    """Train the demo's U-Net on a year of monthly composites and compare.

    The single-date run's configuration (``config``) with four changes: the
    imagery is the season's monthly composites, every sample the 12 months of
    ``year`` (``time_series: true``, a monthly series), stacked as 12 x 11
    channels (``series.stack: channels``, early fusion), the U-Net takes 132
    input channels, and ``torchgeo predict`` maps ``year`` into
    ``predictions-year/``. Same sheets, crops, batch, training steps,
    checkpoint rule and test tiles; ``torchgeo fit`` and ``torchgeo test`` as
    for the single date. What is already in the demo's folder is reused.

    Args:
        run: the demo's run (its single-date test is done); the year's steps
            and files are added.
        config: the single-date run's configuration.
        composites: the season's composites folder.
        year: the season's year.

    Returns:
        The comparison.
    """
    settings = yaml.safe_load(config.read_text())
    _merge(
        settings['data']['init_args'],
        {
            'sentinel2_paths': str(composites),
            'time_series': True,
            'series': {'temporal': 'monthly', 'stack': 'channels'},
            'prediction': {
                'years': [year],
                'output_dir': str(run.out / 'predictions-year'),
            },
        },
    )
    model = settings['model']['init_args']
    model['in_channels'] = 12 * model['in_channels']
    trainer = settings['trainer']
    trainer['default_root_dir'] = str(run.out / 'training-year')
    if isinstance(trainer.get('logger'), dict):
        trainer['logger']['init_args']['save_dir'] = str(run.out / 'training-year')
    folders = {
        'ModelCheckpoint': ('dirpath', run.out / 'training-year' / 'checkpoints'),
        'ConfusionMatrixWriter': ('dirpath', run.out / 'evaluation-year'),
    }
    for callback in trainer['callbacks']:
        for name, (key, folder) in folders.items():
            if callback['class_path'].endswith(name):
                callback.setdefault('init_args', {})[key] = str(folder)
    year_config = run.out / 'demo_year.yaml'
    with atomic_path(year_config) as temporary:
        temporary.write_text(yaml.safe_dump(settings, sort_keys=False))
    run.paths['training config (year)'] = year_config

    confusion = run.out / 'evaluation-year' / 'confusion_matrix.csv'
    checkpoints = run.out / 'training-year' / 'checkpoints'
    _fit_and_test(year_config, checkpoints, confusion, run.seconds, ' (year)')
    run.paths['confusion matrix (year)'] = confusion.with_suffix('.png')
    comparison = DemoComparison.from_confusions(
        {
            'one date': pd.read_csv(
                run.out / 'evaluation' / 'confusion_matrix.csv', index_col=0
            ),
            'a year': pd.read_csv(confusion, index_col=0),
        }
    )
    written = run.out / 'comparison.json'
    with atomic_path(written) as temporary:
        temporary.write_text(
            json.dumps(
                {
                    'models': _MODELS,
                    'metrics': comparison.metrics,
                    'pixels': comparison.pixels,
                },
                indent=2,
            )
        )
    run.paths['comparison'] = written
    return comparison


def _torchgeo(arguments: list[str]) -> None:
    """Run TorchGeo's own command line, as a user types ``torchgeo ...``.

    In this process, to spare each step the start-up of PyTorch and Lightning;
    the GDAL settings TorchGeo's command line writes into ``os.environ`` are
    undone afterwards (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` would hide
    the class rasters' ``.aux.xml`` from the steps that follow).
    """
    from rasterio.env import set_gdal_config
    from torchgeo.main import main

    print('$ torchgeo ' + ' '.join(arguments), flush=True)
    saved_environment, saved_argv = dict(os.environ), sys.argv
    # The arguments go to main(); LightningCLI warns when sys.argv holds some too.
    sys.argv = ['torchgeo']
    try:
        main(arguments)
    finally:
        sys.argv = saved_argv
        for key in set(os.environ) - set(saved_environment):
            del os.environ[key]
            # rasterio may have copied the variable into GDAL's configuration.
            set_gdal_config(key, None)
        os.environ.update(saved_environment)


def _plot_sample(config: Path, path: Path) -> None:
    """Plot one training sample of the demo's data module."""
    from jsonargparse import ArgumentParser

    from .plot import save_figure
    from .training.datamodule import BVMDataModule

    # Built from the configuration as TorchGeo's command line builds it.
    parser = ArgumentParser()
    parser.add_subclass_arguments(BVMDataModule, 'data')
    data = yaml.safe_load(config.read_text())['data']
    datamodule = parser.instantiate(parser.parse_object({'data': data})).data
    datamodule.setup('fit')
    sampler, dataset = datamodule.train_sampler, datamodule.train_dataset
    assert sampler is not None
    assert dataset is not None
    sample = dataset[next(iter(sampler))]
    figure = datamodule.plot(sample)
    if figure is not None:
        save_figure(figure, path, dpi=120)
