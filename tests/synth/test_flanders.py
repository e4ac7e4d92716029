import filecmp
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from pyproj import CRS
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box

from torchgeo_bvm.boundary import read_boundary
from torchgeo_bvm.bwk import UnitMapping
from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, class_by_name
from torchgeo_bvm.crs import LAMBERT72, UTM31N
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.kaartblad import (
    LEVELS,
    Sheet,
    SplitScheme,
    compare_official,
    read_official,
)
from torchgeo_bvm.synth.bwk import BWKHAB_FIELDS
from torchgeo_bvm.synth.flanders import (
    _KINDS,
    DATES,
    DBF_DATE,
    MANIFEST_NAME,
    SIZES,
    TARGET_SHARES,
    load_manifest,
    write_mini_flanders,
    write_refgew,
)
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA

TINY = SIZES['tiny']


@pytest.fixture(scope='module')
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp('tiny') / 'mini'
    return out, write_mini_flanders(out, 'tiny', seed=0, plot=True)


def _bvm(out: Path, crs: CRS = LAMBERT72) -> BVMDataset:
    # The real map has unmapped ('ng') polygons; so has mini-Flanders.
    with pytest.warns(UserWarning, match=r"'ng' x \d+"):
        return BVMDataset(out / 'bvm', crs=crs, res=10.0)


def _region_classes(out: Path) -> np.ndarray:
    xmin, _, _, ymax = TINY.bounds
    rows, cols = TINY.pixels
    return _bvm(out).rasterize(from_origin(xmin, ymax, 10, 10), cols, rows)


def test_target_shares_follow_the_paper() -> None:
    assert sum(TARGET_SHARES.values()) == pytest.approx(1.0, abs=0.002)
    assert TARGET_SHARES['Cultivated land'] == pytest.approx(0.3384, abs=1e-4)
    assert TARGET_SHARES['Unknown'] == 0.0005  # raised to the floor


@pytest.mark.parametrize('kind', list(_KINDS))
def test_every_unit_code_maps_to_its_intended_class(kind: str) -> None:
    name, codes = _KINDS[kind]
    mapping = UnitMapping()
    assert {mapping.classify(code) for code in codes} == {class_by_name(name).id}


