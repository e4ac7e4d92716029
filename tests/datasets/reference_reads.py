"""An independent reading of Sentinel2TOC samples, the way TorchGeo reads rasters.

:class:`~torchgeo_bvm.datasets.Sentinel2TOC` reads a window that lies on a file's
own pixels with one plain windowed read. The tests check those reads against
this module, which reads every band of every file touched by a query through
``rasterio.merge.merge`` (TorchGeo's ``RasterDataset`` path: a masked read into a
nodata-filled mosaic on the query grid) and applies the cloud rule, band by band
and file by file, without any of the dataset's shortcuts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import rasterio.merge
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import Resampling

from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.spatial.crs import pixel_size_m


def _sources(filepath: str, bands: tuple[str, ...]) -> tuple[list, tuple | None]:
    """(path, 1-based band) of each band, and of SCL, of one index entry."""
    if Path(filepath).is_dir():  # a Terrascope product: one file per band
        files = sorted(Path(filepath).glob('*.tif'))

        def find(kind: str) -> str:
            (path,) = [f for f in files if f'_{kind}_' in f.name]
            return str(path)

        scl = [f for f in files if '_SCENECLASSIFICATION_' in f.name]
        return [(find(f'TOC-{b}'), 1) for b in bands], (
            (str(scl[0]), 1) if scl else None
        )
    with rasterio.open(filepath) as src:
        names = [d.upper() for d in src.descriptions]
    scl_index = names.index('SCL') + 1 if 'SCL' in names else None
    return [(filepath, names.index(b) + 1) for b in bands], (
        (filepath, scl_index) if scl_index else None
    )


def _merged(
    path: str,
    index: int,
    bounds: tuple[float, float, float, float],
    res: tuple[float, float],
    resampling: Resampling,
) -> NDArray[np.float32]:
    with rasterio.open(path) as src:
        data, _ = rasterio.merge.merge(
            [src],
            bounds=bounds,
            res=res,
            indexes=[index],
            resampling=resampling,
            dtype='float32',
            nodata=np.nan,
        )
    return data[0]


def reference_read(
    dataset: Sentinel2TOC, x: slice, y: slice, t: slice
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """``image`` and ``valid`` of a query, read independently.

    Args:
        dataset: the dataset (its files must be in its CRS).
        x: the query's x slice, with its resolution as step.
        y: the y slice, likewise.
        t: the time slice.

    Returns:
        The image (0 where a band has no data) and the valid mask.
    """
    res = (x.step, y.step)
    bounds = (x.start, y.start, x.stop, y.stop)
    shape = (round((y.stop - y.start) / y.step), round((x.stop - x.start) / x.step))
    index = dataset.index
    rows = index.iloc[index.index.overlaps(pd.Interval(t.start, t.stop))]
    rows = rows.iloc[:: t.step].cx[x.start : x.stop, y.start : y.stop]
    order = sorted(zip(rows.index.left, rows['filepath'], strict=True), key=lambda r: r)
    rule = dataset.cloud_rule
    bx, by, _ = dataset.bounds
    centre = ((bx.start + bx.stop) / 2, (by.start + by.stop) / 2)
    pixel_m = pixel_size_m(CRS.from_user_input(dataset.crs), res, centre)
    mx, my = rule.margin(pixel_m) if rule is not None else (0, 0)
    wide = (
        x.start - mx * x.step,
        y.start - my * y.step,
        x.stop + mx * x.step,
        y.stop + my * y.step,
    )
    image = valid = covered = None
    for _, filepath in order:
        band_sources, scl_source = _sources(filepath, dataset.bands)
        for path, _ in band_sources:
            with rasterio.open(path) as src:
                assert CRS.from_user_input(src.crs) == dataset.crs, 'files in the CRS'
        item = np.stack(
            [
                _merged(path, i, bounds, res, dataset.resampling)
                for path, i in band_sources
            ]
        )
        missing = np.isnan(item)
        item_covered, item_valid = ~missing.all(axis=0), ~missing.any(axis=0)
        item = np.where(missing, 0.0, item).astype(np.float32)
        if rule is not None and scl_source is not None:
            scl = _merged(*scl_source, wide, res, Resampling.nearest)
            classes = np.where(np.isnan(scl), 0, scl).astype(np.uint8)
            usable = rule.mask(classes, pixel_m)
            item_valid &= usable[my : my + shape[0], mx : mx + shape[1]]
        if image is None:
            image, valid, covered = item, item_valid, item_covered
            continue
        take = (item_valid & ~valid) | (item_covered & ~covered & ~valid)
        image = np.where(take, item, image)
        valid = valid | (take & item_valid)
        covered = covered | item_covered
    assert image is not None
    assert valid is not None
    assert not math.isnan(float(image.sum()))
    return image, valid
