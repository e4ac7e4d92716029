r"""How well a ranking finds what it looks for: precision at k, average precision.

A ranking of candidates (BVM polygons most probably out of date first) is
scored against the truth (which of them really changed) as a search engine
is: a mapper visits the top of the list, so what matters is how many of the
first ``k`` are real (**precision at k**), and how early the real ones come
overall:

.. math::

   \mathrm{AP} = \frac{1}{R} \sum_{i \text{ relevant}} P@i

(**average precision**: the precision at the rank of each relevant item,
averaged over all ``R`` relevant items, those the ranking never lists
counting zero). A random order scores about the share of relevant items;
a perfect one scores 1. **Found in the top share** is the share of the
relevant items among the first ``share`` of the list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import BVMValueError

__all__ = ['DEPTHS', 'TOP_SHARE', 'ranking_metrics']

#: The depths precision is reported at.
DEPTHS = (10, 20, 50)
#: The top share of the ranking in which the share of relevant items found is
#: reported.
TOP_SHARE = 0.05


def ranking_metrics(
    relevant: NDArray[np.bool_] | Sequence[bool],
    total_relevant: int | None = None,
    depths: Sequence[int] = DEPTHS,
    top_share: float = TOP_SHARE,
) -> dict[str, float]:
    """Precision at each depth, average precision and the share found at the top.

    Args:
        relevant: for each ranked item, best first, whether it is relevant.
        total_relevant: all relevant items, also those the ranking does not
            list (default: the relevant items in it).
        depths: the depths ``k`` of precision at ``k`` (divided by ``k`` even
            where the ranking is shorter).
        top_share: the share of the ranking whose found items are counted
            (at least one item).

    Returns:
        ``'P@k'`` for each depth, ``'average precision'``, ``'found in the top
        5 %'`` (named by ``top_share``), ``'relevant'`` (the total),
        ``'ranked'`` (the items) and ``'random'`` (what a random order
        scores on average: the relevant share of the items). NaN where there is
        no relevant item.

    Raises:
        BVMValueError: if ``total_relevant`` is less than the relevant items
            listed, or a depth or share is not positive.
    """
    flags = np.asarray(relevant, dtype=bool)
    listed = int(flags.sum())
    total = listed if total_relevant is None else int(total_relevant)
    if total < listed:
        raise BVMValueError(
            f'{total} relevant items in all, but {listed} in the ranking alone'
        )
    if any(k <= 0 for k in depths) or not 0 < top_share <= 1:
        raise BVMValueError(
            f'depths {list(depths)} and top share {top_share}: expected positive '
            'depths and a share in (0, 1]'
        )
    ranks = np.flatnonzero(flags) + 1
    hits = np.arange(1, listed + 1)
    nothing = total == 0
    result: dict[str, float] = {}
    for k in depths:
        result[f'P@{k}'] = float(flags[:k].sum() / k)
    result['average precision'] = (
        float('nan') if nothing else float(np.sum(hits / ranks) / total)
    )
    top = max(1, math.ceil(top_share * len(flags)))
    result[f'found in the top {100 * top_share:g} %'] = (
        float('nan') if nothing else float(flags[:top].sum() / total)
    )
    result['relevant'] = float(total)
    result['ranked'] = float(len(flags))
    result['random'] = float('nan') if not len(flags) else total / len(flags)
    return result
