import filecmp
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from shapely.geometry import Polygon

from tests.synth.flanders.reading import TINY
from torchgeo_bvm.sheets.codes import LEVELS
from torchgeo_bvm.sheets.official import compare_official, read_official
from torchgeo_bvm.synth.flanders import (
    DBF_DATE,
    MANIFEST_NAME,
    load_manifest,
    write_mini_flanders,
    write_refgew,
)


def test_manifest_lists_what_was_written(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    assert manifest == {
        **load_manifest(out),
        'reused': False,
        'seconds': manifest['seconds'],
    }
    assert manifest['complete'] is True
    assert (manifest['size'], manifest['seed']) == ('tiny', 0)
    assert manifest['region'] == list(TINY.bounds)
    assert manifest['sheets'] == {
        'kbl': [22],
        'kbl4': ['22/1-2', '22/3-4', '22/5-6', '22/7-8'],
    }
    assert manifest['dates'] == ['2020-04-18', '2020-07-27', '2020-10-05', '2021-06-14']
    for name, size in manifest['sizes'].items():
        assert (out / name).stat().st_size == size
    assert (out / manifest['overview']).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sum(manifest['pixels'].values()) == manifest['labelled_pixels']
    assert manifest['labelled_pixels'] + manifest['unlabelled_pixels'] == 320 * 200


@pytest.mark.parametrize('level', LEVELS)
def test_official_sheets_match_the_grid(
    tiny: tuple[Path, dict[str, Any]], level: str
) -> None:
    out, manifest = tiny
    path = out / manifest['kbl_files'][level]
    assert (
        path.name
        == {
            'kbl': 'Kbl.shp',
            'kbl4': 'Kbl4.shp',
            'kbl8': 'Kbl8.shp',
            'kbl16': 'Kbl16.shp',
        }[level]
    )
    assert compare_official(path, numbers=[22]) == []
    frame = read_official(path)
    assert {s.level for s in frame['sheet']} == {level}


def test_dbase_headers_carry_a_fixed_date(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, _ = tiny
    year, month, day = DBF_DATE
    dbfs = sorted(out.rglob('*.dbf'))
    assert len(dbfs) == 6
    official = bytes([2013 - 1900, 4, 22])  # synth.kbl.OFFICIAL_DBF_DATE
    for dbf in dbfs:
        expected = (
            official if dbf.parent.name == 'kbl' else bytes([year - 1900, month, day])
        )
        assert dbf.read_bytes()[1:4] == expected, dbf


def test_same_seed_gives_the_same_bytes(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = tiny
    again = write_mini_flanders(tmp_path / 'again', 'tiny', seed=0, plot=True)
    assert again['sizes'] == manifest['sizes']
    names = [*manifest['sizes'], MANIFEST_NAME]
    match, mismatch, errors = filecmp.cmpfiles(
        out, tmp_path / 'again', names, shallow=False
    )
    assert (mismatch, errors) == ([], [])
    assert len(match) == len(names)


def test_another_seed_gives_other_content(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = tiny
    other = write_mini_flanders(tmp_path / 'other', 'tiny', seed=1, plot=False)
    assert other['pixels'] != manifest['pixels']
    first = out / manifest['imagery']['products'][1]['path']
    second = tmp_path / 'other' / other['imagery']['products'][1]['path']
    (band,) = first.glob('*TOC-B08_10M_V210.tif')
    with rasterio.open(band) as a, rasterio.open(second / band.name) as b:
        assert a.shape == b.shape
        assert not np.array_equal(a.read(1), b.read(1))
    # The sheets are the real grid, whatever the seed.
    assert filecmp.cmp(
        out / 'kbl' / 'Kbl16.shp',
        tmp_path / 'other' / 'kbl' / 'Kbl16.shp',
        shallow=False,
    )


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown mini-Flanders size 'huge'"):
        write_mini_flanders(tmp_path, 'huge')
    with pytest.raises(FileNotFoundError, match='no mini-Flanders manifest'):
        load_manifest(tmp_path)
    with pytest.raises(ValueError, match='has no area'):
        write_refgew(tmp_path / 'Refgew.shp', Polygon())
    assert not list(tmp_path.iterdir())
