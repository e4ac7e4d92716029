"""One batch job per sheet and year, tracked by openeo's ``MultiBackendJobManager``.

:class:`SheetJobManager` is the openeo client's own job manager with two
additions:

* **bounded retries**: a job that ends in ``error`` is started again, as a new
  job, until it has run ``retries + 1`` times (the ``attempts`` column); the
  backend's error log of each failed job stays in its job folder;
* **results where a dataset scan does not look**: once every job has ended,
  each finished job's results are downloaded into ``<out>/.jobs/job_<id>/``
  (hidden), through a staging folder renamed when the download is whole, so
  an interrupted download is done again, never half-read.

The job database is a CSV file (``<out>/jobs.csv``): the manager reads it back
when it exists, so a run that was interrupted resumes; jobs that had finished
are not submitted again, running ones are polled again.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openeo.extra.job_management import MultiBackendJobManager
from openeo.extra.job_management import get_job_db as open_job_db
from openeo.rest.connection import Connection
from openeo.rest.job import BatchJob

__all__ = ['JOBS_FOLDER', 'JOB_DATABASE', 'SheetJobManager', 'job_rows']

#: The job database in the output folder.
JOB_DATABASE = 'jobs.csv'
#: The hidden folder of the jobs' downloads in the output folder.
JOBS_FOLDER = '.jobs'

_log = logging.getLogger(__name__)


def job_rows(
    sheets: Sequence[str], years: Sequence[int], graphs: Sequence[str]
) -> pd.DataFrame:
    """The job list: one row per sheet and year.

    Args:
        sheets: the sheets' codes, one per job.
        years: the years, one per job.
        graphs: the graph files (relative to the output folder), one per job.

    Returns:
        A frame with ``sheet``, ``year``, ``graph`` and ``attempts`` (0).
    """
    return pd.DataFrame(
        {
            'sheet': list(sheets),
            'year': [int(y) for y in years],
            'graph': list(graphs),
            'attempts': [0] * len(sheets),
        }
    )


class _DropMessage(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


class SheetJobManager(MultiBackendJobManager):
    """openeo's job manager with bounded retries (see the module).

    Args:
        out: the output folder (its ``.jobs`` holds the downloads).
        retries: how many times a failed job is started again.
        poll_sleep: seconds between two polls of the backend.
    """

    def __init__(self, out: Path, retries: int = 2, poll_sleep: int = 30) -> None:
        super().__init__(
            poll_sleep=poll_sleep, root_dir=out / JOBS_FOLDER, download_results=False
        )
        self.retries = retries
        self._database: Any = None

    def run_jobs(  # type: ignore[override]
        self,
        df: pd.DataFrame | None = None,
        start_job: Callable[..., BatchJob] | None = None,
        job_db: str | Path | None = None,
        **kwargs: Any,  # noqa: ANN401
    ) -> dict[str, Any]:
        """Run the jobs of ``df``, or resume those of an existing ``job_db``.

        Args:
            df: the job list (:func:`job_rows`), used when ``job_db`` is new.
            start_job: makes a row's job (openeo's ``start_job`` callback).
            job_db: the CSV job database.
            **kwargs: passed on to openeo's ``run_jobs``.

        Returns:
            openeo's run statistics.
        """
        assert job_db is not None
        assert start_job is not None
        self._database = open_job_db(job_db)
        # openeo's manager warns at every start that it cannot refresh a login
        # token, also where the backend asks for no login at all.
        manager_log = logging.getLogger(MultiBackendJobManager.__module__)
        quiet = _DropMessage('Failed to proactively refresh bearer token')
        manager_log.addFilter(quiet)
        try:
            stats: dict[str, Any] = super().run_jobs(
                df=df, start_job=start_job, job_db=self._database, **kwargs
            )
        finally:
            manager_log.removeFilter(quiet)
        return stats

    def on_job_error(self, job: BatchJob, row: pd.Series) -> None:
        """Keep the error log; start the job again unless it has run out of retries.

        Args:
            job: the failed job.
            row: its row of the job database.
        """
        super().on_job_error(job, row)
        attempts = int(row.get('attempts', 0) or 0) + 1
        database = self._database
        update = database.get_by_indices([row.name]).copy()
        update.loc[row.name, 'attempts'] = attempts
        if attempts <= self.retries:
            _log.warning(
                'job %s of sheet %s failed (attempt %d); starting it again',
                job.job_id,
                row.get('sheet'),
                attempts,
            )
            update.loc[row.name, 'status'] = 'not_started'
        database.persist(update)

    def download(self, connection: Connection, job_id: str) -> Path:
        """A finished job's results, downloaded unless a whole download is there.

        Args:
            connection: the backend.
            job_id: the job.

        Returns:
            The folder of its results.
        """
        folder = self.get_job_dir(job_id) / 'results'
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.with_name('.results.partial')
        shutil.rmtree(staging, ignore_errors=True)
        connection.job(job_id).get_results().download_files(target=staging)
        os.replace(staging, folder)
        return folder


def describe_jobs(database: Path) -> list[str]:
    """One line per job of a job database: its status, attempts, credits and time.

    ``costs`` (credits) and the ``usage`` fields (``cpu``, ``duration``, ...)
    are what the backend reported in the job's metadata; a backend that
    reports none leaves them out.

    Args:
        database: the CSV job database.

    Returns:
        ``'<sheet> <year>: job <id> <status> after <n> attempt(s), ...'``.
    """
    rows = pd.read_csv(database)
    usage = [c for c in rows.columns if c not in _KNOWN_COLUMNS and c != 'costs']
    lines = []
    for _, row in rows.iterrows():
        status = str(row['status'])
        # ``attempts`` counts the failed runs; a job not failed runs once more.
        attempts = int(row.get('attempts', 0) or 0) + (status != 'error')
        parts = [f'job {row["id"]} {status} after {attempts} attempt(s)']
        if pd.notna(row.get('costs')):
            parts.append(f'{float(row["costs"]):g} credits')
        parts += [f'{name} {row[name]}' for name in usage if pd.notna(row[name])]
        lines.append(f'{row["sheet"]} {int(row["year"])}: ' + ', '.join(parts))
    return lines


_KNOWN_COLUMNS = {
    'sheet',
    'year',
    'graph',
    'attempts',
    'id',
    'backend_name',
    'status',
    'start_time',
    'running_start_time',
}
