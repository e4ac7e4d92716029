"""The training sampler's preference for rare classes (``rare_classes``).

The fixture is the exact scene of ``tests/joint_scene.py`` (sheet 22 at 100 m,
320 x 200 pixels, train = its western half, 160 x 200 pixels) with a label
raster of known classes. With 32-pixel crops the cells are 16 x 16 pixels,
aligned with the grid, so every class block below is whole cells:

* class ``COMMON`` everywhere else in the train half: 19,968 pixels;
* class ``MEDIUM`` on rows 0-79, columns 0-79: 6,400 pixels (25 cells);
* class ``RARE`` on rows 96-111, columns 96-127: 512 pixels (2 cells, each
  across the edge between the train sheets 22/1-2 and 22/5-6), 1.6 % of the
  train half;
* unlabelled on rows 160-191, columns 0-159 (20 cells).

Median frequency weights make ``n_c w_c`` equal for the three classes, so a
centre drawn by class weight lies on each class with probability 1/3, and at
strength ``s`` on the rare class with ``(1 - s) * 0.016 + s / 3``.
"""

import math
import re

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.conftest import write_labels
from tests.joint_scene import HEIGHT, LEFT, RES, TOP, WIDTH, Scene, write_scene
from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.datasets.bvm import BVMRaster
from torchgeo_bvm.datasets.joint import BVMSentinel2
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.samplers.rare import ClassCells, RareClassCentres, cell_size
from torchgeo_bvm.samplers.sheet import CropRedraw, SheetSampler
from torchgeo_bvm.samplers.temporal import CentreTimestampSampler
from torchgeo_bvm.sheets.boundary import read_boundary

COMMON, MEDIUM, RARE = 1, 4, 9
TRAIN_PIXELS = 160 * 200
RARE_SHARE = 512 / TRAIN_PIXELS
SIZE = 32
DRAWS = 30_000


def scene_labels() -> NDArray[np.uint8]:
    labels = np.full((HEIGHT, WIDTH), COMMON, dtype=np.uint8)
    labels[0:80, 0:80] = MEDIUM
    labels[96:112, 96:128] = RARE
    labels[160:192, 0:160] = IGNORE_INDEX
    return labels


def joint(scene: Scene, labels: NDArray[np.uint8], path: str) -> BVMSentinel2:
    from rasterio.transform import from_origin

    write_labels(path, labels, from_origin(LEFT, TOP, RES, RES))
    image = Sentinel2TOC(scene.imagery, crs='EPSG:31370', res=RES)
    return BVMSentinel2(
        image,
        BVMRaster(path, crs=image.crs, res=RES),
        numbers=[22],
        flanders=read_boundary(scene.boundary),
    )


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


