import os
from pathlib import Path

import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine
from shapely.geometry import box

from tests.hostile.hostile import copy_layer
from tests.joint_scene import (
    FLANDERS_EAST,
    LEFT,
    RES,
    TOP,
    Scene,
    write_scene,
)
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.sheets.boundary import (
    FlandersMask,
    _scanline_coverage,
    flanders_from_labels,
    read_boundary,
)
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.synth.flanders import write_refgew


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def test_read_boundary_with_the_esri_lambert_prj(scene: Scene) -> None:
    region = read_boundary(scene.boundary)
    assert region.equals(box(*Sheet.parse(22).bounds[:2], FLANDERS_EAST, TOP))


def test_read_boundary_dissolves_and_checks(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='boundary file not found'):
        read_boundary(tmp_path / 'Refgew.shp')
    halves = write_refgew(tmp_path / 'a' / 'Refgew.shp', box(0, 0, 10, 10))
    assert read_boundary(halves).area == 100


def test_flanders_from_vector_labels_is_cached(scene: Scene, tmp_path: Path) -> None:
    bvm = copy_layer(scene.bvm, tmp_path / 'layer')
    cache = tmp_path / 'cache'
    region = flanders_from_labels([bvm], resolution=100.0, cache_dir=cache)
    # every 1 km square but the four missing ones in the north-west corner
    assert region.area == pytest.approx(640e6 - 4e6)
    assert not region.contains(box(LEFT + 100, TOP - 900, LEFT + 3900, TOP - 100))
    (cached,) = cache.glob('flanders-*.gpkg')
    stamp = cached.stat().st_mtime_ns
    times = (bvm.stat().st_atime_ns, bvm.stat().st_mtime_ns)
    os.utime(bvm, ns=(times[0], times[1] + 10**9))  # touched, not changed
    again = flanders_from_labels([bvm], resolution=100.0, cache_dir=cache)
    assert again.equals(region)
    assert cached.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [cached.name]  # no leftovers
    # Changed in place with its size and time kept (cp -p): a new entry.
    data = bytearray(bvm.read_bytes())
    data[36] ^= 1  # the last bit of the header's xmin
    bvm.write_bytes(bytes(data))
    os.utime(bvm, ns=times)
    flanders_from_labels([bvm], resolution=100.0, cache_dir=cache)
    assert len(list(cache.glob('flanders-*.gpkg'))) == 2


def test_flanders_from_a_label_raster(scene: Scene, tmp_path: Path) -> None:
    labels = rasterize_bvm(
        scene.bvm, tmp_path / 'labels.tif', crs='EPSG:31370', res=RES, progress=False
    )
    region = flanders_from_labels([labels], resolution=100.0, cache_dir=tmp_path / 'c')
    assert region.area == pytest.approx(640e6 - 4e6)


def test_flanders_from_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='BVM label path not found'):
        flanders_from_labels([tmp_path / 'BwkHab.shp'], cache_dir=tmp_path)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no BVM label files found'):
        flanders_from_labels([tmp_path / 'empty'], cache_dir=tmp_path)


def test_flanders_mask_inside_outside_and_across_the_border() -> None:
    mask = FlandersMask(box(0, 0, 100, 100), crs='EPSG:31370')
    inside = mask(Affine(10, 0, 10, 0, -10, 90), (4, 4))
    assert inside.all()
    outside = mask(Affine(10, 0, 200, 0, -10, 90), (4, 4))
    assert not outside.any()
    border = mask(Affine(10, 0, 70, 0, -10, 90), (2, 6))  # columns 70..130
    assert (border == np.array([[1, 1, 1, 0, 0, 0]] * 2, bool)).all()


def test_flanders_mask_where_the_window_cuts_the_region_in_two() -> None:
    # A U-shaped region: the window across both arms clips it to a MultiPolygon.
    region = box(0, 0, 100, 100).difference(box(30, 20, 70, 100))
    mask = FlandersMask(region, crs='EPSG:31370')
    inside = mask(Affine(10, 0, 0, 0, -10, 90), (4, 10))  # y 50..90, x 0..100
    expected = np.zeros((4, 10), bool)
    expected[:, :3] = expected[:, 7:] = True
    assert np.array_equal(inside, expected)
    gdal = rasterio.features.geometry_mask(
        [region], (4, 10), Affine(10, 0, 0, 0, -10, 90), invert=True
    )
    assert np.array_equal(inside, gdal)


def test_scanline_coverage_matches_gdal_on_polygons_with_holes() -> None:
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1000, (60, 2))
    shells = shapely.buffer(
        shapely.points(centres), rng.uniform(10, 80, 60), quad_segs=3
    )
    holes = shapely.buffer(shapely.points(centres), 6.0, quad_segs=2)
    polygons = shapely.difference(shells, holes)  # rings with holes, overlapping
    transform = Affine(7.0, 0, -50, 0, -7.0, 1050)
    shape = (160, 160)
    ours = _scanline_coverage(polygons, transform, shape)
    inside = rasterio.features.rasterize(
        polygons, out_shape=shape, transform=transform, all_touched=False
    ).astype(bool)
    vertices = np.zeros(shape, bool)
    xy = shapely.get_coordinates(polygons)
    vertices[
        np.floor((1050 - xy[:, 1]) / 7).astype(int),
        np.floor((xy[:, 0] + 50) / 7).astype(int),
    ] = True
    assert (ours[inside]).all()
    assert not (ours & ~inside & ~vertices).any()
