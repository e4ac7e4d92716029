r"""Whether a confidence means probability: reliability, calibration error, temperature.

A map's confidence should be a probability: of the pixels it gives 0.8, about
80 % should be right. :class:`Reliability` gathers pixels into
:data:`BINS` equal bins of confidence (0-1/15, ..., 14/15-1) and counts, per
bin, the pixels, their confidences and how many are right; its expected
calibration error is

.. math::

   \mathrm{ECE} = \sum_b \frac{n_b}{N} \left| \mathrm{acc}_b - \mathrm{conf}_b \right|

(the gap between accuracy and mean confidence in each bin, weighted by its
pixels), and :func:`plot_reliability` draws the reliability diagram.

:func:`fit_temperature` is temperature scaling (Guo et al., "On Calibration of
Modern Neural Networks", ICML 2017): one number ``T`` that divides the
network's logits before the softmax, chosen to minimise the negative log
likelihood of held-out labels. It keeps every argmax, so the map's classes
do not change, only how sure it says it is. The likelihood is convex in
``1 / T``, so the minimum is found exactly by bisection on its derivative.

A fused map averages the probabilities of several dates, and that average is
less sure than its dates are right (two dates that agree make a pixel more
certain, not as certain as each). No temperature of the average fixes the
shape of that curve, and how sure a map should be depends on the class it
says (woods change with their leaves, crops with their season, roofs do
not), so a map's confidence is calibrated by :func:`confidence_table`: per
predicted class, an isotonic regression (Zadrozny and Elkan 2002: the most
likely non-decreasing function, pool-adjacent-violators) of whether a pixel
is right on its confidence, fitted on held-out pixels and kept as a table
over the 251 confidence codes of a ``_confidence`` raster; a class with fewer
than :data:`CLASS_PIXELS` held-out pixels takes the table of all classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..classes import NUM_CLASSES
from ..errors import BVMValueError
from ..plot import save_figure

__all__ = [
    'BINS',
    'CLASS_PIXELS',
    'CODES',
    'Reliability',
    'confidence_table',
    'fit_temperature',
    'isotonic_table',
    'plot_reliability',
    'softmax',
]

#: Bins of the reliability diagram and the expected calibration error.
BINS = 15
#: Inverse temperatures searched (T from 0.01 to 100).
_BETA_RANGE = (0.01, 100.0)
#: Confidence codes of a ``_confidence`` raster: 0..250 (probability x 250).
CODES = 251
#: Held-out pixels a class needs for a confidence table of its own.
CLASS_PIXELS = 1000


def _zeros() -> NDArray[np.float64]:
    return np.zeros(BINS, dtype=np.float64)


@dataclass
class Reliability:
    """Pixels by confidence bin: how many, how sure, how many right.

    Args:
        pixels: pixels per bin.
        confidence: the sum of their confidences per bin.
        correct: how many of them are right, per bin.
    """

    pixels: NDArray[np.float64] = field(default_factory=_zeros)
    confidence: NDArray[np.float64] = field(default_factory=_zeros)
    correct: NDArray[np.float64] = field(default_factory=_zeros)

    def add(self, confidence: NDArray[np.floating], correct: NDArray[np.bool_]) -> None:
        """Add pixels.

        Args:
            confidence: each pixel's confidence, 0 to 1.
            correct: whether each is right.

        Raises:
            BVMValueError: if a confidence lies outside 0 to 1 or the shapes differ.
        """
        confidence = np.asarray(confidence, dtype=np.float64).ravel()
        correct = np.asarray(correct, dtype=bool).ravel()
        if confidence.shape != correct.shape:
            raise BVMValueError(
                f'{confidence.size} confidences but {correct.size} outcomes'
            )
        if confidence.size and (confidence.min() < 0 or confidence.max() > 1):
            raise BVMValueError(
                f'confidences from {confidence.min():g} to {confidence.max():g}: '
                'expected 0 to 1'
            )
        bins = np.minimum((confidence * BINS).astype(np.int64), BINS - 1)
        self.pixels += np.bincount(bins, minlength=BINS)
        self.confidence += np.bincount(bins, weights=confidence, minlength=BINS)
        self.correct += np.bincount(bins, weights=correct, minlength=BINS)

    def __iadd__(self, other: Reliability) -> Reliability:
        """Add another's pixels.

        Args:
            other: the other bins.

        Returns:
            This, with both.
        """
        self.pixels += other.pixels
        self.confidence += other.confidence
        self.correct += other.correct
        return self

    @property
    def total(self) -> int:
        """The pixels counted."""
        return int(self.pixels.sum())

    def ece(self) -> float:
        """The expected calibration error (NaN without pixels).

        Returns:
            ``Σ n_b / N |accuracy_b - confidence_b|`` over the bins.
        """
        if self.total == 0:
            return float('nan')
        gap = np.abs(self.correct - self.confidence)  # n_b |acc_b - conf_b|
        return float(gap.sum() / self.total)

    def accuracy(self) -> float:
        """The share of the pixels that are right (NaN without pixels).

        Returns:
            The share.
        """
        return float(self.correct.sum() / self.total) if self.total else float('nan')

    def mean_confidence(self) -> float:
        """The pixels' mean confidence (NaN without pixels).

        Returns:
            The mean.
        """
        return float(self.confidence.sum() / self.total) if self.total else float('nan')

    def frame(self) -> pd.DataFrame:
        """The bins as a table.

        Returns:
            One row per bin: ``low``, ``high``, ``pixels``, ``confidence``
            (their mean) and ``accuracy`` (NaN in an empty bin).
        """
        with np.errstate(invalid='ignore', divide='ignore'):
            return pd.DataFrame(
                {
                    'low': np.arange(BINS) / BINS,
                    'high': np.arange(1, BINS + 1) / BINS,
                    'pixels': self.pixels.astype(np.int64),
                    'confidence': np.where(
                        self.pixels > 0, self.confidence / self.pixels, np.nan
                    ),
                    'accuracy': np.where(
                        self.pixels > 0, self.correct / self.pixels, np.nan
                    ),
                }
            )


def softmax(logits: NDArray[np.floating], axis: int = -1) -> NDArray[np.float64]:
    """The softmax along an axis, computed stably.

    Args:
        logits: the logits.
        axis: the class axis.

    Returns:
        Probabilities that add up to one along ``axis``.
    """
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum(axis=axis, keepdims=True)
    return result


def _slope(
    beta: float, logits: NDArray[np.float64], target: NDArray[np.float64]
) -> float:
    """The derivative of the mean NLL in ``beta = 1 / T``."""
    probabilities = softmax(beta * logits)
    return float(np.mean((probabilities * logits).sum(axis=1) - target))


def fit_temperature(
    logits: NDArray[np.floating], labels: NDArray[np.integer], iterations: int = 60
) -> float:
    """The temperature that makes held-out probabilities most likely.

    Args:
        logits: ``[N, C]`` the network's logits of held-out pixels.
        labels: ``[N]`` their classes.
        iterations: bisection steps (each halves the interval of ``log 1/T``).

    Returns:
        ``T`` (probabilities are ``softmax(logits / T)``), 1.0 without pixels;
        within 0.01 to 100.

    Raises:
        BVMValueError: if the shapes disagree or a label is not a class.
    """
    values = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if values.ndim != 2 or labels.shape != (len(logits),):
        raise BVMValueError(
            f'logits {values.shape} and labels {labels.shape}: expected [N, C] and [N]'
        )
    if not len(labels):
        return 1.0
    if labels.min() < 0 or labels.max() >= values.shape[1]:
        raise BVMValueError(
            f'labels from {labels.min()} to {labels.max()}: expected classes 0 to '
            f'{values.shape[1] - 1}'
        )
    target = values[np.arange(len(labels)), labels]
    low, high = np.log(_BETA_RANGE[0]), np.log(_BETA_RANGE[1])
    if _slope(float(np.exp(high)), values, target) <= 0:
        return 1 / _BETA_RANGE[1]
    if _slope(float(np.exp(low)), values, target) >= 0:
        return 1 / _BETA_RANGE[0]
    for _ in range(iterations):
        middle = (low + high) / 2
        if _slope(float(np.exp(middle)), values, target) > 0:
            high = middle
        else:
            low = middle
    return float(1 / np.exp((low + high) / 2))


def confidence_table(
    codes: NDArray[np.integer],
    correct: NDArray[np.bool_],
    classes: NDArray[np.integer] | None = None,
    num_classes: int = NUM_CLASSES,
) -> NDArray[np.float64]:
    """The calibrated probability of each confidence code, per predicted class.

    Args:
        codes: held-out pixels' confidence codes, 0..250 (probability x 250).
        correct: whether each pixel's class is right.
        classes: each pixel's predicted class (None: one table for all).
        num_classes: the classes a table is made for.

    Returns:
        ``[num_classes, 251]``: for each class and code, the probability that
        a pixel of that class and confidence is right, non-decreasing in the
        code (:func:`isotonic_table`); a class with fewer than
        :data:`CLASS_PIXELS` pixels gets the table of all pixels.

    Raises:
        BVMValueError: if a code lies outside 0..250, a class outside the
            classes, or the shapes differ.
    """
    codes = np.asarray(codes).ravel()
    right = np.asarray(correct, dtype=bool).ravel()
    if codes.shape != right.shape:
        raise BVMValueError(f'{codes.size} confidence codes but {right.size} outcomes')
    pooled = isotonic_table(codes, right)
    tables = np.tile(pooled, (num_classes, 1))
    if classes is None:
        return tables
    predicted = np.asarray(classes).ravel()
    if predicted.shape != codes.shape:
        raise BVMValueError(
            f'{codes.size} confidence codes but {predicted.size} classes'
        )
    if predicted.size and (predicted.min() < 0 or predicted.max() >= num_classes):
        raise BVMValueError(
            f'classes from {predicted.min()} to {predicted.max()}: expected 0 to '
            f'{num_classes - 1}'
        )
    counts = np.bincount(predicted, minlength=num_classes)
    for c in np.flatnonzero(counts >= CLASS_PIXELS):
        own = predicted == c
        tables[c] = isotonic_table(codes[own], right[own])
    return tables


def isotonic_table(
    codes: NDArray[np.integer], correct: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """The non-decreasing calibrated probability of each confidence code.

    Args:
        codes: pixels' confidence codes, 0..250.
        correct: whether each pixel is right.

    Returns:
        ``[251]``, by isotonic regression (pool-adjacent-violators) of the
        outcomes on the codes; codes no pixel had take the value of the
        nearest code below (or above, below the first). Without pixels, the
        identity (``code / 250``).

    Raises:
        BVMValueError: if a code lies outside 0..250.
    """
    codes = np.asarray(codes).ravel()
    right = np.asarray(correct, dtype=bool).ravel()
    if not codes.size:
        return np.arange(CODES) / (CODES - 1)
    if codes.min() < 0 or codes.max() >= CODES:
        raise BVMValueError(
            f'confidence codes from {codes.min()} to {codes.max()}: expected 0 to '
            f'{CODES - 1}'
        )
    pixels = np.bincount(codes, minlength=CODES).astype(np.float64)
    hits = np.bincount(codes, weights=right, minlength=CODES)
    seen = np.flatnonzero(pixels)
    fitted = _pool_adjacent_violators(hits[seen] / pixels[seen], pixels[seen])
    # A step function: every code takes the fit of the last seen code at or
    # below it (the first seen code's below all of them).
    position = np.searchsorted(seen, np.arange(CODES), side='right') - 1
    table: NDArray[np.float64] = fitted[np.maximum(position, 0)]
    return table


def _pool_adjacent_violators(
    values: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The weighted least-squares non-decreasing fit of ``values``."""
    means: list[float] = []
    sizes: list[float] = []
    lengths: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        sizes.append(weight)
        lengths.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            weight_sum = sizes[-2] + sizes[-1]
            merged = (means[-2] * sizes[-2] + means[-1] * sizes[-1]) / weight_sum
            means[-2:] = [merged]
            sizes[-2:] = [weight_sum]
            lengths[-2:] = [lengths[-2] + lengths[-1]]
    return np.repeat(np.asarray(means), lengths)