@pytest.fixture(scope='module')
def dataset(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> BVMSentinel2:
    folder = tmp_path_factory.mktemp('rare')
    return joint(scene, scene_labels(), str(folder / 'labels.tif'))


def centres(windows: list[tuple[slice, slice]], dataset: BVMSentinel2) -> NDArray:
    """``(rows, columns)`` of the crops' centre pixels."""
    located = np.array([dataset.grid.locate(x, y)[:2] for x, y in windows])
    return np.stack([located[:, 1] + SIZE // 2, located[:, 0] + SIZE // 2])


def assert_share(hits: int, draws: int, expected: float) -> None:
    """Within 4 binomial standard deviations (a 1 in 15,000 chance to fail)."""
    spread = 4 * math.sqrt(expected * (1 - expected) / draws)
    assert abs(hits / draws - expected) <= spread, (hits / draws, expected, spread)


# -- the counts --------------------------------------------------------------------


def test_cells_count_the_labels_of_the_region_exactly(dataset: BVMSentinel2) -> None:
    sampler = SheetSampler(dataset, size=SIZE, length=1, rare_classes=1.0)
    assert isinstance(sampler.centres, RareClassCentres)
    cells = sampler.centres.cells
    assert cells.size == cell_size(SIZE) == 16
    assert cells.counts.sum(axis=0)[[COMMON, MEDIUM, RARE]].tolist() == [
        TRAIN_PIXELS - 5120 - 6400 - 512,
        6400,
        512,
    ]
    assert cells.counts.sum() == TRAIN_PIXELS - 5120
    # 10 x 13 cells of the train half, less the 20 unlabelled ones
    assert len(cells) == 10 * 13 - 20
    rare = cells.counts[:, RARE] > 0
    assert sorted(zip(cells.rows[rare], cells.columns[rare], strict=True)) == [
        (6, 6),
        (6, 7),
    ]
    assert (cells.counts[rare, RARE] == 256).all()
    # the last row of cells holds 8 rows of the sheet, the rest lies south of it
    assert set(cells.inside[cells.rows == 12].tolist()) == {16 * 8}
    assert set(cells.inside[cells.rows < 12].tolist()) == {16 * 16}


def test_weights_are_median_frequency_balancing_of_the_split(
    dataset: BVMSentinel2,
) -> None:
    from torchgeo_bvm.bvm.statistics import median_frequency_weights

    centres_ = SheetSampler(dataset, size=SIZE, length=1, rare_classes=0.5).centres
    assert isinstance(centres_, RareClassCentres)
    counts = np.zeros(14)
    counts[[COMMON, MEDIUM, RARE]] = [19968, 6400, 512]
    assert centres_.weights.tolist() == median_frequency_weights(counts)
    by_class = centres_.cells.counts.sum(axis=0) * centres_.weights
    assert by_class[[COMMON, MEDIUM, RARE]] == pytest.approx([6400] * 3, rel=1e-3)


# -- the draws ---------------------------------------------------------------------


def test_strength_zero_draws_todays_crops_and_reads_nothing(
    dataset: BVMSentinel2,
) -> None:
    today = SheetSampler(dataset, size=SIZE, length=200, generator=7)
    zero = SheetSampler(dataset, size=SIZE, length=200, generator=7, rare_classes=0)
    assert zero.centres is zero.region
    assert list(zero) == list(today)
    dates = CentreTimestampSampler(dataset, generator=1)
    queries = list(today @ dates)[:20]
    before, after = CropRedraw(today, dates, seed=3), CropRedraw(zero, dates, seed=3)
    assert [before(q, 1) for q in queries] == [after(q, 1) for q in queries]


@pytest.mark.parametrize('strength', [1.0, 0.5, 0.0])
def test_share_of_centres_on_the_rare_class(
    dataset: BVMSentinel2, strength: float
) -> None:
    sampler = SheetSampler(
        dataset, size=SIZE, length=DRAWS, generator=11, rare_classes=strength
    )
    rows, columns = centres(list(sampler), dataset)
    assert (columns < 160).all()
    assert (rows < 200).all()
    labels = scene_labels()[rows, columns]
    expected = (1 - strength) * RARE_SHARE + strength / 3
    assert_share(int((labels == RARE).sum()), DRAWS, expected)
    if strength == 1.0:
        # every centre on a labelled cell, each class a third of them
        assert (labels != IGNORE_INDEX).all()
        assert_share(int((labels == MEDIUM).sum()), DRAWS, 1 / 3)


def test_same_seed_same_crops(dataset: BVMSentinel2) -> None:
    first = SheetSampler(dataset, size=SIZE, length=50, generator=2, rare_classes=0.7)
    again = SheetSampler(dataset, size=SIZE, length=50, generator=2, rare_classes=0.7)
    assert list(first) == list(again)


def test_redraws_keep_the_preference(dataset: BVMSentinel2) -> None:
    crops = SheetSampler(dataset, size=SIZE, length=500, generator=4, rare_classes=1)
    dates = CentreTimestampSampler(dataset, generator=5)
    redraw = CropRedraw(crops, dates, seed=6)
    assert redraw.centres is crops.centres
    drawn = [redraw(q, a) for q in crops @ dates for a in (1, 2, 3, 4)]
    windows = [(q[0], q[1]) for q in drawn if q is not None]
    assert len(windows) == 2000
    rows, columns = centres(windows, dataset)
    labels = scene_labels()[rows, columns]
    assert (labels != IGNORE_INDEX).all()
    assert_share(int((labels == RARE).sum()), len(windows), 1 / 3)


def test_cells_that_reach_past_the_region_draw_only_its_pixels(
    dataset: BVMSentinel2,
) -> None:
    full = SheetSampler(dataset, size=SIZE, length=1, rare_classes=1.0).centres
    assert isinstance(full, RareClassCentres)
    last = full.cells.rows == 12
    cells = ClassCells(
        16,
        full.cells.columns[last],
        full.cells.rows[last],
        full.cells.counts[last],
        full.cells.inside[last],
    )
    edge = RareClassCentres(full.region, cells, full.weights.tolist(), 1.0)
    columns, rows = edge.draw(np.random.default_rng(0), 2000)
    assert set(rows.tolist()) == set(range(192, 200))
    assert set(columns.tolist()) == set(range(160))


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('value', 'shown'),
    [
        (-0.1, '-0.1'),
        (1.5, '1.5'),
        (math.nan, 'nan'),
        (math.inf, 'inf'),
        ('0.5', "'0.5' (text)"),
        (True, 'True'),
        (None, 'None'),
        ([0.5], '[0.5]'),
    ],
)
def test_bad_strength(dataset: BVMSentinel2, value: object, shown: str) -> None:
    message = (
        'rare_classes must be a number from 0 (crops drawn uniformly) to 1 (every '
        f'crop drawn by class weight), got {shown}'
    )
    with pytest.raises(BVMValueError, match=f'^{re.escape(message)}$'):
        SheetSampler(dataset, size=SIZE, rare_classes=value)  # type: ignore[arg-type]


def test_a_split_without_labels(scene: Scene, tmp_path) -> None:
    labels = np.full((HEIGHT, WIDTH), IGNORE_INDEX, dtype=np.uint8)
    labels[:, 160:] = COMMON
    unlabelled = joint(scene, labels, str(tmp_path / 'labels.tif'))
    message = "rare_classes: split 'train' holds no labelled pixel to weigh crops by"
    with pytest.raises(BVMValueError, match=f'^{re.escape(message)}$'):
        SheetSampler(unlabelled, size=SIZE, rare_classes=0.5)
