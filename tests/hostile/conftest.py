"""Fixtures of the hostile-input tests.

Each ``test_<family>.py`` module is one family of the error contract
(:mod:`torchgeo_bvm.errors`); ``tests/conftest.py`` tallies them per family.

The hostile files are variants of the session's tiny mini-Flanders
(``tests/conftest.py``), derived here once per run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from tests.conftest import built_once
from tests.hostile.hostile import copy_layer


@pytest.fixture(scope='session')
def hostile_data(
    mini_flanders: tuple[Path, dict[str, Any]],
    mini_labels: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A folder of hostile variants of the mini-Flanders files (read-only use).

    ``layers/<variant>/BwkHab.shp`` (and ``.gpkg``, ``.parquet``, ``.zip``),
    ``files/`` (empty, truncated, misnamed files), ``labels.tif`` and
    ``rasters/`` (rasters that are not label rasters). Built once per run and
    shared by every pytest-xdist worker (``built_once``): tests copy what they
    change, and those that run a command on it check that it stays untouched.
    """
    folder, manifest = mini_flanders
    bvm = folder / manifest['bvm']

    def build(root: Path) -> None:
        shutil.copy(mini_labels, root / 'labels.tif')
        _layers(bvm, root / 'layers')
        _files(bvm, mini_labels, root / 'files')
        _rasters(mini_labels, folder, root / 'rasters')

    return built_once(tmp_path_factory, 'hostile', build)[0]


