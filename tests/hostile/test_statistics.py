"""The statistics API: NaN, negative, empty and malformed inputs are refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from torchgeo_bvm.bvm.statistics import chi_squared_distance, median_frequency_weights
from torchgeo_bvm.errors import BVMError

GOOD = [10.0, 20.0, 30.0]


@pytest.mark.parametrize(
    ('p', 'q', 'words'),
    [
        ([math.nan, 1, 2], GOOD, ['first distribution must be a list of finite numbers', 'nan']),
        (GOOD, [1, math.inf, 2], ['second distribution must be a list of finite numbers', 'inf']),
        ([-1, 2, 3], GOOD, ['first distribution must be non-negative', '-1']),
        (GOOD, [0, 0, 0], ['second distribution must be non-negative and non-zero']),
        ([], [], ['must be non-negative and non-zero, got []']),
        ([1, 2], GOOD, ['distributions of different lengths: 2 and 3']),
        (['a', 'b', 'c'], GOOD, ["must be a list of numbers, got ['a', 'b', 'c']"]),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], ['must be a list of numbers, got [[1, 2], [3, 4]]']),
        (None, GOOD, ['must be a list of numbers, got None']),
        (GOOD, np.array([1.0, np.nan, 1.0]), ['second distribution', 'nan']),
    ],
)  # fmt: skip
def test_chi_squared_distance_refuses(p, q, words: list[str]) -> None:
    with pytest.raises(BVMError) as info:
        chi_squared_distance(p, q)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ('counts', 'max_weight', 'words'),
    [
        ([math.nan, 1, 2], 50.0, ['class counts must be a list of finite numbers', 'nan']),
        ([-5, 1, 2], 50.0, ['class counts must be non-negative', '-5']),
        ([0, 0, 0], 50.0, ['with at least one pixel']),
        ([], 50.0, ['with at least one pixel, got []']),
        (['x'], 50.0, ["class counts must be a list of numbers, got ['x']"]),
        ([1, math.inf], 50.0, ['finite numbers', 'inf']),
        (GOOD, 0.0, ['max_weight must be a finite number greater than 0, got 0.0']),
        (GOOD, -1.0, ['max_weight must be a finite number greater than 0, got -1.0']),
        (GOOD, math.nan, ['max_weight must be a finite number greater than 0, got nan']),
    ],
)  # fmt: skip
def test_class_weights_refuse(counts, max_weight: float, words: list[str]) -> None:
    with pytest.raises(BVMError) as info:
        median_frequency_weights(counts, max_weight)
    for word in words:
        assert word in str(info.value)


def test_good_inputs_still_give_the_numbers() -> None:
    assert chi_squared_distance([1, 1], [1, 1]) == 0.0
    assert chi_squared_distance([1, 0], [0, 1]) == 2.0
    assert median_frequency_weights([10, 20, 0, 30]) == [2.0, 1.0, 0.0, 0.6667]
