"""YAML configurations of ``torchgeo fit/test/predict`` with wrong types or values.

A wrong type stops jsonargparse's parser (exit status 2, the key and value
named); a wrong value stops :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`
when the stage starts, before it reads anything, and under the ``torchgeo``
command that error is one line with exit status 2 (the data module's
``on_exception``), not jsonargparse's "Does not validate against any of the
Union subtypes" with two chained tracebacks.
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
                'imagery': {'bands': 'rgb', 'crs': 'EPSG:32631', 'res': 10},
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
    ({'imagery': {'years': 'twenty'}}, ['years', 'twenty']),
    ({'sampling': {'seed': 'lucky'}}, ['seed', 'lucky']),
    ({'no_such_option': 1}, ['no_such_option']),
    ({'time_series': 'monthly'}, ['time_series', 'monthly']),
    ({'series': {'stack': 'channels', 'depth': 3}}, ['series', 'depth']),
    ({'prediction': {'years': 'last'}}, ['prediction', 'last']),
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
    (
        {'imagery': {'crs': 'EPSG:32631', 'res': 1e-300}},
        'the grid over Flanders would be',
    ),
    ({'length': 0}, 'length must be between 1 and 100,000,000, got 0'),
    (
        {'imagery': {'crs': 'EPSG:32631', 'res': 10, 'months': [13]}},
        'imagery.months must be between 1 and 12, got 13',
    ),
    ({'sheets': '22/1-2'}, 'sheets: expected 1:50,000 sheet numbers'),
    ({'bvm_paths': 'nowhere.shp'}, 'bvm_paths: nowhere.shp not found'),
    (
        {'imagery': {'crs': 'EPSG:32631', 'res': 10, 'cloud_rule': 'sunny'}},
        "unknown cloud_rule 'sunny'",
    ),
    ({'series': {'stack': 'channels'}}, 'series (stack) applies to time series'),
    (
        {'time_series': True, 'prediction': {'months': [7]}},
        'prediction.months applies to single-date models',
    ),
    ({'prediction': {'sheets': '22/9'}}, "invalid map sheet code '22/9'"),
]


@pytest.mark.parametrize('subcommand', ['fit', 'test', 'predict'])
@pytest.mark.parametrize(('data', 'words'), WRONG_VALUES)
def test_wrong_values_are_the_data_modules_own_error(
    mini_flanders, hostile_data: Path, tmp_path: Path, subcommand: str,
    data: dict[str, Any], words: str,
) -> None:  # fmt: skip
    config = _config(mini_flanders, hostile_data, tmp_path, **data)
    # The configuration parses; the data module refuses it when the stage
    # starts, before it reads anything.
    with pytest.raises(BVMError) as info:
        torchgeo_main([subcommand, '--config', str(config)])
    assert words in str(info.value)
    assert '\n' not in str(info.value)
    assert find_bvm_error(info.value) is info.value


def test_a_null_field_of_a_group_on_the_command_line_is_refused(
    mini_flanders, hostile_data: Path, tmp_path: Path
) -> None:
    imagery = {'bands': 'rgb', 'crs': 'EPSG:32631', 'res': 10, 'stats': 'x.json'}
    config = _config(mini_flanders, hostile_data, tmp_path, imagery=imagery)
    # jsonargparse turns this null into the text 'None'.
    argv = ['fit', '--config', str(config), '--data.init_args.imagery.stats=null']
    with pytest.raises(BVMError) as info:
        torchgeo_main(argv)
    assert str(info.value) == (
        "imagery.stats is the text 'None' and no such file exists: to set it to "
        'null on the command line, give the group in one piece, e.g. '
        '--data.init_args.imagery=\'{"stats": null}\''
    )


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
    # The error stops the run once it has started: the data module's
    # on_exception ends it in one line with status 2, as torchgeo-bvm does.
    assert done.returncode == 2
    assert 'Traceback' not in done.stderr
    assert 'Union subtypes' not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        'torchgeo fit: error: patch_size must be between 1 and 8192, got 32,768'
    )
    debug = subprocess.run(
        [Path(sys.executable).with_name('torchgeo'), 'fit', '--config', config],
        capture_output=True, text=True, env={**env, 'TORCHGEO_BVM_DEBUG': '1'},
        timeout=300,
    )  # fmt: skip
    assert 'Traceback' in debug.stderr
    assert 'patch_size must be between 1 and 8192' in debug.stderr