def _write(frame: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(path, engine='pyogrio', **kwargs)


def _layers(bvm: Path, root: Path) -> None:
    frame = gpd.read_file(bvm, engine='pyogrio')
    lambert = frame.crs
    n = len(frame)
    copy_layer(bvm, root / 'good')
    # CRS: none, one that contradicts the coordinates, one far away.
    no_prj = copy_layer(bvm, root / 'no_prj')
    no_prj.with_suffix('.prj').unlink()
    _write(
        frame.set_crs('EPSG:4326', allow_override=True),
        root / 'prj_4326' / 'BwkHab.shp',
    )
    _write(
        frame.set_crs('EPSG:32631', allow_override=True),
        root / 'prj_utm' / 'BwkHab.shp',
    )
    _write(
        frame.set_geometry(frame.translate(2_000_000, 0)),
        root / 'outside' / 'BwkHab.shp',
    )
    # Geometries: null and empty mixed in, invalid (bow-ties), points, lines.
    mixed = frame.copy()
    mixed.loc[::7, 'geometry'] = None
    mixed.loc[1::7, 'geometry'] = shapely.Polygon()
    _write(mixed, root / 'null_empty' / 'BwkHab.shp', geometry_type='Polygon')
    bowtie = frame.copy()
    bowtie['geometry'] = [
        shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
        for x0, y0, x1, y1 in frame.geometry.bounds.to_numpy()
    ]
    _write(bowtie, root / 'bowtie' / 'BwkHab.shp')
    _write(frame.set_geometry(frame.centroid), root / 'points' / 'BwkHab.shp')
    _write(frame.set_geometry(frame.boundary), root / 'lines' / 'BwkHab.shp')
    empty = frame.copy()
    empty['geometry'] = [shapely.Polygon()] * n
    _write(empty, root / 'all_empty' / 'BwkHab.gpkg', layer='BwkHab')
    tiny = frame.copy()
    tiny['geometry'] = [
        shapely.box(x, y, x + 0.01, y + 0.01)
        for x, y in frame.centroid.get_coordinates().to_numpy()
    ]
    _write(tiny, root / 'specks' / 'BwkHab.shp')
    # Fields: missing, and label columns of every type.
    _write(frame.drop(columns=['EENH1']), root / 'no_eenh1' / 'BwkHab.shp')
    labels = frame.copy()
    labels['Label'] = (np.arange(n) % 14 + 1).astype('int32')
    labels['LabelF'] = labels['Label'].astype('float64') + 0.5
    labels['LabelT'] = labels['Label'].astype(str)
    labels['LabelX'] = (np.arange(n) % 3 + 50).astype('int32')
    _write(labels, root / 'labels' / 'BwkHab.shp')
    codes = frame.copy()
    codes['EENH1'] = 'xyz'
    _write(codes, root / 'unknown_codes' / 'BwkHab.shp')
    codes['EENH1'] = ''
    _write(codes, root / 'empty_codes' / 'BwkHab.shp')
    # Other formats of the good layer.
    _write(frame, root / 'gpkg' / 'BwkHab.gpkg', layer='BwkHab')
    _write(frame, root / 'two_layers' / 'bvm.gpkg', layer='one')
    _write(frame, root / 'two_layers' / 'bvm.gpkg', layer='two', mode='a')
    frame.to_parquet(root / 'parquet.parquet')
    shutil.make_archive(str(root / 'zipped'), 'zip', root / 'good', base_dir='.')
    assert frame.crs == lambert


def _files(bvm: Path, labels: Path, root: Path) -> None:
    root.mkdir(parents=True)
    (root / 'empty.shp').write_bytes(b'')
    (root / 'empty.tif').write_bytes(b'')
    for part in ('.shp', '.shx', '.dbf'):
        folder = root / f'truncated{part.replace(".", "_")}'
        shp = copy_layer(bvm, folder)
        damaged = shp.with_suffix(part)
        data = damaged.read_bytes()
        damaged.write_bytes(data[: len(data) // 2])
    data = labels.read_bytes()
    (root / 'half.tif').write_bytes(data[: len(data) // 2])
    (root / 'not_a_zip.zip').write_bytes(b'PK\x03\x04 this is no zip archive')
    (root / 'text.shp').write_text('not a shapefile\n')
    lone = root / 'lone_dbf'
    shutil.copy(bvm.with_suffix('.dbf'), (lone.mkdir(), lone / 'BwkHab.dbf')[1])
    no_shx = copy_layer(bvm, root / 'no_shx')
    no_shx.with_suffix('.shx').unlink()
    (root / 'folder.shp').mkdir()
    (root / 'folder.tif').mkdir()
    copy_layer(bvm, root / 'spaces and ünïcode', stem='Bwk Hab é')
    (root / 'scheme_text.json').write_text('{"1-2": "train", oops}')
    (root / 'scheme_list.json').write_text('["train"]')
    (root / 'scheme_binary.json').write_bytes(b'\xff\xfe\x00garbage')


def _rasters(labels: Path, folder: Path, root: Path) -> None:
    root.mkdir(parents=True)
    with rasterio.open(labels) as src:
        profile, data = src.profile, src.read(1)
    reflectance = next(folder.rglob('*TOC-B04_10M_*.tif'))
    shutil.copy(reflectance, root / 'reflectance.tif')
    for name, dtype, count in (
        ('int16.tif', 'int16', 1),
        ('two_bands.tif', 'uint8', 2),
    ):
        with rasterio.open(
            root / name, 'w', **{**profile, 'dtype': dtype, 'count': count}
        ) as dst:
            for band in range(1, count + 1):
                dst.write(data.astype(dtype), band)
    with rasterio.open(root / 'no_crs.tif', 'w', **{**profile, 'crs': None}) as dst:
        dst.write(data, 1)
    bad = data.copy()
    bad[0, 0] = 77
    with rasterio.open(root / 'value_77.tif', 'w', **profile) as dst:
        dst.write(bad, 1)
    nodata0 = {**profile, 'nodata': 0}
    with rasterio.open(root / 'nodata_0.tif', 'w', **nodata0) as dst:
        dst.write(data, 1)
    moved = {
        **profile,
        'transform': profile['transform'] @ rasterio.Affine.translation(-1e5, 0),
    }
    with rasterio.open(root / 'elsewhere.tif', 'w', **moved) as dst:
        dst.write(data, 1)
