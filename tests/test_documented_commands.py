"""Every command and Python block of README.md and docs/*.rst runs as written.

The documents are run in reading order (:data:`tests.docs_commands.DOCUMENTS`)
in one scratch folder, as a reader following them would, on a mini-Flanders.
The command text is never changed; what makes the run short and offline is in
the files the commands refer to, which this test prepares:

* ``examples/configs/*.yaml`` and ``torchgeo_bvm/data/demo.yaml``: copies of the
  shipped configurations with training cut to 2 steps (one epoch, so
  validation runs; 256 x 256 crops two per batch), no sanity validation, no
  DataLoader workers; everything else as shipped, the paper's ``weights: true``
  included;
* the ImageNet weights ``fit`` loads: stand-ins in the Hugging Face hub cache
  (``tests/weights.py``), the hub offline;
* ``demo-output/``: made beforehand by ``torchgeo-bvm demo --max-steps 2``, so
  ``make demo`` finds its outputs and only reports;
* the real-data files the user guide names (``BwkHab.shp``, ``Refgew.shp``,
  ``Kbl.shp``): a small mini-Flanders' files under those names;
* ``examples/*.py``, the ``Makefile`` and ``pyproject.toml``: copies, and the
  environment as ``.venv``.

Commands that cannot run here are listed in :data:`SKIPPED` with the reason;
``torchgeo-bvm download`` without ``--dry-run`` needs an openEO account and the
network, so what it would write comes from
:func:`~torchgeo_bvm.synth.flanders.write_openeo_downloads` instead, from a
mini-Flanders with its season (2022) for the time-series section's downloads.
``torchgeo-bvm``, ``torchgeo`` and ``python`` commands run in this process
(their ``main``), ``make`` in a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import yaml

from tests.docs_commands import (
    DOCUMENTS,
    PROGRAMS,
    ROOT,
    Block,
    documented_blocks,
    shell_commands,
)
from tests.weights import seed_imagenet_cache

#: Commands the suite does not run, with the reason.
SKIPPED = {
    'make test': 'it is this test suite (lint, type check, pytest, docs)',
    'python3.12 -m pip install .': (
        'installs from the package index: needs the network (the suite runs in '
        'the environment it would make)'
    ),
}
#: The command that needs an openEO account and the network.
DOWNLOAD = 'torchgeo-bvm download'

#: Training cut short in the configuration copies: steps, and at most this
#: many pixels per batch (256 x 256 crops two at a time, 64 x 64 ones as shipped).
STEPS, BATCH_PIXELS = 2, 2 * 256 * 256


def test_every_block_is_known_code() -> None:
    blocks = documented_blocks()
    assert {b.document for b in blocks} >= {
        'README.md',
        'docs/quickstart.rst',
        'docs/guide.rst',
        'docs/examples.rst',
        'docs/split.rst',
    }
    for block in blocks:
        if block.language != 'sh':
            continue
        for words in shell_commands(block.text):
            assert words[0] in PROGRAMS, f'{block.where}: {" ".join(words)}'
    python = [b for b in blocks if b.language == 'python']
    assert [b.document for b in python] == [
        'README.md',
        'docs/guide.rst',
        'docs/sentinel1.rst',
        'docs/split.rst',
    ]
    assert 'dataset[next(iter(sampler))]' in python[0].text


def test_only_network_and_recursive_commands_are_skipped() -> None:
    commands = [
        ' '.join(words)
        for block in documented_blocks()
        if block.language == 'sh'
        for words in shell_commands(block.text)
    ]
    skipped = {c for c in commands if c in SKIPPED}
    assert skipped == set(SKIPPED)
    downloads = [c for c in commands if c.startswith(DOWNLOAD)]
    assert len([c for c in downloads if '--dry-run' not in c]) == 6


def _scaled_config(source: Path, target: Path) -> None:
    config = yaml.safe_load(source.read_text())
    config['trainer']['max_steps'] = STEPS
    config['trainer']['num_sanity_val_steps'] = 0
    data = config['data']['init_args']
    batch = min(data['batch_size'], max(1, BATCH_PIXELS // data['patch_size'] ** 2))
    data['batch_size'] = batch
    data['length'] = STEPS * batch
    data['num_workers'] = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))


def _copy_layer(source: Path, target: Path) -> None:
    for part in source.parent.glob(source.stem + '.*'):
        shutil.copy(part, target.with_suffix(part.suffix))


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def _exit_status(run: Any) -> int:
    try:
        status = run()
    except SystemExit as stop:
        status = stop.code
    return int(status or 0)


class Reader:
    """Runs the documents' code in a scratch folder, as a reader would."""

    def __init__(self, folder: Path, source: Path) -> None:
        self.folder = folder
        self.source = source
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.log: list[str] = []

    def run(self, block: Block) -> None:
        if block.language == 'python':
            namespace: dict[str, Any] = {'__name__': '__main__'}
            exec(compile(block.text, block.where, 'exec'), namespace)
            self.namespaces[block.where] = namespace
            return
        for words in shell_commands(block.text):
            command = ' '.join(words)
            start = time.perf_counter()
            status = self.command(words)
            self.log.append(f'{time.perf_counter() - start:6.1f} s  {command}')
            print(self.log[-1], file=sys.__stderr__, flush=True)
            assert status == 0, f'{block.where}: `{command}` exited {status}'

    def command(self, words: list[str]) -> int:
        from torchgeo.main import main as torchgeo_main

        from torchgeo_bvm.cli import main as bvm_main

        command = ' '.join(words)
        program, arguments = words[0], words[1:]
        if command in SKIPPED:
            return 0
        if command.startswith(DOWNLOAD) and '--dry-run' not in words:
            return self.download(arguments[1:])
        if program in ('torchgeo-bvm', '.venv/bin/torchgeo-bvm'):
            return bvm_main(arguments)
        if program == 'torchgeo':
            return _exit_status(lambda: torchgeo_main(arguments))
        if program == 'python' and arguments[0] == '-c':
            with _argv(['-c', *arguments[2:]]):
                return _exit_status(
                    lambda: exec(arguments[1], {'__name__': '__main__'})
                )
        if program == 'python':
            with _argv(arguments):
                return _exit_status(
                    lambda: runpy.run_path(arguments[0], run_name='__main__')
                )
        if program == 'make':
            done = subprocess.run(words, cwd=self.folder, check=False)
            return done.returncode
        raise AssertionError(f'no way to run `{command}`')

    def download(self, arguments: list[str]) -> int:
        """What the download would write, from the mini-Flanders (no network)."""
        from torchgeo_bvm.cli import build_parser
        from torchgeo_bvm.sheets.scheme import SplitScheme
        from torchgeo_bvm.synth.flanders import write_openeo_downloads

        args = build_parser().parse_args(['download', *arguments])
        if args.split:
            sheets = [s.code for s in SplitScheme().sheets(args.split)]
        else:
            sheets = args.sheets.split(',')
        months = None if args.months is None else map(int, args.months.split(','))
        written = write_openeo_downloads(
            self.source,
            args.out,
            sheets,
            map(int, args.years.split(',')),
            months,
            composite=args.composite == 'monthly',
        )
        assert written, f'the mini-Flanders has no imagery for {arguments}'
        return 0


