import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from shapely.geometry import Point, box

from tests.datasets.reference_polygons import PlainPolygons
from tests.datasets.reference_reads import reference_read
from tests.joint_scene import (
    CLOUD_COLUMNS,
    CLOUD_ROWS,
    DATES,
    HEIGHT,
    LEFT,
    RES,
    TOP,
    WIDTH,
    Scene,
    band_value,
    write_scene,
)
from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX
from torchgeo_bvm.datasets.bands import ALL_BANDS, CloudRule
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.joint import BVMSentinel2, merge_joint_samples
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.plot import IGNORED_LABEL
from torchgeo_bvm.samplers.sheet import CropRedraw, SheetGridSampler, SheetSampler
from torchgeo_bvm.samplers.temporal import CentreTimestampSampler
from torchgeo_bvm.sheets.boundary import read_boundary
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.synth.bvm import bwkhab_frame, write_bwkhab

COLUMN, ROW = ALL_BANDS.index('B02'), ALL_BANDS.index('B03')


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def labels_of(scene: Scene, crs: object, res: object) -> BVMDataset:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # the Unknown class unit
        return BVMDataset(scene.bvm, crs=crs, res=res)


def make(scene: Scene, crs: str = 'EPSG:31370', **kwargs: object) -> BVMSentinel2:
    res = RES if crs == 'EPSG:31370' else resolution_for(crs, RES)
    rule = kwargs.pop('cloud_rule', CloudRule())
    image = Sentinel2TOC(scene.imagery, crs=crs, res=res, cloud_rule=rule)
    flanders = read_boundary(scene.boundary)
    return BVMSentinel2(
        image,
        labels_of(scene, image.crs, res),
        numbers=[22],
        flanders=flanders,
        **kwargs,
    )


@pytest.fixture(scope='module')
def dataset(scene: Scene) -> BVMSentinel2:
    return make(scene)


def day(index: int) -> slice:
    start = pd.Timestamp(DATES[index])
    return slice(start, start + pd.Timedelta(hours=23))  # within the date's interval


def query(
    column: int, row: int, size: int, date: int = 1
) -> tuple[slice, slice, slice]:
    x0, y1 = LEFT + column * RES, TOP - row * RES
    return slice(x0, x0 + size * RES), slice(y1 - size * RES, y1), day(date)


def test_sample_keys_shapes_and_georeferencing(dataset: BVMSentinel2) -> None:
    sample = dataset[query(20, 30, 32)]
    assert set(sample) == {'image', 'mask', 'bounds', 'transform'}
    assert sample['image'].shape == (11, 32, 32)
    assert sample['image'].dtype == torch.float32
    assert sample['mask'].shape == (32, 32)
    assert sample['mask'].dtype == torch.int64
    assert sample['bounds'].shape == (9,)
    assert sample['bounds'][:2].tolist() == [LEFT + 20 * RES, LEFT + 52 * RES]
    assert sample['transform'].tolist() == [
        RES,
        0,
        LEFT + 2000,
        0,
        -RES,
        TOP - 3000,
        0,
        0,
        1,
    ]


def test_window_inside_a_sheet_is_read_without_resampling(
    dataset: BVMSentinel2, scene: Scene
) -> None:
    # a query a third of a pixel off the grid is snapped to it
    x, y, t = query(40, 50, 32)
    sample = dataset[
        slice(x.start + 30, x.stop + 30), slice(y.start - 20, y.stop - 20), t
    ]
    image = sample['image'].numpy()
    rows, columns = np.mgrid[50:82, 40:72]
    assert (image[COLUMN] == columns).all()
    assert (image[ROW] == rows).all()
    assert (image[ALL_BANDS.index('B12')] == band_value('B12', 1)).all()
    assert (sample['mask'].numpy() == scene.labels[50:82, 40:72]).all()


