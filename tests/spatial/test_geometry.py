import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon, box

from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.geometry import polygonal, repair_polygons, reproject_geometry


def test_reproject_roundtrip_utm() -> None:
    polygon = box(*Sheet.parse('30/7-8').bounds)
    there = reproject_geometry(polygon, 31370, 32631)
    back = reproject_geometry(there, 32631, CRS.from_epsg(31370))
    assert shapely.hausdorff_distance(back, polygon) < 0.01


def test_reproject_densifies_and_keeps_arrays() -> None:
    polygon = box(0, 0, 1000, 500)
    assert reproject_geometry(polygon, 31370, 'EPSG:31370') is polygon
    there = reproject_geometry(polygon, 31370, 4326, densify=100)
    assert len(there.exterior.coords) == 2 * (10 + 5) + 1
    array = np.array([polygon, box(0, 0, 10, 10)], dtype=object)
    moved = reproject_geometry(array, 31370, 4326, densify=0)
    assert moved.shape == (2,)
    assert [len(g.exterior.coords) for g in moved] == [5, 5]


def test_polygonal_keeps_valid_polygons_as_they_are() -> None:
    square = box(0, 0, 2, 2)
    assert polygonal(square).equals_exact(shapely.make_valid(square), 0)
    two = MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)])
    assert polygonal(two).equals(two)


def test_polygonal_repairs_and_drops_lines_and_points() -> None:
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting
    fixed = polygonal(bowtie)
    assert fixed.is_valid
    assert fixed.area == 2.0
    mixed = GeometryCollection([box(0, 0, 1, 1), LineString([(5, 5), (6, 6)])])
    assert polygonal(mixed).equals(box(0, 0, 1, 1))
    line_only = polygonal(LineString([(0, 0), (1, 1)]))
    assert isinstance(line_only, Polygon)
    assert line_only.is_empty


def test_repair_polygons_counts_and_copies() -> None:
    valid = box(0, 0, 1, 1)
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    geometries = np.array([valid, None, bowtie], dtype=object)
    repaired, count = repair_polygons(geometries)
    assert count == 1
    assert repaired is not geometries
    assert repaired[0] is valid
    assert repaired[1] is None
    assert repaired[2].is_valid
    assert repaired[2].area == 2.0
    assert geometries[2] is bowtie  # the input is left as it was
    untouched, none = repair_polygons(np.array([valid], dtype=object))
    assert none == 0
    assert untouched[0] is valid
