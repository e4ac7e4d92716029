"""``torchgeo-bvm export``: model.onnx and model.json of each exportable config kind.

Each kind's task is built from the shipped configuration (random weights),
saved as ``torchgeo fit`` saves it (the task's class path in the
hyperparameters, the data module's input layout), exported, and run by
onnxruntime and torch on the same normalised input.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer

from torchgeo_bvm import __version__
from torchgeo_bvm.classes import CLASSES
from torchgeo_bvm.cli import main
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.errors import BVMExistsError, BVMNotFoundError, BVMValueError
from torchgeo_bvm.export.card import ModelCard
from torchgeo_bvm.export.exporter import export_model
from torchgeo_bvm.training.agreement import InputLayout
from torchgeo_bvm.training.configs import config_text
from torchgeo_bvm.training.normalization import BandStats

MEAN = tuple(float(100 * i + 300) for i in range(11))
STD = tuple(float(10 * i + 50) for i in range(11))
P1 = tuple(float(i) for i in range(11))
P99 = tuple(float(1000 + 2 * i) for i in range(11))
TEMPERATURE = 1.75


def _stats(folder: Path) -> Path:
    stats = BandStats(
        bands=ALL_BANDS,
        mean=MEAN,
        std=STD,
        percentiles={1.0: P1, 99.0: P99},
        pixels=100,
        sampled=100,
    )
    return stats.write(folder / 'band-stats.json')


def _config(folder: Path, name: str, **data: Any) -> tuple[Path, dict[str, Any]]:
    """The shipped configuration, its statistics in ``folder``."""
    config = yaml.safe_load(config_text(name))
    config['data']['init_args']['imagery']['stats'] = str(_stats(folder))
    config['data']['init_args'].update(data)
    path = folder / f'{name}.yaml'
    path.write_text(yaml.safe_dump(config))
    return path, config


def _task(config: dict[str, Any], **changes: Any) -> LightningModule:
    """The configuration's task with random weights (and a fitted temperature)."""
    import importlib

    module, _, name = config['model']['class_path'].rpartition('.')
    arguments = {**config['model']['init_args'], **changes}
    if 'weights' in arguments:
        arguments['weights'] = None
    torch.manual_seed(0)
    task = getattr(importlib.import_module(module), name)(**arguments)
    if hasattr(task, 'temperature'):
        task.temperature.fill_(TEMPERATURE)
    return task.eval()


def _checkpoint(
    folder: Path, task: LightningModule, class_path: str, layout: InputLayout | None
) -> Path:
    """The task saved as ``torchgeo fit`` saves it."""
    path = folder / 'best.ckpt'
    trainer = Trainer(accelerator='cpu', logger=False, enable_checkpointing=False)
    trainer.strategy.connect(task)
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    checkpoint['hyper_parameters']['_class_path'] = class_path
    checkpoint['hyper_parameters']['_instantiator'] = (
        'lightning.pytorch.cli.instantiate_module'
    )
    if layout is not None:
        checkpoint['BVMDataModule'] = {'input_layout': layout.state()}
    torch.save(checkpoint, path)
    return path


def _agreement(folder: Path, task: LightningModule, card: ModelCard) -> float:
    """The largest difference of onnxruntime's and torch's probabilities."""
    generator = torch.Generator().manual_seed(7)
    batch = 1 if card.days_of_year is not None else 3
    if card.stack == 'time':
        shape: tuple[int, ...] = (batch, card.steps, len(card.bands), 64, 96)
    else:
        shape = (batch, card.channels, 64, 96)
    image = torch.randn(*shape, generator=generator)
    feeds = {'image': image.numpy()}
    with torch.no_grad():
        if card.days_of_year is None:
            logits = task(image)
        else:
            valid = torch.ones(batch, card.steps, dtype=torch.bool)
            valid[0, 4] = False
            feeds['valid'] = valid.numpy()
            year = datetime.date(2021, 1, 1) - datetime.date(1970, 1, 1)
            dates = torch.tensor([[year.days + d for d in card.days_of_year]])
            logits = task(image, dates, valid)
    expected = (logits / (card.temperature or 1.0)).softmax(dim=1).numpy()
    session = onnxruntime.InferenceSession(
        str(folder / 'model.onnx'), providers=['CPUExecutionProvider']
    )
    found = session.run(None, feeds)[0]
    assert found.shape == expected.shape
    np.testing.assert_allclose(found.sum(axis=1), 1.0, atol=1e-5)
    return float(np.abs(found - expected).max())


