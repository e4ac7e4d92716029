import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from shapely.geometry import box
from torch.utils.data import DistributedSampler
from torchgeo.samplers import RandomTimestampSampler

from tests.joint_scene import (
    HEIGHT,
    LEFT,
    RES,
    TOP,
    WIDTH,
    Scene,
    write_scene,
)
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.joint import BVMSentinel2
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.samplers.prediction import SheetObservationSampler
from torchgeo_bvm.samplers.sheet import CropRedraw, SheetGridSampler, SheetSampler
from torchgeo_bvm.samplers.temporal import CalendarYearSampler, CentreTimestampSampler
from torchgeo_bvm.sheets.boundary import read_boundary
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.spatial.pixelgrid import Grid, location_seed


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def joint(scene: Scene, crs: str = 'EPSG:31370') -> BVMSentinel2:
    res = RES if crs == 'EPSG:31370' else resolution_for(crs, RES)
    image = Sentinel2TOC(scene.imagery, crs=crs, res=res)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # the Unknown class unit
        labels = BVMDataset(scene.bvm, crs=image.crs, res=res)
    return BVMSentinel2(
        image, labels, numbers=[22], flanders=read_boundary(scene.boundary)
    )


@pytest.fixture(scope='module')
def lambert(scene: Scene) -> BVMSentinel2:
    return joint(scene)


# -- SheetSampler -------------------------------------------------------------


def test_same_seed_same_crops(lambert: BVMSentinel2) -> None:
    first = list(SheetSampler(lambert, size=32, length=40, generator=7))
    again = list(SheetSampler(lambert, size=32, length=40, generator=7))
    other = list(SheetSampler(lambert, size=32, length=40, generator=8))
    assert first == again
    assert first != other
    sampler = SheetSampler(lambert, size=32, length=40, generator=7)
    assert list(sampler) != list(sampler)  # a new epoch draws new crops


def test_crops_are_snapped_centred_in_train_sheets_inside_flanders(
    lambert: BVMSentinel2,
) -> None:
    sampler = SheetSampler(lambert, size=32, length=300, generator=1)
    assert len(sampler) == 300
    grid = lambert.grid
    train = [box(*s.bounds) for s in SplitScheme().sheets('train', [22])]
    overhangs = []
    for x, y in sampler:
        column, row, width, height = grid.locate(x, y)
        assert (width, height) == (32, 32)
        assert x.start == pytest.approx(LEFT + column * RES)
        assert y.stop == pytest.approx(TOP - row * RES)
        cx, cy = grid.centre(column + 16, row + 16)
        assert any(t.contains(box(cx - 1, cy - 1, cx + 1, cy + 1)) for t in train)
        assert cx < LEFT + 300 * RES  # Flanders ends at column 300
        # at most size // 2 pixels past the sheet's edge (sheet 22 spans the scene)
        overhangs.append(max(-column, -row, column + 32 - WIDTH, row + 32 - HEIGHT))
    assert max(overhangs) <= 16
    assert max(overhangs) > 0  # some crops do reach past the edge


def test_default_length_is_the_area_in_crops(lambert: BVMSentinel2) -> None:
    sampler = SheetSampler(lambert, size=32, generator=0)
    # train = the western half of sheet 22: 160 x 200 pixels
    assert len(sampler) == (160 * 200) // 32**2


def test_composes_with_temporal_samplers(lambert: BVMSentinel2) -> None:
    spatial = SheetSampler(lambert, size=32, length=20, generator=3)
    queries = list(spatial @ RandomTimestampSampler(lambert, generator=3))
    assert len(queries) == 20
    dates = {pd.Timestamp(q[2].start).date().isoformat() for q in queries}
    assert dates <= {'2021-05-01', '2021-06-10'}
    for _, _, t in queries:
        assert pd.Timestamp(t.start).date() == pd.Timestamp(t.stop).date()
    centred = list(spatial @ CentreTimestampSampler(lambert, generator=3))
    assert len(centred) == 20
    assert all(isinstance(q[2].start, pd.Timestamp) for q in centred)


