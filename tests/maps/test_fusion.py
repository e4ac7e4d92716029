import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from pyproj import CRS

from tests.rasters import assert_class_palette, assert_valid_cog
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX
from torchgeo_bvm.errors import BVMFileError, BVMValueError
from torchgeo_bvm.maps.files import CONFIDENCE_SCALE, ClassMap, find_class_maps
from torchgeo_bvm.maps.fusion import (
    MAX_COUNT,
    SheetFusion,
    edge_taper,
    plot_fused_map,
    write_mosaic,
)
from torchgeo_bvm.spatial.pixelgrid import Grid

UTM = CRS.from_epsg(32631)


def sheet_grid(width: int = 8, height: int = 6, left: float = 500_000.0) -> Grid:
    return Grid(UTM, Affine(10, 0, left, 0, -10, 5_650_000), width, height)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=0))
    return (e / e.sum(axis=0)).astype(np.float32)


def random_tile(seed: int, classes: int = 4, size: int = 4) -> np.ndarray:
    return softmax(np.random.default_rng(seed).normal(size=(classes, size, size)))


def test_edge_taper_peaks_inside_and_half_overlapping_tiles_sum_to_one() -> None:
    taper = edge_taper(8)
    assert taper.shape == (8, 8)
    assert taper.dtype == np.float32
    assert taper.min() > 0
    assert taper[3, 3] == taper[4, 4] == taper.max()
    assert np.array_equal(taper, taper.T)
    # Tiles every 4 pixels: each pixel of the middle lies in four of them.
    total = np.zeros((12, 12))
    for row in (0, 4):
        for column in (0, 4):
            total[row : row + 8, column : column + 8] += taper
    assert np.allclose(total[4:8, 4:8], 1.0, atol=1e-6)


def test_fusion_averages_the_clear_observations_only() -> None:
    grid = sheet_grid(4, 4)
    fusion = SheetFusion(grid, 4)
    tiles = [random_tile(seed) for seed in range(3)]
    clear = [np.ones((4, 4), bool) for _ in range(3)]
    clear[1][0, 0] = False
    for observation in range(3):
        clear[observation][1, 1] = False  # never clear
    flat = np.ones((4, 4), np.float32)
    for observation, (tile, mask) in enumerate(zip(tiles, clear, strict=True)):
        fusion.add(tile, mask, 0, 0, observation, taper=flat)
    stack = np.stack(tiles)
    weights = np.stack(clear).astype(np.float32)[:, None]
    with np.errstate(invalid='ignore'):
        expected = (stack * weights).sum(0) / weights.sum(0)
    expected[:, 1, 1] = 0.0
    assert np.allclose(fusion.probabilities(), expected, atol=1e-6)
    classes = fusion.classes()
    assert classes[1, 1] == IGNORE_INDEX
    keep = np.ones((4, 4), bool)
    keep[1, 1] = False
    assert np.array_equal(classes[keep], expected.argmax(0)[keep])
    counts = fusion.counts()
    assert counts[1, 1] == 0
    assert counts[0, 0] == 2
    assert (counts[keep & ~np.eye(4, dtype=bool)] == 3).all()
    confidence = fusion.confidence()
    assert confidence[1, 1] == IGNORE_INDEX
    assert np.array_equal(
        confidence[keep],
        np.rint(expected.max(0)[keep] * CONFIDENCE_SCALE).astype(np.uint8),
    )


def test_a_confidence_table_turns_each_class_and_code_into_a_probability() -> None:
    grid = sheet_grid(4, 4)
    table = np.tile(np.arange(251) / 250, (4, 1))
    table[1] = 0.5  # class 1: always one chance in two
    table[2] = np.sqrt(np.arange(251) / 250)
    plain, calibrated = SheetFusion(grid, 4), SheetFusion(grid, 4, None, table)
    tile = random_tile(7)
    for fusion in (plain, calibrated):
        fusion.add(
            tile, np.ones((4, 4), bool), 0, 0, 0, taper=np.ones((4, 4), np.float32)
        )
    codes = plain.confidence()
    classes = plain.classes()
    expected = np.rint(table[classes, codes] * CONFIDENCE_SCALE).astype(np.uint8)
    assert np.array_equal(calibrated.confidence(), expected)
    assert set(np.unique(classes)) >= {1, 2}
    assert (calibrated.confidence()[classes == 1] == 125).all()
    # The classes and probabilities themselves do not change.
    assert np.array_equal(calibrated.classes(), classes)
    assert np.array_equal(calibrated.probabilities(), plain.probabilities())


def test_overlapping_tiles_of_one_observation_count_once_and_blend() -> None:
    fusion = SheetFusion(sheet_grid(6, 4), 4)
    a, b = random_tile(4), random_tile(5)
    clear = np.ones((4, 4), bool)
    taper = edge_taper(4)
    fusion.add(a, clear, 0, 0, 0)
    fusion.add(b, clear, 2, 0, 0)
    assert (fusion.counts() == 1).all()
    weighted = a[:, :, 2:] * taper[:, 2:] + b[:, :, :2] * taper[:, :2]
    expected = weighted / (taper[:, 2:] + taper[:, :2])
    assert np.allclose(fusion.probabilities()[:, :, 2:4], expected, atol=1e-6)
    fusion.add(a, clear, 0, 0, 1)
    assert np.array_equal(fusion.counts()[:, :4], np.full((4, 4), 2))
    assert np.array_equal(fusion.counts()[:, 4:], np.full((4, 2), 1))


