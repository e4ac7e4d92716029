"""``torchgeo-bvm compare``: missing or misplaced maps, bad layers, its own inputs.

The label raster of the mini-Flanders stands in for a class map (one uint8 band
of class ids, 255 as nodata: the format of a fused map, read without its
confidence raster).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from tests.hostile.hostile import (
    assert_refused,
    assert_untouched,
    run_cli,
    snapshot,
    staging_left,
)
from torchgeo_bvm.maps.compare import OUTPUT_NAMES

COMPARE = ('compare', '--no-confidence', '--quiet')
GOOD = 'layers/good/BwkHab.shp'

REFUSED = [
    (GOOD, 'files/nope.tif', [], ['class map not found', 'nope.tif']),
    (GOOD, 'files/empty.tif', [], ['empty.tif']),
    (GOOD, 'rasters/elsewhere.tif', [], ['elsewhere.tif', 'do not overlap the BVM layer']),
    (GOOD, 'rasters/reflectance.tif', [], ['reflectance.tif', 'not a class map']),
    (GOOD, 'rasters/value_77.tif', [], ['value_77.tif', 'not a class map: values 77']),
    ('files/nope.shp', 'labels.tif', [], ['BVM layer not found', 'nope.shp']),
    ('layers/points/BwkHab.shp', 'labels.tif', [], ['Point geometries']),
    ('layers/prj_utm/BwkHab.shp', 'labels.tif', [], ['outside Flanders']),
    ('layers/labels/BwkHab.shp', 'labels.tif', ['--label-field', 'LabelT'], ["'LabelT' is text but holds only numbers"]),
]  # fmt: skip


@pytest.mark.parametrize(('bvm', 'maps', 'extra', 'words'), REFUSED)
def test_compare_refuses_what_it_cannot_compare(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    bvm: str,
    maps: str,
    extra: list[str],
    words: list[str],
) -> None:
    before = snapshot(hostile_data)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        outcome = run_cli(
            capsys, *COMPARE, '--bvm', hostile_data / bvm, '--maps', hostile_data / maps,
            '--out', tmp_path / 'compared', *extra,
        )  # fmt: skip
    assert_refused(outcome, *words)
    assert_untouched(before, hostile_data)
    assert list(tmp_path.iterdir()) == []


def test_compare_never_writes_over_its_layer(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / 'compared'
    out.mkdir()
    bvm = out / 'disagreement.gpkg'
    shutil.copy(hostile_data / 'layers/gpkg/BwkHab.gpkg', bvm)
    before = snapshot(out)
    outcome = run_cli(
        capsys, *COMPARE, '--bvm', bvm, '--maps', hostile_data / 'labels.tif',
        '--out', out, '--overwrite',
    )  # fmt: skip
    assert_refused(outcome, 'would write over the input', 'disagreement.gpkg')
    assert_untouched(before, out)


@pytest.mark.slow
def test_compare_replaces_its_outputs_only_with_overwrite(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / 'compared'
    argv = [
        *COMPARE,
        '--bvm',
        hostile_data / GOOD,
        '--maps',
        hostile_data / 'labels.tif',
    ]
    argv += ['--out', out]
    first = run_cli(capsys, *argv)
    assert first.code == 0, first.err
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES.values())
    before = snapshot(out)
    assert_refused(run_cli(capsys, *argv), 'disagreement.gpkg', 'use --overwrite')
    assert_untouched(before, out)
    again = run_cli(capsys, *argv, '--overwrite')
    assert again.code == 0, again.err
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES.values())
    assert staging_left(out) == []


def _geometries_gone(hostile_data: Path, folder: Path, kind: str) -> Path:
    """The good layer with every geometry empty or missing, as a shapefile or GeoParquet."""
    import geopandas as gpd
    import shapely

    frame = gpd.read_file(hostile_data / GOOD, engine='pyogrio')
    frame['geometry'] = [shapely.Polygon() if kind == 'empty' else None] * len(frame)
    folder.mkdir()
    if kind == 'parquet':
        path = folder / 'BwkHab.parquet'
        frame.to_parquet(path)
    else:
        path = folder / 'BwkHab.shp'
        frame.to_file(path, engine='pyogrio', geometry_type='Polygon')
    return path


@pytest.mark.parametrize('kind', ['empty', 'missing', 'parquet'])
def test_compare_on_a_layer_without_any_geometry(
    hostile_data: Path, tmp_path: Path, capsys, kind: str
) -> None:
    # A shapefile of null shapes declares the extent (0, 0, 0, 0): not a .prj
    # problem.
    bvm = _geometries_gone(hostile_data, tmp_path / 'layer', kind)
    outcome = run_cli(
        capsys, *COMPARE, '--bvm', bvm, '--maps', hostile_data / 'labels.tif',
        '--out', tmp_path / 'compared',
    )  # fmt: skip
    line = assert_refused(
        outcome, f'{bvm}: none of its 925 geometries has an extent (all empty or '
        'missing): nothing to label',
    )  # fmt: skip
    assert '.prj' not in line
    assert not (tmp_path / 'compared').exists()


@pytest.mark.parametrize('removed', ['22_1-2.tif', '22_1-2_confidence.tif'])
def test_compare_on_a_mosaic_whose_sheet_was_removed(
    hostile_data: Path, tmp_path: Path, capsys, removed: str
) -> None:
    from torchgeo_bvm.maps.fusion import write_mosaic

    maps = tmp_path / 'fused'
    maps.mkdir()
    for suffix in ('', '_confidence', '_count'):
        shutil.copy(hostile_data / 'labels.tif', maps / f'22_1-2{suffix}.tif')
    mosaic = write_mosaic([maps / '22_1-2.tif'], maps / 'mosaic.vrt')['classes']
    (maps / removed).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        outcome = run_cli(
            capsys, 'compare', '--quiet', '--bvm', hostile_data / GOOD,
            '--maps', mosaic, '--out', tmp_path / 'compared',
        )  # fmt: skip
    vrt = mosaic if removed == '22_1-2.tif' else maps / 'mosaic_confidence.vrt'
    assert_refused(
        outcome, f'{vrt}: the mosaic reads {maps / removed}, which is missing'
    )
    assert not (tmp_path / 'compared').exists()
