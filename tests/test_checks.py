"""The checks of user values that have no other home in the tests."""

from __future__ import annotations

import math

import pytest

from torchgeo_bvm.checks import MAX_WAIT_SECONDS, check_seconds
from torchgeo_bvm.errors import BVMValueError


def test_check_seconds() -> None:
    assert check_seconds(0.01, 'poll_interval') == 0.01
    assert check_seconds(3600, 'poll_interval') == MAX_WAIT_SECONDS == 3600.0
    assert check_seconds(300, 'connect_timeout', maximum=300) == 300.0
    for value, words in (
        (3600.5, 'poll_interval must be at most 3600 s, got 3600.5 s (0.0417 days)'),
        (30 * 365 * 86400, 'got 9.4608e+08 s (1.1e+04 days)'),
        (0, 'poll_interval must be a finite number greater than 0, got 0'),
        (math.inf, 'got inf'),
        (math.nan, 'got nan'),
        ('10', "got '10' (text)"),
        (True, 'got True'),
    ):
        with pytest.raises(BVMValueError) as info:
            check_seconds(value, 'poll_interval')
        assert words in str(info.value)
