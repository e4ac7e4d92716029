"""Seeded random fields and clouds for the synthetic scenes.

Both Sentinel-2 writers draw their texture, land cover and weather from here:
:func:`torchgeo_bvm.synth.sentinel2.synthetic_scl` (a scene made of SCL
classes) and mini-Flanders (:mod:`torchgeo_bvm.synth.flanders`, reflectance
rendered from a land cover, then clouded).

* :func:`gaussian_field`: white noise low-pass filtered to features of a given
  size, standardised; sums of them at several sizes make cloud opacity.
* :func:`wave_field`: a few long plane waves, a smooth gradient across the
  whole scene whatever its size.
* :class:`MapField`: a Gaussian field over a map extent, looked up at
  coordinates in metres.
* :class:`Clouds`: cloud opacity, cloud shadow and cirrus as layers in 0..1,
  built as fractal clouds covering a share of the scene
  (:meth:`Clouds.fractal`) or leaving a share of it clear
  (:meth:`Clouds.leaving_clear`), or as round cumulus (:meth:`Clouds.blobs`);
  they darken and whiten a surface (:meth:`Clouds.over`) and mark the scene
  classification with one rule (:meth:`Clouds.mark`).

Every generator takes a :class:`numpy.random.Generator` and draws from it in a
fixed order, so the same seed gives the same arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    'CIRRUS_LEVEL',
    'CLOUD_CORE_LEVEL',
    'CLOUD_LEVEL',
    'SHADOW_LEVEL',
    'Clouds',
    'MapField',
    'gaussian_field',
    'seeded_rng',
    'wave_field',
]

#: Opacity above which a pixel is cloud of medium probability (SCL 8).
CLOUD_LEVEL = 0.12
#: Opacity above which a pixel is cloud of high probability (SCL 9).
CLOUD_CORE_LEVEL = 0.45
#: Shadow above which a pixel outside a cloud is cloud shadow (SCL 3).
SHADOW_LEVEL = 0.3
#: Cirrus above which a pixel is thin cirrus (SCL 10).
CIRRUS_LEVEL = 0.25

#: Opacity of the rim of a round cloud: medium probability, not the core.
_RIM_OPACITY = 0.3


def seeded_rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent generator per component of a scene.

    A change in one component then does not shift the random draws of another.

    Args:
        seed: the scene's seed.
        *stream: numbers that name the component.

    Returns:
        A generator seeded with ``(seed, *stream)``.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def gaussian_field(
    shape: tuple[int, int], rng: np.random.Generator, scale: float
) -> NDArray[np.float64]:
    """White noise low-pass filtered to features of about ``scale`` pixels.

    The noise is filtered with a Gaussian in the frequency domain, so the field
    wraps around at the edges.

    Args:
        shape: ``(rows, cols)``.
        rng: the generator; one standard normal draw per pixel.
        scale: the features' size in pixels (the filter's standard deviation).

    Returns:
        The field, standardised to mean 0 and standard deviation 1.
    """
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * scale) ** 2 * (fx**2 + fy**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=shape)
    result: NDArray[np.float64] = (field - field.mean()) / (field.std() + 1e-12)
    return result


def wave_field(
    shape: tuple[int, int], rng: np.random.Generator, waves: int = 6
) -> NDArray[np.float64]:
    """A sum of plane waves of 0.5 to 3 cycles across the scene.

    Args:
        shape: ``(rows, cols)``.
        rng: the generator; four draws per wave (frequency, signs, phase).
        waves: how many waves.

    Returns:
        The field, scaled to a standard deviation of about 1.
    """
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    size = float(max(shape))
    field = np.zeros(shape)
    for _ in range(waves):
        fy, fx = rng.uniform(0.5, 3.0, size=2) * rng.choice([-1, 1], size=2)
        phase = rng.uniform(0, 2 * np.pi)
        field += np.cos(2 * np.pi * (fx * cols + fy * rows) / size + phase)
    result: NDArray[np.float64] = field / np.sqrt(waves / 2)
    return result


class MapField:
    """A Gaussian field (mean 0, sd 1) over a map extent, sampled at points.

    The field lives on cells of an eighth of its feature size (at least 20 m),
    and a point takes the value of the cell it falls in; points outside the
    extent take the nearest edge cell.

    Args:
        extent: ``(xmin, ymin, xmax, ymax)`` in metres.
        rng: the generator (see :func:`gaussian_field`).
        scale_m: the features' size in metres.
    """

    def __init__(
        self,
        extent: tuple[float, float, float, float],
        rng: np.random.Generator,
        scale_m: float,
    ) -> None:
        self.x0, self.y0, x1, y1 = extent
        self.cell = max(20.0, scale_m / 8)
        shape = (
            max(4, math.ceil((y1 - self.y0) / self.cell) + 1),
            max(4, math.ceil((x1 - self.x0) / self.cell) + 1),
        )
        self.values = gaussian_field(shape, rng, scale_m / self.cell)

    def __call__(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The field at points.

        Args:
            x: their x coordinates (metres).
            y: their y coordinates.

        Returns:
            The field's value at each point.
        """
        rows = ((y - self.y0) / self.cell).astype(np.int64)
        cols = ((x - self.x0) / self.cell).astype(np.int64)
        rows = np.clip(rows, 0, self.values.shape[0] - 1)
        cols = np.clip(cols, 0, self.values.shape[1] - 1)
        result: NDArray[np.float64] = self.values[rows, cols]
        return result


