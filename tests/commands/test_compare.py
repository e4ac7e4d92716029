"""``torchgeo-bvm compare``: outputs, bad input in one line, and the documented commands."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio

from tests.compare_scene import (
    L72,
    map_confidence,
    scene_grid,
    sheet_keep,
    write_documented_inputs,
    write_scene_bvm,
    write_scene_map,
)
from torchgeo_bvm.cli import main
from torchgeo_bvm.commands import compare as command
from torchgeo_bvm.maps.compare import OUTPUT_NAMES
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.classmap import write_class_map

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'compare.rst'


@pytest.fixture(scope='module')
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_documented_inputs(tmp_path_factory.mktemp('documented'))


def _workspace(inputs: Path, tmp_path: Path) -> Path:
    """A fresh folder holding (links to) the documented inputs."""
    folder = tmp_path / 'work'
    folder.mkdir(parents=True)
    for entry in inputs.iterdir():
        (folder / entry.name).symlink_to(entry)
    return folder


def _commands(text: str) -> list[str]:
    """The ``torchgeo-bvm compare`` commands of a text, continuation lines joined."""
    joined = re.sub(r'\\\n\s*', '', text)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip().startswith('torchgeo-bvm compare ')
    ]


@pytest.mark.slow
def test_the_documented_commands_run_as_written(
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = _commands(DOCS.read_text()) + _commands(command.__doc__ or '')
    assert len(commands) == 8
    for number, line in enumerate(commands):
        folder = _workspace(inputs, tmp_path / str(number))
        monkeypatch.chdir(folder)
        argv = shlex.split(line)[1:]
        assert main([*argv, '--quiet']) == 0, line
        given = Path(argv[argv.index('--out') + 1])
        for name in OUTPUT_NAMES.values():
            assert (folder / given / name).is_file(), (line, name)
        printed = capsys.readouterr().out
        assert 'polygons with pixels' in printed
        assert f'wrote {given / OUTPUT_NAMES["geopackage"]}' in printed
        if '--truth' in argv:
            assert (folder / given / 'truth_scores.csv').is_file()
            assert 'against the truth (changes.csv, changes up to 2022): ' in printed


def test_the_command_writes_and_prints(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'comparison'
    argv = ['compare', '--bvm', str(inputs / 'BwkHab.shp')]
    argv += ['--maps', str(inputs / 'fused' / '2022'), '--out', str(out)]
    assert main([*argv, '--top', '3', '--quiet']) == 0
    printed = capsys.readouterr().out.splitlines()
    frame = pyogrio.read_dataframe(out / OUTPUT_NAMES['geopackage'])
    candidates = int(frame['candidate'].sum())
    assert printed[0].endswith(f', {candidates} candidates')
    assert printed[1].startswith('pixel agreement with the BVM ')
    assert printed[2] == '3 polygons most probably out of date:'
    first = frame.iloc[0]
    assert printed[3].startswith(f'    1 {first["TAG"]} (UIDN {first["UIDN"]}): BVM ')
    written = [f'wrote {out / name}' for name in OUTPUT_NAMES.values()]
    assert printed[-len(OUTPUT_NAMES) :] == written
    # The maps of the two sheets were both read: polygons on each side count.
    assert (frame['pixels'] > 0).sum() >= 25


def test_overwrite(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'comparison'
    argv = ['compare', '--bvm', str(inputs / 'BwkHab.gpkg'), '--maps']
    argv += [
        str(inputs / 'mosaic.tif'),
        '--no-confidence',
        '--out',
        str(out),
        '--quiet',
    ]
    assert main(argv) == 0
    before = {name: (out / name).stat().st_mtime_ns for name in OUTPUT_NAMES.values()}
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error == (
        f'torchgeo-bvm compare: error: {out / "disagreement.gpkg"} exists, use '
        '--overwrite to replace it\n'
    )
    assert before == {n: (out / n).stat().st_mtime_ns for n in OUTPUT_NAMES.values()}
    assert main([*argv, '--overwrite']) == 0
    assert all((out / n).stat().st_mtime_ns > t for n, t in before.items())
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES.values())


def _far_map(folder: Path) -> list[str]:
    far = Grid.from_bounds((30_000, 160_000, 31_000, 161_000), L72, 20.0)
    zeros = np.zeros(far.shape, dtype=np.uint8)
    write_class_map(folder / 'far.tif', zeros, far, map_confidence(far))
    return ['--maps', str(folder / 'far.tif')]


def _no_confidence(folder: Path) -> list[str]:
    path = write_scene_map(
        folder / 'plain.tif', scene_grid(L72, 20.0), confidence=False
    )
    return ['--maps', str(path)]


def _reflectance(folder: Path) -> list[str]:
    grid = scene_grid(L72, 20.0)
    profile = {'driver': 'GTiff', 'dtype': 'float32', 'count': 4, 'crs': L72}
    profile |= {'transform': grid.transform, 'width': grid.shape[1]}
    profile |= {'height': grid.shape[0]}
    with rasterio.open(folder / 'S2_reflectance.tif', 'w', **profile) as dst:
        dst.write(np.full((4, *grid.shape), 0.12, dtype=np.float32))
    return ['--maps', str(folder / 'S2_reflectance.tif'), '--no-confidence']


def _many_values(folder: Path) -> list[str]:
    grid = scene_grid(L72, 20.0)
    values = (np.arange(grid.shape[0] * grid.shape[1]) % 200).astype(np.uint8)
    write_class_map(
        folder / 'ndvi.tif', values.reshape(grid.shape), grid, map_confidence(grid)
    )
    return ['--maps', str(folder / 'ndvi.tif')]


def _sibling(folder: Path) -> list[str]:
    path = write_scene_map(folder / 'map.tif', scene_grid(L72, 20.0))
    return ['--maps', str(path.with_name('map_confidence.tif'))]


def _overlapping(folder: Path) -> list[str]:
    grid = scene_grid('EPSG:32631', 20.0)
    whole = write_scene_map(folder / 'mosaic.tif', grid)
    part = write_scene_map(
        folder / 'sheet' / '22_1-2.tif', grid, sheet_keep(grid, '22/1-2')
    )
    return ['--maps', str(whole), str(part)]


def _map(folder: Path) -> list[str]:
    return ['--maps', str(write_scene_map(folder / 'map.tif', scene_grid(L72, 20.0)))]


BAD: dict[str, tuple[Callable[[Path], list[str]], list[str], str]] = {
    # name: (maps and options, BVM options, words of the message)
    'no overlap': (_far_map, [], r'far\.tif\) do not overlap the BVM layer .*BwkHab'),
    'no confidence': (_no_confidence, [], r'plain\.tif: no confidence raster plain_c'),
    'reflectance': (_reflectance, [], r'S2_reflectance\.tif: not a class map: 4 band'),
    'not classes': (_many_values, [], r'ndvi\.tif: not a class map: values 14, 15'),
    'sibling': (_sibling, [], r'map_confidence\.tif: a sibling of a class map'),
    'overlapping maps': (_overlapping, [], r'mosaic\.tif and .*22_1-2\.tif both have'),
    'no layer': (_map, ['--layer', 'Bwk'], r"no layer 'Bwk'; the layers are BwkHab"),
    'no field': (_map, ['--label-field', 'EENH9'], r"no field 'EENH9'; the layer has"),
    'no map': (
        lambda f: ['--maps', str(f / 'nothing.tif')],
        [],
        r'not found: .*nothing',
    ),
    'bad top': (_map, ['--top', '-1'], r'--top must be between 0 and 100, got -1'),
}


@pytest.mark.parametrize('case', BAD)
def test_bad_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, options, message = BAD[case]
    bvm = write_scene_bvm(tmp_path / 'BwkHab.gpkg')
    maps = make(tmp_path)
    out = tmp_path / 'out'
    argv = ['compare', '--bvm', str(bvm), *maps, '--out', str(out), *options]
    assert main([*argv, '--quiet']) == 2
    captured = capsys.readouterr()
    assert 'Traceback' not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('torchgeo-bvm compare: error: ')
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_missing_bvm_and_missing_output_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maps = _map(tmp_path)
    argv = ['compare', '--bvm', str(tmp_path / 'BwkHab.shp'), *maps, '--out']
    assert main([*argv, str(tmp_path / 'out'), '--quiet']) == 2
    assert capsys.readouterr().err == (
        f'torchgeo-bvm compare: error: BVM layer not found: {tmp_path / "BwkHab.shp"}\n'
    )
    # The BVM layer is never overwritten, even with --overwrite.
    out = tmp_path / 'out'
    out.mkdir()
    bvm = write_scene_bvm(out / 'disagreement.gpkg')
    content = bvm.read_bytes()
    argv = ['compare', '--bvm', str(bvm), *maps, '--out', str(out), '--overwrite']
    assert main(argv) == 2
    assert 'would write over the input' in capsys.readouterr().err
    assert bvm.read_bytes() == content
    assert sorted(p.name for p in out.iterdir()) == ['disagreement.gpkg']
    shutil.rmtree(out)
