"""The radar season of the tiny mini-Flanders: passes, files, backscatter, speckle."""

import itertools
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import rasterio
from matplotlib.image import imread
from pyproj import CRS

from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.datasets import Sentinel1Sigma0
from torchgeo_bvm.datasets.radar import to_db
from torchgeo_bvm.datasets.series import calendar_year, day_number
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.synth.flanders import write_mini_flanders
from torchgeo_bvm.synth.flanders.backscatter import (
    flooded_share,
    moisture_db,
    tillage_db,
)
from torchgeo_bvm.synth.flanders.overview import plot_radar
from torchgeo_bvm.synth.flanders.radar import ENL, PASSES, RADAR_DATES, radar_dates
from torchgeo_bvm.synth.flanders.spectra import CROPS
from torchgeo_bvm.synth.flanders.weather import (
    DULL_YEAR_SUNSHINE,
    MONTHLY_CLEAR,
    season_skies,
)

Scene = tuple[Path, dict[str, Any]]
PRODUCT = re.compile(
    r'^S1A_IW_GRDH_SIGMA0_DV_2022\d{4}T(173253|055845)_(ASCENDING_161|DESCENDING_110)'
    r'_[0-9A-F]{4}_V110$'
)


def test_the_passes_of_2022() -> None:
    assert radar_dates(2022) == RADAR_DATES
    ascending = [datetime.fromisoformat(s) for s, o in RADAR_DATES if o == 'ascending']
    descending = [
        datetime.fromisoformat(s) for s, o in RADAR_DATES if o == 'descending'
    ]
    assert (len(ascending), len(descending)) == (30, 31)
    for passes in (ascending, descending):
        assert {b - a for a, b in itertools.pairwise(passes)} == {timedelta(days=12)}
        assert passes[0] - timedelta(days=12) < datetime(2022, 1, 1)
        assert passes[-1] + timedelta(days=12) >= datetime(2023, 1, 1)
    # The real pass of VITO's public test product is one of them.
    assert ('2022-09-13T05:58:45', 'descending') in RADAR_DATES
    assert {d.strftime('%H:%M:%S') for d in ascending} == {'17:32:53'}
    assert PASSES['ascending'][0] == 161


def test_the_products_in_the_real_layout(mini_flanders: Scene) -> None:
    out, manifest = mini_flanders
    radar = manifest['radar']
    assert radar['products_root'] == 'radar/CGS_S1_GRD_SIGMA0_L1'
    assert [(p['sensing'], p['orbit']) for p in radar['products']] == list(RADAR_DATES)
    bounds = manifest['imagery']['bounds']
    for product in radar['products'][:3]:
        folder = out / product['path']
        stamp = pd.Timestamp(product['sensing'])
        assert folder.parent == out / radar['products_root'] / f'{stamp:%Y/%m/%d}'
        assert PRODUCT.match(folder.name), folder.name
        for band in ('VV', 'VH', 'angle'):
            with rasterio.open(folder / f'{folder.name}_{band}.tif') as src:
                assert CRS.from_user_input(src.crs) == CRS.from_epsg(32631)
                assert src.res == (10.0, 10.0)
                assert list(src.bounds) == pytest.approx(bounds)
                assert src.dtypes[0] == ('uint16' if band == 'angle' else 'float32')
    assert len(radar['composites']) == 4 * 12
    assert {c['orbit'] for c in radar['composites']} == {'ascending'}


