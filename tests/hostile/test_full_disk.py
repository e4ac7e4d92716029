"""A disk that fills up while a writer writes, for real, at every stage of the write.

Each writer runs again and again on a real tmpfs (``unshare -rm``) holding less
and less free space: from more than its output needs down to nothing, so that
the disk runs full in every part of the write (GDAL's blocks, the COG copy,
the overviews, a sidecar, a rename). Whatever the free space, a run either
succeeds with exactly the files of a run on a large disk, or exits 2 with one
line naming the file and the full disk; no broken or partial file ever has a
final name, no staging file stays, and an earlier good output replaced with
``--overwrite`` is either the old file or the complete new one, never broken.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest

from tests.hostile.hostile import (
    Swept,
    assert_refused,
    needs_mount,
    run_cli,
    sweep_full_disk,
)
from tests.openeo_backend import LocalOpenEO
from torchgeo_bvm.fileio import STAGING_MARK

#: Free space of the runs, as fractions of what the writer writes: from none
#: to more than its staging files need, densest where the first files of a
#: set are being finished (a fused map's confidence raster at about 0.1).
FRACTIONS = (0.0, 0.05, 0.1, 0.12, 0.15, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.3, 3.0)
#: Fewer for the slow writers.
FEW = (0.05, 0.3, 0.6, 0.9, 1.2, 3.0)

GOOD = 'layers/good/BwkHab.shp'

pytestmark = needs_mount


def _files(folder: Path) -> dict[str, Path]:
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob('*'))
        if p.is_file() and p.name != 'filler'
    }


def _same(a: Path, b: Path) -> bool:
    if a.suffix == '.gpkg':  # GeoPackages hold the time they were written
        left, right = pyogrio.read_dataframe(a), pyogrio.read_dataframe(b)
        return bool(left.equals(right))
    return a.read_bytes() == b.read_bytes()


def assert_never_broken(
    runs: list[Swept], disk: Path, previous: Path | None = None, volatile=()
) -> int:
    """Each run succeeded whole or was refused, leaving nothing broken.

    Returns:
        How many runs were refused.
    """
    reference, *rest = runs
    assert reference.outcome.code == 0, reference.outcome.err
    want = _files(reference.folder)
    before = _files(previous) if previous is not None else {}
    refused = 0
    for run in rest:
        got = _files(run.folder)
        left = [p for p in run.folder.rglob('*') if STAGING_MARK in p.name]
        assert left == [], (run.free_kb, left)
        if run.outcome.code == 0:
            assert sorted(got) == sorted(want), run.free_kb
            for name, path in got.items():
                assert name in volatile or _same(path, want[name]), (run.free_kb, name)
            continue
        refused += 1
        assert_refused(run.outcome, 'the disk is full', f'bytes free on {disk})')
        for name, path in got.items():
            if name in volatile:
                json.loads(path.read_text())  # whole, whatever it says
                continue
            whole = name in want and _same(path, want[name])
            old = name in before and _same(path, before[name])
            assert whole or old, (run.free_kb, name)
        assert set(before) <= set(got), run.free_kb
    return refused


def _rasterize(data: Path, res: str, out: str) -> list[object]:
    return [
        'rasterize', '--bvm', data / GOOD, '--crs', 'EPSG:32631', '--res', res,
        '--quiet', '--out', out,
    ]  # fmt: skip


@pytest.mark.slow
def test_rasterize(hostile_data: Path, tmp_path: Path) -> None:
    disk = tmp_path / 'disk'
    disk.mkdir()
    argv = _rasterize(hostile_data, '2', '{disk}/labels.tif')
    runs = sweep_full_disk(disk, FRACTIONS, argv=argv)
    assert assert_never_broken(runs, disk) >= 3
    assert any(run.outcome.code == 0 for run in runs[1:])


def test_rasterize_over_a_good_file(hostile_data: Path, tmp_path: Path, capsys) -> None:
    # The old labels (at 5 m) stay whole until the new ones (2 m) are.
    previous = tmp_path / 'previous'
    old = run_cli(capsys, *_rasterize(hostile_data, '5', str(previous / 'labels.tif')))
    assert old.code == 0, old.err
    disk = tmp_path / 'disk'
    disk.mkdir()
    argv = [*_rasterize(hostile_data, '2', '{disk}/labels.tif'), '--overwrite']
    runs = sweep_full_disk(disk, FRACTIONS, argv=argv, previous=previous)
    assert assert_never_broken(runs, disk, previous) >= 3


FUSION = """
import numpy as np
from affine import Affine
from pyproj import CRS