def test_tiles_in_any_order_give_the_same_map() -> None:
    grid = sheet_grid(8, 6)
    rng = np.random.default_rng(3)
    # Three observations, each tiled by four overlapping 4 x 4 tiles; the clear
    # mask of an observation is one per pixel, whichever tile covers it.
    clear = [rng.random((6, 8)) > 0.3 for _ in range(3)]
    tiles = [
        (observation, column, row, random_tile(10 * observation + k))
        for observation in range(3)
        for k, (column, row) in enumerate([(0, 0), (4, 0), (0, 2), (4, 2)])
    ]

    def fused(order: list[int], close: bool = True) -> SheetFusion:
        fusion = SheetFusion(grid, 4)
        left = {o: 4 for o in range(3)}
        for position in order:
            observation, column, row, tile = tiles[position]
            mask = clear[observation][row : row + 4, column : column + 4]
            fusion.add(tile, mask, column, row, observation)
            left[observation] -= 1
            if close and not left[observation]:
                fusion.close(observation)
        return fusion

    in_order = fused(list(range(12)))
    shuffled = fused(list(rng.permutation(12)))
    expected = np.sum(clear, axis=0)
    assert np.array_equal(in_order.counts(), expected)
    assert np.array_equal(shuffled.counts(), expected)
    assert np.allclose(shuffled.probabilities(), in_order.probabilities(), atol=1e-6)
    assert np.array_equal(shuffled.classes(), in_order.classes())
    # Observations left open are counted too.
    assert np.array_equal(fused(list(range(12)), close=False).counts(), expected)


def test_time_series_count_their_clear_dates_and_tiles_past_the_edge_clip() -> None:
    inside = np.ones((5, 5), bool)
    inside[4, 4] = False
    fusion = SheetFusion(sheet_grid(5, 5), 4, inside)
    steps = np.full((4, 4), 3, np.uint8)
    steps[0, 0] = 0  # clear on none of the series' dates
    fusion.add(random_tile(6), steps, -2, -1, 0)  # covers rows 0..2, columns 0..1
    counts = fusion.counts()
    assert counts[0, 0] == 3
    assert counts[2, 1] == 3
    assert counts[4, 4] == IGNORE_INDEX  # outside the sheet
    assert counts[3, 3] == 0
    classes = fusion.classes()
    assert (classes[3:, :] == IGNORE_INDEX).all()
    assert (classes[:, 2:] == IGNORE_INDEX).all()
    fusion.add(random_tile(7), np.ones((4, 4), bool), 10, 10, 1)  # outside: ignored
    assert np.array_equal(fusion.classes(), classes)
    many = SheetFusion(sheet_grid(2, 2), 4)
    many.add(random_tile(8, size=2), np.full((2, 2), 300, np.uint16), 0, 0, 0)
    assert (many.counts() == MAX_COUNT).all()


def test_bad_shapes_and_sizes_are_refused_before_allocating() -> None:
    fusion = SheetFusion(sheet_grid(4, 4), 4)
    with pytest.raises(BVMValueError, match='expected probabilities of 4 classes'):
        fusion.add(np.zeros((3, 4, 4), np.float32), np.ones((4, 4), bool), 0, 0, 0)
    huge = Grid(UTM, Affine(1, 0, 0, 0, -1, 0), 200_000, 100_000)
    with pytest.raises(
        BVMValueError,
        match=r'fusing a sheet of 200000 x 100000 pixels and 14 classes would take '
        r'1.19e\+03 GiB of memory, more than the limit of 8 GiB; use a coarser',
    ):
        SheetFusion(huge, 14)


def test_observations_open_at_once_are_within_the_memory_limit(monkeypatch) -> None:
    # 4 (14 + 2) bytes a pixel with one observation open, 2 more for each other.
    monkeypatch.setattr('torchgeo_bvm.maps.fusion.MAX_ACCUMULATOR_BYTES', 650_000)
    fusion = SheetFusion(sheet_grid(100, 100), 14)
    fusion.add(random_tile(0, 14, 2), np.ones((2, 2), bool), 0, 0, 0)
    with pytest.raises(
        BVMValueError,
        match=r'^fusing a sheet of 100 x 100 pixels and 14 classes with 2 '
        r'observations open would take',
    ):
        fusion.add(random_tile(1, 14, 2), np.ones((2, 2), bool), 0, 0, 1)
    fusion.close(0)
    fusion.add(random_tile(1, 14, 2), np.ones((2, 2), bool), 0, 0, 1)
    assert fusion.counts()[0, 0] == 2


