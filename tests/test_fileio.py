import fcntl
import os
import re
from pathlib import Path
from unittest.mock import ANY

import pytest

from torchgeo_bvm.errors import BVMExistsError
from torchgeo_bvm.fileio import (
    atomic_path,
    check_output_folder,
    default_cache_dir,
    file_lock,
    fingerprint,
)


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


def test_fingerprint_notices_size_time_and_header(tmp_path) -> None:
    path = tmp_path / 'layer.shp'
    path.write_bytes(b'a' * 100_000)
    first = fingerprint([path])
    assert first == [[str(path.resolve()), 100_000, path.stat().st_mtime_ns, ANY]]
    assert fingerprint([path]) == first
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    path.write_bytes(b'b' + b'a' * 99_999)  # the header, same size and time
    os.utime(path, ns=times)
    assert fingerprint([path])[0][3] != first[0][3]
    path.write_bytes(b'a' * 99_999 + b'b')  # past the hashed header: same hash
    os.utime(path, ns=times)
    assert fingerprint([path]) == first
    path.write_bytes(b'a' * 100_001)
    os.utime(path, ns=times)
    assert fingerprint([path])[0][1] == 100_001
    os.utime(path, ns=(times[0], times[1] + 1))
    assert fingerprint([path])[0][2] == times[1] + 1
    with pytest.raises(FileNotFoundError):
        fingerprint([tmp_path / 'missing.shp'])


def test_file_lock_is_exclusive(tmp_path) -> None:
    lock = tmp_path / 'cache' / 'entry.lock'
    with file_lock(lock), lock.open('a') as other, pytest.raises(BlockingIOError):
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with lock.open('a') as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv('TORCHGEO_BVM_CACHE', str(tmp_path / 'c'))
    assert default_cache_dir() == tmp_path / 'c'
    monkeypatch.delenv('TORCHGEO_BVM_CACHE')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'x'))
    assert default_cache_dir() == tmp_path / 'x' / 'torchgeo-bvm'


def _dead_pid() -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'],
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_staging_of_a_killed_run_is_removed_by_the_next(tmp_path) -> None:
    import os

    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f'.labels.tmp-{dead}-0badc0de.tif'
    stale.write_text('half')
    folder = tmp_path / f'.labels.tmp-{dead}-0badc0de.staging'
    folder.mkdir()
    (folder / 'blocks.tif').write_text('half')
    running = tmp_path / f'.labels.tmp-{alive}-00000000.tif'
    running.write_text('being written by a live process')
    other = tmp_path / f'.other.tmp-{dead}-0badc0de.tif'
    other.write_text('another file of a killed run')
    with atomic_path(tmp_path / 'labels.tif') as temporary:
        temporary.write_text('new')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ['labels.tif', running.name, other.name]
    )


def test_dataset_scans_skip_staging_names(tmp_path, mini_labels) -> None:
    import shutil

    from torchgeo_bvm.datasets import BVMRaster
    from torchgeo_bvm.fileio import RASTER_SUFFIXES, find_files

    shutil.copy(mini_labels, tmp_path / 'labels.tif')
    staging = tmp_path / '.labels.tmp-1-0badc0de.staging'
    staging.mkdir()
    shutil.copy(mini_labels, staging / 'blocks.tif')
    shutil.copy(mini_labels, tmp_path / '.labels.tmp-1-0badc0de.tif')
    assert find_files(tmp_path, RASTER_SUFFIXES) == [tmp_path / 'labels.tif']
    assert BVMRaster(tmp_path).files == [str(tmp_path / 'labels.tif')]


def test_atomic_paths_all_or_nothing_and_no_stale_file(tmp_path) -> None:
    from torchgeo_bvm.fileio import atomic_paths

    a, b, stale = tmp_path / 'a.csv', tmp_path / 'b.csv', tmp_path / 'c.json'
    a.write_text('old a')
    stale.write_text('old c')

    def fail_midway() -> None:
        with atomic_paths([a, b], owned=[a, b, stale]) as (ta, _):
            ta.write_text('new a')
            raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        fail_midway()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.csv', 'c.json']
    assert a.read_text() == 'old a'
    with atomic_paths([a, b], owned=[a, b, stale]) as (ta, tb):
        ta.write_text('new a')
        tb.write_text('new b')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.csv', 'b.csv']
    assert a.read_text() == 'new a'


def test_an_output_folder_never_lies_where_a_dataset_reads(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / 'data'
    (data / 'labels').mkdir(parents=True)
    labels = data / 'labels' / 'labels.tif'
    labels.write_bytes(b'')
    stats = tmp_path / 'stats.json'
    stats.write_text('{}')
    (tmp_path / 'link').symlink_to(data, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    scanned = {'sentinel2_paths': [str(data)], 'bvm_paths': [str(labels)]}
    read = {'stats': [str(stats)]}
    for folder in ('maps', data.parent / 'maps', 'maps/2020'):
        assert check_output_folder(folder, scanned, read) == Path(folder)
    cases = [
        (data / 'x', f'--out {data / "x"} lies inside the folder {data} that '),
        ('link/x', 'lies inside the folder'),
        ('maps/../data/labels', 'lies inside the folder'),
        (data.parent, f'--out {data.parent} holds {data} (sentinel2_paths)'),
        (tmp_path, 'holds'),
    ]
    only_labels = {'bvm_paths': [str(labels)]}
    for folder, words in cases:
        with pytest.raises(BVMExistsError, match=re.escape(words)):
            check_output_folder(folder, scanned, read)
    with pytest.raises(
        BVMExistsError,
        match=re.escape(f'--out {labels.parent} is the folder of {labels} (bvm_paths)'),
    ):
        check_output_folder(labels.parent, only_labels)
    with pytest.raises(BVMExistsError, match=re.escape(f'holds {stats} (stats)')):
        check_output_folder(tmp_path, {}, read)
    # A file read alone (not by a dataset) is no reason to refuse its folder.
    assert check_output_folder(stats.parent / 'maps', {}, read)
