"""Zonal statistics of class maps per BVM polygon, the table, summary and outputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from PIL import Image
from pyproj import CRS

from tests.compare_scene import (
    CHANGED,
    L72,
    OUTSIDE,
    SLIVER,
    brute_force,
    scene_classes,
    scene_grid,
    scene_polygons,
    sheet_keep,
    write_scene_bvm,
    write_scene_changes,
    write_scene_map,
)
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.maps.compare import (
    OUTPUT_NAMES,
    ZonalCounts,
    class_summary,
    compare_with_bvm,
    polygon_table,
    summary_markdown,
    zonal_counts,
)
from torchgeo_bvm.maps.files import ClassMap, check_maps_disjoint, find_class_maps
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.spatial.pixelgrid import Grid

GRIDS = {
    'utm': ('EPSG:32631', 20.0),
    'wgs84': ('EPSG:4326', resolution_for('EPSG:4326', 20.0)),
    'lambert72': ('EPSG:31370', 20.0),
}


def _geometries() -> np.ndarray:
    geometries, _, _ = scene_polygons()
    return np.asarray(geometries, dtype=object)


@pytest.mark.parametrize('name', ['utm', 'wgs84'])
def test_zonal_counts_equal_brute_force(tmp_path: Path, name: str) -> None:
    crs, res = GRIDS[name]
    path = write_scene_map(tmp_path / 'map.tif', scene_grid(crs, res))
    maps = find_class_maps(path)
    geometries = _geometries()
    # Small blocks: polygons cross many block edges.
    counts = zonal_counts(geometries, L72, maps, block_size=48, progress=False)
    expected, sums, known = brute_force(list(geometries), [path])
    np.testing.assert_array_equal(counts.counts, expected)
    np.testing.assert_array_equal(counts.confidence_pixels, known)
    np.testing.assert_allclose(counts.confidence_sum, sums, rtol=1e-12)
    _, _, notes = scene_polygons()
    assert list(~counts.covered) == [note == OUTSIDE for note in notes]
    sliver = notes.index(SLIVER)
    assert counts.pixels[sliver] == 0
    assert counts.covered[sliver]
    # The fixture has what the test claims: overlaps, holes, multipolygons.
    assert expected.sum() > counts.counts.sum(axis=1).max()
    assert any(len(p.interiors) for p in geometries if p.geom_type == 'Polygon')
    assert sum(p.geom_type == 'MultiPolygon' for p in geometries) == 3
    overlapping = shapely.STRtree(geometries).query(geometries, 'overlaps')
    assert overlapping.shape[1] > 10
    assert (counts.main_map[counts.pixels > 0] == 0).all()


def test_sheets_of_one_lattice_equal_their_mosaic(tmp_path: Path) -> None:
    grid = scene_grid('EPSG:32631', 20.0)
    mosaic = write_scene_map(tmp_path / 'mosaic' / 'mosaic.tif', grid)
    height, width = grid.shape
    # Two sheet maps cut from the mosaic's lattice, overlapping in columns
    # (the sheet border is slanted in UTM) and each 255 outside its sheet.
    left = Grid(grid.crs, grid.transform, width * 2 // 3, height)
    right = Grid(
        grid.crs, grid.window_transform(width // 3, 0), width - width // 3, height
    )
    sheets = tmp_path / 'sheets'
    for part, sheet in ((left, '22/1-2'), (right, '22/3-4')):
        name = sheet.replace('/', '_')
        keep = sheet_keep(part, sheet)
        column = 0 if part is left else width // 3
        _write_part(sheets / f'{name}.tif', grid, part, column, keep)
    maps = find_class_maps(sheets)
    assert [m.path.name for m in maps] == ['22_1-2.tif', '22_3-4.tif']
    check_maps_disjoint(maps, block_size=64)
    # The right sheet against the mosaic: the same pixels lie width // 3
    # columns further in the mosaic, and both have classes there.
    with rasterio.open(maps[1].path) as right_map, rasterio.open(mosaic) as whole:
        both = (right_map.read(1) != IGNORE_INDEX) & (
            whole.read(1)[:, width // 3 :] != IGNORE_INDEX
        )
    message = rf'22_3-4.tif and .*mosaic.tif both have a class for {both.sum()} pixels'
    with pytest.raises(BVMValueError, match=message):
        check_maps_disjoint([maps[1], *find_class_maps(mosaic)], block_size=64)
    geometries = _geometries()
    together = zonal_counts(geometries, L72, maps, block_size=64, progress=False)
    whole = zonal_counts(geometries, L72, find_class_maps(mosaic), progress=False)
    np.testing.assert_array_equal(together.counts, whole.counts)
    np.testing.assert_array_equal(together.confidence_pixels, whole.confidence_pixels)
    np.testing.assert_allclose(together.confidence_sum, whole.confidence_sum)
    # The straddling polygon got pixels from both sheets.
    straddle = len(geometries) - 3
    assert together.pixels[straddle] > 0
    assert together.main_map[straddle] in (0, 1)


def _write_part(
    path: Path, grid: Grid, part: Grid, column: int, keep: np.ndarray
) -> None:
    """A sheet map: the scene map on ``part`` of ``grid``, 255 outside the sheet."""
    from tests.compare_scene import map_classes, map_confidence
    from torchgeo_bvm.synth.classmap import write_class_map

    columns = slice(column, column + part.shape[1])
    classes = map_classes(grid)[:, columns].copy()
    classes[~keep] = IGNORE_INDEX
    confidence = map_confidence(grid)[:, columns]
    write_class_map(path, classes, part, confidence)


def test_maps_on_two_crs_each_counted_once(tmp_path: Path) -> None:
    # Sheet 22/1-2 in UTM, sheet 22/3-4 in EPSG:4326: different grids whose
    # pixels partly cover each other along the sheet border.
    utm = scene_grid('EPSG:32631', 20.0)
    wgs84 = scene_grid('EPSG:4326', resolution_for('EPSG:4326', 20.0))
    first = write_scene_map(
        tmp_path / 'a' / '22_1-2.tif', utm, sheet_keep(utm, '22/1-2')
    )
    second = write_scene_map(
        tmp_path / 'b' / '22_3-4.tif', wgs84, sheet_keep(wgs84, '22/3-4')
    )
    maps = find_class_maps([first, second])
    check_maps_disjoint(maps)
    geometries = _geometries()
    counts = zonal_counts(geometries, L72, maps, block_size=100, progress=False)
    expected, sums, known = brute_force(list(geometries), [first, second])
    np.testing.assert_array_equal(counts.counts, expected)
    np.testing.assert_array_equal(counts.confidence_pixels, known)
    np.testing.assert_allclose(counts.confidence_sum, sums, rtol=1e-12)
    assert set(counts.main_map[counts.pixels > 0]) == {0, 1}


def test_overlapping_maps_are_refused(tmp_path: Path) -> None:
    grid = scene_grid('EPSG:32631', 20.0)
    mosaic = write_scene_map(tmp_path / 'mosaic.tif', grid)
    sheet = write_scene_map(
        tmp_path / 'sheet' / '22_1-2.tif', grid, sheet_keep(grid, '22/1-2')
    )
    with pytest.raises(
        BVMValueError, match=r'mosaic.tif and .*22_1-2.tif both have a class'
    ):
        check_maps_disjoint(find_class_maps([mosaic, sheet]))
    wgs84 = scene_grid('EPSG:4326', resolution_for('EPSG:4326', 20.0))
    other = write_scene_map(tmp_path / 'wgs84' / 'all.tif', wgs84)
    with pytest.raises(BVMValueError, match=r'both have a class for [0-9]+ pixels'):
        check_maps_disjoint(find_class_maps([mosaic, other]))


def test_class_map_contract_is_checked(tmp_path: Path) -> None:
    grid = scene_grid('EPSG:32631', 20.0)
    path = write_scene_map(tmp_path / 'map.tif', grid)
    item = ClassMap.open(path)
    assert item.confidence == tmp_path / 'map_confidence.tif'
    assert item.grid == grid
    assert ClassMap.open(path, confidence=False).confidence is None
    # A folder skips the siblings, including the count raster.
    assert [m.path for m in find_class_maps(tmp_path)] == [path.resolve()]
    assert find_class_maps([path, tmp_path]) == find_class_maps(path)


def test_polygon_table_by_hand() -> None:
    counts = ZonalCounts.zeros(5)
    #                 class: 0  1  2
    counts.counts[0, :3] = [6, 3, 1]  # BVM 1: majority 0 (60 %), candidate
    counts.counts[1, :3] = [4, 4, 2]  # BVM 1: a tie with the BVM class: agrees
    counts.counts[2, :3] = [0, 0, 30]  # BVM 2: agrees fully
    counts.counts[3, :3] = [0, 0, 90]  # no BVM class
    # polygon 4: no pixel
    counts.confidence_sum[:] = [5.0, 2.0, 27.0, 45.0, 0.0]
    counts.confidence_pixels[:] = [10, 10, 30, 90, 0]
    bvm = np.array([1, 1, 2, IGNORE_INDEX, 0], dtype=np.uint8)
    table = polygon_table(counts, bvm)
    assert table['pixels'].tolist() == [10, 10, 30, 90, 0]
    np.testing.assert_allclose(table['agreement'][:3], [0.3, 0.4, 1.0])
    assert table['agreement'][3:].isna().all()
    assert table['pred_class'].tolist()[:4] == [0, 1, 2, 2]
    assert table['pred_class'].isna().tolist() == [False] * 4 + [True]
    np.testing.assert_allclose(table['pred_share'][:4], [0.6, 0.4, 1.0, 1.0])
    np.testing.assert_allclose(table['confidence'][:4], [0.5, 0.2, 0.9, 0.5])
    assert np.isnan(table['confidence'][4])
    # Without probabilities the share of pixels in the BVM class stands in;
    # class 1's typical polygon has the median of 0.3 and 0.4.
    np.testing.assert_allclose(table['bvm_probability'][:3], [0.3, 0.4, 1.0])
    np.testing.assert_allclose(table['class_typical'][:3], [0.35, 0.35, 1.0])
    assert table['bvm_probability'][3:].isna().all()
    # Shrunk by 10 pixels against the 10 of the prior: 0.325 and 0.375.
    expected = [0.025, -0.025, 0.0]
    np.testing.assert_allclose(table['excess_disagreement'][:3], expected, atol=1e-12)
    # The agreement is the probability here: the extent is 1 minus the same.
    np.testing.assert_allclose(table['disagreement_extent'][:3], [0.675, 0.625, 0.0])
    # No map year: the score is the excess (where there is one) x its extent.
    assert table['years_since_mapping'].isna().all()
    np.testing.assert_allclose(table['score'][:3], [0.025 * 0.675, 0, 0], atol=1e-12)
    assert table['score'][3:].isna().all()
    assert table['candidate'].tolist() == [True, False, False, False, False]
    # Ties at 0: more pixels first.
    assert table['rank'].tolist()[:3] == [1, 3, 2]
    assert table['rank'][3:].isna().all()


def test_the_score_weighs_probabilities_observations_and_age() -> None:
    counts = ZonalCounts.zeros(4)
    counts.counts[:, 2] = [4, 4, 16, 16]  # every polygon: BVM class 2
    counts.counts[:, 1] = [16, 16, 4, 4]
    counts.probability_sum[:] = [2.0, 2.0, 16.0, 16.0]  # p 0.1, 0.1, 0.8, 0.8
    counts.probability_pixels[:] = 20
    counts.observation_sum[:] = [60.0, 20.0, 60.0, 60.0]  # 3, 1, 3, 3 clear
    counts.observation_pixels[:] = 20
    mapped = np.array([2000, 2000, 2019, 2021], dtype=np.float64)
    table = polygon_table(counts, np.full(4, 2, dtype=np.uint8), mapped, 2020)
    np.testing.assert_allclose(table['bvm_probability'], [0.1, 0.1, 0.8, 0.8])
    np.testing.assert_allclose(table['class_typical'], [0.45] * 4)
    np.testing.assert_allclose(table['observations'], [3, 1, 3, 3])
    np.testing.assert_allclose(table['years_since_mapping'], [20, 20, 1, 0])
    # Three clear dates where the usual polygon has three count in full; one
    # counts a third.
    weight = np.array([20, 20 / 3, 20, 20])
    p = np.array([0.1, 0.1, 0.8, 0.8])
    excess = 0.45 - (weight * p + 10 * 0.45) / (weight + 10)
    np.testing.assert_allclose(table['excess_disagreement'], excess)
    # The share in the BVM class (0.2, 0.2, 0.8, 0.8) against its median 0.5.
    share = np.array([0.2, 0.2, 0.8, 0.8])
    extent = 1 - (weight * share + 10 * 0.5) / (weight + 10)
    np.testing.assert_allclose(table['disagreement_extent'], extent)
    expected = np.maximum(excess, 0) * extent * [20, 20, 1, 0]
    np.testing.assert_allclose(table['score'], expected)
    assert expected[0] > expected[1] > 0  # three clear dates count more than one
    assert table['rank'].tolist() == [1, 2, 3, 4]


def test_class_summary_by_hand() -> None:
    counts = ZonalCounts.zeros(4)
    counts.counts[0, :3] = [6, 3, 1]
    counts.counts[1, :3] = [0, 8, 2]
    counts.counts[2, :3] = [0, 0, 30]
    counts.confidence_sum[:3] = [5.0, 8.0, 27.0]
    counts.confidence_pixels[:3] = [10, 10, 30]
    bvm = np.array([1, 1, 2, 1], dtype=np.uint8)  # the last has no pixel
    summary = class_summary(polygon_table(counts, bvm))
    assert list(summary.index) == [*CLASS_NAMES, 'All']
    cultivated = summary.loc['Cultivated land']
    assert cultivated['class_id'] == 1
    assert cultivated['polygons'] == 2
    assert cultivated['pixels'] == 20
    assert cultivated['majority_agreement'] == 0.5
    assert cultivated['pixel_agreement'] == pytest.approx(11 / 20)
    assert cultivated['candidates'] == 1
    assert cultivated['mean_confidence'] == pytest.approx(0.65)
    everything = summary.loc['All']
    assert everything['polygons'] == 3
    assert everything['pixel_agreement'] == pytest.approx(41 / 50)
    assert everything['majority_agreement'] == pytest.approx(2 / 3)
    assert np.isnan(summary.loc['Heathland', 'pixel_agreement'])
    markdown = summary_markdown(summary)
    assert '| Cultivated land | 2 | 20 | 50.0 | 55.0 | 1 | 0.65 |' in markdown
    assert '| Heathland | 0 | 0 | - | - | 0 | - |' in markdown
    assert markdown.splitlines()[-1] == '| All | 3 | 50 | 66.7 | 82.0 | 1 | 0.80 |'


@pytest.fixture(scope='module')
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    folder = tmp_path_factory.mktemp('compare')
    bvm = write_scene_bvm(folder / 'BwkHab.shp')
    path = write_scene_map(folder / 'maps' / 'map.tif', scene_grid(*GRIDS['wgs84']))
    result = compare_with_bvm(bvm, folder / 'maps', folder / 'out', progress=False)
    return folder, path, result


def test_geopackage_schema_and_order(compared: tuple[Path, Path, object]) -> None:
    folder, path, _ = compared
    gpkg = folder / 'out' / OUTPUT_NAMES['geopackage']
    info = pyogrio.read_info(gpkg, layer='disagreement')
    fields = dict(zip(info['fields'], info['ogr_types'], strict=True))
    assert fields == {
        'TAG': 'OFTString',
        'UIDN': 'OFTInteger64',
        'EENH1': 'OFTString',
        'bvm_class': 'OFTInteger',
        'bvm_name': 'OFTString',
        'pixels': 'OFTInteger',
        'agreement': 'OFTReal',
        'pred_class': 'OFTInteger',
        'pred_name': 'OFTString',
        'pred_share': 'OFTReal',
        'confidence': 'OFTReal',
        'bvm_probability': 'OFTReal',
        'class_typical': 'OFTReal',
        'observations': 'OFTReal',
        'years_since_mapping': 'OFTReal',
        'excess_disagreement': 'OFTReal',
        'disagreement_extent': 'OFTReal',
        'score': 'OFTReal',
        'candidate': 'OFTInteger',
        'rank': 'OFTInteger',
    }
    assert CRS.from_user_input(info['crs']) == L72
    assert info['geometry_type'] == 'MultiPolygon'
    geometries, _, notes = scene_polygons()
    assert info['features'] == len(geometries) - 1  # not the one outside
    frame = pyogrio.read_dataframe(gpkg)
    ranked = frame['rank'].notna().to_numpy()
    # Ranked polygons first, by rank 1..k, their scores not increasing; then
    # those without a class or a pixel.
    k = int(ranked.sum())
    assert ranked[:k].all()
    assert not ranked[k:].any()
    assert frame['rank'][:k].tolist() == list(range(1, k + 1))
    assert (np.diff(frame['score'][:k]) <= 0).all()
    # Every "changed" polygon is a candidate, predicted as its new class, and
    # ranked among the first.
    expected_classes = scene_classes()
    for index, changed in CHANGED.items():
        row = frame[frame['UIDN'] == index + 1].iloc[0]
        assert row['bvm_class'] == expected_classes[index]
        assert row['pred_class'] == changed
        assert row['pred_name'] == CLASS_NAMES[changed]
        assert row['candidate'] == 1
        assert row['excess_disagreement'] > 0
        # The map's evidence on 2 pixels is weak; on many it leads the ranking.
        assert row['rank'] <= (5 if row['pixels'] >= 50 else 15)
    assert frame['candidate'].sum() >= len(CHANGED)
    # The counts are 7 everywhere; no prediction.json: no year.
    assert (frame['observations'][ranked] == 7).all()
    assert frame['years_since_mapping'].isna().all()
    # The geometry is the layer's own, in EPSG:31370.
    first = frame.iloc[0]
    original = geometries[int(first['UIDN']) - 1]
    assert shapely.equals_exact(
        shapely.normalize(first.geometry),
        shapely.normalize(shapely.multipolygons(shapely.get_parts(original))),
        1e-6,
    )
    sliver = frame[frame['UIDN'] == notes.index(SLIVER) + 1].iloc[0]
    assert sliver['pixels'] == 0
    assert pd.isna(sliver['agreement'])
    assert pd.isna(sliver['rank'])
    assert pd.isna(sliver['pred_class'])
    assert pd.isna(sliver['confidence'])
    # The values equal the brute-force reference.
    expected, sums, known = brute_force(geometries, [path])
    by_id = frame.set_index('UIDN').sort_index()
    covered = [i for i, note in enumerate(notes) if note != OUTSIDE]
    np.testing.assert_array_equal(by_id['pixels'], expected[covered].sum(axis=1))
    with np.errstate(invalid='ignore'):
        agreement = expected[covered, expected_classes[covered]] / expected[
            covered
        ].sum(1)
        confidence = sums[covered] / known[covered]
    np.testing.assert_allclose(by_id['agreement'], agreement)
    np.testing.assert_allclose(by_id['confidence'], confidence)


def test_summary_files(compared: tuple[Path, Path, object]) -> None:
    folder, _, _ = compared
    summary = pd.read_csv(
        folder / 'out' / OUTPUT_NAMES['summary_csv'], index_col='class'
    )
    assert list(summary.columns) == [
        'class_id',
        'polygons',
        'pixels',
        'majority_agreement',
        'pixel_agreement',
        'candidates',
        'mean_confidence',
    ]
    frame = pyogrio.read_dataframe(folder / 'out' / OUTPUT_NAMES['geopackage'])
    counted = frame[frame['pixels'] > 0]
    assert summary.loc['All', 'polygons'] == len(counted)
    assert summary.loc['All', 'candidates'] == counted['candidate'].sum()
    grass = counted[counted['bvm_class'] == 2]
    assert summary.loc['Grasslands', 'pixels'] == grass['pixels'].sum()
    assert summary.loc['Grasslands', 'pixel_agreement'] == pytest.approx(
        (grass['agreement'] * grass['pixels']).sum() / grass['pixels'].sum(), rel=1e-5
    )
    markdown = (folder / 'out' / OUTPUT_NAMES['summary_markdown']).read_text()
    assert markdown.startswith('| Class | Polygons | Pixels | Agree by majority (%)')
    assert markdown.count('\n') == NUM_CLASSES + 3
    with Image.open(folder / 'out' / OUTPUT_NAMES['candidates']) as png:
        assert png.format == 'PNG'
        assert png.size[0] > 800
        assert png.size[1] > 400


def test_without_confidence_and_with_integer_labels(tmp_path: Path) -> None:
    bvm = write_scene_bvm(tmp_path / 'BVM_labeled.gpkg', label_column=True)
    grid = scene_grid(*GRIDS['lambert72'])
    write_scene_map(tmp_path / 'maps' / 'map.tif', grid, confidence=False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # Label 0 is "no label", not unmapped
        result = compare_with_bvm(
            bvm,
            tmp_path / 'maps',
            tmp_path / 'out',
            label_field='Label',
            confidence=False,
            progress=False,
        )
    frame = result.polygons
    assert list(frame.columns[:3]) == ['TAG', 'UIDN', 'Label']
    assert frame['confidence'].isna().all()
    counted = frame[frame['agreement'].notna()]
    # Without probabilities, the share of pixels in the BVM class stands in.
    np.testing.assert_allclose(counted['bvm_probability'], counted['agreement'])
    np.testing.assert_allclose(
        counted['score'],
        np.maximum(counted['excess_disagreement'], 0) * counted['disagreement_extent'],
    )
    unlabelled = frame[frame['UIDN'] == 2].iloc[0]
    assert pd.isna(unlabelled['bvm_class'])
    assert unlabelled['bvm_name'] is None
    assert unlabelled['pixels'] > 0
    assert pd.isna(unlabelled['rank'])
    assert result.summary.loc['All', 'polygons'] == len(counted)
    lines = result.describe(3)
    assert lines[0].endswith(f'{int(frame["candidate"].sum())} candidates')
    assert lines[1].startswith('pixel agreement with the BVM ')
    assert lines[2] == '3 polygons most probably out of date:'
    assert lines[3].startswith('    1 ')
    assert 'confidence' not in lines[3]


def test_maps_that_miss_the_bvm(tmp_path: Path) -> None:
    bvm = write_scene_bvm(tmp_path / 'BwkHab.gpkg')
    far = Grid.from_bounds((30_000, 160_000, 31_000, 161_000), L72, 20.0)
    from tests.compare_scene import map_confidence
    from torchgeo_bvm.synth.classmap import write_class_map

    write_class_map(
        tmp_path / 'maps' / 'far.tif',
        np.zeros(far.shape, dtype=np.uint8),
        far,
        map_confidence(far),
    )
    with pytest.raises(BVMValueError, match='do not overlap the BVM layer'):
        compare_with_bvm(bvm, tmp_path / 'maps', tmp_path / 'out', progress=False)
    assert not (tmp_path / 'out').exists()


def _module_imports(path: Path) -> set[str]:
    """The modules a file imports when it is imported (not under TYPE_CHECKING)."""
    import ast

    tree = ast.parse(path.read_text())
    package = '.'.join(path.relative_to(PACKAGE.parent).with_suffix('').parts[:-1])
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if ast.unparse(node.test) != 'TYPE_CHECKING':
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package.split('.')[: len(package.split('.')) - node.level + 1]
                module = (
                    '.'.join(base + ([node.module] if node.module else []))
                    if node.level
                    else node.module or ''
                )
                found.add(module)
                found.update(f'{module}.{alias.name}' for alias in node.names)

    visit(tree.body)
    return found


PACKAGE = Path(__file__).resolve().parents[2] / 'torchgeo_bvm'


def _file_of(module: str) -> Path | None:
    parts = module.split('.')
    path = PACKAGE.parent.joinpath(*parts)
    if path.with_suffix('.py').is_file():
        return path.with_suffix('.py')
    if (path / '__init__.py').is_file():
        return path / '__init__.py'
    return None


@pytest.mark.parametrize(
    ('start', 'reached'),
    [
        ('torchgeo_bvm.maps.compare', 'torchgeo_bvm.spatial.scanline'),
        ('torchgeo_bvm.commands.compare', 'torchgeo_bvm.commands'),
    ],
)
def test_the_comparison_needs_no_torch(start: str, reached: str) -> None:
    # Everything the comparison imports from the package (but the package's
    # own __init__, which exports the datasets) is free of torch, TorchGeo and
    # Lightning.
    seen: set[str] = set()
    heavy: list[str] = []
    todo = [start]
    while todo:
        module = todo.pop()
        path = _file_of(module)
        if module in seen or path is None or module == 'torchgeo_bvm':
            continue
        seen.add(module)
        for name in _module_imports(path):
            if name.split('.')[0] in ('torch', 'torchgeo', 'lightning'):
                heavy.append(f'{module} imports {name}')
            elif name.startswith('torchgeo_bvm'):
                todo.append(name)
    assert reached in seen
    assert heavy == []


def test_outputs_appear_together_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bvm = write_scene_bvm(tmp_path / 'BwkHab.gpkg')
    write_scene_map(tmp_path / 'maps' / 'map.tif', scene_grid(*GRIDS['lambert72']))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'class_agreement.csv').write_text('an earlier result\n')

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError('No space left on device')

    monkeypatch.setattr('torchgeo_bvm.maps.compare.plot_candidates', fail)
    with pytest.raises(OSError, match='No space left'):
        compare_with_bvm(bvm, tmp_path / 'maps', out, progress=False)
    assert [p.name for p in out.iterdir()] == ['class_agreement.csv']
    assert (out / 'class_agreement.csv').read_text() == 'an earlier result\n'


def test_a_run_without_truth_leaves_no_earlier_truth_scores(tmp_path: Path) -> None:
    bvm = write_scene_bvm(tmp_path / 'BwkHab.gpkg')
    write_scene_map(tmp_path / 'maps' / 'map.tif', scene_grid(*GRIDS['lambert72']))
    changes = write_scene_changes(tmp_path / 'changes.csv')
    out = tmp_path / 'out'
    scored = compare_with_bvm(
        bvm, tmp_path / 'maps', out, year=2022, truth=changes, progress=False
    )
    assert scored.paths['truth'].is_file()
    again = compare_with_bvm(bvm, tmp_path / 'maps', out, year=2022, progress=False)
    assert 'truth' not in again.paths
    assert again.truth is None
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in again.paths.values()
    )
