import fcntl
import hashlib
import os
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from torchgeo_bvm.errors import BVMExistsError, BVMFileError
from torchgeo_bvm.fileio import (
    atomic_path,
    check_output_folder,
    default_cache_dir,
    file_lock,
    fingerprint,
    header_fingerprint,
    read_cache_entry,
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
    frame = gpd.GeoDataFrame({'code': ['22']}, geometry=[shapely.box(0, 0, 1, 1)])
    with atomic_path(final) as temporary:
        frame.set_crs('EPSG:31370').to_file(temporary, engine='pyogrio')
        temporary.with_suffix('.cpg').write_text('UTF-8')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'Kbl.cpg',
        'Kbl.dbf',
        'Kbl.prj',
        'Kbl.shp',
        'Kbl.shx',
    ]
    assert (tmp_path / 'Kbl.cpg').read_text() == 'UTF-8'
    assert gpd.read_file(final)['code'].tolist() == ['22']


@pytest.mark.parametrize(
    ('name', 'words'),
    [
        ('out.tif', 'not recognized as being in a supported file format'),
        ('out.shp', '.shp of 4 bytes, its header says -1'),
        ('out.gpkg', 'out.tmp-'),
    ],
)
def test_atomic_path_refuses_what_does_not_read_back(
    tmp_path, name: str, words: str
) -> None:
    final = tmp_path / name
    final.write_text('old')
    with pytest.raises(BVMFileError) as info, atomic_path(final) as temporary:
        temporary.write_text('half')
    message = str(info.value)
    assert message.startswith(f'{final}: could not be written (it does not read')
    assert words in message
    assert final.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_atomic_path_directory(tmp_path) -> None:
    final = tmp_path / 'folder'
    final.mkdir()
    (final / 'stale').write_text('x')
    with atomic_path(final) as temporary:
        temporary.mkdir()
        (temporary / 'fresh').write_text('y')
    assert [p.name for p in final.iterdir()] == ['fresh']


def test_fingerprint_is_the_content(tmp_path) -> None:
    path = tmp_path / 'layer.shp'
    path.write_bytes(b'a' * 100_000)
    first = fingerprint([path])
    assert first == [
        [str(path.resolve()), 100_000, hashlib.sha256(b'a' * 100_000).hexdigest()]
    ]
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    # Same size and time (cp -p, rsync -t): the first bytes, the last bytes,
    # a byte in the middle, far past any header.
    for edited in (
        b'b' + b'a' * 99_999,
        b'a' * 99_999 + b'b',
        b'a' * 70_000 + b'b' + b'a' * 29_999,
    ):
        path.write_bytes(edited)
        os.utime(path, ns=times)
        assert fingerprint([path])[0][2] == hashlib.sha256(edited).hexdigest()
    path.write_bytes(b'a' * 100_000)
    os.utime(path, ns=(times[0], times[1] + 10**9))  # touched, not changed
    assert fingerprint([path]) == first
    path.write_bytes(b'a' * 100_001)
    assert fingerprint([path])[0][1] == 100_001
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


def test_staging_of_a_killed_run_is_removed_by_the_next(tmp_path, mini_labels) -> None:
    import os
    import shutil

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
        shutil.copy(mini_labels, temporary)
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


def _tiff(path, **options) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    profile = {
        'driver': 'GTiff', 'width': 600, 'height': 500, 'count': 2, 'dtype': 'uint16',
        'crs': 'EPSG:32631', 'transform': Affine(10, 0, 500_000, 0, -10, 5_650_000),
        'tiled': True, 'compress': 'deflate',
    }  # fmt: skip
    with rasterio.open(path, 'w', **{**profile, **options}) as dst:
        dst.write(np.ones((2, 500, 600), 'uint16'))


@pytest.mark.parametrize('bigtiff', ['NO', 'YES'])
def test_header_fingerprint_is_the_header(tmp_path, bigtiff: str) -> None:
    import rasterio

    path = tmp_path / 'band.tif'
    _tiff(path, BIGTIFF=bigtiff)
    assert path.read_bytes()[2] == (43 if bigtiff == 'YES' else 42)
    first = header_fingerprint(path)
    assert header_fingerprint(path) == first
    os.utime(path, ns=(0, 10**18))
    assert header_fingerprint(path) == first
    # Any of what the header says, and the fingerprint changes.
    for change in (
        lambda d: setattr(d, 'nodata', 7),
        lambda d: d.set_band_description(1, 'B04'),
        lambda d: setattr(d, 'crs', 'EPSG:32632'),
        lambda d: d.update_tags(AREA_OR_POINT='Point'),
    ):
        before = header_fingerprint(path)
        with rasterio.open(path, 'r+') as dst:
            change(dst)
        assert header_fingerprint(path) != before


def test_header_fingerprint_of_other_files_and_broken_tiffs(tmp_path) -> None:
    vrt = tmp_path / 'mosaic.vrt'
    vrt.write_text('<VRTDataset/>')
    assert header_fingerprint(vrt) == hashlib.sha256(b'<VRTDataset/>').hexdigest()
    # A directory that points to itself, one that points past the end: read
    # once, no endless loop, no error.
    (tmp_path / 'loop.tif').write_bytes(
        b'II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00'
    )
    (tmp_path / 'past.tif').write_bytes(b'II*\x00\xff\xff\xff\x0f')
    (tmp_path / 'huge.tif').write_bytes(
        b'II+\x00\x08\x00\x00\x00' + b'\x10' + b'\xff' * 15
    )
    digests = {
        header_fingerprint(tmp_path / n) for n in ('loop.tif', 'past.tif', 'huge.tif')
    }
    assert len(digests) == 3
    with pytest.raises(FileNotFoundError):
        header_fingerprint(tmp_path / 'missing.tif')


def test_read_cache_entry(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    path = tmp_path / 'entry.json'
    assert read_cache_entry(path, lambda p: json.loads(p.read_text())) is None
    path.write_text('{"v": 1}')
    assert read_cache_entry(path, lambda p: json.loads(p.read_text())) == {'v': 1}
    assert read_cache_entry(path, lambda p: None) is None  # another version's
    assert caplog.messages == []
    path.write_text('{"v": 1')
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        assert read_cache_entry(path, lambda p: json.loads(p.read_text())) is None
    (message,) = caplog.messages
    assert message.startswith(f'{path}: a damaged cache entry (JSONDecodeError: ')
    assert message.endswith('), derived again')


def test_check_outside_scans(tmp_path) -> None:
    from torchgeo_bvm.errors import BVMExistsError
    from torchgeo_bvm.fileio import check_outside_scans

    maps = tmp_path / 'maps'
    (maps / 'sub').mkdir(parents=True)
    (tmp_path / 'link').symlink_to(maps, target_is_directory=True)
    (tmp_path / 'file.tif').write_bytes(b'')
    scans = {'--maps': [maps, tmp_path / 'file.tif', None]}
    for out in (
        maps,
        maps / 'sub' / 'new',
        tmp_path / 'link' / 'new',
        maps / 'x' / '..',
    ):
        with pytest.raises(BVMExistsError, match=f'--out {out} lies in {maps}, which'):
            check_outside_scans([out], scans)
    for out in (tmp_path, tmp_path / 'maps-2', tmp_path / 'file.tif' / 'x'):
        check_outside_scans([out], scans)


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
