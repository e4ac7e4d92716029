import numpy as np
import pytest

from torchgeo_bvm.synth.noise import (
    CIRRUS_LEVEL,
    CLOUD_CORE_LEVEL,
    CLOUD_LEVEL,
    SHADOW_LEVEL,
    Clouds,
    MapField,
    gaussian_field,
    seeded_rng,
    wave_field,
)
from torchgeo_bvm.synth.sentinel2 import synthetic_scl


def test_seeded_rng_gives_one_stream_per_component() -> None:
    first = seeded_rng(3, 7).random(5)
    assert np.array_equal(first, seeded_rng(3, 7).random(5))
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence([3, 7])))
    assert np.array_equal(first, expected.random(5))
    assert not np.array_equal(first, seeded_rng(3, 8).random(5))
    assert not np.array_equal(first, seeded_rng(4, 7).random(5))


def test_gaussian_field_matches_a_full_fft_low_pass() -> None:
    shape, scale = (6, 9), 1.5
    field = gaussian_field(shape, np.random.default_rng(11), scale)
    # The same white noise, filtered with the complex FFT over the full plane.
    white = np.random.default_rng(11).standard_normal(shape)
    fy, fx = np.meshgrid(np.fft.fftfreq(6), np.fft.fftfreq(9), indexing='ij')
    gain = np.exp(-2 * np.pi**2 * scale**2 * (fx**2 + fy**2))
    smooth = np.fft.ifft2(np.fft.fft2(white) * gain)
    assert np.abs(smooth.imag).max() < 1e-12
    expected = (smooth.real - smooth.real.mean()) / smooth.real.std()
    assert field.shape == shape
    assert field.dtype == np.float64
    np.testing.assert_allclose(field, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize('scale', [1.0, 4.0])
def test_gaussian_field_is_standardised_and_smooth(scale: float) -> None:
    field = gaussian_field((64, 80), seeded_rng(0, 1), scale)
    assert field.mean() == pytest.approx(0.0, abs=1e-12)
    assert field.std() == pytest.approx(1.0, abs=1e-9)
    assert np.array_equal(field, gaussian_field((64, 80), seeded_rng(0, 1), scale))
    neighbours = np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1]
    # Wider features: neighbours alike (exp(-1 / (4 scale²)) for a Gaussian).
    assert neighbours == pytest.approx(np.exp(-1 / (4 * scale**2)), abs=0.1)


def test_wave_field_is_a_sum_of_seeded_waves() -> None:
    shape = (4, 7)
    field = wave_field(shape, np.random.default_rng(5), waves=3)
    rng = np.random.default_rng(5)
    expected = np.zeros(shape)
    for _ in range(3):
        fy, fx = rng.uniform(0.5, 3.0, 2) * rng.choice([-1, 1], 2)
        phase = rng.uniform(0, 2 * np.pi)
        for row in range(4):
            for col in range(7):
                expected[row, col] += np.cos(
                    2 * np.pi * (fx * col + fy * row) / 7 + phase
                )
    np.testing.assert_allclose(field, expected / np.sqrt(1.5), rtol=0, atol=1e-12)
    big = wave_field((50, 60), np.random.default_rng(1))
    assert big.shape == (50, 60)
    assert np.abs(big).max() <= np.sqrt(2 * 6) + 1e-12


def test_map_field_looks_up_the_cell_of_each_point() -> None:
    field = MapField((1000.0, 2000.0, 1400.0, 2100.0), seeded_rng(2), 400.0)
    assert field.cell == 50.0
    assert field.values.shape == (4, 9)  # at least 4 cells, one extra
    x = np.array([1000.0, 1075.0, 1399.0, 900.0, 9000.0])
    y = np.array([2000.0, 2060.0, 2099.0, 1500.0, 9000.0])
    expected = field.values[[0, 1, 1, 0, 3], [0, 1, 7, 0, 8]]
    assert np.array_equal(field(x, y), expected)


