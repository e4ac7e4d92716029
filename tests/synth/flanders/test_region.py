from datetime import datetime
from itertools import pairwise

import pytest

from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.synth.flanders import (
    DATES,
    DEFAULT_SIZE,
    SEASON_DATES,
    SEASON_YEAR,
    SIZES,
    TARGET_SHARES,
)


def test_target_shares_follow_the_paper() -> None:
    assert sum(TARGET_SHARES.values()) == pytest.approx(1.0, abs=0.002)
    assert TARGET_SHARES['Cultivated land'] == pytest.approx(0.3384, abs=1e-4)
    assert TARGET_SHARES['Unknown'] == 0.0005  # raised to the floor


def test_dates_span_seasons_and_years() -> None:
    months = {d[5:7] for d, _ in DATES}
    years = {d[:4] for d, _ in DATES}
    assert len(DATES) >= 4
    assert len(months) == len(DATES)
    assert len(years) >= 2
    assert {p for _, p in DATES} <= {'S2A', 'S2B', 'S2C'}


def test_every_size_is_centred_on_the_corner_of_sheet_22s_quarters() -> None:
    corner = Sheet.parse('22/1-2').bounds[2], Sheet.parse('22/1-2').bounds[1]
    for size in SIZES.values():
        xmin, ymin, xmax, ymax = size.bounds
        assert ((xmin + xmax) / 2, (ymin + ymax) / 2) == corner
        assert size.pixels == (round((ymax - ymin) / 10), round((xmax - xmin) / 10))
        assert [s.code for s in size.kbl_sheets()] == ['22']
    assert SIZES['tiny'].pixels == (200, 320)
    assert SIZES['tiny'].bounds == (112_400.0, 187_000.0, 115_600.0, 189_000.0)
    assert DEFAULT_SIZE == 'demo'


def test_season_is_three_passes_a_month_of_one_orbit() -> None:
    assert SEASON_YEAR == 2022
    assert len(SEASON_DATES) == 36
    days = [datetime.fromisoformat(sensing) for sensing, _ in SEASON_DATES]
    assert days == sorted(days)
    assert {d.year for d in days} == {2022}
    for month in range(1, 13):
        assert sum(d.month == month for d in days) == 3
    # Every date is a pass of the orbit of 2021-06-14 (S2B), every 5 days,
    # flown by S2B and S2A in turn; 10 days apart but once.
    orbit = datetime.fromisoformat(DATES[-1][0])
    assert DATES[-1][1] == 'S2B'
    for day, (_, platform) in zip(days, SEASON_DATES, strict=True):
        passes, rest = divmod((day - orbit).total_seconds(), 5 * 86400)
        assert rest == 0
        assert platform == ('S2B' if passes % 2 == 0 else 'S2A')
    gaps = [(b - a).days for a, b in pairwise(days)]
    assert gaps.count(10) == 34
    assert gaps.count(15) == 1
    assert SEASON_DATES[0] == ('2022-01-05T10:46:19', 'S2A')
    assert SEASON_DATES[-1] == ('2022-12-26T10:46:19', 'S2B')
    assert [p for _, p in SEASON_DATES].count('S2A') == 24
