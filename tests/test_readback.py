"""Written files read back whole: rasters, their overviews, vector layers."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.windows import Window

from torchgeo_bvm import readback
from torchgeo_bvm.readback import READ_BACK_SUFFIXES, read_back


def _raster(path: Path, bands: int = 3, size: int = 700, **options: object) -> Path:
    profile = {
        'driver': 'GTiff', 'width': size, 'height': size, 'count': bands,
        'dtype': 'uint16', 'crs': 'EPSG:32631', 'transform': Affine(10, 0, 0, 0, -10, 0),
        'tiled': True, 'blockxsize': 256, 'blockysize': 256, 'compress': 'deflate',
    }  # fmt: skip
    data = np.random.default_rng(0).integers(0, 10_000, (bands, size, size), 'uint16')
    with rasterio.open(path, 'w', **{**profile, **options}) as dst:
        dst.write(data)
    return path


def _layer(path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {'code': [f'c{i}' for i in range(3000)]},
        geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3000)],
        crs='EPSG:31370',
    )
    frame.to_file(path, engine='pyogrio')
    return path


def _cut(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_whole_files_read_back(tmp_path: Path) -> None:
    read_back(_raster(tmp_path / 'a.tif'))
    read_back(_layer(tmp_path / 'a.shp'))
    read_back(_layer(tmp_path / 'a.gpkg'))
    # Other formats are left alone (Python's own writes raise when they fail).
    (tmp_path / 'half.csv').write_text('a,b\n1')
    read_back(tmp_path / 'half.csv')
    read_back(tmp_path / 'missing.tif')
    assert READ_BACK_SUFFIXES == ('.tif', '.tiff', '.shp', '.gpkg', '.fgb')


def test_a_raster_cut_short_does_not_read_back(tmp_path: Path) -> None:
    path = _raster(tmp_path / 'a.tif')
    _cut(path)
    with pytest.raises(OSError, match=r'^it does not read back whole \(.*a\.tif'):
        read_back(path)


def test_a_raster_whose_overviews_are_cut_does_not_read_back(tmp_path: Path) -> None:
    # A COG keeps its overviews' tiles before the full resolution's; here the
    # full resolution survives and one overview tile is zeroed out of the file.
    path = _raster(tmp_path / 'a.tif')
    with rasterio.open(path, 'r+') as dst:
        dst.build_overviews([2, 4])
    with rasterio.open(path) as src:
        src.read()  # the full resolution reads
    with rasterio.open(path, overview_level=1) as src:
        offset = int(src.get_tag_item('BLOCK_OFFSET_0_0', 'TIFF', bidx=1))
        size = int(src.get_tag_item('BLOCK_SIZE_0_0', 'TIFF', bidx=1))
    data = bytearray(path.read_bytes())
    data[offset : offset + size] = b'\x00' * size  # no deflate stream any more
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match='it does not read back whole'):
        read_back(path)


@pytest.mark.parametrize(
    ('part', 'words'),
    [
        ('.shp', r'\.shp of \d+ bytes, its header says \d+'),
        ('.shx', r'\.shx of \d+ bytes, its header says \d+'),
        ('.dbf', 'DBF'),
    ],
)
def test_a_shapefile_cut_short_does_not_read_back(
    tmp_path: Path, part: str, words: str
) -> None:
    path = _layer(tmp_path / 'a.shp')
    _cut(path.with_suffix(part))
    with pytest.raises(OSError, match=words):
        read_back(path)


def test_a_geopackage_cut_short_does_not_read_back(tmp_path: Path) -> None:
    path = _layer(tmp_path / 'a.gpkg')
    _cut(path, 0.5)
    with pytest.raises(OSError, match='it does not read back whole'):
        read_back(path)


def test_large_rasters_are_read_in_bounded_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _raster(tmp_path / 'a.tif', bands=4)
    reads: list[tuple[int, int]] = []
    original = rasterio.io.DatasetReader.read

    def counted(self, *args, window=None, **kwargs):  # type: ignore[no-untyped-def]
        reads.append((window.height, window.width))
        return original(self, *args, window=window, **kwargs)

    monkeypatch.setattr(readback, 'WINDOW_BYTES', 4 * 256 * 256 * 2 * 2)
    monkeypatch.setattr(rasterio.io.DatasetReader, 'read', counted)
    read_back(path)
    # The last pixel (it ends the block tables), then two 256 x 256 blocks of
    # four uint16 bands per window, over 700 x 700.
    assert reads[0] == (1, 1)
    assert max(h * w for h, w in reads) <= 2 * 256 * 256
    assert sum(h * w for h, w in reads[1:]) == 700 * 700


def _sparse(path: Path) -> Path:
    """A Sentinel-2 tile's 10 m band that stores 1 of its 484 blocks (``SPARSE_OK``).

    As the synthetic archive writes its Terrascope products: 10,980 pixels
    square in blocks of 512, data in one corner, no block written where the
    data leave nodata; the tables of block offsets and sizes are most of the
    file.
    """
    profile = {
        'driver': 'GTiff', 'width': 10980, 'height': 10980, 'count': 1,
        'dtype': 'int16', 'crs': 'EPSG:32631',
        'transform': Affine(10, 0, 499980, 0, -10, 5700000),
        'tiled': True, 'blockxsize': 512, 'blockysize': 512, 'compress': 'deflate',
        'sparse_ok': True, 'nodata': 32767,
    }  # fmt: skip
    data = np.random.default_rng(0).integers(0, 10_000, (1, 40, 40), 'int16')
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data, window=Window(0, 0, 40, 40))
    return path


def test_a_sparse_raster_reads_only_the_blocks_it_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sparse(tmp_path / 'a.tif')
    with rasterio.open(path) as src:
        stored = [
            (row, column)
            for row in range(22)
            for column in range(22)
            if src.get_tag_item(f'BLOCK_SIZE_{column}_{row}', 'TIFF', bidx=1)
        ]
    assert stored == [(0, 0)]
    reads: list[tuple[int, int, int, int]] = []
    original = rasterio.io.DatasetReader.read

    def counted(self, *args, window=None, **kwargs):  # type: ignore[no-untyped-def]
        reads.append((window.row_off, window.col_off, window.height, window.width))
        return original(self, *args, window=window, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, 'read', counted)
    read_back(path)
    # The last pixel (it ends the block tables), then the one stored block.
    assert reads == [(10979, 10979, 1, 1), (0, 0, 512, 512)]


@pytest.mark.parametrize('keep', [0.02, 0.2, 0.5, 0.8, 0.98])
def test_a_sparse_raster_cut_short_does_not_read_back(
    tmp_path: Path, keep: float
) -> None:
    # The block tables (484 offsets, 484 sizes) are most of the file: a cut
    # there leaves GDAL knowing no block (and the file opens with a warning
    # that it has no georeferencing, which only the tests make an error), a
    # cut after them loses the stored one.
    path = _sparse(tmp_path / 'a.tif')
    _cut(path, keep)
    with (
        warnings.catch_warnings(action='ignore'),
        pytest.raises(OSError, match='it does not read back whole'),
    ):
        read_back(path)
