import subprocess
import sys

import geopandas as gpd
import pyogrio
import pytest

from torchgeo_bvm.cli import main


def test_grid_gpkg_with_split(tmp_path, capsys) -> None:
    out = tmp_path / 'kbl4.gpkg'
    assert main(['grid', '--level', 'kbl4', '--split', '--out', str(out)]) == 0
    assert 'wrote 172 kbl4 sheets' in capsys.readouterr().out
    frame = gpd.read_file(out)
    assert frame.crs.to_epsg() == 31370
    assert list(frame.columns) == ['CODE', 'split', 'geometry']
    assert frame['split'].value_counts().to_dict() == {
        'train': 86,
        'val': 43,
        'test': 43,
    }
    row = frame[frame['CODE'] == '15/3-4'].iloc[0]
    assert row['split'] == 'val'
    assert row.geometry.bounds == (146000, 208000, 162000, 218000)
    assert [p.name for p in tmp_path.iterdir()] == ['kbl4.gpkg']


def test_grid_kbl_names_and_crs(tmp_path) -> None:
    out = tmp_path / 'kbl.geojson'
    assert (
        main(['grid', '--out', str(out), '--crs', 'EPSG:4326', '--sheets', '22,15'])
        == 0
    )
    frame = gpd.read_file(out)
    assert frame['CODE'].tolist() == ['15', '22']
    assert frame['NAAM'].tolist() == ['Antwerpen', 'Gent']
    assert frame.crs.to_epsg() == 4326
    assert 'split' not in frame.columns


def test_grid_shapefile_kbl16(tmp_path) -> None:
    out = tmp_path / 'sheets' / 'Kbl16.shp'
    assert (
        main(
            ['grid', '--level', 'kbl16', '--sheets', '2', '--split', '--out', str(out)]
        )
        == 0
    )
    info = pyogrio.read_info(out)
    assert info['features'] == 16
    assert sorted(p.suffix for p in out.parent.iterdir()) == [
        '.cpg',
        '.dbf',
        '.prj',
        '.shp',
        '.shx',
    ]
    frame = gpd.read_file(out)
    assert frame.set_index('CODE').loc['2/7N', 'split'] == 'test'


def test_grid_plot(tmp_path) -> None:
    png = tmp_path / 'split.png'
    assert (
        main(
            [
                'grid',
                '--level',
                'kbl4',
                '--out',
                str(tmp_path / 'g.gpkg'),
                '--plot',
                str(png),
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'split' not in gpd.read_file(tmp_path / 'g.gpkg').columns


def test_grid_errors(tmp_path, capsys) -> None:
    assert main(['grid', '--out', str(tmp_path / 'x.csv')]) == 2
    err = capsys.readouterr().err
    assert 'torchgeo-bvm grid: error: ' in err
    assert "unknown output format '.csv'" in err
    assert main(['grid', '--out', str(tmp_path / 'x.gpkg'), '--sheets', '44']) == 2
    assert "invalid map sheet code '44'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['grid', '--level', 'kbl2', '--out', str(tmp_path / 'x.gpkg')])
    assert list(tmp_path.iterdir()) == []


def test_console_script_help() -> None:
    result = subprocess.run(
        [sys.executable, '-m', 'torchgeo_bvm.cli', 'grid', '--help'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '--level {kbl,kbl4,kbl8,kbl16}' in result.stdout
