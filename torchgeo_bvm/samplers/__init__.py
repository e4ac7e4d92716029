"""TorchGeo samplers that draw per map sheet.

:mod:`~torchgeo_bvm.samplers.sheet` holds the training and evaluation samplers
(crops and tiles inside the sheets of a split), :mod:`~torchgeo_bvm.samplers.rare`
the training crops' preference for rare classes,
:mod:`~torchgeo_bvm.samplers.temporal` the date or year of each window and
:mod:`~torchgeo_bvm.samplers.prediction` the tiles and observations of a map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .prediction import SheetObservationSampler
    from .rare import RareClassCentres
    from .sheet import SheetGridSampler, SheetSampler
    from .temporal import CalendarYearSampler, CentreTimestampSampler

_HOMES: dict[str, str] = {
    'CalendarYearSampler': 'temporal',
    'CentreTimestampSampler': 'temporal',
    'RareClassCentres': 'rare',
    'SheetGridSampler': 'sheet',
    'SheetObservationSampler': 'prediction',
    'SheetSampler': 'sheet',
}

__all__ = [
    'CalendarYearSampler',
    'CentreTimestampSampler',
    'RareClassCentres',
    'SheetGridSampler',
    'SheetObservationSampler',
    'SheetSampler',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
