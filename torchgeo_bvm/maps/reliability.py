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
from .files import CONFIDENCE_SCALE, ClassMap, find_class_maps, sibling_path

__all__ = ['map_outcomes', 'map_reliability']


def map_outcomes(
    maps: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    reference: str | os.PathLike[str],
    raw: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
    """Every pixel's confidence code, whether its class is the reference's, its class.

    Args:
        maps: class maps with their ``_confidence`` siblings, or folders of
            them (:func:`~torchgeo_bvm.maps.files.find_class_maps`).
        reference: a class raster of the reference classes (255: none): the
            truth, or the labels of held-out sheets.
        raw: take the maximum of the maps' ``_probabilities`` instead of their
            ``_confidence`` (required beside every map then).

    Returns:
        ``(codes, correct, classes)``: the confidence codes (0..250), the
        outcomes and the map's classes of the pixels with a class, a
        confidence and a reference class.

    Raises:
        BVMFileError: if the reference raster, or with ``raw`` a
            ``_probabilities`` raster, does not exist.
        BVMValueError: if the reference shares no pixel with the maps.
    """
    reference = Path(reference)
    if not reference.is_file():
        raise BVMFileError(f'reference raster not found: {reference}')
    codes: list[NDArray[np.int64]] = []
    outcomes: list[NDArray[np.bool_]] = []
    predicted: list[NDArray[np.int64]] = []
    for item in find_class_maps(maps, confidence=True):
        classes, confidence, true = _read(item, reference, raw)
        counted = (
            (classes != IGNORE_INDEX)
            & (confidence != IGNORE_INDEX)
            & (true != IGNORE_INDEX)
        )
        codes.append(confidence[counted].astype(np.int64))
        outcomes.append(classes[counted] == true[counted])
        predicted.append(classes[counted].astype(np.int64))
    found = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    if not found.size:
        raise BVMValueError(
            f'{reference}: no pixel with a reference class where the maps have a class'
        )
    return found, np.concatenate(outcomes), np.concatenate(predicted)


def map_reliability(
    maps: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    truth: str | os.PathLike[str],
    raw: bool = False,
) -> Reliability:
    """The reliability of fused maps' confidence against true classes.

    Args:
        maps: class maps with their ``_confidence`` siblings, or folders of
            them (:func:`~torchgeo_bvm.maps.files.find_class_maps`).
        truth: a class raster of the true classes (255: none).
        raw: the fused probabilities' maximum instead of the confidence (see
            :func:`map_outcomes`).

    Returns:
        The pixels by confidence bin, right or wrong.

    Raises:
        BVMFileError: if the truth raster does not exist.
        BVMValueError: if it shares no pixel with the maps.
    """
    codes, correct, _ = map_outcomes(maps, truth, raw)
    bins = Reliability()
    bins.add(codes.astype(np.float64) / CONFIDENCE_SCALE, correct)
    return bins


def _read(
    item: ClassMap, reference: Path, raw: bool
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """The map's classes and confidence, and the reference on the map's grid."""
    assert item.confidence is not None
    with rasterio.open(item.path) as source:
        classes = source.read(1)
    if raw:
        path = sibling_path(item.path, '_probabilities')
        if not path.is_file():
            raise BVMFileError(
                f'{item.path}: no {path.name} beside it: the raw confidence is the '
                'maximum of the fused probabilities (predict with probabilities)'
            )
        with rasterio.open(path) as source:
            confidence = source.read().max(axis=0)
    else:
        with rasterio.open(item.confidence) as source:
            confidence = source.read(1)
    grid = item.grid
    with (
        rasterio.open(reference) as source,
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
