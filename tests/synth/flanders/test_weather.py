from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from tests.synth.flanders.reading import date_sample


def test_clouds_shadows_and_nodata_are_masked(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = tiny
    scl_classes: set[int] = set()
    for product in manifest['imagery']['products']:
        folder = out / product['path']
        (scl_file,) = folder.glob('*_SCENECLASSIFICATION_20M_V210.tif')
        with rasterio.open(scl_file) as src:
            scl_classes |= set(np.unique(src.read(1)).tolist())
    assert {0, 3, 4, 5, 6, 8, 9, 10} <= scl_classes
    autumn = date_sample(out, manifest, '2020-10-05')
    valid = autumn['valid'].numpy()
    assert 0.3 < valid.mean() < 0.95
