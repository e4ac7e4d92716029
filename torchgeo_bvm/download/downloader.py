"""Running download tasks against an openEO backend, resumably.

See :mod:`torchgeo_bvm.download` for the faults it survives and how it resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import requests
from openeo.rest import OpenEoApiPlainError
from openeo.rest.connection import Connection
from openeo.rest.job import BatchJob
from requests.structures import CaseInsensitiveDict
from tqdm.auto import tqdm

from ..checks import MAX_WAIT_SECONDS, check_seconds
from ..errors import BVMValueError
from ..fileio import atomic_path
from ..sheets.codes import Sheet
from . import DEFAULT_BACKEND
from .backend import Backend, DownloadError
from .files import check_length, label_bands
from .graph import DownloadOptions
from .jobs import job_status, tiff_assets, wait_for_job
from .manifest import Manifest, graph_digest
from .tasks import DownloadTask, SensorDownload, plan_tasks

__all__ = ['Downloader', 'download']

_log = logging.getLogger(__name__)


class Downloader:
    """Runs download tasks against an openEO backend.

    Args:
        out: the output folder.
        options: what to download, and of which sensor
            (:class:`~torchgeo_bvm.download.graph.DownloadOptions` for
            Sentinel-2, the default, or
            :class:`~torchgeo_bvm.download.sentinel1.Sentinel1Options`).
        backend: the backend URL (``https://`` is added if no scheme is given).
        sync: use synchronous ``POST /result`` requests (one per sheet and month;
            composites only, since one GeoTIFF answer carries one time step)
            instead of batch jobs.
        auth: True to authenticate with the client's
            ``authenticate_oidc()``, False for none, None to authenticate only
            if the backend offers OpenID Connect (``GET /credentials/oidc``).
        retries: attempts after the first for transient HTTP errors and dropped
            connections.
        backoff: the first backoff delay in seconds, doubled at every retry up
            to :data:`~torchgeo_bvm.download.backend.MAX_BACKOFF_SECONDS`
            (which it may not exceed).
        poll_interval: the first delay between job status polls in seconds
            (at most :data:`~torchgeo_bvm.checks.MAX_WAIT_SECONDS`).
        max_poll_interval: the longest delay between polls (at most
            :data:`~torchgeo_bvm.checks.MAX_WAIT_SECONDS`).
        connect_timeout: seconds to wait for the backend's first answer (at
            most :data:`~torchgeo_bvm.download.backend.MAX_CONNECT_TIMEOUT`);
            it is tried :data:`~torchgeo_bvm.download.backend.CONNECT_ATTEMPTS`
            times, 1 s and 2 s apart, so an unreachable backend fails within
            about ``3 * connect_timeout + 3`` seconds.
        progress: show tqdm progress bars.
        on_file: called with the path of every finished file (after the manifest
            recorded it); raising from it stops the run, as a kill would.

    Raises:
        ValueError: for ``sync`` without a composite, or a retry count or delay
            that is negative, not finite or above its limit.
    """

    def __init__(
        self,
        out: str | Path,
        options: SensorDownload | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        sync: bool = False,
        auth: bool | None = None,
        retries: int = 5,
        backoff: float = 2.0,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        connect_timeout: float = 10.0,
        progress: bool = True,
        on_file: Callable[[Path], None] | None = None,
    ) -> None:
        self.out = Path(out)
        self.session = Backend(
            backend,
            auth=auth,
            retries=retries,
            backoff=backoff,
            connect_timeout=connect_timeout,
        )
        check_seconds(poll_interval, 'poll_interval', MAX_WAIT_SECONDS)
        check_seconds(max_poll_interval, 'max_poll_interval', MAX_WAIT_SECONDS)
        self.options: SensorDownload = options or DownloadOptions()
        if sync and self.options.composite is None:
            raise BVMValueError(
                'synchronous requests need a composite (--composite monthly): one '
                'GeoTIFF answer carries one time step; use batch jobs for every date'
            )
        self.sync = sync
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.progress = progress
        self.on_file = on_file
        self._manifest: Manifest | None = None

    def plan(
        self,
        sheets: Iterable[Sheet | str],
        years: Iterable[int],
        months: Iterable[int] | None = None,
    ) -> list[DownloadTask]:
        """The tasks for some sheets and months (see :func:`plan_tasks`).

        Args:
            sheets: map sheets or codes.
            years: the years.
            months: the months (default all).

        Returns:
            The tasks (for Sentinel-1, one per orbit direction too).
        """
        options = self.options
        planned = plan_tasks(
            sheets,
            years,
            months,
            per_month=self.sync,
            first_year=options.first_year,
            sensor=options.sensor,
        )
        return options.expand(planned)

    def graph(self, task: DownloadTask) -> dict[str, Any]:
        """The process graph of a task.

        Args:
            task: the task.

        Returns:
            The openEO process object.
        """
        return self.options.graph(task)

    def run(self, tasks: Sequence[DownloadTask]) -> list[Path]:
        """Download every task not finished yet.

        Args:
            tasks: the tasks (see :meth:`plan`).

        Returns:
            The files of all tasks, finished now or before.

        Raises:
            JobFailedError: if a batch job fails.
            DownloadError: if the backend cannot be reached, refuses the login
                or a request, a download fails after its retries, or a file does
                not hold the requested bands.
            ValueError: if the folder holds a download with other settings.
        """
        manifest = self._manifest = Manifest.open(
            self.out, self.options.settings(), self.options.manifest_name
        )
        try:
            return self._run(manifest, tasks)
        except (OpenEoApiPlainError, requests.exceptions.RequestException) as error:
            raise DownloadError(self.session.failure(error)) from error

    def _run(self, manifest: Manifest, tasks: Sequence[DownloadTask]) -> list[Path]:
        files: list[Path] = []
        overall = tqdm(
            tasks, desc='openEO downloads', unit='task', disable=not self.progress
        )
        for task in overall:
            graph = self.graph(task)
            digest = graph_digest(graph)
            overall.set_postfix_str(task.key)
            if not manifest.is_complete(task, digest):
                record = manifest.record(task, digest)
                record['complete'] = False
                if self.sync:
                    self._run_sync(task, graph)
                else:
                    self._run_batch(task, graph)
                record['complete'] = True
                manifest.save()
            files.extend(self.out / f for f in manifest.tasks[task.key]['files'])
        overall.close()
        return files

    @property
    def connection(self) -> Connection:
        """The backend's connection, opened (and authenticated) on first use."""
        return self.session.connection

    # -- batch jobs -------------------------------------------------------------

    def _record(self, task: DownloadTask) -> tuple[Manifest, dict[str, Any]]:
        """The manifest of the running :meth:`run` and a task's record in it."""
        if self._manifest is None:
            raise RuntimeError('tasks are run by Downloader.run')
        return self._manifest, self._manifest.tasks[task.key]

    def _run_batch(self, task: DownloadTask, graph: dict[str, Any]) -> None:
        _, record = self._record(task)
        bar = tqdm(desc=task.key, unit='file', leave=False, disable=not self.progress)
        try:
            job = self._resume_or_create(task, graph, bar)
            wait_for_job(
                self.session, job, bar, self.poll_interval, self.max_poll_interval
            )
            assets = tiff_assets(self.session, job, task, self.options, self.out)
            bar.reset(total=len(assets))
            done = set(record['files'])
            for href, target in assets:
                relative = target.relative_to(self.out).as_posix()
                if relative in done and target.is_file():
                    bar.update()
                    continue
                self._fetch_file(partial(self._fetch_url, href), target)
                self._finish_file(task, target, bar)
        finally:
            bar.close()

    def _resume_or_create(
        self, task: DownloadTask, graph: dict[str, Any], bar: tqdm[Any]
    ) -> BatchJob:
        manifest, record = self._record(task)
        if record['job_id']:
            job = self.connection.job(record['job_id'])
            status = job_status(self.session, job)
            if status in ('created', 'queued', 'running', 'finished'):
                if status == 'created':
                    job.start()
                bar.set_postfix_str(f'resumed job {job.job_id} ({status})')
                return job
            _log.warning(
                'job %s of %s is %s: starting a new job', job.job_id, task.key, status
            )
        title = f'torchgeo-bvm {task.sheet.code} {task.start:%Y-%m}..{task.end:%Y-%m}'
        if task.orbit is not None:
            title += f' {self.options.sensor} {task.orbit}'
        job = self.connection.create_job(graph, title=title)
        record['job_id'] = job.job_id
        record['files'] = []
        manifest.save()
        job.start()
        return job

    # -- synchronous requests -----------------------------------------------------

    def _run_sync(self, task: DownloadTask, graph: dict[str, Any]) -> None:
        target = self.options.output_path(self.out, task, task.start)
        _, record = self._record(task)
        record['files'] = []

        def fetch(temporary: Path) -> None:
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
            self.connection.download(
                graph, temporary, on_response_headers=headers.update
            )
            check_length(temporary, headers)

        self._fetch_file(fetch, target)
        self._finish_file(task, target, None)

    # -- files ------------------------------------------------------------------

    def _fetch_file(self, fetch: Callable[[Path], None], target: Path) -> None:
        with atomic_path(target) as temporary:
            self.session.retrying(
                lambda: fetch(temporary), f'download of {target.name}'
            )
            label_bands(
                temporary,
                self.options.file_bands,
                target.name,
                self.options.file_dtype,
            )

    def _fetch_url(self, url: str, target: Path) -> None:
        try:
            response = self.connection.get(url, stream=True)
        except OpenEoApiPlainError as error:
            name = Path(url.split('?')[0]).name
            raise DownloadError(
                f'download of {name} ({url}): {self.session.failure(error)}'
            ) from error
        with response:
            with target.open('wb') as stream:
                for block in response.iter_content(chunk_size=1 << 20):
                    stream.write(block)
            check_length(target, response.headers)

    def _finish_file(
        self, task: DownloadTask, target: Path, bar: tqdm[Any] | None
    ) -> None:
        manifest, record = self._record(task)
        relative = target.relative_to(self.out).as_posix()
        if relative not in record['files']:
            record['files'].append(relative)
        manifest.save()
        if bar is not None:
            bar.update()
        if self.on_file is not None:
            self.on_file(target)


def download(
    out: str | Path,
    sheets: Iterable[Sheet | str],
    years: Iterable[int],
    months: Iterable[int] | None = None,
    options: SensorDownload | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    sync: bool = False,
    auth: bool | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download imagery for some sheets and months (Sentinel-2 TOC by default).

    Args:
        out: the output folder.
        sheets: map sheets or codes.
        years: the years.
        months: the months 1..12 (default all).
        options: what to download (default Sentinel-2, all bands, every date,
            EPSG:4326; :class:`~torchgeo_bvm.download.sentinel1.Sentinel1Options`
            for Sentinel-1 backscatter).
        backend: the openEO backend URL.
        sync: synchronous requests instead of batch jobs (composites only).
        auth: authenticate (True), not (False), or if the backend offers OIDC.
        progress: show progress bars.

    Returns:
        The downloaded files.

    Raises:
        JobFailedError: if a batch job fails.
        DownloadError: if a download fails after its retries.
        ValueError: for bad sheets, months, bands or settings.
    """
    downloader = Downloader(
        out, options, backend=backend, sync=sync, auth=auth, progress=progress
    )
    return downloader.run(downloader.plan(sheets, years, months))
