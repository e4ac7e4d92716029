"""Checks of the numbers users give: resolutions, sizes, counts, seeds, CRSs.

Each check returns the value in its canonical type or raises
:class:`~torchgeo_bvm.errors.BVMValueError` naming the argument, the value and
what was expected. Nothing is reinterpreted: ``0`` is not "the default", a
string is not a sequence of digits, ``True`` is not ``1``, and NaN or an
infinity is refused wherever a size or weight is expected.

Sizes that reach an allocation are bounded here too (:data:`MAX_PIXELS`,
:data:`MAX_PATCH_PIXELS`, :data:`MAX_TILES`, :data:`MAX_DATES`,
:data:`MAX_BATCH_BYTES`, :data:`MAX_READ_BYTES`), so that a mistyped
resolution or a CRS mismatch fails at once with a message instead of
exhausting memory; so are the counts that make work (:data:`MAX_LENGTH`,
:data:`MAX_WORKERS`, :data:`MAX_CANDIDATES`) and every wait a user sets
(:data:`MAX_WAIT_SECONDS`, :func:`check_seconds`), so that no typo turns into
hours of work or a wait of years.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import BVMValueError

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = [
    'MAX_ACCUMULATOR_BYTES',
    'MAX_BATCH_BYTES',
    'MAX_CANDIDATES',
    'MAX_DATES',
    'MAX_LENGTH',
    'MAX_PATCH_PIXELS',
    'MAX_PIXELS',
    'MAX_READ_BYTES',
    'MAX_REDRAWS',
    'MAX_STEPS',
    'MAX_TILES',
    'MAX_WAIT_SECONDS',
    'MAX_WORKERS',
    'check_bytes',
    'check_count',
    'check_crs',
    'check_numbers',
    'check_pixels',
    'check_positive',
    'check_resolution',
    'check_seconds',
    'check_seed',
]

#: Pixels of the largest raster written or rasterised: all of Flanders
#: (about 290 km x 170 km with its margin) at 2 m is 1.2e10 pixels, so a limit
#: of 2^34 leaves room for every sensible grid and stops a mistyped resolution.
MAX_PIXELS = 2**34
#: Side of the largest patch in pixels: a whole 1:50,000 map sheet at 10 m is
#: 3200 x 2000 pixels; a larger crop is a mistake (or a job for prediction).
MAX_PATCH_PIXELS = 8192
#: Evaluation tiles of one split: the 43 sheets at 10 m cut into 32-pixel
#: tiles are about 270,000; more means a tile size or stride of a few pixels.
MAX_TILES = 1_000_000
#: Memory of the accumulators of one fused sheet: a whole 1:50,000 sheet at
#: 10 m with 14 classes takes about 0.4 GB, at 2.5 m 6.5 GB; more means a
#: resolution finer than the imagery's.
MAX_ACCUMULATOR_BYTES = 8 * 2**30
#: Time steps of one sample: Sentinel-2A, B and C together see a place about
#: 220 times a year (two orbits overlap over most of Flanders), so four years of
#: every acquisition stay below it.
MAX_DATES = 1_000
#: Memory of the imagery of one batch: 16 12-month samples of 12 bands at
#: 256 x 256 take 0.6 GB, a 100-date stack of 8 samples 2.5 GB; more does not
#: fit a GPU and means a typo.
MAX_BATCH_BYTES = 16 * 2**30
#: Memory of one read of imagery (a sample, or a sheet read whole on one date
#: for band statistics): a whole 1:50,000 sheet at 10 m with 11 bands and its
#: masks takes 0.35 GB, at 3.3 m 3 GB; finer than the imagery's 10 m is a typo.
MAX_READ_BYTES = 4 * 2**30
#: Samples of one training epoch: the 43 sheets hold about 300,000 crops of
#: 256 x 256 at 10 m; a hundred million is days of training per epoch.
MAX_LENGTH = 100_000_000
#: DataLoader worker processes: each is a process with its own memory.
MAX_WORKERS = 256
#: Training steps of one run: a million steps of a CPU batch are weeks.
MAX_STEPS = 1_000_000
#: Redraws of a crop that holds no labelled pixel (each is a read).
MAX_REDRAWS = 10_000
#: Candidates drawn (one panel each) and listed by ``compare``.
MAX_CANDIDATES = 100
#: The longest wait a user may set, in seconds (a timeout, a poll interval, a
#: retry delay): one hour.
MAX_WAIT_SECONDS = 3600.0


def _number(value: float) -> str:
    """A count for a message: thousands grouped, huge values in scientific form."""
    if not math.isfinite(value) or abs(value) >= 1e12:
        return f'{value:.3g}'
    if abs(value) < 10_000:
        return f'{value:.0f}'
    return f'{value:,.0f}'


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f'{value!r} (text)'
    return repr(value)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(value: object, name: str) -> float:
    """A finite number greater than zero.

    Args:
        value: the value given.
        name: the argument's name, for the message.

    Returns:
        The value as a float.

    Raises:
        BVMValueError: for anything else (text, booleans, 0, negatives, NaN,
            infinities).
    """
    if not _is_number(value) or not math.isfinite(float(value)) or value <= 0:  # type: ignore[arg-type, operator]
        raise BVMValueError(
            f'{name} must be a finite number greater than 0, got {_describe(value)}'
        )
    return float(value)  # type: ignore[arg-type]


def check_seconds(value: object, name: str, maximum: float = MAX_WAIT_SECONDS) -> float:
    """A wait in seconds: a finite number greater than zero, at most ``maximum``.

    Args:
        value: the value given.
        name: the argument's name, for the message.
        maximum: the longest wait allowed (default :data:`MAX_WAIT_SECONDS`).

    Returns:
        The value as a float.

    Raises:
        BVMValueError: for anything that is not a finite number in
            ``(0, maximum]``.
    """
    seconds = check_positive(value, name)
    if seconds > maximum:
        raise BVMValueError(
            f'{name} must be at most {maximum:g} s, got {seconds:g} s '
            f'({seconds / 86400:.3g} days)'
        )
    return seconds


def check_count(
    value: object,
    name: str,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    hint: str = '',
) -> int:
    """A whole number in ``[minimum, maximum]``.

    Args:
        value: the value given.
        name: the argument's name, for the message.
        minimum: the smallest value allowed.
        maximum: the largest value allowed (None: no limit).
        hint: what the limit means, appended to the message.

    Returns:
        The value as an int.

    Raises:
        BVMValueError: for a value that is not a whole number (text, booleans,
            floats with a fraction, NaN) or lies outside the range.
    """
    whole = _is_number(value) and math.isfinite(float(value))  # type: ignore[arg-type]
    if whole and float(value) != int(value):  # type: ignore[arg-type, call-overload]
        whole = False
    if not whole:
        raise BVMValueError(f'{name} must be a whole number, got {_describe(value)}')
    number: int = int(value)  # type: ignore[call-overload]
    if number < minimum or (maximum is not None and number > maximum):
        allowed = (
            f'at least {_number(minimum)}'
            if maximum is None
            else f'between {_number(minimum)} and {_number(maximum)}'
        )
        raise BVMValueError(
            f'{name} must be {allowed}, got {_number(number)}'
            + (f' ({hint})' if hint else '')
        )
    return number


def check_numbers(
    values: object, name: str, low: int, high: int
) -> frozenset[int] | None:
    """A set of whole numbers in ``low..high`` (years, months), or None for all.

    Args:
        values: an iterable of numbers, or None.
        name: the argument's name, for the message.
        low: the smallest value allowed.
        high: the largest value allowed.

    Returns:
        The numbers, or None.

    Raises:
        BVMValueError: for text, an empty list, or a value that is not a whole
            number in the range.
    """
    if values is None:
        return None
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise BVMValueError(
            f'{name} must be a list of whole numbers, got {_describe(values)}'
        )
    numbers = frozenset(check_count(v, name, minimum=low, maximum=high) for v in values)
    if not numbers:
        raise BVMValueError(f'{name} is empty; leave it out to take them all')
    return numbers


def check_crs(value: object, name: str = 'crs') -> CRS:
    """A CRS that pyproj knows (``EPSG:31370``, ``31370``, WKT, a ``CRS``).

    Args:
        value: the value given.
        name: the argument's name, for the message.

    Returns:
        The CRS.

    Raises:
        BVMValueError: if pyproj does not know it.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(value)
    except (CRSError, TypeError) as error:
        raise BVMValueError(f'{name}: unknown CRS {value!r} ({error})') from None


