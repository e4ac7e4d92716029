from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchgeo_bvm.errors import BVMNotFoundError, BVMValueError
from torchgeo_bvm.maps.truth import describe_scores, read_changes, score_ranking


def _changes(tmp_path: Path) -> Path:
    path = tmp_path / 'changes.csv'
    path.write_text(
        'TAG,UIDN,bvm_class,true_class,change_year\n'
        'a_v2000,1,2,1,2010\n'
        'c_v2000,3,2,1,2015\n'
        'e_v2018,5,1,2,2021\n'
        'z_v2000,26,1,2,2012\n'  # not among the compared polygons
    )
    return path


def test_a_ranking_is_scored_against_the_changes_of_the_maps_year(
    tmp_path: Path,
) -> None:
    changes = read_changes(_changes(tmp_path))
    assert changes['change_year'].dtype == np.int64
    polygons = pd.DataFrame(
        {
            'TAG': ['c_v2000', 'b_v2000', 'e_v2018', 'a_v2000', 'd_v2000'],
            'rank': pd.array([1, 2, 3, 4, pd.NA], dtype='Int32'),
        }
    )
    scores = score_ranking(polygons, changes, 2020)
    # Changed by 2020 and compared: c (rank 1) and a (rank 4); e changed later.
    assert scores['relevant'] == 2
    assert scores['ranked'] == 4
    assert scores['P@10'] == 0.2
    assert scores['average precision'] == pytest.approx((1 / 1 + 2 / 4) / 2)
    assert scores['found in the top 5 %'] == 0.5  # the first of four
    assert scores['later'] == 1
    assert scores['listed'] == 4
    assert scores['random'] == 0.5
    lines = describe_scores(scores, 'changes.csv')
    assert lines[0] == (
        'against the truth (changes.csv, changes up to 2020): 2 of 4 ranked '
        'polygons changed (a random order scores about 0.500)'
    )
    assert lines[1].startswith(
        '  P@10 0.20, P@20 0.10, P@50 0.04, average precision 0.750'
    )
    assert lines[2].startswith('  1 compared polygons changed after 2020')
    every = score_ranking(polygons, changes, None)
    assert every['relevant'] == 3
    assert every['later'] == 0


def test_a_change_of_an_unranked_polygon_counts_as_missed(tmp_path: Path) -> None:
    changes = read_changes(_changes(tmp_path))
    polygons = pd.DataFrame(
        {'TAG': ['a_v2000', 'c_v2000'], 'rank': pd.array([pd.NA, 1], dtype='Int32')}
    )
    scores = score_ranking(polygons, changes, 2020)
    assert scores['relevant'] == 2
    assert scores['average precision'] == 0.5


def test_bad_truth_files(tmp_path: Path) -> None:
    with pytest.raises(BVMNotFoundError, match='truth file not found'):
        read_changes(tmp_path / 'none.csv')
    wrong = tmp_path / 'wrong.csv'
    wrong.write_text('TAG,year\na_v2000,2010\n')
    with pytest.raises(
        BVMValueError, match=r'wrong\.csv: no column change_year; a truth'
    ):
        read_changes(wrong)
    year = tmp_path / 'year.csv'
    year.write_text('TAG,change_year\na_v2000,2010\nb_v2000,soon\n')
    with pytest.raises(
        BVMValueError, match=r"change_year 'soon' \(row 3\) is not a year"
    ):
        read_changes(year)
