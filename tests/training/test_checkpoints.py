"""The checkpoint callback says which files a run writes, a re-run included."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.training.checkpoints import ModelCheckpoint

RANK_ZERO = 'lightning.pytorch.utilities.rank_zero'


def batches(n: int = 2, size: int = 16) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        {
            'image': torch.rand(3, size, size, generator=generator),
            'mask': torch.randint(0, NUM_CLASSES, (size, size), generator=generator),
        }
        for _ in range(n)
    ]


def fit(
    folder: Path, max_steps: int = 2, ckpt_path: Path | None = None
) -> ModelCheckpoint:
    torch.manual_seed(0)
    task = SemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        ignore_index=IGNORE_INDEX,
    )
    callback = ModelCheckpoint(
        dirpath=folder,
        filename='best',
        monitor='val_OverallAccuracy',
        mode='max',
        save_last=True,
    )
    trainer = Trainer(
        max_steps=2,
        max_epochs=-1,
        callbacks=[callback],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator='cpu',
    )
    samples = batches()
    trainer.fit(
        task,
        DataLoader(samples, batch_size=1),
        DataLoader(samples, batch_size=1),
    )
    return callback


def checkpoint_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == RANK_ZERO]
    caplog.clear()
    return [line for line in lines if line.startswith('checkpoints: ')]


def test_a_rerun_says_it_writes_v1_and_the_end_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO, logger=RANK_ZERO)
    first = fit(Path('run'))
    score = float(first.best_model_score)
    assert checkpoint_lines(caplog) == [
        f'checkpoints: best run/best.ckpt (val_OverallAccuracy {score:.4f}); '
        'last run/last.ckpt'
    ]
    best = tmp_path / 'run' / 'best.ckpt'
    stamp = best.stat().st_mtime_ns

    # The same folder again: Lightning keeps the first run's files (and would
    # warn that the folder is not empty, which pytest turns into an error).
    second = fit(Path('run'))
    score = float(second.best_model_score)
    assert checkpoint_lines(caplog) == [
        'checkpoints: run holds best.ckpt and last.ckpt of an earlier run; this '
        'run writes best-v1.ckpt and last-v1.ckpt (the names to give test and '
        'predict), or empty the folder first',
        f'checkpoints: best run/best-v1.ckpt (val_OverallAccuracy {score:.4f}); '
        'last run/last-v1.ckpt',
    ]
    assert best.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (tmp_path / 'run').iterdir()) == [
        'best-v1.ckpt',
        'best.ckpt',
        'last-v1.ckpt',
        'last.ckpt',
    ]
    assert second.best_model_path == str(tmp_path / 'run' / 'best-v1.ckpt')

    # Resuming continues the run's own files: nothing to announce at the start.
    third = ModelCheckpoint(dirpath='run', filename='best', save_last=True)
    trainer = Trainer(logger=False, accelerator='cpu')
    trainer.ckpt_path = str(tmp_path / 'run' / 'last-v1.ckpt')
    third.on_fit_start(
        trainer, SemanticSegmentation(model='fcn', num_filters=4, num_classes=2)
    )
    assert checkpoint_lines(caplog) == []
    trainer.ckpt_path = None
    third.on_fit_start(
        trainer, SemanticSegmentation(model='fcn', num_filters=4, num_classes=2)
    )
    assert checkpoint_lines(caplog)[0].endswith(
        'this run writes best-v2.ckpt and last-v2.ckpt (the names to give test and '
        'predict), or empty the folder first'
    )


def test_names_with_metrics_are_not_announced(tmp_path: Path) -> None:
    callback = ModelCheckpoint(dirpath=tmp_path, filename='{epoch}', save_last=True)
    assert callback.fixed_names() == []
    callback = ModelCheckpoint(dirpath=tmp_path, filename='best', save_top_k=1)
    assert callback.fixed_names() == ['best']
    (tmp_path / 'best.ckpt').touch()
    (tmp_path / 'best-v1.ckpt').touch()
    assert callback.next_free('best') == tmp_path / 'best-v2.ckpt'
    assert callback.fit_start_notice().startswith(
        f'checkpoints: {tmp_path} holds best.ckpt of an earlier run; this run '
        'writes best-v2.ckpt'
    )
