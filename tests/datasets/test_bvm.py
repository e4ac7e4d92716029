import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import torch
from pyproj import CRS, Transformer
from shapely.geometry import Polygon, box
from torch.utils.data import DataLoader
from torchgeo.datasets import DatasetNotFoundError, RasterDataset, stack_samples
from torchgeo.samplers import GriddedPatchSampler

from tests.datasets.reference_polygons import PlainPolygons
from torchgeo_bvm.bvm.polygons import BVMPolygons
from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.datasets.bvm import BVMDataset, merge_label_samples
from torchgeo_bvm.errors import BVMFileError
from torchgeo_bvm.synth.bvm import bwkhab_frame, synthetic_bwkhab, write_bwkhab
from torchgeo_bvm.synth.kbl import LAMBERT72_ESRI_WKT

X0, Y0 = 100_000.0, 200_000.0  # in Kbl8 sheet 14/5 (Lokeren)
L72 = CRS.from_epsg(31370)
_ = IGNORE_INDEX

# Hand-made layer in EPSG:31370 (metres from X0, Y0):
#   A 'bl'  (Cultivated, 1)  0..100 x 0..100 with a hole 60..80 x 60..80
#   B 'kn'  (Non-woody, 8)   20..50 x 20..50, overlaps A and is smaller: wins
#   C 'hp+' (Grasslands, 2)  100..150 x 0..50, shares A's east edge
#   E ''    (Unknown, 10)    100..150 x 50..100, empty EENH1
#   H 'ud'  (Urban, 11)      150..154 x 0..100: a sliver holding no pixel centre
#   I 'ae'  (Water, 12)      154..170 x 0..100
HAND_CODES = ['bl', 'kn', 'hp+', '', 'ud', 'ae']


def _rect(x1: float, y1: float, x2: float, y2: float) -> Polygon:
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def hand_polygons() -> list[Polygon]:
    hole = _rect(60, 60, 80, 80).exterior.coords
    a = Polygon(_rect(0, 0, 100, 100).exterior.coords, [hole])
    return [
        a,
        _rect(20, 20, 50, 50),
        _rect(100, 0, 150, 50),
        _rect(100, 50, 150, 100),
        _rect(150, 0, 154, 100),
        _rect(154, 0, 170, 100),
    ]


def write_hand_fixture(path: Path, **kwargs: object) -> Path:
    frame = bwkhab_frame(hand_polygons(), HAND_CODES, **kwargs)  # type: ignore[arg-type]
    return write_bwkhab(frame, path)


# The 10 m mask of the window X0..X0+180, Y0..Y0+100, worked out by hand from
# the pixel centres (5, 15, ..., 175; rows from the top, y = 95, 85, ..., 5):
# the sliver H holds no centre, so column 15 (centre 155) is I's; 175 is outside.
N = IGNORE_INDEX
EXPECTED = np.array(
    [
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10, 12, 12, N],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10, 12, 12, N],
        [1, 1, 1, 1, 1, 1, N, N, 1, 1, 10, 10, 10, 10, 10, 12, 12, N],
        [1, 1, 1, 1, 1, 1, N, N, 1, 1, 10, 10, 10, 10, 10, 12, 12, N],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10, 12, 12, N],
        [1, 1, 8, 8, 8, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 12, 12, N],
        [1, 1, 8, 8, 8, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 12, 12, N],
        [1, 1, 8, 8, 8, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 12, 12, N],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 12, 12, N],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 12, 12, N],
    ]
)
WINDOW = (slice(X0, X0 + 180, 10.0), slice(Y0, Y0 + 100, 10.0))


@pytest.fixture
def hand_shp(tmp_path: Path) -> Path:
    return write_hand_fixture(tmp_path / 'BwkHab.shp')