from torchgeo_bvm.maps.fusion import SheetFusion, write_mosaic
from torchgeo_bvm.spatial.pixelgrid import Grid

grid = Grid(CRS.from_epsg(32631), Affine(10, 0, 558_300, 0, -10, 5_651_460), 320, 200)
logits = np.random.default_rng({seed}).normal(size=(14, 200, 320))
probabilities = np.exp(logits) / np.exp(logits).sum(axis=0)
fusion = SheetFusion(grid, 14)
fusion.add(probabilities, np.ones((200, 320), bool), 0, 0, 0)
fusion.write('{disk}/22_1-2.tif', probabilities=True)
write_mosaic(['{disk}/22_1-2.tif'], '{disk}/mosaic.vrt')
"""


def test_fused_map_writer_over_an_earlier_map(tmp_path: Path) -> None:
    previous = tmp_path / 'previous'
    previous.mkdir()
    exec(FUSION.replace('{seed}', '1').replace('{disk}', str(previous)), {})
    disk = tmp_path / 'disk'
    disk.mkdir()
    runs = sweep_full_disk(
        disk, FRACTIONS, code=FUSION.replace('{seed}', '0'), previous=previous
    )
    assert assert_never_broken(runs, disk, previous) >= 3


@pytest.mark.slow
def test_synth(tmp_path: Path) -> None:
    disk = tmp_path / 'disk'
    disk.mkdir()
    argv = ['synth', '--size', 'tiny', '--no-plot', '--out', '{disk}/mf']
    runs = sweep_full_disk(disk, FEW, argv=argv)
    # synth keeps its finished files for the next run; its manifest says
    # whether the folder is complete, so it alone may differ.
    refused = assert_never_broken(runs, disk, volatile=('mf/manifest.json',))
    assert refused >= 3
    for run in runs[1:]:
        manifest = json.loads((run.folder / 'mf/manifest.json').read_text())
        assert manifest['complete'] is (run.outcome.code == 0)


@pytest.mark.slow
def test_compare_over_its_earlier_outputs(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    argv = [
        'compare', '--bvm', hostile_data / GOOD, '--maps', hostile_data / 'labels.tif',
        '--no-confidence', '--quiet',
    ]  # fmt: skip
    previous = tmp_path / 'previous'
    old = run_cli(capsys, *argv, '--top', '3', '--out', previous / 'compared')
    assert old.code == 0, old.err
    disk = tmp_path / 'disk'
    disk.mkdir()
    runs = sweep_full_disk(
        disk,
        FRACTIONS,
        argv=[*argv, '--out', '{disk}/compared', '--overwrite'],
        previous=previous,
    )
    assert assert_never_broken(runs, disk, previous) >= 3
    # Its four files appear together: a refused run leaves the old four.
    for run in runs[1:]:
        if run.outcome.code != 0:
            for name, path in _files(previous).items():
                assert _same(run.folder / name, path), (run.free_kb, name)


@pytest.mark.slow
def test_grid(tmp_path: Path) -> None:
    disk = tmp_path / 'disk'
    disk.mkdir()
    argv = [
        'grid', '--level', 'kbl16', '--sheets', '15,22', '--out', '{disk}/sheets.shp',
        '--plot', '{disk}/split.png',
    ]  # fmt: skip
    runs = sweep_full_disk(disk, FRACTIONS, argv=argv)
    assert assert_never_broken(runs, disk) >= 3


@pytest.mark.slow
def test_stats(hostile_data: Path, tmp_path: Path) -> None:
    disk = tmp_path / 'disk'
    disk.mkdir()
    argv = ['stats', '--labels', hostile_data / 'labels.tif', '--out', '{disk}/stats']
    runs = sweep_full_disk(disk, FEW, argv=argv)
    assert assert_never_broken(runs, disk) >= 3


@pytest.mark.slow
def test_download(tmp_path: Path) -> None:
    disk = tmp_path / 'disk'
    disk.mkdir()
    with LocalOpenEO(width=200, height=200, lifetime=300) as server:
        argv = [
            'download', '--sheets', '22/1-2', '--years', '2022', '--months', '4',
            '--quiet', '--poll-interval', '0.01', '--no-auth', '--out', '{disk}/s2',
            '--backend', server.url,
        ]  # fmt: skip
        runs = sweep_full_disk(disk, FEW, argv=argv)
    # The manifest names the backend's job: it alone differs between runs.
    assert assert_never_broken(runs, disk, volatile=('s2/openeo-manifest.json',)) >= 2
