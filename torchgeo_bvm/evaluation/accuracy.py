r"""Accuracy per sheet, with a 95 % interval from a bootstrap over whole sheets.

Every accuracy the package reports comes from confusion matrices (rows: the
reference class, columns: the map's class, values: pixels), one per
evaluation unit (a test sheet, :mod:`torchgeo_bvm.evaluation.units`). From a
matrix :func:`confusion_metrics` gives

* **overall accuracy**: the diagonal over all pixels;
* per class **user's accuracy** (precision: of the pixels the map gives the
  class, the share that are it), **producer's accuracy** (recall: of the
  pixels that are the class, the share the map finds), **F1** (their
  harmonic mean) and **IoU** (true positives over the union of the two).

:class:`AccuracyReport` holds one matrix per unit. Its point estimates are
those of the pooled matrix (all units added up); its 95 % interval is a
percentile bootstrap over whole units: :data:`BOOTSTRAP_DRAWS` times, as
many units as there are are drawn with replacement, their matrices added and
the metrics computed, and the 2.5th and 97.5th percentiles of the draws are
the interval. Units, not pixels, are resampled because the errors of
neighbouring pixels go together; with fewer than two units there is no
interval (NaN). A class absent from a draw leaves its per-class metrics out
of that draw.

:meth:`AccuracyReport.write` writes ``<stem>.csv`` (every metric with its
interval), ``<stem>_by_sheet.csv`` (every metric of every unit) and
``<stem>.md`` (both, readable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import BVMValueError
from ..fileio import atomic_path

__all__ = [
    'BOOTSTRAP_DRAWS',
    'CLASS_METRICS',
    'AccuracyReport',
    'confusion_metrics',
]

#: Bootstrap draws behind every interval.
BOOTSTRAP_DRAWS = 2000
#: The per-class metrics, in the order they are reported.
CLASS_METRICS = ("user's accuracy", "producer's accuracy", 'F1', 'IoU')
#: The interval's coverage.
_LEVEL = 0.95


def confusion_metrics(
    matrix: NDArray[np.integer | np.floating],
) -> dict[str, NDArray[np.float64]]:
    """Overall accuracy and the per-class metrics of confusion matrices.

    Args:
        matrix: ``[..., C, C]`` counts, rows the reference, columns the map.

    Returns:
        ``'overall accuracy'``: ``[...]``; each of :data:`CLASS_METRICS`:
        ``[..., C]``, NaN where undefined (no pixel of the class in the
        reference, the map, or either).
    """
    counts = np.asarray(matrix, dtype=np.float64)
    total = counts.sum(axis=(-2, -1))
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    mapped = counts.sum(axis=-2)
    reference = counts.sum(axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return {
            'overall accuracy': np.where(total > 0, hits.sum(axis=-1) / total, np.nan),
            "user's accuracy": np.where(mapped > 0, hits / mapped, np.nan),
            "producer's accuracy": np.where(reference > 0, hits / reference, np.nan),
            'F1': np.where(
                mapped + reference > 0, 2 * hits / (mapped + reference), np.nan
            ),
            'IoU': np.where(
                mapped + reference - hits > 0,
                hits / (mapped + reference - hits),
                np.nan,
            ),
        }


@dataclass(frozen=True)
class AccuracyReport:
    """Confusion matrices per evaluation unit, and the accuracy they give.

    Args:
        classes: the class names (rows and columns of the matrices).
        units: the unit names (e.g. the test sheets' codes).
        confusions: ``[units, C, C]`` pixel counts, rows the reference.
        unit_kind: what a unit is, in words (e.g. ``'kbl16 sheets'``).
        draws: bootstrap draws.
        seed: the bootstrap's seed (the same seed, the same interval).

    Raises:
        BVMValueError: if the shapes disagree.
    """

    classes: Sequence[str]
    units: Sequence[str]
    confusions: NDArray[np.int64]
    unit_kind: str = 'sheets'
    draws: int = BOOTSTRAP_DRAWS
    seed: int = 0

    def __post_init__(self) -> None:
        size = len(self.classes)
        if self.confusions.shape != (len(self.units), size, size):
            raise BVMValueError(
                f'confusion matrices of shape {self.confusions.shape}: expected '
                f'({len(self.units)}, {size}, {size}) for {len(self.units)} units '
                f'and {size} classes'
            )

    @property
    def pooled(self) -> NDArray[np.int64]:
        """All units' matrices added up."""
        total: NDArray[np.int64] = self.confusions.sum(axis=0)
        return total

    def _bootstrap(self) -> dict[str, NDArray[np.float64]]:
        rng = np.random.default_rng(self.seed)
        count = len(self.units)
        weights = rng.multinomial(count, np.full(count, 1 / count), size=self.draws)
        resampled = np.einsum('du,uij->dij', weights, self.confusions)
        return confusion_metrics(resampled)

    def summary(self) -> pd.DataFrame:
        """Every metric of the pooled matrix with its 95 % interval.

        Returns:
            One row per metric and class (``class`` empty for overall
            accuracy), columns ``metric``, ``class``, ``value``, ``low``,
            ``high``, ``units`` (how many units were resampled) and
            ``pixels`` (the class's reference pixels, or all).
        """
        point = confusion_metrics(self.pooled)
        low: dict[str, NDArray[np.float64]] = {}
        high: dict[str, NDArray[np.float64]] = {}
        if len(self.units) >= 2:
            draws = self._bootstrap()
            tail = 100 * (1 - _LEVEL) / 2
            for name, values in draws.items():
                low[name] = _percentile(values, tail)
                high[name] = _percentile(values, 100 - tail)
        reference = self.pooled.sum(axis=1)
        rows = [
            _row('overall accuracy', '', point, low, high, None, int(reference.sum()))
        ]
        for metric in CLASS_METRICS:
            for index, name in enumerate(self.classes):
                rows.append(
                    _row(metric, name, point, low, high, index, int(reference[index]))
                )
        frame = pd.DataFrame(rows)
        frame['units'] = len(self.units)
        return frame[['metric', 'class', 'value', 'low', 'high', 'units', 'pixels']]

    def by_unit(self) -> pd.DataFrame:
        """Every metric of every unit.

        Returns:
            One row per unit, metric and class, columns ``unit``, ``metric``,
            ``class``, ``value`` and ``pixels`` (the unit's reference pixels
            of the class, or all).
        """
        rows = []
        for unit, matrix in zip(self.units, self.confusions, strict=True):
            metrics = confusion_metrics(matrix)
            reference = matrix.sum(axis=1)
            rows.append(
                {
                    'unit': unit,
                    'metric': 'overall accuracy',
                    'class': '',
                    'value': float(metrics['overall accuracy']),
                    'pixels': int(reference.sum()),
                }
            )
            for metric in CLASS_METRICS:
                for index, name in enumerate(self.classes):
                    rows.append(
                        {
                            'unit': unit,
                            'metric': metric,
                            'class': name,
                            'value': float(metrics[metric][index]),
                            'pixels': int(reference[index]),
                        }
                    )
        return pd.DataFrame(
            rows, columns=['unit', 'metric', 'class', 'value', 'pixels']
        )

    def overall(self) -> tuple[float, float, float]:
        """Overall accuracy and its 95 % interval.

        Returns:
            ``(value, low, high)``; the bounds are NaN with fewer than two units.
        """
        row = self.summary().iloc[0]
        return float(row['value']), float(row['low']), float(row['high'])

    def describe_overall(self) -> str:
        """Overall accuracy and its interval in words.

        Returns:
            E.g. ``'84.15 % (95 % interval 81.02-86.90 %, bootstrap over 40
            1000 m blocks of the kbl16 sheets)'``.
        """
        value, low, high = self.overall()
        if np.isnan(low):
            return (
                f'{100 * value:.2f} % (no interval: {len(self.units)} of the '
                f'{self.unit_kind}; a bootstrap needs two or more)'
            )
        return (
            f'{100 * value:.2f} % (95 % interval {100 * low:.2f}-{100 * high:.2f} %, '
            f'bootstrap over {len(self.units)} {self.unit_kind})'
        )

    def markdown(self, title: str = 'Accuracy') -> str:
        """The report as Markdown: overall, per class, per unit.

        Args:
            title: the heading.

        Returns:
            The text.
        """
        summary = self.summary()
        lines = [
            f'# {title}',
            '',
            f'Overall accuracy {self.describe_overall()}, over '
            f'{int(self.pooled.sum()):,} pixels.',
            '',
            'Per class: the value, then its 95 % interval from a bootstrap over '
            f'whole {self.unit_kind} ({self.draws} draws).',
            '',
            '| Class | Pixels | ' + ' | '.join(CLASS_METRICS) + ' |',
            '|---|---:|' + '---:|' * len(CLASS_METRICS),
        ]
        for index, name in enumerate(self.classes):
            cells = []
            for metric in CLASS_METRICS:
                row = summary[
                    (summary['metric'] == metric) & (summary['class'] == name)
                ].iloc[0]
                cells.append(_interval(row['value'], row['low'], row['high']))
            pixels = int(self.pooled[index].sum())
            lines.append(f'| {name} | {pixels:,} | ' + ' | '.join(cells) + ' |')
        lines += [
            '',
            f'Per unit ({self.unit_kind}):',
            '',
            '| Unit | Pixels | Overall accuracy | Mean IoU, classes present |',
            '|---|---:|---:|---:|',
        ]
        for unit, matrix in zip(self.units, self.confusions, strict=True):
            metrics = confusion_metrics(matrix)
            present = matrix.sum(axis=1) > 0
            iou = metrics['IoU'][present]
            mean_iou = f'{float(np.mean(iou)):.3f}' if iou.size else '-'
            overall = float(metrics['overall accuracy'])
            shown = '-' if np.isnan(overall) else f'{100 * overall:.2f} %'
            lines.append(f'| {unit} | {int(matrix.sum()):,} | {shown} | {mean_iou} |')
        return '\n'.join(lines) + '\n'

    def write(self, folder: str | Path, stem: str = 'accuracy') -> dict[str, Path]:
        """Write ``<stem>.csv``, ``<stem>_by_sheet.csv`` and ``<stem>.md``.

        Args:
            folder: the output folder.
            stem: the files' name stem.

        Returns:
            The paths, by kind (``'summary'``, ``'by_sheet'``, ``'markdown'``).
        """
        folder = Path(folder)
        paths = {
            'summary': folder / f'{stem}.csv',
            'by_sheet': folder / f'{stem}_by_sheet.csv',
            'markdown': folder / f'{stem}.md',
        }
        with contextlib.ExitStack() as stack:
            staged = {k: stack.enter_context(atomic_path(p)) for k, p in paths.items()}
            self.summary().to_csv(staged['summary'], index=False, float_format='%.6g')
            self.by_unit().to_csv(staged['by_sheet'], index=False, float_format='%.6g')
            staged['markdown'].write_text(self.markdown())
        return paths


def _row(
    metric: str,
    name: str,
    point: dict[str, NDArray[np.float64]],
    low: dict[str, NDArray[np.float64]],
    high: dict[str, NDArray[np.float64]],
    index: int | None,
    pixels: int,
) -> dict[str, object]:
    def pick(values: dict[str, NDArray[np.float64]]) -> float:
        if metric not in values:
            return float('nan')
        chosen = values[metric] if index is None else values[metric][index]
        return float(chosen)

    return {
        'metric': metric,
        'class': name,
        'value': pick(point),
        'low': pick(low),
        'high': pick(high),
        'pixels': pixels,
    }


def _interval(value: float, low: float, high: float) -> str:
    if np.isnan(value):
        return '-'
    if np.isnan(low):
        return f'{value:.3f}'
    return f'{value:.3f} ({low:.3f}-{high:.3f})'


def _percentile(values: NDArray[np.float64], q: float) -> NDArray[np.float64]:
    """The percentile of each column over the draws, NaN where all are NaN."""
    flat = values.reshape(len(values), -1)
    defined = ~np.isnan(flat).all(axis=0)
    result = np.full(flat.shape[1], np.nan)
    if defined.any():
        result[defined] = np.nanpercentile(flat[:, defined], q, axis=0)
    return result.reshape(values.shape[1:])
