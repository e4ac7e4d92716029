"""Sentinel-2: missing or disagreeing band files, bad dates, band names, SCL, nodata.

Variants of one Terrascope product of the mini-Flanders (and an openEO file
made from it) go through ``torchgeo-bvm stats --bands`` and
:class:`~torchgeo_bvm.datasets.Sentinel2TOC`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject

from tests.hostile.hostile import assert_refused, run_cli, snapshot, staging_left
from torchgeo_bvm.datasets import Sentinel2TOC
from torchgeo_bvm.datasets.bands import ALL_BANDS, openeo_acquisition_path
from torchgeo_bvm.errors import BVMError
from torchgeo_bvm.sheets.codes import Sheet


def _product(mini_flanders: tuple[Path, dict[str, Any]]) -> Path:
    folder, manifest = mini_flanders
    return folder / manifest['imagery']['products'][1]['path']


def _band(product: Path, band: str) -> Path:
    kind = 'SCENECLASSIFICATION' if band == 'SCL' else f'TOC-{band}'
    return next(product.glob(f'*_{kind}_*.tif'))


def _rewrite(path: Path, change: Callable[[np.ndarray, dict[str, Any]], None]) -> None:
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    change(data, profile)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)


def _smaller(data: np.ndarray, profile: dict[str, Any]) -> None:
    profile.update(width=profile['width'] // 2)


def _utm32(path: Path) -> None:
    with rasterio.open(path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, 'EPSG:32632', src.width, src.height, *src.bounds
        )
        profile = {**src.profile, 'crs': 'EPSG:32632', 'transform': transform,
                   'width': width, 'height': height}  # fmt: skip
        data = np.zeros((src.count, height, width), dtype=src.dtypes[0])
        reproject(src.read(), data, src_transform=src.transform, src_crs=src.crs,
                  dst_transform=transform, dst_crs='EPSG:32632',
                  resampling=Resampling.nearest)  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)


def _openeo_file(product: Path, target: Path, names: list[str | None]) -> None:
    """An openEO download of the product: its 10 m bands and SCL in one file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(_band(product, 'B04')) as src:
        profile = {**src.profile, 'count': len(names)}
    with rasterio.open(target, 'w', **profile) as dst:
        for i, band in enumerate(['B02', 'B03', 'B04', 'SCL'][: len(names)], start=1):
            with rasterio.open(_band(product, band)) as src:
                dst.write(
                    src.read(1, out_shape=(profile['height'], profile['width'])), i
                )
        dst.descriptions = tuple(names)


@pytest.fixture(scope='session')
def imagery(mini_flanders, tmp_path_factory) -> Path:
    """Damaged copies of one product (``<variant>/<product>``) and openEO files."""
    product = _product(mini_flanders)
    root = tmp_path_factory.mktemp('hostile-imagery')

    def variant(name: str, rename: str | None = None) -> Path:
        target = root / name / (rename or product.name)
        shutil.copytree(product, target)
        return target

    variant('good')
    _band(variant('missing_band'), 'B03').unlink()
    _band(variant('missing_scl'), 'SCL').unlink()
    _rewrite(_band(variant('smaller_band'), 'B04'), _smaller)
    _utm32(_band(variant('other_crs'), 'B08'))
    _band(variant('empty_band'), 'B02').write_bytes(b'')
    bad = variant('bad_date')
    for path in bad.iterdir():
        path.rename(path.with_name(path.name.replace('20200727T', '20201340T')))

    def scl_zero(data: np.ndarray, profile: dict[str, Any]) -> None:
        data[:] = 0

    _rewrite(_band(variant('scl_zero'), 'SCL'), scl_zero)
    nodata = variant('all_nodata')
    for band in ALL_BANDS:

        def empty(data: np.ndarray, profile: dict[str, Any]) -> None:
            data[:] = profile['nodata'] if profile['nodata'] is not None else 0

        _rewrite(_band(nodata, band), empty)
    sheet = Sheet.parse('22/7-8')
    for name, names in {
        'openeo_good': ['B02', 'B03', 'B04', 'SCL'],
        'openeo_twice': ['B02', 'B03', 'B03', 'SCL'],
        'openeo_unnamed': ['B02', None, 'B04', 'SCL'],
        'openeo_no_scl': ['B02', 'B03', 'B04'],
    }.items():
        _openeo_file(
            product, openeo_acquisition_path(root / name, sheet, '2020-07-27'), names
        )
    bad_name = openeo_acquisition_path(root / 'openeo_bad_date', sheet, '2020-07-27')
    _openeo_file(product, bad_name, ['B02', 'B03', 'B04', 'SCL'])
    bad_name.rename(
        bad_name.with_name(bad_name.name.replace('2020-07-27', '2020-13-45'))
    )
    (root / 'nothing').mkdir()
    (root / 'nothing' / 'readme.txt').write_text('no imagery here')
    return root