def test_split_without_data_is_an_error(lambert: BVMSentinel2) -> None:
    with pytest.raises(ValueError, match=r"split 'train' has no data: .*23/1-2"):
        SheetSampler(lambert, size=32, numbers=[23])


def test_bad_size(lambert: BVMSentinel2) -> None:
    with pytest.raises(ValueError, match='size must be between 1 and 8192, got 0'):
        SheetSampler(lambert, size=0)


# -- CropRedraw -----------------------------------------------------------------


def test_redrawn_crops_follow_the_crops_rule(lambert: BVMSentinel2) -> None:
    train = lambert.for_split('train')
    crops = SheetSampler(train, size=32, length=12, generator=0)
    dates = CentreTimestampSampler(train, generator=1)
    redraw = CropRedraw(crops, dates, seed=5)
    queries = list(crops @ dates)
    drawn = {(k, a): redraw(q, a) for k, q in enumerate(queries) for a in (1, 2, 3)}
    train_sheets = [box(*s.bounds) for s in SplitScheme().sheets('train', [22])]
    for (k, attempt), new in drawn.items():
        assert new is not None
        x, y, t = new
        column, row, width, height = lambert.grid.locate(x, y)
        assert (width, height) == (32, 32)
        assert lambert.grid.window(column, row, 32, 32) == (x, y)
        # Centred as the sampler centres its crops: in a train sheet, in Flanders.
        cx, cy = lambert.grid.centre(column + 16, row + 16)
        assert any(
            s.contains(box(cx - 1, cy - 1, cx + 1, cy + 1)) for s in train_sheets
        )
        assert cx < LEFT + 300 * RES
        # The rule, step by step: a centre from the split's region and one of the
        # dates covering it (geopandas' lookup), from one seeded generator.
        qx, qy, _ = queries[k]
        rng = np.random.default_rng(location_seed(5 + attempt, qx, qy))
        columns, rows = crops.region.draw(rng, 1)
        assert (column + 16, row + 16) == (int(columns[0]), int(rows[0]))
        covering = pd.unique(train.index.cx[cx:cx, cy:cy].index)
        chosen = covering[int(rng.integers(len(covering)))]
        assert (t.start, t.stop) == (chosen.left, chosen.right)
    # The same seed, query and attempt give the same crop in any order; another
    # seed or attempt another crop.
    again = CropRedraw(crops, dates, seed=5)
    assert {key: again(queries[key[0]], key[1]) for key in reversed(drawn)} == drawn
    other = CropRedraw(crops, dates, seed=6)
    assert [other(q, 1) for q in queries] != [drawn[k, 1] for k in range(12)]
    assert [drawn[k, 2] for k in range(12)] != [drawn[k, 1] for k in range(12)]


def test_redrawn_series_crops_get_a_year_with_imagery(mini_flanders) -> None:
    folder, _ = mini_flanders
    image = Sentinel2TOC(
        [folder / 'TOC_V2', folder / 'season/TOC_V2'], bands='rgb', time_series=True
    )
    crops = SheetSampler(image, split='train', size=32, length=8, numbers=[22])
    years = CalendarYearSampler(image, generator=0)
    redraw = CropRedraw(crops, years, seed=0)
    drawn = [redraw(q, 1) for q in crops @ years]
    assert all(new is not None for new in drawn)
    periods = {(new[2].start, new[2].stop) for new in drawn if new is not None}
    assert periods <= {
        (pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31, 23, 59, 59, 999999))
        for y in (2020, 2021, 2022)
    }
    assert len(periods) > 1
    # Nothing covers a point outside the imagery: no year to draw there.
    rng = np.random.default_rng(0)
    assert years.draw_at(0.0, 0.0, rng) is None


# -- SheetGridSampler ---------------------------------------------------------


