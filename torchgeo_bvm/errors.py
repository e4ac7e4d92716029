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
"""

from __future__ import annotations

__all__ = [
    'BVMError',
    'BVMExistsError',
    'BVMFileError',
    'BVMNotFoundError',
    'BVMValueError',
]


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
