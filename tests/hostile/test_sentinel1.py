"""Sentinel-1: damaged, misplaced or mislabelled sigma0 files, and bad arguments.

Variants of one radar product of the mini-Flanders (and a downloaded file made
from it) go through :class:`~torchgeo_bvm.datasets.Sentinel1Sigma0`: each is
refused in one line that names the file or the value, or, where the contract
says so, read with the bad pixels invalid.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio

from torchgeo_bvm.datasets import Sentinel1Sigma0
from torchgeo_bvm.datasets.radar import openeo_s1_acquisition_path
from torchgeo_bvm.errors import BVMError
from torchgeo_bvm.synth.sentinel1 import write_openeo_sigma0

Scene = tuple[Path, dict[str, Any]]


def _copy_product(mini_flanders: Scene, target: Path) -> tuple[Path, str]:
    folder, manifest = mini_flanders
    product = next(
        p for p in manifest['radar']['products'] if p['orbit'] == 'ascending'
    )
    copied = target / Path(product['path']).name
    shutil.copytree(folder / product['path'], copied)
    return copied, product['date']


def _rewrite(path: Path, change: Callable[[np.ndarray, dict[str, Any]], None]) -> None:
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    change(data, profile)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:3000])


def _smaller(path: Path) -> None:
    _rewrite(path, lambda data, profile: profile.update(width=profile['width'] // 2))


def _coarser(path: Path) -> None:
    def change(data: np.ndarray, profile: dict[str, Any]) -> None:
        a, b, c, d, e, f = tuple(profile['transform'])[:6]
        profile['transform'] = rasterio.Affine(2 * a, b, c, d, 2 * e, f)

    _rewrite(path, change)


def _other_crs(path: Path) -> None:
    _rewrite(path, lambda data, profile: profile.update(crs='EPSG:32632'))


def _read_a_day(root: Path, cache: Path, day: str) -> None:
    ds = Sentinel1Sigma0(root, cache_dir=cache)
    x, y, _ = ds.bounds
    ds[x, y, pd.Timestamp(day) : pd.Timestamp(day) + pd.Timedelta(hours=23)]


REFUSED = [
    ('VV', _truncate, ['_VV.tif', 'cannot be read as a GeoTIFF']),
    ('VH', _smaller, ['_VH.tif', 'band VH covers', 'same tile']),
    ('VV', _coarser, ['_VV.tif', 'band VV has pixels of 20 x 20', '10 m']),
    ('VH', _other_crs, ['_VH.tif', 'band VH is in', 'shares its CRS']),
]


@pytest.mark.parametrize(('band', 'damage', 'words'), REFUSED)
def test_a_damaged_product_is_refused_naming_the_file(
    mini_flanders: Scene,
    tmp_path: Path,
    band: str,
    damage: Callable[[Path], None],
    words: list[str],
) -> None:
    product, day = _copy_product(mini_flanders, tmp_path / 'archive')
    damage(product / f'{product.name}_{band}.tif')
    # Refused when indexing (headers disagree) or, for a file whose header
    # survived, when its pixels are read.
    with pytest.raises(BVMError) as raised:
        _read_a_day(tmp_path / 'archive', tmp_path / 'cache', day)
    message = str(raised.value)
    assert '\n' not in message
    for word in words:
        assert word in message, message


def test_a_missing_angle_is_refused_only_when_asked_for(
    mini_flanders: Scene, tmp_path: Path
) -> None:
    product, day = _copy_product(mini_flanders, tmp_path / 'archive')
    (product / f'{product.name}_angle.tif').unlink()
    ds = Sentinel1Sigma0(tmp_path / 'archive', cache_dir=tmp_path / 'cache')
    assert list(ds.index['period']) == [day]
    with pytest.raises(BVMError, match=r'has no file for band angle \(expected '):
        Sentinel1Sigma0(
            tmp_path / 'archive', cache_dir=tmp_path / 'cache', bands='VV,angle'
        )


def _download(mini_flanders: Scene, out: Path, names: tuple[str, ...]) -> Path:
    product, day = _copy_product(mini_flanders, out / 'source')
    with rasterio.open(product / f'{product.name}_VV.tif') as src:
        vv, bounds, crs = src.read(1), tuple(src.bounds), src.crs
    path = openeo_s1_acquisition_path(out / 'downloads', '22/1-2', 'ascending', day)
    write_openeo_sigma0(
        path, dict(zip(names, (vv, vv), strict=True)), bounds=bounds, crs=crs
    )
    return path


def test_a_download_with_bands_named_twice(
    mini_flanders: Scene, tmp_path: Path
) -> None:
    path = _download(mini_flanders, tmp_path, ('VV', 'vv '))
    with pytest.raises(BVMError) as raised:
        Sentinel1Sigma0(tmp_path / 'downloads', cache_dir=tmp_path / 'cache')
    message = str(raised.value)
    assert message.startswith(f'{path}: band VV is named by more than one band')


def test_a_download_without_vh(mini_flanders: Scene, tmp_path: Path) -> None:
    path = _download(mini_flanders, tmp_path, ('VV', 'HH'))
    with pytest.raises(BVMError) as raised:
        Sentinel1Sigma0(tmp_path / 'downloads', cache_dir=tmp_path / 'cache')
    assert str(raised.value) == f'{path}: has no band VH; its bands are VV, HH'


def test_negative_and_infinite_backscatter_is_no_data(
    mini_flanders: Scene, tmp_path: Path
) -> None:
    product, day = _copy_product(mini_flanders, tmp_path / 'archive')

    def spoil(data: np.ndarray, profile: dict[str, Any]) -> None:
        data[0, :3, :] = -0.01
        data[0, 3:5, :] = np.inf
        data[0, 5:7, :] = np.nan

    _rewrite(product / f'{product.name}_VV.tif', spoil)
    ds = Sentinel1Sigma0(
        tmp_path / 'archive', cache_dir=tmp_path / 'cache', decibels=True
    )
    x, y, _ = ds.bounds
    start = pd.Timestamp(day)
    sample = ds[x, y, start : start + pd.Timedelta(hours=23)]
    valid = sample['valid'].numpy()
    # Negative, infinite and NaN values are no backscatter.
    assert not valid[:7].any()
    assert np.isfinite(sample['image'].numpy()).all()
    assert valid[7:].all()


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        ({'orbit': 'sideways'}, "unknown orbit 'sideways'"),
        ({'bands': 'VV,VV'}, 'requested twice'),
        ({'bands': 'B04'}, "unknown Sentinel-1 band 'B04'"),
        ({'noise_floor_db': 'low'}, "noise_floor_db must be a number of dB, got 'low'"),
        ({'years': [2012]}, 'years must be between 2014 and 2100, got 2012'),
    ],
)
def test_bad_arguments(
    mini_flanders: Scene, arguments: dict[str, Any], message: str
) -> None:
    folder, manifest = mini_flanders
    with pytest.raises(BVMError) as raised:
        Sentinel1Sigma0(folder / manifest['radar']['products_root'], **arguments)
    assert message in str(raised.value)
    assert '\n' not in str(raised.value)
