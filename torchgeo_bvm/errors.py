"""The errors the package raises for bad input.

Every failure a user can cause (a missing or malformed file, a field that is not
there, a value out of range) is reported as one line that names the file, field
or value and says what was expected. The command line prints that line and exits
with status 2 instead of showing a traceback.

Each error subclasses the built-in type a caller would already catch: a value
problem is a :class:`ValueError`, a problem with a file or folder an
:class:`OSError`. Catch :class:`BVMError` to handle any of them.
"""

from __future__ import annotations

__all__ = ['BVMError', 'BVMFileError', 'BVMValueError']


class BVMError(Exception):
    """Base class of the package's errors; ``str(error)`` is one line for the user."""


class BVMValueError(BVMError, ValueError):
    """A value, argument, field or configuration is not what was expected."""


class BVMFileError(BVMError, OSError):
    """A file or folder cannot be read or written as needed."""
