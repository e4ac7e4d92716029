from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.image import imread
from shapely.geometry import box

from tests.synth.flanders.reading import TINY
from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.synth.flanders.overview import plot_overview, plot_season


def test_overview_draws_on_its_own_figure(tmp_path: Path) -> None:
    backend = matplotlib.get_backend()
    figures = plt.get_fignums()
    classes = np.full(TINY.pixels, IGNORE_INDEX, dtype=np.uint8)
    classes[:100] = CLASSES[1].id
    reflectance = np.full((len(ALL_BANDS), 30, 40), 1000, dtype=np.int16)
    path = tmp_path / 'overview.png'
    plot_overview(
        path,
        TINY,
        classes=classes,
        flanders=box(*TINY.bounds).buffer(-100),
        reflectance=reflectance,
        bounds=(550_000.0, 5_650_000.0, 550_400.0, 5_650_300.0),
        date='2020-07-27',
    )
    image = imread(path)
    # 14 x 5.2 inches at 110 dpi, cut to what is drawn.
    assert image.shape == (527, 1568, 4)
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == figures
    assert [p.name for p in tmp_path.iterdir()] == ['overview.png']
    # The true-colour panel: B04, B03, B02 at 1000 of 2000 are mid grey.
    grey = np.all(np.abs(image[..., :3] - 0.5) < 0.01, axis=-1)
    assert grey[:, 770:].sum() > 10_000


def test_season_plot_draws_composites_and_profiles(tmp_path: Path) -> None:
    figures = plt.get_fignums()
    months = [f'2022-{m:02d}' for m in range(1, 13)]
    pictures = [np.full((20, 30, 3), m / 12) for m in range(1, 13)]
    pictures[0][:, :10] = np.nan  # no clear observation: white
    ndvi = np.linspace(0.2, 0.8, 12)
    profiles = {
        'crops': np.stack([ndvi - 0.1, ndvi, ndvi + 0.1], axis=1),
        'meadows': np.full((12, 3), 0.6),
    }
    path = tmp_path / 'season.png'
    plot_season(path, months, pictures, profiles)
    image = imread(path)
    assert image.shape[1] == round(2.6 * 6 * 80)
    assert 350 < image.shape[0] < 600
    assert plt.get_fignums() == figures
    # The two profiles in their colours; the pictures' grey levels.
    for colour in ('tab:orange', 'tab:green', (6 / 12,) * 3):
        rgb = np.array(matplotlib.colors.to_rgb(colour))
        assert (np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).sum() > 100
    assert [p.name for p in tmp_path.iterdir()] == ['season.png']