def _fractal_fields(
    shape: tuple[int, int], rng: np.random.Generator, cirrus: bool, scale: float = 1.0
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """Optical depth and cirrus thickness of fractal clouds (feature sizes x scale).

    The depth sums Gaussian fields of 30, 10 and 3 pixels; the cirrus, drawn
    after them, is the top of a field of 50 pixels (zero without cirrus).
    """
    depth: NDArray[np.float64] = (
        gaussian_field(shape, rng, 30 * scale)
        + 0.5 * gaussian_field(shape, rng, 10 * scale)
        + 0.25 * gaussian_field(shape, rng, 3 * scale)
    )
    if not cirrus:
        return depth, np.zeros(shape, dtype=np.float32)
    field = gaussian_field(shape, rng, 50 * scale)
    haze: NDArray[np.float32] = np.clip((field - 0.8) / 1.5, 0, 0.6).astype(np.float32)
    return depth, haze


def _shadow_offset(shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns between a cloud and its shadow (8 % and 6 %, at least 2)."""
    rows, cols = shape
    return max(2, int(0.08 * rows)), max(2, int(0.06 * cols))


@dataclass(frozen=True)
class Clouds:
    """Clouds over a scene: three layers of one shape, each in 0..1.

    Shadows fall north-west of their clouds (row and column indices lower), as
    they do in Flanders in the late morning, with the sun in the south-east.

    Args:
        opacity: how much of the surface a cloud hides.
        shadow: how much a cloud's shadow darkens the surface.
        cirrus: thickness of thin cirrus, which brightens the surface.
    """

    opacity: NDArray[np.float32]
    shadow: NDArray[np.float32]
    cirrus: NDArray[np.float32]

    @classmethod
    def fractal(
        cls,
        shape: tuple[int, int],
        rng: np.random.Generator,
        cover: float,
        cirrus: bool = False,
    ) -> Clouds:
        """Clouds of fractal outline covering a share of the scene.

        The opacity is a sum of Gaussian fields of 30, 10 and 3 pixels cut at
        its ``1 - cover`` quantile; the shadow is the opacity shifted by 8 % of
        the rows and 6 % of the columns; cirrus (if any) is the top of a
        50-pixel field.

        Args:
            shape: ``(rows, cols)``.
            rng: the generator; three (four with cirrus) Gaussian fields.
            cover: the share of pixels with any cloud.
            cirrus: whether there is cirrus.

        Returns:
            The clouds.
        """
        depth, haze = _fractal_fields(shape, rng, cirrus)
        return cls._cut(depth, float(np.quantile(depth, 1 - cover)), haze)

    @classmethod
    def leaving_clear(
        cls,
        shape: tuple[int, int],
        rng: np.random.Generator,
        clear: float,
        cirrus: bool = False,
        scale: float = 1.0,
    ) -> Clouds:
        """Fractal clouds that leave a given share of the scene clear.

        The fields of :meth:`fractal` (their feature sizes times ``scale``),
        cut at the level where ``clear`` of the pixels are neither cloud
        (opacity over :data:`CLOUD_LEVEL`), nor cloud shadow (over
        :data:`SHADOW_LEVEL`), nor cirrus (over :data:`CIRRUS_LEVEL`): what
        :meth:`mark` leaves to the ground, to within the few pixels that
        rounding to float32 may tip. ``clear = 0``
        is an overcast sky: every pixel is cloud. The fields wrap around at
        the edges, and so do the shadows: clouds beyond the bottom and right
        edges shade the scene as those inside do, so no edge is free of
        shadow.

        Args:
            shape: ``(rows, cols)``.
            rng: the generator; three (four with cirrus) Gaussian fields.
            clear: the share of pixels to leave clear, in 0..1.
            cirrus: whether there is cirrus.
            scale: the fields' feature sizes relative to :meth:`fractal`'s
                (0.5 for clouds of the same size on pixels twice as large).

        Returns:
            The clouds.

        Raises:
            ValueError: if ``clear`` is outside 0..1, or more than the pixels
                the cirrus leaves.
        """
        if not 0 <= clear <= 1:
            raise ValueError(f'the clear share must lie in 0..1, got {clear}')
        depth, haze = _fractal_fields(shape, rng, cirrus, scale)
        # Opacity is (depth - threshold) / 0.5, so a pixel is free of cloud and
        # of the shadow cast on it exactly when `level` <= threshold.
        rows, cols = shape
        dr, dc = _shadow_offset(shape)
        level = np.maximum(
            depth - 0.5 * CLOUD_LEVEL,
            np.roll(depth, (-dr, -dc), axis=(0, 1)) - 0.5 * SHADOW_LEVEL,
        )
        level[haze > CIRRUS_LEVEL] = np.inf
        count = round(clear * rows * cols)
        if count > np.isfinite(level).sum():
            raise ValueError(
                f'cannot leave {clear:.0%} of the scene clear: its cirrus covers '
                f'{(haze > CIRRUS_LEVEL).mean():.0%}'
            )
        if count == 0:
            # Every pixel's opacity then exceeds CLOUD_LEVEL.
            threshold = float(depth.min()) - 0.5 * CLOUD_LEVEL - 0.01
        else:
            threshold = float(np.partition(level.ravel(), count - 1)[count - 1])
        return cls._cut(depth, threshold, haze, wrap=True)

    @classmethod
    def _cut(
        cls,
        depth: NDArray[np.float64],
        threshold: float,
        haze: NDArray[np.float32],
        wrap: bool = False,
    ) -> Clouds:
        """Clouds where the depth exceeds a threshold; shadows wrap or not."""
        rows, cols = depth.shape
        opacity = np.clip((depth - threshold) / 0.5, 0, 1).astype(np.float32)
        dr, dc = _shadow_offset(depth.shape)
        if wrap:
            return cls(opacity, np.roll(opacity, (-dr, -dc), axis=(0, 1)), haze)
        shadow = np.zeros_like(opacity)
        shadow[: rows - dr, : cols - dc] = opacity[dr:, dc:]
        return cls(opacity, shadow, haze)

    def upsampled(self, factor: int) -> Clouds:
        """The same clouds on a grid ``factor`` times finer.

        Args:
            factor: how many fine pixels each pixel becomes along each axis.

        Returns:
            The clouds, each pixel repeated ``factor x factor`` times.
        """

        def fine(layer: NDArray[np.float32]) -> NDArray[np.float32]:
            result: NDArray[np.float32] = np.repeat(
                np.repeat(layer, factor, axis=0), factor, axis=1
            )
            return result

        return Clouds(fine(self.opacity), fine(self.shadow), fine(self.cirrus))

    @classmethod
    def blobs(
        cls, shape: tuple[int, int], rng: np.random.Generator, cover: float
    ) -> Clouds:
        """Round clouds and one elliptical patch of cirrus.

        Each cloud is a disc of high opacity in a rim of medium opacity 1.3
        times its radius, and casts a disc of shadow 1.5 radii to the north
        and to the west; discs have radii of 4 to 10 % of the scene's longer
        side, and their number makes about ``cover`` of the scene cloudy.

        Args:
            shape: ``(rows, cols)``.
            rng: the generator; the cirrus centre, then three draws a cloud.
            cover: roughly the share of pixels covered by clouds.

        Returns:
            The clouds (layers of 0, the rim's opacity and 1 only).
        """
        rows, cols = shape
        yy, xx = np.mgrid[0:rows, 0:cols]
        size = max(rows, cols)
        cirrus_y, cirrus_x = rng.uniform(0, rows), rng.uniform(0, cols)
        ellipse = ((yy - cirrus_y) / (0.12 * size)) ** 2 + (
            (xx - cirrus_x) / (0.3 * size)
        ) ** 2
        radius_min, radius_max = max(1.5, 0.04 * size), max(2.5, 0.1 * size)
        mean_area = np.pi * ((radius_min + radius_max) / 2 * 1.3) ** 2
        count = max(1, round(cover * rows * cols / mean_area))
        opacity = np.zeros(shape, dtype=np.float32)
        shadow = np.zeros(shape, dtype=bool)
        for _ in range(count):
            cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
            radius = rng.uniform(radius_min, radius_max)
            distance = np.hypot(yy - cy, xx - cx)
            opacity[(distance <= 1.3 * radius) & (opacity == 0)] = _RIM_OPACITY
            opacity[distance <= radius] = 1.0
            north_west = np.hypot(yy - (cy - 1.5 * radius), xx - (cx - 1.5 * radius))
            shadow |= north_west <= radius
        return cls(
            opacity, shadow.astype(np.float32), (ellipse <= 1).astype(np.float32)
        )

    def over(
        self,
        surface: NDArray[np.float32],
        cloud_spectrum: NDArray[np.float32],
        cirrus_spectrum: NDArray[np.float32],
    ) -> NDArray[np.float32]:
        """The surface seen through the clouds.

        Shadows darken it by up to 65 %, cirrus adds up to half its spectrum,
        and clouds blend it with theirs by their opacity.

        Args:
            surface: reflectance ``(bands, rows, cols)``.
            cloud_spectrum: a thick cloud's reflectance per band.
            cirrus_spectrum: thick cirrus's reflectance per band.

        Returns:
            The reflectance under the clouds, ``(bands, rows, cols)``.
        """
        alpha = self.opacity
        out = surface * (1 - 0.65 * self.shadow * (1 - alpha))[None]
        out = out + self.cirrus[None] * 0.5 * cirrus_spectrum[:, None, None]
        result: NDArray[np.float32] = (
            out * (1 - alpha)[None] + alpha[None] * cloud_spectrum[:, None, None]
        )
        return result

    def mark(self, scl: NDArray[np.uint8]) -> None:
        """Mark cirrus, shadows and clouds in a scene classification, in place.

        Cirrus over :data:`CIRRUS_LEVEL` becomes 10; shadow over
        :data:`SHADOW_LEVEL` outside clouds 3; opacity over :data:`CLOUD_LEVEL`
        8 and over :data:`CLOUD_CORE_LEVEL` 9, each over the ones before.

        Args:
            scl: SCL classes of the ground, shaped like the layers.
        """
        scl[self.cirrus > CIRRUS_LEVEL] = 10
        scl[(self.shadow > SHADOW_LEVEL) & (self.opacity <= CLOUD_LEVEL)] = 3
        scl[self.opacity > CLOUD_LEVEL] = 8
        scl[self.opacity > CLOUD_CORE_LEVEL] = 9
