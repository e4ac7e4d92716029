"""The weather over mini-Flanders on each date, and the scene classification.

Clouds, their shadows and cirrus come from the shared generator
(:class:`torchgeo_bvm.synth.noise.Clouds`); the ground's SCL classes follow
the reflectance under them (vegetation, bare, water, a few unclassified and
dark pixels), and one date lies partly outside the orbit's swath (no data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...datasets.bands import ALL_BANDS
from ..noise import Clouds, seeded_rng
from ..sentinel2 import SCL_SPECTRA, TERRASCOPE_NODATA

__all__ = ['WEATHER', 'Weather', 'weather']


@dataclass(frozen=True)
class Weather:
    """The weather of one date.

    Args:
        cloud: the share of the scene under cloud.
        cirrus: whether there is cirrus.
        nodata: whether a corner lies outside the orbit's swath.
    """

    cloud: float
    cirrus: bool
    nodata: bool


#: The weather per date, in the order of
#: :data:`~torchgeo_bvm.synth.flanders.region.DATES`.
WEATHER = (
    Weather(cloud=0.06, cirrus=False, nodata=False),
    Weather(cloud=0.02, cirrus=True, nodata=False),
    Weather(cloud=0.22, cirrus=False, nodata=True),
    Weather(cloud=0.10, cirrus=True, nodata=False),
)


def _spectrum(scl_class: int) -> NDArray[np.float32]:
    return np.array([SCL_SPECTRA[scl_class][b] for b in ALL_BANDS], dtype=np.float32)


def _ground_scl(
    reflectance: NDArray[np.float32], rng: np.random.Generator
) -> NDArray[np.uint8]:
    """SCL classes of the ground from its reflectance, with a few odd pixels."""
    b03, b04, b08 = (reflectance[ALL_BANDS.index(b)] for b in ('B03', 'B04', 'B08'))
    ndvi = (b08 - b04) / np.maximum(b08 + b04, 1)
    ndwi = (b03 - b08) / np.maximum(b03 + b08, 1)
    scl = np.full(b08.shape, 5, dtype=np.uint8)
    scl[ndvi > 0.4] = 4
    scl[(ndwi > 0.05) & (b08 < 1000)] = 6
    speckle = rng.random(b08.shape)
    scl[speckle < 0.003] = 7
    scl[(speckle > 0.998) & (b08 < 1500)] = 2
    return scl


def _outside_swath(rows: int, cols: int) -> NDArray[np.bool_]:
    """A corner beyond the edge of the orbit's swath.

    On the 60 m grid, so that the 20 m and 60 m aggregates of the product
    writer never mix data with no-data.
    """
    r60, c60 = np.mgrid[0 : rows // 6, 0 : cols // 6]
    wedge = c60 + 1.5 * r60 < 0.2 * (cols // 6 + 1.5 * rows // 6)
    outside: NDArray[np.bool_] = np.repeat(np.repeat(wedge, 6, axis=0), 6, axis=1)
    return outside


def weather(
    image: NDArray[np.float32], date_index: int, seed: int
) -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """Clouds, shadows, cirrus and no-data over a surface.

    Args:
        image: the surface reflectance ``(bands, rows, cols)`` at 10 m, rows
            and columns whole multiples of 6.
        date_index: the date's index (its weather is :data:`WEATHER`'s).
        seed: the scene's seed.

    Returns:
        ``(reflectance, scl)``: int16 reflectance as the product stores it
        (1 to 20000, :data:`~torchgeo_bvm.synth.sentinel2.TERRASCOPE_NODATA`
        outside the swath) and the uint8 SCL at 10 m.
    """
    today = WEATHER[date_index % len(WEATHER)]
    rng = seeded_rng(seed, 30 + date_index)
    rows, cols = image.shape[1:]
    clouds = Clouds.fractal((rows, cols), rng, today.cloud, cirrus=today.cirrus)
    out = clouds.over(image, _spectrum(9), _spectrum(10))
    scl = _ground_scl(out, rng)
    clouds.mark(scl)
    reflectance = np.clip(np.round(out), 1, 20000).astype(np.int16)
    if today.nodata:
        outside = _outside_swath(rows, cols)
        reflectance[:, outside] = TERRASCOPE_NODATA
        scl[outside] = 0
    return reflectance, scl
