from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasterio.transform import from_origin

from tests.synth.flanders.reading import bvm_dataset, date_sample
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.spatial.crs import UTM31N
from torchgeo_bvm.synth.flanders.kinds import KIND
from torchgeo_bvm.synth.flanders.spectra import (
    CROP_SHARES,
    CROPS,
    ENDMEMBERS,
    MOWING,
    PHENOLOGY,
    REGROWTH_DAYS,
    SeasonTraits,
    draw_season_traits,
    draw_traits,
    meadow_green,
    mixed_spectra,
    polygon_spectra,
    season_fractions,
)
from torchgeo_bvm.synth.noise import seeded_rng


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


def test_a_mown_meadow_drops_then_grows_back() -> None:
    cuts = np.array([[150.0, 195.0, np.nan, np.nan], [np.nan] * 4])
    green = [meadow_green(cuts, doy) for doy in (149.0, 150.0, 157.0, 178.0, 190.0)]
    assert [g[0] for g in green] == pytest.approx([0.9, 0.4, 0.525, 0.9, 0.9])
    assert [g[1] for g in green] == [0.9] * 5  # grazed, never mown
    assert meadow_green(cuts, 200.0)[0] == pytest.approx(0.4 + 0.5 * 5 / REGROWTH_DAYS)


def test_season_traits_mow_from_may_to_october() -> None:
    kinds = np.full(4000, KIND['grass'], dtype=np.int64)
    traits = draw_traits(kinds, seed=2)
    season = draw_season_traits(traits, seed=2)
    assert season.cuts.shape == (4000, MOWING.most_cuts)
    counts = np.isfinite(season.cuts).sum(axis=1)
    assert set(np.unique(counts).tolist()) == {0, 1, 2, 3, 4}
    assert 0.15 < (counts == 0).mean() < 0.25  # only grazed
    days = season.cuts[np.isfinite(season.cuts)]
    assert days.min() >= MOWING.first[0]
    assert days.max() <= MOWING.last
    intervals = np.diff(season.cuts, axis=1)
    intervals = intervals[np.isfinite(intervals)]
    assert (
        MOWING.interval[0] <= intervals.min() <= intervals.max() <= MOWING.interval[1]
    )
    # Crops of the season's year have the shares of every year.
    shares = np.bincount(season.crops, minlength=len(CROPS)) / 4000
    np.testing.assert_allclose(shares, CROP_SHARES, atol=0.03)
    again = draw_season_traits(traits, seed=2)
    assert np.array_equal(again.crops, season.crops)
    np.testing.assert_array_equal(again.cuts, season.cuts)


def test_spring_crops_are_bare_until_may_and_green_in_summer() -> None:
    kinds = np.array([KIND['arable'], KIND['grass'], KIND['road']], dtype=np.int64)
    traits = draw_traits(kinds, seed=4)
    traits.weeds[:] = 0.0
    traits.shift[:] = 0.0
    season = SeasonTraits(
        crops=np.array([CROPS.index('maize')] * 3),
        cuts=np.full((3, MOWING.most_cuts), np.nan),
    )

    def ndvi(doy: float) -> np.ndarray:
        rng = seeded_rng(1)
        fractions = season_fractions(kinds, traits, season, doy, 0.3, rng)
        spectra = mixed_spectra(fractions, traits, rng)
        red, nir = (
            spectra[:, ALL_BANDS.index('B04')],
            spectra[:, ALL_BANDS.index('B08')],
        )
        return (nir - red) / (nir + red)

    winter, spring, summer = ndvi(20.0), ndvi(110.0), ndvi(215.0)
    assert winter[0] < 0.2
    assert spring[0] < 0.2
    assert summer[0] > 0.7
    assert min(winter[1], spring[1], summer[1]) > 0.55  # the meadow stays green
    assert abs(summer[0] - summer[1]) < 0.15  # alike in summer
    assert ndvi(300.0)[0] < 0.3  # harvested
