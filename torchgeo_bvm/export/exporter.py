"""A trained model as a folder that runs without torch: ONNX graph and model card.

:func:`export_model` reads the YAML configuration of ``torchgeo fit`` (the
bands, normalisation, temporal layout, patch size and prediction stride of
its :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`) and the
checkpoint (the task's ``load_from_checkpoint``), and writes a folder holding

* ``model.onnx``: normalised images in, **class probabilities** out (the
  softmax of the logits divided by the task's fitted ``temperature``, as
  ``predict_step`` gives them), so that whoever runs it (an openEO UDF) fuses
  probabilities as the prediction writer does, without knowing the
  calibration; and
* ``model.json``: the :class:`~torchgeo_bvm.export.card.ModelCard`.

**The exporter.** The graph is traced by ``torch.onnx.export(...,
dynamo=False)`` (TorchScript tracing): it needs no ``onnxscript``, and the
networks' steps that are plain Python (the days of the year of U-TAE's
attention, computed with numpy) are recorded as the values they had, where
``torch.export`` (the dynamo exporter) refuses them.

**The opset**, :data:`OPSET` (17), is the TorchScript exporter's default and
the lowest opset with a ``LayerNormalization`` operator; onnxruntime runs it
since version 1.13 (2022), so the older runtimes that openEO backends pin for
their UDFs run it too.

**Axes.** Height and width are free (multiples of 32 for the U-Nets);
the batch is free too, except for the models of
:class:`~torchgeo_bvm.training.temporal.BVMTemporalSegmentation` that read the
steps' dates (all but the ConvLSTM): their days of the year are constants of
the trace, shaped by its batch, so their graph takes one tile at a time, with
a second input ``valid`` (``[1, T]`` bool: the step holds data, the data
module's ``valid_steps``, read before normalisation; a tile without any valid
step must not be sent). Those days are the first days of the months of a
common year (in a leap year the data module gives the days from March one
later, 1/1000 of the encoding's period).

What cannot be exported is refused in one line: a task class other than
TorchGeo's ``SemanticSegmentation`` and ``SpatioTemporalSegmentation`` and
the package's two tasks, a series of ``'dates'`` stacked in time (its steps'
dates and lengths differ per sample), and a network whose graph onnxruntime
cannot run or that gives other probabilities than torch on a probe (beyond
:data:`TOLERANCE`).
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torchgeo.tasks import SemanticSegmentation, SpatioTemporalSegmentation

from .. import __version__
from ..classes import CLASSES
from ..datasets.bands import resolve_bands
from ..datasets.radar import resolve_bands as resolve_radar_bands
from ..errors import BVMExistsError, BVMFileError, BVMNotFoundError, BVMValueError
from ..fileio import atomic_path
from ..training.agreement import InputLayout
from ..training.options import (
    ImageryOptions,
    PredictionOptions,
    RadarOptions,
    TimeSeriesOptions,
)
from ..training.settings import band_normalisation
from ..training.tasks import BVMSemanticSegmentation
from ..training.temporal import BVMTemporalSegmentation
from .card import CARD_NAME, GRAPH_NAME, ModelCard, TensorSpec

__all__ = ['EXPORTABLE_TASKS', 'OPSET', 'TOLERANCE', 'ExportedModel', 'export_model']

#: The ONNX opset of exported graphs (see the module docstring).
OPSET = 17
#: The largest difference between onnxruntime's and torch's probabilities on
#: the probe for an export to count as faithful.
TOLERANCE = 1e-4
#: The task classes that can be exported.
EXPORTABLE_TASKS: tuple[type[LightningModule], ...] = (
    BVMSemanticSegmentation,
    BVMTemporalSegmentation,
    SemanticSegmentation,
    SpatioTemporalSegmentation,
)
#: The data module whose configuration says what the network was given.
DATA_MODULE = 'torchgeo_bvm.training.datamodule.BVMDataModule'
#: The year whose first days of the months the graph holds (a common year).
COMMON_YEAR = 2021
#: The side of the probe tiles (at most the patch size).
PROBE_SIZE = 64


@dataclass(frozen=True)
class ExportedModel:
    """An exported model folder.

    Args:
        folder: the folder (``model.onnx``, ``model.json``).
        card: its card.
        difference: the largest difference between onnxruntime's and torch's
            class probabilities on the probe.
    """

    folder: Path
    card: ModelCard
    difference: float


class _Probabilities(nn.Module):
    """The task's class probabilities: ``softmax(logits / temperature)``."""

    def __init__(
        self, task: LightningModule, temperature: float, dates: Tensor | None
    ) -> None:
        super().__init__()
        self.task = task
        self.temperature = temperature
        self.dates = dates

    def forward(self, image: Tensor, valid: Tensor | None = None) -> Tensor:
        if self.dates is None:
            logits: Tensor = self.task(image)
        else:
            dates = self.dates.expand(image.shape[0], -1)
            logits = self.task(image, dates, valid)
        return (logits / self.temperature).softmax(dim=1)


