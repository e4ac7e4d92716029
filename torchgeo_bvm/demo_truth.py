"""What the demo measures against the mini-Flanders' truth, and its calibration step.

The mini-Flanders knows what lies on the ground (``truth/``:
:mod:`torchgeo_bvm.synth.flanders.truth`), so the demo can say how far its
outputs can be trusted:

* **calibration** (:func:`calibrate_for_maps`): after training, the fused map
  of the validation sheets (``predictions-val/``) against their labels gives
  the calibrated probability of each confidence code
  (:func:`~torchgeo_bvm.evaluation.calibration.confidence_table`), stored in
  a copy of the checkpoint (``best-calibrated.ckpt``), which maps the test
  sheets: what ``torchgeo-bvm calibrate`` does;
* **the confidence against the truth** (:func:`map_calibration`): the test
  map's expected calibration error (15 bins) against
  ``truth/landcover_YYYY.tif`` of its year, before the table (the fused
  probabilities' maximum) and after, with a reliability diagram
  (``calibration/``);
* **accuracy with its interval** (:func:`accuracy_interval`): ``torchgeo
  test``'s ``accuracy.csv``, overall accuracy with its 95 % interval from a
  bootstrap over blocks of the test sheet (the demo's configuration asks for
  1 km blocks: it has one test sheet, so blocks stand in for sheets).

The candidates' ranking against the truth comes from ``compare --truth``
(:mod:`torchgeo_bvm.maps.truth`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from .evaluation.calibration import Reliability, confidence_table, plot_reliability
from .fileio import atomic_path

if TYPE_CHECKING:
    from .maps.compare import Comparison

__all__ = [
    'CALIBRATED_CHECKPOINT',
    'DemoRun',
    'DemoTrust',
    'accuracy_interval',
    'calibrate_for_maps',
    'map_calibration',
    'map_folder',
    'map_year',
    'measure_trust',
]

#: The calibrated copy of the evaluated checkpoint, beside it.
CALIBRATED_CHECKPOINT = 'best-calibrated.ckpt'


@dataclass(frozen=True)
class DemoRun:
    """A demo run's folder, and what its steps made and how long they took.

    :func:`~torchgeo_bvm.demo.run_demo` makes it; every step, this module's
    included, adds its files to :attr:`paths` and its time to :attr:`seconds`.

    Args:
        out: the demo's folder.
        paths: the files made, by kind.
        seconds: wall-clock time per step.
    """

    out: Path
    paths: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class DemoTrust:
    """How far the demo's outputs can be trusted, measured against the truth.

    Args:
        accuracy: overall test accuracy, its 95 % interval and what it was
            resampled over (``(value, low, high, units)``), from ``torchgeo
            test``.
        before: the test map's confidence against the truth, before the
            confidence table.
        after: the same after it.
        ranking: the candidates' ranking against the truth (``compare
            --truth``), when scored.
        year: the map's year.
    """

    accuracy: tuple[float, float, float, str]
    before: Reliability
    after: Reliability
    ranking: dict[str, float] | None = None
    year: int | None = None

    def record(self) -> dict[str, Any]:
        """What ``summary.json`` keeps of it.

        Returns:
            Overall accuracy with its interval, the year, the calibration
            errors before and after, and the ranking's scores.
        """
        value, low, high, units = self.accuracy
        return {
            'overall_accuracy': {
                'value': value,
                'low': low,
                'high': high,
                'units': units,
            },
            'year': self.year,
            'ece_before': self.before.ece(),
            'ece_after': self.after.ece(),
            'ranking': self.ranking,
        }

    def lines(self) -> list[str]:
        """What the demo prints about it.

        Returns:
            The lines.
        """
        value, low, high, units = self.accuracy
        lines = [
            f'overall accuracy        {100 * value:6.2f} % (95 % interval '
            f'{100 * low:.2f}-{100 * high:.2f} %, bootstrap over {units})',
            f'map confidence against the truth of {self.year}: expected calibration '
            f'error (15 bins) {self.before.ece():.3f} before calibration, '
            f'{self.after.ece():.3f} after ({self.after.total:,} pixels, '
            f'{100 * self.after.accuracy():.1f} % right)',
        ]
        if self.ranking is not None:
            r = self.ranking
            lines.append(
                f'candidates against the truth: precision at 10 {r["P@10"]:.2f}, '
                f'at 20 {r["P@20"]:.2f}, average precision '
                f'{r["average precision"]:.3f} ({int(r["relevant"])} changed of '
                f'{int(r["ranked"])} ranked polygons; a random order scores about '
                f'{r["random"]:.3f})'
            )
        return lines


def _prediction(config: Path) -> dict[str, Any]:
    """The ``prediction`` options of a configuration's data module."""
    data = yaml.safe_load(config.read_text())['data']['init_args']
    options: dict[str, Any] = data.get('prediction') or {}
    return options


def map_year(config: Path) -> int | None:
    """The year the demo's configuration maps (its single ``prediction.years``).

    Args:
        config: the demo's configuration.

    Returns:
        The year, None unless the configuration names exactly one.
    """
    years = _prediction(config).get('years')
    if isinstance(years, int):
        return years
    if isinstance(years, list) and len(years) == 1:
        return int(years[0])
    return None


def map_folder(config: Path) -> Path:
    """The folder ``torchgeo predict`` writes a configuration's maps into.

    Args:
        config: a configuration with ``prediction.output_dir``.

    Returns:
        The period's folder in ``prediction.output_dir`` (the folder itself
        with ``period_folder: false``).
    """
    from .sheets.plan import period_name

    prediction = _prediction(config)
    folder = Path(prediction['output_dir'])
    if not prediction.get('period_folder', True):
        return folder
    return folder / period_name(prediction.get('years'), prediction.get('months'))


