"""Outputs where datasets scan: staging files in scanned folders, outputs inside them.

A dataset given as a folder reads what lies under it. The staging files a
killed run left there are hidden and no scan reads them; and no command writes
its outputs into a folder one of its own inputs scans, whatever the spelling of
that folder (itself, a subfolder, a link to it, ``..``, a relative path), so
that the next run does not read them as input. ``synth``, ``download`` and
``demo`` read no dataset from outside their own ``--out``: nothing to refuse.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest

from tests.hostile.hostile import (
    assert_refused,
    assert_untouched,
    copy_layer,
    run_cli,
    snapshot,
)
from torchgeo_bvm.maps.compare import OUTPUT_NAMES

GOOD = 'layers/good/BwkHab.shp'
COMPARE = ('compare', '--no-confidence', '--quiet')


def _killed_writer_left(maps: Path, labels: Path) -> None:
    """What a killed map writer leaves in a folder of maps: hidden staging files.

    A whole copy of the map (it would double every count), one cut in half (it
    would not read) and a staging folder of blocks.
    """
    shutil.copy(labels, maps / '.22_1-2.tmp-999999-0badc0de.tif')
    data = labels.read_bytes()
    (maps / '.22_1-2_count.tmp-999999-0badc0de.tif').write_bytes(data[: len(data) // 2])
    staging = maps / '.22_3-4.tmp-999999-0badc0de.staging'
    staging.mkdir()
    shutil.copy(labels, staging / 'blocks.tif')


def test_compare_reads_no_staging_file_of_a_killed_writer(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    maps = tmp_path / 'maps'
    maps.mkdir()
    shutil.copy(hostile_data / 'labels.tif', maps / '22_1-2.tif')
    clean = run_cli(
        capsys, *COMPARE, '--bvm', hostile_data / GOOD, '--maps', maps,
        '--out', tmp_path / 'clean',
    )  # fmt: skip
    assert clean.code == 0, clean.err
    _killed_writer_left(maps, hostile_data / 'labels.tif')
    outcome = run_cli(
        capsys, *COMPARE, '--bvm', hostile_data / GOOD, '--maps', maps,
        '--out', tmp_path / 'after',
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    # The same polygons, counts and candidates.
    summary = [line for line in outcome.out.splitlines() if 'wrote' not in line]
    assert summary == [line for line in clean.out.splitlines() if 'wrote' not in line]
    for name in ('class_agreement.csv', 'class_agreement.md'):
        assert (tmp_path / 'after' / name).read_bytes() == (
            tmp_path / 'clean' / name
        ).read_bytes()


def _spelled(folder: Path, spelling: str) -> Path:
    """``folder`` (or a folder inside it) spelled another way."""
    if spelling == 'itself':
        return folder
    if spelling == 'subfolder':
        return folder / 'out'
    if spelling == 'link':
        link = folder.parent / f'{folder.name}-link'
        link.symlink_to(folder, target_is_directory=True)
        return link / 'out'
    if spelling == 'dotdot':
        return folder / 'x' / '..' / 'out'
    if spelling == 'relative':
        return Path(os.path.relpath(folder / 'out'))
    raise ValueError(spelling)


SPELLINGS = ['itself', 'subfolder', 'link', 'dotdot', 'relative']


@pytest.mark.parametrize('spelling', SPELLINGS)
def test_compare_writes_nothing_into_its_maps_folder(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    maps = tmp_path / 'maps'
    maps.mkdir()
    shutil.copy(hostile_data / 'labels.tif', maps / '22_1-2.tif')
    before = snapshot(tmp_path)
    out = _spelled(maps, spelling)
    outcome = run_cli(
        capsys, *COMPARE, '--bvm', hostile_data / GOOD, '--maps', maps, '--out', out,
        '--overwrite',
    )  # fmt: skip
    assert_refused(outcome, f'--out {out} lies in {maps}', 'which --maps scans')
    assert_untouched(before, maps)


@pytest.mark.parametrize('spelling', SPELLINGS)
def test_compare_writes_nothing_into_its_layer_folder(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    layer = tmp_path / 'bvm'
    copy_layer(hostile_data / GOOD, layer)
    before = snapshot(layer)
    out = _spelled(layer, spelling)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        outcome = run_cli(
            capsys, *COMPARE, '--bvm', layer, '--maps', hostile_data / 'labels.tif',
            '--out', out,
        )  # fmt: skip
    assert_refused(outcome, f'--out {out} lies in {layer}', 'which --bvm scans')
    assert_untouched(before, layer)


@pytest.mark.parametrize('spelling', SPELLINGS)
def test_rasterize_writes_nothing_into_its_layer_folder(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    layer = tmp_path / 'bvm'
    copy_layer(hostile_data / GOOD, layer)
    before = snapshot(layer)
    out = _spelled(layer, spelling) / 'labels.tif'
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--crs', 'EPSG:32631', '--res', '10',
        '--bvm', layer, '--out', out,
    )  # fmt: skip
    assert_refused(outcome, f'--out {out} lies in {layer}', 'which --bvm scans')
    assert_untouched(before, layer)


@pytest.mark.parametrize('spelling', ['itself', 'subfolder', 'link'])
def test_band_statistics_write_nothing_into_the_imagery(
    mini_flanders, tmp_path: Path, capsys, spelling: str
) -> None:
    folder, _ = mini_flanders
    imagery = tmp_path / 'TOC_V2'
    shutil.copytree(folder / 'TOC_V2', imagery)
    before = snapshot(imagery)
    out = _spelled(imagery, spelling)
    outcome = run_cli(
        capsys, 'stats', '--bands', 'rgb', '--sentinel2', imagery, '--crs',
        'EPSG:32631', '--out', out,
    )  # fmt: skip
    assert_refused(outcome, f'--out {out} lies in {imagery}', 'which --sentinel2')
    assert_untouched(before, imagery)


def test_outputs_beside_a_scanned_folder_are_fine(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    # The folder above the maps, and a folder whose name starts alike.
    maps = tmp_path / 'maps'
    maps.mkdir()
    shutil.copy(hostile_data / 'labels.tif', maps / '22_1-2.tif')
    for out in (tmp_path, tmp_path / 'maps-compared'):
        outcome = run_cli(
            capsys, *COMPARE, '--bvm', hostile_data / GOOD, '--maps', maps,
            '--out', out,
        )  # fmt: skip
        assert outcome.code == 0, outcome.err
        assert {p.name for p in out.iterdir()} >= set(OUTPUT_NAMES.values())


def test_synth_counts_no_staging_file_among_its_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'mf'
    argv = ['synth', '--size', 'tiny', '--no-plot', '--out', out]
    assert run_cli(capsys, *argv).code == 0
    product = next(p for p in (out / 'TOC_V2').rglob('*_TOC_V210') if p.is_dir())
    # A writer at work in the folder (this process: alive, so left alone).
    staging = product / f'.{product.name[:-9]}_QUICKLOOK.tmp-{os.getpid()}-0badc0de.tif'
    staging.write_bytes(b'half a file')
    outcome = run_cli(capsys, *argv, '--force')
    assert outcome.code == 0, outcome.err
    sizes = json.loads((out / 'manifest.json').read_text())['sizes']
    assert [name for name in sizes if '.tmp-' in name] == []
    # The real-format files and the five of the truth (changes.csv, two
    # land-cover rasters and their colour tables).
    assert len(sizes) == 107
    assert len([name for name in sizes if name.startswith('truth/')]) == 5
    # The folder is reused as it is, the staging file beside it.
    again = run_cli(capsys, *argv)
    assert 'up to date, reused' in again.out
