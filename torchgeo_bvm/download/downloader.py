"""Running download tasks against an openEO backend, resumably.

See :mod:`torchgeo_bvm.download` for the faults it survives and how it resumes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import rasterio
import requests
from openeo.rest import OpenEoApiError, OpenEoApiPlainError, OpenEoClientException
from openeo.rest.connection import Connection, connect
from openeo.rest.job import BatchJob
from requests.structures import CaseInsensitiveDict
from tqdm.auto import tqdm
from urllib3.util import Retry

from ..checks import MAX_WAIT_SECONDS, check_count, check_seconds
from ..errors import BVMError, BVMValueError
from ..fileio import atomic_path
from ..sheets.codes import Sheet
from . import DEFAULT_BACKEND
from .graph import DownloadOptions
from .manifest import Manifest, graph_digest
from .tasks import DownloadTask, SensorDownload, plan_tasks

__all__ = [
    'CONNECT_ATTEMPTS',
    'DEFAULT_BACKEND',
    'MAX_BACKOFF_SECONDS',
    'MAX_CONNECT_TIMEOUT',
    'TRANSIENT_STATUS',
    'DownloadError',
    'Downloader',
    'JobFailedError',
    'download',
]

_log = logging.getLogger(__name__)

#: HTTP answers worth retrying: rate limiting and server-side trouble.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
#: How often the backend is tried at start-up before the run gives up.
CONNECT_ATTEMPTS = 3
#: The longest ``connect_timeout``: an unreachable backend is given up on
#: within about 15 minutes at most.
MAX_CONNECT_TIMEOUT = 300.0
#: The longest delay between two attempts of a request (the backoff doubles up
#: to it), as urllib3's retries cap theirs.
MAX_BACKOFF_SECONDS = 120.0

_ASSET_DATE = re.compile(r'(\d{4}-\d{2}-\d{2})')
_TIFF_SUFFIXES = ('.tif', '.tiff')
_T = TypeVar('_T')


class DownloadError(BVMError, RuntimeError):
    """A download failed for good (after its retries), or delivered a bad file.

    Also what an unreachable backend, a refused login (HTTP 401, a failed OpenID
    Connect flow) or an asset the backend does not have (HTTP 404) end in: one
    line naming the backend, the request and its answer.
    """


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


class _TruncatedError(requests.exceptions.ChunkedEncodingError):
    """A body ended before its announced ``Content-Length``."""


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
            to :data:`MAX_BACKOFF_SECONDS` (which it may not exceed).
        poll_interval: the first delay between job status polls in seconds
            (at most :data:`~torchgeo_bvm.checks.MAX_WAIT_SECONDS`).
        max_poll_interval: the longest delay between polls (at most
            :data:`~torchgeo_bvm.checks.MAX_WAIT_SECONDS`).
        connect_timeout: seconds to wait for the backend's first answer (at
            most :data:`MAX_CONNECT_TIMEOUT`); it is tried
            :data:`CONNECT_ATTEMPTS` times, 1 s and 2 s apart, so an
            unreachable backend fails within about ``3 * connect_timeout + 3``
            seconds.
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
        check_count(retries, 'retries', minimum=0, maximum=100)
        for name, value, longest in (
            ('poll_interval', poll_interval, MAX_WAIT_SECONDS),
            ('max_poll_interval', max_poll_interval, MAX_WAIT_SECONDS),
            ('connect_timeout', connect_timeout, MAX_CONNECT_TIMEOUT),
        ):
            check_seconds(value, name, longest)
        if backoff != 0:
            check_seconds(backoff, 'backoff', MAX_BACKOFF_SECONDS)
        self.options: SensorDownload = options or DownloadOptions()
        if sync and self.options.composite is None:
            raise BVMValueError(
                'synchronous requests need a composite (--composite monthly): one '
                'GeoTIFF answer carries one time step; use batch jobs for every date'
            )
        self.backend = backend
        self.sync = sync
        self.auth = auth
        self.retries = retries
        self.backoff = backoff
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.connect_timeout = connect_timeout
        self.progress = progress
        self.on_file = on_file
        self._connection: Connection | None = None
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
            raise DownloadError(self._failure(error)) from error

    def _failure(self, error: Exception) -> str:
        """One line for an answer or a failure of the backend."""
        if isinstance(error, OpenEoApiPlainError):
            status = error.http_status_code
            code = getattr(error, 'code', None)
            what = f'HTTP {status}' + (f' {code}' if code else '')
            text = f'{self.url} answered {what}: {_first_line(error.message)}'
            if status in (401, 403):
                text += (
                    ' (the login was refused or has expired: authenticate again, '
                    "see the openeo client's authentication docs)"
                )
            return text
        return f'{self.url}: {_reason(error)}'

    @property
    def url(self) -> str:
        """The backend's URL, with its scheme."""
        return self.backend if '://' in self.backend else f'https://{self.backend}'

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

    # -- connection -----------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The connection, opened (and authenticated) on first use."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> Connection:
        self._reach()
        # The client's own urllib3 retry adapter retries refused or reset
        # connections and HTTP 429/5xx answers (honouring Retry-After); it is
        # widened to every method and to 500, and hands the last answer back so
        # the client raises the backend's own error message.
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff / 2,
            status_forcelist=TRANSIENT_STATUS,
            allowed_methods=None,
            raise_on_status=False,
        )
        connection = connect(self.backend, retry=retry)
        if self._wants_auth(connection):
            try:
                connection.authenticate_oidc()
            except (
                OpenEoClientException,
                requests.exceptions.RequestException,
            ) as error:
                raise DownloadError(
                    f'{self.url}: the OpenID Connect login failed: '
                    f'{_first_line(str(error))}'
                ) from error
        return connection

    def _reach(self) -> None:
        """Fail within a bounded time if nothing answers at the backend's URL.

        The client's first requests would otherwise go through its retries
        twice (version discovery, then capabilities), a minute and more of
        silence before a traceback.
        """
        start = time.monotonic()
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                requests.get(self.url, timeout=self.connect_timeout).close()
                return
            except requests.exceptions.RequestException as error:
                if attempt + 1 == CONNECT_ATTEMPTS:
                    seconds = time.monotonic() - start
                    raise DownloadError(
                        f'cannot reach the openEO backend {self.url}: '
                        f'{_reason(error)} (gave up after {CONNECT_ATTEMPTS} '
                        f'attempts in {seconds:.0f} s); check the network or '
                        '--backend, or print the process graphs with --dry-run'
                    ) from error
                time.sleep(2.0**attempt)

    def _wants_auth(self, connection: Connection) -> bool:
        if self.auth is not None:
            return self.auth
        offers_oidc: bool = connection.capabilities().supports_endpoint(
            '/credentials/oidc', method='GET'
        )
        return offers_oidc

    def _retrying(self, call: Callable[[], _T], what: str) -> _T:
        # Status retries live in the adapter; this loop covers what it cannot
        # see: connections dropped while a body streams, and truncated bodies.
        for attempt in range(self.retries + 1):
            try:
                return call()
            except requests.exceptions.ChunkedEncodingError as error:
                if attempt == self.retries:
                    raise DownloadError(
                        f'{what}: gave up after {attempt + 1} attempts: {error}'
                    ) from error
                delay = min(self.backoff * 2**attempt, MAX_BACKOFF_SECONDS)
                _log.warning('%s: %s; retrying in %.1f s', what, error, delay)
                time.sleep(delay)
        raise AssertionError('unreachable')

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
            self._wait(job, bar)
            assets = self._tiff_assets(job, task)
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
            status = self._status(job)
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

    def _status(self, job: BatchJob) -> str:
        try:
            info = self._retrying(job.describe, f'status of job {job.job_id}')
        except OpenEoApiError as error:
            if error.http_status_code == 404:
                return 'gone'
            raise
        return str(info.get('status', 'unknown'))

    def _wait(self, job: BatchJob, bar: tqdm[Any]) -> None:
        # Our own loop rather than BatchJob.start_and_wait: a resumed job must
        # not be started again, and the status belongs in the progress bar.
        delay = self.poll_interval
        while True:
            info = self._retrying(job.describe, f'status of job {job.job_id}')
            status = str(info.get('status', 'unknown'))
            progress = info.get('progress')
            shown = f' {progress:.0f}%' if isinstance(progress, int | float) else ''
            bar.set_postfix_str(f'job {job.job_id} {status}{shown}')
            if status == 'finished':
                return
            if status in ('error', 'canceled'):
                raise JobFailedError(job.job_id, status, self._log_lines(job))
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_poll_interval)

    def _log_lines(self, job: BatchJob) -> list[str]:
        try:
            entries = self._retrying(job.logs, f'logs of job {job.job_id}')
        except (OpenEoApiError, OpenEoApiPlainError, DownloadError) as error:
            return [f'(the logs could not be read: {error})']
        return [f'[{e.get("level", "?")}] {e.get("message", "")}' for e in entries]

    def _tiff_assets(self, job: BatchJob, task: DownloadTask) -> list[tuple[str, Path]]:
        results = self._retrying(job.get_results, f'results of job {job.job_id}')
        assets = self._retrying(results.get_assets, f'results of job {job.job_id}')
        targets: dict[Path, str] = {}
        for asset in assets:
            name = Path(asset.href.split('?')[0]).name
            if not (
                str(asset.media_type or '').startswith('image/tiff')
                or name.lower().endswith(_TIFF_SUFFIXES)
            ):
                continue
            target = self.options.output_path(
                self.out, task, self._asset_day(asset.key, name, task)
            )
            if target in targets:
                raise DownloadError(
                    f'job {job.job_id}: assets {targets[target]!r} and {asset.href!r} '
                    f'both map to {target.name}'
                )
            targets[target] = asset.href
        if not targets:
            raise DownloadError(f'job {job.job_id} of {task.key} delivered no GeoTIFF')
        return [(href, target) for target, href in sorted(targets.items())]

    def _asset_day(self, key: str, name: str, task: DownloadTask) -> date:
        match = _ASSET_DATE.search(name) or _ASSET_DATE.search(key)
        if match:
            day = date.fromisoformat(match[1])
            if task.start <= day < task.end:
                return day
            raise DownloadError(
                f'asset {name!r} is dated {day}, outside the requested {task.key}'
            )
        # Without a time dimension (one month) the backend names it openEO.tif.
        if self.options.composite and len(task.months) == 1:
            return task.start
        raise DownloadError(f'asset {name!r} of {task.key} has no date in its name')

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
            _check_length(temporary, headers)

        self._fetch_file(fetch, target)
        self._finish_file(task, target, None)

    # -- files ------------------------------------------------------------------

    def _fetch_file(self, fetch: Callable[[Path], None], target: Path) -> None:
        with atomic_path(target) as temporary:
            self._retrying(lambda: fetch(temporary), f'download of {target.name}')
            _label_bands(
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
                f'download of {name} ({url}): {self._failure(error)}'
            ) from error
        with response:
            with target.open('wb') as stream:
                for block in response.iter_content(chunk_size=1 << 20):
                    stream.write(block)
            _check_length(target, response.headers)

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


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), '')


