"""openEO batch jobs of a download: their status, logs and GeoTIFF assets."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openeo.rest import OpenEoApiError, OpenEoApiPlainError
from openeo.rest.job import BatchJob
from tqdm.auto import tqdm

from .backend import Backend, DownloadError
from .tasks import DownloadTask, SensorDownload

__all__ = ['JobFailedError', 'job_status', 'tiff_assets', 'wait_for_job']

_ASSET_DATE = re.compile(r'(\d{4}-\d{2}-\d{2})')
_TIFF_SUFFIXES = ('.tif', '.tiff')


class JobFailedError(DownloadError):
    """An openEO batch job ended in ``error`` or ``canceled``.

    Args:
        job_id: the backend's job id.
        status: the final status.
        logs: the backend's log lines of the job.
    """

    def __init__(self, job_id: str, status: str, logs: Sequence[str]) -> None:
        self.job_id = job_id
        self.status = status
        self.logs = list(logs)
        lines = '\n'.join(f'  {line}' for line in self.logs) or '  (no log entries)'
        super().__init__(
            f'openEO batch job {job_id!r} ended with status {status!r}:\n{lines}'
        )


def job_status(backend: Backend, job: BatchJob) -> str:
    """A job's status, ``'gone'`` if the backend no longer knows it.

    Args:
        backend: the job's backend.
        job: the job.

    Returns:
        The openEO status (``created``, ``queued``, ``running``, ``finished``,
        ``error``, ``canceled``) or ``gone``.
    """
    try:
        info = backend.retrying(job.describe, f'status of job {job.job_id}')
    except OpenEoApiError as error:
        if error.http_status_code == 404:
            return 'gone'
        raise
    return str(info.get('status', 'unknown'))


def wait_for_job(
    backend: Backend,
    job: BatchJob,
    bar: tqdm[Any],
    poll_interval: float,
    max_poll_interval: float,
) -> None:
    """Poll a job until it finishes, its status in a progress bar.

    Our own loop rather than ``BatchJob.start_and_wait``: a resumed job must not
    be started again, and the status belongs in the progress bar.

    Args:
        backend: the job's backend.
        job: the started job.
        bar: the progress bar that shows the status.
        poll_interval: the first delay between polls in seconds, growing by half
            at every poll.
        max_poll_interval: the longest delay between polls.

    Raises:
        JobFailedError: if the job ends in ``error`` or ``canceled``.
    """
    delay = poll_interval
    while True:
        info = backend.retrying(job.describe, f'status of job {job.job_id}')
        status = str(info.get('status', 'unknown'))
        progress = info.get('progress')
        shown = f' {progress:.0f}%' if isinstance(progress, int | float) else ''
        bar.set_postfix_str(f'job {job.job_id} {status}{shown}')
        if status == 'finished':
            return
        if status in ('error', 'canceled'):
            raise JobFailedError(job.job_id, status, _log_lines(backend, job))
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll_interval)


def tiff_assets(
    backend: Backend,
    job: BatchJob,
    task: DownloadTask,
    options: SensorDownload,
    out: Path,
) -> list[tuple[str, Path]]:
    """A finished job's GeoTIFF assets and the paths they are saved under.

    Args:
        backend: the job's backend.
        job: the finished job.
        task: the job's task.
        options: what was downloaded (it names the files).
        out: the output folder.

    Returns:
        ``(href, path)`` pairs, sorted by path.

    Raises:
        DownloadError: if the job delivered no GeoTIFF, an asset has no date
            or one outside the task, or two assets map to one file.
    """
    results = backend.retrying(job.get_results, f'results of job {job.job_id}')
    assets = backend.retrying(results.get_assets, f'results of job {job.job_id}')
    targets: dict[Path, str] = {}
    for asset in assets:
        name = Path(asset.href.split('?')[0]).name
        if not (
            str(asset.media_type or '').startswith('image/tiff')
            or name.lower().endswith(_TIFF_SUFFIXES)
        ):
            continue
        day = _asset_day(asset.key, name, task, options)
        target = options.output_path(out, task, day)
        if target in targets:
            raise DownloadError(
                f'job {job.job_id}: assets {targets[target]!r} and {asset.href!r} '
                f'both map to {target.name}'
            )
        targets[target] = asset.href
    if not targets:
        raise DownloadError(f'job {job.job_id} of {task.key} delivered no GeoTIFF')
    return [(href, target) for target, href in sorted(targets.items())]


def _asset_day(
    key: str, name: str, task: DownloadTask, options: SensorDownload
) -> date:
    match = _ASSET_DATE.search(name) or _ASSET_DATE.search(key)
    if match:
        day = date.fromisoformat(match[1])
        if task.start <= day < task.end:
            return day
        raise DownloadError(
            f'asset {name!r} is dated {day}, outside the requested {task.key}'
        )
    # Without a time dimension (one month) the backend names it openEO.tif.
    if options.composite and len(task.months) == 1:
        return task.start
    raise DownloadError(f'asset {name!r} of {task.key} has no date in its name')


def _log_lines(backend: Backend, job: BatchJob) -> list[str]:
    try:
        entries = backend.retrying(job.logs, f'logs of job {job.job_id}')
    except (OpenEoApiError, OpenEoApiPlainError, DownloadError) as error:
        return [f'(the logs could not be read: {error})']
    return [f'[{e.get("level", "?")}] {e.get("message", "")}' for e in entries]