def test_a_year_of_radar_reads_as_twelve_months(mini_flanders: Scene) -> None:
    out, manifest = mini_flanders
    xmin, ymin, _, _ = manifest['imagery']['bounds']
    window = (slice(xmin + 400, xmin + 1040), slice(ymin + 400, ymin + 1040))
    products = Sentinel1Sigma0(
        out / manifest['radar']['products_root'], time_series=True
    )
    sample = products[*window, calendar_year(2022)]
    assert sample['image'].shape == (12, 2, 64, 64)
    assert [int(d) for d in sample['dates']] == [
        day_number(pd.Timestamp(2022, m, 1)) for m in range(1, 13)
    ]
    # Clouds do not exist for radar: every month, every pixel.
    assert sample['valid'].all()
    # The downloader's monthly means are what the products give.
    composites = Sentinel1Sigma0(
        out / manifest['radar']['composites_root'], time_series=True
    )
    means = composites[*window, calendar_year(2022)]
    np.testing.assert_allclose(
        means['image'].numpy(), sample['image'].numpy(), rtol=1e-6
    )


@pytest.fixture(scope='module')
def months_db(mini_flanders: Scene) -> np.ndarray:
    """The ascending monthly means over the whole region in dB: (12, 2, H, W)."""
    out, manifest = mini_flanders
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    ds = Sentinel1Sigma0(
        out / manifest['radar']['products_root'], time_series=True, decibels=True
    )
    return ds[xmin:xmax, ymin:ymax, calendar_year(2022)]['image'].numpy()


@pytest.fixture(scope='module')
def classes(mini_labels: Path, mini_flanders: Scene) -> np.ndarray:
    _, manifest = mini_flanders
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    with rasterio.open(mini_labels) as src:
        window = src.window(xmin, ymin, xmax, ymax).round_offsets().round_lengths()
        return src.read(1, window=window, boundless=True, fill_value=255)


def median(months_db: np.ndarray, classes: np.ndarray, name: str) -> np.ndarray:
    """(12, 2): the median of a class's pixels, month by month."""
    pixels = classes == class_by_name(name).id
    assert pixels.sum() > 50
    return np.median(months_db[:, :, pixels], axis=-1)


def test_backscatter_depends_on_the_class_and_the_season(
    months_db: np.ndarray, classes: np.ndarray
) -> None:
    water = median(months_db, classes, 'Water bodies')
    urban = median(months_db, classes, 'Urban areas')
    grass = median(months_db, classes, 'Grasslands')
    arable = median(months_db, classes, 'Cultivated land')
    woods = median(months_db, classes, 'Woodland and shrub')
    # Water is dark (streams and ponds mix with their banks), towns bright,
    # woods above meadows, every month.
    assert (water[:, 0] < grass[:, 0] - 2).all()
    assert (water[:, 1] < -21).all()
    assert (urban[:, 0] > grass[:, 0] + 3).all()
    assert (woods[:, 1] > grass[:, 1] + 2).all()
    # Fields: a harrowed seedbed in April, a crop canopy in July (VH).
    assert arable[6, 1] > arable[3, 1] + 2
    # Meadows: mown and dry in summer, wetter and greener in winter (VH).
    assert grass[0, 1] > grass[7, 1] + 1


def test_marshes_flood_in_winter(months_db: np.ndarray, classes: np.ndarray) -> None:
    marsh = median(months_db, classes, 'Inland marshes')
    # Water under the reed in January: VH drops, VV less (double bounce).
    assert marsh[6, 1] > marsh[0, 1] + 3
    ratio = marsh[:, 0] - marsh[:, 1]
    assert ratio[0] > ratio[6] + 3