def check_seed(value: object, name: str = 'seed') -> int:
    """A random seed: a whole number in ``0 .. 2**63 - 1``.

    Args:
        value: the value given.
        name: the argument's name, for the message.

    Returns:
        The seed as an int.

    Raises:
        BVMValueError: for a negative, fractional or non-numeric seed.
    """
    return check_count(value, name, minimum=0, maximum=2**63 - 1)


def check_resolution(value: object, name: str = 'res') -> tuple[float, float]:
    """A pixel size: one positive number (x and y) or two (x, then y).

    Args:
        value: a number or a sequence of one or two numbers; text is refused
            (``'10'`` is not ``(1, 0)``).
        name: the argument's name, for the message.

    Returns:
        ``(x, y)``.

    Raises:
        BVMValueError: for text, the wrong number of values, or a value that
            is not a finite number greater than 0.
    """
    if _is_number(value):
        size = check_positive(value, name)
        return (size, size)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise BVMValueError(
            f'{name} must be a positive number or [x, y], got {_describe(value)}'
        )
    if len(value) not in (1, 2):
        raise BVMValueError(
            f'{name} takes one or two values (x, then y), got {len(value)}: '
            f'{list(value)!r}'
        )
    sizes = [check_positive(v, name) for v in value]
    return (sizes[0], sizes[-1])


def check_pixels(width: float, height: float, what: str, hint: str = '') -> None:
    """Refuse a raster larger than :data:`MAX_PIXELS` before it is allocated.

    Args:
        width: width in pixels (may be fractional or infinite, as computed).
        height: height in pixels.
        what: what the raster is, e.g. ``'the label raster'``.
        hint: what to do instead, appended to the message.

    Raises:
        BVMValueError: naming the size asked for and the limit.
    """
    if not (math.isfinite(width) and math.isfinite(height)):
        raise BVMValueError(
            f'{what} would have an infinite size ({width} x {height} pixels)'
            + (f'; {hint}' if hint else '')
        )
    pixels = float(width) * float(height)
    if pixels > MAX_PIXELS:
        raise BVMValueError(
            f'{what} would be {_number(width)} x {_number(height)} = {pixels:.3g} '
            f'pixels, more than the limit of {MAX_PIXELS:.3g}'
            + (f'; {hint}' if hint else '')
        )


def check_bytes(size: float, limit: float, what: str, hint: str = '') -> None:
    """Refuse to allocate more than ``limit`` bytes.

    Args:
        size: the bytes asked for.
        limit: the most allowed (e.g. :data:`MAX_ACCUMULATOR_BYTES`).
        what: what would be allocated, for the message.
        hint: what to do instead, appended to the message.

    Raises:
        BVMValueError: naming the size asked for and the limit.
    """
    if not math.isfinite(size) or size > limit:
        raise BVMValueError(
            f'{what} would take {size / 2**30:.3g} GiB of memory, more than the '
            f'limit of {limit / 2**30:.3g} GiB' + (f'; {hint}' if hint else '')
        )
