"""The ``torchgeo-bvm`` command line.

Every module in :mod:`torchgeo_bvm.commands` is one subcommand: its
``COMMAND`` (a :class:`~torchgeo_bvm.commands.Command`) holds its summary, its
options and what it runs. New subcommands need no change here.

Failures follow the package's contract (:mod:`torchgeo_bvm.errors`): bad input
and every failure a user can cause or fix (a file that cannot be read or
written, a CRS that does not exist, an openEO backend that refuses or cannot be
reached) is one line on stderr and exit status 2; Ctrl-C is status 130 and
``SIGTERM`` 143, after the interrupted step removed what it had staged. A
reader of standard output that leaves early (``| head``) ends the command
quietly with status 141, as ``SIGPIPE`` ends a Unix tool.
``--debug`` or ``TORCHGEO_BVM_DEBUG=1`` adds the traceback. Anything else is a
bug: it is reported with its traceback and status 1.

Start-up stays fast: the subcommand modules import only the standard library
at the top and load what they need when they run, so ``--help`` answers at
once and ``grid``, ``rasterize``, ``stats --labels`` and ``download`` never
import torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import select
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any, TextIO

from . import __version__, commands
from .commands import Command
from .errors import DEBUG_VARIABLE, BVMError, debugging, describe

__all__ = [
    'EXIT_BAD_INPUT',
    'EXIT_BROKEN_PIPE',
    'EXIT_INTERRUPTED',
    'EXIT_TERMINATED',
    'build_parser',
    'main',
]

#: Exit status of a failure the user can fix (bad input, unreadable file, ...).
EXIT_BAD_INPUT = 2
#: Exit status of Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of ``SIGTERM`` (128 + SIGTERM), as shells report it.
EXIT_TERMINATED = 143
#: Exit status when the reader of standard output left (``| head``): what a
#: Unix tool killed by ``SIGPIPE`` reports (128 + 13), without a message.
EXIT_BROKEN_PIPE = 141

#: Errors of libraries that bad input causes, by module and class name; a
#: module not imported yet cannot have raised them, so none is imported here.
_LIBRARY_ERRORS = (
    ('rasterio.errors', 'RasterioError'),
    ('rasterio._err', 'CPLE_BaseError'),
    ('pyogrio.errors', 'DataSourceError'),
    ('pyogrio.errors', 'DataLayerError'),
    ('pyogrio.errors', 'FieldError'),
    ('pyogrio.errors', 'GeometryError'),
    ('pyogrio.errors', 'CRSError'),
    ('fiona.errors', 'FionaError'),
    ('pyproj.exceptions', 'CRSError'),
    ('pyproj.exceptions', 'ProjError'),
    ('openeo.rest', 'OpenEoClientException'),
    ('openeo.rest.auth.oidc', 'OidcException'),
    ('requests.exceptions', 'RequestException'),
    ('yaml', 'YAMLError'),
    ('json', 'JSONDecodeError'),
    ('zipfile', 'BadZipFile'),
)


class Terminated(BaseException):  # like KeyboardInterrupt
    """``SIGTERM`` arrived: raised in the main thread so that clean-up runs."""


def _command_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith('_'):
            continue
        module = importlib.import_module(f'{commands.__name__}.{info.name}')
        modules[info.name.replace('_', '-')] = module
    return modules


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per command.

    Args:
        only: add the options of this subcommand only (the others keep their
            summary), so that a command line needs only its own subcommand's
            choices; None for every subcommand's options.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='torchgeo-bvm',
        description='Biological Valuation Map of Flanders x Sentinel-2 for TorchGeo.',
        epilog=(
            'Errors are one line and exit status 2; --debug (or '
            f'{DEBUG_VARIABLE}=1) shows the traceback.'
        ),
    )
    parser.add_argument('--version', action='version', version=__version__)
    parser.add_argument(
        '--debug', action='store_true', help='show the traceback of an error'
    )
    subparsers = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for name, module in _command_modules().items():
        command: Command = module.COMMAND
        sub = subparsers.add_parser(
            name,
            help=command.help,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or only == name:
            command.add_arguments(sub)
        sub.add_argument(
            '--debug',
            action='store_true',
            default=argparse.SUPPRESS,
            help='show the traceback of an error',
        )
        sub.set_defaults(handler=command.run)
    return parser


def _requested_command(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` ('' if none): the first positional."""
    for arg in argv:
        if not arg.startswith('-'):
            return arg
    return ''


