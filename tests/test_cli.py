"""The command line: start-up without torch, one line per failure, --debug."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from torchgeo_bvm.cli import build_parser, main
from torchgeo_bvm.errors import BVMValueError

ROOT = Path(__file__).parents[1]

#: Runs commands one after the other in one interpreter and says, after each,
#: which heavy modules are imported: they stay imported, so the first command
#: that imports one shows it, and those before it did not.
PROBE = """
import json, sys
from torchgeo_bvm.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
    heavy = sorted(m for m in ('torch', 'torchgeo.datasets', 'lightning') if m in sys.modules)
    print('HEAVY=' + ','.join(heavy), 'CODE=' + str(code), flush=True)
"""


def _modules_after(*runs: list[str]) -> list[tuple[str, str]]:
    """``(heavy modules, exit status)`` after each command, run in order."""
    done = subprocess.run(
        [sys.executable, '-c', PROBE, json.dumps(runs)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith('HEAVY=')]
    assert len(lines) == len(runs), done.stdout + done.stderr
    found = []
    for line in lines:
        heavy, code = (part.split('=', 1)[1] for part in line.split())
        found.append((heavy, code))
    return found


def test_help_imports_no_torch() -> None:
    helps = [['--help']]
    helps += [
        [command, '--help']
        for command in ('compare', 'config', 'demo', 'download', 'grid',
                        'openeo-map', 'rasterize', 'stats', 'synth')
    ]  # fmt: skip
    assert _modules_after(*helps) == [('', '0')] * len(helps)


@pytest.mark.slow
def test_commands_without_deep_learning_import_no_torch(
    mini_labels: Path, mini_flanders, tmp_path: Path
) -> None:
    folder, manifest = mini_flanders
    runs = [
        ['grid', '--sheets', '22', '--out', str(tmp_path / 'g.gpkg')],
        ['rasterize', '--bvm', str(folder / manifest['bvm']), '--out',
         str(tmp_path / 'l.tif'), '--crs', 'EPSG:32631', '--quiet'],
        ['stats', '--labels', str(mini_labels), '--out', str(tmp_path / 'stats')],
        ['compare', '--bvm', str(folder / manifest['bvm']), '--maps', str(mini_labels),
         '--no-confidence', '--quiet', '--out', str(tmp_path / 'compared')],
        ['download', '--out', str(tmp_path / 's2'), '--sheets', '22/1-2',
         '--years', '2022', '--months', '4', '--dry-run'],
        ['config', 'bvm_all', '--laptop', '--out', str(tmp_path / 'bvm_all.yaml')],
        ['download', '--out', str(tmp_path / 's2'), '--sheets', '22/1-2',
         '--years', '2022', '--backend', 'http://127.0.0.1:9', '--connect-timeout', '0.2'],
        # A mistyped imagery folder fails before torch is imported.
        ['stats', '--bands', 'all', '--sentinel2', str(tmp_path / 'nowhere'),
         '--out', str(tmp_path / 'stats')],
    ]  # fmt: skip
    assert _modules_after(*runs) == [('', '0')] * 6 + [('', '2')] * 2


def test_openeo_map_on_a_backend_imports_no_torch(
    exported_demo_models: Path, tmp_path: Path
) -> None:
    # The maps are made by the backend: only --backend local reads imagery here.
    argv = ['openeo-map', '--model', str(exported_demo_models / 'year')]
    argv += ['--sheets', '22/7-8', '--years', '2022', '--out', str(tmp_path / 'maps')]
    argv += ['--backend', 'http://127.0.0.1:9', '--dry-run']
    assert _modules_after(argv) == [('', '0')]
    assert (tmp_path / 'maps' / 'graphs' / '22_7-8_2022.json').is_file()


def test_debug_shows_the_traceback(tmp_path: Path, capsys, monkeypatch) -> None:
    argv = ['grid', '--sheets', '22/1-2', '--out', str(tmp_path / 'g.gpkg')]
    assert main(argv) == 2
    assert capsys.readouterr().err.count('\n') == 1
    for debug in (['--debug', *argv], [*argv, '--debug']):
        assert main(debug) == 2
        err = capsys.readouterr().err
        assert 'Traceback (most recent call last)' in err
        assert err.splitlines()[-1].startswith('torchgeo-bvm grid: error: --sheets')
    monkeypatch.setenv('TORCHGEO_BVM_DEBUG', '1')
    assert main(argv) == 2
    assert 'Traceback' in capsys.readouterr().err


def test_a_bug_keeps_its_traceback_and_exits_1(capsys, monkeypatch) -> None:
    def broken(args: object) -> int:
        raise ZeroDivisionError('division by zero')

    parser = build_parser()
    args = parser.parse_args(['grid', '--out', 'x.gpkg'])
    args.handler = broken
    monkeypatch.setattr('torchgeo_bvm.cli.build_parser', lambda only=None: _Fixed(args))
    assert main(['grid', '--out', 'x.gpkg']) == 1
    err = capsys.readouterr().err
    assert 'Traceback' in err
    assert err.splitlines()[-1].startswith(
        'torchgeo-bvm grid: internal error: ZeroDivisionError: division by zero'
    )


class _Fixed:
    def __init__(self, args: object) -> None:
        self.args = args

    def parse_args(self, argv: object) -> object:
        return self.args


def test_our_errors_are_the_builtin_kinds_callers_catch() -> None:
    assert issubclass(BVMValueError, ValueError)
    from torchgeo_bvm.errors import BVMExistsError, BVMNotFoundError

    assert issubclass(BVMNotFoundError, FileNotFoundError)
    assert issubclass(BVMExistsError, FileExistsError)


def test_a_failed_steps_progress_bar_closes_before_the_error_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import dataclasses
    import gc

    from tqdm import tqdm

    from torchgeo_bvm.commands import grid

    def failing(args) -> int:
        bar = tqdm(total=3, desc='working', file=sys.stderr, mininterval=3600)
        bar.update(2)
        try:
            raise BVMValueError('bad value')
        except BVMValueError as error:
            held = error  # the frame holds its own exception: a reference cycle
            raise held from None

    monkeypatch.setattr(grid, 'COMMAND', dataclasses.replace(grid.COMMAND, run=failing))
    # No garbage collection may close the bar: only the release of the frames.
    gc.disable()
    try:
        code = main(['grid', '--sheets', '22', '--out', str(tmp_path / 'g.gpkg')])
    finally:
        gc.enable()
    err = capsys.readouterr().err.replace('\r', '\n').splitlines()
    assert code == 2
    assert err[-1] == 'torchgeo-bvm grid: error: bad value'
    assert 'working:  67%' in err[-2]
