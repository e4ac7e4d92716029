import numpy as np
import pytest

from torchgeo_bvm.classes import CLASS_NAMES
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.synth.flanders.changes import (
    CHANGE_SHARE,
    LAST_YEAR,
    TRANSITIONS,
    draw_changes,
    split_count,
    version_years,
)
from torchgeo_bvm.synth.flanders.kinds import KIND, KINDS

_VERSIONS = np.array([1997, 2003, 2009, 2014, 2016, 2018, 2020, 2022])


def _layer(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = ['arable', 'grass', 'heath', 'wood', 'poplar', 'urban', 'hedge']
    kinds = np.array([KIND[k] for k in rng.choice(names, n)], dtype=np.int64)
    return kinds, rng.choice(_VERSIONS, n).astype(np.int64)


def test_the_transitions_share_all_changes_and_change_the_class() -> None:
    assert sum(t.share for t in TRANSITIONS) == pytest.approx(1.0)
    for transition in TRANSITIONS:
        new = KINDS[transition.target][0]
        assert all(KINDS[source][0] != new for source in transition.sources)
    assert CHANGE_SHARE == 0.03
    assert LAST_YEAR == 2022


def test_each_transition_takes_its_share_of_polygons_of_its_kinds() -> None:
    kinds, mapped = _layer(20_000)
    changes = draw_changes(kinds, mapped, seed=3)
    total = round(CHANGE_SHARE * 20_000)
    assert changes.counts() == {t.name: round(t.share * total) for t in TRANSITIONS}
    assert len(changes) == total
    assert np.array_equal(changes.rows, np.unique(changes.rows))  # sorted, once
    for row, new, which in zip(
        changes.rows, changes.new_kinds, changes.transitions, strict=True
    ):
        transition = TRANSITIONS[which]
        assert kinds[row] in [KIND[k] for k in transition.sources]
        assert new == KIND[transition.target]
    names = [KINDS[k][0] for k in ('arable', 'grass', 'urban', 'scrub')]
    assert set(CLASS_NAMES[c] for c in changes.true_classes()) <= set(names)


def test_a_change_comes_after_the_mapping_and_by_the_last_year() -> None:
    kinds, mapped = _layer(20_000)
    changes = draw_changes(kinds, mapped, seed=1)
    before = mapped[changes.rows]
    assert (changes.years > before).all()
    assert (changes.years <= LAST_YEAR).all()
    assert LAST_YEAR not in before  # a record of the last year is up to date
    # Uniform among the years after the mapping: on average halfway.
    position = (changes.years - before - 0.5) / (LAST_YEAR - before)
    assert position.mean() == pytest.approx(0.5, abs=0.03)


def test_older_records_change_more_often_in_proportion_to_their_age() -> None:
    kinds = np.full(40_000, KIND['grass'], dtype=np.int64)
    mapped = np.repeat(np.array([1997, 2018]), 20_000).astype(np.int64)
    changes = draw_changes(kinds, mapped, seed=2, share=0.02)
    old = int((mapped[changes.rows] == 1997).sum())
    recent = int((mapped[changes.rows] == 2018).sum())
    # Chosen with a chance proportional to 25 and 4 years.
    assert old / recent == pytest.approx(25 / 4, rel=0.2)


def test_the_same_seed_draws_the_same_changes() -> None:
    kinds, mapped = _layer(5_000)
    first, again = draw_changes(kinds, mapped, 7), draw_changes(kinds, mapped, 7)
    other = draw_changes(kinds, mapped, 8)
    assert np.array_equal(first.rows, again.rows)
    assert np.array_equal(first.years, again.years)
    assert not np.array_equal(first.rows, other.rows)


def test_no_share_no_change_and_a_share_out_of_range_is_refused() -> None:
    kinds, mapped = _layer(1_000)
    assert len(draw_changes(kinds, mapped, 0, share=0.0)) == 0
    with pytest.raises(BVMValueError, match=r'change share 0\.6: expected 0 to 0\.5'):
        draw_changes(kinds, mapped, 0, share=0.6)


def test_version_years_read_the_tag() -> None:
    assert version_years(['569340_v2014', '1_v1997']).tolist() == [2014, 1997]
    with pytest.raises(BVMValueError, match=r"TAG '569340': expected a polygon id"):
        version_years(['569340'])


def test_split_count_adds_up_and_gives_the_rest_to_the_largest_remainders() -> None:
    shares = [t.share for t in TRANSITIONS]
    assert split_count(101, shares) == [36, 25, 15, 15, 10]
    assert split_count(600, shares) == [210, 150, 90, 90, 60]
    assert split_count(0, shares) == [0, 0, 0, 0, 0]
    assert split_count(7, [0.5, 0.5]) == [4, 3]