def test_manifest_lists_what_was_written(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    assert manifest == {
        **load_manifest(out),
        'reused': False,
        'seconds': manifest['seconds'],
    }
    assert manifest['complete'] is True
    assert (manifest['size'], manifest['seed']) == ('tiny', 0)
    assert manifest['region'] == list(TINY.bounds)
    assert manifest['sheets'] == {
        'kbl': [22],
        'kbl4': ['22/1-2', '22/3-4', '22/5-6', '22/7-8'],
    }
    assert manifest['dates'] == ['2020-04-18', '2020-07-27', '2020-10-05', '2021-06-14']
    for name, size in manifest['sizes'].items():
        assert (out / name).stat().st_size == size
    assert (out / manifest['overview']).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sum(manifest['pixels'].values()) == manifest['labelled_pixels']
    assert manifest['labelled_pixels'] + manifest['unlabelled_pixels'] == 320 * 200


def test_bvm_reads_through_bvmdataset(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    dataset = _bvm(out)
    assert dataset.source.endswith('bvm/BwkHab.shp')
    assert dataset.source_crs == CRS.from_epsg(31370)
    report = dataset.load()
    assert (report.polygons, report.repaired, report.skipped) == (
        manifest['polygons'],
        0,
        0,
    )
    info = pyogrio.read_info(out / 'bvm' / 'BwkHab.shp')
    assert list(info['fields']) == list(BWKHAB_FIELDS)
    # A shapefile does not tell polygons from multipolygons; GDAL says Polygon.
    assert info['geometry_type'] == 'Polygon'
    prj = (out / 'bvm' / 'BwkHab.prj').read_text()
    assert prj.startswith('PROJCS["Belge_Lambert_1972"')


def test_every_class_present_with_the_manifest_counts(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = tiny
    counts = np.bincount(_region_classes(out).ravel(), minlength=IGNORE_INDEX + 1)
    assert {c.name: int(counts[c.id]) for c in CLASSES} == manifest['pixels']
    assert (counts[:NUM_CLASSES] > 0).all()
    shares = counts[:NUM_CLASSES] / counts[:NUM_CLASSES].sum()
    # The large classes come in the paper's order of size.
    large = ['Cultivated land', 'Urban areas', 'Grasslands', 'Woodland and shrub']
    assert shares[class_by_name('Cultivated land').id] > 0.25
    assert all(shares[class_by_name(n).id] > 0.05 for n in large)
    rare = [c.id for c in CLASSES if TARGET_SHARES[c.name] < 0.01]
    assert (shares[rare] < 0.01).all()


def test_every_split_holds_every_class(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, _ = tiny
    classes = _region_classes(out)
    rows, cols = TINY.pixels
    xmin, _, _, ymax = TINY.bounds
    scheme = SplitScheme()
    # The region's centre is the corner of the four kbl4 sheets of sheet 22.
    quarters = {
        '22/1-2': classes[: rows // 2, : cols // 2],
        '22/3-4': classes[: rows // 2, cols // 2 :],
        '22/5-6': classes[rows // 2 :, : cols // 2],
        '22/7-8': classes[rows // 2 :, cols // 2 :],
    }
    corner = Sheet.parse('22/1-2').bounds[2], Sheet.parse('22/1-2').bounds[1]
    assert corner == (xmin + cols * 5, ymax - rows * 5)
    by_split: dict[str, set[int]] = {}
    for code, part in quarters.items():
        by_split.setdefault(scheme.split_of(code), set()).update(
            np.unique(part).tolist()
        )
    assert set(by_split) == {'train', 'val', 'test'}
    for found in by_split.values():
        assert found - {IGNORE_INDEX} == set(range(NUM_CLASSES))


def test_bvm_has_holes_overlaps_and_narrow_features(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = tiny
    frame = pyogrio.read_dataframe(out / 'bvm' / 'BwkHab.shp')
    geometries = frame.geometry.to_numpy()
    assert shapely.get_num_interior_rings(shapely.get_parts(geometries)).max() > 0
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate='overlaps')
    assert (left != right).any()
    woody = frame['EENH1'].str.match(r'^k[hb]')
    widths = 2 * frame.geometry[woody].area / frame.geometry[woody].length
    assert 5.0 <= widths.median() <= 12.0
    assert frame['EENH1'].str.endswith('+').any()
    assert set(frame['HABLEGENDE']) == {'gh', 'hab', 'phab'}
    assert frame['UIDN'].is_unique


def test_products_read_through_sentinel2toc(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    dataset = Sentinel2TOC(out)
    assert list(dataset.index['period']) == manifest['dates']
    assert CRS.from_user_input(dataset.crs) == CRS.from_epsg(32631)
    assert dataset.res == (10.0, 10.0)
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    assert (dataset.bounds[0].start, dataset.bounds[0].stop) == (xmin, xmax)
    assert (dataset.bounds[1].start, dataset.bounds[1].stop) == (ymin, ymax)
    product = out / manifest['imagery']['products'][0]['path']
    assert product.name == 'S2A_20200418T105031_31UES_TOC_V210'
    for band, metres in (('B02', 10), ('B05', 20), ('B01', 60)):
        with rasterio.open(
            product / f'S2A_20200418T105031_31UES_TOC-{band}_{metres}M_V210.tif'
        ) as src:
            assert src.dtypes[0] == 'int16'
            assert src.nodata == TERRASCOPE_NODATA
            assert src.res == (metres, metres)


def _date_sample(out: Path, manifest: dict[str, Any], day: str) -> dict[str, Any]:
    dataset = Sentinel2TOC(out, bands=['B04', 'B08'])
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    row = dataset.index[dataset.index['period'] == day].index[0]
    return dataset[xmin:xmax, ymin:ymax, row.left : row.right]


def test_clouds_shadows_and_nodata_are_masked(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = tiny
    scl_classes: set[int] = set()
    for product in manifest['imagery']['products']:
        folder = out / product['path']
        (scl_file,) = folder.glob('*_SCENECLASSIFICATION_20M_V210.tif')
        with rasterio.open(scl_file) as src:
            scl_classes |= set(np.unique(src.read(1)).tolist())
    assert {0, 3, 4, 5, 6, 8, 9, 10} <= scl_classes
    autumn = _date_sample(out, manifest, '2020-10-05')
    valid = autumn['valid'].numpy()
    assert 0.3 < valid.mean() < 0.95


def test_seasons_change_arable_land(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    cols, rows = round((xmax - xmin) / 10), round((ymax - ymin) / 10)
    labels = _bvm(out, UTM31N).rasterize(from_origin(xmin, ymax, 10, 10), cols, rows)

    def ndvi(day: str, name: str) -> float:
        sample = _date_sample(out, manifest, day)
        red, nir = sample['image'].numpy()
        use = sample['valid'].numpy() & (labels == class_by_name(name).id)
        return float(((nir - red) / (nir + red))[use].mean())

    assert (
        ndvi('2020-07-27', 'Cultivated land')
        > ndvi('2020-04-18', 'Cultivated land') + 0.15
    )
    # Meadows stay green; in summer they are close to the crops.
    assert ndvi('2020-04-18', 'Grasslands') > 0.5
    assert (
        abs(ndvi('2020-07-27', 'Grasslands') - ndvi('2020-07-27', 'Cultivated land'))
        < 0.2
    )


@pytest.mark.parametrize('level', LEVELS)
def test_official_sheets_match_the_grid(
    tiny: tuple[Path, dict[str, Any]], level: str
) -> None:
    out, manifest = tiny
    path = out / manifest['kbl_files'][level]
    assert (
        path.name
        == {
            'kbl': 'Kbl.shp',
            'kbl4': 'Kbl4.shp',
            'kbl8': 'Kbl8.shp',
            'kbl16': 'Kbl16.shp',
        }[level]
    )
    assert compare_official(path, numbers=[22]) == []
    frame = read_official(path)
    assert {s.level for s in frame['sheet']} == {level}


def test_boundary_cuts_through_the_region(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    path = out / manifest['boundary']
    assert path.name == 'Refgew.shp'
    frame = pyogrio.read_dataframe(path)
    assert list(frame.columns[:-1]) == [
        'UIDN', 'OIDN', 'TERRID', 'NAAM', 'NISCODE', 'NUTS1', 'LENGTE', 'OPPERVL'
    ]  # fmt: skip
    assert (frame['NAAM'][0], frame['NISCODE'][0], frame['NUTS1'][0]) == (
        'Vlaams Gewest',
        '02000',
        'BE2',
    )
    flanders = read_boundary(path)
    region = box(*TINY.bounds)
    outside = region.difference(flanders).area / region.area
    assert 0.02 < outside < 0.3
    assert flanders.within(box(*Sheet.parse(22).bounds).buffer(1e-6))
    bvm = shapely.union_all(pyogrio.read_dataframe(out / 'bvm' / 'BwkHab.shp').geometry)
    assert bvm.difference(flanders.buffer(0.01)).area < 1.0
    # Imagery goes on beyond the border.
    assert box(*read_official(out / 'kbl' / 'Kbl16.shp').total_bounds).contains(region)


def test_dbase_headers_carry_a_fixed_date(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, _ = tiny
    year, month, day = DBF_DATE
    dbfs = sorted(out.rglob('*.dbf'))
    assert len(dbfs) == 6
    official = bytes([2013 - 1900, 4, 22])  # synth.kbl.OFFICIAL_DBF_DATE
    for dbf in dbfs:
        expected = (
            official if dbf.parent.name == 'kbl' else bytes([year - 1900, month, day])
        )
        assert dbf.read_bytes()[1:4] == expected, dbf


def test_same_seed_gives_the_same_bytes(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = tiny
    again = write_mini_flanders(tmp_path / 'again', 'tiny', seed=0, plot=True)
    assert again['sizes'] == manifest['sizes']
    names = [*manifest['sizes'], MANIFEST_NAME]
    match, mismatch, errors = filecmp.cmpfiles(
        out, tmp_path / 'again', names, shallow=False
    )
    assert (mismatch, errors) == ([], [])
    assert len(match) == len(names)


def test_another_seed_gives_other_content(
    tiny: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, manifest = tiny
    other = write_mini_flanders(tmp_path / 'other', 'tiny', seed=1, plot=False)
    assert other['pixels'] != manifest['pixels']
    first = out / manifest['imagery']['products'][1]['path']
    second = tmp_path / 'other' / other['imagery']['products'][1]['path']
    (band,) = first.glob('*TOC-B08_10M_V210.tif')
    with rasterio.open(band) as a, rasterio.open(second / band.name) as b:
        assert a.shape == b.shape
        assert not np.array_equal(a.read(1), b.read(1))
    # The sheets are the real grid, whatever the seed.
    assert filecmp.cmp(
        out / 'kbl' / 'Kbl16.shp',
        tmp_path / 'other' / 'kbl' / 'Kbl16.shp',
        shallow=False,
    )


def test_rerun_reuses_an_up_to_date_folder(tmp_path: Path) -> None:
    first = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    bvm = tmp_path / first['bvm']
    stamp = bvm.stat().st_mtime_ns
    again = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    assert again['reused'] is True
    assert bvm.stat().st_mtime_ns == stamp
    # A damaged file makes the next run regenerate.
    (tmp_path / first['boundary']).unlink()
    repaired = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    assert repaired['reused'] is False
    assert (tmp_path / first['boundary']).exists()
    assert repaired['sizes'] == first['sizes']


def test_rerun_with_another_seed_regenerates_and_drops_stale_files(
    tmp_path: Path,
) -> None:
    write_mini_flanders(tmp_path, 'tiny', seed=2, plot=True)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    # A file an older run listed that this run does not write goes away.
    (tmp_path / 'bvm' / 'old.txt').write_text('x')
    manifest['sizes']['bvm/old.txt'] = 1
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    (tmp_path / 'notes.txt').write_text('mine')
    result = write_mini_flanders(tmp_path, 'tiny', seed=3, plot=False)
    assert (result['reused'], result['seed'], result['overview']) == (False, 3, None)
    assert not (tmp_path / 'bvm' / 'old.txt').exists()
    assert not (tmp_path / 'overview.png').exists()
    assert (tmp_path / 'notes.txt').read_text() == 'mine'  # never listed, kept
    assert load_manifest(tmp_path)['seed'] == 3


def test_interrupted_run_is_redone(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({'complete': False}))
    (tmp_path / 'bvm').mkdir()
    with pytest.raises(ValueError, match='did not finish'):
        load_manifest(tmp_path)
    assert write_mini_flanders(tmp_path, 'tiny', plot=False)['reused'] is False
    assert load_manifest(tmp_path)['complete'] is True


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / 'data.csv').write_text('keep me')
    with pytest.raises(ValueError, match=r'holds no manifest\.json'):
        write_mini_flanders(tmp_path, 'tiny')
    assert [p.name for p in tmp_path.iterdir()] == ['data.csv']


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown mini-Flanders size 'huge'"):
        write_mini_flanders(tmp_path, 'huge')
    with pytest.raises(FileNotFoundError, match='no mini-Flanders manifest'):
        load_manifest(tmp_path)
    with pytest.raises(ValueError, match='has no area'):
        write_refgew(tmp_path / 'Refgew.shp', Polygon())
    assert not list(tmp_path.iterdir())


def test_dates_span_seasons_and_years() -> None:
    months = {d[5:7] for d, _ in DATES}
    years = {d[:4] for d, _ in DATES}
    assert len(DATES) >= 4
    assert len(months) == len(DATES)
    assert len(years) >= 2
    assert {p for _, p in DATES} <= {'S2A', 'S2B', 'S2C'}
