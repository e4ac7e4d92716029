"""What mini-Flanders covers: its sizes, acquisition dates and class shares."""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import box

from ...classes import PAPER_PERCENT
from ...sheets import Sheet, sheets

__all__ = [
    'CENTRE',
    'DATES',
    'DEFAULT_SIZE',
    'RARE_FLOOR',
    'SIZES',
    'TARGET_SHARES',
    'MiniFlandersSize',
]


@dataclass(frozen=True)
class MiniFlandersSize:
    """One size of the generated region.

    Args:
        name: the size's name.
        bounds: the region in EPSG:31370 ``(xmin, ymin, xmax, ymax)``; every
            size is centred on the corner of the four ``kbl4`` sheets of sheet
            22, so the paper's split gives train, validation and test parts.
        description: what the size is for.
    """

    name: str
    bounds: tuple[float, float, float, float]
    description: str

    @property
    def pixels(self) -> tuple[int, int]:
        """(rows, columns) of the region at 10 m."""
        xmin, ymin, xmax, ymax = self.bounds
        return round((ymax - ymin) / 10), round((xmax - xmin) / 10)

    def kbl_sheets(self) -> list[Sheet]:
        """The 1:50,000 sheets that share area with the region.

        Returns:
            The sheets, in the order of the sheet grid.
        """
        area = box(*self.bounds)
        return [s for s in sheets('kbl') if box(*s.bounds).intersection(area).area > 0]


#: Every size is centred here (EPSG:31370): the corner of the four ``kbl4``
#: sheets of sheet 22.
CENTRE = (114_000.0, 188_000.0)


def _centred(
    name: str, width: float, height: float, description: str
) -> MiniFlandersSize:
    x, y = CENTRE
    bounds = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
    return MiniFlandersSize(name, bounds, description)


#: The sizes offered; ``demo`` is the default.
SIZES: dict[str, MiniFlandersSize] = {
    s.name: s
    for s in (
        _centred('tiny', 3_200, 2_000, '3.2 x 2 km (320 x 200 px), for the test suite'),
        _centred('small', 8_000, 5_000, '8 x 5 km, for quick experiments'),
        _centred(
            'demo',
            16_000,
            10_000,
            '16 x 10 km, an 8 x 5 km part of each of 22/1-2, 22/3-4, 22/5-6, 22/7-8',
        ),
        _centred(
            'sheet', 32_000, 20_000, 'the whole 1:50,000 sheet 22 (Gent), 32 x 20 km'
        ),
    )
}
#: The size written when none is given.
DEFAULT_SIZE = 'demo'

#: Acquisitions: (sensing time UTC, platform); spring, summer and autumn of 2020
#: and early summer of 2021.
DATES: tuple[tuple[str, str], ...] = (
    ('2020-04-18T10:50:31', 'S2A'),
    ('2020-07-27T10:46:19', 'S2B'),
    ('2020-10-05T10:50:31', 'S2A'),
    ('2021-06-14T10:46:19', 'S2B'),
)

#: Smallest area share of any class, so that rare classes have pixels to score.
RARE_FLOOR = 0.0005

#: Target area share of each class: the paper's Table 1 normalised to 1 (its
#: percentages add up to 112 %), rare classes raised to :data:`RARE_FLOOR`.
TARGET_SHARES: dict[str, float] = {
    name: max(RARE_FLOOR, percent / sum(PAPER_PERCENT.values()))
    for name, percent in PAPER_PERCENT.items()
}
