"""What a run under TorchGeo's command line prints, and that importing changes nothing."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import pytest

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.training.console import exit_in_one_line, quiet_lightning


@pytest.mark.slow
def test_importing_the_package_changes_no_global_state() -> None:
    code = (
        'import logging, sys, warnings\n'
        'filters = list(warnings.filters)\n'
        'import torchgeo_bvm.training.datamodule, torchgeo_bvm.training.tasks\n'
        'import torchgeo_bvm.training.console, torchgeo_bvm.training.callbacks\n'
        'import torchgeo_bvm.training.prediction, torchgeo_bvm\n'
        'assert sys.excepthook is sys.__excepthook__\n'
        "for name in ('lightning.pytorch.utilities.rank_zero',\n"
        "             'lightning.fabric.utilities.rank_zero'):\n"
        '    assert logging.getLogger(name).filters == [], name\n'
        "assert not any('LeafSpec' in str(f[1]) for f in warnings.filters)\n"
    )
    # Run as the torchgeo command would be: the hook used to install itself there.
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__('os').environ, 'PYTHONWARNINGS': ''},
    )
    assert result.returncode == 0, result.stderr


def test_lightning_tips_dropped_other_messages_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_lightning()
    quiet_lightning()  # idempotent
    logger = logging.getLogger('lightning.pytorch.utilities.rank_zero')
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info('\N{ELECTRIC LIGHT BULB} Tip: For seamless cloud logging ...')
        logger.info('GPU available: False, used: False')
    assert [r.getMessage() for r in caplog.records] == [
        'GPU available: False, used: False'
    ]


def test_lightnings_own_deprecation_warning_filtered() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('default')
        quiet_lightning()
        warnings.warn(
            '`isinstance(treespec, LeafSpec)` is deprecated, use '
            '`isinstance(treespec, TreeSpec) and treespec.is_leaf()` instead.',
            FutureWarning,
            stacklevel=1,
        )
        warnings.warn('another deprecation', FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ['another deprecation']


def test_exit_in_one_line_only_under_torchgeo(monkeypatch, capsys) -> None:
    error = RuntimeError('wrapped')
    error.__cause__ = BVMValueError('bands: the checkpoint has 11, the data 3')
    monkeypatch.setattr(sys, 'argv', ['/usr/bin/pytest', 'fit'])
    exit_in_one_line(error)  # not the torchgeo command: the exception goes on
    monkeypatch.setattr(sys, 'argv', ['/venv/bin/torchgeo', 'fit', '--config', 'x'])
    exit_in_one_line(RuntimeError('not ours'))  # not our error: it goes on
    with pytest.raises(SystemExit) as info:
        exit_in_one_line(error)
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        'torchgeo fit: error: bands: the checkpoint has 11, the data 3\n'
    )
    monkeypatch.setenv('TORCHGEO_BVM_DEBUG', '1')
    exit_in_one_line(error)  # debugging: the traceback is shown
