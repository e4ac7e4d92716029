"""Ctrl-C (SIGINT) and SIGTERM in the middle of the work.

Each command runs in its own process; once its work has visibly started (a
staging file, a progress bar, a job on the backend) it is frozen with SIGSTOP,
sent the signal and let go, so the signal always lands mid-work. It must exit
with 130 (SIGINT) or 143 (SIGTERM) after one line, leave no partial or staging
file, and a re-run must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import rasterio

from tests.hostile.hostile import ROOT, staging_left
from tests.openeo_backend import LocalOpenEO
from torchgeo_bvm.fileio import STAGING_MARK

SIGNALS = {'SIGINT': (signal.SIGINT, 130, 'interrupted (Ctrl-C)'),
           'SIGTERM': (signal.SIGTERM, 143, 'terminated (SIGTERM)')}  # fmt: skip


class Running:
    """A ``torchgeo-bvm`` process whose stderr is read as it comes."""

    def __init__(self, argv: list[object], program: list[str] | None = None) -> None:
        # Another program (TorchGeo's) may draw its progress on stdout: both
        # streams are read as one.
        program = program or [sys.executable, '-m', 'torchgeo_bvm.cli']
        command = [*program, *map(str, argv)]
        env = {**os.environ, 'PYTHONPATH': str(ROOT)}
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if program is None else subprocess.STDOUT,
            env=env,
            # As from a shell: Ctrl-C raises KeyboardInterrupt even if this test
            # process was left ignoring SIGINT by an earlier test.
            preexec_fn=_default_sigint,
        )
        self.err = b''
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.process.stderr or self.process.stdout
        assert stream is not None
        while chunk := stream.read1(4096):
            self.err += chunk

    def interrupt_when(self, started: Callable[[], bool], signum: int) -> None:
        """Freeze the process once ``started()``, signal it, let it go."""
        deadline = time.monotonic() + 120
        while not started():
            if self.process.poll() is not None or time.monotonic() > deadline:
                # Closed before failing, so that the failure is what pytest shows
                # (not the unclosed pipes it would otherwise warn about).
                self.process.kill()
                code, output = self.finish()
                raise AssertionError(
                    f'the work never started (status {code}): {output[-3000:]}'
                )
            time.sleep(0.002)
        self.process.send_signal(signal.SIGSTOP)
        self.process.send_signal(signum)
        self.process.send_signal(signal.SIGCONT)

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=120)
        self._reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code, self.err.decode()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(argv: list[object]) -> tuple[int, str]:
    return Running(argv).finish()


def _assert_interrupted(code: int, err: str, expected: int, words: str) -> None:
    assert code == expected, err
    assert 'Traceback' not in err
    assert err.replace('\r', '\n').splitlines()[-1].endswith(words), err


def _has_staging(folder: Path, stem: str) -> Callable[[], bool]:
    """Whether the staging files of ``stem`` exist: the writing has started."""
    mark = f'.{stem}{STAGING_MARK}'

    def started() -> bool:
        try:
            return any(p.name.startswith(mark) for p in folder.iterdir())
        except FileNotFoundError:
            return False

    return started


@pytest.fixture(scope='module')
def big_labels(hostile_data: Path, tmp_path_factory) -> Path:
    """The tiny region's labels at 0.5 m: enough blocks to interrupt."""
    out = tmp_path_factory.mktemp('big') / 'labels.tif'
    code, err = run([
        'rasterize', '--bvm', hostile_data / 'layers/good/BwkHab.shp', '--out', out,
        '--crs', 'EPSG:32631', '--res', '0.5', '--quiet',
    ])  # fmt: skip
    assert code == 0, err
    return out


@pytest.mark.slow
@pytest.mark.parametrize('name', SIGNALS)
def test_rasterize(hostile_data: Path, tmp_path: Path, name: str) -> None:
    signum, expected, words = SIGNALS[name]
    out = tmp_path / 'out' / 'labels.tif'
    argv = [
        'rasterize', '--bvm', hostile_data / 'layers/good/BwkHab.shp', '--out', out,
        '--crs', 'EPSG:32631', '--res', '0.25',
    ]  # fmt: skip
    running = Running(argv)
    running.interrupt_when(_has_staging(out.parent, 'labels'), signum)
    _assert_interrupted(*running.finish(), expected, words)
    assert list(out.parent.iterdir()) == []
    code, err = run([*argv, '--quiet'])
    assert code == 0, err
    with rasterio.open(out) as src:
        assert src.res == (0.25, 0.25)


@pytest.mark.slow
@pytest.mark.parametrize('name', SIGNALS)
def test_stats(big_labels: Path, tmp_path: Path, name: str) -> None:
    signum, expected, words = SIGNALS[name]
    out = tmp_path / 'stats'
    running = Running(['stats', '--labels', big_labels, '--out', out])
    running.interrupt_when(lambda: b'counting classes' in running.err, signum)
    _assert_interrupted(*running.finish(), expected, words)
    assert not out.exists() or list(out.iterdir()) == []
    code, err = run(['stats', '--labels', big_labels, '--out', out])
    assert code == 0, err
    assert len(list(out.iterdir())) == 5


