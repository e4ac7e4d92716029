"""The prediction plan, built from a layout and an index as a dataset holds it."""

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.sheets.layout import SheetLayout, SheetSelection, SplitRegion
from torchgeo_bvm.sheets.plan import (
    PredictionPlan,
    TileQuery,
    period_name,
    period_words,
)
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.spatial.scanline import polygon_coverage

L72 = 'EPSG:31370'
LEFT, BOTTOM, RIGHT, TOP = Sheet.parse(22).bounds
RES = 100.0


def index(*dates: tuple[str, tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
    """An index as TorchGeo's datasets hold it: one footprint per date."""
    starts = pd.to_datetime([d for d, _ in dates])
    intervals = pd.IntervalIndex.from_arrays(
        starts, starts + pd.Timedelta(hours=1), closed='both', name='datetime'
    )
    return gpd.GeoDataFrame(
        {'filepath': [f'{d}.tif' for d, _ in dates]},
        geometry=[box(*b) for _, b in dates],
        index=intervals,
        crs=L72,
    )


@pytest.fixture(scope='module')
def layout() -> SheetLayout:
    return SheetLayout(SplitScheme(), L72, numbers=[22])


def build(layout: SheetLayout, data: gpd.GeoDataFrame, **kwargs) -> PredictionPlan:
    grid = Grid.lattice(LEFT, TOP, RES, RES, layout.crs)
    options = {'size': 32, 'stride': 16, **kwargs}
    return PredictionPlan.build(layout, grid, None, data, **options)


WEST = (LEFT, BOTTOM, LEFT + 8000.0, TOP)  # the west half of 22/1-2 and 22/5-6
WHOLE = (LEFT, BOTTOM, RIGHT, TOP)


def test_a_plan_holds_each_sheets_grid_mask_tiles_and_observations(layout) -> None:
    data = index(('2021-05-01', WHOLE), ('2021-06-10', WEST))
    plan = build(layout, data)
    assert [s.sheet.code for s in plan.sheets] == [
        '22/1-2',
        '22/5-6',
        '22/3-4',
        '22/7-8',
    ]
    grid = Grid.lattice(LEFT, TOP, RES, RES, layout.crs)
    region = SplitRegion(layout, None, grid, None)
    tiles = region.tiles(32, 16)
    for sheet in plan.sheets:
        c0, r0, c1, r1 = layout.pixel_box(sheet.index, grid)
        assert sheet.origin == (c0, r0)
        assert sheet.grid.transform == grid.window_transform(c0, r0)
        assert sheet.grid.shape == (r1 - r0, c1 - c0) == (100, 160)
        own = [(c, r) for i, c, r in tiles if i == sheet.index]
        assert sheet.tiles.tolist() == [list(t) for t in own]
        assert sheet.mask().all()  # no Flanders or data limit here
        assert sheet.tile_position(0) == (own[0][0] - c0, own[0][1] - r0)
    west = plan.sheets[0]  # 22/1-2: both dates; June only on its west half
    assert [t.start for t in west.times] == list(data.index.left)
    assert len(west.tiles_of[0]) == len(west.tiles)
    covered = west.tiles[west.tiles_of[1]]
    assert (covered[:, 0] * RES <= 8000.0).all()  # touching counts, as in shapely
    assert 0 < len(covered) < len(west.tiles)
    east = plan.sheets[2]  # 22/3-4, north-east: May only
    assert east.sheet.code == '22/3-4'
    assert len(east.times) == 1
    assert plan.samples == sum(s.samples for s in plan.sheets)
    assert (plan.period, plan.name) == ('every date', 'all-dates')


def test_queries_name_their_tile_in_the_plan_and_survive_pickling(layout) -> None:
    plan = build(layout, index(('2021-05-01', WHOLE), ('2021-06-10', WEST)))
    queries = list(plan.queries())
    assert len(queries) == plan.samples
    sheet = plan.sheets[queries[0].sheet]
    for query in queries[:50] + queries[-50:]:
        sheet = plan.sheets[query.sheet]
        column, row = sheet.tiles[query.tile]
        assert query[:2] == plan.grid.window(int(column), int(row), 32, 32)
        assert query[2] == sheet.times[query.observation]
        assert query.tile in sheet.tiles_of[query.observation]
    # Sheet by sheet, observation by observation.
    keys = [(q.sheet, q.observation) for q in queries]
    assert keys == sorted(keys)
    again = pickle.loads(pickle.dumps(queries[7]))
    assert isinstance(again, TileQuery)
    assert again == queries[7]
    assert (
        again.ids
        == queries[7].ids
        == {
            'sheet': queries[7].sheet,
            'observation': queries[7].observation,
            'tile': queries[7].tile,
        }
    )
    assert list(plan.queries([3])) == [q for q in queries if q.sheet == 3]


def test_a_period_of_months_and_chosen_sheets(layout) -> None:
    data = index(('2020-07-01', WHOLE), ('2021-05-01', WHOLE), ('2021-06-10', WHOLE))
    splits = layout.scheme.splits
    plan = build(
        layout,
        data,
        sheets=SheetSelection.parse('test', splits),
        years=[2021],
        months=[6, 5],
    )
    assert [s.sheet.code for s in plan.sheets] == ['22/7-8']
    assert [t.start.month for t in plan.sheets[0].times] == [5, 6]
    assert (plan.years, plan.months) == ((2021,), (5, 6))
    assert (plan.period, plan.name) == ('2021, months 5, 6', '2021_m05-06')
    series = build(
        layout,
        data,
        periods=[slice(pd.Timestamp(2021, 1, 1), pd.Timestamp(2022, 1, 1))],
    )
    assert all(len(s.times) == 1 for s in series.sheets)


def test_the_plan_refuses_a_period_or_sheet_without_imagery(layout) -> None:
    data = index(('2021-05-01', WEST))
    with pytest.raises(
        BVMValueError,
        match=r'^no imagery in the period \(2019\): the imagery has dates in 2021-05$',
    ):
        build(layout, data, years=[2019])
    east = SheetSelection.parse('22/3-4', layout.scheme.splits)
    with pytest.raises(
        BVMValueError, match=r'^sheet 22/3-4 has no imagery in the period \(2021\)$'
    ):
        build(layout, data, sheets=east, years=[2021])
    # Without naming them, the sheets the period does not reach are left out.
    assert [s.sheet.code for s in build(layout, data).sheets] == ['22/1-2', '22/5-6']


def test_ranks_get_whole_sheets_largest_first(layout) -> None:
    plan = build(layout, index(('2021-05-01', WHOLE), ('2021-06-10', WEST)))
    samples = [s.samples for s in plan.sheets]
    ranks = plan.ranks(2)
    loads = [
        sum(n for n, r in zip(samples, ranks, strict=True) if r == k) for k in (0, 1)
    ]
    assert ranks[int(np.argmax(samples))] == 0
    assert abs(loads[0] - loads[1]) <= max(samples)
    assert plan.ranks(1) == [0] * 4
    with pytest.raises(BVMValueError, match=r'^5 ranks for 4 sheets'):
        plan.ranks(5)


def test_the_mask_is_the_pixel_rule_of_the_region(layout) -> None:
    flanders = box(LEFT, BOTTOM, RIGHT - 2050.0, TOP)
    grid = Grid.lattice(LEFT, TOP, RES, RES, layout.crs)
    data = index(('2021-05-01', WHOLE))
    plan = PredictionPlan.build(layout, grid, flanders, data, size=32, stride=32)
    east = plan.sheets[-1]
    assert east.sheet.code == '22/7-8'
    mask = east.mask()
    expected = polygon_coverage(
        np.array([east.region], dtype=object), east.grid.transform, east.grid.shape
    )
    assert np.array_equal(mask, expected)
    # The pixel centres east of Flanders' edge: the last 20 columns, and the
    # column whose centre lies 50 m west of it is still inside.
    assert mask[:, :-21].all()
    assert not mask[:, -20:].any()


@pytest.mark.parametrize(
    ('years', 'months', 'words', 'name'),
    [
        (None, None, 'every date', 'all-dates'),
        ([2020], None, '2020', '2020'),
        ([2021, 2020], None, '2020, 2021', '2020_2021'),
        (None, [7, 4], 'every year, months 4, 7', 'all-years_m04-07'),
        ([2022], [12], '2022, months 12', '2022_m12'),
    ],
)
def test_periods_in_words_and_as_folder_names(years, months, words, name) -> None:
    assert period_words(years, months) == words
    assert period_name(years, months) == name
