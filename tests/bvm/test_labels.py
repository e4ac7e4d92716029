import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS, Transformer
from shapely.geometry import box

from tests.datasets.test_bvm import EXPECTED, X0, Y0, write_hand_fixture
from tests.rasters import assert_class_palette, assert_valid_cog
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, BVMClass
from torchgeo_bvm.datasets.bvm import BVMDataset, BVMRaster
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.classraster import write_class_raster
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.bvm import bwkhab_frame, synthetic_bwkhab, write_bwkhab

N = IGNORE_INDEX


@pytest.fixture
def hand_shp(tmp_path: Path) -> Path:
    return write_hand_fixture(tmp_path / 'BwkHab.shp')


@pytest.fixture
def synthetic_shp(tmp_path: Path) -> Path:
    return write_bwkhab(
        synthetic_bwkhab(300, seed=5), tmp_path / 'synth' / 'BwkHab.shp'
    )


def _rasterize(*args: object, **kwargs: object) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return rasterize_bvm(*args, progress=False, **kwargs)  # type: ignore[arg-type]


def test_hand_fixture_raster_values_and_profile(hand_shp: Path, tmp_path: Path) -> None:
    out = _rasterize(hand_shp, tmp_path / 'labels.tif', crs='EPSG:31370', res=10)
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 31370
        assert src.transform == rasterio.transform.from_origin(X0, Y0 + 100, 10, 10)
        assert (src.width, src.height) == (17, 10)
        assert src.dtypes == ('uint8',)
        assert src.nodata == IGNORE_INDEX
        assert src.profile['tiled'] is True
        assert src.block_shapes == [(512, 512)]
        assert src.compression.name == 'deflate'
        assert src.descriptions == ('BVM class',)
        assert src.tags(ns='IMAGE_STRUCTURE').get('LAYOUT') == 'COG'
    # 14 entries, one per class: QGIS lists the classes and nothing else.
    assert_class_palette(out)
    with rasterio.open(out) as src:
        assert len(src.colormap(1)) == 14
        assert IGNORE_INDEX not in src.colormap(1)
    assert_valid_cog(out)
    with rasterio.open(out) as src:
        # The window is X0..X0+170: the hand-computed mask less its last column.
        np.testing.assert_array_equal(src.read(1), EXPECTED[:, :17])


def test_class_names_beside_the_raster(hand_shp: Path, tmp_path: Path) -> None:
    out = _rasterize(hand_shp, tmp_path / 'labels.tif', crs='EPSG:31370', res=10)
    aux = ET.parse(out.with_name('labels.tif.aux.xml')).getroot()
    band = aux.find('PAMRasterBand')
    assert band is not None
    assert [c.text for c in band.iter('Category')] == list(CLASS_NAMES)
    rows = [[f.text for f in row.iter('F')] for row in band.iter('Row')]
    assert rows[3] == ['3', 'Heathland', *map(str, CLASSES[3].rgb)]
    assert len(rows) == 14
    assert sorted(
        p.name
        for p in tmp_path.iterdir()
        if p.suffix != '.shp' and not p.name.startswith('BwkHab')
    ) == ['labels.tif', 'labels.tif.aux.xml']


def test_raster_and_dataset_masks_identical_in_4326(
    synthetic_shp: Path, tmp_path: Path
) -> None:
    out = _rasterize(synthetic_shp, tmp_path / 'labels.tif', block_size=512)
    raster = BVMRaster(out)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        vector = BVMDataset(synthetic_shp, crs=raster.crs, res=raster.res)
    assert raster.crs.to_epsg() == 4326
    xres, yres = raster.res
    with rasterio.open(out) as src:
        left, top = src.transform.c, src.transform.f
        width, height = src.width, src.height
    compared = 0
    for col, row in [(0, 0), (37, 11), (width - 64, height - 64), (100, 5)]:
        x, y = left + col * xres, top - row * yres
        index = (slice(x, x + 64 * xres, xres), slice(y - 64 * yres, y, yres))
        a, b = raster[index]['mask'], vector[index]['mask']
        assert a.shape == b.shape == (64, 64)
        assert a.dtype == b.dtype == np.int64 or a.dtype == b.dtype
        assert (a != N).sum() > 100
        assert np.array_equal(a.numpy(), b.numpy())
        compared += 1
    assert compared == 4


def test_like_uses_the_reference_grid(synthetic_shp: Path, tmp_path: Path) -> None:
    reference = tmp_path / 'S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tif'
    utm = Transformer.from_crs(31370, 32631, always_xy=True)
    x, y = utm.transform(22500.0, 153500.0)
    transform = rasterio.transform.from_origin(round(x) + 0.5, round(y) + 600, 10, 10)
    with rasterio.open(
        reference, 'w', driver='GTiff', width=77, height=53, count=1, dtype='int16',
        crs='EPSG:32631', transform=transform,
    ) as dst:  # fmt: skip
        dst.write(np.zeros((1, 53, 77), dtype=np.int16))
    out = _rasterize(synthetic_shp, tmp_path / 'labels.tif', like=reference)
    with rasterio.open(out) as src, rasterio.open(reference) as ref:
        assert src.crs == ref.crs
        assert src.transform == ref.transform
        assert (src.width, src.height) == (ref.width, ref.height)
        data = src.read(1)
    assert (data != N).mean() > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        vector = BVMDataset(synthetic_shp, crs=CRS.from_epsg(32631), res=10.0)
    left, top = transform.c, transform.f
    expected = vector[left : left + 770, top - 530 : top]['mask'].numpy()
    np.testing.assert_array_equal(data, expected)


