"""What every hostile-input test checks, in one place.

A refused input ends in exactly one line on stderr (``torchgeo-bvm COMMAND:
error: ...``) naming the file, field or value, exit status 2 and no traceback;
a writer leaves its inputs byte-identical and no partial or staging file. The
variants of the mini-Flanders files are derived from the session's
mini-Flanders (``tests/conftest.py``) by these helpers, never generated anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from torchgeo_bvm.cli import main
from torchgeo_bvm.fileio import STAGING_MARK

ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class Outcome:
    """What a command did: exit status, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """The lines of stderr that report an error (progress bars aside)."""
        return [line for line in self.err.splitlines() if ': error: ' in line]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> Outcome:
    """Run ``torchgeo-bvm ARGV`` in this process."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assert_refused(
    outcome: Outcome, *words: object, code: int = 2, program: str = 'torchgeo-bvm'
) -> str:
    """One error line holding every word, exit ``code``, no traceback.

    ``program`` is ``torchgeo-bvm``, or ``torchgeo SUBCOMMAND`` for TorchGeo's
    own command line (``torchgeo predict: error: ...``).

    Returns:
        The error line.
    """
    assert outcome.code == code, outcome
    assert 'Traceback' not in outcome.err, outcome.err
    assert 'internal error' not in outcome.err, outcome.err
    assert len(outcome.error_lines) == 1, outcome.err
    line = outcome.error_lines[0]
    assert line.startswith(f'{program}: ' if ' ' in program else f'{program} '), line
    for word in words:
        assert str(word) in line, f'{word!r} not in {line!r}'
    return line


def run_torchgeo(*argv: object, cwd: Path | None = None) -> Outcome:
    """Run TorchGeo's own ``torchgeo ARGV`` as a user does, in a new process."""
    torchgeo = Path(sys.executable).with_name('torchgeo')
    env = {k: v for k, v in os.environ.items() if k != 'TORCHGEO_BVM_DEBUG'}
    done = subprocess.run(
        [str(torchgeo), *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=cwd,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def snapshot(*folders: Path) -> dict[Path, str]:
    """Every file under the folders with the SHA-256 of its bytes."""
    found = {}
    for folder in folders:
        paths = [folder] if folder.is_file() else sorted(folder.rglob('*'))
        for path in paths:
            if path.is_file():
                found[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def staging_left(folder: Path) -> list[Path]:
    """Temporary or staging names under a folder (none may survive a run)."""
    return [p for p in folder.rglob('*') if STAGING_MARK in p.name]


def assert_untouched(
    before: dict[Path, str], folder: Path, new: Iterable[Path] = ()
) -> None:
    """The folder holds the files it held, byte for byte, plus ``new`` only."""
    after = snapshot(folder)
    assert {p: h for p, h in after.items() if p in before} == before
    assert sorted(set(after) - set(before)) == sorted(new)
    assert staging_left(folder) == []


def copy_layer(source: Path, folder: Path, stem: str = 'BwkHab') -> Path:
    """Copy a shapefile with its sidecars; returns the new ``.shp``."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in source.parent.glob(source.stem + '.*'):
        shutil.copy(part, folder / (stem + part.suffix))
    return folder / f'{stem}.shp'


def can_mount() -> bool:
    """Whether this machine lets a test mount a tmpfs in its own namespace."""
    if shutil.which('unshare') is None:
        return False
    probe = subprocess.run(
        ['unshare', '-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /mnt'],
        capture_output=True,
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not can_mount(), reason='needs unshare and mount (a private tmpfs)'
)


@dataclass(frozen=True)
class Mounted:
    """A command run in a private mount namespace: its outcome and the listing."""

    outcome: Outcome
    listing: list[str]
    manifest: str


def run_mounted(
    argv: Sequence[object], folder: Path, *, kind: str, free_kb: int = 16
) -> Mounted:
    """Run ``torchgeo-bvm ARGV`` with ``folder`` a full or a read-only disk.

    ``kind='full'`` mounts a 1 MiB tmpfs on ``folder`` and fills it but for
    ``free_kb`` KiB; ``kind='readonly'`` binds ``folder`` onto itself read-only.
    The mount lives in a private namespace (``unshare -rm``) and vanishes with
    the command; the folder's listing (every path under it) and the text of a
    ``manifest.json`` one level down are taken inside it, after the command.
    """
    command = ' '.join(
        _quote(a) for a in [sys.executable, '-m', 'torchgeo_bvm.cli', *argv]
    )
    if kind == 'full':
        setup = f"""
            mount -t tmpfs -o size=1m tmpfs {_quote(folder)}
            dd if=/dev/zero of={_quote(folder)}/filler bs=1k \\
                count=$(( $(df -k --output=avail {_quote(folder)} | tail -1) - {free_kb} )) \\
                2>/dev/null
        """
    elif kind == 'readonly':
        setup = f"""
            mount --bind {_quote(folder)} {_quote(folder)}
            mount -o remount,bind,ro {_quote(folder)}
        """
    else:
        raise ValueError(kind)
    script = textwrap.dedent(f"""
        set -e
        {textwrap.dedent(setup)}
        set +e
        {command} >"$OUT" 2>"$ERR"
        echo "$?" >"$CODE"
        (cd {_quote(folder)} && find . -mindepth 1 | sort) >"$LISTING"
        cat {_quote(folder)}/*/manifest.json >"$MANIFEST" 2>/dev/null || true
    """)
    records = folder.parent / f'.records-{os.getpid()}-{folder.name}'
    records.mkdir()
    env = dict(
        os.environ,
        OUT=str(records / 'out'),
        ERR=str(records / 'err'),
        CODE=str(records / 'code'),
        LISTING=str(records / 'listing'),
        MANIFEST=str(records / 'manifest'),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        ['unshare', '-rm', 'sh', '-c', script], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    outcome = Outcome(
        int((records / 'code').read_text()),
        (records / 'out').read_text(),
        (records / 'err').read_text(),
    )
    listing = [line[2:] for line in (records / 'listing').read_text().splitlines()]
    manifest = (records / 'manifest').read_text()
    shutil.rmtree(records)
    return Mounted(outcome, listing, manifest)


def _quote(value: object) -> str:
    text = str(value)
    return "'" + text.replace("'", "'\\''") + "'"


# -- a disk that fills up while a writer runs -------------------------------------


@dataclass(frozen=True)
class Swept:
    """One run of a full-disk sweep: the free space it had, what it did, what it left.

    ``folder`` holds a copy of everything the run left on the disk (the filler
    aside), taken before the disk was unmounted.
    """

    free_kb: int | None
    outcome: Outcome
    folder: Path


def sweep_full_disk(
    folder: Path,
    fractions: Sequence[float],
    *,
    argv: Sequence[object] = (),
    code: str = '',
    previous: Path | None = None,
    size: str = '16m',
) -> list[Swept]:
    """Run one writer on a disk holding less and less free space, for real.

    In a private mount namespace (``unshare -rm``), one process mounts a fresh
    tmpfs of ``size`` on ``folder`` for every run, copies ``previous`` (an
    earlier good output) onto it, fills it with a file that leaves the free
    space asked for, and runs ``torchgeo-bvm ARGV`` (or the Python ``code``) in
    this process. The first run has the whole tmpfs free: its output is the
    reference, and the free space of the other runs is ``fraction`` times the
    size of what it wrote. ``{disk}`` in ``argv`` and ``code`` is ``folder``.

    Returns:
        The reference run first, then one run per fraction.
    """
    records = folder.parent / f'.sweep-{os.getpid()}-{folder.name}'
    records.mkdir()
    spec = {
        'folder': str(folder),
        'records': str(records),
        'argv': [str(a).replace('{disk}', str(folder)) for a in argv],
        'code': code.replace('{disk}', str(folder)),
        'previous': str(previous) if previous else '',
        'size': size,
        'fractions': list(fractions),
    }
    (records / 'spec.json').write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        ['unshare', '-rm', sys.executable, '-m', 'tests.hostile.hostile', str(records)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = []
    for entry in json.loads((records / 'runs.json').read_text()):
        outcome = Outcome(entry['code'], entry['out'], entry['err'])
        runs.append(Swept(entry['free_kb'], outcome, records / entry['label']))
    return runs


def _sweep(records: Path) -> None:
    """The body of :func:`sweep_full_disk`, run inside the mount namespace."""
    import contextlib
    import io
    import traceback

    spec = json.loads((records / 'spec.json').read_text())
    folder = Path(spec['folder'])
    runs: list[dict[str, object]] = []
    written = 0
    for k, fraction in enumerate([None, *spec['fractions']]):
        subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', f'size={spec["size"]}', 'tmpfs', folder],
            check=True,
        )
        if spec['previous']:
            shutil.copytree(spec['previous'], folder, dirs_exist_ok=True)
        free_kb = None if fraction is None else int(fraction * written / 1024)
        filler = folder / 'filler'
        if free_kb is not None:
            disk = os.statvfs(folder)
            with filler.open('wb') as file:
                room = disk.f_bavail * disk.f_frsize - free_kb * 1024
                os.posix_fallocate(file.fileno(), 0, max(room, 1))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if spec['argv']:
                    status = main(spec['argv'])
                else:
                    exec(spec['code'], {})
                    status = 0
            except SystemExit as stop:
                status = int(stop.code or 0)
            except Exception as error:
                from torchgeo_bvm.errors import BVMError

                if not isinstance(error, BVMError):
                    traceback.print_exc()
                status = 2 if isinstance(error, BVMError) else 1
                print(f'torchgeo-bvm python: error: {error}', file=sys.stderr)
        filler.unlink(missing_ok=True)
        if fraction is None:
            written = sum(p.stat().st_size for p in folder.rglob('*') if p.is_file())
        label = f'run-{k}'
        shutil.copytree(folder, records / label, symlinks=True)
        runs.append(
            {
                'label': label,
                'free_kb': free_kb,
                'code': status,
                'out': out.getvalue(),
                'err': err.getvalue(),
            }
        )
        subprocess.run(['umount', folder], check=True)
    (records / 'runs.json').write_text(json.dumps(runs))


if __name__ == '__main__':
    _sweep(Path(sys.argv[1]))