def test_fractal_clouds_cover_their_share_and_cast_shadows() -> None:
    shape = (120, 100)
    clouds = Clouds.fractal(shape, seeded_rng(0, 30), 0.2, cirrus=True)
    for layer in (clouds.opacity, clouds.shadow, clouds.cirrus):
        assert layer.shape == shape
        assert layer.dtype == np.float32
        assert layer.min() >= 0
    assert clouds.opacity.max() == 1.0
    assert clouds.cirrus.max() <= 0.6
    assert (clouds.cirrus > 0).any()
    assert (clouds.opacity > 0).mean() == pytest.approx(0.2, abs=2 / 12_000)
    # The shadow is the opacity moved 9 rows and 6 columns up and left.
    assert np.array_equal(clouds.shadow[:-9, :-6], clouds.opacity[9:, 6:])
    assert not clouds.shadow[-9:].any()
    assert not clouds.shadow[:, -6:].any()
    again = Clouds.fractal(shape, seeded_rng(0, 30), 0.2, cirrus=True)
    assert np.array_equal(again.opacity, clouds.opacity)
    assert np.array_equal(again.cirrus, clouds.cirrus)
    clear = Clouds.fractal(shape, seeded_rng(0, 30), 0.2)
    assert np.array_equal(clear.opacity, clouds.opacity)
    assert not clear.cirrus.any()


def _clear(clouds: Clouds) -> np.ndarray:
    """Where Clouds.mark leaves the ground: no cloud, shadow or cirrus."""
    return (
        (clouds.opacity <= CLOUD_LEVEL)
        & ((clouds.shadow <= SHADOW_LEVEL) | (clouds.opacity > CLOUD_LEVEL))
        & (clouds.cirrus <= CIRRUS_LEVEL)
    )


@pytest.mark.parametrize(
    ('clear', 'cirrus'), [(0.37, False), (0.6, True), (1.0, False)]
)
def test_clouds_leaving_clear_leave_that_share_clear(
    clear: float, cirrus: bool
) -> None:
    shape = (90, 110)
    clouds = Clouds.leaving_clear(shape, seeded_rng(1, 2), clear, cirrus=cirrus)
    # The fields of fractal clouds, cut at another level: a cloudier sky of
    # the same draws covers everything this one covers.
    fractal = Clouds.fractal(shape, seeded_rng(1, 2), 0.5, cirrus=cirrus)
    assert np.array_equal(clouds.cirrus, fractal.cirrus)
    cloudier = Clouds.leaving_clear(shape, seeded_rng(1, 2), clear / 2, cirrus)
    assert (_clear(cloudier) <= _clear(clouds)).all()
    assert _clear(cloudier).sum() < _clear(clouds).sum()
    # Shadows 7 rows and 6 columns up and left, wrapping around the edges.
    assert np.array_equal(clouds.shadow, np.roll(clouds.opacity, (-7, -6), axis=(0, 1)))
    # Within the few pixels rounding to float32 may tip.
    assert abs(int(_clear(clouds).sum()) - round(clear * 90 * 110)) <= 2
    assert (clouds.cirrus > CIRRUS_LEVEL).any() == cirrus
    scl = np.full(shape, 4, dtype=np.uint8)
    clouds.mark(scl)
    assert np.array_equal(scl == 4, _clear(clouds))


def test_clouds_leaving_nothing_clear_are_overcast() -> None:
    clouds = Clouds.leaving_clear((40, 50), seeded_rng(3), 0.0)
    assert (clouds.opacity > CLOUD_LEVEL).all()
    scl = np.full((40, 50), 4, dtype=np.uint8)
    clouds.mark(scl)
    assert set(np.unique(scl).tolist()) == {8, 9}


def test_clouds_leaving_clear_refuse_impossible_shares() -> None:
    with pytest.raises(ValueError, match=r'clear share must lie in 0\.\.1, got 1\.5'):
        Clouds.leaving_clear((10, 10), seeded_rng(0), 1.5)
    with pytest.raises(
        ValueError, match='cannot leave 100% of the scene clear: its cirrus'
    ):
        Clouds.leaving_clear((60, 60), seeded_rng(0), 1.0, cirrus=True)


def test_upsampled_clouds_repeat_each_pixel() -> None:
    clouds = Clouds.fractal((6, 8), seeded_rng(4), 0.4, cirrus=True)
    fine = clouds.upsampled(2)
    for coarse, layer in (
        (clouds.opacity, fine.opacity),
        (clouds.shadow, fine.shadow),
        (clouds.cirrus, fine.cirrus),
    ):
        assert layer.shape == (12, 16)
        for dr in (0, 1):
            for dc in (0, 1):
                assert np.array_equal(layer[dr::2, dc::2], coarse)


