"""Whether a fused map's confidence is a probability: its reliability against a truth.

A fused map's ``_confidence`` raster says how sure the map is of each pixel's
class. :func:`map_reliability` checks it against a raster of the true classes
(the mini-Flanders' ``truth/landcover_YYYY.tif`` of the map's year, or any
reference classes): every pixel with a class, a confidence and a true class
goes into the bin of its confidence, right or wrong
(:class:`~torchgeo_bvm.evaluation.calibration.Reliability`, 15 bins), which
gives the expected calibration error and the reliability diagram. The truth
is read on each map's own grid (nearest; on the same pixel lattice it is the
truth's own pixels).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from ..classes import IGNORE_INDEX
from ..errors import BVMFileError, BVMValueError
from ..evaluation.calibration import Reliability
from .files import CONFIDENCE_SCALE, ClassMap, find_class_maps

__all__ = ['map_reliability']


def map_reliability(
    maps: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    truth: str | os.PathLike[str],
) -> Reliability:
    """The reliability of fused maps' confidence against true classes.

    Args:
        maps: class maps with their ``_confidence`` siblings, or folders of
            them (:func:`~torchgeo_bvm.maps.files.find_class_maps`).
        truth: a class raster of the true classes (255: none).

    Returns:
        The pixels by confidence bin, right or wrong.

    Raises:
        BVMFileError: if the truth raster does not exist.
        BVMValueError: if it shares no pixel with the maps.
    """
    truth = Path(truth)
    if not truth.is_file():
        raise BVMFileError(f'truth raster not found: {truth}')
    bins = Reliability()
    for item in find_class_maps(maps, confidence=True):
        classes, confidence, true = _read(item, truth)
        counted = (
            (classes != IGNORE_INDEX)
            & (confidence != IGNORE_INDEX)
            & (true != IGNORE_INDEX)
        )
        bins.add(
            confidence[counted].astype(np.float64) / CONFIDENCE_SCALE,
            classes[counted] == true[counted],
        )
    if bins.total == 0:
        raise BVMValueError(
            f'{truth}: no pixel with a true class where the maps have a class'
        )
    return bins


def _read(
    item: ClassMap, truth: Path
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """The map's classes and confidence, and the truth on the map's grid."""
    assert item.confidence is not None
    with rasterio.open(item.path) as source:
        classes = source.read(1)
    with rasterio.open(item.confidence) as source:
        confidence = source.read(1)
    grid = item.grid
    with (
        rasterio.open(truth) as source,
        WarpedVRT(
            source,
            crs=grid.crs,
            transform=grid.transform,
            width=grid.shape[1],
            height=grid.shape[0],
            resampling=Resampling.nearest,
            nodata=IGNORE_INDEX,
        ) as warped,
    ):
        true = warped.read(1)
    return classes, confidence, true
