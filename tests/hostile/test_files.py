"""Files: missing, empty, truncated, misnamed, unwritable, full, or an input.

Every case runs a real command on real files; inputs stay byte-identical and no
partial or staging file is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rasterio

from tests.hostile.hostile import (
    assert_refused,
    assert_untouched,
    copy_layer,
    needs_mount,
    run_cli,
    run_mounted,
    snapshot,
)
from tests.openeo_backend import LocalOpenEO

RASTERIZE = ('rasterize', '--crs', 'EPSG:32631', '--res', '10', '--quiet')


@pytest.mark.parametrize(
    ('bvm', 'words'),
    [
        ('files/nope.shp', ['nope.shp not found']),
        ('files/empty.shp', ['empty.shp', 'empty (0 bytes)']),
        ('files/text.shp', ['text.shp', 'cannot be read as a vector layer']),
        ('files/truncated_shp/BwkHab.shp', ['BwkHab.shp']),
        ('files/truncated_shx/BwkHab.shp', ['BwkHab.shp']),
        ('files/truncated_dbf/BwkHab.shp', ['BwkHab.shp']),
        ('files/no_shx/BwkHab.shp', ['BwkHab.shp', 'cannot be read']),
        ('files/lone_dbf/BwkHab.dbf', ['BwkHab.dbf', 'not a BVM layer']),
        ('files/lone_dbf', ['lone_dbf', 'no BVM layer in the folder']),
        ('files/not_a_zip.zip', ['not_a_zip.zip', 'not a zip archive']),
        ('files/folder.shp', ['folder.shp', 'no BVM layer in the folder']),
        ('layers/two_layers/bvm.gpkg', ['bvm.gpkg', 'several layers', 'one, two']),
        ('files', ['files', 'several vector files']),
    ],
)
def test_rasterize_refuses_a_bad_layer_file(
    hostile_data: Path, tmp_path: Path, capsys, bvm: str, words: list[str]
) -> None:
    before = snapshot(hostile_data)
    outcome = run_cli(
        capsys, *RASTERIZE, '--bvm', hostile_data / bvm, '--out', tmp_path / 'l.tif'
    )
    assert_refused(outcome, *words)
    assert_untouched(before, hostile_data)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ('like', 'words'),
    [
        ('files/empty.tif', ['empty.tif']),
        ('files/folder.tif', ['folder.tif']),
        ('files/nope.tif', ['--like', 'nope.tif not found']),
        ('layers/good/BwkHab.shp', ['BwkHab.shp']),
    ],
)
def test_rasterize_refuses_a_bad_reference_raster(
    hostile_data: Path, tmp_path: Path, capsys, like: str, words: list[str]
) -> None:
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--bvm', hostile_data / 'layers/good/BwkHab.shp',
        '--like', hostile_data / like, '--out', tmp_path / 'l.tif',
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    'source',
    [
        'layers/good/BwkHab.shp',
        'layers/gpkg/BwkHab.gpkg',
        'layers/parquet.parquet',
        'layers/zipped.zip',
        'layers/no_prj/BwkHab.shp',
        'files/spaces and ünïcode/Bwk Hab é.shp',
    ],
)
def test_rasterize_reads_every_format_and_odd_path_alike(
    hostile_data: Path, tmp_path: Path, capsys, source: str
) -> None:
    out = tmp_path / 'ünï cödé' / 'labels é.tif'
    outcome = run_cli(capsys, *RASTERIZE, '--bvm', hostile_data / source, '--out', out)
    assert outcome.code == 0, outcome.err
    assert f'wrote {out}' in outcome.out
    with rasterio.open(out) as got, rasterio.open(hostile_data / 'labels.tif') as want:
        assert got.transform == want.transform
        assert (got.read(1) == want.read(1)).all()


def test_rasterize_takes_only_the_grid_of_a_truncated_reference(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    # The grid lies in the header, which a file cut in half still holds whole.
    out = tmp_path / 'labels.tif'
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--bvm', hostile_data / 'layers/good/BwkHab.shp',
        '--like', hostile_data / 'files/half.tif', '--out', out,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    assert out.read_bytes() == (hostile_data / 'labels.tif').read_bytes()


def _spellings(folder: Path, name: str) -> dict[str, Path]:
    shp = folder / 'BwkHab.shp'
    link = folder / 'link.shp'
    link.symlink_to(shp)
    hard = folder / 'hard.shp'
    os.link(shp, hard)
    return {
        'same': shp,
        'dotted': folder / '.' / 'sub' / '..' / 'BwkHab.shp',
        'double_slash': Path(str(folder) + '//BwkHab.shp'),
        'symlink': link,
        'hardlink': hard,
        'dbf': folder / 'BwkHab.dbf',
        'shx': folder / 'BwkHab.shx',
        'prj': folder / 'BwkHab.prj',
        'cpg': folder / 'BwkHab.cpg',
    }


@pytest.mark.parametrize(
    'spelling',
    [
        'same',
        'dotted',
        'double_slash',
        'symlink',
        'hardlink',
        'dbf',
        'shx',
        'prj',
        'cpg',
    ],
)
def test_rasterize_never_writes_over_its_layer(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    shp = copy_layer(hostile_data / 'layers/good/BwkHab.shp', tmp_path)
    (tmp_path / 'sub').mkdir()
    out = _spellings(tmp_path, 'BwkHab')[spelling]
    before = snapshot(tmp_path)
    outcome = run_cli(capsys, *RASTERIZE, '--bvm', shp, '--out', out, '--overwrite')
    assert_refused(outcome, 'would write over the input')
    assert_untouched(before, tmp_path)


def test_rasterize_never_writes_over_its_reference_or_mapping(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    like = tmp_path / 'like.tif'
    like.write_bytes((hostile_data / 'labels.tif').read_bytes())
    mapping = tmp_path / 'mapping.csv'
    mapping.write_text('code,class\nbu,Woodland and shrub\n')
    before = snapshot(tmp_path)
    bvm = hostile_data / 'layers/good/BwkHab.shp'
    for argv in (
        ['--like', like, '--out', like],
        ['--mapping', mapping, '--out', mapping, '--crs', 'EPSG:32631'],
        ['--like', like, '--out', tmp_path / 'like.tif.aux.xml'],
    ):
        outcome = run_cli(
            capsys, 'rasterize', '--quiet', '--bvm', bvm, *argv, '--overwrite'
        )
        assert_refused(outcome, 'would write over the input')
    assert_untouched(before, tmp_path)


def test_rasterize_replaces_an_output_only_with_overwrite(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / 'labels.tif'
    out.write_bytes(b'an older file')
    bvm = hostile_data / 'layers/good/BwkHab.shp'
    outcome = run_cli(capsys, *RASTERIZE, '--bvm', bvm, '--out', out)
    assert_refused(outcome, f'{out} exists, use --overwrite')
    assert out.read_bytes() == b'an older file'
    outcome = run_cli(capsys, *RASTERIZE, '--bvm', bvm, '--out', out, '--overwrite')
    assert outcome.code == 0
    assert out.read_bytes() == (hostile_data / 'labels.tif').read_bytes()


@pytest.mark.parametrize(
    ('out', 'words'),
    [
        ('.', ['is a folder']),
        ('blocker/labels.tif', ['blocker', 'is a file']),
    ],
)
def test_rasterize_output_path_that_cannot_be_a_file(
    hostile_data: Path, tmp_path: Path, capsys, out: str, words: list[str]
) -> None:
    (tmp_path / 'blocker').write_text('a file, not a folder')
    outcome = run_cli(
        capsys, *RASTERIZE, '--bvm', hostile_data / 'layers/good/BwkHab.shp',
        '--out', tmp_path / out,
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['blocker']


@pytest.mark.parametrize(
    ('labels', 'words'),
    [
        ('files/nope.tif', ['nope.tif not found']),
        ('files/empty.tif', ['empty.tif', 'cannot be read as a raster']),
        ('files/half.tif', ['half.tif']),
        ('files/folder.tif', ['folder.tif not found']),
        ('rasters/reflectance.tif', ['reflectance.tif', 'not a label raster', 'int16']),
        ('rasters/int16.tif', ['int16.tif', 'not a label raster', 'int16']),
        ('rasters/two_bands.tif', ['two_bands.tif', '2 band(s)']),
        ('rasters/no_crs.tif', ['no_crs.tif', 'no CRS']),
        ('rasters/value_77.tif', ['value_77.tif', 'value 77']),
        ('rasters/elsewhere.tif', ['elsewhere.tif', 'no pixel of the raster lies']),
        ('layers/good/BwkHab.shp', ['BwkHab.shp']),
    ],
)
def test_stats_refuses_what_is_not_a_label_raster(
    hostile_data: Path, tmp_path: Path, capsys, labels: str, words: list[str]
) -> None:
    out = tmp_path / 'stats'
    before = snapshot(hostile_data)
    outcome = run_cli(capsys, 'stats', '--labels', hostile_data / labels, '--out', out)
    assert_refused(outcome, *words)
    assert_untouched(before, hostile_data)
    assert not out.exists() or list(out.iterdir()) == []


def test_stats_honours_the_rasters_nodata(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    # nodata 0: class 0 pixels of that file are no data, not Coastal dune.
    outcome = run_cli(
        capsys, 'stats', '--labels', hostile_data / 'rasters/nodata_0.tif',
        '--out', tmp_path,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    counts = (tmp_path / 'class_counts.csv').read_text().splitlines()
    assert counts[1].startswith('Coastal dune habitats,0,0,0,0,')


@pytest.mark.parametrize(
    ('scheme', 'words'),
    [
        ('files/nope.json', ['split scheme file not found', 'nope.json']),
        ('files/scheme_text.json', ['scheme_text.json', 'not valid JSON']),
        ('files/scheme_list.json', ['scheme_list.json', 'expected a JSON object']),
        ('files/scheme_binary.json', ['scheme_binary.json', 'not valid JSON']),
        ('files/folder.tif', ['split scheme file not found', 'folder.tif']),
    ],
)
def test_stats_refuses_a_bad_scheme_file(
    hostile_data: Path, tmp_path: Path, capsys, scheme: str, words: list[str]
) -> None:
    outcome = run_cli(
        capsys, 'stats', '--labels', hostile_data / 'labels.tif', '--out', tmp_path,
        '--split', hostile_data / scheme,
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert list(tmp_path.iterdir()) == []


def test_stats_rerun_leaves_no_stale_file(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    labels = hostile_data / 'labels.tif'
    assert run_cli(capsys, 'stats', '--labels', labels, '--out', tmp_path).code == 0
    assert (tmp_path / 'class_weights.json').is_file()
    # A scheme without a train split: the old class weights must go.
    scheme = tmp_path.parent / 'no_train.json'
    scheme.write_text('{"1-2": "a", "3-4": "b", "5-6": "a", "7-8": "b"}')
    outcome = run_cli(
        capsys, 'stats', '--labels', labels, '--out', tmp_path, '--split', scheme
    )
    assert outcome.code == 0, outcome.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'chi_squared.csv', 'class_counts.csv', 'class_distribution.png',
        'split_statistics.md',
    ]  # fmt: skip


def test_stats_into_a_file_is_refused(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / 'stats'
    blocker.write_text('a file')
    outcome = run_cli(
        capsys, 'stats', '--labels', hostile_data / 'labels.tif', '--out', blocker
    )
    assert_refused(outcome, 'stats is a file')
    assert blocker.read_text() == 'a file'


@pytest.mark.parametrize(
    ('argv', 'words'),
    [
        (['--out', 'sheets.txt'], ['sheets.txt', "unknown output format '.txt'"]),
        (['--out', '.'], ['is a folder']),
        (['--out', 'a.gpkg', '--plot', 'a.gpkg'], ['would write over the input']),
        (['--out', 'existing.gpkg'], ['existing.gpkg exists, use --overwrite']),
        (['--out', 'a.gpkg', '--plot', 'existing.png'], ['existing.png exists']),
        (['--out', 'blocker/a.gpkg'], ['blocker', 'is a file']),
    ],
)
def test_grid_output_problems(
    tmp_path: Path, capsys, argv: list[str], words: list[str]
) -> None:
    (tmp_path / 'existing.gpkg').write_bytes(b'old')
    (tmp_path / 'existing.png').write_bytes(b'old')
    (tmp_path / 'blocker').write_text('a file')
    before = snapshot(tmp_path)
    argv = [str(tmp_path / a) if not a.startswith('--') else a for a in argv]
    outcome = run_cli(capsys, 'grid', '--sheets', '22', *argv)
    assert_refused(outcome, *words)
    assert_untouched(before, tmp_path)


def test_grid_replaces_with_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / 'sheets.gpkg'
    out.write_bytes(b'old')
    outcome = run_cli(capsys, 'grid', '--sheets', '22', '--out', out, '--overwrite')
    assert outcome.code == 0, outcome.err
    assert out.read_bytes()[:15] == b'SQLite format 3'


@pytest.mark.parametrize('command', ['download', 'synth', 'demo'])
def test_owned_folder_that_is_a_file(tmp_path: Path, capsys, command: str) -> None:
    blocker = tmp_path / 'out'
    blocker.write_text('a file')
    argv = {
        'download': [
            '--sheets',
            '22/1-2',
            '--years',
            '2022',
            '--backend',
            'http://127.0.0.1:9',
        ],
        'synth': ['--size', 'tiny'],
        'demo': ['--size', 'tiny'],
    }[command]
    outcome = run_cli(capsys, command, '--out', blocker, *argv)
    assert_refused(outcome, 'out', 'is a file')
    assert blocker.read_text() == 'a file'


# -- a full disk and a read-only folder, for real ------------------------------------


def _writers(data: Path) -> dict[str, list[object]]:
    return {
        'rasterize': [*RASTERIZE, '--bvm', data / 'layers/good/BwkHab.shp', '--out', '{out}/labels.tif'],
        'grid': ['grid', '--level', 'kbl16', '--out', '{out}/sheets.gpkg', '--plot', '{out}/split.png'],
        'stats': ['stats', '--labels', data / 'labels.tif', '--out', '{out}'],
        'synth': ['synth', '--size', 'tiny', '--no-plot', '--out', '{out}/mf'],
        'download': ['download', '--sheets', '22/1-2', '--years', '2022', '--months', '4', '--quiet', '--poll-interval', '0.01', '--no-auth', '--out', '{out}/s2'],
    }  # fmt: skip


@needs_mount
@pytest.mark.parametrize('kind', ['full', 'readonly'])
@pytest.mark.parametrize('command', ['rasterize', 'grid', 'stats', 'synth', 'download'])
def test_full_disk_or_read_only_folder_leaves_nothing(
    hostile_data: Path, tmp_path: Path, kind: str, command: str
) -> None:
    folder = tmp_path / 'disk'
    folder.mkdir()
    argv = [
        str(a).replace('{out}', str(folder)) for a in _writers(hostile_data)[command]
    ]
    before = snapshot(hostile_data)
    with LocalOpenEO(width=300, height=300) as server:
        # The download reaches a real (local) backend and fails writing.
        done = (
            run_mounted([*argv, '--backend', server.url], folder, kind=kind)
            if (command == 'download')
            else run_mounted(argv, folder, kind=kind)
        )
    words = {'full': 'the disk is full', 'readonly': 'Read-only file system'}
    assert_refused(done.outcome, words[kind])
    assert [n for n in done.listing if '.tmp-' in n] == []
    left = [n for n in done.listing if n != 'filler']
    if kind == 'readonly':
        assert left == []  # refused before anything was written
    elif command == 'synth':
        # synth owns its folder: finished files may stay for the next run, but
        # the folder is not marked complete, so nothing reuses it as it is.
        assert '"complete": false' in done.manifest
    elif command == 'download':
        # Its manifest keeps the job for a resume; no GeoTIFF, whole or part.
        assert [n for n in left if n.endswith('.tif')] == [], left
    else:
        assert left == [], left
    assert_untouched(before, hostile_data)
    assert list(folder.iterdir()) == []