def open_quietly(path: Path | str, **kwargs: object) -> BVMDataset:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return BVMDataset(path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize('suffix', ['.shp', '.zip', '.gpkg', '.parquet'])
def test_hand_fixture_pixels(tmp_path: Path, suffix: str) -> None:
    path = write_hand_fixture(tmp_path / f'BwkHab{suffix}')
    ds = open_quietly(path, crs=L72, res=10.0)
    sample = ds[WINDOW]
    assert sample['mask'].dtype == torch.long
    assert sample['mask'].shape == (10, 18)
    np.testing.assert_array_equal(sample['mask'].numpy(), EXPECTED)
    assert ds.crs == L72
    assert ds.source_crs.to_epsg() == 31370


def test_sample_format(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    sample = ds[WINDOW]
    assert set(sample) == {'mask', 'bounds', 'transform'}
    assert sample['bounds'].shape == (9,)
    assert sample['bounds'][:6].tolist() == [X0, X0 + 180, 10, Y0, Y0 + 100, 10]
    assert sample['transform'].tolist() == [10, 0, X0, 0, -10, Y0 + 100, 0, 0, 1]


def test_default_crs_and_res(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp)
    assert ds.crs.to_epsg() == 4326
    assert ds.res == pytest.approx((1.4245485e-4, 8.988896e-5), rel=1e-5)
    # The fixture spans X0..X0+170, Y0..Y0+100; its corners in degrees bound it.
    corners_x = [X0, X0, X0 + 170, X0 + 170]
    corners_y = [Y0, Y0 + 100, Y0, Y0 + 100]
    lon, lat = Transformer.from_crs(L72, 4326, always_xy=True).transform(
        corners_x, corners_y
    )
    xs, ys, _ = ds.bounds
    assert (xs.start, xs.stop) == pytest.approx((min(lon), max(lon)), abs=1e-7)
    assert (ys.start, ys.stop) == pytest.approx((min(lat), max(lat)), abs=1e-7)


@pytest.mark.parametrize('epsg', [4326, 32631])
def test_other_crs_hits_the_same_polygons(hand_shp: Path, epsg: int) -> None:
    ds = open_quietly(hand_shp, crs=CRS.from_epsg(epsg))
    to_crs = Transformer.from_crs(L72, epsg, always_xy=True)
    xres, yres = ds.res
    # The centre of each polygon, sampled as a 3 x 3 window around it.
    for (cx, cy), expected in [((35, 35), 8), ((10, 90), 1), ((125, 25), 2)]:
        x, y = to_crs.transform(X0 + cx, Y0 + cy)
        sample = ds[x - 1.5 * xres : x + 1.5 * xres, y - 1.5 * yres : y + 1.5 * yres]
        assert sample['mask'].shape == (3, 3)
        assert sample['mask'][1, 1].item() == expected


def test_esri_prj_without_epsg_is_lambert72(tmp_path: Path) -> None:
    path = write_hand_fixture(tmp_path / 'BwkHab.shp')
    assert path.with_suffix('.prj').read_text() == LAMBERT72_ESRI_WKT
    assert CRS.from_wkt(LAMBERT72_ESRI_WKT).to_epsg() is None
    ds = open_quietly(path, crs=L72, res=10.0)
    assert ds.source_crs == L72
    np.testing.assert_array_equal(ds[WINDOW]['mask'].numpy(), EXPECTED)


def test_missing_prj_is_lambert72(hand_shp: Path) -> None:
    hand_shp.with_suffix('.prj').unlink()
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    assert ds.source_crs == L72
    np.testing.assert_array_equal(ds[WINDOW]['mask'].numpy(), EXPECTED)


def test_layer_in_another_crs_is_reprojected(tmp_path: Path) -> None:
    frame = bwkhab_frame(hand_polygons(), HAND_CODES).to_crs(4326)
    path = tmp_path / 'bvm.gpkg'
    frame.to_file(path, layer='BwkHab', driver='GPKG', engine='pyogrio')
    ds = open_quietly(path, crs=L72, res=10.0)
    assert ds.source_crs.to_epsg() == 4326
    np.testing.assert_array_equal(ds[WINDOW]['mask'].numpy(), EXPECTED)


def test_crs_change_reprojects(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp)
    ds.load()
    ds.crs = L72
    ds.res = (10.0, 10.0)
    np.testing.assert_array_equal(ds[WINDOW]['mask'].numpy(), EXPECTED)


def test_unmapped_codes_summarised_once_per_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    codes = ['bl', '', 'xq', 'xq', None, 'zz']
    polygons = [_rect(i * 10, 0, i * 10 + 10, 10) for i in range(6)]
    path = write_bwkhab(bwkhab_frame(polygons, codes), tmp_path / 'BwkHab.shp')
    with caplog.at_level('WARNING', logger='torchgeo_bvm'):
        ds = BVMDataset(path, crs=L72, res=10.0)
        # Another dataset on the same file (another stage, another command of
        # the same run) does not repeat the summary.
        BVMDataset(path, crs=L72, res=10.0)
    messages = [r.getMessage() for r in caplog.records if r.name == 'torchgeo_bvm']
    assert len(messages) == 1
    assert messages[0].startswith(f'{path}: 5 of 6 features')
    assert '5 of 6 features' in messages[0]
    assert "'xq' x 2" in messages[0]
    assert "'zz' x 1" in messages[0]
    assert 'class 10 (Unknown)' in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        mask = ds[X0 : X0 + 60, Y0 : Y0 + 10]['mask']
    assert mask[0].tolist() == [1, 10, 10, 10, 10, 10]


def test_hab1_breaks_ties(tmp_path: Path) -> None:
    polygons = [_rect(0, 0, 10, 10), _rect(10, 0, 20, 10), _rect(20, 0, 30, 10)]
    frame = bwkhab_frame(
        polygons, ['kx', 'xx', 'hp'], {'HAB1': ['1330_da', '2130', '1330_da']}
    )
    path = write_bwkhab(frame, tmp_path / 'BwkHab.gpkg')
    ds = open_quietly(path, crs=L72, res=10.0)
    assert ds[X0 : X0 + 30, Y0 : Y0 + 10]['mask'][0].tolist() == [5, 0, 2]


def test_integer_label_column(tmp_path: Path) -> None:
    polygons = [_rect(i * 10, 0, i * 10 + 10, 10) for i in range(4)]
    frame = bwkhab_frame(polygons, ['bl'] * 4, {'Label': np.array([0, 1, 14, 7])})
    path = write_bwkhab(frame, tmp_path / 'BVM_labeled.shp')
    ds = open_quietly(path, crs=L72, res=10.0, label_field='Label')
    assert ds[X0 : X0 + 40, Y0 : Y0 + 10]['mask'][0].tolist() == [N, 0, 13, 6]


def test_own_mapping_table(hand_shp: Path) -> None:
    table = pd.DataFrame({'code': ['bl'], 'class': ['Heathland']})
    ds = open_quietly(hand_shp, crs=L72, res=10.0, mapping=table)
    assert ds[WINDOW]['mask'][9, 0].item() == 3


def test_overlap_smaller_wins_regardless_of_file_order(tmp_path: Path) -> None:
    big, small = _rect(0, 0, 40, 40), _rect(10, 10, 20, 20)
    for order in ([big, small], [small, big]):
        codes = ['bl', 'kn'] if order[0] is big else ['kn', 'bl']
        path = write_bwkhab(bwkhab_frame(order, codes), tmp_path / f'o{id(order)}.gpkg')
        mask = open_quietly(path, crs=L72, res=10.0)[X0 : X0 + 40, Y0 : Y0 + 40]['mask']
        assert mask[2, 1].item() == 8
        assert (mask == 8).sum().item() == 1
        assert (mask == 1).sum().item() == 15


def test_equal_area_overlap_later_feature_wins(tmp_path: Path) -> None:
    polygons = [_rect(0, 0, 20, 10), _rect(10, 0, 30, 10)]
    path = write_bwkhab(bwkhab_frame(polygons, ['bl', 'ae']), tmp_path / 'BwkHab.shp')
    mask = open_quietly(path, crs=L72, res=10.0)[X0 : X0 + 30, Y0 : Y0 + 10]['mask']
    assert mask[0].tolist() == [1, 12, 12]


def test_invalid_geometries_repaired_and_empty_skipped(tmp_path: Path) -> None:
    # A bow-tie (self-intersecting at (23, 20)), shifted 3 m so that its edges
    # miss every pixel centre.
    corners = [(3, 0), (43, 40), (43, 0), (3, 40), (3, 0)]
    bowtie = Polygon([(X0 + x, Y0 + y) for x, y in corners])
    assert not bowtie.is_valid
    polygons = [bowtie, shapely.from_wkt('POLYGON EMPTY'), _rect(50, 0, 60, 40)]
    frame = bwkhab_frame(polygons, ['bl', 'hp', 'ae'])
    path = write_bwkhab(frame, tmp_path / 'b.gpkg')
    ds = BVMDataset(path, crs=L72, res=10.0)
    with pytest.warns(UserWarning, match='repaired 1 invalid geometries .* skipped 1'):
        report = ds.load()
    assert (report.polygons, report.repaired, report.skipped) == (2, 1, 1)
    mask = ds[X0 : X0 + 60, Y0 : Y0 + 40]['mask']
    # Both triangles are kept: the west one holds centres with x - 3 < y and
    # x - 3 < 40 - y, the east one those with x - 3 > y and x - 3 > 40 - y.
    assert mask.tolist() == [
        [1, N, N, N, N, 12],
        [1, 1, N, 1, N, 12],
        [1, 1, N, 1, N, 12],
        [1, N, N, N, N, 12],
    ]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match='nope'):
        BVMDataset(tmp_path / 'nope.shp')
    with pytest.raises(DatasetNotFoundError):
        BVMDataset(tmp_path)


def test_folder_with_the_layer(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp.parent, crs=L72, res=10.0)
    assert Path(ds.source) == hand_shp


def test_label_field_absent_lists_fields(hand_shp: Path) -> None:
    with pytest.raises(ValueError, match=r"no field 'Label'.*UIDN, OIDN, TAG.*EENH1"):
        BVMDataset(hand_shp, label_field='Label')
    with pytest.raises(ValueError, match=r"no habitat field 'HAB9'.*HAB1"):
        BVMDataset(hand_shp, habitat_field='HAB9')


def test_wrong_layer_lists_layers(tmp_path: Path) -> None:
    path = write_hand_fixture(tmp_path / 'bvm.gpkg')
    with pytest.raises(ValueError, match=r"no layer 'Bwk'; the layers are BwkHab"):
        BVMDataset(path, layer='Bwk')
    zipped = write_hand_fixture(tmp_path / 'bvm.zip')
    with pytest.raises(ValueError, match=r"no shapefile 'Other'.*Shapefile/BwkHab.shp"):
        BVMDataset(zipped, layer='Other')


def test_empty_window_raises_index_error(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    with pytest.raises(IndexError, match='not found in dataset'):
        ds[X0 + 5000 : X0 + 5100, Y0 : Y0 + 100]


def test_window_partly_outside_is_ignore(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    mask = ds[X0 - 20 : X0 + 20, Y0 - 20 : Y0 + 20]['mask']
    assert mask.tolist() == [[N, N, 1, 1], [N, N, 1, 1], [N, N, N, N], [N, N, N, N]]


class _Image(RasterDataset):
    filename_glob = '*.tif'


def test_intersection_with_imagery(hand_shp: Path, tmp_path: Path) -> None:
    image = tmp_path / 'image' / 'img.tif'
    image.parent.mkdir()
    data = np.arange(20 * 30, dtype=np.float32).reshape(1, 20, 30)
    transform = rasterio.transform.from_origin(X0 - 50, Y0 + 150, 10, 10)
    with rasterio.open(
        image, 'w', driver='GTiff', width=30, height=20, count=1, dtype='float32',
        crs='EPSG:31370', transform=transform,
    ) as dst:  # fmt: skip
        dst.write(data)
    joint = _Image(image.parent) & open_quietly(hand_shp, crs=L72, res=10.0)
    sample = joint[WINDOW]
    assert sample['image'].shape == (1, 10, 18)
    assert sample['image'][0, 0, 0].item() == data[0, 5, 5]
    np.testing.assert_array_equal(sample['mask'].numpy(), EXPECTED)


def test_union_fills_ignore_from_the_other(tmp_path: Path) -> None:
    west = write_bwkhab(bwkhab_frame([_rect(0, 0, 20, 10)], ['bl']), tmp_path / 'w.shp')
    east = write_bwkhab(
        bwkhab_frame([_rect(20, 0, 40, 10)], ['ae']), tmp_path / 'e.shp'
    )
    union = open_quietly(west, crs=L72, res=10.0) | open_quietly(
        east, crs=L72, res=10.0
    )
    sample = union[X0 : X0 + 40, Y0 : Y0 + 10]
    assert sample['mask'][0].tolist() == [1, 1, 12, 12]
    assert sample['bounds'].shape == (9,)


def test_merge_label_samples_keeps_first_class() -> None:
    a = {'mask': torch.tensor([[1, N, N]])}
    b = {'mask': torch.tensor([[2, 3, N]])}
    assert merge_label_samples([a, b])['mask'].tolist() == [[1, 3, N]]


def test_dataloader_two_workers_matches_direct_reads(tmp_path: Path) -> None:
    frame = synthetic_bwkhab(400, seed=3)
    path = write_bwkhab(frame, tmp_path / 'BwkHab.shp')
    ds = open_quietly(path, crs=L72, res=10.0, cache_dir=tmp_path / 'cache')
    sampler = GriddedPatchSampler(ds, size=32)
    windows = list(sampler)[:8]
    loader = DataLoader(
        ds, sampler=windows, batch_size=4, num_workers=2, collate_fn=stack_samples
    )
    batches = list(loader)
    assert not ds.bvm.loaded  # the workers prepared (one) and mapped the polygons
    loaded = torch.cat([b['mask'] for b in batches])
    direct = torch.stack([ds[w]['mask'] for w in windows])
    assert loaded.shape == (8, 32, 32)
    assert torch.equal(loaded, direct)
    assert (loaded != N).any()
    assert ds.load().cached


# ------------------------------------------------------- the prepared polygons


@pytest.fixture
def mixed_layer(tmp_path: Path) -> Path:
    """A tessellation with overlaps, holes, multipolygons, an invalid and an empty."""
    frame = synthetic_bwkhab(1500, seed=5)
    x, y = frame.total_bounds[:2]
    square = [(x + 500, y + 300), (x + 1100, y + 300), (x + 1100, y + 900)]
    inner = [(x + 700, y + 500), (x + 800, y + 500), (x + 800, y + 600)]
    extra = [
        Polygon([*square, (x + 500, y + 900)], [[*inner, (x + 700, y + 600)]]),
        shapely.MultiPolygon(
            [box(x + 510, y + 310, x + 560, y + 350), box(x + 900, y + 700, x + 960, y + 730)]
        ),
        Polygon([(x + 600, y + 400), (x + 650, y + 450), (x + 650, y + 400),
                 (x + 600, y + 450)]),  # a bow-tie, repaired into two triangles
        shapely.from_wkt('POLYGON EMPTY'),
    ]  # fmt: skip
    geometries = np.concatenate([frame.geometry.to_numpy(), extra])
    codes = [*frame['EENH1'], 'kn', 'ae', 'hp', 'bl']
    return write_bwkhab(bwkhab_frame(geometries, codes), tmp_path / 'BwkHab.shp')


@pytest.mark.parametrize('crs', ['EPSG:31370', 'EPSG:4326', 'EPSG:32631'])
def test_prepared_samples_equal_the_plain_path(mixed_layer: Path, crs: str) -> None:
    ds = open_quietly(mixed_layer, crs=crs)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # the repaired bow-tie
        assert ds.load().repaired == 1
    plain = PlainPolygons(ds)
    store = ds._polygons()
    rng = np.random.default_rng(0)
    (xs, ys, _), (xres, yres) = ds.bounds, ds.res
    burnt = 0
    for size in [1, 3, 32, 100] * 25:
        # Windows anywhere, some partly or wholly outside the layer.
        x = xs.start + rng.uniform(-0.1, 1.0) * (xs.stop - xs.start)
        y = ys.start + rng.uniform(0.0, 1.1) * (ys.stop - ys.start)
        transform = rasterio.transform.from_origin(x, y, xres, yres)
        hits = plain.hits(transform, size, size)
        west, north = transform @ (0, 0)
        east, south = transform @ (size, size)
        np.testing.assert_array_equal(store.query((west, south, east, north)), hits)
        expected = plain.rasterize(transform, size, size)
        np.testing.assert_array_equal(ds.rasterize(transform, size, size), expected)
        burnt += int((expected != N).sum())
    assert burnt > 10_000


def test_prepared_polygons_are_cached_once(hand_shp: Path, tmp_path: Path) -> None:
    cache = tmp_path / 'cache'
    first = open_quietly(hand_shp, crs=L72, res=10.0, cache_dir=cache)
    report = first.load()
    assert (report.polygons, report.cached) == (6, False)
    (prepared,) = cache.glob('bvm-polygons-*.bin')
    again = open_quietly(hand_shp, crs=L72, res=10.0, cache_dir=cache)
    assert again.load().cached
    assert again._polygons().path == prepared
    assert again._polygons().mapped  # the file's pages, shared by every process
    np.testing.assert_array_equal(again[WINDOW]['mask'].numpy(), EXPECTED)
    # Another CRS is another entry; nothing but entries (polygons, label
    # columns) and their locks is left.
    open_quietly(hand_shp, cache_dir=cache).load()
    assert len(list(cache.glob('bvm-polygons-*.bin'))) == 2
    assert {p.suffix for p in cache.iterdir()} == {'.bin', '.lock', '.npz'}


def _prepared_again(path: Path, cache: Path) -> bool:
    """Whether a new dataset over ``path`` prepares its polygons again."""
    return not open_quietly(path, crs=L72, res=10.0, cache_dir=cache).load().cached


def _edit_in_place(path: Path, at: int) -> None:
    """Change one letter or digit at or before ``at``, keeping size and times."""
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    data = bytearray(path.read_bytes())
    at = at % len(data)
    while not chr(data[at]).isalnum():
        at -= 1
    data[at] = (
        ord('0') + (data[at] - ord('0') + 1) % 10
        if chr(data[at]).isdigit()
        else (ord('a') if data[at] != ord('a') else ord('b'))
    )
    path.write_bytes(bytes(data))
    os.utime(path, ns=times)


def test_prepared_polygons_follow_the_content(tmp_path: Path) -> None:
    path = write_bwkhab(synthetic_bwkhab(2000, seed=1), tmp_path / 'BwkHab.shp')
    assert path.stat().st_size > 2 * 65_536  # more than any header
    cache = tmp_path / 'cache'
    assert _prepared_again(path, cache)
    assert not _prepared_again(path, cache)
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    # Touched (a new time, the same bytes): nothing to prepare.
    os.utime(path, ns=(times[0], times[1] + 1_000_000_000))
    assert not _prepared_again(path, cache)
    # Bytes appended after the last record (GDAL ignores them): the content.
    with path.open('ab') as file:
        file.write(b'\0' * 16)
    os.utime(path, ns=times)
    assert _prepared_again(path, cache)
    assert not _prepared_again(path, cache)
    # Same size and time (cp -p, rsync -t): the first record's bounding box, and
    # a vertex far past the first 64 kB.
    for offset in (112, path.stat().st_size - 4000):
        times = (path.stat().st_atime_ns, path.stat().st_mtime_ns)
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x01  # the last bit of a coordinate
        path.write_bytes(bytes(data))
        os.utime(path, ns=times)
        assert _prepared_again(path, cache)
    # A side file of the shapefile (the labels' .dbf) counts too.
    _edit_in_place(path.with_suffix('.dbf'), -2)
    assert _prepared_again(path, cache)


@pytest.mark.parametrize('field', ['EENH1', 'Label'])
def test_label_columns_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    labels = {'Label': np.array([0, 1, 14, 7, 3, 2])}
    path = write_hand_fixture(tmp_path / 'BwkHab.shp', fields=labels)
    cache = tmp_path / 'cache'
    first = open_quietly(path, crs=L72, res=10.0, cache_dir=cache, label_field=field)
    assert len(list(cache.glob('bvm-columns-*.npz'))) == 1

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError('the layer was read')

    monkeypatch.setattr(pyogrio, 'read_dataframe', no_read)
    again = open_quietly(path, crs=L72, res=10.0, cache_dir=cache, label_field=field)
    np.testing.assert_array_equal(again.mapping_result.ids, first.mapping_result.ids)
    assert again.mapping_result.unmapped == first.mapping_result.unmapped
    assert again.mapping_result.fallback == first.mapping_result.fallback
    times = (path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9)
    os.utime(path.with_suffix('.dbf'), ns=times)  # touched: still cached
    open_quietly(path, crs=L72, res=10.0, cache_dir=cache, label_field=field)
    _edit_in_place(path.with_suffix('.dbf'), -2)  # same size and time
    with pytest.raises(AssertionError, match='the layer was read'):
        open_quietly(path, crs=L72, res=10.0, cache_dir=cache, label_field=field)


def test_a_layer_changed_after_the_dataset_was_created(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    write_hand_fixture(hand_shp, fields={'EENH2': ['kn'] * 6})
    with pytest.raises(BVMFileError, match=f'{hand_shp}: the file changed since'):
        ds.load()


def test_prepared_polygons_are_written_atomically(
    hand_shp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / 'cache'

    def interrupted(fd: int) -> None:
        raise OSError('disk full')

    # A write that fails half-way leaves no file under any name: the dataset
    # warns and uses the polygons it prepared, in memory.
    monkeypatch.setattr(os, 'fsync', interrupted)
    prepare = BVMPolygons._prepare
    calls = []

    def counted(self: BVMPolygons, crs: CRS, wkt: str) -> object:
        calls.append(wkt)
        return prepare(self, crs, wkt)

    monkeypatch.setattr(BVMPolygons, '_prepare', counted)
    ds = open_quietly(hand_shp, crs=L72, res=10.0, cache_dir=cache)
    with pytest.warns(UserWarning, match='cannot cache the prepared polygons'):
        assert not ds.load().cached
    assert len(calls) == 1
    assert not ds._polygons().mapped
    np.testing.assert_array_equal(ds[WINDOW]['mask'].numpy(), EXPECTED)
    assert {p.suffix for p in cache.iterdir()} == {'.lock', '.npz'}
    monkeypatch.undo()
    # A damaged entry (here cut short) is prepared again, not read.
    assert _prepared_again(hand_shp, cache)
    (entry,) = cache.glob('*.bin')
    entry.write_bytes(entry.read_bytes()[:-100])
    assert _prepared_again(hand_shp, cache)
    assert not _prepared_again(hand_shp, cache)


class _WhatTheWorkerHas(torch.utils.data.Dataset[dict[str, object]]):
    """Reads through a BVMDataset in a worker and reports how it got its polygons."""

    def __init__(self, ds: BVMDataset, windows: list[object]) -> None:
        self.ds, self.windows = ds, windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, object]:
        mask = self.ds[self.windows[i]]['mask']
        store = self.ds._polygons()
        return {
            'mask': mask,
            'pid': os.getpid(),
            'mapped': store.mapped,
            'path': str(store.path),
            'cached': self.ds.load().cached,
        }


def _first(batch: list[dict[str, object]]) -> dict[str, object]:
    return batch[0]


def _ask_two_workers(
    ds: BVMDataset, windows: list[object], context: str = 'fork'
) -> list[dict[str, object]]:
    """What two DataLoader workers report of the polygons they read with."""
    loader = DataLoader(
        _WhatTheWorkerHas(ds, windows),
        batch_size=1,
        num_workers=2,
        multiprocessing_context=context,
        collate_fn=_first,
    )
    return list(loader)


@pytest.mark.parametrize(
    'context', ['fork', pytest.param('spawn', marks=pytest.mark.slow)]
)
def test_workers_map_the_prepared_polygons(tmp_path: Path, context: str) -> None:
    path = write_bwkhab(synthetic_bwkhab(3000, seed=2), tmp_path / 'BwkHab.shp')
    ds = open_quietly(path, crs=L72, res=10.0, cache_dir=tmp_path / 'cache')
    unloaded = len(pickle.dumps(ds))
    ds.load()  # in the main process, as BVMDataModule does
    store = ds._polygons()
    # What a worker receives: the dataset without its polygons (a spawned
    # worker gets exactly these bytes; a forked one the same object).
    payload = pickle.dumps(ds)
    assert len(payload) <= unloaded + 1_000 < store.nbytes // 20
    assert not pickle.loads(payload).bvm.loaded
    windows = list(GriddedPatchSampler(ds, size=32))[:4]
    assert store.path is not None
    before = store.path.stat()
    seen = _ask_two_workers(ds, windows, context)
    assert os.getpid() not in {s['pid'] for s in seen}
    # Every worker maps the main process's file; none prepared its own (that
    # would have replaced the file).
    assert all(s['mapped'] for s in seen)
    assert {s['path'] for s in seen} == {str(store.path)}
    after = store.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    for s, window in zip(seen, windows, strict=True):
        assert torch.equal(s['mask'], ds[window]['mask'])


def test_workers_that_prepare_do_it_once(tmp_path: Path) -> None:
    # Without load() in the main process the workers race: one prepares, the
    # other waits for it and maps its file.
    path = write_bwkhab(synthetic_bwkhab(3000, seed=2), tmp_path / 'BwkHab.shp')
    ds = open_quietly(path, crs=L72, res=10.0, cache_dir=tmp_path / 'cache')
    windows = list(GriddedPatchSampler(ds, size=32))[:2]
    seen = _ask_two_workers(ds, windows)
    assert len({s['pid'] for s in seen}) == 2
    assert sorted(s['cached'] for s in seen) == [False, True]


def test_pickle_drops_loaded_polygons(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    ds.load()
    copy = pickle.loads(pickle.dumps(ds))
    assert not copy.bvm.loaded
    np.testing.assert_array_equal(copy[WINDOW]['mask'].numpy(), EXPECTED)


def test_plot(hand_shp: Path) -> None:
    ds = open_quietly(hand_shp, crs=L72, res=10.0)
    sample = ds[WINDOW]
    fig = ds.plot(sample, suptitle='hand')
    assert len(fig.axes) == 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [
        '1 Cultivated land', '2 Grasslands', '8 Small Non-woody Landscape Features',
        '10 Unknown', '12 Water bodies',
    ]  # fmt: skip
    assert fig.axes[0].get_title() == 'Mask'
    sample['prediction'] = torch.full_like(sample['mask'], 13)
    fig = ds.plot(sample, show_titles=False)
    assert len(fig.axes) == 2
    assert fig.axes[1].get_title() == ''
    assert '13 Woodland and shrub' in [t.get_text() for t in fig.legends[0].get_texts()]
