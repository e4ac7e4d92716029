import numpy as np
import pytest
from shapely.geometry import box

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.sheets.layout import (
    SheetDataset,
    SheetLayout,
    SheetSelection,
    SplitRegion,
    crop_domain,
    mirror_sources_from_extent,
    reflect_index,
    tile_starts,
)
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.spatial.pixelgrid import Grid


def extents(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: first and one-past-last column of the True pixels, and any True."""
    first = np.argmax(inside, axis=1)
    last = inside.shape[1] - np.argmax(inside[:, ::-1], axis=1)
    return first, last, inside.any(axis=1)


def mirror_sources(
    inside: np.ndarray, top: int, left: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sources of a window, from a boolean mask of the sheet's pixels."""
    return mirror_sources_from_extent(*extents(inside), top, left, height, width)


# -- reflection ----------------------------------------------------------------


@pytest.mark.parametrize('length', [1, 2, 3, 7])
def test_reflect_index_is_numpy_reflect(length: int) -> None:
    data = np.arange(length)
    pad = 3 * length + 2
    expected = (
        np.pad(data, pad, mode='reflect')
        if length > 1
        else np.zeros(length + 2 * pad, int)
    )
    got = data[reflect_index(np.arange(-pad, length + pad), 0, length)]
    assert (got == expected).all()


@pytest.mark.parametrize(
    ('top', 'left'), [(-5, -7), (-5, 10), (12, -3), (14, 15), (3, 4), (-1, 16)]
)
def test_mirror_sources_equal_numpy_pad_on_a_rectangle(top: int, left: int) -> None:
    # The sheet occupies rows 20..39 and columns 30..51 of a 70 x 90 region.
    region = np.zeros((70, 90), bool)
    region[20:40, 30:52] = True
    values = np.arange(70 * 90).reshape(70, 90)
    height, width = 16, 16
    row, column = 20 + top, 30 + left
    rows, columns = mirror_sources(region, row, column, height, width)
    got = values[rows[:, None], columns]
    pad = 40
    padded = np.pad(values[20:40, 30:52], pad, mode='reflect')
    expected = padded[pad + top : pad + top + height, pad + left : pad + left + width]
    assert (got == expected).all()


def test_mirror_sources_stay_inside_a_rotated_sheet() -> None:
    layout = SheetLayout(SplitScheme(), 'EPSG:4326', numbers=[22])
    k = layout.sheets.index(Sheet.parse('22/1-2'))
    xres, yres = resolution_for('EPSG:4326', 100)
    xmin, _, _, ymax = layout.polygons[k].bounds
    grid = Grid.lattice(xmin, ymax, xres, yres)
    inside = layout.inside(k, grid.window_transform(-60, -60), (260, 300))
    assert 0 < inside.sum() < inside.size
    for top, left in [(40, 40), (60, 150), (30, 200), (200, 60)]:
        rows, columns = mirror_sources(inside, top, left, 48, 48)
        assert inside[rows[:, None], columns].all()
        own = inside[top : top + 48, left : left + 48]
        r, c = np.nonzero(own)
        assert (rows[r] == top + r).all()
        assert (columns[r, c] == left + c).all()


def test_sheet_runs_match_gdal_and_give_the_same_sources() -> None:
    import rasterio.features
    from shapely.geometry import mapping

    from torchgeo_bvm.spatial.scanline import row_extent

    layout = SheetLayout(SplitScheme(), 'EPSG:4326', numbers=[22])
    k = layout.sheets.index(Sheet.parse('22/1-2'))
    xres, yres = resolution_for('EPSG:4326', 100)
    xmin, _, _, ymax = layout.polygons[k].bounds
    transform = Grid.lattice(xmin, ymax, xres, yres).window_transform(-60, -60)
    shape = (260, 300)
    inside = layout.inside(k, transform, shape)
    gdal = rasterio.features.geometry_mask(
        [mapping(layout.polygons[k])], out_shape=shape, transform=transform, invert=True
    )
    assert np.array_equal(inside, gdal)
    runs = layout.row_runs(k, transform, shape)
    first, last, covered = row_extent(*runs, shape)
    expected_first, expected_last, expected_covered = extents(gdal)
    assert np.array_equal(covered, expected_covered)
    assert np.array_equal(first[covered], expected_first[covered])
    assert np.array_equal(last[covered], expected_last[covered])
    for top, left in [(40, 40), (60, 150), (30, 200), (200, 60)]:
        expected = mirror_sources(gdal, top, left, 48, 48)
        got = mirror_sources_from_extent(first, last, covered, top, left, 48, 48)
        assert np.array_equal(got[0], expected[0])
        assert np.array_equal(got[1], expected[1])


def test_mirror_sources_need_a_sheet_pixel() -> None:
    with pytest.raises(ValueError, match='no pixel of the sheet'):
        mirror_sources(np.zeros((10, 10), bool), 0, 0, 4, 4)


# -- sheets on the grid ------------------------------------------------------------


def test_find_prefers_the_centre_then_the_largest_overlap() -> None:
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22])
    west = layout.sheets.index(Sheet.parse('22/1-2'))
    east = layout.sheets.index(Sheet.parse('22/3-4'))
    _, _, x1, y1 = Sheet.parse('22/1-2').bounds  # x1 is the edge with 22/3-4
    window = (x1 - 300.0, y1 - 1000.0, x1 + 700.0, y1)
    # The centre pixel lies east of the edge although most of the window is west.
    assert layout.find(window, (x1 + 5.0, y1 - 500.0)) == east
    assert layout.find(window, (x1 - 5.0, y1 - 500.0)) == west
    # Restricted to a split without the centre's sheet: the largest overlap.
    assert layout.find(window, (x1 + 5.0, y1 - 500.0), split='train') == west
    # No sheet of the layout at all.
    assert layout.find((0.0, 0.0, 10.0, 10.0), (5.0, 5.0)) is None
    assert layout.of_split('val') == [east]


