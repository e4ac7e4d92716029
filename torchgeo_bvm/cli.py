"""The ``torchgeo-bvm`` command line.

Every module in :mod:`torchgeo_bvm.commands` is one subcommand: its
``COMMAND`` (a :class:`~torchgeo_bvm.commands.Command`) holds its summary, its
options and what it runs. New subcommands need no change here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from . import __version__, commands
from .commands import Command
from .errors import BVMError

__all__ = ['build_parser', 'main']


def _command_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith('_'):
            continue
        module = importlib.import_module(f'{commands.__name__}.{info.name}')
        modules[info.name.replace('_', '-')] = module
    return modules


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='torchgeo-bvm',
        description='Biological Valuation Map of Flanders x Sentinel-2 for TorchGeo.',
    )
    parser.add_argument('--version', action='version', version=__version__)
    subparsers = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for name, module in _command_modules().items():
        command: Command = module.COMMAND
        sub = subparsers.add_parser(
            name,
            help=command.help,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    The commands only write figures to files, so matplotlib's file backend is
    chosen (``MPLBACKEND=Agg``) unless the environment names another one; the
    library itself never chooses a backend.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for bad input.
    """
    os.environ.setdefault('MPLBACKEND', 'Agg')
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (BVMError, ValueError, FileNotFoundError) as error:
        print(f'torchgeo-bvm {args.command}: error: {error}', file=sys.stderr)
        return 2
    return status


if __name__ == '__main__':
    sys.exit(main())
