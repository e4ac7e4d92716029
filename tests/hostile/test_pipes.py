"""Standard output read by a pipe that closes early (``| head``).

A reader that leaves ends the command quietly, as ``SIGPIPE`` ends a Unix
tool: status 141, nothing on stderr (no "BrokenPipeError", no "Exception
ignored" at exit), nothing left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.hostile import ROOT
from torchgeo_bvm.cli import EXIT_BROKEN_PIPE

#: Process graphs of every train sheet for two years: far more than a pipe holds.
DRY_RUN = [
    'download', '--split', 'train', '--years', '2021,2022', '--dry-run',
    '--backend', 'http://127.0.0.1:9',
]  # fmt: skip


def _piped(argv: list[object], read: int | None) -> tuple[int, bytes, str]:
    """Run the command with stdout into a pipe; read ``read`` bytes, then close."""
    with subprocess.Popen(
        [sys.executable, '-m', 'torchgeo_bvm.cli', *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, 'PYTHONPATH': str(ROOT)},
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        head = process.stdout.read() if read is None else process.stdout.read(read)
        process.stdout.close()
        err = process.stderr.read().decode()
        return process.wait(timeout=120), head, err


@pytest.mark.parametrize('read', [0, 1, 100, 70_000])
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    tmp_path: Path, read: int
) -> None:
    code, head, err = _piped([*DRY_RUN, '--out', tmp_path / 's2'], read)
    assert len(head) == read
    assert head[:16] == b'[\n  {\n    "sheet": '[: min(read, 16)]
    assert err == ''
    assert code == EXIT_BROKEN_PIPE == 141
    assert not (tmp_path / 's2').exists()


def test_a_reader_that_reads_everything_gets_everything(tmp_path: Path) -> None:
    code, out, err = _piped([*DRY_RUN, '--out', tmp_path / 's2'], None)
    assert (code, err) == (0, '')
    assert out.startswith(b'[\n  {\n    "sheet": ')
    assert out.endswith(b']\n')
    assert len(out) > 70_000 + 65_536  # more than the pipe and the reads above