def test_speckle_and_the_two_geometries(mini_flanders: Scene) -> None:
    out, manifest = mini_flanders
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    both = Sentinel1Sigma0(
        out / manifest['radar']['products_root'], orbit='both', bands='VV'
    )
    evening, morning = (pd.Timestamp(s) for s in ('2022-07-06', '2022-07-03'))
    day = pd.Timedelta(hours=23)
    images = [
        both[xmin:xmax, ymin:ymax, t : t + day]['image'][0].numpy()
        for t in (evening, morning)
    ]
    # Speckle: two passes of one scene differ pixel by pixel (in dB) with the
    # spread of two independent gammas of ENL looks: the variance of a
    # gamma's logarithm is the trigamma function of its shape.
    trigamma = sum(1 / (ENL + k) ** 2 for k in range(100_000))
    expected = 10 / np.log(10) * np.sqrt(2 * trigamma)
    difference = to_db(images[0]) - to_db(images[1])
    spread = np.std(difference - np.median(difference))
    assert expected * 0.9 < spread < expected * 1.2
    # Geometry: ascending looks east (the angle, and the darkening, grow
    # eastwards), descending west: their ratio trends across the scene.
    column_db = to_db(np.median(images[0], 0)) - to_db(np.median(images[1], 0))
    west, east = column_db[:40].mean(), column_db[-40:].mean()
    assert east < west
    # The incidence angle band of each.
    angles = Sentinel1Sigma0(
        out / manifest['radar']['products_root'], orbit='both', bands='angle'
    )
    a = angles[xmin:xmax, ymin:ymax, evening : evening + day]['image'][0].numpy()
    d = angles[xmin:xmax, ymin:ymax, morning : morning + day]['image'][0].numpy()
    assert a[:, -1].mean() > a[:, 0].mean()
    assert d[:, 0].mean() > d[:, -1].mean()
    assert abs(a.mean() - PASSES['ascending'][2]) < 0.05
    assert abs(d.mean() - PASSES['descending'][2]) < 0.05


def test_the_model_s_seasons() -> None:
    assert moisture_db(15) == pytest.approx(1.5)
    assert moisture_db(197.5) == pytest.approx(-1.5)
    assert flooded_share(30) == 0.7
    assert flooded_share(200) == pytest.approx(0.1)
    crops = np.array([CROPS.index('maize'), CROPS.index('winter_cereal')])
    np.testing.assert_array_equal(tillage_db(crops, 20), [[3, 2], [0, 0]])
    np.testing.assert_array_equal(tillage_db(crops, 120), [[-2, -1.5], [0, 0]])
    np.testing.assert_array_equal(tillage_db(crops, 295), [[0, 0], [-1.5, -1]])


def test_a_very_cloudy_year() -> None:
    months = [m for m in range(1, 13) for _ in range(3)]
    normal = season_skies(months, 0)
    dull = season_skies(months, 0, DULL_YEAR_SUNSHINE)
    for month in range(1, 13):
        skies = [s.clear for s, m in zip(dull, months, strict=True) if m == month]
        expected = MONTHLY_CLEAR[month - 1] * DULL_YEAR_SUNSHINE
        assert np.mean(skies) == pytest.approx(expected, abs=1e-3)
        # Every month is grey: one overcast date.
        assert min(skies) == 0
    assert np.mean([s.clear for s in dull]) < 0.6 * np.mean([s.clear for s in normal])
    with pytest.raises(BVMValueError, match=r'^sunshine must lie in \(0, 1\.13\]'):
        season_skies(months, 0, 1.5)


def test_sunshine_needs_the_season(tmp_path: Path) -> None:
    with pytest.raises(BVMValueError, match=r'pass season=True \(--season\) too'):
        write_mini_flanders(tmp_path / 'x', 'tiny', sunshine=DULL_YEAR_SUNSHINE)
    assert not (tmp_path / 'x').exists()


def test_the_radar_overview(tmp_path: Path) -> None:
    figures = plt.get_fignums()
    means = [np.full((2, 20, 30), 0.05, np.float32) for _ in range(12)]
    days = [datetime(2022, m, 5) for m in range(1, 13)]
    path = tmp_path / 'overview.png'
    plot_radar(path, means, days, {'meadows': [-17.0 + m / 10 for m in range(12)]})
    image = imread(path)
    assert image.shape[1] == round(2.6 * 6 * 80)
    assert plt.get_fignums() == figures
    # -13 dB in VV and VH: red (-13 + 20) / 20, green (-13 + 27) / 20, blue
    # (VV/VH 0 dB, below 3) 0; the course in its colour.
    for colour in ((0.35, 0.7, 0.0), 'tab:orange'):
        rgb = np.array(matplotlib.colors.to_rgb(colour))
        assert (np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).sum() > 100
