"""The NGI map-sheet grid ("Kaartbladversnijdingen NGI, numerieke reeks").

Flanders is covered by 43 sheets of the 1:50,000 series (``kbl``), each exactly
32 km x 20 km in Belgian Lambert 72 (EPSG:31370). Each sheet ``X`` is cut into

* ``kbl4`` (1:25,000): ``X/1-2`` (north-west), ``X/3-4`` (north-east), ``X/5-6``
  (south-west), ``X/7-8`` (south-east), 16 km x 10 km each;
* ``kbl8`` (1:20,000): ``X/1`` .. ``X/8``, 8 km x 10 km, ``1 2 3 4`` across the
  northern row from west to east, ``5 6 7 8`` across the southern row;
* ``kbl16`` (1:10,000): every ``kbl8`` sheet halved into a northern ``X/kN`` and a
  southern ``X/kZ`` (*zuid*) sheet, 8 km x 5 km.

The grid is generated here without any download; :func:`read_official` and
:func:`compare_official` read and check the official Digitaal Vlaanderen files
(``Kbl.shp``, ``Kbl4.shp``, ``Kbl8.shp``, ``Kbl16.shp``).

The layout of the sub-sheets inside a sheet is inferred from the sheet sizes and
the NGI sheet drawings; it is kept in :data:`KBL8_POSITIONS` and nowhere else.

:class:`SplitScheme` assigns sub-sheets to train/validation/test splits, the
paper's scheme (:data:`PAPER_SPLIT`) by default. Sheet codes are parsed in one
place: :meth:`Sheet.parse` for one code of any level, :func:`iter_codes` for a
list of them and :func:`kbl_numbers` where only whole 1:50,000 sheets make sense.
:func:`~torchgeo_bvm.plot.plot_grid` draws the sheets by split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, box

from .crs import to_lambert72
from .errors import BVMNotFoundError, BVMValueError
from .geometry import reproject_geometry

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    'KBL_CRS',
    'KBL_NAMES',
    'LEVELS',
    'PAPER_SPLIT',
    'Level',
    'Sheet',
    'SheetDifference',
    'SplitScheme',
    'compare_official',
    'grid',
    'iter_codes',
    'kbl_numbers',
    'read_official',
    'sheets',
]

Level = Literal['kbl', 'kbl4', 'kbl8', 'kbl16']

#: The sheet levels from coarse to fine.
LEVELS: tuple[Level, ...] = ('kbl', 'kbl4', 'kbl8', 'kbl16')

#: The CRS of the grid (Belgian Lambert 72).
KBL_CRS = CRS.from_epsg(31370)

#: Width and height of a ``kbl`` sheet in metres.
KBL_WIDTH = 32_000.0
KBL_HEIGHT = 20_000.0
_GRID_X0 = 2_000.0
_GRID_Y0 = 138_000.0

#: Official sheet names (``NAAM``) of the 43 ``kbl`` sheets.
KBL_NAMES: dict[int, str] = {
    1: 'Essen',
    2: 'Meerle',
    3: 'Maarle',
    4: 'Blankenberge',
    5: 'Westkapelle',
    6: 'Watervliet',
    7: 'Kapellen',
    8: 'Turnhout',
    9: 'Arendonk',
    10: 'Beverbeek',
    11: 'Oostduinkerke',
    12: 'Oostende',
    13: 'Brugge',
    14: 'Lokeren',
    15: 'Antwerpen',
    16: 'Lier',
    17: 'Mol',
    18: 'Maaseik',
    19: 'Veurne',
    20: 'Roeselare',
    21: 'Tielt',
    22: 'Gent',
    23: 'Mechelen',
    24: 'Aarschot',
    25: 'Hasselt',
    26: 'Rekem',
    27: 'Proven',
    28: 'Ieper',
    29: 'Kortrijk',
    30: 'Geraardsbergen',
    31: 'Brussel-Bruxelles',
    32: 'Leuven',
    33: 'Sint-Truiden',
    34: 'Tongeren',
    35: 'Gemmenich',
    36: 'Ploegsteert',
    37: 'Tournai',
    38: 'Ath',
    39: 'Nivelles',
    40: 'Wavre',
    41: 'Waremme',
    42: 'Liège',
    43: 'Limbourg',
}

# Sheets are numbered west to east within a row, rows from north to south; each
# row lists (first sheet number, column of that sheet, sheets in the row), with
# column i at x = 2000 + 32000 i and row j at y = 138000 + 20000 j.
_ROWS: tuple[tuple[int, int, int, int], ...] = (
    # (row j, first number, first column i, count)
    (5, 1, 4, 3),
    (4, 4, 1, 7),
    (3, 11, 0, 8),
    (2, 19, 0, 8),
    (1, 27, 0, 9),
    (0, 36, 1, 8),
)


def _kbl_cells() -> dict[int, tuple[int, int]]:
    cells: dict[int, tuple[int, int]] = {}
    for row, first, column, count in _ROWS:
        for k in range(count):
            cells[first + k] = (column + k, row)
    return cells


_KBL_CELLS = _kbl_cells()

#: Position of each ``kbl8`` sheet inside its ``kbl`` sheet as (column, row) with
#: column 0..3 from west to east and row 0 = north, 1 = south.
KBL8_POSITIONS: dict[int, tuple[int, int]] = {
    k: ((k - 1) % 4, (k - 1) // 4) for k in range(1, 9)
}

#: The ``kbl4`` parts: the pair of ``kbl8`` sheets each one joins.
KBL4_PARTS: dict[str, tuple[int, int]] = {
    '1-2': (1, 2),
    '3-4': (3, 4),
    '5-6': (5, 6),
    '7-8': (7, 8),
}

_EXPECTED_FORMS = (
    "'X' (kbl), 'X/1-2', 'X/3-4', 'X/5-6', 'X/7-8' (kbl4), 'X/1' .. 'X/8' (kbl8) "
    "or 'X/1N' .. 'X/8Z' (kbl16), with X = 1..43; '_' may stand for '/' and "
    'N/Z may be lower case'
)
_CODE_PATTERN = re.compile(
    r"""^\s*(?P<number>\d{1,2})
        (?:\s*[/_]\s*(?P<part>[1-8](?:-[1-8]|[NnZz])?))?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True, order=True)
