from pathlib import Path

import numpy as np
import pytest
import shapely
from rasterio.transform import from_origin

from torchgeo_bvm.bvm.polygonstore import MAGIC, PolygonStore, StoreInfo
from torchgeo_bvm.spatial.scanline import Outlines, burn_polygons
from torchgeo_bvm.synth.bvm import tessellation

INFO = StoreInfo([['/data/BwkHab.shp', 1, 2, 'abc']], 'WKT', 0, 0, (1.0, 2.0, 3.0, 4.0))


def polygons() -> np.ndarray:
    """A tessellation plus holes, multipolygons, a collection and a large polygon."""
    tiles = tessellation(400, seed=4, origin=(0.0, 0.0), mean_area=100.0)
    extra = [
        shapely.Polygon(
            [(0, 0), (60, 0), (60, 60), (0, 60)], [[(10, 10), (20, 10), (20, 20)]]
        ),
        shapely.MultiPolygon([shapely.box(5, 5, 9, 9), shapely.box(40, 40, 45, 48)]),
        shapely.GeometryCollection(
            [shapely.box(30, 30, 33, 33), shapely.LineString([(0, 0), (300, 90)])]
        ),
        shapely.box(-50, -50, 400, 200),  # meets every cell of the index
    ]
    return np.concatenate([tiles, np.asarray(extra, dtype=object)])


def test_outlines_and_queries_equal_shapely(tmp_path: Path) -> None:
    geometries = polygons()
    order = np.arange(len(geometries))[::-1]
    built = PolygonStore.build(
        [geometries[:150], geometries[150:]], order.astype(np.int64), INFO
    )
    assert not built.mapped
    path = built.save(tmp_path / 'store.bin')
    store = PolygonStore.open(path)
    assert store is not None
    assert store.mapped
    assert store.path == path
    assert store.info == INFO
    assert len(store) == len(geometries)
    np.testing.assert_array_equal(store.source_index, order)
    tree = shapely.STRtree(geometries)
    rng = np.random.default_rng(1)
    for _ in range(200):
        x, y = rng.uniform(-80, 420, 2)
        w, h = rng.uniform(0, 60, 2)
        box = (x, y, x + w, y + h)
        hits = np.sort(tree.query(shapely.box(*box)))
        np.testing.assert_array_equal(store.query(box), hits)
        if not len(hits):
            continue
        ours, theirs = store.outlines(hits), Outlines.of(geometries[hits])
        np.testing.assert_array_equal(ours.xy, theirs.xy)
        np.testing.assert_array_equal(ours.ring, theirs.ring)
        np.testing.assert_array_equal(ours.owner, theirs.owner)
        assert ours.count == theirs.count == len(hits)
        transform = from_origin(x, y + h, 0.5, 0.5)
        shape = (max(1, int(h / 0.5)), max(1, int(w / 0.5)))
        values = (hits % 200).astype(np.uint8)
        np.testing.assert_array_equal(
            burn_polygons(ours, values, transform, shape, 255),
            burn_polygons(geometries[hits], values, transform, shape, 255),
        )
    assert store.query((1000, 1000, 1001, 1001)).size == 0
    assert store.query((10, 10, 5, 5)).size == 0  # an inverted box


def test_what_is_not_a_store_is_not_opened(tmp_path: Path) -> None:
    assert PolygonStore.open(tmp_path / 'missing.bin') is None
    other = tmp_path / 'other.bin'
    other.write_bytes(b'not a store')
    with pytest.raises(ValueError, match='not a polygon store of this package'):
        PolygonStore.open(other)
    path = PolygonStore.build([polygons()], np.arange(404), INFO).save(other)
    whole = path.read_bytes()
    path.write_bytes(whole[:-4096])  # cut short
    with pytest.raises(ValueError, match=f'cut short: {len(whole) - 4096} of'):
        PolygonStore.open(path)
    path.write_bytes(whole[: len(MAGIC) + 8 + 10])  # in the header
    with pytest.raises(ValueError, match='a header of'):
        PolygonStore.open(path)
    path.write_bytes(
        MAGIC[:-1] + bytes([MAGIC[-1] + 1]) + whole[len(MAGIC) :]
    )  # next version
    assert PolygonStore.open(path) is None


def test_empty_store(tmp_path: Path) -> None:
    empty = np.empty(0, dtype=object)
    store = PolygonStore.build([empty], np.empty(0, np.int64), INFO)
    opened = PolygonStore.open(store.save(tmp_path / 'empty.bin'))
    assert opened is not None
    assert len(opened) == 0
    assert opened.query((0, 0, 1, 1)).size == 0
    assert opened.outlines(np.empty(0, np.intp)).count == 0


@pytest.mark.parametrize('chunks', [1, 3])
def test_chunks_do_not_change_the_store(chunks: int) -> None:
    geometries = polygons()
    parts = np.array_split(geometries, chunks)
    store = PolygonStore.build(parts, np.arange(len(geometries)), INFO)
    whole = PolygonStore.build([geometries], np.arange(len(geometries)), INFO)
    for name, array in whole.arrays.items():
        np.testing.assert_array_equal(store.arrays[name], array)
