import numpy as np
import pytest
import torch
from affine import Affine

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.prediction import PROBABILITY_SCALE, SheetMosaic, tile_weights


def random_tile(seed: int, classes: int = 4, size: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(classes, size, size)).astype(np.float32)
    return np.exp(logits) / np.exp(logits).sum(axis=0)


def test_tile_weights() -> None:
    centre = tile_weights(4, 'centre')
    assert centre.shape == (4, 4)
    assert centre[1, 1] == centre[2, 2] == centre.max()
    assert centre[0, 0] == centre[0, 3] == centre[3, 0] == centre.min()
    assert np.array_equal(centre, centre.T)
    assert tile_weights(4, 'blend').min() > 0


@pytest.mark.parametrize('blend', ['centre', 'blend'])
def test_non_overlapping_tiles_give_the_argmax(blend) -> None:
    mosaic = SheetMosaic(Affine.identity(), (4, 8), 4, blend=blend)
    left, right = random_tile(0), random_tile(1)
    mosaic.add(left, 0, 0)
    mosaic.add(torch.from_numpy(right), 4, 0)
    expected = np.concatenate([left.argmax(0), right.argmax(0)], axis=1)
    assert np.array_equal(mosaic.classes(), expected)
    assert np.allclose(
        mosaic.probabilities(), np.concatenate([left, right], axis=2), atol=1e-6
    )


def test_centre_keeps_the_most_central_tile() -> None:
    mosaic = SheetMosaic(Affine.identity(), (4, 6), 4, blend='centre')
    a, b = random_tile(2), random_tile(3)
    mosaic.add(a, 0, 0)
    mosaic.add(b, 2, 0)
    result = mosaic.probabilities()
    # Columns 0-1 only in a; 4-5 only in b; in the overlap (columns 2-3) column 2
    # is a's inner column and b's border column, column 3 the reverse.
    assert np.array_equal(result[:, :, :2], a[:, :, :2])
    assert np.array_equal(result[:, :, 4:], b[:, :, 2:])
    weights = tile_weights(4, 'centre')
    for row in range(4):
        for column in (2, 3):
            wa, wb = weights[row, column], weights[row, column - 2]
            expected = a[:, row, column] if wa >= wb else b[:, row, column - 2]
            assert np.array_equal(result[:, row, column], expected)


def test_blend_is_the_weighted_mean() -> None:
    mosaic = SheetMosaic(Affine.identity(), (4, 6), 4, blend='blend')
    a, b = random_tile(4), random_tile(5)
    mosaic.add(a, 0, 0)
    mosaic.add(b, 2, 0)
    w = tile_weights(4, 'blend')
    expected = (a[:, :, 2:] * w[:, 2:] + b[:, :, :2] * w[:, :2]) / (w[:, 2:] + w[:, :2])
    assert np.allclose(mosaic.probabilities()[:, :, 2:4], expected, atol=1e-6)


def test_tiles_past_the_edge_are_clipped_and_uncovered_is_nodata() -> None:
    valid = np.ones((5, 5), dtype=bool)
    valid[0, 0] = False
    mosaic = SheetMosaic(Affine.identity(), (5, 5), 4, valid=valid)
    tile = random_tile(6)
    mosaic.add(tile, -2, -1)  # covers rows 0..2, columns 0..1
    classes = mosaic.classes()
    assert classes[0, 0] == IGNORE_INDEX
    assert np.array_equal(classes[1:3, 0:2], tile.argmax(0)[2:4, 2:4])
    assert (classes[3:, :] == IGNORE_INDEX).all()
    assert (classes[:, 2:] == IGNORE_INDEX).all()
    scaled = mosaic.scaled_probabilities()
    assert scaled.dtype == np.uint8
    assert (scaled[:, 3:, :] == IGNORE_INDEX).all()
    assert scaled[:, 1:3, 0:2].max() <= PROBABILITY_SCALE
    assert np.array_equal(
        scaled[:, 1, 1], np.rint(tile[:, 2, 3] * PROBABILITY_SCALE).astype(np.uint8)
    )
    mosaic.add(tile, 10, 10)  # entirely outside: ignored
    assert np.array_equal(mosaic.classes(), classes)


def test_bad_tiles() -> None:
    mosaic = SheetMosaic(Affine.identity(), (4, 4), 4)
    with pytest.raises(
        ValueError,
        match=r'expected a square tile of 4 classes, got the shape \(3, 4, 4\)',
    ):
        mosaic.add(np.zeros((3, 4, 4), dtype=np.float32), 0, 0)
