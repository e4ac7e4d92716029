"""Finding and reading the BVM layer without torch (BVMDataset's tests cover more)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from tests.compare_scene import L72, scene_classes, scene_polygons, write_scene_bvm
from torchgeo_bvm.bvm.layer import BVMLayer
from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.errors import BVMFileError, BVMValueError


@pytest.mark.parametrize('suffix', ['.shp', '.zip', '.gpkg', '.parquet'])
def test_every_format_reads_the_same(tmp_path: Path, suffix: str) -> None:
    path = write_scene_bvm(tmp_path / f'BwkHab{suffix}')
    layer = BVMLayer.open(path)
    geometries, units, _ = scene_polygons()
    assert layer.info.crs == L72  # also from the ESRI .prj of the shapefiles
    assert layer.info.features == len(geometries)
    assert layer.info.fields[:3] == ('UIDN', 'OIDN', 'TAG')
    assert layer.info.is_integer('UIDN')
    assert not layer.info.is_integer('EENH1')
    assert layer.info.bounds == pytest.approx(shapely.total_bounds(geometries))
    read = layer.read_geometries()
    assert shapely.equals(read, np.asarray(geometries, dtype=object)).all()
    assert layer.read_columns(['EENH1'])['EENH1'].tolist() == units
    labels = layer.read_labels()
    assert labels.habitat_field == 'HAB1'
    np.testing.assert_array_equal(labels.result.ids, scene_classes())


def test_integer_labels_and_folders(tmp_path: Path) -> None:
    path = write_scene_bvm(tmp_path / 'copy' / 'BVM_labeled.gpkg', label_column=True)
    layer = BVMLayer.open(path.parent)
    assert layer.source == str(path)
    labels = layer.read_labels('Label')
    assert labels.mapping is None
    expected = scene_classes().copy()
    expected[1] = IGNORE_INDEX
    np.testing.assert_array_equal(labels.result.ids, expected)


def test_bad_layers(tmp_path: Path) -> None:
    with pytest.raises(BVMFileError, match=r'BVM layer not found: .*none\.shp'):
        BVMLayer.open(tmp_path / 'none.shp')
    with pytest.raises(BVMFileError, match='no BVM layer'):
        BVMLayer.open(tmp_path)
    path = write_scene_bvm(tmp_path / 'BwkHab.gpkg')
    with pytest.raises(BVMValueError, match="no layer 'Hab'; the layers are BwkHab"):
        BVMLayer.open(path, 'Hab')
    layer = BVMLayer.open(path)
    with pytest.raises(BVMValueError, match=r"no field 'X' \(to test\); the layer has"):
        layer.require_fields(['TAG', 'X'], why='to test')
    with pytest.raises(BVMValueError, match="no habitat field 'HAB9'"):
        layer.read_labels(habitat_field='HAB9')
    (tmp_path / 'junk.shp').write_text('not a shapefile')
    with pytest.raises(
        BVMFileError, match=r'junk\.shp: cannot be read as a vector layer'
    ):
        BVMLayer.open(tmp_path / 'junk.shp')


def test_cached_columns_keep_the_order_asked_for(tmp_path: Path) -> None:
    # TAG comes before EENH1 in the file; the cache stores columns by position.
    path = write_scene_bvm(tmp_path / 'BwkHab.shp')
    cache = tmp_path / 'cache'
    first = BVMLayer.open(path, cache_dir=cache).read_columns(['EENH1', 'TAG'])
    assert len(list(cache.glob('bvm-columns-*.npz'))) == 1
    again = BVMLayer.open(path, cache_dir=cache).read_columns(['EENH1', 'TAG'])
    plain = BVMLayer.open(path).read_columns(['TAG', 'EENH1'])  # file order
    assert plain['EENH1'].tolist() == scene_polygons()[1]
    for table in (first, again):
        assert list(table.columns) == ['EENH1', 'TAG']
        assert table['EENH1'].tolist() == plain['EENH1'].tolist()
        assert table['TAG'].tolist() == plain['TAG'].tolist()
