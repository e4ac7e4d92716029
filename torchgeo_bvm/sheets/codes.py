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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal, cast

from pyproj import CRS
from shapely.geometry import Polygon, box

from ..errors import BVMValueError
from ..spatial.geometry import reproject_geometry

if TYPE_CHECKING:
    pass

__all__ = [
    'KBL_CRS',
    'KBL_NAMES',
    'LEVELS',
    'Level',
    'Sheet',
    'iter_codes',
    'kbl_numbers',
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
        if not is_sheet_part(self.part):
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


def is_sheet_part(part: str) -> bool:
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


def numbers_or_all(numbers: Iterable[int | str] | None) -> list[int]:
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
    return [Sheet(n, part) for n in numbers_or_all(numbers) for part in _parts(level)]


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