def test_contains_window_checks_every_pixel_centre() -> None:
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22], splits=['train'])
    k = layout.sheets.index(Sheet.parse('22/1-2'))
    x0, _, _, y1 = Sheet.parse('22/1-2').bounds
    grid = Grid.lattice(x0, y1, 10.0, 10.0)
    assert layout.contains_window(k, grid, 0, 0, 1600, 1000)
    assert not layout.contains_window(k, grid, -1, 0, 16, 16)
    assert not layout.contains_window(k, grid, 1590, 990, 16, 16)
    inside = layout.inside(k, grid.window_transform(-2, -3), (6, 5))
    assert inside.tolist() == [[False] * 5] * 3 + [[False, False, True, True, True]] * 3


def test_split_region_and_crop_domain() -> None:
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22])
    x0, y0, x1, y1 = Sheet.parse('22/1-2').bounds
    data = box(x0, y0, x0 + 4000.0, y1)  # a quarter of 22/1-2 and nothing else
    flanders = box(x0, y0 + 5000.0, x1, y1)
    domain = crop_domain(data, flanders)
    assert domain.equals(box(x0, y0 + 5000.0, x0 + 4000.0, y1))
    assert crop_domain(data, None) is data
    grid = Grid.lattice(x0, y1, 10.0, 10.0)
    region = SplitRegion(layout, 'train', grid, domain)
    assert [layout.sheets[i].code for i in region.indices] == ['22/1-2']
    assert region.area == 4000.0 * 5000.0
    columns, rows = region.draw(np.random.default_rng(0), 500)
    x, y = grid.centre(columns, rows)
    assert ((x > x0) & (x < x0 + 4000.0) & (y > y0 + 5000.0) & (y < y1)).all()
    with pytest.raises(ValueError, match="split 'val' has no data: none of its"):
        SplitRegion(layout, 'val', grid, domain)


def test_sheet_dataset_names_what_samplers_read() -> None:
    class Described:
        grid = Grid.lattice(0.0, 0.0, 1.0, 1.0)
        layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22])
        scheme = SplitScheme()
        numbers = (22,)
        flanders_region = None

    class Partial:
        grid = Grid.lattice(0.0, 0.0, 1.0, 1.0)

    assert isinstance(Described(), SheetDataset)
    assert not isinstance(Partial(), SheetDataset)


