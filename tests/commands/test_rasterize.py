from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.datasets.test_bvm import EXPECTED, X0, Y0, write_hand_fixture
from torchgeo_bvm.cli import main


@pytest.fixture
def hand_zip(tmp_path: Path) -> Path:
    return write_hand_fixture(tmp_path / 'BWK_2023_Shapefile.zip')


def test_rasterize_command(
    hand_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'labels.tif'
    argv = [
        'rasterize',
        '--bvm',
        str(hand_zip),
        '--out',
        str(out),
        '--crs',
        'EPSG:31370',
        '--res',
        '10',
        '--quiet',
    ]
    assert main(argv) == 0
    assert f'wrote {out}' in capsys.readouterr().out
    with rasterio.open(out) as src:
        assert src.transform == rasterio.transform.from_origin(X0, Y0 + 100, 10, 10)
        np.testing.assert_array_equal(src.read(1), EXPECTED[:, :17])


def test_rasterize_command_two_resolutions_and_sheets(
    hand_zip: Path, tmp_path: Path
) -> None:
    out = tmp_path / 'sheet.tif'
    argv = [
        'rasterize',
        '--bvm',
        str(hand_zip),
        '--out',
        str(out),
        '--crs',
        'EPSG:31370',
        '--res',
        '20',
        '10',
        '--sheets',
        '14/5',
        '--quiet',
    ]
    assert main(argv) == 0
    with rasterio.open(out) as src:
        assert src.res == (20.0, 10.0)
        assert (src.width, src.height) == (400, 1000)


@pytest.mark.parametrize(
    ('extra', 'message'),
    [
        (['--crs', 'EPSG:4326', '--like', 'ref.tif'], '--like takes the CRS'),
        (['--res', '1', '2', '3'], '--res takes one or two values (x, then y), got 3'),
        (['--label-field', 'Label'], "no field 'Label'; the layer has the fields UIDN"),
        (['--layer', 'Other'], "no shapefile 'Other'"),
        (['--mapping', 'missing.csv'], 'mapping table not found'),
    ],
)
def test_rasterize_command_errors(
    hand_zip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    argv = [
        'rasterize',
        '--bvm',
        str(hand_zip),
        '--out',
        str(tmp_path / 'x.tif'),
        '--quiet',
        *extra,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('torchgeo-bvm rasterize: error: ')
    assert message in err
    assert not (tmp_path / 'x.tif').exists()


def test_rasterize_command_missing_bvm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        'rasterize',
        '--bvm',
        str(tmp_path / 'BwkHab.shp'),
        '--out',
        str(tmp_path / 'x.tif'),
    ]
    assert main(argv) == 2
    assert 'BwkHab.shp not found' in capsys.readouterr().err
