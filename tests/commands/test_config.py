"""``torchgeo-bvm config``: the packaged configurations, listed, printed, written."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from torchgeo_bvm.cli import main
from torchgeo_bvm.training.configs import (
    available_cpus,
    config_names,
    config_text,
    laptop_workers,
)

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / 'torchgeo_bvm' / 'configs'


def test_lists_the_configurations_and_where_they_are(capsys) -> None:
    assert main(['config']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f'training configurations (in {SHIPPED}):'
    assert [line.split()[0] for line in lines[1:-1]] == config_names()
    # The descriptions start in one column, after the longest name.
    width = max(map(len, config_names())) + 2
    assert lines[1] == (
        f"  {'bvm_all':<{width}}The paper's 11-band experiment (B01 ... B12)"
    )
    assert len({line.index(line.split()[1]) for line in lines[1:-1]}) == 1
    assert lines[-1] == 'write one: torchgeo-bvm config NAME --out NAME.yaml [--laptop]'


def test_prints_one_as_shipped(capsys) -> None:
    assert main(['config', 'bvm_rgb']) == 0
    assert capsys.readouterr().out == (SHIPPED / 'bvm_rgb.yaml').read_text()


def test_writes_one_at_laptop_scale_and_never_over_a_file(tmp_path, capsys) -> None:
    out = tmp_path / 'bvm_all.yaml'
    assert main(['config', 'bvm_all', '--laptop', '--out', str(out)]) == 0
    assert capsys.readouterr().out == f'wrote bvm_all at laptop scale to {out}\n'
    assert out.read_text() == config_text('bvm_all', laptop=True)
    settings = yaml.safe_load(out.read_text())
    workers = settings['data']['init_args']['num_workers']
    assert workers == laptop_workers(available_cpus())

    out.write_text('mine')
    assert main(['config', 'bvm_all', '--out', str(out)]) == 2
    assert capsys.readouterr().err == (
        f'torchgeo-bvm config: error: {out} exists, use --overwrite to replace it\n'
    )
    assert out.read_text() == 'mine'
    assert main(['config', 'bvm_all', '--out', str(out), '--overwrite']) == 0
    assert out.read_text() == (SHIPPED / 'bvm_all.yaml').read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bvm_all.yaml']


@pytest.mark.parametrize(
    ('argv', 'message'),
    [
        (
            ['config', 'bvm_al'],
            "no configuration named 'bvm_al'; the package ships "
            + ', '.join(config_names()),
        ),
        (['config', '--laptop'], '--laptop and --out need a configuration name'),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f'torchgeo-bvm config: error: {message}\n'
    assert captured.out == ''


@pytest.mark.slow
def test_the_wheel_ships_the_configurations(tmp_path) -> None:
    # What `pip install .` installs: the package's wheel, built from the files
    # the build reads (pyproject.toml, README.md, the package).
    source = tmp_path / 'source'
    source.mkdir()
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / 'torchgeo_bvm',
        source / 'torchgeo_bvm',
        ignore=shutil.ignore_patterns('__pycache__'),
    )
    code = 'from setuptools import build_meta; print(build_meta.build_wheel(".."))'
    done = subprocess.run(
        [sys.executable, '-c', code], cwd=source, capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = tmp_path / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n for n in archive.namelist() if n.endswith('.yaml'))
    assert shipped == [f'torchgeo_bvm/configs/{name}.yaml' for name in config_names()]
