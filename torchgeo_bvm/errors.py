"""The errors the package raises for bad input, and the contract they serve.

The contract, which every command and function of the package keeps:

1. **Nothing is lost.** No command writes over one of its inputs or their
   sidecars (a shapefile's ``.shx``, ``.dbf``, ``.prj``; a raster's
   ``.aux.xml``), whatever the spelling of the path. An existing output file is
   replaced only with ``--overwrite``, as rasterio's ``rio`` commands do. A
   folder a command owns (``demo``, ``download``, ``synth``, ``stats`` and the
   prediction maps) is reused or resumed, and a re-run never leaves stale files
   beside fresh ones. Files appear under their final name only when complete
   (:func:`torchgeo_bvm.fileio.atomic_path`); staging files are hidden names
   that no dataset scan of the package reads, and those of a killed run are
   removed by the next one. A full disk or a read-only folder leaves no partial
   file or set of files behind.
2. **Nothing hangs or explodes.** Every size that reaches an allocation (raster
   width and height, patch and tile sizes, tile counts, strides) is checked
   against the data's extent and a limit before work starts, and the message
   says what was asked and what is allowed. An unreachable openEO backend fails
   after a bounded, stated time, once the output folder has been checked.
3. **Nothing is silently wrong.** A value is never reinterpreted: a negative,
   zero or non-finite resolution, length, seed or weight is refused, not
   replaced by a default; a layer without polygons, a label column that is
   neither class numbers nor unit codes, a band named twice, a raster that is
   not a label raster, or a grid that misses the sheets asked for are errors.
4. **Every failure is one clear line.** It names the file, field or value and
   says what was expected. The command line prints it on stderr as
   ``torchgeo-bvm COMMAND: error: ...`` and exits with status 2, without a
   traceback; ``--debug`` or ``TORCHGEO_BVM_DEBUG=1`` shows the traceback.
   Ctrl-C exits with status 130 and ``SIGTERM`` with 143, after removing what
   the interrupted step had staged.

Each error subclasses the built-in type a caller would already catch: a value
problem is a :class:`ValueError`, a problem with a file or folder an
:class:`OSError` (:class:`FileNotFoundError` or :class:`FileExistsError` where
that is the problem). Catch :class:`BVMError` to handle any of them.

Under TorchGeo's own command line (``torchgeo fit --config ...``), an error of
the package raised while LightningCLI builds the data module reaches the user
wrapped in jsonargparse's "Does not validate against any of the Union
subtypes" and a chained traceback; :func:`one_line_errors_under_torchgeo` (called
when the data module is constructed under that command, never on import) prints
the package's line instead, unless ``TORCHGEO_BVM_DEBUG=1``; an error raised
while the trainer runs ends the run in one line with status 2
(:func:`torchgeo_bvm.training.console.exit_in_one_line`).
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

__all__ = [
    'DEBUG_VARIABLE',
    'BVMError',
    'BVMExistsError',
    'BVMFileError',
    'BVMNotFoundError',
    'BVMValueError',
    'debugging',
    'describe',
    'find_bvm_error',
    'one_line_errors_under_torchgeo',
    'under_torchgeo_cli',
    'underlying_message',
]

#: The environment variable that shows tracebacks (as ``--debug`` does).
DEBUG_VARIABLE = 'TORCHGEO_BVM_DEBUG'


class BVMError(Exception):
    """Base class of the package's errors; ``str(error)`` is one line for the user."""


class BVMValueError(BVMError, ValueError):
    """A value, argument, field or configuration is not what was expected."""


class BVMFileError(BVMError, OSError):
    """A file or folder cannot be read or written as needed."""


class BVMNotFoundError(BVMFileError, FileNotFoundError):
    """A file or folder that is needed does not exist."""


class BVMExistsError(BVMFileError, FileExistsError):
    """An output exists and may not be replaced (no ``--overwrite``), or is an input."""


def debugging() -> bool:
    """Whether ``TORCHGEO_BVM_DEBUG`` asks for tracebacks.

    Returns:
        True unless the variable is unset, empty or ``0``.
    """
    return os.environ.get(DEBUG_VARIABLE, '') not in ('', '0')


def describe(error: BaseException) -> str:
    """An error as one line: the package's message, or a library's with its kind.

    Args:
        error: the error.

    Returns:
        Its message on one line (line breaks become spaces).
    """
    text = ' '.join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, BVMError):
        return text
    # A library's message is clearer with the kind of error it is.
    return f'{type(error).__name__}: {text}' if text else type(error).__name__


def underlying_message(error: BaseException) -> str:
    """What went wrong, in the words of whoever knew: one line.

    rasterio raises "Read failed. See previous exception for details." and
    chains GDAL's own message behind it; that message is taken instead,
    following ``__cause__`` and ``__context__`` while the message says nothing
    more.

    Args:
        error: the error.

    Returns:
        Its message, or the first message behind it that says something, on one
        line (the error's kind if none does).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = ' '.join(str(current).split())
        if text and 'See previous exception' not in text:
            return text
        current = current.__cause__ or current.__context__
    return type(error).__name__


def find_bvm_error(error: BaseException | None) -> BVMError | None:
    """The package's error in an exception or what caused it, if any.

    Args:
        error: an exception, perhaps wrapping ours (``raise ... from``).

    Returns:
        The first :class:`BVMError` along ``__cause__`` and ``__context__``.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, BVMError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def under_torchgeo_cli() -> str | None:
    """Whether this process is TorchGeo's command line, and which subcommand.

    Returns:
        ``'torchgeo SUBCOMMAND'`` under ``torchgeo fit|validate|test|predict``
        (or ``python -m torchgeo``), else None.
    """
    program = os.path.basename(sys.argv[0] if sys.argv else '')
    if program != 'torchgeo' and not sys.argv[0].endswith(
        os.path.join('torchgeo', '__main__.py')
    ):
        return None
    subcommand = next((a for a in sys.argv[1:] if not a.startswith('-')), '')
    return f'torchgeo {subcommand}'.strip()


def one_line_errors_under_torchgeo() -> None:
    """Under ``torchgeo fit/test/predict``, print the package's errors in one line.

    Installs a :data:`sys.excepthook` that, for an uncaught exception caused by
    a :class:`BVMError`, prints ``torchgeo SUBCOMMAND: error: MESSAGE`` instead
    of the traceback (the exit status stays 1, Python's). Other exceptions,
    and every exception with ``TORCHGEO_BVM_DEBUG=1``, keep their traceback. It
    does nothing outside TorchGeo's command line, so scripts and notebooks keep
    their tracebacks. Idempotent.
    """
    prefix = under_torchgeo_cli()
    previous = sys.excepthook
    if prefix is None or getattr(previous, 'torchgeo_bvm', False):
        return

    def hook(
        kind: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
    ) -> None:
        try:
            ours = None if debugging() else find_bvm_error(error)
        except Exception:  # interpreter shutdown: leave it to the previous hook
            ours = None
        if ours is None:
            previous(kind, error, traceback)
            return
        sys.stderr.write(
            f'{prefix}: error: {describe(ours)} ({DEBUG_VARIABLE}=1 shows the '
            'traceback)\n'
        )

    hook.torchgeo_bvm = True  # type: ignore[attr-defined]
    sys.excepthook = hook