def coverage(
    dataset: BVMSentinel2, sampler: SheetGridSampler
) -> dict[Sheet, np.ndarray]:
    """How often each pixel of a sheet inside Flanders lies in one of its tiles."""
    grid = dataset.grid
    counts: dict[Sheet, np.ndarray] = {}
    origin: dict[Sheet, tuple[int, int, np.ndarray]] = {}
    for k in sampler.region.indices:
        sheet = dataset.layout.sheets[k]
        xmin, ymin, xmax, ymax = dataset.layout.polygons[k].bounds
        c0, r0 = int(grid.column(xmin)) - 1, int(grid.row(ymax)) - 1
        shape = (int(grid.row(ymin)) - r0 + 2, int(grid.column(xmax)) - c0 + 2)
        inside = dataset.layout.inside(k, grid.window_transform(c0, r0), shape)
        if dataset.flanders_mask is not None:
            inside &= dataset.flanders_mask(grid.window_transform(c0, r0), shape)
        origin[sheet] = (c0, r0, inside)
        counts[sheet] = np.zeros(shape, int)
    for position, (x, y) in enumerate(sampler):
        sheet = sampler.sheet_of_tile(position)
        column, row, width, height = grid.locate(x, y)
        c0, r0, _ = origin[sheet]
        block = counts[sheet]
        rs = slice(max(row - r0, 0), max(min(row + height - r0, block.shape[0]), 0))
        cs = slice(
            max(column - c0, 0), max(min(column + width - c0, block.shape[1]), 0)
        )
        block[rs, cs] += 1
    return {s: np.where(origin[s][2], counts[s], -1) for s in counts}


@pytest.mark.parametrize('crs', ['EPSG:31370', 'EPSG:4326'])
def test_grid_tiles_cover_every_sheet_pixel_exactly_once(
    scene: Scene, crs: str
) -> None:
    dataset = joint(scene, crs)
    sampler = SheetGridSampler(dataset, split='val', size=32)
    assert len(sampler) == len(list(sampler)) > 0
    for sheet, counts in coverage(dataset, sampler).items():
        inside = counts >= 0
        assert inside.sum() > 0, sheet
        assert (counts[inside] == 1).all(), sheet


