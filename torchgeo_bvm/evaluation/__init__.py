"""How good a map is, and how sure it may be: accuracy, calibration, rankings.

:mod:`~torchgeo_bvm.evaluation.accuracy` gives overall accuracy and per-class
IoU, F1, user's and producer's accuracy per sheet, with 95 % intervals from a
bootstrap over whole sheets (:mod:`~torchgeo_bvm.evaluation.units` says which
sheet a place belongs to); :mod:`~torchgeo_bvm.evaluation.calibration` the
reliability of a confidence (expected calibration error, reliability diagram)
and temperature scaling; :mod:`~torchgeo_bvm.evaluation.retrieval` how well a
ranking of candidates finds real changes. Nothing here imports torch: the
evaluation of ``torchgeo test``, the comparison of a map with the BVM and the
demo share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .accuracy import (
        BOOTSTRAP_DRAWS,
        CLASS_METRICS,
        AccuracyReport,
        confusion_metrics,
    )
    from .calibration import (
        BINS,
        Reliability,
        fit_temperature,
        plot_reliability,
        softmax,
    )
    from .retrieval import DEPTHS, TOP_SHARE, ranking_metrics
    from .units import NO_UNIT, EvaluationUnits

_HOMES: dict[str, str] = {
    'BINS': 'calibration',
    'BOOTSTRAP_DRAWS': 'accuracy',
    'CLASS_METRICS': 'accuracy',
    'DEPTHS': 'retrieval',
    'NO_UNIT': 'units',
    'TOP_SHARE': 'retrieval',
    'AccuracyReport': 'accuracy',
    'EvaluationUnits': 'units',
    'Reliability': 'calibration',
    'confusion_metrics': 'accuracy',
    'fit_temperature': 'calibration',
    'plot_reliability': 'calibration',
    'ranking_metrics': 'retrieval',
    'softmax': 'calibration',
}

__all__ = [
    'BINS',
    'BOOTSTRAP_DRAWS',
    'CLASS_METRICS',
    'DEPTHS',
    'NO_UNIT',
    'TOP_SHARE',
    'AccuracyReport',
    'EvaluationUnits',
    'Reliability',
    'confusion_metrics',
    'fit_temperature',
    'plot_reliability',
    'ranking_metrics',
    'softmax',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
