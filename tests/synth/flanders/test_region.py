import pytest

from torchgeo_bvm.sheets import Sheet
from torchgeo_bvm.synth.flanders import DATES, DEFAULT_SIZE, SIZES, TARGET_SHARES


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