def test_grid_tiles_are_deterministic_and_centred_in_their_sheet(
    lambert: BVMSentinel2,
) -> None:
    first = SheetGridSampler(lambert, split='test', size=32)
    again = SheetGridSampler(lambert, split='test', size=32)
    assert list(first) == list(again) == list(first)
    grid = lambert.grid
    for position, (x, y) in enumerate(first):
        sheet = first.sheet_of_tile(position)
        assert SplitScheme().split_of(sheet) == 'test'
        column, row, width, height = grid.locate(x, y)
        cx, cy = grid.centre(column + width // 2, row + height // 2)
        xmin, ymin, xmax, ymax = sheet.bounds
        assert xmin < cx < xmax
        assert ymin < cy < ymax
        # 22/7-8 is 160 x 100 pixels: 5 x 4 tiles of 32 overhanging 6 rows each way
        assert row - 100 > -16
        assert row + height - 200 < 16


def test_grid_stride_must_not_exceed_size(lambert: BVMSentinel2) -> None:
    with pytest.raises(ValueError, match='stride'):
        SheetGridSampler(lambert, split='val', size=32, stride=40)


def test_overlapping_tiles_with_a_smaller_stride(lambert: BVMSentinel2) -> None:
    sampler = SheetGridSampler(lambert, split='val', size=32, stride=16)
    counts = next(iter(coverage(lambert, sampler).values()))
    assert counts.max() > 1
    assert (counts[counts >= 0] >= 1).all()


def test_centre_timestamp_sampler_is_reproducible_per_location(
    lambert: BVMSentinel2,
) -> None:
    tiles = SheetGridSampler(lambert, split='val', size=32)
    first = list(tiles @ CentreTimestampSampler(lambert, per_location=True, seed=5))
    again = list(tiles @ CentreTimestampSampler(lambert, per_location=True, seed=5))
    assert first == again
    assert len(first) == len(tiles)
    assert len({q[2].start for q in first}) == 2  # both dates are used


def test_windows_of_a_stock_dataset_snap_to_its_bounds(scene: Scene) -> None:
    image = Sentinel2TOC(scene.imagery, crs='EPSG:31370')
    grid = Grid.of(image)
    assert (grid.left, grid.top, grid.xres, grid.yres) == (LEFT, TOP, RES, RES)
    sampler = SheetSampler(image, size=32, length=5, numbers=[22], generator=0)
    for x, _ in sampler:
        assert ((x.start - LEFT) / RES) == pytest.approx(round((x.start - LEFT) / RES))


def test_centre_timestamp_sampler_draws_like_pandas(lambert: BVMSentinel2) -> None:
    # The draw order mirrors RandomTimestampSampler._iter_subset (torchgeo 0.10.1).
    train = lambert.for_split('train')
    spatial = SheetSampler(train, size=32, length=40, generator=3)
    locations = list(spatial)
    fast = CentreTimestampSampler(train, generator=7)
    slow = CentreTimestampSampler(train, generator=7)
    for location in locations:
        x, y = location
        cx, cy = (x.start + x.stop) / 2, (y.start + y.stop) / 2
        at_centre = slow.index.cx[cx:cx, cy:cy]
        if at_centre.empty:
            at_centre = slow.index.cx[x.start : x.stop, y.start : y.stop]
        intervals = pd.unique(at_centre.index).to_series()
        expected = [
            (x, y, slice(i.left, i.right))
            for i in intervals.sample(frac=1, random_state=slow.generator)
        ]
        assert list(fast._iter_subset(location)) == expected
        assert len(expected) >= 1


# -- CalendarYearSampler ----------------------------------------------------------


def test_calendar_year_sampler_gives_one_year_per_location(mini_flanders) -> None:
    folder, _ = mini_flanders
    # The single dates (2020, 2021) and the season (2022): three years.
    image = Sentinel2TOC(
        [folder / 'TOC_V2', folder / 'season/TOC_V2'], bands='rgb', time_series=True
    )
    tiles = SheetGridSampler(image, split='val', size=32, numbers=[22])
    drawn = CalendarYearSampler(image, generator=3)
    assert drawn.years() == [2020, 2021, 2022]
    assert len(drawn) == 1
    queries = list(tiles @ drawn)
    assert len(queries) == len(tiles)
    assert [q[:2] for q in queries] == list(tiles)
    years = [q[2].start.year for q in queries]
    assert set(years) == {2020, 2021, 2022}
    for _, _, t in queries:
        assert (t.start, t.stop) == (
            pd.Timestamp(t.start.year, 1, 1),
            pd.Timestamp(t.start.year, 12, 31, 23, 59, 59, 999999),
        )
    again = list(tiles @ CalendarYearSampler(image, generator=3))
    assert again == queries
    fixed = list(tiles @ CalendarYearSampler(image, year=2021))
    assert {q[2].start for q in fixed} == {pd.Timestamp('2021-01-01')}


# -- SheetObservationSampler ----------------------------------------------------


def test_observations_are_every_date_of_every_tile_sheet_by_sheet(
    lambert: BVMSentinel2,
) -> None:
    sampler = SheetObservationSampler(lambert, size=32)
    plan = sampler.plan
    assert [s.sheet.code for s in plan.sheets] == [
        '22/1-2',
        '22/5-6',
        '22/3-4',
        '22/7-8',
    ]
    grid = SheetGridSampler(lambert, split=None, size=32, stride=16)
    queries = list(sampler)
    assert len(queries) == len(sampler) == plan.samples == 2 * len(grid)
    dates = sorted(pd.unique(lambert.index.index))
    expected, ids = [], []
    for position, sheet in enumerate(plan.sheets):
        tiles = [(c, r) for i, c, r in grid.tiles if i == sheet.index]
        assert sheet.tiles.tolist() == [list(t) for t in tiles]
        for observation, interval in enumerate(dates):
            for tile, (column, row) in enumerate(tiles):
                x, y = grid.grid.window(column, row, 32, 32)
                expected.append((x, y, slice(interval.left, interval.right)))
                ids.append((position, observation, tile))
    assert queries == expected
    # Every query names its sheet, observation and tile in the plan.
    assert [(q.sheet, q.observation, q.tile) for q in queries] == ids
    # Overlapping by half: every pixel of a sheet lies in up to four tiles.
    assert plan.stride == 16


def test_ranks_share_out_whole_sheets(lambert: BVMSentinel2) -> None:
    alone = SheetObservationSampler(lambert, size=32, stride=32)
    ranks = [
        SheetObservationSampler(lambert, size=32, stride=32, rank=r, world_size=2)
        for r in range(2)
    ]
    assert isinstance(ranks[0], DistributedSampler)
    sheets = [set(sampler.own) for sampler in ranks]
    assert sheets[0].isdisjoint(sheets[1])
    assert sheets[0] | sheets[1] == set(range(len(alone.plan.sheets)))
    # Each rank yields its sheets as one device would: the same samples.
    yielded = [q for sampler in ranks for q in sampler]
    assert sorted(map(repr, yielded)) == sorted(map(repr, alone))
    loads = [len(sampler) for sampler in ranks]
    assert max(loads) - min(loads) <= max(s.samples for s in alone.plan.sheets)
    with pytest.raises(ValueError, match='5 ranks for 4 sheets: each rank predicts'):
        SheetObservationSampler(lambert, size=32, rank=0, world_size=5)


def test_observations_of_a_period_and_of_chosen_sheets(lambert: BVMSentinel2) -> None:
    june = SheetObservationSampler(lambert, size=32, months=[6], sheets='test')
    assert [s.sheet.code for s in june.plan.sheets] == ['22/7-8']
    assert [t.start.month for t in june.plan.sheets[0].times] == [6]
    assert june.plan.period == 'every year, months 6'
    assert june.plan.name == 'all-years_m06'
    year = calendar_period(2021)
    series = SheetObservationSampler(
        lambert, size=32, sheets=['22/7-8'], periods=[year, calendar_period(2022)]
    )
    (sheet,) = series.plan.sheets
    assert sheet.times == (year,)
    assert len(sheet.tiles_of[0]) == len(sheet.tiles)
    with pytest.raises(ValueError, match=r'no imagery in the period \(2020\)'):
        SheetObservationSampler(lambert, size=32, years=[2020])
    with pytest.raises(ValueError, match='need 1 <= stride <= size'):
        SheetObservationSampler(lambert, size=32, stride=33)


def calendar_period(year: int) -> slice:
    return slice(pd.Timestamp(f'{year}-01-01'), pd.Timestamp(f'{year}-12-31 23:59:59'))


def test_prediction_samples_read_real_pixels_past_the_sheet(
    lambert: BVMSentinel2,
) -> None:
    dataset = lambert.for_prediction()
    sampler = SheetObservationSampler(dataset, size=32, sheets='22/1-2')
    for query in sampler:
        sample = dataset[query]
        assert set(sample) == {
            'image',
            'valid',
            'bounds',
            'transform',
            'sheet',
            'observation',
            'tile',
        }
        assert [int(sample[k]) for k in ('sheet', 'observation', 'tile')] == [
            query.sheet,
            query.observation,
            query.tile,
        ]
        # A plain query of the same window reads the same pixels, without ids.
        x, y, t = query
        plain = dataset[x, y, t]
        assert set(sample) - set(plain) == {'sheet', 'observation', 'tile'}
        assert torch.equal(plain['image'], sample['image'])
        assert sample['valid'].dtype == torch.bool
        column = round((x.start - LEFT) / RES)
        row = round((TOP - y.stop) / RES)
        # B02 is the column and B03 the row: no mirror at the sheet's edge.
        b02, b03 = sample['image'][1], sample['image'][2]
        inside = slice(max(-row, 0), 32), slice(max(-column, 0), 32)
        columns = torch.arange(column, column + 32, dtype=torch.float32)
        rows = torch.arange(row, row + 32, dtype=torch.float32)
        assert torch.equal(b02[inside], columns.expand(32, 32)[inside])
        assert torch.equal(b03[inside], rows[:, None].expand(32, 32)[inside])
