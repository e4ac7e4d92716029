"""What to download: one task per map sheet and run of consecutive months.

A task may also name an orbit direction (Sentinel-1: one job per sheet,
period and direction). :class:`SensorDownload` is what the downloader asks of
a sensor's options (:class:`~torchgeo_bvm.download.graph.DownloadOptions`
for Sentinel-2, :class:`~torchgeo_bvm.download.sentinel1.Sentinel1Options`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from ..datasets.bands import openeo_acquisition_path, openeo_composite_path
from ..errors import BVMValueError
from ..sheets.codes import Sheet

__all__ = ['DownloadTask', 'SensorDownload', 'output_path', 'plan_tasks']


@dataclass(frozen=True, order=True)
class DownloadTask:
    """One sheet and one run of consecutive months: one job, or one request.

    Args:
        sheet: the map sheet.
        start: the first day (inclusive).
        end: the day after the period (exclusive, as openEO's temporal extents).
        orbit: the orbit direction of a radar task (None for optical ones).
    """

    sheet: Sheet
    start: date
    end: date
    orbit: str | None = None

    @property
    def key(self) -> str:
        """The task's key in the manifest."""
        key = f'{self.sheet.file_safe} {self.start.isoformat()}/{self.end.isoformat()}'
        return key if self.orbit is None else f'{key} {self.orbit}'

    @property
    def temporal_extent(self) -> list[str]:
        """``[start, end]`` as ISO dates, the end exclusive."""
        return [self.start.isoformat(), self.end.isoformat()]

    @property
    def months(self) -> list[tuple[int, int]]:
        """The (year, month) pairs of the period."""
        months = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) < self.end:
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


class SensorDownload(Protocol):
    """What the downloader asks of a sensor's download options."""

    @property
    def sensor(self) -> str:
        """The sensor, as messages name it."""

    @property
    def first_year(self) -> int:
        """The first year with data."""

    @property
    def composite(self) -> str | None:
        """``'monthly'`` for monthly composites, None for every acquisition."""

    @property
    def file_bands(self) -> tuple[str, ...]:
        """The band names of every downloaded file, in order."""

    @property
    def file_dtype(self) -> str:
        """The data type of the downloaded files."""

    @property
    def manifest_name(self) -> str:
        """The output folder's manifest file."""

    def settings(self) -> dict[str, Any]:
        """What the files of an output folder must agree on."""

    def expand(self, tasks: list[DownloadTask]) -> list[DownloadTask]:
        """The tasks to run for planned sheet periods.

        Args:
            tasks: the sheet periods.
        """

    def graph(self, task: DownloadTask) -> dict[str, Any]:
        """The openEO process object of a task.

        Args:
            task: the task.
        """

    def output_path(self, out: str | Path, task: DownloadTask, day: date) -> Path:
        """Where a file of a task goes.

        Args:
            out: the output folder.
            task: the task.
            day: the acquisition date, or any day of a composite's month.
        """


def plan_tasks(
    sheets: Iterable[Sheet | str],
    years: Iterable[int],
    months: Iterable[int] | None = None,
    *,
    per_month: bool = False,
    first_year: int = 2015,
    sensor: str = 'Sentinel-2',
) -> list[DownloadTask]:
    """The tasks for some sheets and months: one per sheet, year and month run.

    Consecutive months of a year share one task (one batch job), as the paper
    downloaded a year per job; ``per_month`` gives every month its own task.

    Args:
        sheets: map sheets or codes.
        years: the years.
        months: the months 1..12 (default all).
        per_month: one task per month (synchronous requests carry one month).
        first_year: the sensor's first year (2015 for Sentinel-2 L2A, 2014
            for Sentinel-1).
        sensor: the sensor, as the message of a year before it names it.

    Returns:
        The tasks, by sheet then time.

    Raises:
        ValueError: for a month outside 1..12, a year outside
            ``first_year``..2100, or no sheet or year.
    """
    chosen_sheets = sorted({Sheet.parse(s) for s in sheets})
    chosen_years = sorted(set(years))
    chosen_months = sorted(set(range(1, 13) if months is None else months))
    if not chosen_sheets:
        raise BVMValueError('no map sheet given')
    if not chosen_years:
        raise BVMValueError('no year given')
    if bad := [m for m in chosen_months if not 1 <= m <= 12]:
        raise BVMValueError(f'months must lie in 1..12, got {bad}')
    if bad := [y for y in chosen_years if not first_year <= y <= 2100]:
        raise BVMValueError(
            f'years must lie in {first_year}..2100 ({sensor} era), got {bad}'
        )
    if not chosen_months:
        raise BVMValueError('no month given')
    tasks = []
    for sheet in chosen_sheets:
        for year in chosen_years:
            for first, last in _month_runs(chosen_months, per_month):
                end = date(year + 1, 1, 1) if last == 12 else date(year, last + 1, 1)
                tasks.append(DownloadTask(sheet, date(year, first, 1), end))
    return tasks


def _month_runs(months: Sequence[int], per_month: bool) -> Iterator[tuple[int, int]]:
    if per_month:
        yield from ((m, m) for m in months)
        return
    first = previous = months[0]
    for month in months[1:]:
        if month != previous + 1:
            yield first, previous
            first = month
        previous = month
    yield first, previous


def output_path(
    out: str | Path, sheet: Sheet | str, day: date, composite: bool
) -> Path:
    """Where a downloaded file goes: the layout :class:`Sentinel2TOC` reads.

    Args:
        out: the output folder.
        sheet: the map sheet.
        day: the acquisition date, or any day of a composite's month.
        composite: whether the file is a monthly composite.

    Returns:
        ``<out>/<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif`` or
        ``<out>/<sheet>/<sheet>_openEO_<YYYY-MM>_median.tif``.
    """
    if composite:
        return openeo_composite_path(out, sheet, day)
    return openeo_acquisition_path(out, sheet, day)
