import json
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box

from tests.joint_scene import (
    CLOUD_COLUMNS,
    CLOUD_ROWS,
    DATES,
    HEIGHT,
    LEFT,
    RES,
    WIDTH,
    Scene,
    band_value,
    write_scene,
)
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.training.normalization import (
    STATS_FORMAT,
    BandStats,
    compute_band_stats,
    load_band_stats,
)


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


@pytest.fixture(scope='module')
def image(scene: Scene) -> Sentinel2TOC:
    return Sentinel2TOC(scene.imagery, crs='EPSG:31370')


def usable_pixels(columns: slice, rows: slice) -> np.ndarray:
    """[N, 11] values of the usable pixels of both dates, computed from the scene."""
    grid_rows, grid_columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    chunks = []
    for k, _ in enumerate(DATES):
        usable = np.zeros((HEIGHT, WIDTH), bool)
        usable[rows, columns] = True
        if k == 0:
            usable[CLOUD_ROWS, CLOUD_COLUMNS] = False
        values = np.stack(
            [
                grid_columns
                if b == 'B02'
                else grid_rows
                if b == 'B03'
                else np.full((HEIGHT, WIDTH), band_value(b, k))
                for b in ALL_BANDS
            ]
        )
        chunks.append(values[:, usable].T)
    return np.concatenate(chunks).astype(np.float64)


def test_statistics_of_the_train_split_are_exact(image: Sentinel2TOC) -> None:
    stats = compute_band_stats(image, numbers=[22], progress=False)
    # train = 22/1-2 and 22/5-6, the western half of sheet 22; the cloud lies in it
    expected = usable_pixels(slice(0, 160), slice(0, HEIGHT))
    assert stats.bands == ALL_BANDS
    assert stats.pixels == expected.shape[0] == 2 * 160 * HEIGHT - 200
    assert np.allclose(stats.mean, expected.mean(axis=0), rtol=1e-12)
    assert np.allclose(stats.std, expected.std(axis=0), rtol=1e-9)
    assert stats.sampled == stats.pixels  # all pixels fit in the sample
    for q in (1.0, 99.0):
        assert np.allclose(stats.percentile(q), np.percentile(expected, q, axis=0))
    assert stats.metadata['split'] == 'train'
    assert stats.metadata['sheets'] == ['22/1-2', '22/5-6']


def test_flanders_and_split_restrict_the_pixels(image: Sentinel2TOC) -> None:
    west = box(LEFT, 0, LEFT + 80 * RES, 1e7)
    stats = compute_band_stats(image, numbers=[22], flanders=west, progress=False)
    expected = usable_pixels(slice(0, 80), slice(0, HEIGHT))
    assert stats.pixels == expected.shape[0]
    assert np.allclose(stats.mean, expected.mean(axis=0))
    val = compute_band_stats(image, split='val', numbers=[22], progress=False)
    expected = usable_pixels(slice(160, WIDTH), slice(0, 100))
    assert val.pixels == expected.shape[0] == 2 * 160 * 100
    assert np.allclose(val.mean, expected.mean(axis=0))


def test_percentiles_from_a_sample_are_seeded(image: Sentinel2TOC) -> None:
    first = compute_band_stats(
        image, numbers=[22], sample_size=2000, seed=3, progress=False
    )
    again = compute_band_stats(
        image, numbers=[22], sample_size=2000, seed=3, progress=False
    )
    assert first.sampled == 2000
    assert first.percentiles == again.percentiles
    exact = np.percentile(usable_pixels(slice(0, 160), slice(0, HEIGHT)), 99, axis=0)
    column = ALL_BANDS.index('B02')
    assert abs(first.percentile(99)[column] - exact[column]) < 5  # of 0..159


def test_write_and_load(image: Sentinel2TOC, tmp_path: Path) -> None:
    stats = compute_band_stats(image, numbers=[22], progress=False)
    path = stats.write(tmp_path / 'stats' / 'bands.json')
    data = json.loads(path.read_text())
    assert data['format'] == STATS_FORMAT
    assert data['bands'] == list(ALL_BANDS)
    assert set(data['percentiles']) == {'1', '99'}
    assert [p.name for p in path.parent.iterdir()] == ['bands.json']
    loaded = load_band_stats(path)
    assert loaded.mean == stats.mean
    assert loaded.percentile(99) == stats.percentile(99)
    rgb = load_band_stats(path, ['B04', 'B03', 'B02'])
    assert rgb.bands == ('B04', 'B03', 'B02')
    assert rgb.mean == tuple(stats.mean[ALL_BANDS.index(b)] for b in rgb.bands)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='torchgeo-bvm stats'):
        load_band_stats(tmp_path / 'missing.json')
    other = tmp_path / 'other.json'
    other.write_text('{"mean": [1]}')
    with pytest.raises(ValueError, match='not a band statistics file'):
        load_band_stats(other)
    stats = BandStats(('B02',), (1.0,), (2.0,), {1.0: (0.0,), 99.0: (3.0,)}, 10, 10)
    path = stats.write(tmp_path / 'b02.json')
    with pytest.raises(ValueError, match=r'no statistics for band\(s\) B08'):
        load_band_stats(path, ['B02', 'B08'])
    with pytest.raises(ValueError, match='percentile 50'):
        stats.percentile(50)
    with pytest.raises(ValueError, match='one value per band'):
        BandStats(('B02', 'B03'), (1.0,), (2.0,), {}, 1, 1)


def test_compute_errors(image: Sentinel2TOC) -> None:
    with pytest.raises(ValueError, match=r'percentiles must lie in 0\.\.100'):
        compute_band_stats(image, numbers=[22], percentiles=(1, 101), progress=False)
    with pytest.raises(
        ValueError, match=r"no imagery overlaps the 'train' sheets \(23/1-2"
    ):
        compute_band_stats(image, numbers=[23], progress=False)
    nowhere = box(0, 0, 1, 1)
    with pytest.raises(ValueError, match="no usable pixel in the 'train' sheets"):
        compute_band_stats(image, numbers=[22], flanders=nowhere, progress=False)
