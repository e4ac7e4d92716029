"""Written files read back whole: rasters, their overviews, vector layers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

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
    # Two 256 x 256 blocks of four uint16 bands per window, over 700 x 700.
    assert max(h * w for h, w in reads) <= 2 * 256 * 256
    assert sum(h * w for h, w in reads) == 700 * 700
