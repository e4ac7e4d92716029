"""Download Sentinel-2 TOC imagery per map sheet with openEO, resumably.

For each map sheet (``kbl4`` by default, any level accepted) and each period of
whole months, one openEO process graph is built on Terrascope's
``TERRASCOPE_S2_TOC_V2`` collection (Sentinel-2 L2A processed at VITO) and run
as a batch job (or as a synchronous request for small extents) on an openEO
backend, ``openeo.vito.be`` by default, with the official ``openeo`` client.
The results land in the layout :class:`~torchgeo_bvm.datasets.Sentinel2TOC`
reads::

    <out>/<sheet.file_safe>/<sheet.file_safe>_openEO_<YYYY-MM-DD>Z.tif  (one date)
    <out>/<sheet.file_safe>/<sheet.file_safe>_openEO_<YYYY-MM>_median.tif  (composite)

Every file is an int16 GeoTIFF with one band per requested band in the requested
order, then ``SCL`` (not in composites); each band's description is its name
(``B02``, ..., ``SCL``), so bands are selected by name, never by position (the
paper's code assumed an order the backend did not deliver).

Process graph:

* ``load_collection`` with the bands plus ``SCL``, the sheet's EPSG:4326
  bounding box (of the sheet densified every 100 m, so the curved edges of the
  Lambert 72 rectangle are covered, as the paper did), the period, and
  optionally ``max_cloud_cover`` (an ``eo:cloud_cover`` property filter).
* Optional monthly cloud-free composite (``composite='monthly'``): the bands are
  masked where ``SCL`` is not in {4, 5, 6, 7} (vegetation, not vegetated, water,
  unclassified; standard openEO processes, so any backend runs it), or with
  VITO's ``to_scl_dilation_mask`` (``cloud_mask='dilation'``, which also removes
  a margin around clouds), then ``aggregate_temporal_period('month',
  reducer='median')``. Download size: every Kbl4 sheet is imaged every 5 days
  from each relative orbit that covers it, and Flanders lies where two or three
  orbits overlap, so the paper's every-date download holds about 73 to 150
  dates per sheet and year (most of them cloudy); the composite holds 12, so
  6 to 12 times fewer files and bytes, and the cloud masking has been done.
* ``resample_spatial`` onto EPSG:4326 at the resolution equivalent to 10 m at
  the centre of Flanders (:func:`torchgeo_bvm.crs.resolution_for`), with
  nearest-neighbour sampling (``SCL`` is categorical): the package intersects
  imagery and labels in EPSG:4326 by default, so reading never has to warp.
  ``crs=None`` keeps the backend's native grid (UTM 31N, 10 m) instead; any
  other CRS is resampled to 10 m in it.
* ``save_result(format='GTiff')``: batch jobs write one GeoTIFF per date
  (``openEO_2022-04-05Z.tif``) or month, renamed here as above.

Faults: HTTP 429 and 5xx answers are retried with exponential backoff by the
client's own ``urllib3`` retry adapter, configured for every method (starting a
job twice is harmless in the openEO API, and a created job that is never started
costs nothing); dropped connections and truncated bodies (fewer bytes than
``Content-Length``) are retried here, with the same backoff. A failed job raises
:class:`JobFailedError` with its id and the backend's log lines. A JSON manifest
(``openeo-manifest.json`` in the output folder, rewritten atomically after every
file) records each job id and each finished file, so a re-run skips finished
sheets and periods, picks up a job that is still running or finished, and
downloads only the missing files. Every file is written through
:func:`torchgeo_bvm.fileio.atomic_path`: an interrupted run never leaves a
truncated file under its final name.

Authentication goes only through the client's own mechanisms
(``Connection.authenticate_oidc()``: refresh tokens kept by the client, the
device flow, or client credentials from ``OPENEO_AUTH_*`` environment
variables); this module never reads, writes or logs a token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import rasterio
import requests
from openeo.rest import OpenEoApiError, OpenEoApiPlainError
from openeo.rest._datacube import THIS
from openeo.rest.connection import Connection, connect
from openeo.rest.datacube import DataCube
from openeo.rest.job import BatchJob
from pyproj import CRS
from requests.structures import CaseInsensitiveDict
from tqdm.auto import tqdm
from urllib3.util import Retry

from .crs import DEFAULT_CRS, resolution_for
from .datasets.sentinel2 import (
    ALL_BANDS,
    BAND_MODES,
    SCL_BAND,
    openeo_acquisition_path,
    openeo_composite_path,
    resolve_bands,
)
from .fileio import atomic_path
from .kaartblad import Sheet

__all__ = [
    'ALL_BANDS',
    'BAND_MODES',
    'COLLECTION',
    'DEFAULT_BACKEND',
    'MANIFEST_NAME',
    'SCL_BAND',
    'VALID_SCL',
    'DownloadError',
    'DownloadOptions',
    'DownloadTask',
    'Downloader',
    'JobFailedError',
    'Manifest',
    'build_process_graph',
    'download',
    'output_path',
    'plan_tasks',
    'resolve_bands',
    'sheet_extent',
]

_log = logging.getLogger(__name__)

#: The openEO collection of Terrascope Sentinel-2 L2A (TOC) reflectance.
COLLECTION = 'TERRASCOPE_S2_TOC_V2'
#: The backend used by the paper (Terrascope).
DEFAULT_BACKEND = 'openeo.vito.be'
#: SCL classes kept by the composites: vegetation, not vegetated, water, unclassified.
VALID_SCL = (4, 5, 6, 7)
#: File name of the manifest in the output folder.
MANIFEST_NAME = 'openeo-manifest.json'

#: HTTP answers worth retrying: rate limiting and server-side trouble.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})

_ASSET_DATE = re.compile(r'(\d{4}-\d{2}-\d{2})')
_TIFF_SUFFIXES = ('.tif', '.tiff')
_T = TypeVar('_T')


class DownloadError(RuntimeError):
    """A download failed for good (after its retries), or delivered a bad file."""


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


@dataclass(frozen=True)
class DownloadOptions:
    """What to download, the same for every sheet and period.

    Args:
        bands: the reflectance bands in file order (``SCL`` is added last).
        composite: ``'monthly'`` for a server-side cloud-masked monthly median,
            None for every acquisition date.
        max_cloud_cover: keep only scenes with at most this cloud cover (%).
        crs: the CRS of the files (resampled to 10 m there), or None for the
            backend's native grid.
        cloud_mask: ``'scl'`` (SCL not in :data:`VALID_SCL`) or ``'dilation'``
            (VITO's ``to_scl_dilation_mask``); used by composites only.

    Raises:
        ValueError: for an unknown composite, cloud mask, band or a cloud cover
            outside 0..100.
    """

    bands: tuple[str, ...] = ALL_BANDS
    composite: Literal['monthly'] | None = None
    max_cloud_cover: float | None = None
    crs: str | None = 'EPSG:4326'
    cloud_mask: Literal['scl', 'dilation'] = 'scl'

    def __post_init__(self) -> None:
        object.__setattr__(self, 'bands', resolve_bands(self.bands))
        if self.composite not in (None, 'monthly'):
            raise ValueError(
                f"unknown composite {self.composite!r}: expected 'monthly'"
            )
        if self.cloud_mask not in ('scl', 'dilation'):
            raise ValueError(
                f"unknown cloud mask {self.cloud_mask!r}: expected 'scl' or 'dilation'"
            )
        if self.max_cloud_cover is not None and not 0 <= self.max_cloud_cover <= 100:
            raise ValueError(
                f'max_cloud_cover must lie in 0..100 %, got {self.max_cloud_cover}'
            )
        if self.crs is not None:
            epsg = CRS.from_user_input(self.crs).to_epsg()
            if epsg is None:
                raise ValueError(
                    f'crs {self.crs!r} has no EPSG code, which openEO needs'
                )
            object.__setattr__(self, 'crs', f'EPSG:{epsg}')

    @property
    def file_bands(self) -> tuple[str, ...]:
        """The band names of every downloaded file, in order."""
        return self.bands if self.composite else (*self.bands, SCL_BAND)

    def settings(self) -> dict[str, Any]:
        """What the files of an output folder must agree on (kept in the manifest).

        Returns:
            A JSON-serialisable dict.
        """
        return {
            'collection': COLLECTION,
            'bands': list(self.file_bands),
            'composite': self.composite,
            'crs': self.crs,
            'cloud_mask': self.cloud_mask if self.composite else None,
        }


@dataclass(frozen=True, order=True)
class DownloadTask:
    """One sheet and one run of consecutive months: one job, or one request.

    Args:
        sheet: the map sheet.
        start: the first day (inclusive).
        end: the day after the period (exclusive, as openEO's temporal extents).
    """

    sheet: Sheet
    start: date
    end: date

    @property
    def key(self) -> str:
        """The task's key in the manifest."""
        return f'{self.sheet.file_safe} {self.start.isoformat()}/{self.end.isoformat()}'

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


def plan_tasks(
    sheets: Iterable[Sheet | str],
    years: Iterable[int],
    months: Iterable[int] | None = None,
    *,
    per_month: bool = False,
) -> list[DownloadTask]:
    """The tasks for some sheets and months: one per sheet, year and month run.

    Consecutive months of a year share one task (one batch job), as the paper
    downloaded a year per job; ``per_month`` gives every month its own task.

    Args:
        sheets: map sheets or codes.
        years: the years.
        months: the months 1..12 (default all).
        per_month: one task per month (synchronous requests carry one month).

    Returns:
        The tasks, by sheet then time.

    Raises:
        ValueError: for a month outside 1..12, a year outside 2015..2100 (no
            Sentinel-2 L2A before 2015), or no sheet or year.
    """
    chosen_sheets = sorted({Sheet.parse(s) for s in sheets})
    chosen_years = sorted(set(years))
    chosen_months = sorted(set(range(1, 13) if months is None else months))
    if not chosen_sheets:
        raise ValueError('no map sheet given')
    if not chosen_years:
        raise ValueError('no year given')
    if bad := [m for m in chosen_months if not 1 <= m <= 12]:
        raise ValueError(f'months must lie in 1..12, got {bad}')
    if bad := [y for y in chosen_years if not 2015 <= y <= 2100]:
        raise ValueError(f'years must lie in 2015..2100 (Sentinel-2 era), got {bad}')
    if not chosen_months:
        raise ValueError('no month given')
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


def sheet_extent(sheet: Sheet | str, densify: float = 100.0) -> dict[str, Any]:
    """The EPSG:4326 bounding box of a sheet as an openEO ``spatial_extent``.

    Args:
        sheet: the map sheet.
        densify: edge length in metres before reprojecting, so the box covers
            the curved edges of the Lambert 72 rectangle.

    Returns:
        ``{'west', 'south', 'east', 'north', 'crs'}``, rounded to 1e-7 degrees
        (about 1 cm) outwards.
    """
    west, south, east, north = _extent(Sheet.parse(sheet), densify)
    return {
        'west': west,
        'south': south,
        'east': east,
        'north': north,
        'crs': 'EPSG:4326',
    }


@cache
def _extent(sheet: Sheet, densify: float) -> tuple[float, float, float, float]:
    # Cached: every period of a sheet has the same extent, and each
    # reprojection builds a pyproj Transformer (about 50 ms).
    west, south, east, north = sheet.geometry(DEFAULT_CRS, densify).bounds
    scale = 1e7
    return (
        float(np.floor(west * scale) / scale),
        float(np.floor(south * scale) / scale),
        float(np.ceil(east * scale) / scale),
        float(np.ceil(north * scale) / scale),
    )


def build_process_graph(
    sheet: Sheet | str, temporal_extent: Sequence[str], options: DownloadOptions
) -> dict[str, Any]:
    """The openEO process graph of one sheet and period, built without a backend.

    Args:
        sheet: the map sheet.
        temporal_extent: ``[start, end]`` ISO dates, the end exclusive.
        options: bands, composite, cloud cover, CRS and cloud mask.

    Returns:
        The openEO process object ``{'process_graph': {...}}`` (flat graph).
    """
    cube = DataCube.load_collection(
        COLLECTION,
        spatial_extent=sheet_extent(sheet),
        temporal_extent=list(temporal_extent),
        bands=[*options.bands, SCL_BAND],
        max_cloud_cover=options.max_cloud_cover,
    )
    if options.composite == 'monthly':
        cube = _mask_clouds(cube, options).aggregate_temporal_period(
            'month', reducer='median'
        )
    if options.crs is not None:
        projection = CRS.from_user_input(options.crs).to_epsg()
        cube = cube.resample_spatial(
            resolution=list(resolution_for(options.crs)),
            projection=projection,
            method='near',
        )
    graph: dict[str, Any] = cube.save_result(format='GTiff').flat_graph()
    return {'process_graph': graph}


def _mask_clouds(cube: DataCube, options: DownloadOptions) -> DataCube:
    if options.cloud_mask == 'dilation':
        invalid = cube.filter_bands([SCL_BAND]).process(
            'to_scl_dilation_mask', data=THIS
        )
    else:
        scl = cube.band(SCL_BAND)
        valid: DataCube = scl == VALID_SCL[0]
        for value in VALID_SCL[1:]:
            valid = valid | (scl == value)
        invalid = ~valid
    return cube.filter_bands(list(options.bands)).mask(invalid)


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


def _graph_digest(graph: dict[str, Any]) -> str:
    text = json.dumps(graph, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Manifest:
    """What an output folder holds: settings, job ids and finished files.

    Stored as JSON next to the sheet folders and rewritten atomically after
    every change, so it never lags more than one file behind the disk.

    Args:
        path: the manifest file.
        settings: :meth:`DownloadOptions.settings` of the folder.
        tasks: task key -> record (``sheet``, ``temporal_extent``, ``graph``,
            ``job_id``, ``files`` relative to the folder, ``complete``).
    """

    path: Path
    settings: dict[str, Any]
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, out: str | Path, settings: dict[str, Any]) -> Manifest:
        """Read the manifest of a folder, or start one.

        Args:
            out: the output folder.
            settings: the settings of this run.

        Returns:
            The manifest.

        Raises:
            ValueError: if the manifest is unreadable, or records other settings
                (mixing bands or grids in one folder would mislabel files).
        """
        path = Path(out) / MANIFEST_NAME
        if not path.exists():
            return cls(path, settings)
        try:
            data = json.loads(path.read_text())
            stored, tasks = data['settings'], data['tasks']
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f'{path}: not a download manifest ({error})') from None
        if stored != settings:
            changed = sorted(
                k for k in {*stored, *settings} if stored.get(k) != settings.get(k)
            )
            details = ', '.join(
                f'{k}: {stored.get(k)!r} there, {settings.get(k)!r} now'
                for k in changed
            )
            raise ValueError(
                f'{path.parent} holds a download with other settings ({details}); '
                'use another output folder'
            )
        return cls(path, settings, tasks)

    def save(self) -> None:
        """Write the manifest atomically."""
        data = {'settings': self.settings, 'tasks': self.tasks}
        with atomic_path(self.path) as temporary:
            temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')

    def record(self, task: DownloadTask, graph: str) -> dict[str, Any]:
        """The record of a task, created (or reset, if its graph changed).

        Args:
            task: the task.
            graph: the digest of its process graph.

        Returns:
            The mutable record.
        """
        record = self.tasks.get(task.key)
        if record is None or record.get('graph') != graph:
            record = {
                'sheet': task.sheet.code,
                'temporal_extent': task.temporal_extent,
                'graph': graph,
                'job_id': None,
                'files': [],
                'complete': False,
            }
            self.tasks[task.key] = record
        return record

    def is_complete(self, task: DownloadTask, graph: str) -> bool:
        """Whether a task finished with this graph and all its files exist.

        Args:
            task: the task.
            graph: the digest of its process graph.

        Returns:
            True if nothing is left to do.
        """
        record = self.tasks.get(task.key)
        return bool(
            record
            and record['complete']
            and record['graph'] == graph
            and all((self.path.parent / f).is_file() for f in record['files'])
        )


class Downloader:
    """Runs download tasks against an openEO backend.

    Args:
        out: the output folder.
        options: what to download.
        backend: the backend URL (``https://`` is added if no scheme is given).
        sync: use synchronous ``POST /result`` requests (one per sheet and month;
            composites only, since one GeoTIFF answer carries one time step)
            instead of batch jobs.
        auth: True to authenticate with the client's
            ``authenticate_oidc()``, False for none, None to authenticate only
            if the backend offers OpenID Connect (``GET /credentials/oidc``).
        retries: attempts after the first for transient HTTP errors and dropped
            connections.
        backoff: the first backoff delay in seconds, doubled at every retry.
        poll_interval: the first delay between job status polls in seconds.
        max_poll_interval: the longest delay between polls.
        progress: show tqdm progress bars.
        on_file: called with the path of every finished file (after the manifest
            recorded it); raising from it stops the run, as a kill would.

    Raises:
        ValueError: for ``sync`` without a composite.
    """

    def __init__(
        self,
        out: str | Path,
        options: DownloadOptions | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        sync: bool = False,
        auth: bool | None = None,
        retries: int = 5,
        backoff: float = 2.0,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        progress: bool = True,
        on_file: Callable[[Path], None] | None = None,
    ) -> None:
        self.out = Path(out)
        self.options = options or DownloadOptions()
        if sync and self.options.composite is None:
            raise ValueError(
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
        self.progress = progress
        self.on_file = on_file
        self._connection: Connection | None = None

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
            The tasks.
        """
        return plan_tasks(sheets, years, months, per_month=self.sync)

    def graph(self, task: DownloadTask) -> dict[str, Any]:
        """The process graph of a task.

        Args:
            task: the task.

        Returns:
            The openEO process object.
        """
        return build_process_graph(task.sheet, task.temporal_extent, self.options)

    def run(self, tasks: Sequence[DownloadTask]) -> list[Path]:
        """Download every task not finished yet.

        Args:
            tasks: the tasks (see :meth:`plan`).

        Returns:
            The files of all tasks, finished now or before.

        Raises:
            JobFailedError: if a batch job fails.
            DownloadError: if a download fails after its retries or a file does
                not hold the requested bands.
            ValueError: if the folder holds a download with other settings.
        """
        manifest = Manifest.open(self.out, self.options.settings())
        files: list[Path] = []
        overall = tqdm(
            tasks, desc='openEO downloads', unit='task', disable=not self.progress
        )
        for task in overall:
            graph = self.graph(task)
            digest = _graph_digest(graph)
            overall.set_postfix_str(task.key)
            if not manifest.is_complete(task, digest):
                record = manifest.record(task, digest)
                record['complete'] = False
                if self.sync:
                    self._run_sync(task, graph, manifest, record)
                else:
                    self._run_batch(task, graph, manifest, record)
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
            connection.authenticate_oidc()
        return connection

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
                delay = self.backoff * 2**attempt
                _log.warning('%s: %s; retrying in %.1f s', what, error, delay)
                time.sleep(delay)
        raise AssertionError('unreachable')

    # -- batch jobs -------------------------------------------------------------

    def _run_batch(
        self,
        task: DownloadTask,
        graph: dict[str, Any],
        manifest: Manifest,
        record: dict[str, Any],
    ) -> None:
        bar = tqdm(desc=task.key, unit='file', leave=False, disable=not self.progress)
        try:
            job = self._resume_or_create(task, graph, manifest, record, bar)
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
                self._finish_file(manifest, record, target, bar)
        finally:
            bar.close()

    def _resume_or_create(
        self,
        task: DownloadTask,
        graph: dict[str, Any],
        manifest: Manifest,
        record: dict[str, Any],
        bar: tqdm[Any],
    ) -> BatchJob:
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
            target = output_path(
                self.out,
                task.sheet,
                self._asset_day(asset.key, name, task),
                bool(self.options.composite),
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

    def _run_sync(
        self,
        task: DownloadTask,
        graph: dict[str, Any],
        manifest: Manifest,
        record: dict[str, Any],
    ) -> None:
        target = output_path(self.out, task.sheet, task.start, composite=True)
        record['files'] = []

        def fetch(temporary: Path) -> None:
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
            self.connection.download(
                graph, temporary, on_response_headers=headers.update
            )
            _check_length(temporary, headers)

        self._fetch_file(fetch, target)
        self._finish_file(manifest, record, target, None)

    # -- files ------------------------------------------------------------------

    def _fetch_file(self, fetch: Callable[[Path], None], target: Path) -> None:
        with atomic_path(target) as temporary:
            self._retrying(lambda: fetch(temporary), f'download of {target.name}')
            _label_bands(temporary, self.options.file_bands, target.name)

    def _fetch_url(self, url: str, target: Path) -> None:
        with self.connection.get(url, stream=True) as response:
            with target.open('wb') as stream:
                for block in response.iter_content(chunk_size=1 << 20):
                    stream.write(block)
            _check_length(target, response.headers)

    def _finish_file(
        self,
        manifest: Manifest,
        record: dict[str, Any],
        target: Path,
        bar: tqdm[Any] | None,
    ) -> None:
        relative = target.relative_to(self.out).as_posix()
        if relative not in record['files']:
            record['files'].append(relative)
        manifest.save()
        if bar is not None:
            bar.update()
        if self.on_file is not None:
            self.on_file(target)


def _check_length(path: Path, headers: Mapping[str, str]) -> None:
    # A dropped connection can look like a normal end of the body; the announced
    # length tells them apart. Compressed bodies are checked by urllib3 itself.
    announced = headers.get('Content-Length')
    if announced is None or headers.get('Content-Encoding'):
        return
    size = path.stat().st_size
    if size != int(announced):
        raise _TruncatedError(f'got {size} of {announced} bytes')


def _label_bands(path: Path, names: Sequence[str], shown: str) -> None:
    """Check the band count and type and store the band names in the file.

    Args:
        path: the downloaded GeoTIFF.
        names: the band names it must hold, in order.
        shown: the file name to show in errors.

    Raises:
        DownloadError: if the file is not a GeoTIFF, has another band count,
            or names its bands differently.
    """
    try:
        with rasterio.open(path) as src:
            count, dtype, found = src.count, src.dtypes[0], src.descriptions
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
    if dtype != 'int16':
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


def download(
    out: str | Path,
    sheets: Iterable[Sheet | str],
    years: Iterable[int],
    months: Iterable[int] | None = None,
    options: DownloadOptions | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    sync: bool = False,
    auth: bool | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download Sentinel-2 TOC imagery for some sheets and months.

    Args:
        out: the output folder.
        sheets: map sheets or codes.
        years: the years.
        months: the months 1..12 (default all).
        options: what to download (default all bands, every date, EPSG:4326).
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
