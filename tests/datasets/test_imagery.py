"""The imagery core on its own: a second sensor, declared here only, is read.

``Quartet`` is not Sentinel-2 as the package knows it: four 10 m bands, a
validity layer it calls ``QA`` (the Terrascope scene classification in its
archive, a ``QA`` band in its downloads) judged by a rule of its own, and its
own download naming. It declares only class attributes and two small methods,
as ``docs/architecture.rst`` ("How to add a sensor") says a new sensor does;
everything else (discovery, the header cache, reads, merges, time series,
the pixel grid) comes from :class:`ImageryDataset`. The fixture files are
written by ``torchgeo_bvm.synth``.
"""

import re
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.typing import NDArray
from torchgeo.datasets import DatasetNotFoundError

from torchgeo_bvm.datasets import ImageryDataset, imagery_grid
from torchgeo_bvm.datasets.products import COMPOSITE, ArchiveNaming, DownloadNaming
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.synth.sentinel2 import write_openeo_file, write_terrascope_product

X0, Y0 = 500000.0, 5650020.0
SIZE = 240.0  # 24 x 24 pixels at 10 m
BOUNDS = (X0, Y0, X0 + SIZE, Y0 + SIZE)
BANDS = ('B02', 'B03', 'B04', 'B08')
DAY = pd.Timedelta(86_400_000_000 - 1, unit='us')
_DOWNLOAD = re.compile(r'^quartet_(?P<stamp>\d{4}-\d{2}(?:-\d{2})?)\.tif$')


def parse_download(name: str) -> tuple[str, str] | None:
    match = _DOWNLOAD.match(name)
    if match is None:
        return None
    stamp = match['stamp']
    return ('quartet-file' if len(stamp) == 10 else COMPOSITE), stamp


class VegetationOnly:
    """A validity rule of this sensor: class 4 is usable, nothing is dilated."""

    def margin(self, pixel_size_m: tuple[float, float]) -> tuple[int, int]:
        return (0, 0)

    def mask(
        self, scl: NDArray[np.uint8], pixel_size_m: tuple[float, float] = (10, 10)
    ) -> NDArray[np.bool_]:
        return np.asarray(scl == 4)


class Quartet(ImageryDataset):
    """Four 10 m bands and a QA layer, from the archive or downloads."""

    filename_regex = r"""
        ^(?P<product>S2[A-D]_(?P<date>\d{8}T\d{6})_\d{2}[A-Z]{3})
        _(?:TOC-(?P<band>B0[2348])|(?P<mask>SCENECLASSIFICATION))
        _\d{2}M_(?P<version>V\d{3})\.tif$
    """
    date_format = '%Y%m%dT%H%M%S'
    all_bands = BANDS
    rgb_bands = ('B04', 'B03', 'B02')
    sensor = 'Quartet'
    archive = ArchiveNaming(
        name='Quartet archive',
        layout='quartet-archive',
        product='{product}_TOC_{version}',
        band_file='{product}_TOC-{band}_{res}M_{version}.tif',
        mask_file='{product}_SCENECLASSIFICATION_{res}M_{version}.tif',
        grid_m=10.0,
    )
    download = DownloadNaming('quartet', parse_download)
    native_resolution: ClassVar[dict[str, int]] = {
        'B02': 10,
        'B03': 10,
        'B04': 10,
        'B08': 10,
        'QA': 20,
    }
    mask_band = 'QA'
    scale = 100.0
    first_year = 2017
    index_prefix = 'quartet'

    def __init__(self, paths: Path, **kwargs: object) -> None:
        kwargs.setdefault('mask_rule', VegetationOnly())
        super().__init__(paths, **kwargs)


def arrays(offset: int) -> dict[str, np.ndarray]:
    """Each band a different ramp: band * 1000 + offset + pixel number."""
    ramp = np.arange(24 * 24).reshape(24, 24)
    return {
        b: (k * 1000 + offset + ramp).astype(np.int16) for k, b in enumerate(BANDS, 1)
    }


def classes(seed: int) -> np.ndarray:
    """The QA classes at 20 m: vegetation (4) or cloud (9), at random."""
    return np.where(np.random.default_rng(seed).random((12, 12)) < 0.7, 4, 9).astype(
        np.uint8
    )


def archive_product(root: Path, day: str, offset: int) -> None:
    write_terrascope_product(
        root,
        sensing=f'{day}T10:46:19',
        bounds=BOUNDS,
        reflectance=arrays(offset),
        scl=classes(offset),
    )


def download(root: Path, stamp: str, offset: int, qa: bool = True) -> Path:
    bands = dict(arrays(offset))
    if qa:
        bands['QA'] = np.kron(classes(offset), np.ones((2, 2), dtype=np.uint8))
    return write_openeo_file(
        root / f'quartet_{stamp}.tif', bands, bounds=BOUNDS, crs=32631
    )


def at(day: str) -> slice:
    start = pd.Timestamp(day)
    return slice(start, start + DAY)


def window() -> tuple[slice, slice]:
    return slice(X0, X0 + SIZE), slice(Y0, Y0 + SIZE)


