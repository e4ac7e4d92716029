"""What mini-Flanders covers: its sizes, acquisition dates and class shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry import box

from ...classes import PAPER_PERCENT
from ...sheets.codes import Sheet, sheets

__all__ = [
    'CENTRE',
    'DATES',
    'DEFAULT_SIZE',
    'RARE_FLOOR',
    'REVISIT_DAYS',
    'SEASON_DATES',
    'SEASON_YEAR',
    'SIZES',
    'TARGET_SHARES',
    'TILE',
    'VERSION',
    'MiniFlandersSize',
    'month_by_month',
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

#: The MGRS tile over Gent and its processing version.
TILE = '31UES'
VERSION = 'V210'

#: Acquisitions: (sensing time UTC, platform); spring, summer and autumn of 2020
#: and early summer of 2021.
DATES: tuple[tuple[str, str], ...] = (
    ('2020-04-18T10:50:31', 'S2A'),
    ('2020-07-27T10:46:19', 'S2B'),
    ('2020-10-05T10:50:31', 'S2A'),
    ('2021-06-14T10:46:19', 'S2B'),
)

#: Days between two passes of one relative orbit by Sentinel-2A and -2B together.
REVISIT_DAYS = 5
#: The year of the season (:data:`SEASON_DATES`).
SEASON_YEAR = 2022
#: Days of the month the season's acquisitions are nearest to.
_SEASON_DAYS = (5, 15, 25)


def _season_dates(year: int) -> tuple[tuple[str, str], ...]:
    """Three passes a month of the relative orbit of 2021-06-14 (S2B).

    The orbit is flown every :data:`REVISIT_DAYS` days, by S2B and S2A in
    turn; of each month the passes nearest its 5th, 15th and 25th are kept.
    """
    first = datetime.fromisoformat(DATES[-1][0])
    passes = []
    step = 0
    while (day := first + timedelta(days=REVISIT_DAYS * step)).year <= year:
        if day.year == year:
            passes.append((day, 'S2B' if step % 2 == 0 else 'S2A'))
        step += 1
    kept = []
    for month in range(1, 13):
        for target in _SEASON_DAYS:
            aim = datetime(year, month, target, first.hour, first.minute, first.second)
            day, platform = min(passes, key=lambda p: abs(p[0] - aim))
            kept.append((day.isoformat(), platform))
    return tuple(kept)


#: The season: (sensing time UTC, platform) of 36 acquisitions in
#: :data:`SEASON_YEAR`, three a month, about ten days apart.
SEASON_DATES: tuple[tuple[str, str], ...] = _season_dates(SEASON_YEAR)

#: Smallest area share of any class, so that rare classes have pixels to score.
RARE_FLOOR = 0.0005

#: Target area share of each class: the paper's Table 1 normalised to 1 (its
#: percentages add up to 112 %), rare classes raised to :data:`RARE_FLOOR`.
TARGET_SHARES: dict[str, float] = {
    name: max(RARE_FLOOR, percent / sum(PAPER_PERCENT.values()))
    for name, percent in PAPER_PERCENT.items()
}


def month_by_month(
    stamps: Sequence[datetime],
    close_month: Callable[[str], object],
    on_date: Callable[[], object] | None = None,
) -> Iterator[int]:
    """The index of every date of a season, in order, month by month.

    Once the caller is done with a date, ``close_month`` gets its month
    (``'YYYY-MM'``) if it is the month's last date, then ``on_date`` is called.

    Args:
        stamps: the dates, in time order.
        close_month: writes what a month gathered.
        on_date: called after each date.

    Yields:
        Each date's index in ``stamps``.
    """
    for index, stamp in enumerate(stamps):
        yield index
        if index + 1 == len(stamps) or stamps[index + 1].month != stamp.month:
            close_month(f'{stamp:%Y-%m}')
        if on_date is not None:
            on_date()