STATS = ('stats', '--crs', 'EPSG:32631', '--res', '10', '--sheets', '22')

REFUSED = [
    ('missing_band', 'all', ['has no file for band B03', 'TOC-B03_10M']),
    ('missing_scl', 'all', ['has no file for band SCL', 'SCENECLASSIFICATION']),
    ('smaller_band', 'all', ['TOC-B04_10M', 'covers', 'same tile']),
    ('other_crs', 'all', ['TOC-B08_10M', 'UTM zone 32N', 'shares its CRS']),
    ('empty_band', 'all', ['TOC-B02_10M', 'cannot be read as a GeoTIFF']),
    ('bad_date', 'all', ['20201340T104619', 'no sensing date']),
    ('scl_zero', 'all', ['no usable pixel']),
    ('all_nodata', 'all', ['no usable pixel']),
    ('openeo_twice', 'rgb', ['_openEO_2020-07-27Z.tif', 'band B03 is named by more than one']),
    ('openeo_unnamed', 'rgb', ['_openEO_2020-07-27Z.tif', 'band 2 has no name']),
    ('openeo_no_scl', 'rgb', ['_openEO_2020-07-27Z.tif', 'no SCL band']),
    ('openeo_good', 'all', ['_openEO_2020-07-27Z.tif', 'has no band B01']),
    ('openeo_bad_date', 'rgb', ['2020-13-45', 'is no date']),
    ('nothing', 'all', ['no Sentinel-2 imagery in', 'nothing']),
    ('absent', 'all', ['--sentinel2:', 'absent not found']),
]  # fmt: skip


@pytest.mark.parametrize(('variant', 'bands', 'words'), REFUSED)
def test_band_statistics_refuse_bad_imagery(
    imagery: Path, tmp_path: Path, capsys, variant: str, bands: str, words: list[str]
) -> None:
    before = snapshot(imagery)
    outcome = run_cli(
        capsys, *STATS, '--bands', bands, '--sentinel2', imagery / variant,
        '--out', tmp_path,
    )  # fmt: skip
    assert_refused(outcome, *words)
    assert snapshot(imagery) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ('variant', 'bands', 'words'),
    [c for c in REFUSED if c[0] not in ('scl_zero', 'all_nodata', 'nothing', 'absent')],
)
def test_dataset_refuses_the_same_imagery(
    imagery: Path, variant: str, bands: str, words: list[str]
) -> None:
    with pytest.raises(BVMError) as info:
        Sentinel2TOC(imagery / variant, bands=bands)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize('variant', ['good', 'openeo_good'])
def test_good_imagery_gives_statistics(
    imagery: Path, tmp_path: Path, capsys, variant: str
) -> None:
    outcome = run_cli(
        capsys, *STATS, '--bands', 'rgb', '--sentinel2', imagery / variant,
        '--out', tmp_path,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['band-stats.json']
    assert staging_left(tmp_path) == []