def calibrate_for_maps(
    out: Path,
    config: Path,
    checkpoint: Path,
    labels: Path,
    predict: Callable[[list[str]], None],
) -> Path:
    """Fit the map confidence on the validation sheets; the calibrated checkpoint.

    Maps the validation sheets with the checkpoint (``predictions-val/``,
    unless there), fits the confidence table against their labels and writes
    ``best-calibrated.ckpt`` beside the checkpoint (unless there).

    Args:
        out: the demo's folder.
        config: the demo's configuration.
        checkpoint: the evaluated checkpoint.
        labels: the label raster.
        predict: runs ``torchgeo`` with these arguments.

    Returns:
        The calibrated checkpoint.
    """
    from .maps.folder import MANIFEST
    from .maps.reliability import map_outcomes
    from .training.calibration import calibrate_checkpoint

    calibrated = checkpoint.with_name(CALIBRATED_CHECKPOINT)
    if calibrated.exists():
        return calibrated
    folder = out / 'predictions-val'
    if not (folder / MANIFEST).exists():
        settings = yaml.safe_load(config.read_text())
        prediction = settings['data']['init_args'].setdefault('prediction', {})
        prediction.update(sheets='val', output_dir=str(folder), period_folder=False)
        for callback in settings['trainer']['callbacks']:
            if callback['class_path'].endswith('SheetPredictionWriter'):
                callback.setdefault('init_args', {}).update(
                    probabilities=True,
                    preview=False,
                    mosaic=False,
                )
        validation = out / 'demo_val.yaml'
        with atomic_path(validation) as temporary:
            temporary.write_text(yaml.safe_dump(settings, sort_keys=False))
        predict(
            [
                'predict',
                '--config',
                str(validation),
                '--ckpt_path',
                str(checkpoint),
            ]
        )
    codes, correct, classes = map_outcomes(folder, labels, raw=True)
    table = confidence_table(codes, correct, classes)
    calibrate_checkpoint(checkpoint, calibrated, table)
    return calibrated


def map_calibration(
    predictions: Path, truth: Path, folder: Path
) -> tuple[Reliability, Reliability, dict[str, Path]]:
    """The test map's confidence against the truth, before and after the table.

    Args:
        predictions: the fused maps (with ``_probabilities``: their maximum is
            the confidence before the table).
        truth: the true classes of the map's year.
        folder: where ``calibration.csv`` and ``reliability.png`` go.

    Returns:
        The bins before and after, and the files written.
    """
    from .maps.reliability import map_reliability

    before = map_reliability(predictions, truth, raw=True)
    after = map_reliability(predictions, truth)
    paths = {
        'calibration table': folder / 'calibration.csv',
        'reliability diagram': folder / 'reliability.png',
    }
    parts = []
    for state, bins in (('before', before), ('after', after)):
        table = bins.frame()
        table.insert(0, 'state', state)
        table['ece'] = bins.ece()
        parts.append(table)
    with atomic_path(paths['calibration table']) as temporary:
        pd.concat(parts).to_csv(temporary, index=False, float_format='%.6g')
    plot_reliability(
        {'fused probabilities': before, 'calibrated confidence': after},
        paths['reliability diagram'],
        f'The test map against the truth ({truth.name})',
    )
    return before, after, paths


def measure_trust(
    run: DemoRun,
    config: Path,
    comparison: Comparison,
    data: Path,
    manifest: dict[str, Any],
) -> DemoTrust | None:
    """Accuracy, candidates and map confidence of the demo against the truth.

    Args:
        run: the demo's run (``evaluation/`` from ``torchgeo test`` in its
            folder; ``calibration/`` is written there and its files added).
        config: the demo's configuration (its map's folder and year).
        comparison: ``compare``'s result for the test map, scored against
            ``truth/changes.csv``.
        data: the mini-Flanders' folder.
        manifest: its manifest.

    Returns:
        What was measured; None when the truth holds no land cover of the
        map's year.
    """
    year = map_year(config)
    landcover = manifest['truth']['landcover']
    if year is None or str(year) not in landcover:
        return None
    before, after, written = map_calibration(
        map_folder(config), data / landcover[str(year)], run.out / 'calibration'
    )
    run.paths.update(written)
    accuracy = accuracy_interval(run.out / 'evaluation', config)
    return DemoTrust(accuracy, before, after, comparison.truth, year)


def accuracy_interval(
    evaluation: Path, config: Path
) -> tuple[float, float, float, str]:
    """Overall test accuracy and its interval, from ``torchgeo test``'s files.

    Args:
        evaluation: the folder ``torchgeo test`` wrote ``accuracy.csv`` into.
        config: the configuration it ran (its evaluation units).

    Returns:
        ``(value, low, high, units)``, units in words (e.g. ``'40 blocks of
        1000 m of the test sheets'``).
    """
    summary = pd.read_csv(evaluation / 'accuracy.csv', keep_default_na=False)
    row = summary[summary['metric'] == 'overall accuracy'].iloc[0]
    settings = yaml.safe_load(config.read_text())
    options: dict[str, Any] = {}
    for callback in settings['trainer']['callbacks']:
        if callback['class_path'].endswith('ConfusionMatrixWriter'):
            options = callback.get('init_args') or {}
    level = options.get('units', 'kbl16')
    block = options.get('block')
    kind = f'{level} sheets' if block is None else f'blocks of {block:g} m'
    return (
        float(row['value']),
        float(row['low']),
        float(row['high']),
        f'{int(row["units"])} {kind} of the test sheets',
    )