def export_model(
    checkpoint: str | Path,
    config: str | Path,
    out: str | Path,
    overwrite: bool = False,
) -> ExportedModel:
    """Export a trained model: ``model.onnx`` and ``model.json`` in a folder.

    The folder appears whole or not at all: it is written under a hidden
    staging name beside ``out`` (which dataset scans skip) and renamed.

    Args:
        checkpoint: the checkpoint of ``torchgeo fit``.
        config: its YAML configuration (the one ``torchgeo fit`` saved beside
            its logs holds the command line's overrides too); relative paths
            in it (``imagery.stats``) are read from the working directory, as
            ``torchgeo`` reads them.
        out: the folder to write.
        overwrite: replace an ``out`` that holds files.

    Returns:
        The folder, its card and the probe's difference.

    Raises:
        BVMNotFoundError: if the checkpoint, the configuration or the band
            statistics it names do not exist.
        BVMFileError: if the checkpoint cannot be read.
        BVMExistsError: if ``out`` is a file, holds files (without
            ``overwrite``) or holds the checkpoint or configuration.
        BVMValueError: for a configuration that is not one of ``torchgeo
            fit`` with the package's data module, or a model that cannot be
            exported.
    """
    checkpoint, config, out = Path(checkpoint), Path(config), Path(out)
    _check_input(checkpoint, 'checkpoint')
    _check_input(config, 'config')
    _check_out(out, (checkpoint, config), overwrite)
    class_path, data = _read_config(config)
    task_class = _task_class(class_path, config)
    saved = _read_checkpoint(checkpoint)
    layout = _layout(data, config)
    steps_model = issubclass(task_class, BVMTemporalSegmentation)
    task = _load(task_class, checkpoint, class_path, saved)
    network = str(task.hparams.get('model', ''))
    saved_layout = saved.get(DATA_MODULE.rsplit('.', 1)[1], {}).get('input_layout')
    if saved_layout is not None:
        layout.check_saved(InputLayout.from_state(saved_layout))
    layout.check_model(task, classes=True)
    dated = steps_model and network != 'convlstm'
    if layout.time_dimension and layout.temporal == 'dates':
        raise BVMValueError(
            f"{config}: series.temporal 'dates' stacked in time cannot be "
            "exported: each sample's steps have their own dates and length, "
            'which the graph does not take; export a model of monthly series'
        )
    months = layout.months or tuple(range(1, 13))
    days = None
    if dated:
        start = datetime.date(COMMON_YEAR, 1, 1)
        days = tuple((datetime.date(COMMON_YEAR, m, 1) - start).days for m in months)
    temperature, table = None, None
    if isinstance(task, BVMSemanticSegmentation) and task.calibrated:
        temperature = float(task.temperature)
        table = tuple(
            tuple(float(v) for v in row)
            for row in task.confidence_table.detach().cpu().double().tolist()
        )
    batch = 1 if dated else None
    calibration = (temperature, table)
    card = _card(class_path, network, data, layout, task, calibration, days, batch)
    dates = None
    if days is not None:
        epoch = (datetime.date(COMMON_YEAR, 1, 1) - datetime.date(1970, 1, 1)).days
        dates = torch.tensor([[epoch + d for d in days]], dtype=torch.int64)
    model = _Probabilities(task, temperature or 1.0, dates).eval()
    with atomic_path(out) as staging:
        staging.mkdir()
        _trace(model, card, staging / GRAPH_NAME)
        difference = _probe(model, card, staging / GRAPH_NAME)
        card.to_json(staging / CARD_NAME)
    return ExportedModel(out, card, difference)


# -- inputs --------------------------------------------------------------------


def _check_input(path: Path, what: str) -> None:
    if not path.exists():
        raise BVMNotFoundError(f'{what} {path} not found')
    if not path.is_file():
        raise BVMFileError(f'{what} {path} is a folder; give the file')