@pytest.mark.parametrize(
    ('column', 'row'),
    [(-10, 40), (130, 40), (150, 90), (40, -16), (140, 84), (-16, 168)],
)
def test_mirrored_pixels_reflect_the_sheet_and_are_ignored(
    dataset: BVMSentinel2, scene: Scene, column: int, row: int
) -> None:
    size = 32
    sample = dataset[query(column, row, size)]
    cx, cy = LEFT + (column + 16.5) * RES, TOP - (row + 16.5) * RES
    (centre,) = [
        s
        for s in Sheet.parse(22).children('kbl4')
        if box(*s.bounds).contains(Point(cx, cy))
    ]
    # the sheet's pixels in sheet-22 coordinates, mirrored with numpy
    xmin, ymin, xmax, ymax = centre.bounds
    c0, c1 = round((xmin - LEFT) / RES), round((xmax - LEFT) / RES)
    r0, r1 = round((TOP - ymax) / RES), round((TOP - ymin) / RES)
    rows, columns = np.mgrid[r0:r1, c0:c1]
    pad = 40
    mirrored_rows = np.pad(rows, pad, mode='reflect')
    mirrored_columns = np.pad(columns, pad, mode='reflect')
    window = (
        slice(row - r0 + pad, row - r0 + pad + size),
        slice(column - c0 + pad, column - c0 + pad + size),
    )
    image, mask = sample['image'].numpy(), sample['mask'].numpy()
    assert (image[ROW] == mirrored_rows[window]).all()
    assert (image[COLUMN] == mirrored_columns[window]).all()
    grid_rows, grid_columns = np.mgrid[row : row + size, column : column + size]
    outside = (
        (grid_rows < r0)
        | (grid_rows >= r1)
        | (grid_columns < c0)
        | (grid_columns >= c1)
    )
    assert outside.any()
    assert (mask[outside] == IGNORE_INDEX).all()
    inside = (
        ~outside
        & scene.flanders[grid_rows.clip(0, HEIGHT - 1), grid_columns.clip(0, WIDTH - 1)]
    )
    expected = scene.labels[grid_rows[inside], grid_columns[inside]]
    assert (mask[inside] == expected).all()


def test_no_training_crop_shows_a_labelled_pixel_of_another_split(
    dataset: BVMSentinel2,
) -> None:
    train = dataset.for_split('train')
    sampler = SheetSampler(train, size=32, length=300, generator=11)
    crossing = 0
    for q in sampler @ CentreTimestampSampler(train, generator=11):
        sample = train[q]
        labelled = sample['mask'].numpy() != IGNORE_INDEX
        columns = sample['image'][COLUMN].numpy()[labelled]
        rows = sample['image'][ROW].numpy()[labelled]
        # the train sheets 22/1-2 and 22/5-6 are the western half of sheet 22
        assert (columns < 160).all()
        assert ((rows >= 0) & (rows < HEIGHT)).all()
        grid_column, _, _, _ = train.grid.locate(q[0], q[1])
        crossing += grid_column + 32 > 160
    assert crossing > 0  # crops did reach the val/test border


def test_clouds_and_outside_flanders_are_ignored_but_keep_imagery(
    dataset: BVMSentinel2, scene: Scene
) -> None:
    cloudy = dataset[query(CLOUD_COLUMNS.start - 4, CLOUD_ROWS.start - 4, 32, date=0)]
    mask = cloudy['mask'].numpy()
    cloud = scene.clouds[DATES[0]][CLOUD_ROWS.start - 4 :, CLOUD_COLUMNS.start - 4 :][
        :32, :32
    ]
    assert cloud.any()
    assert (mask[cloud] == IGNORE_INDEX).all()
    assert (mask[~cloud] != IGNORE_INDEX).all()
    clear = dataset[query(CLOUD_COLUMNS.start - 4, CLOUD_ROWS.start - 4, 32, date=1)]
    assert (clear['mask'].numpy() != IGNORE_INDEX).all()

    east = dataset[query(290, 150, 30)]  # columns 290..319, Flanders ends at 300
    image, mask = east['image'].numpy(), east['mask'].numpy()
    assert (image[COLUMN] == np.arange(290, 320)).all()
    assert (mask[:, 10:] == IGNORE_INDEX).all()
    assert (mask[:, :10] == scene.labels[150:180, 290:300]).all()


def test_unlabelled_pixels_are_ignored(dataset: BVMSentinel2, scene: Scene) -> None:
    mask = dataset[query(0, 0, 64)]['mask'].numpy()
    assert (mask[:10, :40] == IGNORE_INDEX).all()
    assert (mask[10:, :] == scene.labels[10:64, :64]).all()


def test_merge_does_not_concatenate_masks_or_bounds() -> None:
    image = {'image': torch.zeros(2, 4, 4), 'bounds': torch.arange(9.0)}
    labels = {'mask': torch.ones(4, 4, dtype=torch.long), 'bounds': torch.zeros(9)}
    merged = merge_joint_samples([image, labels])
    assert merged['bounds'].tolist() == list(range(9))
    assert merged['mask'].shape == (4, 4)
    assert merged['image'].shape == (2, 4, 4)


def test_imagery_and_labels_must_overlap(scene: Scene, tmp_path: object) -> None:
    xmin, ymin, _, _ = Sheet.parse(1).bounds
    frame = bwkhab_frame([box(xmin, ymin, xmin + 1000, ymin + 1000)], ['hp'])
    far = write_bwkhab(frame, tmp_path / 'BwkHab.shp')  # type: ignore[operator]
    image = Sentinel2TOC(scene.imagery, crs='EPSG:31370')
    with pytest.raises(ValueError, match='imagery and labels do not overlap'):
        BVMSentinel2(image, BVMDataset(far, crs=image.crs, res=RES))


