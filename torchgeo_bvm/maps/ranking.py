r"""Which BVM polygons are most probably out of date: the evidence and the score.

:func:`~torchgeo_bvm.maps.compare.compare_with_bvm` ranks the BVM polygons a
fused map covers by how strongly the evidence a user has says that the
polygon's record no longer holds. The evidence, per polygon ``i`` whose BVM
class is ``c``:

* ``p`` (``bvm_probability``): the mean calibrated probability the map gives
  class ``c`` over the polygon's pixels (from the map's ``_probabilities``
  raster; without one, the share of its pixels the map puts in ``c``);
* ``m`` (``class_typical``): the median ``p`` of the map's polygons of class
  ``c``: how the map usually sees polygons of that class. A class the model
  never learnt to see has a small ``m``, and a small ``p`` there is no
  evidence of change;
* ``n``: the polygon's counted pixels, and ``k`` (``observations``) their mean
  number of clear observations;
* ``a`` (``years_since_mapping``): the years between the polygon's mapping
  (the version year of its ``TAG``, ``569340_v2014``) and the map's year.

**Score.** The polygon's probability is shrunk towards its class's typical
one by its evidence, ``w = n k / k̄`` pixel-observations (``k̄`` the median
``k`` of the polygons; one pixel seen on as many dates as usual counts one)
against :data:`PRIOR_PIXELS`; what is left of the drop below the typical is
the **excess disagreement**, and the share of the polygon the map puts in
another class, shrunk the same way towards the class's typical share, its
**extent**:

.. math::

   \tilde p = \frac{w p + w_0 m}{w + w_0}, \qquad e = m - \tilde p, \qquad
   x = 1 - \frac{w s + w_0 m_s}{w + w_0}

(``s`` the share of the polygon's pixels the map puts in its BVM class,
``m_s`` its class's median). ``e`` (``excess_disagreement``) is how much more
of the polygon's probability the map gives other classes than it gives on a
typical polygon of class ``c``: 0 for a typical polygon, up to ``m`` where the
map sees none of ``c``. A class the map never learnt to see (``m`` near 0)
can show no excess, and a small polygon (mixed edge pixels, few pixels) or
one seen on few clear dates moves little from the typical. ``x``
(``disagreement_extent``) is how much of the land the map says is something
else: a change turns the ground of the polygon into another class, while a
map that only hesitates keeps its class. With a constant yearly chance ``h``
of a change, the odds that a record mapped ``a`` years ago is out of date are
about ``h a``, so the prior odds grow with ``a`` and

.. math::

   \text{score} = a \cdot \max(e, 0) \cdot x

ranks by the evidence weighted by that prior (the unknown ``h`` only scales
every score alike). A record of the map's own year counts half a year, one
newer than the map zero (the survey saw more recent ground than the
imagery). Without a map year, ``a`` is left out. Nothing is fitted: ``w0``
is fixed and the medians come from the map itself.

:data:`EVIDENCE_STEPS` names the steps the score was built from, each
measured on the demo against the mini-Flanders' truth (``benchmarks/RESULTS.md``);
:func:`step_scores` recomputes the score of each step from the polygon table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..classes import IGNORE_INDEX, NUM_CLASSES

__all__ = [
    'EVIDENCE_STEPS',
    'PRIOR_PIXELS',
    'class_typical',
    'disagreement_extent',
    'evidence_weight',
    'excess_disagreement',
    'ranking_score',
    'step_scores',
    'years_since_mapping',
]

#: Pixel-observations of the class's typical probability that a polygon's own
#: evidence is weighed against (the evidence of 10 pixels, 0.1 ha at 10 m).
PRIOR_PIXELS = 10.0

#: The steps of the ranking, each adding one kind of evidence to the last.
EVIDENCE_STEPS = (
    'disagreement x confidence x size (the previous score)',
    '+ calibrated probability of the BVM class',
    '+ how the map sees the class (excess over its typical polygon)',
    '+ polygon size (shrunk towards the typical)',
    '+ clear observations',
    '+ extent of the disagreement',
    '+ years since mapping',
)


def class_typical(
    probability: NDArray[np.float64], bvm_class: NDArray[np.integer]
) -> NDArray[np.float64]:
    """The median probability of each polygon's BVM class among its class's polygons.

    Args:
        probability: per polygon, the mean probability of its BVM class (NaN
            where it has no pixel).
        bvm_class: per polygon, its BVM class (IGNORE_INDEX: none).

    Returns:
        Per polygon, the median over the polygons of its class with a
        probability (NaN where there is none).
    """
    typical = np.full(len(probability), np.nan)
    for c in range(NUM_CLASSES):
        rows = bvm_class == c
        known = rows & ~np.isnan(probability)
        if known.any():
            typical[rows] = float(np.median(probability[known]))
    return typical


def excess_disagreement(
    probability: NDArray[np.float64],
    typical: NDArray[np.float64],
    weight: NDArray[np.float64] | None = None,
    prior: float = PRIOR_PIXELS,
) -> NDArray[np.float64]:
    """How much more the map doubts each polygon's class than a typical one's.

    Args:
        probability: ``p``, the polygon's mean probability of its class.
        typical: ``m``, its class's typical probability.
        weight: ``w``, its evidence in pixel-observations (None: no shrinkage).
        prior: ``w0``, the weight of the typical probability.

    Returns:
        ``e = m - p̃`` (see the module); NaN where ``p`` or ``m`` is.
    """
    if weight is None:
        shrunk = probability
    else:
        shrunk = (weight * probability + prior * typical) / (weight + prior)
    excess: NDArray[np.float64] = typical - shrunk
    return excess


def years_since_mapping(
    mapped: NDArray[np.float64], year: int | None
) -> NDArray[np.float64]:
    """Years between each polygon's mapping and the map, as the score counts them.

    Args:
        mapped: the version year of each polygon's ``TAG`` (NaN: unknown).
        year: the map's year (None: unknown).

    Returns:
        ``year - mapped`` where positive, 0.5 in the map's own year, 0 for a
        record newer than the map; NaN where the mapping year is unknown; all
        NaN without a map year.
    """
    if year is None:
        return np.full(len(mapped), np.nan)
    elapsed = year - np.asarray(mapped, dtype=np.float64)
    result: NDArray[np.float64] = np.where(
        elapsed > 0, elapsed, np.where(elapsed == 0, 0.5, 0.0)
    )
    return np.where(np.isnan(elapsed), np.nan, result)


def ranking_score(
    excess: NDArray[np.float64],
    extent: NDArray[np.float64],
    years: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The score: years since mapping x the excess disagreement x its extent.

    Args:
        excess: ``e`` per polygon (:func:`excess_disagreement`).
        extent: ``x`` per polygon (:func:`disagreement_extent`).
        years: years since mapping (:func:`years_since_mapping`); where NaN
            (unknown), the median of the known years, or 1 if none is known.

    Returns:
        ``a max(e, 0) x`` (NaN where ``e`` or ``x`` is).
    """
    known = ~np.isnan(years)
    fill = float(np.median(years[known])) if known.any() else 1.0
    score: NDArray[np.float64] = (
        np.maximum(excess, 0.0) * extent * np.where(known, years, fill)
    )
    return score