def _check_out(out: Path, inputs: tuple[Path, ...], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BVMExistsError(f'--out {out} is a file; give a folder')
    for path in inputs:
        if out.resolve() in path.resolve().parents:
            raise BVMExistsError(
                f'--out {out} holds the input {path}; choose another folder'
            )
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise BVMExistsError(
            f'{out} holds files, use --overwrite to replace the folder'
        )


def _read_config(path: Path) -> tuple[str, dict[str, Any]]:
    """The task's class path and the data module's arguments."""
    try:
        config = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = ' '.join(str(error).split())
        raise BVMValueError(f'{path}: not a YAML configuration ({reason})') from None
    model = config.get('model') if isinstance(config, dict) else None
    data = config.get('data') if isinstance(config, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get('class_path'), str):
        raise BVMValueError(
            f'{path}: no model.class_path: expected a configuration of torchgeo '
            'fit (torchgeo-bvm config NAME --out FILE writes one)'
        )
    if not isinstance(data, dict) or data.get('class_path') != DATA_MODULE:
        raise BVMValueError(
            f'{path}: data.class_path is not {DATA_MODULE}: the bands and '
            "normalisation of an export are those of the package's data module"
        )
    arguments = data.get('init_args') or {}
    if not isinstance(arguments, dict):
        raise BVMValueError(f'{path}: data.init_args is not a mapping')
    return model['class_path'], arguments


def _task_class(class_path: str, config: Path) -> type[LightningModule]:
    module, _, name = class_path.rpartition('.')
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        found = None
    if found not in EXPORTABLE_TASKS:
        names = ', '.join(_class_path(t) for t in EXPORTABLE_TASKS)
        raise BVMValueError(
            f'{config}: model.class_path {class_path} cannot be exported: '
            f'expected one of {names}'
        )
    task_class: type[LightningModule] = found
    return task_class


def _class_path(task_class: type) -> str:
    """A task's class path as configurations name it (TorchGeo's from its package)."""
    module = task_class.__module__
    if module.startswith('torchgeo.tasks.'):
        module = 'torchgeo.tasks'
    return f'{module}.{task_class.__name__}'


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        saved = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as error:  # pickle's and zipfile's many kinds
        reason = ' '.join(str(error).split())[:160] or type(error).__name__
        raise BVMFileError(f'checkpoint {path} cannot be read ({reason})') from None
    if not isinstance(saved, dict) or not isinstance(saved.get('state_dict'), dict):
        raise BVMFileError(
            f'checkpoint {path} is not a Lightning checkpoint (no state_dict)'
        )
    return saved


def _load(
    task_class: type[LightningModule],
    path: Path,
    class_path: str,
    saved: Mapping[str, Any],
) -> LightningModule:
    recorded = saved.get('hyper_parameters', {}).get('_class_path')
    if recorded is not None and recorded.rsplit('.', 1)[-1] != task_class.__name__:
        raise BVMValueError(
            f'checkpoint {path} holds a {recorded}, and the config names '
            f'{class_path}: give the configuration of its training'
        )
    # TorchGeo's own task fetches its initial weights when it is built.
    overrides = {'weights': None} if task_class is SemanticSegmentation else {}
    source: Path | io.BytesIO = path
    hparams = saved.get('hyper_parameters', {})
    if '_class_path' in hparams and '_instantiator' not in hparams:
        # Without LightningCLI's instantiator, nothing takes the class path
        # out of the arguments, and the tasks take any keyword argument.
        copy = {**saved, 'hyper_parameters': dict(hparams)}
        del copy['hyper_parameters']['_class_path']
        source = io.BytesIO()
        torch.save(copy, source)
        source.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            task = task_class.load_from_checkpoint(
                source, map_location='cpu', **overrides
            )
    except (RuntimeError, KeyError, TypeError) as error:
        reason = ' '.join(str(error).split())[:200]
        raise BVMValueError(
            f'checkpoint {path} does not load into {class_path} ({reason})'
        ) from None
    return task.eval()


def _layout(data: Mapping[str, Any], config: Path) -> InputLayout:
    """What a batch held in training, from the data module's arguments."""
    try:
        imagery = ImageryOptions(**(data.get('imagery') or {}))
        radar = RadarOptions(**(data.get('radar') or {}))
        series = data.get('series')
        options = None if series is None else TimeSeriesOptions(**series)
    except TypeError as error:
        raise BVMValueError(f'{config}: data.init_args: {error}') from None
    optical = (
        resolve_bands(imagery.bands) if data.get('sentinel2_paths') is not None else ()
    )
    sar = (
        resolve_radar_bands(radar.bands)
        if data.get('sentinel1_paths') is not None
        else ()
    )
    bands = (*optical, *sar)
    if not data.get('time_series'):
        return InputLayout(bands)
    options = options or TimeSeriesOptions()
    steps = options.check(imagery.months)
    months = imagery.months
    return InputLayout(
        bands,
        options.layout,
        steps,
        None if months is None else tuple(sorted(set(months))),
        options.stacking,
    )


# -- the card ------------------------------------------------------------------


def _card(
    class_path: str,
    network: str,
    data: Mapping[str, Any],
    layout: InputLayout,
    task: LightningModule,
    calibration: tuple[float | None, tuple[tuple[float, ...], ...] | None],
    days: tuple[int, ...] | None,
    batch: int | None,
) -> ModelCard:
    imagery = ImageryOptions(**(data.get('imagery') or {}))
    radar = RadarOptions(**(data.get('radar') or {}))
    sar = (
        resolve_radar_bands(radar.bands)
        if data.get('sentinel1_paths') is not None
        else ()
    )
    optical = layout.bands[: len(layout.bands) - len(sar)]
    mean, std = band_normalisation(imagery, radar, optical, sar)
    patch_size = int(data.get('patch_size', 256))
    prediction = PredictionOptions(**(data.get('prediction') or {}))
    stride = prediction.stride or patch_size // 2
    classes = int(task.hparams['num_classes'])
    temperature, table = calibration
    temporal = layout.temporal or 'single'
    axis: int | str = 'batch' if batch is None else batch
    image: tuple[int | str, ...]
    if layout.time_dimension:
        image = (axis, layout.steps, len(layout.bands), 'height', 'width')
    else:
        image = (axis, layout.channels, 'height', 'width')
    inputs = [TensorSpec('image', image)]
    if days is not None:
        inputs.append(TensorSpec('valid', (axis, layout.steps), 'bool'))
    return ModelCard(
        task=class_path,
        network=network,
        bands=layout.bands,
        normalization=imagery.normalization,
        stats=imagery.stats,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        classes=CLASSES[:classes],
        temporal=temporal,
        steps=layout.steps,
        months=(layout.months or tuple(range(1, 13)))
        if temporal == 'monthly'
        else None,
        stack=layout.stack,
        days_of_year=days,
        patch_size=patch_size,
        stride=stride,
        temperature=temperature,
        confidence_table=table,
        inputs=tuple(inputs),
        output=TensorSpec('probabilities', (axis, classes, 'height', 'width')),
        opset=OPSET,
        package_version=__version__,
    )


# -- the graph -----------------------------------------------------------------


def _probe_inputs(card: ModelCard, width_factor: int, seed: int) -> list[Tensor]:
    """Normalised random tiles of the card's shapes (and a ``valid`` mask)."""
    generator = torch.Generator().manual_seed(seed)
    batch = card.inputs[0].shape[0]
    size = min(card.patch_size, PROBE_SIZE)
    shape = [
        (2 if batch == 'batch' else int(batch))
        if index == 0
        else size * width_factor
        if axis == 'width'
        else size
        if axis == 'height'
        else int(axis)
        for index, axis in enumerate(card.inputs[0].shape)
    ]
    tensors = [torch.randn(*shape, generator=generator)]
    if len(card.inputs) > 1:
        valid = torch.ones(shape[0], card.steps, dtype=torch.bool)
        if card.steps > 1:
            valid[0, seed % card.steps] = False
        tensors.append(valid)
    return tensors


def _trace(model: _Probabilities, card: ModelCard, path: Path) -> None:
    """Write the graph of ``model``; refuse, in one line, one that cannot be traced."""
    names = [spec.name for spec in card.inputs]
    dynamic = {
        spec.name: {
            i: axis for i, axis in enumerate(spec.shape) if isinstance(axis, str)
        }
        for spec in (*card.inputs, card.output)
    }
    options: dict[str, Any] = {}
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        options['dynamo'] = False
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The tracer's warnings name Python steps it records as constants:
            # the module docstring says which, and the probe checks the result.
            warnings.simplefilter('ignore')
            torch.onnx.export(
                model,
                tuple(_probe_inputs(card, 1, 0)),
                str(path),
                input_names=names,
                output_names=[card.output.name],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                **options,
            )
    except Exception as error:  # the tracer raises many kinds
        raise BVMValueError(
            _cannot(card, f'torch.onnx cannot trace it: {error}')
        ) from None
    finally:
        # The exporter gives the modules back their mode of before: evaluation.
        model.eval()


def _probe(model: _Probabilities, card: ModelCard, path: Path) -> float:
    """The largest difference of onnxruntime's and torch's probabilities on a probe."""
    import onnxruntime

    inputs = _probe_inputs(card, 2, 1)
    try:
        session = onnxruntime.InferenceSession(
            str(path), providers=['CPUExecutionProvider']
        )
        feeds = {
            spec.name: tensor.numpy()
            for spec, tensor in zip(card.inputs, inputs, strict=True)
        }
        outputs = session.run(None, feeds)[0]
    except Exception as error:  # onnxruntime's own kinds
        raise BVMValueError(
            _cannot(card, f'onnxruntime cannot run its graph: {error}')
        ) from None
    with torch.no_grad():
        expected = model(*inputs).numpy()
    difference = float(np.abs(outputs - expected).max())
    if not difference <= TOLERANCE:
        raise BVMValueError(
            _cannot(
                card,
                f"onnxruntime's probabilities differ from torch's by {difference:.3g} "
                f'(more than {TOLERANCE:g})',
            )
        )
    return difference


def _cannot(card: ModelCard, reason: str) -> str:
    reason = ' '.join(reason.split())
    if len(reason) > 240:
        reason = reason[:237] + '...'
    return f'the {card.network} network of {card.task} cannot be exported: {reason}'
