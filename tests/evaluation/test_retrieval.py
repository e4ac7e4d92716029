import numpy as np
import pytest

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.evaluation.retrieval import ranking_metrics


def test_precision_average_precision_and_the_top_share() -> None:
    relevant = np.zeros(100, dtype=bool)
    relevant[[0, 2, 9, 30]] = True
    metrics = ranking_metrics(relevant, total_relevant=5, depths=(1, 10, 20))
    assert metrics['P@1'] == 1.0
    assert metrics['P@10'] == 0.3
    assert metrics['P@20'] == 0.15
    # Precision at each relevant rank: 1/1, 2/3, 3/10, 4/31; the fifth is never ranked.
    assert metrics['average precision'] == pytest.approx(
        (1 + 2 / 3 + 3 / 10 + 4 / 31) / 5
    )
    assert metrics['found in the top 5 %'] == pytest.approx(2 / 5)  # ranks 1-5
    assert (metrics['relevant'], metrics['ranked'], metrics['random']) == (
        5,
        100,
        0.05,
    )


def test_a_perfect_ranking_scores_one_and_a_random_one_about_the_share() -> None:
    perfect = np.r_[np.ones(30, bool), np.zeros(970, bool)]
    assert ranking_metrics(perfect)['average precision'] == 1.0
    rng = np.random.default_rng(0)
    scores = [
        ranking_metrics(rng.permutation(perfect))['average precision']
        for _ in range(200)
    ]
    assert np.mean(scores) == pytest.approx(0.03, abs=0.015)


def test_nothing_relevant_and_bad_arguments() -> None:
    metrics = ranking_metrics([False, False])
    assert np.isnan(metrics['average precision'])
    assert metrics['P@10'] == 0.0
    with pytest.raises(BVMValueError, match='1 relevant items in all, but 2 in the'):
        ranking_metrics([True, True], total_relevant=1)
    with pytest.raises(BVMValueError, match='expected positive depths'):
        ranking_metrics([True], depths=(0,))
