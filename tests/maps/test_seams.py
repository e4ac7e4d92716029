import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.maps.fusion import SheetFusion
from torchgeo_bvm.maps.seams import SeamRates, seam_rates, tile_borders
from torchgeo_bvm.spatial.pixelgrid import Grid

SIZE, CLASSES = 32, 4


def test_tile_borders_lie_inside_the_map() -> None:
    assert tile_borders([-16, 16, 48], 32, 64).tolist() == [16, 48]
    assert tile_borders([0, 32], 32, 64).tolist() == [32]
    assert tile_borders([], 32, 64).tolist() == []


def test_seam_rates_count_pairs_across_borders_and_elsewhere() -> None:
    classes = np.array(
        [
            [0, 0, 1, 1],
            [0, 0, 1, 1],
            [2, 2, 1, IGNORE_INDEX],
        ],
        dtype=np.uint8,
    )
    rates = seam_rates(classes, border_columns=[2], border_rows=[])
    # Across the border (columns 1|2): rows 0, 1 change, row 2 too (2 -> 1).
    assert (rates.border_changes, rates.border_pairs) == (3, 3)
    # Elsewhere: horizontal 0|1 and 2|3 (6 pairs less one with nodata) and
    # vertical (8 pairs less one with nodata); the changes: 0 -> 2, twice.
    assert (rates.other_changes, rates.other_pairs) == (2, 12)
    assert rates.ratio == pytest.approx(1.0 / (2 / 12))
    both = rates + SeamRates(1, 1, 0, 10)
    assert (both.border_pairs, both.other_pairs) == (4, 22)
    assert np.isnan(SeamRates(1, 1, 0, 5).ratio)
    with pytest.raises(BVMValueError, match=r'expected a \[height, width\] map'):
        seam_rates(classes[None], [], [])


def smooth_logits(height: int, width: int) -> np.ndarray:
    """A landscape of large patches: four classes from slow waves."""
    rows, columns = np.mgrid[0:height, 0:width] / 40.0
    return np.stack(
        [
            np.sin(columns + 0.3 * rows),
            np.cos(rows - 0.5 * columns),
            np.sin(columns * 0.7) * np.cos(rows * 0.9),
            0.2 * np.ones_like(rows),
        ]
    )


def tile_prediction(
    logits: np.ndarray, row: int, column: int, rng: np.random.Generator
) -> np.ndarray:
    """What a model says on one tile and date: the truth plus a bias of its own."""
    padded = np.pad(logits, ((0, 0), (SIZE, SIZE), (SIZE, SIZE)), mode='edge')
    part = padded[:, row + SIZE : row + 2 * SIZE, column + SIZE : column + 2 * SIZE]
    noisy = part + rng.normal(0, 0.6, size=(CLASSES, 1, 1))
    e = np.exp(noisy - noisy.max(axis=0))
    return (e / e.sum(axis=0)).astype(np.float32)


def test_fusion_removes_the_seams_a_patchwork_shows() -> None:
    height = width = 8 * SIZE
    logits = smooth_logits(height, width)
    grid = Grid(CRS.from_epsg(32631), Affine(10, 0, 0, 0, -10, 0), width, height)
    clear = np.ones((SIZE, SIZE), bool)
    rng = np.random.default_rng(0)

    # Today's patchwork: tiles side by side, each from one date.
    patchwork = SheetFusion(grid, CLASSES)
    starts = list(range(0, height, SIZE))
    for row in starts:
        for column in starts:
            tile = tile_prediction(logits, row, column, rng)
            patchwork.add(tile, clear, column, row, 0)
    borders = tile_borders(starts, SIZE, width)
    before = seam_rates(patchwork.classes(), borders, borders)

    # Fused: tiles overlapping by half, every tile on eight dates.
    fused = SheetFusion(grid, CLASSES)
    starts = list(range(-SIZE // 2, height, SIZE // 2))
    for date in range(8):
        for row in starts:
            for column in starts:
                tile = tile_prediction(logits, row, column, rng)
                fused.add(tile, clear, column, row, date)
    borders = tile_borders(starts, SIZE, width)
    after = seam_rates(fused.classes(), borders, borders)

    assert before.ratio > 1.2
    assert after.ratio <= 1.2
