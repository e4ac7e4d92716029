"""Subcommands of ``torchgeo-bvm``: one module each (see :mod:`torchgeo_bvm.cli`).

Each module's docstring is its ``--help`` description (with examples) and its
``COMMAND`` a :class:`Command`; a new module is a new subcommand, with no change
anywhere else. The options several subcommands share (``--sheets``,
``--years``, ``--months``, ``--crs``, ``--res``) are parsed by the same
functions, so they mean the same everywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ['Command']


@dataclass(frozen=True)
class Command:
    """One subcommand of ``torchgeo-bvm``.

    Args:
        help: a one-line summary, shown by ``torchgeo-bvm --help``.
        add_arguments: adds the subcommand's options to its parser.
        run: runs the subcommand with the parsed options and returns the exit
            status (0 on success). Bad input raises ``ValueError`` or
            ``FileNotFoundError`` with a message naming the option, file or
            value; :func:`torchgeo_bvm.cli.main` prints it in one line and exits
            with status 2.
    """

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
