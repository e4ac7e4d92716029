from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from tests.synth.flanders.reading import date_sample
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.synth.flanders import DATES, SEASON_DATES
from torchgeo_bvm.synth.flanders.weather import (
    MONTHLY_CLEAR,
    WEATHER,
    Sky,
    season_skies,
    season_weather,
    weather,
)
from torchgeo_bvm.synth.noise import Clouds, seeded_rng
from torchgeo_bvm.synth.sentinel2 import SCL_SPECTRA, TERRASCOPE_NODATA


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
    autumn = date_sample(out, manifest, '2020-10-05')
    valid = autumn['valid'].numpy()
    assert 0.3 < valid.mean() < 0.95


@pytest.mark.parametrize('date_index', range(len(DATES)))
def test_weather_clouds_a_surface_by_the_shared_rule(date_index: int) -> None:
    rows, cols = 60, 72
    surface = np.empty((len(ALL_BANDS), rows, cols), dtype=np.float32)
    surface[:] = np.array([SCL_SPECTRA[4][b] for b in ALL_BANDS])[:, None, None]
    reflectance, scl = weather(surface, date_index, seed=3)
    assert reflectance.shape == surface.shape
    assert reflectance.dtype == np.int16
    assert scl.shape == (rows, cols)
    assert scl.dtype == np.uint8
    today = WEATHER[date_index]
    clouds = Clouds.fractal(
        (rows, cols), seeded_rng(3, 30 + date_index), today.cloud, today.cirrus
    )
    outside = scl == 0
    assert outside.any() == today.nodata
    assert (reflectance[:, outside] == TERRASCOPE_NODATA).all()
    assert ((reflectance[:, ~outside] >= 1) & (reflectance[:, ~outside] <= 20000)).all()
    inside = ~outside
    assert np.array_equal((scl == 9)[inside], (clouds.opacity > 0.45)[inside])
    cloudy = (clouds.opacity > 0.12) & (clouds.opacity <= 0.45)
    assert np.array_equal((scl == 8)[inside], cloudy[inside])
    assert ((scl == 10) <= (clouds.cirrus > 0.25)).all()
    # The vegetated ground is vegetation (4) wherever no cloud, shadow or
    # cirrus lies, but for a few unclassified (7) and dark (2) pixels.
    clear = inside & np.isin(scl, [4, 5, 6, 7, 2])
    assert (scl[clear] != 5).all()
    assert np.isin(scl[clear], [4, 7]).mean() > 0.99
    # Where the sky is clear, the reflectance is the surface's.
    sky = (clouds.opacity == 0) & (clouds.shadow == 0) & (clouds.cirrus == 0)
    assert sky[inside].mean() > 0.5
    np.testing.assert_array_equal(
        reflectance[:, sky & inside], np.round(surface[:, sky & inside])
    )


def test_season_skies_give_each_month_its_mean_clear_share() -> None:
    months = [int(sensing[5:7]) for sensing, _ in SEASON_DATES]
    skies = season_skies(months, seed=0)
    assert len(skies) == 36
    assert season_skies(months, seed=0) == skies
    assert season_skies(months, seed=1) != skies
    for month in range(1, 13):
        mean = MONTHLY_CLEAR[month - 1]
        shares = sorted(
            s.clear for m, s in zip(months, skies, strict=True) if m == month
        )
        grey = (0.0, 1.0, 2.0)
        bright = (0.2, 0.8, 2.0)
        factors = grey if month in (1, 2, 3, 10, 11, 12) else bright
        assert shares == [round(f * mean, 4) for f in factors]
        assert sum(shares) / 3 == pytest.approx(mean, abs=1e-4)
    # One overcast date in each month from October to March, none else.
    overcast = [m for m, s in zip(months, skies, strict=True) if s.clear == 0]
    assert overcast == [1, 2, 3, 10, 11, 12]
    assert not any(s.cirrus for s in skies if s.clear == 0 or s.clear > 0.7)
    assert 3 <= sum(s.cirrus for s in skies) <= 12


def test_monthly_clear_is_cloudier_in_winter() -> None:
    assert len(MONTHLY_CLEAR) == 12
    winter = [MONTHLY_CLEAR[m - 1] for m in (11, 12, 1, 2)]
    summer = [MONTHLY_CLEAR[m - 1] for m in (5, 6, 7, 8)]
    assert max(winter) < min(summer)
    assert min(MONTHLY_CLEAR) == MONTHLY_CLEAR[11]  # December
    assert max(MONTHLY_CLEAR) == MONTHLY_CLEAR[7]  # August


def test_season_skies_need_three_dates_a_month() -> None:
    with pytest.raises(ValueError, match='month 4 has 2 dates, expected 3'):
        season_skies([4, 4], seed=0)


@pytest.mark.parametrize('sky', [Sky(0.3, cirrus=True), Sky(0.0, cirrus=False)])
def test_season_weather_clouds_whole_20_m_pixels(sky: Sky) -> None:
    rows, cols = 72, 96
    surface = np.empty((len(ALL_BANDS), rows, cols), dtype=np.float32)
    surface[:] = np.array([SCL_SPECTRA[4][b] for b in ALL_BANDS])[:, None, None]
    reflectance, scl = season_weather(surface, sky, seeded_rng(5))
    assert reflectance.shape == surface.shape
    assert scl.shape == (rows, cols)
    clouded = np.isin(scl, [3, 8, 9, 10])
    for dr in (0, 1):
        for dc in (0, 1):
            assert np.array_equal(clouded[dr::2, dc::2], clouded[::2, ::2])
    assert 1 - clouded.mean() == pytest.approx(sky.clear, abs=2 / (36 * 48))
    assert not (scl == 0).any()