def expected_valid(offset: int) -> np.ndarray:
    return np.kron(classes(offset) == 4, np.ones((2, 2), dtype=bool))


def test_a_sensor_declared_elsewhere_reads_its_archive(tmp_path: Path) -> None:
    archive_product(tmp_path / 'archive', '2021-05-03', 0)
    ds = Quartet(tmp_path / 'archive', cache_dir=tmp_path / 'cache', bands='B08,b02')
    assert ds.bands == ('B08', 'B02')
    assert list(ds.index['layout']) == ['quartet-archive']
    assert ds.res == (10.0, 10.0)
    sample = ds[*window(), at('2021-05-03')]
    assert sample['image'].shape == (2, 24, 24)
    np.testing.assert_array_equal(sample['image'][0].numpy(), arrays(0)['B08'])
    np.testing.assert_array_equal(sample['image'][1].numpy(), arrays(0)['B02'])
    # The sensor's own rule judged its validity layer (read at 20 m, nearest).
    np.testing.assert_array_equal(sample['valid'].numpy(), expected_valid(0))
    # Its header cache is its own.
    cached = [p.name.split('-index-')[0] for p in (tmp_path / 'cache').iterdir()]
    assert cached == ['quartet']


def test_a_sensor_declared_elsewhere_reads_its_downloads(tmp_path: Path) -> None:
    download(tmp_path, '2021-05-03', 0)
    ds = Quartet(tmp_path, cache_dir=tmp_path / 'cache')
    assert list(ds.index['layout']) == ['quartet-file']
    sample = ds[*window(), at('2021-05-03')]
    for k, band in enumerate(BANDS):
        np.testing.assert_array_equal(sample['image'][k].numpy(), arrays(0)[band])
    np.testing.assert_array_equal(sample['valid'].numpy(), expected_valid(0))
    # Without its rule, the QA band is not needed, and every pixel with data counts.
    plain = Quartet(tmp_path, cache_dir=tmp_path / 'cache', mask_rule=None)
    assert plain[*window(), at('2021-05-03')]['valid'].all()


