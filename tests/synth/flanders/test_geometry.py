import numpy as np
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, box

from torchgeo_bvm.synth.flanders.geometry import (
    blob,
    clean,
    curve,
    polygonal_parts,
    subtract,
    subtract_earlier,
)


def test_curve_meanders_around_its_points() -> None:
    points = np.array([[0.0, 0.0], [500.0, 0.0], [1000.0, 0.0]])
    straight = curve(points, np.random.default_rng(0), wiggle=0.0, spacing=10.0)
    assert straight.length == pytest.approx(1000.0)
    assert shapely.get_coordinates(straight)[:, 1] == pytest.approx(0.0, abs=1e-9)
    bent = curve(points, np.random.default_rng(0), wiggle=30.0, spacing=10.0)
    offsets = np.abs(shapely.get_coordinates(bent)[:, 1])
    assert 5.0 < offsets.max() <= 30.0 + 1e-9
    again = curve(points, np.random.default_rng(0), wiggle=30.0, spacing=10.0)
    assert bent.equals_exact(again, 0.0)


def test_blob_is_a_roundish_polygon() -> None:
    shape = blob((100.0, 200.0), 10.0, np.random.default_rng(1))
    assert shape.is_valid
    assert len(shape.exterior.coords) == 17
    distances = np.hypot(*(np.asarray(shape.exterior.coords) - (100.0, 200.0)).T)
    assert 0.6 * 10 <= distances.min() <= distances.max() <= 1.45 * 10


def test_polygonal_parts_keep_polygons_over_one_square_metre() -> None:
    parts = polygonal_parts(
        [
            MultiPolygon([box(0, 0, 2, 2), box(5, 5, 5.5, 5.5)]),
            GeometryCollection([LineString([(0, 0), (1, 1)]), box(10, 10, 12, 11)]),
        ]
    )
    assert [p.bounds for p in parts] == [(0, 0, 2, 2), (10, 10, 12, 11)]


def test_subtract_cuts_only_the_cells_it_touches() -> None:
    cells = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10), box(30, 0, 40, 10)])
    out = subtract(cells, [box(5, 0, 15, 5), box(8, 8, 12, 12)])
    assert [c.area for c in out] == [100 - 25 - 4, 100 - 25 - 4, 100]
    assert out[2] is cells[2]
    assert subtract(cells, []) is cells


def test_subtract_earlier_leaves_no_overlap() -> None:
    strips = np.array([box(0, 0, 10, 2), box(4, -5, 6, 5), box(0, 1, 10, 3)])
    out = subtract_earlier(strips)
    assert out[0].equals(strips[0])
    assert out[1].area == 20 - 4
    assert out[2].area == 20 - 10 - 2
    assert shapely.union_all(out).area == pytest.approx(sum(s.area for s in out))


def test_clean_returns_one_valid_polygonal_geometry() -> None:
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    cleaned = clean(bowtie)
    assert cleaned.is_valid
    assert cleaned.geom_type == 'MultiPolygon'
    assert cleaned.area == pytest.approx(50.0)
    assert clean(box(0, 0, 2, 2)).equals(box(0, 0, 2, 2))
    assert clean(LineString([(0, 0), (1, 1)])).is_empty
