import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import box

from torchgeo_bvm.bvm.units import UnitMapping
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.synth.bvm import (
    BWKHAB_FIELDS,
    MEAN_POLYGON_AREA,
    bwkhab_frame,
    synthetic_bwkhab,
    tessellation,
    write_bwkhab,
)
from torchgeo_bvm.synth.kbl import LAMBERT72_ESRI_WKT

REAL_FIELDS = [
    'UIDN',
    'OIDN',
    'TAG',
    'EVAL',
    'EENH1',
    'EENH2',
    'EENH3',
    'EENH4',
    'EENH5',
    'EENH6',
    'EENH7',
    'EENH8',
    'V1',
    'V2',
    'V3',
    'HERK',
    'INFO',
    'BWKLABEL',
    'HAB1',
    'HAB2',
    'HAB3',
    'HAB4',
    'HAB5',
    'PHAB1',
    'PHAB2',
    'PHAB3',
    'PHAB4',
    'PHAB5',
    'HERKHAB',
    'HERKPHAB',
    'HABLEGENDE',
    'OPPERVL',
    'LENGTE',
]


def _dbf_fields(path: Path) -> dict[str, tuple[str, int, int]]:
    data = path.read_bytes()
    fields = {}
    for offset in range(32, data.index(b'\r'), 32):
        name, kind, width, decimals = struct.unpack(
            '<11sc4xBB14x', data[offset : offset + 32]
        )
        fields[name.rstrip(b'\0').decode()] = (kind.decode(), width, decimals)
    return fields


def test_shapefile_fields_types_and_prj(tmp_path: Path) -> None:
    frame = synthetic_bwkhab(50, seed=1)
    path = write_bwkhab(frame, tmp_path / 'BwkHab.shp')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'BwkHab.cpg', 'BwkHab.dbf', 'BwkHab.prj', 'BwkHab.shp', 'BwkHab.shx',
    ]  # fmt: skip
    assert path.with_suffix('.prj').read_text() == LAMBERT72_ESRI_WKT
    assert CRS.from_wkt(LAMBERT72_ESRI_WKT).to_epsg() is None
    info = pyogrio.read_info(path)
    assert list(info['fields']) == REAL_FIELDS == list(BWKHAB_FIELDS)
    assert info['features'] == 50
    dbf = _dbf_fields(path.with_suffix('.dbf'))
    assert dbf['UIDN'] == ('N', 15, 0)
    assert dbf['PHAB1'] == ('N', 9, 0)
    assert dbf['OPPERVL'] == ('N', 16, 2)
    assert dbf['EENH1'][0] == 'C'
    assert dbf['EENH1'][1] == max(len(c) for c in frame['EENH1'])
    read = pyogrio.read_dataframe(path)
    assert read['UIDN'].tolist() == list(range(1, 51))
    assert read['EENH1'].tolist() == frame['EENH1'].tolist()
    assert read['HAB1'].tolist() == frame['HAB1'].tolist()
    assert read['PHAB1'].tolist() == [100] * 50
    np.testing.assert_allclose(read['OPPERVL'], frame.area, atol=0.005)
    assert shapely.equals(read.geometry.values, frame.geometry.values).all()


def test_zip_is_laid_out_like_the_download(tmp_path: Path) -> None:
    path = write_bwkhab(synthetic_bwkhab(10), tmp_path / 'BWK_2023_Shapefile.zip')
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == [
        f'Shapefile/BwkHab.{s}' for s in ('cpg', 'dbf', 'prj', 'shp', 'shx')
    ]
    assert pyogrio.read_info(f'/vsizip/{path}/Shapefile/BwkHab.shp')['features'] == 10
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]


def test_geopackage_and_geoparquet(tmp_path: Path) -> None:
    frame = synthetic_bwkhab(20)
    gpkg = write_bwkhab(frame, tmp_path / 'bvm.gpkg')
    assert pyogrio.list_layers(gpkg).tolist() == [['BwkHab', 'MultiPolygon']]
    info = pyogrio.read_info(gpkg, layer='BwkHab')
    assert info['crs'] == 'EPSG:31370'
    assert list(info['fields']) == REAL_FIELDS[:-2]  # no OPPERVL/LENGTE
    parquet = write_bwkhab(frame, tmp_path / 'bvm.parquet')
    geo = json.loads(pq.read_schema(parquet).metadata[b'geo'])
    assert geo['columns']['geometry']['geometry_types'] == ['MultiPolygon']
    assert CRS.from_json_dict(geo['columns']['geometry']['crs']).to_epsg() == 31370


def test_explicit_polygons_and_fields() -> None:
    frame = bwkhab_frame(
        [box(0, 0, 10, 10), box(10, 0, 20, 10)],
        ['hp+', None],
        {'EENH2': ['kb', None], 'Label': [3, 0]},
    )
    assert frame.geom_type.tolist() == ['MultiPolygon', 'MultiPolygon']
    assert frame.crs.to_epsg() == 31370
    assert frame['BWKLABEL'].tolist() == ['hp+ + kb', '']
    assert frame['TAG'].tolist() == ['1_v2014', '2_v2014']
    assert frame['OPPERVL'].tolist() == [100.0, 100.0]
    assert frame['Label'].tolist() == [3, 0]
    assert frame['UIDN'].dtype == np.int64


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='field EENH1: 1 values for 2 geometries'):
        bwkhab_frame([box(0, 0, 1, 1), box(1, 0, 2, 1)], ['hp'])
    with pytest.raises(ValueError, match=r"unknown BVM format '\.geojson'"):
        write_bwkhab(synthetic_bwkhab(2), tmp_path / 'bvm.geojson')
    with pytest.raises(ValueError, match='at least one polygon'):
        tessellation(0)


def test_tessellation_is_deterministic_gap_and_overlap_free() -> None:
    polygons = tessellation(1000, seed=7)
    assert len(polygons) == 1000
    assert shapely.is_valid(polygons).all()
    again = tessellation(1000, seed=7)
    assert shapely.equals_exact(polygons, again, 0).all()
    assert not shapely.equals_exact(polygons, tessellation(1000, seed=8), 0).all()
    areas = shapely.area(polygons)
    union = shapely.union_all(polygons)
    assert union.area == pytest.approx(areas.sum(), rel=1e-9)  # no overlaps
    assert areas.mean() == pytest.approx(MEAN_POLYGON_AREA, rel=0.1)
    assert areas.max() / areas.min() > 3  # sizes vary
    assert len(polygons[0].exterior.coords) == 17


def test_synthetic_layer_classes_follow_the_paper() -> None:
    frame = synthetic_bwkhab(5000, seed=0)
    ids = UnitMapping().map_codes(frame['EENH1'], frame['HAB1']).ids
    shares = np.bincount(ids, minlength=14) / len(ids)
    assert shares[class_by_name('Cultivated land').id] == pytest.approx(0.34, abs=0.03)
    assert shares[class_by_name('Urban areas').id] == pytest.approx(0.27, abs=0.03)
    assert frame['EENH1'].str.endswith('+').any()
    assert frame['EENH2'].notna().any()
