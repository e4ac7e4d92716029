from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.evaluation.calibration import (
    BINS,
    CLASS_PIXELS,
    CODES,
    Reliability,
    confidence_table,
    fit_temperature,
    isotonic_table,
    plot_reliability,
    softmax,
)


def test_ece_is_the_pixel_weighted_gap_per_bin() -> None:
    bins = Reliability()
    # 100 pixels at 0.95, 90 right; 50 at 0.5, 10 right.
    bins.add(np.full(100, 0.95), np.arange(100) < 90)
    bins.add(np.full(50, 0.5), np.arange(50) < 10)
    assert bins.total == 150
    assert bins.ece() == pytest.approx((100 * 0.05 + 50 * 0.3) / 150)
    table = bins.frame()
    assert len(table) == BINS
    assert table.loc[14, 'accuracy'] == pytest.approx(0.9)
    assert table.loc[7, 'confidence'] == pytest.approx(0.5)
    assert bins.accuracy() == pytest.approx(100 / 150)
    other = Reliability()
    other.add(np.array([1.0]), np.array([True]))  # 1.0 lies in the last bin
    bins += other
    assert bins.pixels[-1] == 101


def test_calibrated_confidence_has_no_error() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 200_000)
    bins = Reliability()
    bins.add(confidence, rng.uniform(0, 1, confidence.size) < confidence)
    assert bins.ece() < 0.01


def test_bad_confidences_are_refused() -> None:
    with pytest.raises(BVMValueError, match=r'confidences from -0\.5 to 1: expected 0'):
        Reliability().add(np.array([-0.5, 1.0]), np.array([True, False]))


def test_the_fitted_temperature_undoes_an_overconfident_network() -> None:
    rng = np.random.default_rng(1)
    # Draw labels from softmax(z), then show the network 3 z: over-confident.
    z = rng.normal(0, 1.5, (40_000, 5))
    labels = np.array([rng.choice(5, p=p) for p in softmax(z)])
    temperature = fit_temperature(3 * z, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)
    before, after = Reliability(), Reliability()
    for bins, t in ((before, 1.0), (after, temperature)):
        p = softmax(3 * z / t)
        bins.add(p.max(axis=1), p.argmax(axis=1) == labels)
    assert before.ece() > 0.1
    assert after.ece() < 0.02


def test_temperature_edge_cases() -> None:
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0
    # Every label right with any margin: as sharp as allowed.
    assert fit_temperature(np.array([[5.0, 0.0]] * 10), np.zeros(10, int)) == 0.01
    with pytest.raises(BVMValueError, match='labels from 0 to 3: expected classes 0'):
        fit_temperature(np.zeros((2, 3)), np.array([0, 3]))


def test_reliability_diagram(tmp_path: Path) -> None:
    bins = Reliability()
    bins.add(np.array([0.2, 0.9, 0.95]), np.array([False, True, True]))
    path = plot_reliability({'before': bins, 'after': bins}, tmp_path / 'r.png', 'Test')
    with Image.open(path) as image:
        assert image.format == 'PNG'
        assert image.size[0] > 400


def test_isotonic_table_pools_adjacent_violators() -> None:
    # Codes 10, 20, 30 right 1/2, 0/2, 2/2: the first two pool to 1/4.
    codes = np.array([10, 10, 20, 20, 30, 30])
    right = np.array([True, False, False, False, True, True])
    table = isotonic_table(codes, right)
    assert table.shape == (CODES,)
    np.testing.assert_allclose(
        table[[0, 10, 15, 20, 25, 30, 250]], [0.25, 0.25, 0.25, 0.25, 0.25, 1, 1]
    )
    assert (np.diff(table) >= 0).all()
    # Already increasing: the shares themselves.
    more = isotonic_table(
        np.array([5, 5, 100, 100]), np.array([False, True, True, True])
    )
    np.testing.assert_allclose(more[[5, 99, 100]], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(
        isotonic_table(np.zeros(0, int), np.zeros(0, bool)), np.arange(CODES) / 250
    )


def test_confidence_tables_are_per_class_when_a_class_has_pixels_enough() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 251, 5_000)
    classes = np.where(np.arange(5_000) < 4_000, 1, 2)  # class 2: 1,000 pixels
    classes[:10] = 3  # class 3: too few for a table of its own
    right = np.where(classes == 1, rng.random(5_000) < 0.9, rng.random(5_000) < 0.3)
    tables = confidence_table(codes, right, classes, num_classes=4)
    assert tables.shape == (4, CODES)
    pooled = isotonic_table(codes, right)
    np.testing.assert_allclose(tables[0], pooled)
    np.testing.assert_allclose(tables[3], pooled)
    np.testing.assert_allclose(
        tables[1], isotonic_table(codes[classes == 1], right[classes == 1])
    )
    np.testing.assert_allclose(
        tables[2], isotonic_table(codes[classes == 2], right[classes == 2])
    )
    assert CLASS_PIXELS == 1000
    with pytest.raises(BVMValueError, match='classes from 0 to 5: expected 0 to 3'):
        confidence_table(np.array([1, 2]), np.array([True, True]), np.array([0, 5]), 4)
    with pytest.raises(
        BVMValueError, match='confidence codes from 0 to 300: expected 0 to 250'
    ):
        confidence_table(np.array([0, 300]), np.array([True, True]))