def test_sheets_restrict_and_mask(hand_shp: Path, tmp_path: Path) -> None:
    sheet = Sheet.parse('14/5')
    out = _rasterize(
        hand_shp, tmp_path / 'sheet.tif', crs='EPSG:31370', res=10, sheets=['14/5']
    )
    with rasterio.open(out) as src:
        assert src.bounds == pytest.approx(sheet.bounds)
        data = src.read(1)
    assert data.shape == (1000, 800)
    assert (data != N).sum() == (EXPECTED[:, :17] != N).sum()


def test_sheets_mask_pixels_outside_the_sheet(tmp_path: Path) -> None:
    # A polygon across the border of sheets 14/5 and 14/6 (x = 106000): in
    # EPSG:4326 the grid is the sheet's bounding box, which reaches across the
    # border, so only the mask keeps the 14/6 half out.
    sheet = Sheet.parse('14/5')
    frame = bwkhab_frame([box(105_000, 200_000, 107_000, 201_000)], ['bl'])
    path = write_bwkhab(frame, tmp_path / 'BwkHab.shp')
    out = _rasterize(path, tmp_path / 'sheet.tif', sheets=[sheet])
    with rasterio.open(out) as src:
        data = src.read(1)
        rows, cols = np.nonzero(data != N)
        xs, ys = rasterio.transform.xy(src.transform, rows, cols)
        grid_east = src.bounds.right
    to_lambert = Transformer.from_crs(4326, 31370, always_xy=True)
    lx, ly = (np.asarray(v) for v in to_lambert.transform(xs, ys))
    assert to_lambert.transform(grid_east, ys[0])[0] > 106_000
    # Vertices are reprojected, edges are not densified: a 2 km straight edge in
    # EPSG:31370 bends by centimetres in EPSG:4326, hence the 1 m tolerance.
    assert lx.max() <= 106_000 + 1
    assert lx.min() >= 105_000 - 1
    assert lx.max() > 105_980  # labelled right up to the border
    assert (ly >= 200_000 - 1).all()
    assert (ly <= 201_000 + 1).all()


def test_write_class_raster_array_and_own_classes(tmp_path: Path) -> None:
    grid = Grid.from_bounds((0, 0, 30, 20), 'EPSG:32631', 10)
    data = np.array([[0, 1, N], [1, 0, 0]], dtype=np.uint8)
    classes = [BVMClass(0, 'land', '#00ff00'), BVMClass(1, 'sea', '#0000ff')]
    out = write_class_raster(
        tmp_path / 'pred.tif',
        data,
        grid,
        classes=classes,
        description='prediction',
        progress=False,
    )
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), data)
        assert src.colormap(1) == {0: (0, 255, 0, 255), 1: (0, 0, 255, 255)}
        assert src.descriptions == ('prediction',)
    assert_valid_cog(out)
    aux = ET.parse(tmp_path / 'pred.tif.aux.xml').getroot()
    assert [c.text for c in aux.iter('Category')] == ['land', 'sea']


def test_write_class_raster_bad_input_leaves_nothing(tmp_path: Path) -> None:
    grid = Grid.from_bounds((0, 0, 30, 20), 'EPSG:32631', 10)
    with pytest.raises(ValueError, match=r'shape \(3, 3\) for a grid of 2 x 3'):
        write_class_raster(tmp_path / 'a.tif', np.zeros((3, 3), np.uint8), grid)
    with pytest.raises(ValueError, match=r'block function returned shape \(1, 1\)'):
        write_class_raster(
            tmp_path / 'b.tif',
            lambda w: np.zeros((1, 1), np.uint8),
            grid,
            progress=False,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('name', ['labels.shp', 'labels.gpkg', 'labels'])
def test_a_geotiff_is_written_under_tif_only(tmp_path: Path, name: str) -> None:
    grid = Grid.from_bounds((0, 0, 30, 20), 'EPSG:32631', 10)
    with pytest.raises(ValueError, match=r'a GeoTIFF is written here; name it \.tif'):
        write_class_raster(tmp_path / name, np.zeros((2, 3), np.uint8), grid)
    # rasterize_bvm says so before it reads the layer.
    with pytest.raises(
        ValueError, match=r'the label raster is a GeoTIFF; name it \.tif'
    ):
        rasterize_bvm(tmp_path / 'missing.shp', tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_rasterize_bad_options(hand_shp: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='either like= or crs=/res='):
        _rasterize(hand_shp, tmp_path / 'x.tif', crs='EPSG:31370', like=hand_shp)
    with pytest.raises(FileNotFoundError, match='reference raster not found'):
        _rasterize(hand_shp, tmp_path / 'x.tif', like=tmp_path / 'missing.tif')
    with pytest.raises(ValueError, match='does not overlap the map'):
        _rasterize(hand_shp, tmp_path / 'x.tif', crs='EPSG:31370', res=10, sheets=['1'])
