"""A fused map's confidence against true classes."""

from pathlib import Path

import numpy as np
import pytest

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.errors import BVMFileError, BVMValueError
from torchgeo_bvm.evaluation.calibration import Reliability
from torchgeo_bvm.maps.reliability import map_outcomes, map_reliability
from torchgeo_bvm.spatial.classraster import write_class_raster
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.classmap import write_class_map

UTM = 'EPSG:32631'


def _scene(tmp_path: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """A 30 x 40 map with probabilities, and a truth on a larger grid of its lattice."""
    rng = np.random.default_rng(0)
    grid = Grid.from_bounds((500_000, 5_650_000, 500_400, 5_650_300), UTM, 10.0)
    probabilities = rng.dirichlet(np.ones(3), grid.shape)  # [H, W, 3]
    stack = np.zeros((14, *grid.shape), dtype=np.uint8)
    stack[:3] = np.rint(np.moveaxis(probabilities, -1, 0) * 250).astype(np.uint8)
    classes = probabilities.argmax(axis=-1).astype(np.uint8)
    raw = stack.max(axis=0)
    # The confidence a calibration table wrote: another code.
    confidence = (raw // 2).astype(np.uint8)
    classes[:2] = IGNORE_INDEX
    confidence[:2] = IGNORE_INDEX
    stack[:, :2] = IGNORE_INDEX
    maps = tmp_path / 'maps'
    write_class_map(maps / 'map.tif', classes, grid, confidence, probabilities=stack)
    wide = Grid.from_bounds((499_900, 5_649_900, 500_500, 5_650_400), UTM, 10.0)
    truth = rng.integers(0, 3, wide.shape).astype(np.uint8)
    truth[-3:] = IGNORE_INDEX
    write_class_raster(tmp_path / 'truth.tif', truth, wide, progress=False)
    # The truth on the map's grid: 10 columns and 10 rows in.
    inner = truth[10:40, 10:50]
    return (
        maps,
        tmp_path / 'truth.tif',
        {
            'classes': classes,
            'confidence': confidence,
            'raw': raw,
            'truth': inner,
        },
    )


def test_outcomes_and_reliability_against_the_truth(tmp_path: Path) -> None:
    maps, truth, scene = _scene(tmp_path)
    counted = (scene['classes'] != IGNORE_INDEX) & (scene['truth'] != IGNORE_INDEX)
    codes, correct, classes = map_outcomes(maps, truth)
    np.testing.assert_array_equal(codes, scene['confidence'][counted])
    np.testing.assert_array_equal(
        correct, (scene['classes'] == scene['truth'])[counted]
    )
    np.testing.assert_array_equal(classes, scene['classes'][counted])
    raw_codes, _, _ = map_outcomes(maps, truth, raw=True)
    np.testing.assert_array_equal(raw_codes, scene['raw'][counted])
    bins = map_reliability(maps, truth, raw=True)
    expected = Reliability()
    expected.add(
        scene['raw'][counted] / 250, (scene['classes'] == scene['truth'])[counted]
    )
    assert bins.ece() == pytest.approx(expected.ece())
    assert bins.total == int(counted.sum())


def test_missing_files_and_no_shared_pixel(tmp_path: Path) -> None:
    maps, truth, _ = _scene(tmp_path)
    with pytest.raises(BVMFileError, match='reference raster not found'):
        map_outcomes(maps, tmp_path / 'none.tif')
    (maps / 'map_probabilities.tif').unlink()
    with pytest.raises(BVMFileError, match=r'no map_probabilities\.tif beside it'):
        map_outcomes(maps, truth, raw=True)
    far = Grid.from_bounds((600_000, 5_650_000, 600_100, 5_650_100), UTM, 10.0)
    write_class_raster(
        tmp_path / 'far.tif', np.ones(far.shape, dtype=np.uint8), far, progress=False
    )
    with pytest.raises(BVMValueError, match='no pixel with a reference class'):
        map_reliability(maps, tmp_path / 'far.tif')