def test_unknown_split(dataset: BVMSentinel2) -> None:
    with pytest.raises(ValueError, match="unknown split 'train2'"):
        dataset.for_split('train2')


def redrawn(dataset: BVMSentinel2, max_redraws: int, size: int) -> BVMSentinel2:
    """The training split with redraws, wired as the data module wires them."""
    train = dataset.for_split('train', max_redraws=max_redraws)
    crops = SheetSampler(train, split='train', size=size, generator=0)
    train.redraw = CropRedraw(crops, CentreTimestampSampler(train), seed=0)
    return train


def test_label_less_crops_are_redrawn_reproducibly(dataset: BVMSentinel2) -> None:
    train = redrawn(dataset, 30, 8)
    # wholly inside the cloud on the first date: no valid pixel
    q = query(CLOUD_COLUMNS.start, CLOUD_ROWS.start, 8, date=0)
    assert (dataset[q]['mask'] == IGNORE_INDEX).all()
    first, again = train[q], train[q]
    assert (first['mask'] != IGNORE_INDEX).any()
    assert torch.equal(first['bounds'], again['bounds'])
    assert torch.equal(first['image'], again['image'])
    assert first['image'].shape == (11, 8, 8)
    # The sample is the redraw's query, read as it is.
    expected = train.redraw(q, 1)
    assert expected is not None
    assert torch.equal(first['image'], dataset[expected]['image'])


def test_a_split_without_valid_pixels_is_an_error(scene: Scene) -> None:
    nothing_usable = CloudRule(valid=(1,), dilate_classes=())
    train = redrawn(make(scene, cloud_rule=nothing_usable), 3, 16)
    with pytest.raises(
        RuntimeError, match=r"split 'train' .*4 random crops in a row had no valid"
    ):
        train[query(10, 10, 16)]


def test_redraws_without_a_redraw_are_refused(dataset: BVMSentinel2) -> None:
    train = dataset.for_split('train', max_redraws=5)
    cloudy = query(CLOUD_COLUMNS.start, CLOUD_ROWS.start, 8, date=0)
    with pytest.raises(
        BVMValueError,
        match=r"^split 'train': a crop without any labelled pixel is to be redrawn "
        r'\(max_redraws=5\) but the dataset has no redraw: set dataset.redraw = ',
    ):
        train[cloudy]
    # A crop with labelled pixels needs no redraw.
    assert (train[query(20, 30, 8)]['mask'] != IGNORE_INDEX).any()


def test_geographic_crs_samples_stay_within_their_sheet(scene: Scene) -> None:
    # evaluation datasets serve one split: a tile whose centre pixel falls just
    # outside its (rotated) sheet is still mirrored at that sheet
    dataset = make(scene, crs='EPSG:4326').for_split('val')
    assert dataset.crs.to_epsg() == 4326
    tiles = SheetGridSampler(dataset, split='val', size=32)
    for q in tiles @ CentreTimestampSampler(dataset, per_location=True):
        sample = dataset[q]
        assert sample['image'].shape == (11, 32, 32)
        labelled = sample['mask'].numpy() != IGNORE_INDEX
        columns = sample['image'][COLUMN].numpy()[labelled]
        rows = sample['image'][ROW].numpy()[labelled]
        # 22/3-4 holds columns 160..319 and rows 0..99 of sheet 22
        assert (columns >= 160).all()
        assert (rows < 100).all()


def test_plot(dataset: BVMSentinel2) -> None:
    sample = dataset[query(20, 30, 32)]
    sample['prediction'] = sample['mask'].clone()
    figure = dataset.plot(sample, suptitle='sample')
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 3
    day = pd.Timestamp(
        (float(sample['bounds'][6]) + float(sample['bounds'][7])) / 2, unit='s'
    )
    assert figure.axes[0].get_title() == f'true colour (B04 B03 B02), {day.date()}'
    # The legend names the classes shown, and what white means.
    shown = set(np.unique(sample['mask'].numpy()).tolist())
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    expected = [c.name for c in CLASSES if c.id in shown]
    if IGNORE_INDEX in shown:
        expected.append(IGNORED_LABEL)
    assert labels == expected


# ---------------------------------------------------------------- fast paths
# Each per-sample shortcut (issue 5) must give exactly what the generic path
# (TorchGeo's lookups and merges, shapely's geo interface, pandas sampling) gives.


def _assert_same_samples(first: dict[str, object], second: dict[str, object]) -> None:
    assert list(first) == list(second)
    for key, value in first.items():
        other = second[key]
        assert isinstance(value, torch.Tensor)
        assert isinstance(other, torch.Tensor)
        assert value.dtype == other.dtype, key
        assert value.shape == other.shape, key
        assert torch.equal(value, other), key


