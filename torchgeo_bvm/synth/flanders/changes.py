r"""A mini-Flanders that changes: land cover that moved on after the BVM mapped it.

The BVM is a field survey: each polygon records what its surveyor saw in the
year its ``TAG`` names (``569340_v2014``), and parts of today's map were
surveyed before 2010. :func:`draw_changes` gives a share of the BVM's polygons
(:data:`CHANGE_SHARE`, about 3 %) a land cover that changed after their
mapping; the imagery shows the new cover from the change year on, while the
BVM keeps the old record. What changed is written beside the data as the
truth (:mod:`.truth`).

**How many, and which.** ``round(share x polygons)`` changes are split over
the :data:`TRANSITIONS` by their share (:func:`split_count`). Each transition
draws its polygons among those of its source kinds, without replacement, with a chance
proportional to the years between the mapping and :data:`LAST_YEAR`: with a
small yearly chance ``h`` of a change, the chance that a polygon changed
since it was mapped ``a`` years ago is ``1 - (1 - h)^a``, about ``h a``; so a
record of 1997 is six times as likely to be out of date as one of 2018, and
one of the last imagery year cannot be. The change year is drawn uniformly
among the years after the mapping, up to :data:`LAST_YEAR` (a constant
yearly chance makes every year alike).

**The transitions and their real-world basis.** Approximate figures, from
memory of public Flemish sources; they set the proportions between the
transitions, not exact rates:

* *grassland ploughed to cropland* (35 %) and *cropland sown to grassland*
  (25 %): the most common change in Flemish farmland. About a third of the
  grassland in the farmers' parcel registrations (Departement Landbouw en
  Visserij) is temporary grassland in rotation with crops, so every year a
  few percent of the farmland parcels switch between grass and crops, in both
  directions (more ploughing than sowing: permanent grassland declined);
* *land built on* (15 %, cropland or grassland to urban): Flanders' land
  take, roughly 5 to 6 ha a day around 2015-2020 (Ruimterapport Vlaanderen,
  Departement Omgeving), about 0.15 % of the region a year, almost all of it
  on farmland;
* *scrub encroachment* (15 %, heath or grassland to scrub, which the BVM
  classes as Woodland and shrub): heath and unmanaged grassland overgrow
  with birch, pine and blackthorn within a decade without grazing or
  mowing (INBO's Natuurrapport lists encroachment among the main pressures
  on heath);
* *woodland cleared* (10 %, woodland to grassland): gross deforestation of
  the order of 200 to 300 ha a year in Flanders (Natuurrapport, forest
  inventory), small beside the farmland changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...bvm.tags import mapping_year
from ...classes import CLASS_NAMES
from ...errors import BVMValueError
from ..noise import seeded_rng
from .kinds import KIND, KINDS
from .region import SEASON_YEAR

__all__ = [
    'CHANGE_SHARE',
    'LAST_YEAR',
    'TRANSITIONS',
    'Changes',
    'Transition',
    'draw_changes',
    'split_count',
    'version_years',
]

#: The share of the BVM's polygons whose land cover changed after their mapping.
CHANGE_SHARE = 0.03
#: The last year a change can happen in: the last year of imagery (the season).
LAST_YEAR = SEASON_YEAR


@dataclass(frozen=True)
class Transition:
    """One kind of land-cover change.

    Args:
        name: what happened, in words.
        sources: the kinds a polygon may have had.
        target: the kind it became.
        share: the share of all changes that are this one.
    """

    name: str
    sources: tuple[str, ...]
    target: str
    share: float


#: The changes that really happen in Flanders, with their share of all changes
#: (see the module for their basis).
TRANSITIONS: tuple[Transition, ...] = (
    Transition('grassland ploughed', ('grass',), 'arable', 0.35),
    Transition('cropland sown to grassland', ('arable',), 'grass', 0.25),
    Transition('built on', ('arable', 'grass'), 'urban', 0.15),
    Transition('scrub encroachment', ('heath', 'grass'), 'scrub', 0.15),
    Transition('woodland cleared', ('wood', 'poplar', 'conifer'), 'grass', 0.10),
)


@dataclass(frozen=True)
class Changes:
    """The polygons of a BVM layer whose land cover changed after their mapping.

    Args:
        rows: their rows in the BVM layer, ascending.
        new_kinds: the kind each became.
        years: the year each changed.
        transitions: the index into :data:`TRANSITIONS` of each change.
    """

    rows: NDArray[np.int64]
    new_kinds: NDArray[np.int64]
    years: NDArray[np.int64]
    transitions: NDArray[np.int64]

    def __len__(self) -> int:
        """The number of changed polygons."""
        return len(self.rows)

    def true_classes(self) -> NDArray[np.uint8]:
        """The class id of each changed polygon's new land cover.

        Returns:
            Class ids, as the label rasters hold them.
        """
        names = [KINDS[_KIND_NAMES[k]][0] for k in self.new_kinds]
        return np.asarray([CLASS_NAMES.index(n) for n in names], dtype=np.uint8)

    def counts(self) -> dict[str, int]:
        """How many changes of each transition.

        Returns:
            Transition name -> count, in the order of :data:`TRANSITIONS`.
        """
        found = np.bincount(self.transitions, minlength=len(TRANSITIONS))
        return {t.name: int(n) for t, n in zip(TRANSITIONS, found, strict=True)}


_KIND_NAMES = tuple(KINDS)


def split_count(total: int, shares: list[float]) -> list[int]:
    """Split a count by shares into whole numbers that add up to it.

    Each part is its share's floor; the parts left over go to the largest
    remainders (the first of equal ones).

    Args:
        total: the count.
        shares: the shares, adding up to 1.

    Returns:
        The parts.
    """
    exact = np.asarray(shares, dtype=np.float64) * total
    parts = np.floor(exact + 1e-9).astype(int)
    left = total - int(parts.sum())
    order = np.argsort(-(exact - parts), kind='stable')
    parts[order[: max(left, 0)]] += 1
    return [int(p) for p in parts]


def version_years(tags: NDArray[np.object_] | list[str]) -> NDArray[np.int64]:
    """The mapping year of each polygon from its ``TAG`` (``569340_v2014``).

    Args:
        tags: the ``TAG`` values.

    Returns:
        The years.

    Raises:
        BVMValueError: if a tag does not end in ``_v`` and a year.
    """
    years = []
    for tag in tags:
        year = mapping_year(tag)
        if year is None:
            raise BVMValueError(
                f'TAG {tag!r}: expected a polygon id and its mapping version, '
                "e.g. '569340_v2014'"
            )
        years.append(year)
    return np.asarray(years, dtype=np.int64)


def draw_changes(
    kinds: NDArray[np.int64],
    mapped: NDArray[np.int64],
    seed: int,
    share: float = CHANGE_SHARE,
) -> Changes:
    """Draw which BVM polygons changed after their mapping, into what and when.

    Args:
        kinds: the kind of each BVM polygon as mapped.
        mapped: the year each was mapped (:func:`version_years` of its ``TAG``).
        seed: the scene's seed.
        share: the share of the polygons that change, 0 to 0.5.

    Returns:
        The changes (see the module for the rules).

    Raises:
        BVMValueError: for a share outside 0 to 0.5.
    """
    if not 0.0 <= share <= 0.5:
        raise BVMValueError(f'change share {share}: expected 0 to 0.5')
    rng = seeded_rng(seed, 40)
    age = np.clip(LAST_YEAR - mapped, 0, None)
    total = round(share * len(kinds))
    taken = np.zeros(len(kinds), dtype=bool)
    rows, new_kinds, which = [], [], []
    wanted = split_count(total, [t.share for t in TRANSITIONS])
    for index, transition in enumerate(TRANSITIONS):
        eligible = np.isin(kinds, [KIND[k] for k in transition.sources])
        pool = np.flatnonzero(eligible & ~taken & (age > 0))
        count = min(wanted[index], len(pool))
        if count == 0:
            continue
        weights = age[pool].astype(np.float64)
        chosen = rng.choice(pool, count, replace=False, p=weights / weights.sum())
        taken[chosen] = True
        rows.append(chosen)
        new_kinds.append(np.full(count, KIND[transition.target], dtype=np.int64))
        which.append(np.full(count, index, dtype=np.int64))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Changes(empty, empty, empty, empty)
    row = np.concatenate(rows)
    order = np.argsort(row, kind='stable')
    row = row[order]
    # Uniform among the years after the mapping, up to the last year.
    years = mapped[row] + 1 + np.floor(rng.random(len(row)) * age[row]).astype(int)
    return Changes(
        row,
        np.concatenate(new_kinds)[order],
        years.astype(np.int64),
        np.concatenate(which)[order],
    )