def plot_reliability(
    curves: Mapping[str, Reliability], path: str | Path, title: str
) -> Path:
    """Draw a reliability diagram: accuracy against confidence, per bin.

    Each curve is a line of the bins' accuracy at their mean confidence, with
    its expected calibration error in the legend; the diagonal is perfect
    calibration; below, the share of pixels per bin.

    Args:
        curves: name -> bins (e.g. ``'before'`` and ``'after'`` calibration).
        path: the PNG to write.
        title: the figure's title.

    Returns:
        ``path``.
    """
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(6.0, 7.0),
        height_ratios=(3, 1),
        sharex=True,
        layout='constrained',
    )
    top.plot([0, 1], [0, 1], color='0.6', linestyle='--', label='perfectly calibrated')
    width = 1 / BINS / (len(curves) + 1)
    for index, (name, bins) in enumerate(curves.items()):
        table = bins.frame()
        seen = table['pixels'] > 0
        top.plot(
            table['confidence'][seen],
            table['accuracy'][seen],
            marker='o',
            label=f'{name}: ECE {bins.ece():.3f}',
        )
        share = table['pixels'] / max(bins.total, 1)
        bottom.bar(
            table['low'] + (index + 0.5) * width,
            share,
            width=width,
            align='edge',
            label=name,
        )
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel('accuracy of the pixels in the bin')
    top.set_title(title)
    top.legend(loc='upper left', fontsize='small')
    top.grid(alpha=0.3)
    bottom.set_xlabel(f'confidence ({BINS} bins)')
    bottom.set_ylabel('share of pixels')
    bottom.legend(fontsize='small')
    save_figure(figure, path, dpi=120)
    return Path(path)
