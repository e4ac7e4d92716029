"""The options every subcommand shares are parsed one way, strictly."""

import pytest
from pyproj import CRS

from torchgeo_bvm.cli import main
from torchgeo_bvm.commands._options import (
    parse_crs,
    parse_integers,
    parse_kbl_numbers,
    parse_res,
    parse_sheets,
)


def test_parse_sheets_of_any_level() -> None:
    assert [s.code for s in parse_sheets('22/1-2, 22_3-4,,15/1n')] == [
        '22/1-2',
        '22/3-4',
        '15/1N',
    ]
    with pytest.raises(ValueError, match="--sheets: invalid map sheet code '22/9'"):
        parse_sheets('22/9')
    with pytest.raises(ValueError, match="--sheets ' , ' names no sheet"):
        parse_sheets(' , ')


def test_parse_kbl_numbers_never_widens_a_sub_sheet() -> None:
    assert parse_kbl_numbers('22,15,22') == [15, 22]
    with pytest.raises(
        ValueError,
        match=r'--sheets: expected 1:50,000 sheet numbers \(1\.\.43\), got 22/1-2: '
        'a kbl4 sheet code',
    ):
        parse_kbl_numbers('22/1-2')
    with pytest.raises(ValueError, match="--sheets '' names no sheet"):
        parse_kbl_numbers('')


def test_parse_integers_crs_and_res() -> None:
    assert parse_integers('2021, 2022,', '--years') == [2021, 2022]
    with pytest.raises(
        ValueError, match="--months: expected comma-separated whole numbers, got '4,x'"
    ):
        parse_integers('4,x', '--months')
    assert parse_crs('31370') == CRS.from_epsg(31370)
    with pytest.raises(ValueError, match="--crs: unknown CRS 'EPSG:99999'"):
        parse_crs('EPSG:99999')
    assert parse_res(None) is None
    assert parse_res([10.0]) == (10.0, 10.0)
    assert parse_res([1.0, 2.0]) == (1.0, 2.0)
    with pytest.raises(
        ValueError, match=r'--res takes one or two values \(x, then y\), got 3'
    ):
        parse_res([1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError, match=r'--res must be a finite number greater than 0, got 0\.0'
    ):
        parse_res([10.0, 0.0])


@pytest.mark.parametrize(
    'argv',
    [
        ['grid', '--sheets', '22/1-2'],
        ['stats', '--labels', 'labels.tif', '--sheets', '22/1-2'],
        ['stats', '--bands', 'rgb', '--sentinel2', 's2', '--sheets', '22/1-2'],
    ],
)
def test_sub_sheets_are_refused_where_whole_sheets_are_expected(
    argv: list[str], tmp_path, capsys
) -> None:
    out = tmp_path / ('grid.gpkg' if argv[0] == 'grid' else 'out')
    assert main([*argv, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'torchgeo-bvm {argv[0]}: error: --sheets: ')
    assert 'expected 1:50,000 sheet numbers (1..43), got 22/1-2: a kbl4' in err
    assert not out.exists()


def test_bad_shared_options_exit_2_naming_the_value(tmp_path, capsys) -> None:
    out = str(tmp_path / 'x')
    cases = [
        (['grid', '--crs', 'EPSG:99999', '--out', out + '.gpkg'], "unknown CRS"),
        (
            ['rasterize', '--bvm', out, '--out', out + '.tif', '--sheets', ''],
            "--sheets '' names no sheet",
        ),
        (
            ['download', '--out', out, '--sheets', '22/1-2', '--years', '22x'],
            "--years: expected comma-separated whole numbers, got '22x'",
        ),
        (
            ['download', '--out', out, '--sheets', '22/1-2', '--years', '2022',
             '--crs', 'nowhere', '--dry-run'],
            "--crs: unknown CRS 'nowhere'",
        ),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err, argv
        assert 'Traceback' not in err
    assert list(tmp_path.iterdir()) == []