def test_round_clouds_are_discs_with_rims_and_shadows() -> None:
    rows, cols = 30, 40
    # A small cover makes one cloud, so its draws are the rng's next three.
    clouds = Clouds.blobs((rows, cols), np.random.default_rng(9), 0.001)
    rng = np.random.default_rng(9)
    cirrus_y, cirrus_x = rng.uniform(0, rows), rng.uniform(0, cols)
    cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
    radius = rng.uniform(1.6, 4.0)
    yy, xx = np.mgrid[0:rows, 0:cols]
    distance = np.hypot(yy - cy, xx - cx)
    assert np.array_equal(clouds.opacity == 1.0, distance <= radius)
    rim = (distance > radius) & (distance <= 1.3 * radius)
    assert np.array_equal((clouds.opacity > 0) & (clouds.opacity < 1), rim)
    shade = np.hypot(yy - (cy - 1.5 * radius), xx - (cx - 1.5 * radius)) <= radius
    assert np.array_equal(clouds.shadow, shade.astype(np.float32))
    ellipse = ((yy - cirrus_y) / (0.12 * 40)) ** 2 + (
        (xx - cirrus_x) / (0.3 * 40)
    ) ** 2 <= 1
    assert np.array_equal(clouds.cirrus, ellipse.astype(np.float32))


def test_clouds_over_a_surface() -> None:
    surface = np.full((2, 1, 4), 1000.0, dtype=np.float32)
    surface[1] = 2000.0
    clouds = Clouds(
        opacity=np.array([[0.0, 0.0, 0.0, 0.5]], dtype=np.float32),
        shadow=np.array([[0.0, 1.0, 0.0, 1.0]], dtype=np.float32),
        cirrus=np.array([[0.0, 0.0, 0.4, 0.0]], dtype=np.float32),
    )
    cloud = np.array([6000.0, 7000.0], dtype=np.float32)
    cirrus = np.array([2000.0, 3000.0], dtype=np.float32)
    seen = clouds.over(surface, cloud, cirrus)
    assert seen.dtype == np.float32
    # Clear; shadow (35 % left); cirrus (+0.4 x half its spectrum); half cloud
    # over a shadow the cloud itself thins (1 - 0.65 x 0.5).
    np.testing.assert_allclose(
        seen[:, 0],
        [
            [1000, 350, 1000 + 400, 0.5 * 1000 * 0.675 + 0.5 * 6000],
            [2000, 700, 2000 + 600, 0.5 * 2000 * 0.675 + 0.5 * 7000],
        ],
        rtol=1e-6,
    )


def test_clouds_mark_the_scene_classification_by_one_rule() -> None:
    assert (CLOUD_LEVEL, CLOUD_CORE_LEVEL, SHADOW_LEVEL, CIRRUS_LEVEL) == (
        0.12,
        0.45,
        0.3,
        0.25,
    )
    opacity = [0, 0.1, 0.2, 0.4, 0.5, 0, 0, 0, 0.2, 0]
    shadow = [0, 0, 0, 0, 0, 0.29, 0.31, 0.31, 1, 0]
    cirrus = [0, 0, 0, 0, 0, 0, 0, 0.26, 1, 0.26]
    clouds = Clouds(
        *(np.array([values], dtype=np.float32) for values in (opacity, shadow, cirrus))
    )
    scl = np.full((1, 10), 4, dtype=np.uint8)
    clouds.mark(scl)
    # Cirrus, then shadows outside clouds, then clouds, each over the others.
    assert scl.tolist() == [[4, 4, 8, 8, 9, 4, 3, 3, 8, 10]]


def test_synthetic_scl_uses_the_round_clouds() -> None:
    shape = (48, 64)
    scl = synthetic_scl(shape, seed=4, cloud_fraction=0.3)
    rng = np.random.default_rng(4)
    wave_field(shape, rng)
    rng.random(shape)
    rng.integers(48)
    rng.integers(64)
    clouds = Clouds.blobs(shape, rng, 0.3)
    assert np.array_equal(scl == 9, clouds.opacity == 1)
    assert np.array_equal(scl == 8, (clouds.opacity > 0) & (clouds.opacity < 1))
    assert np.array_equal(scl == 3, (clouds.shadow == 1) & (clouds.opacity == 0))
    assert ((scl == 10) <= (clouds.cirrus == 1)).all()
    assert (scl == 10).any()
