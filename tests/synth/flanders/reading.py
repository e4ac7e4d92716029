"""Reading a tiny mini-Flanders back through the package's own readers."""

from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS
from rasterio.transform import from_origin

from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.spatial.crs import LAMBERT72
from torchgeo_bvm.synth.flanders import SIZES

TINY = SIZES['tiny']


def bvm_dataset(out: Path, crs: CRS = LAMBERT72) -> BVMDataset:
    # The real map has unmapped ('ng') polygons; so has mini-Flanders.
    dataset = BVMDataset(out / 'bvm', crs=crs, res=10.0)
    assert set(dataset.mapping_result.unmapped) == {'ng'}
    return dataset


def region_classes(out: Path) -> np.ndarray:
    xmin, _, _, ymax = TINY.bounds
    rows, cols = TINY.pixels
    return bvm_dataset(out).rasterize(from_origin(xmin, ymax, 10, 10), cols, rows)


def date_sample(out: Path, manifest: dict[str, Any], day: str) -> dict[str, Any]:
    dataset = Sentinel2TOC(out, bands=['B04', 'B08'])
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    row = dataset.index[dataset.index['period'] == day].index[0]
    return dataset[xmin:xmax, ymin:ymax, row.left : row.right]
