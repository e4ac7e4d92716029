"""A comparison's ranking scored against the truth: which polygons really changed.

The mini-Flanders knows which BVM polygons changed after their mapping and
when (``truth/changes.csv``: ``TAG``, ``UIDN``, ``bvm_class``, ``true_class``,
``change_year``; :mod:`torchgeo_bvm.synth.flanders.truth`); any other list of
changed polygons in that form (field checks, say) can score a ranking too.
:func:`score_ranking` takes the compared polygons in rank order and counts a
polygon as changed when its ``TAG`` is listed with a ``change_year`` up to the
map's year: a map of 2020 cannot see a change of 2021, and that polygon's
record still held in 2020. Changed polygons the ranking does not list (no
counted pixel) count as missed. It reports precision at 10, 20 and 50,
average precision and the share of the changes found in the top 5 % of the
ranking (:func:`~torchgeo_bvm.evaluation.retrieval.ranking_metrics`), and what
a random order would score.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BVMNotFoundError, BVMValueError
from ..evaluation.retrieval import ranking_metrics

__all__ = [
    'REQUIRED_COLUMNS',
    'TRUTH_NAME',
    'describe_scores',
    'read_changes',
    'score_ranking',
]

#: The file the scores are written to, in the comparison's folder.
TRUTH_NAME = 'truth_scores.csv'
#: The columns a list of changes must have.
REQUIRED_COLUMNS = ('TAG', 'change_year')


def read_changes(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a list of changed polygons (``changes.csv``).

    Args:
        path: the CSV file.

    Returns:
        Its rows, ``TAG`` as text and ``change_year`` as an integer.

    Raises:
        BVMNotFoundError: if the file does not exist.
        BVMValueError: if it is not a CSV with the columns ``TAG`` and
            ``change_year``, or a change year is not a whole number.
    """
    path = Path(path)
    if not path.is_file():
        raise BVMNotFoundError(f'truth file not found: {path}')
    try:
        frame = pd.read_csv(path, dtype={'TAG': str})
    except (ValueError, UnicodeDecodeError) as error:
        reason = ' '.join(str(error).split())
        raise BVMValueError(f'{path}: not a CSV file ({reason})') from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BVMValueError(
            f'{path}: no column {", ".join(missing)}; a truth file lists changed '
            f'polygons with the columns {", ".join(REQUIRED_COLUMNS)} '
            '(as the mini-Flanders writes truth/changes.csv)'
        )
    years = pd.to_numeric(frame['change_year'], errors='coerce')
    bad = frame['change_year'][years.isna() | (years != years.round())]
    if len(bad):
        raise BVMValueError(
            f'{path}: change_year {bad.iloc[0]!r} (row {int(bad.index[0]) + 2}) is '
            'not a year'
        )
    frame['change_year'] = years.astype(np.int64)
    return frame


def score_ranking(
    polygons: pd.DataFrame, changes: pd.DataFrame, year: int | None
) -> dict[str, float]:
    """Score the compared polygons' ranking against the changes.

    Args:
        polygons: the compared polygons with ``TAG`` and ``rank`` (1 first,
            empty for polygons not ranked).
        changes: the changed polygons (:func:`read_changes`).
        year: the map's year: changes after it are not counted (None: every
            change counts).

    Returns:
        The metrics of :func:`~torchgeo_bvm.evaluation.retrieval.ranking_metrics`
        (``relevant``: the changed polygons among the compared ones, ranked or
        not), and ``year`` (NaN if None), ``listed`` (rows of the truth file),
        ``later`` (compared polygons that changed after ``year``).
    """
    visible = changes if year is None else changes[changes['change_year'] <= year]
    later = (
        set() if year is None else set(changes['TAG'][changes['change_year'] > year])
    )
    tags = polygons['TAG'].astype(str)
    changed = tags.isin(set(visible['TAG'].astype(str)))
    ranked = polygons['rank'].notna().to_numpy()
    order = np.argsort(
        polygons['rank'].to_numpy(dtype=np.float64)[ranked], kind='stable'
    )
    relevant = changed.to_numpy()[ranked][order]
    metrics = ranking_metrics(relevant, total_relevant=int(changed.sum()))
    metrics['year'] = float('nan') if year is None else float(year)
    metrics['listed'] = float(len(changes))
    metrics['later'] = float(tags.isin(later).sum())
    return metrics


def describe_scores(scores: dict[str, float], name: str) -> list[str]:
    """Lines for a terminal: how well the ranking finds the changes.

    Args:
        scores: from :func:`score_ranking`.
        name: the truth file's name.

    Returns:
        The lines.
    """
    year = scores['year']
    until = 'every change' if np.isnan(year) else f'changes up to {int(year)}'
    precision = ', '.join(
        f'{key} {scores[key]:.2f}' for key in scores if key.startswith('P@')
    )
    found = next(key for key in scores if key.startswith('found in the top'))
    lines = [
        f'against the truth ({name}, {until}): {int(scores["relevant"]):,} of '
        f'{int(scores["ranked"]):,} ranked polygons changed '
        f'(a random order scores about {scores["random"]:.3f})',
        f'  {precision}, average precision {scores["average precision"]:.3f}, '
        f'{scores[found]:.0%} of the changes {found}',
    ]
    if scores['later']:
        lines.append(
            f'  {int(scores["later"])} compared polygons changed after {int(year)}: '
            'not counted (the map cannot see them)'
        )
    return lines
