"""Caches that cannot lie: edits that keep size and time, and damaged entries.

The prepared polygons, the label columns, the archive index and the Flanders
boundary are kept between runs in the cache folder. An input edited in place
with its size and modification time kept (``cp -p``, ``rsync -t``, a file
system that keeps whole seconds), past its first bytes, must be derived again;
a damaged cache entry (cut short, overwritten, emptied) is derived again with
one warning naming it, never a traceback, and the run's result is what an
empty cache gives.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from tests.hostile.hostile import run_cli
from torchgeo_bvm.datasets import Sentinel2TOC
from torchgeo_bvm.sheets.boundary import flanders_from_labels

GOOD = 'layers/good/BwkHab.shp'
PARTS = ('.shp', '.shx', '.dbf', '.prj', '.cpg')


def _rasterize(capsys, layer: Path, out: Path) -> np.ndarray:
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--crs', 'EPSG:32631', '--res', '10',
        '--bvm', layer, '--out', out, '--overwrite',
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    with rasterio.open(out) as src:
        return src.read(1)


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True)
    frame.to_file(path, engine='pyogrio')
    return path


def _copy_keeping_times(source: Path, target: Path, times: dict[str, tuple]) -> None:
    """``cp -p`` of a shapefile whose files carry the times of the one replaced."""
    for suffix in PARTS:
        os.utime(source.with_suffix(suffix), ns=times[suffix])
        shutil.copy2(source.with_suffix(suffix), target.with_suffix(suffix))


def _times(path: Path) -> dict[str, tuple[int, int]]:
    stats = {s: path.with_suffix(s).stat() for s in PARTS}
    return {s: (st.st_atime_ns, st.st_mtime_ns) for s, st in stats.items()}


def _first_difference(a: Path, b: Path) -> int:
    left, right = a.read_bytes(), b.read_bytes()
    assert len(left) == len(right)
    return next(i for i, (x, y) in enumerate(zip(left, right, strict=True)) if x != y)


def _an_edit_in_place(
    hostile_data: Path, tmp_path: Path, edit
) -> tuple[Path, Path, Path]:
    """The layer (v1 in ``layer/``), v2 beside it, and the edited part."""
    frame = gpd.read_file(hostile_data / GOOD, engine='pyogrio')
    v1 = _write(frame, tmp_path / 'v1' / 'BwkHab.shp')
    v2 = _write(edit(frame.copy()), tmp_path / 'v2' / 'BwkHab.shp')
    layer = tmp_path / 'layer' / 'BwkHab.shp'
    layer.parent.mkdir()
    for suffix in PARTS:
        shutil.copy2(v1.with_suffix(suffix), layer.with_suffix(suffix))
    return layer, v1, v2


def _moved_inland(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # The last polygon away from the layer's edges moves 30 m east: its record
    # lies far past the first 64 kB and the layer's extent stays as it was.
    west, south, east, north = frame.total_bounds
    inside = frame.bounds.apply(
        lambda b: b.minx > west + 100 and b.maxx < east - 100 and b.miny > south + 100
        and b.maxy < north - 100,
        axis=1,
    )  # fmt: skip
    last = inside[inside].index[-1]
    frame.loc[last, 'geometry'] = shapely.affinity.translate(
        frame.geometry[last], xoff=30
    )
    return frame


def _relabelled(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # The last 40 polygons swap their unit codes with those of the 40 before:
    # the same texts, the same field widths, other places.
    codes = frame['EENH1'].to_numpy().copy()
    codes[-80:] = np.concatenate([codes[-40:], codes[-80:-40]])
    frame['EENH1'] = codes
    return frame


@pytest.mark.parametrize(
    ('edit', 'part'), [(_moved_inland, '.shp'), (_relabelled, '.dbf')]
)
def test_an_edit_with_size_and_time_kept_is_noticed(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
    edit,
    part: str,
) -> None:
    layer, v1, v2 = _an_edit_in_place(hostile_data, tmp_path, edit)
    assert _first_difference(v1.with_suffix(part), v2.with_suffix(part)) > 65_536
    monkeypatch.setenv('TORCHGEO_BVM_CACHE', str(tmp_path / 'cache'))
    before = _rasterize(capsys, layer, tmp_path / 'before.tif')
    times = _times(layer)
    _copy_keeping_times(v2, layer, times)
    assert {s: t[1] for s, t in _times(layer).items()} == {
        s: t[1] for s, t in times.items()
    }
    assert all(
        layer.with_suffix(s).stat().st_size == v1.with_suffix(s).stat().st_size
        for s in PARTS
    )
    after = _rasterize(capsys, layer, tmp_path / 'after.tif')
    monkeypatch.setenv('TORCHGEO_BVM_CACHE', str(tmp_path / 'empty-cache'))
    truth = _rasterize(capsys, v2, tmp_path / 'truth.tif')
    assert (truth != before).any()  # the edit shows in the labels
    np.testing.assert_array_equal(after, truth)


def _imagery(mini_flanders, tmp_path: Path) -> Path:
    folder, _ = mini_flanders
    root = tmp_path / 'TOC_V2'
    shutil.copytree(folder / 'TOC_V2', root)
    return root


def _bounds(root: Path, cache: Path) -> tuple[float, ...]:
    ds = Sentinel2TOC(root, crs='EPSG:32631', res=10, cache_dir=cache)
    return tuple(float(v) for v in ds.index.total_bounds)


def test_a_product_moved_with_size_and_time_kept_is_indexed_anew(
    mini_flanders, tmp_path: Path
) -> None:
    root = _imagery(mini_flanders, tmp_path)
    cache = tmp_path / 'cache'
    before = _bounds(root, cache)
    # One product georeferenced 1 km further east, in place: every band's
    # tie point rewritten, sizes and times as they were (rsync -t of a fix).
    product = sorted(p for p in root.rglob('*_TOC_V210') if p.is_dir())[-1]
    for band in product.glob('*.tif'):
        with rasterio.open(band) as src:
            west = src.transform.c
        stat = band.stat()
        data = bytearray(band.read_bytes())
        at = _tie_point_x(data)
        assert struct.unpack_from('<d', data, at) == (west,)
        struct.pack_into('<d', data, at, west + 1000)
        band.write_bytes(bytes(data))
        os.utime(band, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert band.stat().st_size == stat.st_size
    after = _bounds(root, cache)
    truth = _bounds(root, tmp_path / 'empty-cache')
    assert truth[2] == before[2] + 1000
    assert after == truth


def _tie_point_x(data: bytes) -> int:
    """Where a little-endian classic TIFF holds the x of its tie point (tag 33922)."""
    assert data[:4] == b'II*\x00'
    (directory,) = struct.unpack_from('<I', data, 4)
    (entries,) = struct.unpack_from('<H', data, directory)
    for k in range(entries):
        tag, _, _, offset = struct.unpack_from('<HHII', data, directory + 2 + 12 * k)
        if tag == 33922:  # ModelTiepointTag: I, J, K, X, Y, Z as doubles
            return int(offset) + 3 * 8
    raise AssertionError('no tie point')


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _emptied(path: Path) -> None:
    path.write_bytes(b'')


def _header_only(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:64])


DAMAGES = {'cut': _cut, 'garbage': _garbage, 'emptied': _emptied, 'head': _header_only}


def _damaged_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if 'damaged cache entry' in m]


@pytest.mark.parametrize('damage', list(DAMAGES))
@pytest.mark.parametrize('entry', ['bvm-polygons-*.bin', 'bvm-columns-*.npz'])
def test_a_damaged_layer_cache_entry_is_derived_again(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    entry: str,
    damage: str,
) -> None:
    cache = tmp_path / 'cache'
    monkeypatch.setenv('TORCHGEO_BVM_CACHE', str(cache))
    layer = hostile_data / GOOD
    first = _rasterize(capsys, layer, tmp_path / 'first.tif')
    (path,) = cache.glob(entry)
    DAMAGES[damage](path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        again = _rasterize(capsys, layer, tmp_path / 'again.tif')
    np.testing.assert_array_equal(again, first)
    (warning,) = _damaged_warnings(caplog)
    assert warning.startswith(f'{path}: a damaged cache entry (')
    assert warning.endswith('), derived again')
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        third = _rasterize(capsys, layer, tmp_path / 'third.tif')
    np.testing.assert_array_equal(third, first)
    assert _damaged_warnings(caplog) == []  # written whole again


@pytest.mark.parametrize('damage', list(DAMAGES))
def test_a_damaged_archive_index_is_read_again(
    mini_flanders, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    root = _imagery(mini_flanders, tmp_path)
    cache = tmp_path / 'cache'
    first = _bounds(root, cache)
    (path,) = cache.glob('sentinel2-index-*.json')
    DAMAGES[damage](path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        assert _bounds(root, cache) == first
    (warning,) = _damaged_warnings(caplog)
    assert warning.startswith(f'{path}: a damaged cache entry (')
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        assert _bounds(root, cache) == first
    assert _damaged_warnings(caplog) == []


@pytest.mark.parametrize('damage', list(DAMAGES))
def test_a_damaged_boundary_is_derived_again(
    hostile_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    cache = tmp_path / 'cache'
    layer = hostile_data / GOOD
    first = flanders_from_labels([layer], resolution=100.0, cache_dir=cache)
    (path,) = cache.glob('flanders-*.gpkg')
    DAMAGES[damage](path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='torchgeo_bvm'):
        again = flanders_from_labels([layer], resolution=100.0, cache_dir=cache)
    assert again.equals(first)
    (warning,) = _damaged_warnings(caplog)
    assert warning.startswith(f'{path}: a damaged cache entry (')
