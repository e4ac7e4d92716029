import numpy as np
import pandas as pd

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.maps.ranking import (
    EVIDENCE_STEPS,
    PRIOR_PIXELS,
    class_typical,
    disagreement_extent,
    evidence_weight,
    excess_disagreement,
    ranking_score,
    step_scores,
    years_since_mapping,
)


def test_the_typical_probability_is_the_median_of_the_class() -> None:
    probability = np.array([0.1, 0.9, 0.5, np.nan, 0.2, 0.7])
    classes = np.array([1, 1, 1, 1, 3, IGNORE_INDEX])
    typical = class_typical(probability, classes)
    np.testing.assert_allclose(typical[:5], [0.5, 0.5, 0.5, 0.5, 0.2])
    assert np.isnan(typical[5])


def test_the_excess_is_the_drop_below_the_typical_shrunk_by_the_evidence() -> None:
    p = np.array([0.1, 0.5, 0.9, 0.0])
    m = np.array([0.5, 0.5, 0.5, 0.02])
    np.testing.assert_allclose(excess_disagreement(p, m), [0.4, 0.0, -0.4, 0.02])
    # Ten pixels weigh as much as the prior: halfway to the typical.
    shrunk = excess_disagreement(np.array([0.1]), np.array([0.5]), np.array([10.0]))
    np.testing.assert_allclose(shrunk, [0.2])
    assert PRIOR_PIXELS == 10.0


def test_years_since_mapping_and_the_score() -> None:
    mapped = np.array([2000, 2019, 2020, 2022, np.nan])
    years = years_since_mapping(mapped, 2020)
    np.testing.assert_allclose(years[:4], [20, 1, 0.5, 0])
    assert np.isnan(years[4])
    assert np.isnan(years_since_mapping(mapped, None)).all()
    excess = np.array([0.5, 0.5, 0.5, 0.5, -0.2])
    extent = np.array([1.0, 0.5, 1.0, 1.0, 1.0])
    # The unknown year takes the median of the known ones (0.75); no excess,
    # no score.
    np.testing.assert_allclose(
        ranking_score(excess, extent, years), [10, 0.25, 0.25, 0, 0]
    )
    np.testing.assert_allclose(
        ranking_score(excess, extent, np.full(5, np.nan)), [0.5, 0.25, 0.5, 0.5, 0]
    )
    # The extent is the disagreeing share, shrunk towards the class's typical.
    np.testing.assert_allclose(
        disagreement_extent(np.array([0.2]), np.array([0.8]), np.array([30.0])),
        [1 - (30 * 0.2 + 10 * 0.8) / 40],
    )


def test_evidence_weight_counts_pixel_observations_against_the_usual() -> None:
    pixels = np.array([10.0, 10.0, 10.0, 0.0])
    observations = np.array([1.0, 3.0, np.nan, np.nan])
    # The usual count is the median of the known ones, 2.
    np.testing.assert_allclose(
        evidence_weight(pixels, observations), [5.0, 15.0, 10.0, 0.0]
    )
    np.testing.assert_allclose(evidence_weight(pixels, np.full(4, np.nan)), pixels)


def test_each_step_adds_one_kind_of_evidence() -> None:
    table = pd.DataFrame(
        {
            'pixels': [40, 40],
            'agreement': [0.25, 0.5],
            'confidence': [0.8, 0.6],
            'bvm_class': [2, 2],
            'bvm_probability': [0.2, 0.4],
            'class_typical': [0.3, 0.3],
            'observations': [2.0, 2.0],
            'years_since_mapping': [10.0, 2.0],
        }
    )
    steps = step_scores(table)
    assert list(steps) == list(EVIDENCE_STEPS)
    size = 40 / 50
    np.testing.assert_allclose(
        steps[EVIDENCE_STEPS[0]], [0.75 * 0.8 * size, 0.5 * 0.6 * size]
    )
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[1]], [0.8 * size, 0.6 * size])
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[2]], [0.1 * size, 0.0])
    shrunk = np.array([(40 * 0.2 + 3) / 50, (40 * 0.4 + 3) / 50])
    expected = np.maximum(0.3 - shrunk, 0)
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[3]], expected)
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[4]], expected)  # usual counts
    # The class's typical agreement is the median of 0.25 and 0.5.
    extent = 1 - (40 * np.array([0.25, 0.5]) + 10 * 0.375) / 50
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[5]], expected * extent)
    np.testing.assert_allclose(steps[EVIDENCE_STEPS[6]], expected * extent * [10, 2])
    assert steps[EVIDENCE_STEPS[6]][0] > 0