class Sheet:
    """One map sheet of any level.

    Create sheets with :meth:`parse`, which accepts every spelling of a code.

    Args:
        number: the ``kbl`` sheet number, 1..43.
        part: the part inside that sheet: ``''`` (the whole sheet), a ``kbl4`` part
            such as ``'1-2'``, a ``kbl8`` part ``'1'`` .. ``'8'`` or a ``kbl16`` part
            ``'1N'`` .. ``'8Z'``.

    Raises:
        ValueError: if the number or the part does not exist.
    """

    number: int
    part: str = ''

    def __post_init__(self) -> None:
        if self.number not in KBL_NAMES:
            raise BVMValueError(
                f'unknown map sheet number {self.number}: the Flemish 1:50,000 '
                'sheets are numbered 1..43'
            )
        if not _is_valid_part(self.part):
            raise BVMValueError(
                f'invalid map sheet part {self.part!r} of sheet {self.number}; '
                f'expected {_EXPECTED_FORMS}'
            )

    @classmethod
    def parse(cls, code: str | int | Sheet) -> Sheet:
        """Parse a sheet code in any of its spellings.

        ``'15/1n'``, ``'15/1N'`` and the file-safe ``'15_1N'`` are the same sheet.

        Args:
            code: a sheet code, a ``kbl`` sheet number or a :class:`Sheet`.

        Returns:
            The sheet.

        Raises:
            ValueError: naming the code and the expected forms if it is not a valid
                code of an existing sheet.
        """
        if isinstance(code, Sheet):
            return code
        if isinstance(code, int) and not isinstance(code, bool):
            return cls(code)
        match = _CODE_PATTERN.match(str(code))
        if match is None:
            raise BVMValueError(
                f'invalid map sheet code {code!r}: expected {_EXPECTED_FORMS}'
            )
        part = (match['part'] or '').upper()
        try:
            return cls(int(match['number']), part)
        except ValueError as error:
            raise BVMValueError(f'invalid map sheet code {code!r}: {error}') from None

    @property
    def level(self) -> Level:
        """The level of the sheet: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``."""
        if not self.part:
            return 'kbl'
        if '-' in self.part:
            return 'kbl4'
        if self.part.isdigit():
            return 'kbl8'
        return 'kbl16'

    @property
    def code(self) -> str:
        """The official code, e.g. ``'15'``, ``'15/1-2'``, ``'15/1'`` or ``'15/1N'``."""
        return f'{self.number}/{self.part}' if self.part else str(self.number)

    @property
    def file_safe(self) -> str:
        """The code with ``/`` replaced by ``_`` for file and folder names."""
        return self.code.replace('/', '_')

    @property
    def name(self) -> str:
        """The official name (``NAAM``) of the ``kbl`` sheet this sheet lies in."""
        return KBL_NAMES[self.number]

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in EPSG:31370 metres."""
        column, row = _KBL_CELLS[self.number]
        x0 = _GRID_X0 + KBL_WIDTH * column
        y0 = _GRID_Y0 + KBL_HEIGHT * row
        if not self.part:
            return (x0, y0, x0 + KBL_WIDTH, y0 + KBL_HEIGHT)
        width8, height8 = KBL_WIDTH / 4, KBL_HEIGHT / 2
        if self.level == 'kbl4':
            west, east = KBL4_PARTS[self.part]
            (c0, r), (c1, _) = KBL8_POSITIONS[west], KBL8_POSITIONS[east]
            left, right = c0, c1 + 1
        else:
            c, r = KBL8_POSITIONS[int(self.part[0])]
            left, right = c, c + 1
        top = y0 + KBL_HEIGHT - height8 * r
        bottom = top - height8
        if self.level == 'kbl16':
            middle = (top + bottom) / 2
            bottom, top = (middle, top) if self.part[1] == 'N' else (bottom, middle)
        return (x0 + width8 * left, bottom, x0 + width8 * right, top)

    @property
    def area(self) -> float:
        """Area in square metres."""
        xmin, ymin, xmax, ymax = self.bounds
        return (xmax - xmin) * (ymax - ymin)

    @property
    def parent(self) -> Sheet | None:
        """The sheet one level up (``kbl16`` -> ``kbl8`` -> ``kbl``), or None.

        ``kbl4`` sheets are not a level between ``kbl8`` and ``kbl``: the parent of
        a ``kbl8`` or ``kbl4`` sheet is its ``kbl`` sheet.
        """
        if self.level == 'kbl':
            return None
        if self.level == 'kbl16':
            return Sheet(self.number, self.part[0])
        return Sheet(self.number)

    def kbl4(self) -> Sheet | None:
        """The ``kbl4`` sheet containing this sheet, or None for a whole ``kbl`` sheet.

        Returns:
            The ``kbl4`` sheet.
        """
        if self.level in ('kbl', 'kbl4'):
            return self if self.level == 'kbl4' else None
        k = int(self.part[0])
        for part, pair in KBL4_PARTS.items():
            if k in pair:
                return Sheet(self.number, part)
        raise AssertionError('unreachable: every kbl8 sheet lies in a kbl4 sheet')

    def children(self, level: Level | str) -> list[Sheet]:
        """The sheets of a finer ``level`` that tile this sheet.

        Args:
            level: ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``, finer than this sheet.

        Returns:
            The sub-sheets, north row first, west to east.

        Raises:
            ValueError: if ``level`` is not finer than this sheet's level.
        """
        level = _check_level(level)
        if LEVELS.index(level) <= LEVELS.index(self.level):
            raise BVMValueError(
                f'sheet {self.code} ({self.level}) has no children at level {level!r}'
            )
        candidates = [Sheet(self.number, part) for part in _parts(level)]
        return [c for c in candidates if _contains(self.bounds, c.bounds)]

    def contains(self, other: Sheet | str) -> bool:
        """Whether ``other`` lies inside this sheet (a sheet contains itself).

        Args:
            other: a sheet or sheet code.

        Returns:
            True if ``other`` lies inside this sheet.
        """
        return _contains(self.bounds, Sheet.parse(other).bounds)

    def geometry(
        self, crs: CRS | str | int = KBL_CRS, densify: float = 100.0
    ) -> Polygon:
        """The sheet as a polygon in ``crs``.

        Args:
            crs: target CRS (anything :class:`pyproj.CRS` accepts).
            densify: maximum edge length in metres before reprojecting, so the edges
                stay true in the target CRS; 0 keeps the four corners only.

        Returns:
            The sheet polygon.
        """
        geometry = reproject_geometry(box(*self.bounds), KBL_CRS, crs, densify)
        return cast(Polygon, geometry)

    def __str__(self) -> str:
        return self.code


def _is_valid_part(part: str) -> bool:
    if part == '' or part in KBL4_PARTS:
        return True
    if len(part) == 1:
        return part in '12345678'
    return len(part) == 2 and part[0] in '12345678' and part[1] in 'NZ'


def _parts(level: Level) -> list[str]:
    if level == 'kbl':
        return ['']
    if level == 'kbl4':
        return list(KBL4_PARTS)
    if level == 'kbl8':
        return [str(k) for k in range(1, 9)]
    return [f'{k}{half}' for k in range(1, 9) for half in 'NZ']


def _contains(outer: Sequence[float], inner: Sequence[float]) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _check_level(level: str) -> Level:
    if level not in LEVELS:
        raise BVMValueError(f'unknown sheet level {level!r}: expected one of {LEVELS}')
    return level


def kbl_numbers(codes: str | Iterable[int | str]) -> list[int]:
    """Parse 1:50,000 (``kbl``) sheet numbers, strictly.

    A code of a finer level (``'22/1-2'``) names only part of a sheet and is an
    error, never read as its whole sheet.

    Args:
        codes: e.g. ``'15,22'`` or ``[15, '22']``; empty items of a string are
            skipped.

    Returns:
        The sheet numbers, sorted, each once.

    Raises:
        ValueError: for an invalid code (naming it and the expected forms), or
            codes of a finer level (naming them).
    """
    items = codes.split(',') if isinstance(codes, str) else codes
    numbers: set[int] = set()
    finer: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        sheet = Sheet.parse(item)
        if sheet.level != 'kbl':
            finer.append((str(item).strip(), sheet.level))
        numbers.add(sheet.number)
    if finer:
        shown = ', '.join(code for code, _ in finer)
        levels = ', '.join(dict.fromkeys(level for _, level in finer))
        raise BVMValueError(
            f'expected 1:50,000 sheet numbers (1..43), got {shown}: a {levels} '
            'sheet code names only part of a sheet; give whole sheets such as 22'
        )
    return sorted(numbers)


def _kbl_numbers(numbers: Iterable[int | str] | None) -> list[int]:
    return sorted(KBL_NAMES) if numbers is None else kbl_numbers(numbers)


def sheets(
    level: Level | str = 'kbl', numbers: Iterable[int | str] | None = None
) -> list[Sheet]:
    """All sheets of a level, optionally only inside some ``kbl`` sheets.

    Args:
        level: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``.
        numbers: ``kbl`` sheet numbers to keep (default: all 43).

    Returns:
        The sheets in order of sheet number, then north to south, west to east.

    Raises:
        ValueError: for an unknown level or sheet number.
    """
    level = _check_level(level)
    return [Sheet(n, part) for n in _kbl_numbers(numbers) for part in _parts(level)]


def grid(
    level: Level | str = 'kbl',
    crs: CRS | str | int = KBL_CRS,
    numbers: Iterable[int | str] | None = None,
    scheme: SplitScheme | None = None,
    densify: float = 100.0,
) -> gpd.GeoDataFrame:
    """The sheets of one level as a GeoDataFrame.

    Args:
        level: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``.
        crs: CRS of the geometries (default EPSG:31370).
        numbers: ``kbl`` sheet numbers to keep (default: all 43).
        scheme: if given, add a ``split`` column with each sheet's split; every
            sheet must then lie inside one part of the scheme.
        densify: maximum edge length in metres before reprojecting.

    Returns:
        One row per sheet with the columns ``CODE``, ``NAAM`` (the ``kbl`` name),
        ``split`` (with ``scheme``) and ``geometry``.

    Raises:
        ValueError: for an unknown level or sheet number, or a sheet that straddles
            two splits of ``scheme``.
    """
    selected = sheets(level, numbers)
    data: dict[str, list[str]] = {
        'CODE': [s.code for s in selected],
        'NAAM': [s.name for s in selected],
    }
    if scheme is not None:
        data['split'] = [scheme.split_of(s) for s in selected]
    geometries = [s.geometry(crs, densify) for s in selected]
    import geopandas as gpd

    return gpd.GeoDataFrame(data, geometry=geometries, crs=CRS.from_user_input(crs))


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
            if _is_valid_part(key.upper()) and key:
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
        keep = set(_kbl_numbers(numbers))
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


# -- official files ---------------------------------------------------------

#: Fields of the official Digitaal Vlaanderen sheet files (``NAAM`` on Kbl only).
OFFICIAL_FIELDS = ('UIDN', 'OIDN', 'CODE', 'NAAM', 'OPPERVL', 'LENGTE')


def read_official(path: str | Path) -> gpd.GeoDataFrame:
    """Read an official sheet file (``Kbl.shp``, ``Kbl4.shp``, ``Kbl8.shp``, ...).

    The file's CRS is taken as EPSG:31370 when its ``.prj`` is missing or is the
    ESRI "Belge_Lambert_1972" WKT that maps to no EPSG code; files in another CRS
    are reprojected to EPSG:31370. Codes are normalised (``2/5z`` -> ``2/5Z``).

    Args:
        path: the file (any format GDAL reads).

    Returns:
        The features in EPSG:31370 with a ``sheet`` column of :class:`Sheet`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the ``CODE`` field is missing or holds an invalid code.
    """
    path = Path(path)
    if not path.exists():
        raise BVMNotFoundError(f'map sheet file not found: {path}')
    import geopandas as gpd

    frame = gpd.read_file(path, engine='pyogrio')
    if 'CODE' not in frame.columns:
        fields = ', '.join(c for c in frame.columns if c != 'geometry')
        raise BVMValueError(
            f"{path}: no field 'CODE'; the file has the fields {fields}"
        )
    frame = to_lambert72(frame)
    parsed = []
    for code in frame['CODE']:
        try:
            parsed.append(Sheet.parse(str(code)))
        except ValueError as error:
            raise BVMValueError(f'{path}: field CODE: {error}') from None
    frame['sheet'] = parsed
    return frame


@dataclass(frozen=True)
class SheetDifference:
    """One difference between an official sheet file and the generated grid.

    Args:
        code: the sheet code.
        kind: ``'missing'`` (in the grid, not in the file), ``'extra'`` (in the file
            twice or at another level), ``'name'`` or ``'geometry'``.
        detail: a human-readable explanation.
    """

    code: str
    kind: Literal['missing', 'extra', 'name', 'geometry']
    detail: str

    def __str__(self) -> str:
        return f'{self.code}: {self.kind}: {self.detail}'


def compare_official(
    path: str | Path,
    tolerance: float = 1.0,
    numbers: Iterable[int | str] | None = None,
) -> list[SheetDifference]:
    """Compare an official sheet file with the generated grid.

    The level is that of the file's codes. Geometry is compared with the Hausdorff
    distance, so the float noise of the official coordinates (193999.999) is
    tolerated up to ``tolerance`` metres.

    Args:
        path: an official file such as ``Kbl.shp`` or ``Kbl16.shp``.
        tolerance: largest accepted Hausdorff distance in metres.
        numbers: ``kbl`` sheet numbers the file is expected to cover (default all).

    Returns:
        Every difference: sheets missing from the file, codes that occur twice or at
        another level than the rest, names (``NAAM``, when present) and geometries
        that differ. An empty list means the file matches the grid.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file has no ``CODE`` field or an invalid code.
    """
    frame = read_official(path)
    levels = [s.level for s in frame['sheet']]
    level = max(set(levels), key=levels.count) if levels else 'kbl'
    expected = {s: s for s in sheets(level, numbers)}
    differences: list[SheetDifference] = []
    seen: set[Sheet] = set()
    has_names = 'NAAM' in frame.columns and level == 'kbl'
    for _, row in frame.iterrows():
        sheet: Sheet = row['sheet']
        if sheet not in expected or sheet in seen:
            reason = (
                'occurs twice' if sheet in seen else f'not a {level} sheet of the grid'
            )
            differences.append(SheetDifference(sheet.code, 'extra', reason))
            continue
        seen.add(sheet)
        if has_names and str(row['NAAM']).strip() != sheet.name:
            differences.append(
                SheetDifference(
                    sheet.code, 'name', f'NAAM {row["NAAM"]!r}, expected {sheet.name!r}'
                )
            )
        distance = shapely.hausdorff_distance(row.geometry, box(*sheet.bounds))
        if not distance <= tolerance:
            differences.append(
                SheetDifference(
                    sheet.code,
                    'geometry',
                    f'{distance:.2f} m from the grid sheet {sheet.bounds} '
                    f'(bounds {tuple(round(b, 3) for b in row.geometry.bounds)})',
                )
            )
    differences.extend(
        SheetDifference(
            s.code, 'missing', f'{level} sheet absent from {Path(path).name}'
        )
        for s in expected
        if s not in seen
    )
    return differences


def iter_codes(codes: str | Iterable[str | int]) -> Iterator[Sheet]:
    """Parse a comma-separated string or an iterable of sheet codes.

    Args:
        codes: e.g. ``'22/1-2,22/3-4'`` or ``['22/1-2', 15]``.

    Yields:
        The parsed sheets.

    Raises:
        ValueError: for a bad code.
    """
    items = codes.split(',') if isinstance(codes, str) else codes
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        yield Sheet.parse(item)
