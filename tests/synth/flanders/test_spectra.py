from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasterio.transform import from_origin

from tests.synth.flanders.reading import bvm_dataset, date_sample
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.crs import UTM31N
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.synth.flanders.kinds import KIND
from torchgeo_bvm.synth.flanders.spectra import (
    CROP_SHARES,
    CROPS,
    ENDMEMBERS,
    PHENOLOGY,
    draw_traits,
    polygon_spectra,
)


def test_seasons_change_arable_land(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    cols, rows = round((xmax - xmin) / 10), round((ymax - ymin) / 10)
    labels = bvm_dataset(out, UTM31N).rasterize(
        from_origin(xmin, ymax, 10, 10), cols, rows
    )

    def ndvi(day: str, name: str) -> float:
        sample = date_sample(out, manifest, day)
        red, nir = sample['image'].numpy()
        use = sample['valid'].numpy() & (labels == class_by_name(name).id)
        return float(((nir - red) / (nir + red))[use].mean())

    assert (
        ndvi('2020-07-27', 'Cultivated land')
        > ndvi('2020-04-18', 'Cultivated land') + 0.15
    )
    # Meadows stay green; in summer they are close to the crops.
    assert ndvi('2020-04-18', 'Grasslands') > 0.5
    assert (
        abs(ndvi('2020-07-27', 'Grasslands') - ndvi('2020-07-27', 'Cultivated land'))
        < 0.2
    )


def test_a_road_is_asphalt_and_verge_grass_in_its_brightness() -> None:
    kinds = np.array([KIND['road'], KIND['arable'], KIND['road']], dtype=np.int64)
    traits = draw_traits(kinds, seed=4)
    spectra = polygon_spectra(kinds, traits, 1, np.random.default_rng(8))
    assert spectra.shape == (3, len(ALL_BANDS))
    # The same draws: mowing, weeds, then each polygon's brightness on the day.
    rng = np.random.default_rng(8)
    rng.random(3)
    rng.dirichlet([1.0, 1.0, 1.0, 1.0], 3)
    brightness = traits.brightness * rng.lognormal(0, 0.03, 3)
    road = 0.85 * np.array(ENDMEMBERS['asphalt']) + 0.15 * np.array(ENDMEMBERS['grass'])
    np.testing.assert_allclose(spectra[0], road * brightness[0], rtol=1e-12)
    np.testing.assert_allclose(spectra[2], road * brightness[2], rtol=1e-12)


@pytest.mark.parametrize('crop', list(PHENOLOGY))
def test_every_crop_has_a_season(crop: str) -> None:
    days, green, residue = np.array(PHENOLOGY[crop]).T
    assert (np.diff(days) > 0).all()
    assert ((green >= 0) & (green <= 1) & (residue >= 0) & (residue <= 1)).all()
    assert green.max() >= 0.7
    assert crop in CROPS
    assert len(CROP_SHARES) == len(CROPS)
    assert sum(CROP_SHARES) == pytest.approx(1.0)
