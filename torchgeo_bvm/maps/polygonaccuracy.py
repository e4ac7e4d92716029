"""The map's agreement with the BVM as accuracies per sheet, with their interval.

The zonal counts of a comparison give, for every BVM polygon, how many of its
pixels the map puts in each class: a row of a confusion matrix (the BVM's
class against the map's). :func:`polygon_accuracy` adds these rows up per
evaluation unit (the sheet, or block of a sheet, holding a point on the
polygon's surface; :class:`~torchgeo_bvm.evaluation.units.EvaluationUnits`)
into an :class:`~torchgeo_bvm.evaluation.accuracy.AccuracyReport`: overall
accuracy, per-class IoU, F1, user's and producer's accuracy, per sheet and
with a 95 % interval from a bootstrap over whole sheets. Every pixel counts
for each polygon that holds it (the zonal rule), so where polygons overlap a
pixel counts more than once; the BVM is the reference, so its own errors (an
out-of-date record) count as the map's.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from ..classes import CLASS_NAMES, NUM_CLASSES
from ..evaluation.accuracy import AccuracyReport
from ..evaluation.units import NO_UNIT, EvaluationUnits

__all__ = ['polygon_accuracy']


def polygon_accuracy(
    counts: NDArray[np.int64],
    bvm_class: NDArray[np.uint8],
    geometries: NDArray[np.object_],
    crs: CRS,
    units: EvaluationUnits,
) -> AccuracyReport:
    """Confusion matrices of the BVM against the map, per evaluation unit.

    Args:
        counts: ``[polygons, NUM_CLASSES]`` the map's pixels of each class per
            polygon (:class:`~torchgeo_bvm.maps.compare.ZonalCounts`).
        bvm_class: each polygon's BVM class (IGNORE_INDEX: none).
        geometries: the polygons (valid, in ``crs``).
        crs: their CRS.
        units: what a unit is.

    Returns:
        The report, units by name (polygons with a class and a pixel only).
    """
    used = (bvm_class < NUM_CLASSES) & (counts.sum(axis=1) > 0)
    used &= ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    rows = np.flatnonzero(used)
    points = shapely.point_on_surface(geometries[rows])
    unit = units.of_points(shapely.get_x(points), shapely.get_y(points), crs)
    keys = sorted({int(u) for u in unit if u != NO_UNIT}, key=units.name)
    confusions = np.zeros((len(keys), NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    position = {key: i for i, key in enumerate(keys)}
    for row, key in zip(rows, unit, strict=True):
        if key != NO_UNIT:
            confusions[position[int(key)], bvm_class[row]] += counts[row]
    return AccuracyReport(
        list(CLASS_NAMES),
        [units.name(k) for k in keys],
        confusions,
        unit_kind=units.describe(),
    )
