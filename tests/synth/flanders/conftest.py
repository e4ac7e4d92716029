"""The tiny mini-Flanders, written once for the tests of this package."""

from pathlib import Path
from typing import Any

import pytest

from torchgeo_bvm.synth.flanders import write_mini_flanders


@pytest.fixture(scope='package')
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp('tiny') / 'mini'
    return out, write_mini_flanders(out, 'tiny', seed=0, plot=True)


@pytest.fixture(scope='package')
def tiny_season(
    mini_flanders: tuple[Path, dict[str, Any]],
) -> tuple[Path, dict[str, Any]]:
    """The session's tiny mini-Flanders, which has its season."""
    return mini_flanders
