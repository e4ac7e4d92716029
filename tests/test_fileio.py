import pytest

from torchgeo_bvm.fileio import atomic_path


def test_atomic_path_renames_on_success(tmp_path) -> None:
    final = tmp_path / 'sub' / 'out.txt'
    with atomic_path(final) as temporary:
        temporary.write_text('new')
        assert not final.exists()
        assert temporary.parent == final.parent
        assert temporary.suffix == '.txt'
    assert final.read_text() == 'new'
    assert [p.name for p in final.parent.iterdir()] == ['out.txt']


def test_atomic_path_keeps_the_old_file_on_error(tmp_path) -> None:
    final = tmp_path / 'out.shp'
    final.write_text('old')

    def interrupted_write() -> None:
        with atomic_path(final) as temporary:
            temporary.write_text('half')
            temporary.with_suffix('.dbf').write_text('half')
            raise RuntimeError('interrupted')

    with pytest.raises(RuntimeError, match='interrupted'):
        interrupted_write()
    assert final.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['out.shp']


def test_atomic_path_moves_sidecars(tmp_path) -> None:
    final = tmp_path / 'Kbl.shp'
    with atomic_path(final) as temporary:
        for suffix in ('.shp', '.dbf', '.shx', '.prj'):
            temporary.with_suffix(suffix).write_text(suffix)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'Kbl.dbf',
        'Kbl.prj',
        'Kbl.shp',
        'Kbl.shx',
    ]
    assert (tmp_path / 'Kbl.dbf').read_text() == '.dbf'


def test_atomic_path_directory(tmp_path) -> None:
    final = tmp_path / 'folder'
    final.mkdir()
    (final / 'stale').write_text('x')
    with atomic_path(final) as temporary:
        temporary.mkdir()
        (temporary / 'fresh').write_text('y')
    assert [p.name for p in final.iterdir()] == ['fresh']