def disagreement_extent(
    agreement: NDArray[np.float64],
    typical: NDArray[np.float64],
    weight: NDArray[np.float64],
    prior: float = PRIOR_PIXELS,
) -> NDArray[np.float64]:
    """The share of each polygon the map puts in another class, shrunk.

    Args:
        agreement: ``s``, the share of the polygon's pixels in its BVM class.
        typical: ``m_s``, the median share of its class's polygons.
        weight: ``w``, its evidence in pixel-observations.
        prior: ``w0``, the weight of the typical share.

    Returns:
        ``x = 1 - (w s + w0 m_s) / (w + w0)``.
    """
    shrunk = (weight * agreement + prior * typical) / (weight + prior)
    extent: NDArray[np.float64] = 1.0 - shrunk
    return extent


def step_scores(table: pd.DataFrame) -> dict[str, NDArray[np.float64]]:
    """The score after each of :data:`EVIDENCE_STEPS`, from a comparison's columns.

    Args:
        table: the ranked polygons, with the columns ``agreement``,
            ``confidence``, ``pixels``, ``bvm_class``, ``bvm_probability``,
            ``class_typical``, ``observations`` and ``years_since_mapping``
            (as :func:`~torchgeo_bvm.maps.compare.compare_with_bvm` writes
            them).

    Returns:
        Step name -> score per polygon (higher: more probably out of date).
    """
    pixels = table['pixels'].to_numpy(dtype=np.float64)
    agreement = table['agreement'].to_numpy(dtype=np.float64)
    confidence = table['confidence'].to_numpy(dtype=np.float64)
    probability = table['bvm_probability'].to_numpy(dtype=np.float64)
    typical = table['class_typical'].to_numpy(dtype=np.float64)
    observations = table['observations'].to_numpy(dtype=np.float64)
    years = table['years_since_mapping'].to_numpy(dtype=np.float64)
    classes = table['bvm_class'].to_numpy(dtype=np.float64)
    classes = np.where(np.isnan(classes), IGNORE_INDEX, classes).astype(np.int64)
    size = pixels / (pixels + PRIOR_PIXELS)
    sure = np.where(np.isnan(confidence), 1.0, confidence)
    weight = evidence_weight(pixels, observations)
    observed = np.maximum(excess_disagreement(probability, typical, weight), 0)
    extent = disagreement_extent(agreement, class_typical(agreement, classes), weight)
    steps = dict.fromkeys(EVIDENCE_STEPS, np.zeros(len(table)))
    previous, calibrated, excess, shrunk, counted, spread, aged = steps
    return {
        previous: (1 - agreement) * sure * size,
        calibrated: (1 - probability) * size,
        excess: np.maximum(excess_disagreement(probability, typical), 0) * size,
        shrunk: np.maximum(excess_disagreement(probability, typical, pixels), 0),
        counted: observed,
        spread: observed * extent,
        aged: ranking_score(observed, extent, years),
    }


def evidence_weight(
    pixels: NDArray[np.float64], observations: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each polygon's evidence in pixel-observations, relative to the usual.

    Args:
        pixels: its counted pixels ``n``.
        observations: their mean clear observations ``k`` (NaN: unknown).

    Returns:
        ``n k / k̄`` with ``k̄`` the median ``k`` of the polygons; ``n`` where
        ``k`` is unknown.
    """
    known = ~np.isnan(observations) & (pixels > 0)
    if not known.any():
        return np.asarray(pixels, dtype=np.float64)
    usual = float(np.median(observations[known]))
    if usual <= 0:
        return np.asarray(pixels, dtype=np.float64)
    relative = np.where(np.isnan(observations), 1.0, observations / usual)
    weight: NDArray[np.float64] = pixels * relative
    return weight