def filled(grid: Grid, seed: int, classes: int = 14) -> SheetFusion:
    fusion = SheetFusion(grid, classes)
    height, width = grid.shape
    rng = np.random.default_rng(seed)
    for observation in range(2):
        logits = rng.normal(size=(classes, height, width))
        clear = rng.random((height, width)) > 0.2
        fusion.add(softmax(logits), clear, 0, 0, observation)
    return fusion


def test_written_files_follow_the_contract_on_the_sheet_grid(tmp_path) -> None:
    grid = sheet_grid(40, 30)
    fusion = filled(grid, 0)
    written = fusion.write(tmp_path / '22_7-8.tif', probabilities=True)
    assert list(written) == ['count', 'confidence', 'probabilities', 'classes']
    assert written['classes'] == tmp_path / '22_7-8.tif'
    expected = {
        'classes': fusion.classes(),
        'confidence': fusion.confidence(),
        'count': fusion.counts(),
    }
    for kind, path in written.items():
        assert_valid_cog(path)
        with rasterio.open(path) as src:
            assert src.crs == grid.crs
            assert src.transform == grid.transform
            assert (src.height, src.width) == grid.shape
            assert src.nodata == IGNORE_INDEX
            assert src.overviews(1) or max(src.shape) <= 512
            if kind in expected:
                assert np.array_equal(src.read(1), expected[kind])
            if kind == 'probabilities':
                assert src.count == 14
                assert src.descriptions == tuple(CLASS_NAMES)
                probabilities = src.read().astype(float) * src.scales[0]
                fused = fusion.classes() != IGNORE_INDEX
                assert np.allclose(
                    probabilities[:, fused],
                    fusion.probabilities()[:, fused],
                    atol=0.5 / CONFIDENCE_SCALE + 1e-6,
                )
            if kind == 'confidence':
                assert src.scales == (1 / CONFIDENCE_SCALE,)
    assert_class_palette(written['classes'])
    found = ClassMap.open(written['classes'])
    assert found.confidence == tmp_path / '22_7-8_confidence.tif'


def test_mosaic_is_a_virtual_raster_of_the_sheets(tmp_path) -> None:
    west, east = sheet_grid(40, 30), sheet_grid(20, 30, left=500_400.0)
    paths = []
    for k, grid in enumerate((west, east)):
        paths.append(filled(grid, k).write(tmp_path / f's{k}.tif')['classes'])
    written = write_mosaic(paths, tmp_path / 'mosaic.vrt')
    assert {k: p.name for k, p in written.items()} == {
        'classes': 'mosaic.vrt',
        'confidence': 'mosaic_confidence.vrt',
        'count': 'mosaic_count.vrt',
    }
    for kind, path in written.items():
        suffix = '' if kind == 'classes' else f'_{kind}'
        with rasterio.open(path) as src:
            assert (src.height, src.width) == (30, 60)
            assert src.transform == west.transform
            assert src.crs == UTM
            assert src.nodata == IGNORE_INDEX
            mosaic = src.read(1)
        for k, columns in enumerate((slice(0, 40), slice(40, 60))):
            with rasterio.open(tmp_path / f's{k}{suffix}.tif') as sheet:
                assert np.array_equal(mosaic[:, columns], sheet.read(1))
    assert_class_palette(written['classes'])
    # The folder's class maps are the sheets; the mosaic is read when named.
    assert [m.path.name for m in find_class_maps(tmp_path)] == ['s0.tif', 's1.tif']
    assert ClassMap.open(written['classes']).confidence == written['confidence']

    with pytest.raises(BVMValueError, match='a mosaic is a virtual raster'):
        write_mosaic(paths, tmp_path / 'mosaic.tif')
    odd = tmp_path / 'odd'
    odd.mkdir()
    shifted = Grid(UTM, Affine(10, 0, 500_005, 0, -10, 5_650_000), 4, 4)
    other = [filled(shifted, 2).write(odd / 'a.tif')['classes']]
    other.append(filled(sheet_grid(4, 4), 3).write(odd / 'b.tif')['classes'])
    with pytest.raises(BVMValueError, match='not on one pixel lattice'):
        write_mosaic(other, odd / 'mosaic.vrt')
    (tmp_path / 's1_count.tif').unlink()
    with pytest.raises(BVMFileError, match=r's1_count\.tif: not found'):
        write_mosaic(paths, tmp_path / 'mosaic.vrt')


def test_quick_look_is_sized_to_the_map(tmp_path) -> None:
    grid = sheet_grid(400, 100)
    path = filled(grid, 0).write(tmp_path / 'wide.tif')['classes']
    with Image.open(plot_fused_map(path, tmp_path / 'wide.png', 'A wide map')) as png:
        wide = png.width / png.height
    tall = filled(sheet_grid(100, 400), 1).write(tmp_path / 'tall.tif')['classes']
    with Image.open(plot_fused_map(tall, tmp_path / 'tall.png', 'Tall')) as png:
        narrow = png.width / png.height
    # Legend and labels aside, the picture follows the map's shape.
    assert wide > 1.4
    assert narrow < 0.8
