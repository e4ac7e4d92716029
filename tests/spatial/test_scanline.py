import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine

from torchgeo_bvm.spatial import scanline
from torchgeo_bvm.spatial.scanline import burn_polygons, polygon_coverage
from torchgeo_bvm.synth.bvm import tessellation


def gdal(geometries, values, transform, shape, fill=255):
    return rasterio.features.rasterize(
        zip(geometries, np.asarray(values).tolist(), strict=True),
        out_shape=shape,
        transform=transform,
        fill=fill,
        dtype=np.uint8,
        all_touched=False,
    )


def random_polygons(seed: int, n: int = 80) -> np.ndarray:
    """Overlapping polygons with holes, multipolygons and long thin slivers."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1000, (n, 2))
    radii = rng.uniform(5, 120, n)
    shells = shapely.buffer(shapely.points(centres), radii, quad_segs=3)
    holes = shapely.buffer(
        shapely.points(centres + 1.7), radii * rng.uniform(0.1, 0.6, n)
    )
    geometries = shapely.difference(shells, holes)
    assert not shapely.is_empty(geometries).any()
    multis = [
        shapely.MultiPolygon(
            [
                shapely.box(x, y, x + 37.3, y + 11.1),
                shapely.box(x + 50, y, x + 53, y + 90),
            ]
        )
        for x, y in rng.uniform(0, 900, (10, 2))
    ]
    slivers = [shapely.box(x, 0.1, x + 0.9, 999.7) for x in rng.uniform(0, 1000, 5)]
    return np.array([*geometries, *multis, *slivers], dtype=object)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_burn_equals_gdal_on_random_polygons(seed: int) -> None:
    geometries = random_polygons(seed)
    values = np.arange(len(geometries)) % 14
    x, y = shapely.get_coordinates(shapely.point_on_surface(geometries[0]))[0]
    # Grids larger and smaller than the polygons' extent, at odd resolutions.
    for transform, shape in [
        (Affine(7.3, 0, -31.1, 0, -6.9, 1033.7), (160, 150)),
        (Affine(2.01, 0, 400.3, 0, -2.01, 600.2), (100, 130)),
        (Affine(0.5, 0, x - 21.3, 0, -0.25, y + 7.9), (64, 96)),
    ]:
        ours = burn_polygons(geometries, values.astype(np.uint8), transform, shape, 255)
        assert ours.dtype == np.uint8
        assert ours.shape == shape
        assert np.array_equal(ours, gdal(geometries, values, transform, shape))
        assert (ours != 255).sum() > 100


def test_burn_equals_gdal_on_bvm_tessellation() -> None:
    frame_geometries = np.asarray(tessellation(3000, seed=4), dtype=object)
    xmin, ymin, xmax, ymax = shapely.total_bounds(frame_geometries)
    values = (np.arange(len(frame_geometries)) * 7 % 14).astype(np.uint8)
    rng = np.random.default_rng(5)
    for _ in range(20):
        left = rng.uniform(xmin - 500, xmax - 1000)
        top = rng.uniform(ymin + 1000, ymax + 500)
        transform = Affine(10.0, 0, left, 0, -10.0, top)
        ours = burn_polygons(frame_geometries, values, transform, (128, 128), 255)
        assert np.array_equal(
            ours, gdal(frame_geometries, values, transform, (128, 128))
        )


def test_later_polygons_win_where_they_overlap() -> None:
    first, second = shapely.box(0.3, 0.3, 6.3, 6.3), shapely.box(3.3, 3.3, 9.7, 9.7)
    transform = Affine(1.0, 0, 0, 0, -1.0, 10)
    both = np.array([first, second], dtype=object)
    burnt = burn_polygons(both, np.array([1, 2], np.uint8), transform, (10, 10), 0)
    expected = np.zeros((10, 10), np.uint8)
    expected[4:10, 0:6] = 1  # rows of y 0.5..5.5, columns of x 0.5..5.5
    expected[0:7, 3:10] = 2  # y 3.5..9.5, x 3.5..9.5
    assert np.array_equal(burnt, expected)
    reversed_ = burn_polygons(
        both[::-1], np.array([2, 1], np.uint8), transform, (10, 10), 0
    )
    assert (reversed_[4:7, 3:6] == 1).all()


def test_pixel_centres_on_edges_follow_one_rule() -> None:
    # Edges through pixel centres: rows whose centre v has top <= v < bottom,
    # columns whose centre x has left < x <= right.
    transform = Affine(1.0, 0, 0, 0, -1.0, 10)
    square = shapely.box(2.5, 2.5, 6.5, 6.5)  # centres 2.5..6.5 in x and y
    burnt = burn_polygons(
        np.array([square], dtype=object),
        np.array([1], np.uint8),
        transform,
        (10, 10),
        0,
    )
    rows, columns = np.nonzero(burnt)
    assert sorted(set(rows.tolist())) == [3, 4, 5, 6]  # y 6.5 in, y 2.5 out
    assert sorted(set(columns.tolist())) == [3, 4, 5, 6]  # x 2.5 out, x 6.5 in
    # Neighbours sharing edges through centres: every pixel exactly once.
    tiles = np.array(
        [
            shapely.box(x, y, x + 2, y + 2)
            for x in np.arange(0.5, 8, 2)
            for y in np.arange(0.5, 8, 2)
        ],
        dtype=object,
    )
    count = sum(
        polygon_coverage(tiles[i : i + 1], transform, (10, 10)).astype(int)
        for i in range(len(tiles))
    )
    assert count.max() == 1
    assert count[1:9, 1:9].all()


def test_coverage_is_where_something_burns() -> None:
    geometries = random_polygons(3)
    transform = Affine(5.0, 0, 0, 0, -5.0, 1000)
    covered = polygon_coverage(geometries, transform, (200, 200))
    burnt = gdal(geometries, np.ones(len(geometries)), transform, (200, 200))
    assert covered.dtype == bool
    assert np.array_equal(covered, burnt != 255)


def test_exact_sort_for_large_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    geometries = random_polygons(6)
    values = (np.arange(len(geometries)) % 14).astype(np.uint8)
    transform = Affine(7.0, 0, -20, 0, -7.0, 1020)
    fast = burn_polygons(geometries, values, transform, (150, 150), 255)
    monkeypatch.setattr(scanline, '_EXACT_KEYS', 0)  # take the lexsort branch
    exact = burn_polygons(geometries, values, transform, (150, 150), 255)
    assert np.array_equal(fast, exact)
    assert np.array_equal(exact, gdal(geometries, values, transform, (150, 150)))


def test_empty_inputs_and_other_geometry_types() -> None:
    transform = Affine(1.0, 0, 0, 0, -1.0, 4)
    none = np.array([], dtype=object)
    empty = burn_polygons(none, np.array([], np.uint8), transform, (4, 5), 9)
    assert empty.shape == (4, 5)
    assert (empty == 9).all()
    assert burn_polygons(none, np.array([], np.uint8), transform, (0, 5), 9).shape == (
        0,
        5,
    )
    # Lines and points carry no area: nothing of them is burnt.
    mixed = np.array(
        [
            shapely.LineString([(0, 0), (4, 4)]),
            shapely.Point(1, 1),
            shapely.box(0, 0, 2, 2),
        ],
        dtype=object,
    )
    burnt = burn_polygons(mixed, np.array([1, 2, 3], np.uint8), transform, (4, 4), 0)
    expected = np.zeros((4, 4), np.uint8)
    expected[2:, :2] = 3
    assert np.array_equal(burnt, expected)
    # A collection (as make_valid or a clip can return) burns its polygons only.
    collection = np.array(
        [
            shapely.GeometryCollection(
                [shapely.box(2, 2, 4, 4), shapely.LineString([(0, 0), (0, 4)])]
            )
        ],
        dtype=object,
    )
    burnt = burn_polygons(collection, np.array([5], np.uint8), transform, (4, 4), 0)
    expected = np.zeros((4, 4), np.uint8)
    expected[:2, 2:] = 5
    assert np.array_equal(burnt, expected)


def test_bad_arguments() -> None:
    box = np.array([shapely.box(0, 0, 1, 1)], dtype=object)
    with pytest.raises(ValueError, match='north-up grid'):
        burn_polygons(
            box, np.array([1], np.uint8), Affine(1, 0.1, 0, 0, -1, 1), (2, 2), 0
        )
    with pytest.raises(ValueError, match='north-up grid'):
        polygon_coverage(box, Affine(1, 0, 0, 0, 1, 0), (2, 2))
    with pytest.raises(ValueError, match='1 geometries but 2 values'):
        burn_polygons(
            box, np.array([1, 2], np.uint8), Affine(1, 0, 0, 0, -1, 1), (2, 2), 0
        )


def test_run_pixels_are_the_pixels_of_the_runs() -> None:
    row = np.array([0, 2, 2])
    start = np.array([1, 0, 4])
    stop = np.array([3, 2, 5])
    pixels = scanline.run_pixels(row, start, stop, width=6)
    assert pixels.tolist() == [1, 2, 12, 13, 16]
    mask = np.zeros(18, dtype=bool)
    mask[pixels] = True
    expected = scanline.runs_to_mask(row, start, stop, (3, 6))
    np.testing.assert_array_equal(mask.reshape(3, 6), expected)
    assert scanline.run_pixels(row[:0], start[:0], stop[:0], 6).size == 0
