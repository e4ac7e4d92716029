"""``model.json``: what an exported model needs beside its ONNX graph.

An exported model folder (``torchgeo-bvm export``) holds ``model.onnx`` and
``model.json``, the :class:`ModelCard`: everything a program that has only
numpy and onnxruntime needs to give the graph what the data module gave the
network in training, and to fuse its tiles as ``torchgeo predict`` does:

* the **bands** in channel order and their **normalisation**: ``(x - mean) /
  std`` per band, the values of kornia's ``Normalize`` in the data module
  (``mean`` and ``std`` of the band statistics; ``p1`` and ``p99 - p1`` with
  ``normalization: percentile``; ``0`` and ``10000`` for Sentinel-2 without
  statistics), applied to every step of a series alike;
* the **classes** with their colours (:mod:`torchgeo_bvm.classes`);
* the **temporal layout**: ``'single'`` (one date), ``'monthly'`` (one step
  per month of ``months``, each the first day of its month) or ``'dates'``
  (``steps`` acquisitions), and how the steps are **stacked**: ``'channels'``
  (``[B, T * C, H, W]``, the months' bands one month after the other) or
  ``'time'`` (``[B, T, C, H, W]``);
* the **patch size** and the **fusion** of overlapping tiles: tiles every
  ``stride`` pixels (``overlap = patch_size - stride``), each weighted by the
  ``'sin2'`` taper ``sin²(π (i + ½) / size)`` along the rows times the same
  along the columns (:func:`~torchgeo_bvm.maps.fusion.edge_taper`);
* the **calibration**, when the task has one: the ``temperature`` the graph
  already divides the logits by, and the ``confidence_table`` of the fused
  confidence (``[classes, 251]``);
* the graph's **inputs** and **output** by name, shape (``'batch'``,
  ``'height'`` and ``'width'`` where the axis is free) and type, its opset,
  and the package version that wrote it.

:meth:`ModelCard.read` checks a file and refuses a bad one in one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..classes import BVMClass
from ..errors import BVMNotFoundError, BVMValueError
from ..fileio import read_json

__all__ = [
    'CARD_FORMAT',
    'CARD_NAME',
    'CONFIDENCE_CODES',
    'GRAPH_NAME',
    'TEMPORAL_LAYOUTS',
    'ModelCard',
    'TensorSpec',
]

#: Identifies the ``model.json`` files written by :meth:`ModelCard.to_json`.
CARD_FORMAT = 'torchgeo-bvm model'
#: The file name of the card in an exported model folder.
CARD_NAME = 'model.json'
#: The file name of the ONNX graph in an exported model folder.
GRAPH_NAME = 'model.onnx'
#: The temporal layouts of a model's input.
TEMPORAL_LAYOUTS = ('single', 'monthly', 'dates')
#: The confidence codes of a fused map (0..250), the columns of a confidence table.
CONFIDENCE_CODES = 251
_VERSION = 1
_DTYPES = ('float32', 'bool')


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the ONNX graph.

    Args:
        name: its name in the graph.
        shape: its axes: a size, or a name (``'batch'``, ``'height'``,
            ``'width'``) where the graph takes any size.
        dtype: ``'float32'`` or ``'bool'``.
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = 'float32'

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary.

        Returns:
            ``name``, ``shape`` and ``dtype``.
        """
        return {'name': self.name, 'shape': list(self.shape), 'dtype': self.dtype}


