from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchgeo_bvm.datasets.bands import (
    ALL_BANDS,
    BAND_MODES,
    FALSE_COLOUR_BANDS,
    PAPER_CLOUD_RULE,
    RGB_BANDS,
    RGNIR_BANDS,
    TRUE_COLOUR_BANDS,
    CloudRule,
    dilate,
    openeo_acquisition_path,
    openeo_composite_path,
    parse_openeo_name,
    resolve_bands,
)

# ----------------------------------------------------------------- band selection


def test_resolve_bands_modes_and_lists() -> None:
    assert resolve_bands('rgb') == RGB_BANDS == ('B02', 'B03', 'B04')
    assert resolve_bands('RGNIR') == RGNIR_BANDS == ('B03', 'B04', 'B08')
    assert resolve_bands('all') == ALL_BANDS
    assert len(ALL_BANDS) == 11
    assert set(BAND_MODES) == {'rgb', 'rgnir', 'all'}
    assert resolve_bands(['b8a', 'B01']) == ('B8A', 'B01')
    assert resolve_bands('B11') == ('B11',)
    assert resolve_bands('b08, B04') == ('B08', 'B04')


@pytest.mark.parametrize(
    ('bands', 'message'),
    [
        (['B02', 'B09'], "unknown band 'B09': available bands are B01, B02"),
        ('rgbn', "unknown band mode 'rgbn'"),
        (['SCL'], 'SCL is categorical'),
        (['B02', 'B02'], 'band requested twice'),
        ([], 'no bands requested'),
    ],
)
def test_resolve_bands_errors(bands: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_bands(bands)  # type: ignore[arg-type]


def test_cloud_rule_without_dilation() -> None:
    scl = np.array(
        [
            [0, 1, 2, 3, 4, 5],
            [6, 7, 8, 9, 10, 11],
        ],
        dtype=np.uint8,
    )
    expected = np.array(
        [
            [0, 0, 0, 0, 1, 1],
            [1, 1, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(CloudRule().mask(scl), expected)
    custom = CloudRule(valid=(4, 11), dilate_classes=(9,))
    np.testing.assert_array_equal(
        custom.mask(scl),
        np.array([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]], dtype=bool),
    )


def test_cloud_rule_with_dilation_is_an_exact_disk() -> None:
    scl = np.full((7, 7), 4, dtype=np.uint8)
    scl[3, 3] = 8
    valid = CloudRule(dilation_m=20.0).mask(scl, (10.0, 10.0))
    expected = np.array(
        [
            [1, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 0, 1, 1, 1],
            [1, 1, 0, 0, 0, 1, 1],
            [1, 0, 0, 0, 0, 0, 1],
            [1, 1, 0, 0, 0, 1, 1],
            [1, 1, 1, 0, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(valid, expected)
    # 20 m pixels across, 10 m pixels down: one pixel sideways, two up and down
    anisotropic = CloudRule(dilation_m=20.0).mask(scl, (20.0, 10.0))
    expected = np.ones((7, 7), dtype=bool)
    expected[1:6, 3] = False
    expected[3, 2:5] = False
    np.testing.assert_array_equal(anisotropic, expected)
    # Shadows dilate too; the radius does not reach a pixel 30 m away
    scl = np.full((1, 7), 4, dtype=np.uint8)
    scl[0, 0] = 3
    np.testing.assert_array_equal(
        CloudRule(dilation_m=25.0).mask(scl, (10.0, 10.0))[0],
        [False, False, False, True, True, True, True],
    )


@pytest.mark.parametrize('radius', [(0.5, 0.5), (1.0, 1.0), (2.5, 2.5), (3.0, 1.5)])
def test_dilate_matches_brute_force(radius: tuple[float, float]) -> None:
    rng = np.random.default_rng(7)
    mask = rng.random((19, 23)) < 0.05
    rx, ry = radius
    expected = np.zeros_like(mask)
    for r, c in zip(*np.nonzero(mask), strict=True):
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                inside = (dx / rx) ** 2 + (dy / ry) ** 2 <= 1
                if inside and 0 <= r + dy < 19 and 0 <= c + dx < 23:
                    expected[r + dy, c + dx] = True
    np.testing.assert_array_equal(dilate(mask, radius), expected | mask)


def test_cloud_rule_validation() -> None:
    assert PAPER_CLOUD_RULE.dilation_m == 400.0
    assert PAPER_CLOUD_RULE.margin((10.0, 10.0)) == (40, 40)
    with pytest.raises(ValueError, match=r'unknown SCL classes \[12\]'):
        CloudRule(valid=(4, 12))
    with pytest.raises(ValueError, match='dilation_m must be >= 0'):
        CloudRule(dilation_m=-1)


def test_openeo_path_helpers() -> None:
    assert openeo_acquisition_path('out', '22/1-2', '2022-04-05') == Path(
        'out/22_1-2/22_1-2_openEO_2022-04-05Z.tif'
    )
    assert openeo_composite_path('out', '15_1N', pd.Timestamp('2021-07-19')) == Path(
        'out/15_1N/15_1N_openEO_2021-07_median.tif'
    )


def test_openeo_names_are_recognised() -> None:
    acquisition = openeo_acquisition_path('out', '22/1-2', '2022-04-05')
    composite = openeo_composite_path('out', '22/1-2', '2022-04')
    assert parse_openeo_name(acquisition.name) == ('openeo', '2022-04-05')
    assert parse_openeo_name(composite.name) == ('composite', '2022-04')
    assert parse_openeo_name('.22_1-2_openEO_2022-04-05Z.tmp-1-ab.tif') is None
    assert parse_openeo_name('.22_1-2_openEO_2022-04-05Z.tif') is None
    assert parse_openeo_name('22_1-2_openEO_2022-04-05.tif') is None
    assert parse_openeo_name('S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tif') is None


def test_display_band_sets_are_bands() -> None:
    assert set(TRUE_COLOUR_BANDS) == set(RGB_BANDS)
    assert set(FALSE_COLOUR_BANDS) <= set(ALL_BANDS)
