"""The units accuracy is resampled over: map sheets, or blocks of them.

Pixels next to each other are not independent samples of a map's accuracy:
their errors come in patches as large as fields and landscapes. The split
keeps whole map sheets apart (:mod:`torchgeo_bvm.sheets.scheme`), so a sheet
is its unit of independence, and a bootstrap over whole test sheets
(:mod:`torchgeo_bvm.evaluation.accuracy`) gives an interval that holds for a
new sheet. :class:`EvaluationUnits` says which unit a place belongs to: the
sheet of a level holding it (``kbl16`` by default, the finest official
sheets, 8 x 5 km) or, for a region of one or two test sheets, square blocks
of a given size inside those sheets. Blocks are closer together than sheets,
so their interval is narrower than a sheet bootstrap's would be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from ..errors import BVMValueError
from ..sheets.codes import KBL_CRS, LEVELS, Sheet, sheets

__all__ = ['NO_UNIT', 'EvaluationUnits']

#: The unit index of a place outside every sheet.
NO_UNIT = -1


@dataclass(frozen=True)
class EvaluationUnits:
    """Which sheet (or block of a sheet) each place belongs to.

    Args:
        level: the sheet level: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``.
        block: the side in metres of square blocks cutting each sheet (None:
            whole sheets); it must divide the sheet's width and height.

    Raises:
        BVMValueError: for an unknown level, or a block that does not divide the
            sheets.
    """

    level: str = 'kbl16'
    block: float | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise BVMValueError(
                f'evaluation units: unknown sheet level {self.level!r}; expected '
                f'one of {", ".join(LEVELS)}'
            )
        width, height = self._sheet_size
        if self.block is not None and not (
            self.block > 0
            and math.isclose(width / self.block, round(width / self.block))
            and math.isclose(height / self.block, round(height / self.block))
        ):
            raise BVMValueError(
                f'evaluation units: blocks of {self.block} m do not tile the '
                f'{self.level} sheets ({width:.0f} x {height:.0f} m); choose a '
                'side that divides both'
            )

    @property
    def _sheet_size(self) -> tuple[float, float]:
        xmin, ymin, xmax, ymax = sheets(self.level, [1])[0].bounds
        return xmax - xmin, ymax - ymin

    @cached_property
    def _cell(self) -> tuple[float, float]:
        width, height = self._sheet_size
        return (width, height) if self.block is None else (self.block, self.block)

    @cached_property
    def _origin(self) -> tuple[float, float]:
        every = sheets('kbl')
        return min(s.bounds[0] for s in every), min(s.bounds[1] for s in every)

    @cached_property
    def _sheets(self) -> dict[tuple[int, int], Sheet]:
        """Every sheet of the level by its (column, row) on the sheets' grid."""
        width, height = self._sheet_size
        x0, y0 = self._origin
        return {
            (
                round((s.bounds[0] - x0) / width),
                round((s.bounds[1] - y0) / height),
            ): s
            for s in sheets(self.level)
        }

    @cached_property
    def _sheet_keys(self) -> NDArray[np.int64]:
        return np.asarray([r * _COLUMNS + c for c, r in self._sheets], dtype=np.int64)

    def describe(self) -> str:
        """The units in words, e.g. ``'kbl16 sheets'`` or ``'1000 m blocks'``.

        Returns:
            The text.
        """
        if self.block is None:
            return f'{self.level} sheets'
        return f'{self.block:g} m blocks of the {self.level} sheets'

    def of_points(
        self, x: NDArray[np.floating], y: NDArray[np.floating], crs: CRS | str | int
    ) -> NDArray[np.int64]:
        """The unit of each point.

        Args:
            x: the points' x coordinates in ``crs``.
            y: their y coordinates.
            crs: their CRS.

        Returns:
            A unit index per point (:data:`NO_UNIT` outside every sheet); the
            same index is the same unit for every call, and :meth:`name` names
            it.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        source = CRS.from_user_input(crs)
        if not source.equals(CRS.from_user_input(KBL_CRS)):
            x, y = _to_lambert(source.to_wkt()).transform(x, y)
        cell_w, cell_h = self._cell
        x0, y0 = self._origin
        column = np.floor((x - x0) / cell_w).astype(np.int64)
        row = np.floor((y - y0) / cell_h).astype(np.int64)
        width, height = self._sheet_size
        per_x = round(width / cell_w)
        per_y = round(height / cell_h)
        sheet = np.floor_divide(row, per_y) * _COLUMNS + np.floor_divide(column, per_x)
        known = np.isin(sheet, self._sheet_keys)
        index = row * _COLUMNS + column
        return np.where(known & (column >= 0) & (row >= 0), index, NO_UNIT)

    def name(self, unit: int) -> str:
        """The name of a unit: its sheet's code, and the block inside it.

        Args:
            unit: a unit index from :meth:`of_points`.

        Returns:
            ``'22/7N'``, or with blocks ``'22/7N r2 c5'`` (the block's row from
            the north and column from the west, from 1).

        Raises:
            BVMValueError: for :data:`NO_UNIT` or an index no sheet holds.
        """
        row, column = divmod(int(unit), _COLUMNS)
        cell_w, cell_h = self._cell
        width, height = self._sheet_size
        per_x, per_y = round(width / cell_w), round(height / cell_h)
        sheet = self._sheets.get((column // per_x, row // per_y))
        if unit < 0 or sheet is None:
            raise BVMValueError(f'evaluation unit {unit} lies in no {self.level} sheet')
        if self.block is None:
            return sheet.code
        from_north = per_y - (row % per_y)
        return f'{sheet.code} r{from_north} c{column % per_x + 1}'


#: Columns of units a row holds in the unit index (far more than Flanders has).
_COLUMNS = 1_000_000


@lru_cache(maxsize=8)
def _to_lambert(wkt: str) -> Transformer:
    """The transformer from a CRS to Lambert 72, made once per CRS."""
    return Transformer.from_crs(CRS.from_wkt(wkt), KBL_CRS, always_xy=True)