def _is_expected(error: BaseException) -> bool:
    """Whether a failure is one the user can cause or fix (not a bug)."""
    if isinstance(error, BVMError | OSError):
        return True
    for module_name, class_name in _LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        kind = getattr(module, class_name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(error, kind):
            return True
    return False


class _TrackedStream:
    """A text stream that remembers whether its last write ended a line.

    Progress bars leave the cursor after a carriage return; the error line must
    start on a line of its own.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.at_line_start = True

    def write(self, text: str) -> int:
        if text:
            self.at_line_start = text.endswith('\n')
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self.stream, name)


@contextmanager
def _tracked_stderr() -> Iterator[_TrackedStream]:
    tracked = _TrackedStream(sys.stderr)
    sys.stderr = tracked
    try:
        yield tracked
    finally:
        sys.stderr = tracked.stream


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn ``SIGTERM`` into :class:`Terminated` while a command runs."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    The commands only write figures to files, so matplotlib's file backend is
    chosen (``MPLBACKEND=Agg``) unless the environment names another one; the
    library itself never chooses a backend.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for bad input or another failure the
        user can fix, 130 after Ctrl-C, 143 after ``SIGTERM``, 1 for a bug.
    """
    os.environ.setdefault('MPLBACKEND', 'Agg')
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_requested_command(argv))
    args = parser.parse_args(argv)
    debug = args.debug or debugging()
    prefix = f'torchgeo-bvm {args.command}'
    with _tracked_stderr() as stderr:
        status, line = _run(args, prefix, debug, stderr)
        if line:
            _report(stderr, line)
    return status


def _run(
    args: argparse.Namespace, prefix: str, debug: bool, stderr: _TrackedStream
) -> tuple[int, str]:
    """Run the command: (exit status, the line to print last, or '')."""
    try:
        with _sigterm_raises():
            try:
                status = args.handler(args)
            except BaseException as error:
                _release_frames(error)
                raise
            # A reader that left (``| head``) shows here, not at exit.
            sys.stdout.flush()
            return status, ''
    except BrokenPipeError as error:
        if not _stdout_closed():
            return EXIT_BAD_INPUT, f'{prefix}: error: {describe(error)}'
        _silence_stdout()
        return EXIT_BROKEN_PIPE, ''
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, f'{prefix}: interrupted (Ctrl-C)'
    except Terminated:
        return EXIT_TERMINATED, f'{prefix}: terminated (SIGTERM)'
    except Exception as error:
        if not _is_expected(error):
            _report(stderr, '')
            traceback.print_exc()
            return 1, (
                f'{prefix}: internal error: {describe(error)} (this is a bug in '
                'torchgeo-bvm: please report it with the traceback above)'
            )
        if debug:
            _report(stderr, '')
            traceback.print_exc()
        return EXIT_BAD_INPUT, f'{prefix}: error: {describe(error)}'


def _release_frames(error: BaseException) -> None:
    """Let the failed step's frames drop their locals now.

    Progress bars held there close (and draw their last state) before the
    error line is printed. The frames keep what a traceback shows. A full
    garbage collection would do the same at a cost that grows with
    everything the process holds.

    Args:
        error: the exception; those it chains to are released as well.
    """
    seen: set[int] = set()
    chained: BaseException | None = error
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        traceback.clear_frames(chained.__traceback__)
        chained = chained.__cause__ or chained.__context__


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, 'poll'):  # pragma: no cover - Windows
        return True
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poll.poll(0))


def _silence_stdout() -> None:
    """Point standard output at the null device: nothing more to flush at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _report(stderr: _TrackedStream, line: str) -> None:
    """Write a line to stderr, on a line of its own (nothing for '')."""
    if not stderr.at_line_start:
        stderr.write('\n')
    if line:
        stderr.write(line + '\n')
    stderr.flush()


if __name__ == '__main__':
    sys.exit(main())