FAST_PATH_QUERIES = [
    (20, 30, 32),  # inside a sheet
    (70, 30, 32),  # across a sheet edge: mirrored
    (-10, -10, 32),  # past the imagery's corner
    (WIDTH - 20, HEIGHT - 20, 32),  # past the opposite corner
]


class RecordingImagery(Sentinel2TOC):
    """Sentinel-2 imagery that notes every query the joint dataset makes."""

    queries: list[tuple[slice, slice, slice]]

    def __getitem__(self, query):  # type: ignore[no-untyped-def]
        self.queries.append(query)
        return super().__getitem__(query)


def test_direct_imagery_reads_match_merged_reads(scene: Scene) -> None:
    rule = CloudRule(dilation_m=300.0)
    image = RecordingImagery(scene.imagery, crs='EPSG:31370', res=RES, cloud_rule=rule)
    image.queries = []
    joint = BVMSentinel2(
        image,
        labels_of(scene, image.crs, RES),
        numbers=[22],
        flanders=read_boundary(scene.boundary),
    )
    again = make(scene, cloud_rule=rule)
    grid = joint.grid
    for column, row, size in FAST_PATH_QUERIES:
        x, y = grid.window(column, row, size, size)
        for date in (0, 1):
            q = (x, y, day(date))
            _assert_same_samples(joint[q], again[q])
    # Every imagery read the joint samples are made of (inside a sheet, mirrored
    # across its edge, past the imagery's corners) equals the files read band by
    # band through rasterio.merge, TorchGeo's path.
    assert len(image.queries) >= len(FAST_PATH_QUERIES) * 2
    for x, y, t in list(image.queries):
        query = (slice(x.start, x.stop, RES), slice(y.start, y.stop, RES), t)
        sample = image[query]
        expected_image, expected_valid = reference_read(image, *query)
        np.testing.assert_array_equal(sample['image'].numpy(), expected_image)
        np.testing.assert_array_equal(sample['valid'].numpy(), expected_valid)


def test_label_raster_window_reads_match_torchgeo_merge(
    scene: Scene, tmp_path: object
) -> None:
    from pathlib import Path

    from torchgeo.datasets import RasterDataset

    from torchgeo_bvm.bvm.labels import rasterize_bvm
    from torchgeo_bvm.datasets.bvm import BVMRaster

    labels = labels_of(scene, 'EPSG:31370', RES)
    path = rasterize_bvm(
        labels,
        Path(str(tmp_path)) / 'labels.tif',
        crs='EPSG:31370',
        res=RES,
        sheets=['22/1-2'],
        progress=False,
    )
    raster = BVMRaster(path, crs=labels.crs, res=RES)
    xmin, ymin, xmax, ymax = raster.index.total_bounds
    checked = 0
    for dx, dy in [(0, 0), (-5, 3), (7, -9), (-40, -40), (75, 2)]:
        for corner in [(xmin, ymax), (xmax - 16 * RES, ymin + 16 * RES)]:
            x0, y1 = corner[0] + dx * RES, corner[1] + dy * RES
            q = (slice(x0, x0 + 16 * RES), slice(y1 - 16 * RES, y1))
            try:
                expected = RasterDataset.__getitem__(raster, q)
            except IndexError:
                with pytest.raises(IndexError):
                    raster[q]
                continue
            assert raster._read_on_grid(*raster._disambiguate_slice(q)) is not None
            _assert_same_samples(raster[q], expected)
            checked += 1
    assert checked >= 6
    # off the file's grid (a third of a pixel): TorchGeo's merge is used
    q = (slice(xmin + 30, xmin + 30 + 16 * RES), slice(ymax - 16 * RES, ymax))
    assert raster._read_on_grid(*raster._disambiguate_slice(q)) is None
    _assert_same_samples(raster[q], RasterDataset.__getitem__(raster, q))


def test_rasterisation_matches_gdal(scene: Scene) -> None:
    import rasterio.features
    import rasterio.transform

    labels = labels_of(scene, 'EPSG:4326', resolution_for('EPSG:4326', RES))
    polygons = PlainPolygons(labels)
    xmin, ymin, xmax, ymax = labels.index.total_bounds
    xres, yres = labels.res
    for fx, fy in [(0.1, 0.2), (0.5, 0.5), (0.8, 0.6)]:
        transform = rasterio.transform.from_origin(
            xmin + fx * (xmax - xmin), ymin + fy * (ymax - ymin), xres, yres
        )
        fast = labels.rasterize(transform, 40, 30)
        hits = polygons.hits(transform, 40, 30)
        slow = rasterio.features.rasterize(
            zip(polygons.geometries[hits], polygons.labels[hits].tolist(), strict=True),
            out_shape=(30, 40),
            transform=transform,
            fill=IGNORE_INDEX,
            dtype=np.uint8,
        )
        assert len(hits) > 0
        assert np.array_equal(fast, slow)
