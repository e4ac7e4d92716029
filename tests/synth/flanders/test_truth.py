from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from tests.synth.flanders.reading import TINY
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.bvm.units import UnitMapping
from torchgeo_bvm.spatial.crs import LAMBERT72, UTM31N
from torchgeo_bvm.spatial.geometry import reproject_geometry
from torchgeo_bvm.spatial.scanline import polygon_coverage
from torchgeo_bvm.synth.flanders import (
    CHANGE_COLUMNS,
    SIZES,
    landcover_name,
    load_manifest,
    write_mini_flanders,
)
from torchgeo_bvm.synth.flanders.imagery import (
    PixelMixes,
    imagery_grid,
    polygon_ids,
    surface,
    texture,
)
from torchgeo_bvm.synth.flanders.kinds import KIND
from torchgeo_bvm.synth.flanders.landscape import World
from torchgeo_bvm.synth.flanders.spectra import draw_traits


def _check_truth(out: Path, manifest: dict[str, Any], tmp_path: Path) -> None:
    """The BVM records of the listed polygons disagree with the truth, all others agree."""
    bvm = gpd.read_file(out / manifest['bvm'])
    changes = pd.read_csv(out / manifest['truth']['changes'])
    assert tuple(changes.columns) == CHANGE_COLUMNS
    assert len(changes) == manifest['truth']['changed_polygons']
    assert len(changes) == round(manifest['change_share'] * len(bvm))
    rows = bvm.reset_index().set_index('TAG').loc[changes['TAG'], 'index'].to_numpy()
    assert changes['UIDN'].tolist() == bvm['UIDN'].iloc[rows].tolist()
    records = UnitMapping().map_codes(bvm['EENH1'], bvm['HAB1']).ids
    assert changes['bvm_class'].tolist() == records[rows].tolist()
    assert (changes['true_class'] != changes['bvm_class']).all()
    mapped = changes['TAG'].map(lambda tag: int(tag.rpartition('_v')[2]))
    assert ((changes['change_year'] > mapped) & (changes['change_year'] <= 2022)).all()

    labels = rasterize_bvm(
        out / manifest['bvm'],
        tmp_path / 'labels.tif',
        crs=UTM31N,
        res=10.0,
        progress=False,
    )
    with rasterio.open(labels) as source:
        label, grid = source.read(1), (source.crs, source.transform, source.shape)
    geometries = reproject_geometry(bvm.geometry.to_numpy(), LAMBERT72, UTM31N, 0.0)
    for year, name in manifest['truth']['landcover'].items():
        assert name == landcover_name(int(year))
        with rasterio.open(out / name) as source:
            truth = source.read(1)
            assert (source.crs, source.transform, source.shape) == grid
            assert source.nodata == 255
            assert source.descriptions == (f'true land cover {year}',)
        done = changes[changes['change_year'] <= int(year)]
        cover = np.zeros(truth.shape, dtype=bool)
        for row, tag in zip(rows[done.index], done['TAG'], strict=True):
            inside = polygon_coverage(
                shapely.get_parts(geometries[row]), grid[1], truth.shape
            )
            cover |= inside
            differ = inside & (truth != label)
            record = done.set_index('TAG').loc[tag]
            assert (label[differ] == record['bvm_class']).all()
            assert (truth[differ] == record['true_class']).all()
        # Outside the changed polygons the truth is the BVM.
        assert np.array_equal(truth[~cover], label[~cover])
        assert (truth[cover] != label[cover]).sum() > 0 or done.empty


def test_truth_lists_the_changes_and_the_land_cover_of_each_year(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = tiny
    assert manifest['truth'] == {
        **load_manifest(out)['truth'],
    }
    assert sorted(manifest['truth']['landcover']) == ['2020', '2021']
    assert sum(manifest['truth']['transitions'].values()) == len(
        pd.read_csv(out / 'truth' / 'changes.csv')
    )
    for name in ('truth/changes.csv', 'truth/landcover_2020.tif'):
        assert manifest['sizes'][name] == (out / name).stat().st_size
    _check_truth(out, manifest, tmp_path)


@pytest.mark.slow
def test_small_mini_flanders_has_its_truth(tmp_path: Path) -> None:
    out = tmp_path / 'small'
    manifest = write_mini_flanders(out, 'small', seed=0, plot=False)
    _check_truth(out, manifest, tmp_path)


def test_without_changes_the_truth_is_the_bvm(tmp_path: Path) -> None:
    out = tmp_path / 'mini'
    manifest = write_mini_flanders(out, 'tiny', seed=5, plot=False, change_share=0.0)
    assert manifest['truth']['changed_polygons'] == 0
    assert pd.read_csv(out / 'truth' / 'changes.csv').empty
    _check_truth(out, manifest, tmp_path)


def test_the_imagery_shows_the_new_cover_from_the_change_year_on() -> None:
    grid = imagery_grid(TINY.bounds)
    x0, y0 = TINY.bounds[0], TINY.bounds[1]
    geometries = np.asarray(
        [
            shapely.box(x0, y0, x0 + 1600, y0 + 2000),
            shapely.box(x0 + 1600, y0, x0 + 3200, y0 + 2000),
        ],
        dtype=object,
    )
    kinds = np.array([KIND['grass'], KIND['arable']], dtype=np.int64)
    before = World(geometries, kinds, shapely.box(*TINY.bounds))
    # The meadow is built on in 2021: dates 0-2 are of 2020, date 3 of 2021.
    changed = before.changed_into(
        np.array([0]), np.array([KIND['urban']]), np.array([2021])
    )
    after = World(
        geometries, np.array([KIND['urban'], KIND['arable']]), before.flanders
    )
    assert changed.kinds_in(2020).tolist() == kinds.tolist()
    assert changed.kinds_in(2021).tolist() == [KIND['urban'], KIND['arable']]
    mixes = PixelMixes.of(polygon_ids(before, grid), 2)
    traits = draw_traits(kinds, 0)
    grain = texture(grid, 0)
    for date, like in ((0, before), (2, before), (3, after)):
        assert np.array_equal(
            surface(changed, mixes, traits, grain, date, 0),
            surface(like, mixes, traits, grain, date, 0),
        )
    assert not np.array_equal(
        surface(changed, mixes, traits, grain, 3, 0),
        surface(before, mixes, traits, grain, 3, 0),
    )


def test_a_rerun_with_another_change_share_regenerates(tmp_path: Path) -> None:
    out = tmp_path / 'mini'
    write_mini_flanders(out, 'tiny', seed=5, plot=False, change_share=0.0)
    again = write_mini_flanders(out, 'tiny', seed=5, plot=False, change_share=0.0)
    assert again['reused'] is True
    other = write_mini_flanders(out, 'tiny', seed=5, plot=False)
    assert other['reused'] is False
    assert other['truth']['changed_polygons'] > 0
    assert SIZES['tiny'] == TINY