def test_a_time_series_of_a_sensor_declared_elsewhere(tmp_path: Path) -> None:
    days = {'2021-04-02': 0, '2021-04-20': 100, '2021-06-11': 200}
    for day, offset in days.items():
        archive_product(tmp_path / 'archive', day, offset)
    download(tmp_path / 'downloads', '2021-05', 300, qa=False)  # a composite month
    roots = [tmp_path / 'archive', tmp_path / 'downloads']
    single = Quartet(roots, cache_dir=tmp_path / 'cache')
    dates = Quartet(
        roots,
        cache_dir=tmp_path / 'cache',
        time_series=True,
        temporal='dates',
        max_dates=5,
    )
    sample = dates[*window(), calendar_year(2021)]
    # Every acquisition in order, padded to five steps; the composite is no date.
    assert sample['image'].shape == (5, 4, 24, 24)
    assert int(sample['length']) == 3
    assert [int(d) for d in sample['dates']] == [
        *(int((pd.Timestamp(d) - pd.Timestamp('1970-01-01')).days) for d in days),
        -1,
        -1,
    ]
    for step, day in enumerate(days):
        alone = single[*window(), at(day)]
        assert torch.equal(sample['image'][step], alone['image'])
        assert torch.equal(sample['valid'][step], alone['valid'])
    assert (sample['image'][3:] == 0).all()
    assert not sample['valid'][3:].any()

    monthly = Quartet(
        roots, cache_dir=tmp_path / 'cache', time_series=True, months=[4, 5, 6]
    )
    months = monthly[*window(), calendar_year(2021)]
    assert months['image'].shape == (3, 4, 24, 24)
    # May is the composite as it is; June the one date of June.
    for k, band in enumerate(BANDS):
        np.testing.assert_array_equal(months['image'][1, k].numpy(), arrays(300)[band])
    assert months['valid'][1].all()
    june = single[*window(), at('2021-06-11')]
    assert torch.equal(months['valid'][2], june['valid'])
    assert torch.equal(months['image'][2], torch.where(june['valid'], june['image'], 0))
    # April is the per-pixel median of its two dates' pixels clear by the rule.
    april = np.stack(
        [single[*window(), at(d)]['image'].numpy() for d in list(days)[:2]]
    )
    clear = np.stack([expected_valid(days[d]) for d in list(days)[:2]])
    stack = np.where(clear[:, None], april, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN pixels
        median = np.rint(np.nanmedian(stack, axis=0))
    seen = clear.any(axis=0)
    np.testing.assert_array_equal(months['image'][0].numpy()[:, seen], median[:, seen])
    np.testing.assert_array_equal(months['valid'][0].numpy(), seen)


def test_the_sensor_names_itself_in_messages(tmp_path: Path) -> None:
    archive_product(tmp_path, '2021-05-03', 0)
    with pytest.raises(BVMValueError, match=r'^no Quartet date in years \[2022\]'):
        Quartet(tmp_path, cache_dir=tmp_path / 'cache', years=[2022])
    with pytest.raises(
        BVMValueError, match=r'^years must be between 2017 and 2100, got 2016$'
    ):
        Quartet(tmp_path, cache_dir=tmp_path / 'cache', years=[2016])
    with pytest.raises(BVMValueError, match=r"bands \['B05'\]: expected distinct"):
        Quartet(tmp_path, cache_dir=tmp_path / 'cache', bands=['B05'])
    series = Quartet(tmp_path, cache_dir=tmp_path / 'cache', time_series=True)
    with pytest.raises(
        BVMValueError,
        match=r'^no Quartet acquisition in the period 2020-01-01\.\.2020-12-31',
    ):
        series[*window(), calendar_year(2020)]
    band = next(tmp_path.rglob('*_TOC-B03_10M_V210.tif'))
    band.rename(band.with_suffix('.old'))
    with pytest.raises(
        FileNotFoundError,
        match=r'^Quartet archive product .*_TOC_V210 has no file for band B03 '
        r'\(expected S2B_20210503T104619_31UDS_TOC-B03_10M_V210\.tif in ',
    ):
        Quartet(tmp_path, cache_dir=tmp_path / 'cache')
    missing = tmp_path / 'downloads'
    download(missing, '2021-05-04', 0, qa=False)
    with pytest.raises(
        BVMValueError, match=r'quartet_2021-05-04\.tif: has no QA band \(bands: B02,'
    ):
        Quartet(missing, cache_dir=tmp_path / 'cache')


def test_windows_snap_to_the_sensors_own_grid(tmp_path: Path) -> None:
    archive_product(tmp_path, '2021-05-03', 0)
    native = Quartet(tmp_path, cache_dir=tmp_path / 'cache')
    grid = imagery_grid(native)
    assert grid == native.native_grid
    assert (grid.left, grid.top, grid.xres, grid.yres) == (X0, Y0 + SIZE, 10.0, 10.0)
    warped = Quartet(tmp_path, cache_dir=tmp_path / 'cache', crs='EPSG:31370')
    xmin, _, _, ymax = warped.index.total_bounds
    assert (warped.native_grid.left, warped.native_grid.top) == (xmin, ymax)


class QuartetDownloads(Quartet):
    """The same sensor, known only through its downloads."""

    archive = None


class QuartetNothing(QuartetDownloads):
    """The same sensor, with neither layout."""

    download = None


def test_a_sensor_without_an_archive_reads_only_its_downloads(tmp_path: Path) -> None:
    archive_product(tmp_path, '2021-05-03', 0)
    download(tmp_path / 'downloads', '2021-05-04', 100)
    ds = QuartetDownloads(tmp_path, cache_dir=tmp_path / 'cache')
    assert list(ds.index['period']) == ['2021-05-04']
    # Without downloads either, nothing is found.
    with pytest.raises(DatasetNotFoundError):
        QuartetNothing(tmp_path, cache_dir=tmp_path / 'cache')
    # The core is no sensor.
    with pytest.raises(TypeError, match=r'^ImageryDataset declares no bands: '):
        ImageryDataset(tmp_path, cache_dir=tmp_path / 'cache')


class QuartetMeans(Quartet):
    """The same sensor with a month reduced by its mean and a band's floor."""

    month_reducer = 'mean'

    def __init__(self, paths: Path, **kwargs: object) -> None:
        kwargs.setdefault('floors', {'B08': 4050.0})
        kwargs.setdefault('mask_rule', None)
        super().__init__(paths, **kwargs)

    def source_bands(self) -> tuple[str, ...]:
        return ('B02', 'B08')

    def derive(self, image: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # One band: their difference, 0 where invalid.
        difference = image[..., 1, :, :] - image[..., 0, :, :]
        return np.where(valid, difference, 0.0)[..., None, :, :].astype(np.float32)


def test_a_sensor_derives_bands_floors_values_and_takes_monthly_means(
    tmp_path: Path,
) -> None:
    for day, offset in {'2021-04-02': 0, '2021-04-20': 100}.items():
        archive_product(tmp_path, day, offset)
    ds = QuartetMeans(tmp_path, cache_dir=tmp_path / 'cache', time_series=True)
    sample = ds[*window(), calendar_year(2021)]
    assert sample['image'].shape == (12, 1, 24, 24)
    b02 = [arrays(o)['B02'].astype(np.float64) for o in (0, 100)]
    b08 = [arrays(o)['B08'].astype(np.float64) for o in (0, 100)]
    # B08 at or below 4050 is no data: pixel numbers up to 50 on the first
    # date; a month is the mean of what is left (the second date there).
    kept = [b > 4050 for b in b08]
    assert not kept[0][0, :51].any()
    assert kept[1].all()
    count = kept[0].astype(int) + kept[1]
    total = sum(np.where(k, b, 0) for k, b in zip(kept, b08, strict=True))
    # B02 has data on both dates (no floor): its mean is over both.
    mean_b02 = (b02[0] + b02[1]) / 2
    april = sample['image'][3, 0].numpy()
    np.testing.assert_allclose(april, total / count - mean_b02, rtol=1e-6)
    assert sample['valid'][3].all()
    # Months without a date: invalid, and 0 in the derived band.
    assert not sample['valid'][0].any()
    assert (sample['image'][0] == 0).all()