def _reason(error: Exception) -> str:
    """Why a request failed, in words, without urllib3's nested reprs."""
    text = str(error)
    if isinstance(error, requests.exceptions.Timeout):
        return 'no answer in time'
    if 'NameResolutionError' in text or 'Failed to resolve' in text:
        return 'its host name does not resolve (no network or DNS?)'
    if 'Connection refused' in text:
        return 'connection refused (nothing listens there)'
    if isinstance(error, requests.exceptions.ConnectionError):
        return 'the connection failed'
    return _first_line(text) or type(error).__name__


def _check_length(path: Path, headers: Mapping[str, str]) -> None:
    # A dropped connection can look like a normal end of the body; the announced
    # length tells them apart. Compressed bodies are checked by urllib3 itself.
    announced = headers.get('Content-Length')
    if announced is None or headers.get('Content-Encoding'):
        return
    size = path.stat().st_size
    if size != int(announced):
        raise _TruncatedError(f'got {size} of {announced} bytes')


def _label_bands(
    path: Path, names: Sequence[str], shown: str, dtype: str = 'int16'
) -> None:
    """Check the band count and type and store the band names in the file.

    Args:
        path: the downloaded GeoTIFF.
        names: the band names it must hold, in order.
        shown: the file name to show in errors.
        dtype: the data type the file is stored in (``'int16'``: rounded and
            clipped; ``'float32'``: NaN where there is no data).

    Raises:
        DownloadError: if the file is not a GeoTIFF, has another band count,
            or names its bands differently.
    """
    try:
        with rasterio.open(path) as src:
            count, found_dtype, found = src.count, src.dtypes[0], src.descriptions
    except rasterio.errors.RasterioIOError as error:
        raise DownloadError(
            f'{shown}: the backend delivered no readable GeoTIFF ({error})'
        ) from None
    if count != len(names):
        raise DownloadError(
            f'{shown}: expected {len(names)} bands ({", ".join(names)}), '
            f'the file has {count}'
        )
    if any(found) and tuple(found) != tuple(names):
        raise DownloadError(
            f'{shown}: the backend named the bands {list(found)}, '
            f'expected {list(names)}'
        )
    if found_dtype != dtype and dtype == 'float32':
        _to_float32(path)
    elif found_dtype != dtype:
        _to_int16(path)
    with rasterio.open(path, 'r+') as dst:
        dst.descriptions = tuple(names)


def _to_int16(path: Path) -> None:
    # Reflectance x 10000 fits int16; some backends write medians as floats.
    with rasterio.open(path) as src:
        profile, data = src.profile, np.ma.masked_invalid(src.read(masked=True))
    nodata = profile.get('nodata')
    if nodata is None or not np.isfinite(nodata) or not -32768 <= nodata <= 32767:
        nodata = -32768
    values = np.clip(np.rint(data.filled(nodata)), -32768, 32767).astype(np.int16)
    values[np.ma.getmaskarray(data)] = int(nodata)
    profile.update(dtype='int16', nodata=int(nodata))
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(values)


def _to_float32(path: Path) -> None:
    # Backscatter is linear power: float64 answers are narrowed, nodata is NaN.
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read(masked=True)
    values = np.ma.filled(np.ma.masked_invalid(data).astype(np.float32), np.nan)
    profile.update(dtype='float32', nodata=float('nan'))
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(values)


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