def _expected_card(config: dict[str, Any], **values: Any) -> dict[str, Any]:
    """``model.json`` of the configuration's task as the tests build it."""
    card = {
        'format': 'torchgeo-bvm model',
        'version': 1,
        'package_version': __version__,
        'task': config['model']['class_path'],
        'bands': list(ALL_BANDS),
        'normalisation': {
            'method': 'meanstd',
            'stats': config['data']['init_args']['imagery']['stats'],
            'formula': '(x - mean) / std',
            'mean': list(MEAN),
            'std': list(STD),
        },
        'classes': [{'id': c.id, 'name': c.name, 'colour': c.colour} for c in CLASSES],
        'patch_size': 256,
        'fusion': {'stride': 128, 'overlap': 128, 'taper': 'sin2'},
        'calibration': {
            'temperature': TEMPERATURE,
            'confidence_table': np.eye(14, 251, dtype=np.float64).tolist(),
        },
    }
    card.update(values)
    return card


def _identity_table() -> list[list[float]]:
    from torchgeo_bvm.training.calibration import identity_table

    table: list[list[float]] = identity_table(14).double().tolist()
    return table


MONTHS = list(range(1, 13))
FIRST_DAYS = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]


@pytest.mark.slow
@pytest.mark.parametrize(
    ('name', 'network', 'changes', 'temporal', 'image', 'extra'),
    [
        (
            'bvm_all',
            'unet',
            {},
            {'layout': 'single', 'steps': 1, 'months': None, 'stack': None},
            ['batch', 11, 'height', 'width'],
            [],
        ),
        (
            'bvm_monthly_unet',
            'unet',
            {},
            {'layout': 'monthly', 'steps': 12, 'months': MONTHS, 'stack': 'channels'},
            ['batch', 132, 'height', 'width'],
            [],
        ),
        (
            'bvm_monthly_convlstm',
            'convlstm',
            {'hidden_dim': 8},
            {'layout': 'monthly', 'steps': 12, 'months': MONTHS, 'stack': 'time'},
            ['batch', 12, 11, 'height', 'width'],
            [],
        ),
        (
            'bvm_monthly_utae',
            'utae',
            {},
            {'layout': 'monthly', 'steps': 12, 'months': MONTHS, 'stack': 'time'},
            [1, 12, 11, 'height', 'width'],
            [{'name': 'valid', 'shape': [1, 12], 'dtype': 'bool'}],
        ),
    ],
)
def test_each_kind_exports_and_onnxruntime_agrees_with_torch(
    name: str,
    network: str,
    changes: dict[str, Any],
    temporal: dict[str, Any],
    image: list[int | str],
    extra: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_path, config = _config(tmp_path, name)
    task = _task(config, **changes)
    data = config['data']['init_args']
    series = data.get('series') or {}
    layout = InputLayout(
        ALL_BANDS,
        'monthly' if data.get('time_series') else None,
        12 if data.get('time_series') else 1,
        None,
        series.get('stack'),
    )
    checkpoint = _checkpoint(tmp_path, task, config['model']['class_path'], layout)
    out = tmp_path / 'models' / name
    argv = ['export', '--ckpt', str(checkpoint), '--config', str(config_path)]
    assert main([*argv, '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f'{out}: {network} (')
    assert sorted(p.name for p in out.iterdir()) == ['model.json', 'model.onnx']
    # Nothing staged is left beside the folder.
    assert sorted(p.name for p in out.parent.iterdir()) == [name]
    written = json.loads((out / 'model.json').read_text())
    days = FIRST_DAYS if network == 'utae' else None
    calibrated = config['model']['class_path'].startswith('torchgeo_bvm.')
    expected = _expected_card(
        config,
        network=network,
        temporal={**temporal, 'days_of_year': days},
        calibration={'temperature': TEMPERATURE, 'confidence_table': _identity_table()}
        if calibrated
        else None,
        onnx={
            'file': 'model.onnx',
            'opset': 17,
            'inputs': [{'name': 'image', 'shape': image, 'dtype': 'float32'}, *extra],
            'output': {
                'name': 'probabilities',
                'shape': [image[0], 14, 'height', 'width'],
                'dtype': 'float32',
            },
        },
    )
    assert written == expected
    card = ModelCard.read(out)
    assert card.to_dict() == expected
    difference = _agreement(out, task, card)
    assert difference <= 1e-4
    print(f'{name}: max |onnxruntime - torch| = {difference:.3g}')


def test_percentile_normalisation_and_the_prediction_stride(tmp_path: Path) -> None:
    config_path, config = _config(
        tmp_path,
        'bvm_all',
        patch_size=64,
        prediction={'stride': 48},
        imagery={'bands': 'all', 'stats': str(tmp_path / 'band-stats.json'),
                 'normalization': 'percentile'},
    )  # fmt: skip
    task = _task(config, backbone='resnet18')
    checkpoint = _checkpoint(tmp_path, task, config['model']['class_path'], None)
    exported = export_model(checkpoint, config_path, tmp_path / 'model')
    card = exported.card
    assert card.normalization == 'percentile'
    assert card.mean == P1
    assert card.std == tuple(h - low for h, low in zip(P99, P1, strict=True))
    assert (card.patch_size, card.stride, card.overlap) == (64, 48, 16)
    assert exported.difference <= 1e-4


# -- refusals ------------------------------------------------------------------


@pytest.fixture(scope='module')
def exportable(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small single-date model: its checkpoint and configuration."""
    folder = tmp_path_factory.mktemp('exportable')
    config_path, config = _config(folder, 'bvm_all', patch_size=64)
    task = _task(config, backbone='resnet18')
    layout = InputLayout(ALL_BANDS)
    return _checkpoint(folder, task, config['model']['class_path'], layout), config_path


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(['export', *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_refusals_are_one_line(
    exportable: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkpoint, config = exportable
    out = tmp_path / 'model'
    prefix = 'torchgeo-bvm export: error: '
    missing = tmp_path / 'missing.ckpt'
    argv = ['--ckpt', str(missing), '--config', str(config), '--out', str(out)]
    assert _refusal(argv, capsys) == f'{prefix}checkpoint {missing} not found'
    argv = ['--ckpt', str(checkpoint), '--config', str(tmp_path), '--out', str(out)]
    assert (
        _refusal(argv, capsys)
        == f'{prefix}config {tmp_path} is a folder; give the file'
    )
    garbage = tmp_path / 'garbage.ckpt'
    garbage.write_bytes(b'not a checkpoint')
    argv = ['--ckpt', str(garbage), '--config', str(config), '--out', str(out)]
    assert _refusal(argv, capsys).startswith(
        f'{prefix}checkpoint {garbage} cannot be read ('
    )
    # A task class the exporter does not know.
    other = tmp_path / 'other.yaml'
    text = yaml.safe_load(config.read_text())
    text['model']['class_path'] = 'torchgeo.tasks.ClassificationTask'
    other.write_text(yaml.safe_dump(text))
    argv = ['--ckpt', str(checkpoint), '--config', str(other), '--out', str(out)]
    assert _refusal(argv, capsys) == (
        f'{prefix}{other}: model.class_path torchgeo.tasks.ClassificationTask cannot '
        'be exported: expected one of '
        'torchgeo_bvm.training.tasks.BVMSemanticSegmentation, '
        'torchgeo_bvm.training.temporal.BVMTemporalSegmentation, '
        'torchgeo.tasks.SemanticSegmentation, '
        'torchgeo.tasks.SpatioTemporalSegmentation'
    )
    # Data that are not those the checkpoint was trained on.
    text = yaml.safe_load(config.read_text())
    text['data']['init_args']['imagery']['bands'] = 'rgb'
    other.write_text(yaml.safe_dump(text))
    assert _refusal(argv, capsys) == (
        f'{prefix}the checkpoint was trained on single dates of the bands '
        f'{", ".join(ALL_BANDS)}, and the data module reads single dates of the '
        'bands B02, B03, B04: set imagery.bands as in training'
    )
    assert not out.exists()


def test_a_network_torch_onnx_cannot_trace_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path, _ = _config(tmp_path, 'bvm_monthly_utae')
    text = yaml.safe_load(config_path.read_text())
    text['model']['init_args'].update(model='pixel', weights=None, hidden_dim=8)
    config_path.write_text(yaml.safe_dump(text))
    task = _task(text)
    checkpoint = _checkpoint(tmp_path, task, text['model']['class_path'], None)
    argv = ['--ckpt', str(checkpoint), '--config', str(config_path)]
    line = _refusal([*argv, '--out', str(tmp_path / 'model')], capsys)
    assert line.startswith(
        'torchgeo-bvm export: error: the pixel network of '
        'torchgeo_bvm.training.temporal.BVMTemporalSegmentation cannot be exported: '
        'onnxruntime cannot run its graph: '
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'band-stats.json',
        'best.ckpt',
        'bvm_monthly_utae.yaml',
    ]


def test_an_out_folder_holding_files_needs_overwrite(
    exportable: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, config = exportable
    out = tmp_path / 'model'
    out.mkdir()
    argv = ['--ckpt', str(checkpoint), '--config', str(config), '--out', str(out)]
    assert main(['export', *argv]) == 0  # an empty folder is no file to lose
    capsys.readouterr()
    assert _refusal(argv, capsys) == (
        f'torchgeo-bvm export: error: {out} holds files, use --overwrite to '
        'replace the folder'
    )
    (out / 'stale.txt').write_text('from before')
    assert main(['export', *argv, '--overwrite']) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ['model.json', 'model.onnx']
    inside = out / 'best.ckpt'
    inside.write_bytes(checkpoint.read_bytes())
    argv = ['--ckpt', str(inside), '--config', str(config), '--out', str(out)]
    assert _refusal([*argv, '--overwrite'], capsys) == (
        f'torchgeo-bvm export: error: --out {out} holds the input {inside}; '
        'choose another folder'
    )
    file = tmp_path / 'file'
    file.write_text('')
    with pytest.raises(BVMExistsError, match=r'is a file; give a folder$'):
        export_model(checkpoint, config, file)
    with pytest.raises(BVMNotFoundError):
        export_model(checkpoint, tmp_path / 'missing.yaml', tmp_path / 'new')


def test_a_bad_model_card_is_one_line(
    exportable: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, config = exportable
    out = export_model(checkpoint, config, tmp_path / 'model').folder
    path = out / 'model.json'
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, 'format': 'other'}))
    with pytest.raises(BVMValueError) as error:
        ModelCard.read(out)
    assert str(error.value) == (
        f'{path}: not a model card (no "format": "torchgeo-bvm model")'
    )
    path.write_text(json.dumps({**data, 'patch_size': 'big'}))
    with pytest.raises(BVMValueError) as error:
        ModelCard.read(path)
    assert str(error.value) == f"{path}: patch_size: expected a whole number, got 'big'"
    del data['normalisation']['std']
    path.write_text(json.dumps(data))
    with pytest.raises(BVMValueError) as error:
        ModelCard.read(path)
    assert str(error.value) == f"{path}: malformed model card: missing or bad 'std'"
    data['normalisation']['std'] = [0.0] * 11
    path.write_text(json.dumps(data))
    with pytest.raises(BVMValueError) as error:
        ModelCard.read(path)
    assert str(error.value) == f'{path}: normalisation.std: 0.0 is not above 0'