@dataclass(frozen=True)
class ModelCard:
    """What an exported model takes, gives and how its tiles are fused.

    See the module docstring for what each part means.

    Args:
        task: the task's class path (``torchgeo_bvm.training.tasks...``).
        network: the task's ``model`` (``'unet'``, ``'convlstm'``, ``'utae'``).
        bands: the bands of one step, in channel order.
        normalization: ``'meanstd'`` or ``'percentile'`` (the configuration's
            ``imagery.normalization``).
        stats: the name of the band statistics file the numbers come from
            (None: reflectance scaled by 10000).
        mean: subtracted from each band.
        std: each band is divided by it after.
        classes: the classes, by id.
        temporal: ``'single'``, ``'monthly'`` or ``'dates'``.
        steps: the steps of a series (1 for single dates).
        months: the months of a monthly series (None otherwise).
        stack: ``'channels'`` or ``'time'`` for a series, None for single dates.
        days_of_year: where the graph holds the steps' days of the year as
            constants (the temporal attention of U-TAE), those days (0 for
            1 January); else None.
        patch_size: the side of a tile in pixels.
        stride: tiles every ``stride`` pixels.
        temperature: the logits are divided by it before the softmax (None:
            the task has no calibration).
        confidence_table: ``[classes, 251]`` calibrated probability of each
            confidence code per predicted class (None: no calibration).
        inputs: the graph's inputs.
        output: the graph's output: class probabilities ``[batch, classes,
            height, width]``.
        opset: the ONNX opset of the graph.
        package_version: the torchgeo-bvm version that exported it.
        taper: the tile weights of the fusion (``'sin2'``).

    Raises:
        BVMValueError: for values that do not fit together, naming the field.
    """

    task: str
    network: str
    bands: tuple[str, ...]
    normalization: str
    stats: str | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[BVMClass, ...]
    temporal: str
    steps: int
    months: tuple[int, ...] | None
    stack: str | None
    days_of_year: tuple[int, ...] | None
    patch_size: int
    stride: int
    temperature: float | None
    confidence_table: tuple[tuple[float, ...], ...] | None
    inputs: tuple[TensorSpec, ...]
    output: TensorSpec
    opset: int
    package_version: str
    taper: str = 'sin2'

    def __post_init__(self) -> None:
        if not self.bands or len(set(self.bands)) != len(self.bands):
            raise BVMValueError(
                f'bands: expected distinct band names, got {self.bands}'
            )
        for name, values in (('mean', self.mean), ('std', self.std)):
            if len(values) != len(self.bands):
                raise BVMValueError(
                    f'normalisation.{name}: expected one value per band '
                    f'({len(self.bands)}), got {len(values)}'
                )
            if not all(math.isfinite(v) for v in values):
                raise BVMValueError(f'normalisation.{name}: not all finite numbers')
        if min(self.std) <= 0:
            raise BVMValueError(f'normalisation.std: {min(self.std)} is not above 0')
        if self.normalization not in ('meanstd', 'percentile'):
            raise BVMValueError(
                f"normalisation.method: expected 'meanstd' or 'percentile', got "
                f'{self.normalization!r}'
            )
        ids = [c.id for c in self.classes]
        if not ids or ids != list(range(len(ids))):
            raise BVMValueError(f'classes: expected ids 0, 1, ..., got {ids}')
        self._check_layout()
        if not 0 < self.stride <= self.patch_size:
            raise BVMValueError(
                f'fusion.stride: expected 1..{self.patch_size} (the patch size), '
                f'got {self.stride}'
            )
        if self.taper != 'sin2':
            raise BVMValueError(f"fusion.taper: expected 'sin2', got {self.taper!r}")
        if self.temperature is not None and not (
            math.isfinite(self.temperature) and self.temperature > 0
        ):
            raise BVMValueError(
                f'calibration.temperature: expected a number above 0, got '
                f'{self.temperature}'
            )
        table = self.confidence_table
        if table is not None and (
            len(table) != len(self.classes)
            or any(len(row) != CONFIDENCE_CODES for row in table)
        ):
            raise BVMValueError(
                f'calibration.confidence_table: expected {len(self.classes)} rows '
                f'(classes) of {CONFIDENCE_CODES} values'
            )
        for spec in (*self.inputs, self.output):
            if spec.dtype not in _DTYPES:
                raise BVMValueError(
                    f'onnx: {spec.name} has dtype {spec.dtype!r}, expected one of '
                    f'{", ".join(_DTYPES)}'
                )
        if not self.inputs or self.inputs[0].shape != self.image_shape():
            raise BVMValueError(
                f'onnx.inputs: the first input must be the image '
                f'{list(self.image_shape())}'
            )

    def _check_layout(self) -> None:
        if self.temporal not in TEMPORAL_LAYOUTS:
            raise BVMValueError(
                f'temporal.layout: expected one of {", ".join(TEMPORAL_LAYOUTS)}, '
                f'got {self.temporal!r}'
            )
        single = self.temporal == 'single'
        if single and (self.steps != 1 or self.stack is not None):
            raise BVMValueError(
                'temporal: single dates have steps 1 and stack null, got steps '
                f'{self.steps} and stack {self.stack!r}'
            )
        if not single and self.stack not in ('channels', 'time'):
            raise BVMValueError(
                f"temporal.stack: expected 'channels' or 'time' for a series, got "
                f'{self.stack!r}'
            )
        if self.steps < 1:
            raise BVMValueError(f'temporal.steps: expected 1 or more, got {self.steps}')
        if (self.months is not None) != (self.temporal == 'monthly') or (
            self.months is not None and len(self.months) != self.steps
        ):
            raise BVMValueError(
                'temporal.months: expected one month per step for a monthly series, '
                'null otherwise'
            )
        days = self.days_of_year
        if days is not None and len(days) != self.steps:
            raise BVMValueError(
                f'temporal.days_of_year: expected {self.steps} days, got {len(days)}'
            )

    @property
    def overlap(self) -> int:
        """Pixels shared by neighbouring tiles: ``patch_size - stride``."""
        return self.patch_size - self.stride

    @property
    def channels(self) -> int:
        """The channels of the image input: ``C``, or ``T * C`` stacked as channels."""
        return len(self.bands) * (self.steps if self.stack == 'channels' else 1)

    def image_shape(self) -> tuple[int | str, ...]:
        """The shape of the image input, as :attr:`inputs` names it.

        Returns:
            ``[batch, channels, height, width]``, or ``[batch, steps, bands,
            height, width]`` for a series stacked in time; the batch a size
            where the graph fixes it.
        """
        batch = self.inputs[0].shape[0] if self.inputs else 'batch'
        if self.stack == 'time':
            return (batch, self.steps, len(self.bands), 'height', 'width')
        return (batch, self.channels, 'height', 'width')

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary (what ``model.json`` holds).

        Returns:
            The dictionary.
        """
        return {
            'format': CARD_FORMAT,
            'version': _VERSION,
            'package_version': self.package_version,
            'task': self.task,
            'network': self.network,
            'bands': list(self.bands),
            'normalisation': {
                'method': self.normalization,
                'stats': self.stats,
                'formula': '(x - mean) / std',
                'mean': list(self.mean),
                'std': list(self.std),
            },
            'classes': [
                {'id': c.id, 'name': c.name, 'colour': c.colour} for c in self.classes
            ],
            'temporal': {
                'layout': self.temporal,
                'steps': self.steps,
                'months': None if self.months is None else list(self.months),
                'stack': self.stack,
                'days_of_year': None
                if self.days_of_year is None
                else list(self.days_of_year),
            },
            'patch_size': self.patch_size,
            'fusion': {
                'stride': self.stride,
                'overlap': self.overlap,
                'taper': self.taper,
            },
            'calibration': None
            if self.temperature is None
            else {
                'temperature': self.temperature,
                'confidence_table': None
                if self.confidence_table is None
                else [list(row) for row in self.confidence_table],
            },
            'onnx': {
                'file': GRAPH_NAME,
                'opset': self.opset,
                'inputs': [spec.to_dict() for spec in self.inputs],
                'output': self.output.to_dict(),
            },
        }

    def to_json(self, path: str | Path) -> Path:
        """Write the card as JSON (the caller stages the folder it goes into).

        Args:
            path: the file to write.

        Returns:
            ``path``.
        """
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + '\n')
        return path

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        """Read and check a card: ``model.json`` or the folder holding it.

        Args:
            path: the file or the exported model folder.

        Returns:
            The card.

        Raises:
            BVMNotFoundError: if there is no such file.
            BVMValueError: if it is not a model card or a field is missing or
                wrong (one line naming the file and the field).
        """
        path = Path(path)
        if path.is_dir():
            path = path / CARD_NAME
        if not path.is_file():
            raise BVMNotFoundError(
                f'{path}: not found (an exported model folder holds {CARD_NAME}: '
                '`torchgeo-bvm export`)'
            )
        data = read_json(path)
        if not isinstance(data, dict) or data.get('format') != CARD_FORMAT:
            raise BVMValueError(
                f'{path}: not a model card (no "format": "{CARD_FORMAT}")'
            )
        if data.get('version') != _VERSION:
            raise BVMValueError(
                f'{path}: model card version {data.get("version")!r}, this '
                f'torchgeo-bvm reads version {_VERSION}'
            )
        try:
            return cls.from_dict(data)
        except BVMValueError as error:
            raise BVMValueError(f'{path}: {error}') from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BVMValueError(
                f'{path}: malformed model card: missing or bad {error}'
            ) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """The card a dictionary of :meth:`to_dict` describes.

        Args:
            data: the dictionary.

        Returns:
            The card.

        Raises:
            KeyError: for a missing field.
            TypeError: for a field of the wrong kind.
            BVMValueError: for values that do not fit together.
        """
        norm, temporal = data['normalisation'], data['temporal']
        fusion, onnx = data['fusion'], data['onnx']
        calibration = data['calibration']
        months, days = temporal['months'], temporal['days_of_year']
        table = None if calibration is None else calibration['confidence_table']
        card = cls(
            task=_text(data['task'], 'task'),
            network=_text(data['network'], 'network'),
            bands=tuple(_text(b, 'bands') for b in data['bands']),
            normalization=_text(norm['method'], 'normalisation.method'),
            stats=None if norm['stats'] is None else _text(norm['stats'], 'stats'),
            mean=_numbers(norm['mean'], 'normalisation.mean'),
            std=_numbers(norm['std'], 'normalisation.std'),
            classes=tuple(
                BVMClass(_whole(c['id'], 'classes.id'), c['name'], c['colour'])
                for c in data['classes']
            ),
            temporal=_text(temporal['layout'], 'temporal.layout'),
            steps=_whole(temporal['steps'], 'temporal.steps'),
            months=None
            if months is None
            else tuple(_whole(m, 'temporal.months') for m in months),
            stack=temporal['stack'],
            days_of_year=None
            if days is None
            else tuple(_whole(d, 'temporal.days_of_year') for d in days),
            patch_size=_whole(data['patch_size'], 'patch_size'),
            stride=_whole(fusion['stride'], 'fusion.stride'),
            temperature=None
            if calibration is None
            else float(_numbers([calibration['temperature']], 'temperature')[0]),
            confidence_table=None
            if table is None
            else tuple(_numbers(row, 'confidence_table') for row in table),
            inputs=tuple(_spec(s) for s in onnx['inputs']),
            output=_spec(onnx['output']),
            opset=_whole(onnx['opset'], 'onnx.opset'),
            package_version=_text(data['package_version'], 'package_version'),
            taper=_text(fusion['taper'], 'fusion.taper'),
        )
        if fusion['overlap'] != card.overlap:
            raise BVMValueError(
                f'fusion.overlap {fusion["overlap"]} is not patch_size - stride '
                f'({card.overlap})'
            )
        return card


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise BVMValueError(f'{name}: expected text, got {value!r}')
    return value


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BVMValueError(f'{name}: expected a whole number, got {value!r}')
    return value


def _numbers(values: Sequence[object], name: str) -> tuple[float, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise BVMValueError(f'{name}: expected a list of numbers, got {values!r}')
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BVMValueError(f'{name}: expected numbers, got {value!r}')
    return tuple(float(v) for v in values)  # type: ignore[arg-type]


def _spec(data: Mapping[str, Any]) -> TensorSpec:
    shape = tuple(
        axis if isinstance(axis, str) else _whole(axis, 'onnx shape')
        for axis in data['shape']
    )
    return TensorSpec(_text(data['name'], 'onnx name'), shape, data['dtype'])