@pytest.fixture
def reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> Reader:
    """A scratch folder with the files the documented commands refer to."""
    from torchgeo_bvm.cli import main as bvm_main
    from torchgeo_bvm.synth.flanders import write_mini_flanders

    folder = tmp_path / 'reader'
    folder.mkdir()
    for config in sorted((ROOT / 'examples' / 'configs').glob('*.yaml')):
        _scaled_config(config, folder / 'examples' / 'configs' / config.name)
    _scaled_config(
        ROOT / 'torchgeo_bvm' / 'data' / 'demo.yaml',
        folder / 'torchgeo_bvm' / 'data' / 'demo.yaml',
    )
    for script in (ROOT / 'examples').glob('*.py'):
        shutil.copy(script, folder / 'examples' / script.name)
    for name in ('Makefile', 'pyproject.toml'):
        shutil.copy(ROOT / name, folder / name)
    # The environment, with an install stamp newer than the pyproject copy, so
    # `make demo` goes straight to the demo.
    (folder / '.venv').mkdir()
    (folder / '.venv' / 'bin').symlink_to(Path(sys.executable).parent)
    (folder / '.venv' / '.installed').touch()

    cache = tmp_path / 'hub'
    seed_imagenet_cache(cache, 'vgg16')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('MPLBACKEND', 'Agg')

    source = tmp_path / 'source'
    write_mini_flanders(source, 'small', plot=False, season=True)
    for name, path in (
        ('BwkHab.shp', 'bvm/BwkHab.shp'),
        ('Refgew.shp', 'boundary/Refgew.shp'),
        ('Kbl.shp', 'kbl/Kbl.shp'),
    ):
        _copy_layer(source / path, folder / name)

    monkeypatch.chdir(folder)
    demo = ['demo', '--out', 'demo-output', '--max-steps', str(STEPS), '--quiet']
    start = time.perf_counter()
    assert bvm_main(demo) == 0
    print(f'prepared in {time.perf_counter() - start:.1f} s', file=sys.__stderr__)
    capsys.readouterr()
    return Reader(folder, source)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_documented_commands_run_as_written(
    reader: Reader,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    from torchgeo_bvm.classes import IGNORE_INDEX

    blocks = [b for b in documented_blocks() if b.language != 'text']
    assert [b.document for b in blocks] == sorted(
        (b.document for b in blocks), key=DOCUMENTS.index
    )
    for block in blocks:
        reader.run(block)
    printed = capsys.readouterr().out
    with capsys.disabled():
        print('\n' + '\n'.join(reader.log))

    # The README's Python: one sample, one date, one mask, 9-value bounds.
    (readme,) = [v for k, v in reader.namespaces.items() if k.startswith('README')]
    sample = readme['sample']
    assert sample['image'].shape == (3, 128, 128)
    assert sample['mask'].shape == (128, 128)
    assert sample['bounds'].shape == (9,)
    assert sample['transform'].shape == (9,)
    assert int(sample['mask'].max()) <= IGNORE_INDEX
    assert readme['imagery'].res == readme['labels'].res

    folder = reader.folder
    for path in (
        'split.png',
        'labels.tif',
        'stats/band-stats.json',
        'checkpoints/bvm_all/best.ckpt',
        'evaluation/bvm_all/confusion_matrix.csv',
        'predictions/bvm_all/22_7-8.tif',
        'quick/summary.json',
        'example-output/bvm_in_torchgeo.png',
        'data/labels_22.tif',
        'data/band-stats.json',
        'data/sentinel2-monthly/22_7-8/22_7-8_openEO_2022-12_median.tif',
        'evaluation/bvm_monthly_unet/confusion_matrix.csv',
    ):
        assert (folder / path).exists(), path
    assert 'predictions: ' in printed
    # What the runs print is what a user needs: no advertising tips, no warning
    # about a missing TensorBoard, the summary of unmapped BWK codes once per
    # file. (Lightning's own deprecation warning is filtered out by
    # torchgeo_bvm.training.tasks, which pytest's per-test warning filters undo:
    # tests/test_tasks.py checks it.)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if 'Tip:' in m]
    warned = [str(w.message) for w in recwarn]
    assert not [w for w in warned if 'tensorboardX' in w]
    unmapped = [m for m in messages if 'features have an empty or unmapped' in m]
    assert len(unmapped) == len(set(unmapped))
    assert 'torchgeo-bvm demo: test sheets of the mini-Flanders' in printed
    assert os.path.samefile(Path.cwd(), folder)
