"""What a run under TorchGeo's command line prints: our errors in one line, no tips.

Nothing here acts on import. The data module calls them when it is constructed
(:class:`~torchgeo_bvm.training.datamodule.BVMDataModule`) and when a run stops
(its ``on_exception`` hook), so a configuration that names it gets them; a
script that builds its own ``Trainer`` and data keeps Lightning's output and
every traceback unless it calls them.

* :func:`quiet_lightning` drops Lightning's advertising tips ("Tip: ... try
  installing litlogger / litmodels") and a deprecation warning that Lightning's
  own code triggers in PyTorch ("``isinstance(treespec, LeafSpec)`` is
  deprecated"); every other message and warning stays.
* :func:`~torchgeo_bvm.errors.one_line_errors_under_torchgeo` prints an error of
  the package raised while LightningCLI builds the data module in one line;
  :func:`exit_in_one_line` does the same for one raised while the trainer runs
  (setting up data, loading weights, writing maps), with exit status 2 as the
  package's own command line.
"""

from __future__ import annotations

import logging
import sys
import warnings

from ..errors import debugging, describe, find_bvm_error, under_torchgeo_cli

__all__ = ['LIGHTNING_LOGGERS', 'exit_in_one_line', 'quiet_lightning']

#: The loggers through which Lightning prints its rank-zero messages.
LIGHTNING_LOGGERS = (
    'lightning.pytorch.utilities.rank_zero',
    'lightning.fabric.utilities.rank_zero',
)


def _not_a_tip(record: logging.LogRecord) -> bool:
    return not str(record.msg).lstrip().startswith('\N{ELECTRIC LIGHT BULB} Tip:')


def quiet_lightning() -> None:
    """Drop Lightning's advertising tips and its own deprecation warning.

    Every other message and warning is kept. Idempotent.
    """
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if _not_a_tip not in logger.filters:
            logger.addFilter(_not_a_tip)
    # Raised by lightning.pytorch.utilities._pytree with recent PyTorch: nothing
    # a user can change.
    warnings.filterwarnings(
        'ignore', message=r'`isinstance\(treespec, LeafSpec\)` is deprecated'
    )


def exit_in_one_line(exception: BaseException) -> None:
    """Under ``torchgeo SUBCOMMAND``, end a run that one of our errors stopped.

    Prints ``torchgeo SUBCOMMAND: error: MESSAGE`` on stderr and exits with
    status 2. Does nothing (the exception goes on as it is) outside TorchGeo's
    command line, with ``TORCHGEO_BVM_DEBUG=1``, or for an exception that no
    error of the package caused.

    Args:
        exception: what stopped the run.

    Raises:
        SystemExit: with status 2, after printing the line.
    """
    program = under_torchgeo_cli()
    if program is None or debugging():
        return
    ours = find_bvm_error(exception)
    if ours is None:
        return
    sys.stderr.write(f'{program}: error: {describe(ours)}\n')
    sys.stderr.flush()
    raise SystemExit(2)
