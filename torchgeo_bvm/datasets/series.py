"""The time steps of a multi-temporal imagery sample.

An imagery dataset (:class:`~torchgeo_bvm.datasets.Sentinel2TOC`,
:class:`~torchgeo_bvm.datasets.Sentinel1Sigma0`) with ``time_series=True`` returns,
for a window and a period, one image per time step: ``image`` ``[T, C, H, W]``,
``valid`` ``[T, H, W]`` and ``dates`` ``[T]``. What the steps are is decided
here, without reading a file; the reader fills them.

Two temporal layouts (:data:`TEMPORAL_LAYOUTS`):

* ``'monthly'``: one step per calendar month of the period that is among the
  requested months (:func:`month_steps`; a calendar year and all twelve months
  give ``T = 12``). A month is the openEO downloader's monthly composite where
  the data hold one, else the per-pixel median of the month's clear
  observations (:func:`clear_median`), the rule the downloader's composites
  follow (Sentinel-2), or their mean (:func:`clear_mean`, Sentinel-1's
  backscatter, whose downloaded composites are monthly means). A month
  without any clear observation at a pixel leaves the pixel
  :data:`FILL_VALUE` in every band and invalid.
* ``'dates'``: one step per acquisition date of the period, in date order, or
  ``max_dates`` of them spread evenly over the acquisitions
  (:func:`spread`), padded at the end to ``max_dates`` steps; ``length``
  holds how many steps are real.

**Dates** are encoded as whole days since 1970-01-01 (:func:`day_number`), the
acquisition's UTC date, or the first day of a month step; padded steps hold
:data:`DATE_PAD`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..checks import MAX_DATES, check_count
from ..errors import BVMValueError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    'DATE_PAD',
    'FILL_VALUE',
    'TEMPORAL_LAYOUTS',
    'TemporalLayout',
    'calendar_year',
    'check_max_dates',
    'check_min_clear',
    'check_series',
    'check_temporal',
    'clear_mean',
    'clear_median',
    'day_number',
    'month_steps',
    'observed_steps',
    'spread',
]

TemporalLayout = Literal['monthly', 'dates']
#: The temporal layouts of a time-series sample.
TEMPORAL_LAYOUTS: tuple[TemporalLayout, ...] = ('monthly', 'dates')
#: ``image`` value of a step, or of a pixel of a step, without data (as a
#: single-date sample has 0 where a band has no data).
FILL_VALUE = 0.0
#: ``dates`` value of a padded step.
DATE_PAD = -1

_EPOCH = pd.Timestamp('1970-01-01')
_ONE_DAY = pd.Timedelta(86_400_000_000, unit='us')


def check_temporal(value: object) -> TemporalLayout:
    """A temporal layout, checked.

    Args:
        value: ``'monthly'`` or ``'dates'``.

    Returns:
        The layout.

    Raises:
        BVMValueError: for anything else.
    """
    if value not in TEMPORAL_LAYOUTS:
        raise BVMValueError(
            f"unknown temporal layout {value!r}: expected 'monthly' (one step per "
            "month) or 'dates' (one step per acquisition)"
        )
    return value


def check_max_dates(value: object) -> int | None:
    """A ``max_dates``, checked: None or a whole number in ``1..MAX_DATES``.

    Args:
        value: the value.

    Returns:
        The value.

    Raises:
        BVMValueError: for zero, a negative number, more than
            :data:`~torchgeo_bvm.checks.MAX_DATES` or anything not a whole number.
    """
    if value is None:
        return None
    return check_count(
        value,
        'max_dates',
        maximum=MAX_DATES,
        hint='the most dates of a sample; every sample is padded to it',
    )


def check_min_clear(value: object) -> int:
    """A ``min_clear``, checked: a whole number of at least 1.

    Args:
        value: the value.

    Returns:
        The value.

    Raises:
        BVMValueError: for zero, a negative number or anything not a whole number.
    """
    return check_count(
        value,
        'min_clear',
        hint='a pixel keeps its label when it is clear on at least min_clear steps',
    )


def check_series(
    time_series: bool, temporal: object, max_dates: object, mosaic_dates: bool
) -> tuple[TemporalLayout, int | None]:
    """The time-series arguments of an imagery dataset, checked together.

    Args:
        time_series: whether a sample is a series.
        temporal: the temporal layout.
        max_dates: the steps of a ``'dates'`` series.
        mosaic_dates: whether a query may merge several dates into one image.

    Returns:
        The layout and ``max_dates``.

    Raises:
        BVMValueError: for an unknown layout, a bad ``max_dates``, ``max_dates``
            with ``'monthly'``, or ``time_series`` with ``mosaic_dates``.
    """
    layout = check_temporal(temporal)
    most = check_max_dates(max_dates)
    if most is not None and layout != 'dates':
        raise BVMValueError(
            "max_dates applies to temporal='dates' (a monthly series has one "
            f'step per month), got max_dates={most} with temporal={layout!r}'
        )
    if time_series and mosaic_dates:
        raise BVMValueError(
            'time_series=True stacks the dates of a query, mosaic_dates=True '
            'merges them into one image: choose one'
        )
    return layout, most


def day_number(timestamp: pd.Timestamp) -> int:
    """The encoding of a date in ``dates``: whole days since 1970-01-01.

    Args:
        timestamp: a time (its date counts; time of day is dropped).

    Returns:
        Days since 1970-01-01 (2022-01-05 is 18,997).
    """
    return int((pd.Timestamp(timestamp).normalize() - _EPOCH) // _ONE_DAY)


def month_steps(
    start: pd.Timestamp, stop: pd.Timestamp, months: Iterable[int] | None = None
) -> list[pd.Timestamp]:
    """The month steps of a period: its calendar months among ``months``.

    Args:
        start: the period's first instant.
        stop: its last instant.
        months: the requested months (1-12; default all twelve).

    Returns:
        The first day of each step, in order.

    Raises:
        BVMValueError: if the period does not hold every requested month (a
            period shorter than the months asked for).
    """
    wanted = sorted(set(range(1, 13) if months is None else months))
    first = pd.Timestamp(start).to_period('M')
    last = pd.Timestamp(stop).to_period('M')
    held = list(pd.period_range(first, last, freq='M')) if last >= first else []
    steps = [p.to_timestamp() for p in held if p.month in wanted]
    missing = sorted(set(wanted) - {s.month for s in steps})
    if missing:
        names = ', '.join(pd.Timestamp(2000, m, 1).strftime('%b') for m in missing)
        raise BVMValueError(
            f'the period {pd.Timestamp(start):%Y-%m-%d}..{pd.Timestamp(stop):%Y-%m-%d} '
            f'is shorter than the {len(wanted)} months requested: it holds no '
            f'{names}; query a period that spans every requested month (a calendar '
            'year for all twelve) or request fewer months'
        )
    return steps


def observed_steps(images: Tensor) -> Tensor:
    """Which steps of a batch of series hold at least one observation.

    A step is empty when every band of every pixel is :data:`FILL_VALUE`: a
    padded step, or a month without a clear observation anywhere in the
    sample. Read before normalisation, which turns the fill into band means.

    Args:
        images: ``[B, T, C, H, W]`` series as read.

    Returns:
        ``[B, T]`` bool, True where a step holds data.
    """
    return (images != FILL_VALUE).flatten(2).any(dim=-1)


def calendar_year(year: int) -> slice:
    """The time slice of a calendar year, as a query's third slice.

    Args:
        year: the year.

    Returns:
        ``slice(YYYY-01-01 00:00, YYYY-12-31 23:59:59.999999)``.
    """
    start = pd.Timestamp(int(year), 1, 1)
    stop = pd.Timestamp(int(year) + 1, 1, 1) - pd.Timedelta(1, unit='us')
    return slice(start, stop)


def spread(count: int, most: int) -> list[int]:
    """Which of ``count`` date-ordered acquisitions a sample keeps: at most ``most``.

    All of them when there are no more than ``most``; else ``most`` spread
    evenly over them, the first and the last always kept: positions
    ``floor(k * (count - 1) / (most - 1) + 0.5)`` for ``k = 0 .. most - 1``.
    The rule reads no pixel, so the steps of a window do not depend on its
    clouds and cost nothing to choose.

    Args:
        count: how many acquisitions there are.
        most: the most to keep (>= 1).

    Returns:
        The positions kept, increasing.
    """
    if count <= most:
        return list(range(count))
    if most == 1:
        return [0]
    step = (count - 1) / (most - 1)
    return [math.floor(k * step + 0.5) for k in range(most)]


def clear_median(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """The per-pixel median of the clear observations, as the downloader stores it.

    The rule of ``torchgeo-bvm download --composite monthly`` (openEO's
    ``median`` over the month, then the int16 file): the middle observation of
    an odd count, the mean of the two middle ones of an even count, rounded
    half to even.

    Args:
        values: ``(observations, ...)`` digital numbers, NaN where an
            observation does not count (cloudy by the cloud rule, or no data).

    Returns:
        The median, float32 (whole numbers), NaN where no observation counts.
    """
    count = len(values)
    if count == 1:
        single: NDArray[np.float32] = values[0].copy()
        return single
    flat = values.reshape(count, -1)
    median = np.empty(flat.shape[1], dtype=np.float32)
    network = _sorting_network(count) if count <= _NETWORK_MOST else None
    # Block by block: the observations of a block stay in the CPU's cache
    # through the sort and the picks (a whole 12 x 11 x 256 x 256 stack does not).
    pixels = max(4096, _BLOCK_VALUES // count)
    # Counting in int16 is several times faster than in int64.
    tally = np.int16 if count < 2**15 else np.intp
    for start in range(0, flat.shape[1], pixels):
        block = flat[:, start : start + pixels]
        counted = count - np.isnan(block).sum(axis=0, dtype=tally)
        # Observations that do not count sort last, as +inf (fmin: NaN becomes
        # the other operand; a masked copy at scattered pixels is far slower).
        ordered = np.fmin(block, np.float32(np.inf))
        if network is None:
            ordered.sort(axis=0)
        else:
            ordered = _sort_by_network(ordered, network)
        # The two middle ranks of each pixel, picked by flat position.
        width = ordered.shape[1]
        positions = np.arange(width)
        ranked = ordered.ravel()
        low = ranked[
            ((np.maximum(counted, 1) - 1) // 2).astype(np.intp) * width + positions
        ]
        high = ranked[(counted // 2).astype(np.intp) * width + positions]
        # Digital numbers are whole and below 2**16: the sum and half are exact.
        part = median[start : start + pixels]
        np.rint((low + high) / np.float32(2), out=part)
        part[counted == 0] = np.nan
    return median.reshape(values.shape[1:])


def clear_mean(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """The per-pixel mean of the clear observations, as values (not rounded).

    The rule of a radar downloader's monthly composites (openEO's ``mean``
    over the month of linear backscatter, stored as float32): the mean of
    power, not of decibels.

    Args:
        values: ``(observations, ...)``, NaN where an observation does not
            count (no data, or below a sensor's floor).

    Returns:
        The mean, float32, NaN where no observation counts.
    """
    counted = (~np.isnan(values)).sum(axis=0)
    total = np.nansum(values, axis=0, dtype=np.float64)
    mean: NDArray[np.float32] = np.full(values.shape[1:], np.nan, dtype=np.float32)
    np.divide(total, counted, out=mean, where=counted > 0, casting='unsafe')
    return mean


#: Up to this many observations a pixel's are sorted by a sorting network of
#: element-wise minima and maxima (vectorised over the pixels): several times
#: faster than numpy's sort along the first axis for the dates of a month.
_NETWORK_MOST = 32
#: Observations per block of :func:`clear_median` (float32: 1 MB).
_BLOCK_VALUES = 262_144


@functools.cache
def _sorting_network(count: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort of ``count`` values: compare-exchange pairs.

    The network of the next power of two, without the pairs that reach beyond
    ``count``: those positions would hold +inf, which no pair ever moves.
    """
    size = 1 << (count - 1).bit_length()
    pairs = []
    merged = 1
    while merged < size:
        step = merged
        while step >= 1:
            for first in range(step % merged, size - step, 2 * step):
                for offset in range(min(step, size - first - step)):
                    a, b = first + offset, first + offset + step
                    if a // (2 * merged) == b // (2 * merged) and b < count:
                        pairs.append((a, b))
            step //= 2
        merged *= 2
    return tuple(pairs)


def _sort_by_network(
    values: NDArray[np.float32], network: tuple[tuple[int, int], ...]
) -> NDArray[np.float32]:
    """``values`` sorted along its first axis by compare-exchanges (overwritten).

    Each pair's minimum goes to a spare row that then takes the place of the
    pair's first row, so a compare-exchange writes two rows, not three.
    """
    rows = list(values)
    spare = np.empty_like(values[0])
    for a, b in network:
        np.minimum(rows[a], rows[b], out=spare)
        np.maximum(rows[a], rows[b], out=rows[b])
        rows[a], spare = spare, rows[a]
    return np.stack(rows)
