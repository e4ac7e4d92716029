"""A folder of maps: its manifest, the swap of a finished run, what readers check."""

import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from torchgeo_bvm.errors import BVMExistsError, BVMValueError
from torchgeo_bvm.fileio import STAGING_MARK
from torchgeo_bvm.maps.folder import (
    MANIFEST,
    MapRun,
    check_map_folder,
    check_map_folders,
    finish_map_run,
    read_manifest,
    start_map_run,
    write_manifest,
)

RUN = MapRun('2020', '2020', ('22/7-8',), ('22_7-8_count.tif', '22_7-8.tif'))


def write_run(folder: Path, run: MapRun = RUN, content: bytes = b'new') -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in run.files:
        (folder / name).write_bytes(content)
    write_manifest(folder, run)


def test_the_manifest_says_what_one_run_wrote(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) is None
    write_run(tmp_path)
    saved = json.loads((tmp_path / MANIFEST).read_text())
    assert saved == {
        'format': 'torchgeo-bvm prediction',
        'period': '2020',
        'name': '2020',
        'sheets': ['22/7-8'],
        'files': ['22_7-8_count.tif', '22_7-8.tif'],
        'complete': True,
    }
    assert read_manifest(tmp_path) == RUN
    assert check_map_folder(tmp_path) == RUN
    for damaged in ('', '{', '[]', '{"format": "other"}', '{"format": 1}'):
        (tmp_path / MANIFEST).write_text(damaged)
        with pytest.raises(BVMValueError, match=r'a damaged manifest \('):
            read_manifest(tmp_path)
    saved['files'] = ['../elsewhere.tif']
    (tmp_path / MANIFEST).write_text(json.dumps(saved))
    with pytest.raises(BVMValueError, match='its files are not names in the folder'):
        read_manifest(tmp_path)


def test_a_run_is_written_aside_and_swapped_in_whole(tmp_path: Path) -> None:
    final = tmp_path / '2020'
    write_run(final, content=b'old')
    (final / 'notes.txt').write_text('mine')
    (final / '22_7-8.tif.aux.xml').write_text('<old/>')
    with ExitStack() as stack:
        staging = start_map_run(final, RUN, stack)
        assert staging.parent == tmp_path
        assert staging.name.startswith(f'.2020{STAGING_MARK}')
        new = MapRun('2020', '2020', ('22/1-2',), ('22_1-2.tif',))
        write_run(staging, new)
        # Until the swap, the folder holds the earlier run, whole.
        assert read_manifest(final) == RUN
        finish_map_run(staging, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['2020']
    assert sorted(p.name for p in final.iterdir()) == sorted(
        ['22_1-2.tif', MANIFEST, 'notes.txt']
    )
    assert (final / 'notes.txt').read_text() == 'mine'
    assert read_manifest(final) == new


def test_a_run_that_stops_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / '2020'
    stack = ExitStack()
    write_run(start_map_run(final, RUN, stack))
    assert len(list(tmp_path.iterdir())) == 1
    stack.close()  # the run stopped: what it wrote goes, nothing else
    assert list(tmp_path.iterdir()) == []


def test_a_folder_of_another_period_or_of_other_files_is_refused(
    tmp_path: Path,
) -> None:
    final = tmp_path / 'maps'
    write_run(final)
    other = MapRun('2021', '2021', (), ())
    with (
        pytest.raises(
            BVMExistsError,
            match=rf'^{final} holds the maps of 2020 \(prediction.json\), this run maps '
            r'2021: they are kept',
        ),
        ExitStack() as stack,
    ):
        start_map_run(final, other, stack)
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'a.txt').write_text('a')
    with (
        pytest.raises(
            BVMExistsError, match=rf'^{mine} holds files but no prediction.json'
        ),
        ExitStack() as stack,
    ):
        start_map_run(mine, RUN, stack)
    (tmp_path / 'file').write_text('')
    with pytest.raises(BVMExistsError, match='is a file'), ExitStack() as stack:
        start_map_run(tmp_path / 'file', RUN, stack)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file', 'maps', 'mine']


def test_readers_refuse_incomplete_mixed_and_several_periods(tmp_path: Path) -> None:
    first, second = tmp_path / '2020', tmp_path / '2021'
    write_run(first)
    check_map_folders([tmp_path, first / '22_7-8.tif'])
    (first / 'stray.tif').write_bytes(b'')
    with pytest.raises(BVMValueError, match=r'stray\.tif is not one of the maps'):
        check_map_folders([tmp_path])
    (first / 'stray.tif').unlink()
    (first / '22_7-8.tif').unlink()
    with pytest.raises(BVMValueError, match=r'22_7-8\.tif, listed in prediction\.json'):
        check_map_folder(first)
    write_run(first, MapRun('2020', '2020', (), ('22_7-8.tif',), complete=False))
    with pytest.raises(BVMValueError, match='the maps are incomplete'):
        check_map_folders([first / '22_7-8.tif'])
    write_run(first)
    write_run(second, MapRun('2021', '2021', ('22/7-8',), ('22_7-8.tif',)))
    with pytest.raises(
        BVMValueError,
        match=r'^the maps given are of several periods \(2020 in .*2020, 2021 in ',
    ):
        check_map_folders([tmp_path])
    check_map_folders([second])
    # Staging folders are no maps of anyone's.
    hidden = tmp_path / f'.2022{STAGING_MARK}1-0.staging'
    write_run(hidden, MapRun('2022', '2022', (), ()))
    check_map_folders([second])
