"""Trained models as folders that run without torch: an ONNX graph and its card.

:mod:`~torchgeo_bvm.export.exporter` writes the folder
(``torchgeo-bvm export``); :mod:`~torchgeo_bvm.export.card` is its
``model.json``, which reads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .card import (
        CARD_FORMAT,
        CARD_NAME,
        CONFIDENCE_CODES,
        GRAPH_NAME,
        TEMPORAL_LAYOUTS,
        ModelCard,
        TensorSpec,
    )
    from .exporter import (
        EXPORTABLE_TASKS,
        OPSET,
        TOLERANCE,
        ExportedModel,
        export_model,
    )

_HOMES: dict[str, str] = {
    'CARD_FORMAT': 'card',
    'CARD_NAME': 'card',
    'CONFIDENCE_CODES': 'card',
    'GRAPH_NAME': 'card',
    'TEMPORAL_LAYOUTS': 'card',
    'ModelCard': 'card',
    'TensorSpec': 'card',
    'EXPORTABLE_TASKS': 'exporter',
    'OPSET': 'exporter',
    'TOLERANCE': 'exporter',
    'ExportedModel': 'exporter',
    'export_model': 'exporter',
}

__all__ = [
    'CARD_FORMAT',
    'CARD_NAME',
    'CONFIDENCE_CODES',
    'EXPORTABLE_TASKS',
    'GRAPH_NAME',
    'OPSET',
    'TEMPORAL_LAYOUTS',
    'TOLERANCE',
    'ExportedModel',
    'ModelCard',
    'TensorSpec',
    'export_model',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