# -- sheet selection and tiling ------------------------------------------------


def test_sheet_selection_parses_codes_numbers_and_splits_once() -> None:
    splits = SplitScheme().splits
    selection = SheetSelection.parse('test, 22/1-2,,23', splits)
    assert selection.splits == ('test',)
    assert selection.sheets == (Sheet.parse('22/1-2'), Sheet.parse(23))
    assert SheetSelection.parse([22, 'val'], splits).sheets == (Sheet.parse(22),)
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22, 23])
    codes = [layout.sheets[i].code for i in selection.indices(layout)]
    assert codes == ['22/1-2', '23/1-2', '23/5-6', '23/3-4', '22/7-8', '23/7-8']
    exact = [layout.sheets[i].code for i in selection.indices(layout, exact=True)]
    assert exact == ['22/1-2']
    assert layout.select('test, 22/1-2,,23') == selection.indices(layout)
    selection.check_numbers([22, 23])
    selection.check_numbers(None)
    with pytest.raises(
        BVMValueError, match=r'^sheet 23 is not among the sheets \[22\]; add 23 to'
    ):
        selection.check_numbers([22])


@pytest.mark.parametrize(
    ('names', 'message'),
    [
        ('22/9', r"^invalid map sheet code '22/9'"),
        (' , ', r'^no sheet named: give sheet codes or split names$'),
        ([], r'^no sheet named'),
        ('train, 44', r"^invalid map sheet code ' 44': unknown map sheet number 44"),
    ],
)
def test_sheet_selection_refuses_what_names_no_sheet(names, message: str) -> None:
    with pytest.raises(BVMValueError, match=message):
        SheetSelection.parse(names, SplitScheme().splits)


def test_sheet_selection_in_a_layout_names_whole_sheets_it_holds() -> None:
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22])
    splits = layout.scheme.splits
    with pytest.raises(BVMValueError, match=r'^sheet 22/7 is part of sheet 22/7-8: '):
        SheetSelection.parse('22/7', splits).indices(layout)
    with pytest.raises(
        BVMValueError, match=r'^sheet 15 is not among the sheets in use \(22\)'
    ):
        SheetSelection.parse('15', splits).indices(layout)


def test_tiles_cover_a_sheet_centred_with_half_a_tile_of_overhang() -> None:
    assert tile_starts(0, 100, 32, 32) == [-14, 18, 50, 82]
    assert tile_starts(0, 100, 32, 16) == [-6, 10, 26, 42, 58, 74]
    assert tile_starts(5, 10, 32, 16) == [-9]
    for first, stop, size, stride in [(0, 100, 32, 32), (3, 250, 64, 48)]:
        starts = tile_starts(first, stop, size, stride)
        assert starts[0] <= first
        assert starts[-1] + size >= stop
        assert first - starts[0] <= size // 2
        assert starts[-1] + size - stop <= size // 2
    layout = SheetLayout(SplitScheme(), 'EPSG:31370', numbers=[22])
    x0, _, _, y1 = Sheet.parse(22).bounds
    grid = Grid.lattice(x0, y1, 100.0, 100.0)
    k = layout.sheets.index(Sheet.parse('22/7-8'))
    assert layout.pixel_box(k, grid) == (160, 100, 320, 200)
    region = SplitRegion(layout, 'test', grid, None)
    tiles = region.tiles(64, 64)
    assert tiles == [
        (k, column, row)
        for row in tile_starts(100, 200, 64, 64)
        for column in tile_starts(160, 320, 64, 64)
    ]
    fine = SplitRegion(layout, 'test', Grid.lattice(x0, y1, 10.0, 10.0), None)
    with pytest.raises(
        BVMValueError,
        match=r'^size=1, stride=1 cut the test sheets into 1,600,000 tiles, more than',
    ):
        fine.tiles(1, 1)
