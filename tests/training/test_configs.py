"""The configurations shipped with the package, as shipped and at laptop scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from torchgeo_bvm.errors import BVMNotFoundError, BVMValueError
from torchgeo_bvm.training import configs
from torchgeo_bvm.training.configs import (
    LAPTOP_BATCH_SIZE,
    LAPTOP_PATCH_SIZE,
    LAPTOP_STEPS,
    config_file,
    config_names,
    config_summary,
    config_text,
    laptop_settings,
    laptop_workers,
)

SHIPPED = Path(__file__).parents[2] / 'torchgeo_bvm' / 'configs'
NAMES = [
    'bvm_all',
    'bvm_all_focal',
    'bvm_all_weighted',
    'bvm_monthly_convlstm',
    'bvm_monthly_late',
    'bvm_monthly_pixel',
    'bvm_monthly_s1s2_convlstm',
    'bvm_monthly_s1s2_unet',
    'bvm_monthly_unet',
    'bvm_monthly_utae',
    'bvm_rgb',
    'bvm_rgnir',
    'demo',
]


def test_the_installed_configurations() -> None:
    assert config_names() == NAMES
    for name in NAMES:
        path = Path(str(config_file(name)))
        assert path == SHIPPED / f'{name}.yaml'
        assert config_file(f'{name}.yaml') == config_file(name)
        assert config_text(name) == path.read_text()
    assert config_summary('bvm_all') == "The paper's 11-band experiment (B01 ... B12)"
    assert config_summary('bvm_monthly_convlstm') == (
        "A year of monthly composites through a ConvLSTM (torchgeo's "
        'SpatioTemporalSegmentation)'
    )


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(BVMNotFoundError) as raised:
        config_file('bvm_al')
    assert str(raised.value) == (
        "no configuration named 'bvm_al'; the package ships " + ', '.join(NAMES)
    )


@pytest.mark.parametrize(('cpus', 'workers'), [(1, 0), (2, 1), (4, 3), (9, 8), (64, 8)])
def test_workers_leave_one_cpu_to_training(cpus: int, workers: int) -> None:
    assert laptop_workers(cpus) == workers
    settings = {s.key: s.value for s in laptop_settings(cpus)}
    assert settings['num_workers'] == workers


@pytest.mark.parametrize('name', NAMES)
def test_laptop_scale_changes_six_values_and_says_the_shipped_ones(name: str) -> None:
    shipped = config_text(name)
    laptop = config_text(name, laptop=True, cpus=2)
    before = yaml.safe_load(shipped)
    after = yaml.safe_load(laptop)
    assert after['trainer']['max_steps'] == LAPTOP_STEPS
    assert after['trainer']['log_every_n_steps'] == 5
    data = after['data']['init_args']
    assert (data['patch_size'], data['batch_size']) == (
        LAPTOP_PATCH_SIZE,
        LAPTOP_BATCH_SIZE,
    )
    # One epoch: validation runs once, at the end of training.
    assert data['length'] == LAPTOP_STEPS * LAPTOP_BATCH_SIZE
    assert data['num_workers'] == 1
    # Everything else is as shipped.
    changed = {'max_steps', 'log_every_n_steps'}
    assert {k: v for k, v in after['trainer'].items() if k not in changed} == {
        k: v for k, v in before['trainer'].items() if k not in changed
    }
    keys = {'patch_size', 'batch_size', 'length', 'num_workers'}
    assert {k: v for k, v in data.items() if k not in keys} == {
        k: v for k, v in before['data']['init_args'].items() if k not in keys
    }
    assert after['model'] == before['model']
    # Each changed line keeps the value as shipped beside it; the other lines
    # are the shipped file's, after a header saying what changed.
    old = before['trainer']['max_steps']
    assert (
        f'  max_steps: {LAPTOP_STEPS}  # laptop scale, training steps; as '
        f'shipped: {old}'
    ) in laptop.splitlines()
    header, body = laptop.split('\n#\n', 1)
    assert header.startswith(f'# Laptop scale (torchgeo-bvm config {name} --laptop)')
    assert '1 DataLoader worker.' in header.replace('\n# ', ' ')
    kept = [line for line in body.splitlines() if 'laptop scale, ' not in line]
    assert kept == [
        line
        for line in shipped.splitlines()
        if not line.startswith(
            tuple(f'    {k}:' for k in keys) + tuple(f'  {k}:' for k in changed)
        )
    ]


def test_laptop_scale_needs_each_value_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (SHIPPED / 'bvm_all.yaml').read_text()
    broken = tmp_path / 'broken.yaml'
    monkeypatch.setattr(configs, 'config_file', lambda name: broken)
    broken.write_text(text.replace('  max_steps: 20000\n', ''))
    with pytest.raises(BVMValueError) as raised:
        config_text('broken', laptop=True)
    assert str(raised.value) == (
        "configuration 'broken': no trainer value 'max_steps'; the laptop scale "
        'needs it exactly once'
    )
    broken.write_text(
        text.replace('    num_workers: 8\n', '    num_workers: 8\n    num_workers: 2\n')
    )
    with pytest.raises(BVMValueError, match="2 lines with data value 'num_workers'"):
        config_text('broken', laptop=True)
    # A group's option of the same name is the group's: left as shipped.
    broken.write_text(
        text.replace(
            '    batch_size: 8\n', '    batch_size: 8\n    x:\n      batch_size: 64\n'
        )
    )
    laptop = yaml.safe_load(config_text('broken', laptop=True, cpus=2))
    assert laptop['data']['init_args']['batch_size'] == LAPTOP_BATCH_SIZE
    assert laptop['data']['init_args']['x'] == {'batch_size': 64}


def test_the_readme_table_says_the_laptop_values() -> None:
    readme = (Path(__file__).parents[2] / 'README.md').read_text()
    rows = {
        cells[0].strip('` '): (cells[1].strip(), cells[2].strip())
        for line in readme.splitlines()
        if line.startswith('| `')
        for cells in [line.strip('|').split('|')]
    }
    settings = {s.key: s.value for s in laptop_settings(2)}
    for key in ('max_steps', 'log_every_n_steps'):
        assert rows[f'trainer.{key}'][1] == str(settings[key])
    for key in ('patch_size', 'batch_size'):
        assert rows[f'data.init_args.{key}'][1] == str(settings[key])
    assert rows['data.init_args.length'][1].startswith(f'{settings["length"]} (')
    shipped = yaml.safe_load(config_text('bvm_all'))
    assert rows['trainer.max_steps'][0] == f'{shipped["trainer"]["max_steps"]:,}'
    assert rows['data.init_args.batch_size'][0] == str(
        shipped['data']['init_args']['batch_size']
    )
