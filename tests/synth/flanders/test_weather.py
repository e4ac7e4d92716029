from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from tests.synth.flanders.reading import date_sample
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.synth.flanders import DATES
from torchgeo_bvm.synth.flanders.weather import WEATHER, weather
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
