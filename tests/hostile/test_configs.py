"""YAML configurations of ``torchgeo fit/test/predict`` with wrong types or values.

A wrong type stops jsonargparse's parser (exit status 2, the key and value
named); a wrong value stops :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`
before it reads anything, and under the ``torchgeo`` command that error is one
line, not jsonargparse's "Does not validate against any of the Union subtypes"
with two chained tracebacks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from torchgeo.main import main as torchgeo_main

from torchgeo_bvm.errors import BVMError, find_bvm_error


def _config(mini_flanders, hostile_data: Path, folder: Path, **data: Any) -> Path:
    root, _ = mini_flanders
    config = {
        'model': {
            'class_path': 'torchgeo.tasks.SemanticSegmentation',
            'init_args': {'model': 'fcn', 'in_channels': 3, 'num_classes': 14},
        },
        'data': {
            'class_path': 'torchgeo_bvm.training.datamodule.BVMDataModule',
            'init_args': {
                'sentinel2_paths': str(root / 'TOC_V2'),
                'bvm_paths': str(hostile_data / 'labels.tif'),
                'crs': 'EPSG:32631',
                'res': 10,
                'bands': 'rgb',
                'patch_size': 64,
                **data,
            },
        },
        'trainer': {
            'accelerator': 'cpu',
            'max_steps': 1,
            'logger': False,
            'enable_checkpointing': False,
            'default_root_dir': str(folder),
        },
    }
    path = folder / 'config.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


WRONG_TYPES = [
    ({'patch_size': 'big'}, ['patch_size', 'big']),
    ({'batch_size': [8]}, ['batch_size']),
    ({'years': 'twenty'}, ['years', 'twenty']),
    ({'seed': 'lucky'}, ['seed', 'lucky']),
    ({'no_such_option': 1}, ['no_such_option']),
]


@pytest.mark.parametrize('subcommand', ['fit', 'test', 'predict'])
@pytest.mark.parametrize(('data', 'words'), WRONG_TYPES)
def test_wrong_types_stop_the_parser(
    mini_flanders, hostile_data: Path, tmp_path: Path, capsys, subcommand: str,
    data: dict[str, Any], words: list[str],
) -> None:  # fmt: skip
    config = _config(mini_flanders, hostile_data, tmp_path, **data)
    with pytest.raises(SystemExit) as info:
        torchgeo_main([subcommand, '--config', str(config)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    for word in words:
        assert word in err


WRONG_VALUES = [
    ({'patch_size': 48}, 'patch_size must be a positive multiple of 32'),
    ({'patch_size': 32768}, 'patch_size must be between 1 and 8192, got 32,768'),
    ({'res': 1e-300}, 'the grid over Flanders would be'),
    ({'length': 0}, 'length must be between 1 and 100,000,000, got 0'),
    ({'months': [13]}, 'months must be between 1 and 12, got 13'),
    ({'sheets': '22/1-2'}, 'sheets: expected 1:50,000 sheet numbers'),
    ({'bvm_paths': 'nowhere.shp'}, 'bvm_paths: nowhere.shp not found'),
    ({'cloud_rule': 'sunny'}, "unknown cloud_rule 'sunny'"),
]


@pytest.mark.parametrize(('data', 'words'), WRONG_VALUES)
def test_wrong_values_are_the_data_modules_own_error(
    mini_flanders, hostile_data: Path, tmp_path: Path, data: dict[str, Any], words: str
) -> None:
    config = _config(mini_flanders, hostile_data, tmp_path, **data)
    with pytest.raises(ValueError, match='Union subtypes') as info:
        torchgeo_main(['fit', '--config', str(config)])
    ours = find_bvm_error(info.value)
    assert isinstance(ours, BVMError)
    assert words in str(ours)


@pytest.mark.slow
def test_the_torchgeo_command_prints_one_line(
    mini_flanders, hostile_data: Path, tmp_path: Path
) -> None:
    config = _config(mini_flanders, hostile_data, tmp_path, patch_size=32768)
    env = {k: v for k, v in os.environ.items() if k != 'TORCHGEO_BVM_DEBUG'}
    done = subprocess.run(
        [Path(sys.executable).with_name('torchgeo'), 'fit', '--config', config],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert 'Traceback' not in done.stderr
    assert 'Union subtypes' not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        'torchgeo fit: error: patch_size must be between 1 and 8192, got 32,768 '
        '(TORCHGEO_BVM_DEBUG=1 shows the traceback)'
    )
    debug = subprocess.run(
        [Path(sys.executable).with_name('torchgeo'), 'fit', '--config', config],
        capture_output=True, text=True, env={**env, 'TORCHGEO_BVM_DEBUG': '1'},
        timeout=300,
    )  # fmt: skip
    assert 'Traceback' in debug.stderr
    assert 'patch_size must be between 1 and 8192' in debug.stderr
