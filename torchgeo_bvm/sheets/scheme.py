"""Split schemes: which sub-sheets of every map sheet train, validate and test."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, box

from ..errors import BVMValueError
from ..spatial.geometry import reproject_geometry
from .codes import KBL_CRS, KBL_NAMES, Sheet, is_sheet_part, numbers_or_all, sheets

if TYPE_CHECKING:
    pass

__all__ = [
    'PAPER_SPLIT',
    'SplitScheme',
]

# -- the split ---------------------------------------------------------------

#: The paper's split: per ``kbl`` sheet X, train = X/1-2 and X/5-6,
#: validation = X/3-4, test = X/7-8 (50/25/25 % of the area).
PAPER_SPLIT: dict[str, str] = {
    '1-2': 'train',
    '5-6': 'train',
    '3-4': 'val',
    '7-8': 'test',
}


class SplitScheme:
    """An assignment of sub-sheets to dataset splits.

    The assignment maps sheet parts to split names. A key is either a part that
    applies to every ``kbl`` sheet (``'1-2'``, ``'3'``, ``'4N'``) or a full code that
    applies to one sheet only and overrides the parts (``'15/3-4'``). Together the
    keys must tile every sheet exactly once: the assignment is checked on the 16
    ``kbl16`` sheets of every ``kbl`` sheet.

    Args:
        assignment: sheet part or code -> split name (default :data:`PAPER_SPLIT`).

    Raises:
        ValueError: if a key is not a valid part or code, if two keys overlap, or if
            some part of a sheet is assigned to no split.
    """

    def __init__(self, assignment: Mapping[str, str] | None = None) -> None:
        self.assignment = dict(PAPER_SPLIT if assignment is None else assignment)
        self._generic: dict[str, str] = {}
        self._specific: dict[Sheet, str] = {}
        for key, split in self.assignment.items():
            if not isinstance(split, str) or not split:
                raise BVMValueError(
                    f'split name for {key!r} must be a non-empty string'
                )
            if is_sheet_part(key.upper()) and key:
                self._generic[key.upper()] = split
            else:
                sheet = Sheet.parse(key)
                self._specific[sheet] = split
        self._leaf_split = self._resolve_leaves()

    def _resolve_leaves(self) -> dict[Sheet, tuple[str, Sheet]]:
        leaves: dict[Sheet, tuple[str, Sheet]] = {}
        for number in sorted(KBL_NAMES):
            overridden = [s for s in self._specific if s.number == number]
            owners = overridden or [Sheet(number, part) for part in self._generic]
            for leaf in sheets('kbl16', [number]):
                hits = [o for o in owners if o.contains(leaf)]
                if len(hits) > 1:
                    codes = ', '.join(h.code for h in hits)
                    raise BVMValueError(
                        f'split scheme: sheets {codes} overlap at {leaf.code}'
                    )
                if not hits:
                    raise BVMValueError(self._untiled(leaf, overridden))
                owner = hits[0]
                split = self._specific.get(owner) or self._generic[owner.part]
                leaves[leaf] = (split, owner)
        return leaves

    def _untiled(self, leaf: Sheet, overridden: list[Sheet]) -> str:
        """Why ``leaf`` has no split, with the rule for part and sheet keys."""
        parts = ', '.join(self._generic) or 'none'
        if overridden:
            given = ', '.join(s.code for s in overridden)
            return (
                f'split scheme assigns no split to sheet {leaf.code}: keys naming '
                f'sheet {leaf.number} ({given}) replace the part keys ({parts}) for '
                f'that sheet, so they must cover all of it'
            )
        specific = ', '.join(sorted({str(s.number) for s in self._specific}))
        rule = (
            f'; sheet keys ({specific}) apply to their own sheet only'
            if specific
            else ''
        )
        return (
            f'split scheme assigns no split to sheet {leaf.code}: the part keys '
            f'({parts}) must tile every sheet (1-2, 3-4, 5-6, 7-8 or finer '
            f'parts){rule}'
        )

    @property
    def splits(self) -> list[str]:
        """The split names in the order they first appear in the assignment."""
        return list(dict.fromkeys(self.assignment.values()))

    def split_of(self, sheet: Sheet | str) -> str:
        """The split a sheet belongs to.

        Args:
            sheet: a sheet or code lying inside one part of the scheme.

        Returns:
            The split name.

        Raises:
            ValueError: if the sheet straddles parts of different splits.
        """
        sheet = Sheet.parse(sheet)
        found = {self._leaf_split[leaf][0] for leaf in _leaves(sheet)}
        if len(found) != 1:
            raise BVMValueError(
                f'sheet {sheet.code} straddles the splits {sorted(found)}; '
                'use a finer level'
            )
        return found.pop()

    def sheets(
        self, split: str, numbers: Iterable[int | str] | None = None
    ) -> list[Sheet]:
        """The sheets of one split, as assigned (e.g. ``kbl4`` sheets for the paper).

        Args:
            split: a split name of this scheme.
            numbers: ``kbl`` sheet numbers to keep (default: all 43).

        Returns:
            The sheets in order.

        Raises:
            ValueError: if ``split`` is not a split of this scheme.
        """
        self._check_split(split)
        keep = set(numbers_or_all(numbers))
        owners = {
            owner: None
            for leaf, (name, owner) in self._leaf_split.items()
            if name == split and leaf.number in keep
        }
        return sorted(owners)

    def geometry(
        self,
        split: str,
        numbers: Iterable[int | str] | None = None,
        crs: CRS | str | int = 'EPSG:4326',
        densify: float = 100.0,
    ) -> Polygon | MultiPolygon:
        """One (Multi)Polygon covering a split, usable as a TorchGeo ``roi``.

        Args:
            split: a split name of this scheme.
            numbers: ``kbl`` sheet numbers to keep (default: all 43).
            crs: CRS of the result (default EPSG:4326).
            densify: maximum edge length in metres before reprojecting.

        Returns:
            The union of the split's sheets.
        """
        parts = [box(*s.bounds) for s in self.sheets(split, numbers)]
        union = shapely.union_all(parts)
        geometry = reproject_geometry(union, KBL_CRS, crs, densify)
        return cast(Polygon | MultiPolygon, geometry)

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise BVMValueError(
                f'unknown split {split!r}: this scheme has {self.splits}'
            )

    def __repr__(self) -> str:
        return f'SplitScheme({self.assignment!r})'


def _leaves(sheet: Sheet) -> list[Sheet]:
    return [sheet] if sheet.level == 'kbl16' else sheet.children('kbl16')
