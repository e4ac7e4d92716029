"""The BVM's ``TAG``: a polygon's id and the version (year) of its mapping.

Every polygon of the BVM carries a ``TAG`` such as ``569340_v2014``: the
polygon's id, ``_v`` and the year of the mapping its record comes from. Parts
of the map were surveyed before 2010, and the older a record, the more likely
the land has changed since (:mod:`torchgeo_bvm.maps.ranking` weighs it so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

__all__ = ['mapping_year', 'mapping_years']

_TAG = re.compile(r'^.+_v(?P<year>\d{4})$')


def mapping_year(tag: object) -> int | None:
    """The mapping year in a ``TAG``.

    Args:
        tag: the value of a polygon's ``TAG`` field.

    Returns:
        The year (``2014`` for ``'569340_v2014'``), None when the value does
        not end in ``_v`` and four digits.
    """
    match = _TAG.match(str(tag).strip()) if tag is not None else None
    return int(match['year']) if match else None


def mapping_years(tags: Iterable[object]) -> NDArray[np.float64]:
    """The mapping year of every ``TAG``.

    Args:
        tags: the values.

    Returns:
        The years, NaN where a value holds none.
    """
    years = [mapping_year(tag) for tag in tags]
    return np.asarray([np.nan if y is None else y for y in years], dtype=np.float64)