@pytest.mark.slow
@pytest.mark.parametrize('name', SIGNALS)
def test_synth(tmp_path: Path, name: str) -> None:
    signum, expected, words = SIGNALS[name]
    out = tmp_path / 'mf'
    argv = ['synth', '--out', out, '--size', 'tiny', '--no-plot']
    running = Running(argv)
    running.interrupt_when(lambda: b'| 1/10' in running.err, signum)
    _assert_interrupted(*running.finish(), expected, words)
    assert staging_left(out) == []
    code, err = run(argv)
    assert code == 0, err
    assert '"complete": true' in (out / 'manifest.json').read_text()
    assert staging_left(out) == []


@pytest.mark.parametrize('name', SIGNALS)
def test_download(tmp_path: Path, name: str) -> None:
    signum, expected, words = SIGNALS[name]
    out = tmp_path / 's2'
    with LocalOpenEO(polls_until_done=10**6) as server:
        argv = [
            'download', '--out', out, '--sheets', '22/1-2', '--years', '2022',
            '--months', '4', '--backend', server.url, '--no-auth',
            '--poll-interval', '0.01',
        ]  # fmt: skip
        running = Running(argv)
        running.interrupt_when(lambda: server.count('GET /jobs/{id}') >= 3, signum)
        _assert_interrupted(*running.finish(), expected, words)
        assert [p for p in out.rglob('*.tif')] == []
        assert staging_left(out) == []
        server.polls_until_done = 1  # the job finishes: the re-run resumes it
        code, err = run([*argv, '--quiet'])
        assert code == 0, err
        assert server.count('POST /jobs') == 1
    assert len(list(out.rglob('*.tif'))) == 6
    assert staging_left(out) == []


def _checkpoint(path: Path) -> None:
    """A checkpoint of an untrained FCN for three bands (weights do not matter)."""
    import torch
    from lightning.pytorch import Trainer
    from torchgeo.tasks import SemanticSegmentation

    task = SemanticSegmentation(model='fcn', in_channels=3, num_classes=14)
    trainer = Trainer(accelerator='cpu', logger=False, enable_checkpointing=False)
    trainer.strategy.connect(task)
    trainer.save_checkpoint(path)
    # As LightningCLI records it, so that `--ckpt_path` knows the task's class.
    checkpoint = torch.load(path, weights_only=False)
    checkpoint['hyper_parameters']['_class_path'] = (
        'torchgeo.tasks.SemanticSegmentation'
    )
    torch.save(checkpoint, path)


@pytest.mark.slow
def test_predict(mini_flanders, hostile_data: Path, tmp_path: Path) -> None:
    import yaml

    folder, _ = mini_flanders
    checkpoint = tmp_path / 'model.ckpt'
    _checkpoint(checkpoint)
    predictions = tmp_path / 'predictions'
    config = tmp_path / 'predict.yaml'
    config.write_text(yaml.safe_dump({
        'model': {'class_path': 'torchgeo.tasks.SemanticSegmentation',
                  'init_args': {'model': 'fcn', 'in_channels': 3, 'num_classes': 14}},
        'data': {'class_path': 'torchgeo_bvm.training.datamodule.BVMDataModule',
                 'init_args': {'sentinel2_paths': str(folder / 'TOC_V2'),
                               'bvm_paths': str(hostile_data / 'labels.tif'),
                               'imagery': {'bands': 'rgb', 'crs': 'EPSG:32631',
                                           'res': 10},
                               'patch_size': 32,
                               'batch_size': 4,
                               'prediction': {'sheets': 'test', 'years': [2020],
                                              'output_dir': str(predictions)}}},
        'trainer': {'accelerator': 'cpu', 'logger': False,
                    'default_root_dir': str(tmp_path),
                    'callbacks': [{'class_path': 'torchgeo_bvm.training.prediction.SheetPredictionWriter'}]},
    }))  # fmt: skip
    torchgeo = [str(Path(sys.executable).with_name('torchgeo'))]
    argv = ['predict', '--config', config, '--ckpt_path', checkpoint]
    # Lightning's own handling: Ctrl-C stops with status 1; SIGTERM is noted
    # and prediction runs to its end. Either way no map is half-written: the
    # folder of maps is swapped in whole at the end, or not at all.
    for signum, expected in ((signal.SIGINT, 1), (signal.SIGTERM, 0)):
        running = Running(argv, program=torchgeo)
        running.interrupt_when(
            lambda r=running: b'Predicting DataLoader 0:' in r.err, signum
        )
        code, output = running.finish()
        assert code == expected, output
        assert 'Traceback' not in output
        assert staging_left(tmp_path) == []
        if signum == signal.SIGINT:
            assert not (predictions / '2020').exists()
    assert sorted(p.name for p in (predictions / '2020').glob('*.tif')) == [
        '22_7-8.tif',
        '22_7-8_confidence.tif',
        '22_7-8_count.tif',
    ]
    for tif in (predictions / '2020').glob('*.tif'):
        with rasterio.open(tif) as src:
            src.read(1)
