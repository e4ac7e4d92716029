"""Fixtures shared across the test suite."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.kaartblad import Sheet


def write_labels(path, array, transform, crs='EPSG:31370') -> None:
    profile = {
        'driver': 'GTiff',
        'height': array.shape[0],
        'width': array.shape[1],
        'count': 1,
        'dtype': 'uint8',
        'crs': crs,
        'transform': transform,
        'nodata': IGNORE_INDEX,
    }
    with rasterio.open(path, 'w', **profile) as sink:
        sink.write(array, 1)


@pytest.fixture
def sheet22_labels(tmp_path):
    """Sheet 22 at 1 km with one pixel ring of margin outside the sheet.

    kbl4 quadrants are 16 x 10 pixels: NW (train) all class 1; SW (train) left half
    class 2, right half unlabelled; NE (val) 100 pixels class 1 then 60 class 11;
    SE (test) all class 12. The margin is class 5, outside every sheet counted.
    """
    x0, _, _, y1 = Sheet.parse(22).bounds
    array = np.full((22, 34), 5, dtype=np.uint8)
    inner = array[1:-1, 1:-1]
    inner[:10, :16] = 1
    inner[10:, :8] = 2
    inner[10:, 8:16] = IGNORE_INDEX
    inner[:10, 16:] = np.where(np.arange(160).reshape(10, 16) < 100, 1, 11)
    inner[10:, 16:] = 12
    path = tmp_path / 'labels.tif'
    write_labels(path, array, from_origin(x0 - 1000, y1 + 1000, 1000, 1000))
    return path
