"""A small openEO backend on 127.0.0.1 for the downloader tests.

It speaks the parts of the openEO HTTP API (1.2.0) that the real ``openeo``
client uses to run a batch job or a synchronous request and download the
results: capabilities, collections, file formats, processes, ``POST /result``,
jobs (create, start, status, results, logs), asset downloads and, optionally,
OpenID Connect client-credentials authentication with a local token endpoint.

It reads every received process graph (collection, bands, spatial and temporal
extent, cloud-cover filter, monthly composite or not, target projection) and
answers with GeoTIFFs written by rasterio for exactly that request, named as
the VITO backend names them (``openEO_2022-04-05Z.tif`` per date). Two
collections: Terrascope's Sentinel-2 TOC (int16 reflectance and SCL) and
``SENTINEL1_GRD`` through ``sar_backscatter`` (float32 linear backscatter,
an orbit direction's passes every 6 days, monthly means). The files
are kept tiny (a fixed ``width`` x ``height`` grid over the requested extent):
the tests check names, bands, dtype and georeferencing, not resolution.

Faults can be injected: HTTP 500 answers before success on chosen routes, jobs
that end in ``error`` with log entries, downloads cut off halfway after
announcing their full ``Content-Length``, and assets that answer 404. With
``require_auth`` every processing route answers 401 without the token, and the
token endpoint refuses wrong client credentials, as a real provider does. The
process graphs are checked against the official schema where the downloader
could go wrong: ``spatial_extent.crs`` an EPSG integer or WKT2,
``resample_spatial`` one resolution for square pixels, ``sar_backscatter``'s
arguments (names, the ``coefficient`` enum and the boolean flags of the
official process, Open-EO/openeo-processes ``proposals/sar_backscatter.json``)
and collection properties given as ``eq`` child processes. The server runs in a daemon thread on
a free port and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_bounds
from rasterio.warp import transform_bounds

COLLECTION = 'TERRASCOPE_S2_TOC_V2'
S1_COLLECTION = 'SENTINEL1_GRD'
S1_BANDS = ('VV', 'VH', 'HH', 'HV')
#: ``sar_backscatter``'s parameters and coefficients in the official process.
SAR_BACKSCATTER_PARAMETERS = {
    'data', 'coefficient', 'elevation_model', 'mask', 'contributing_area',
    'local_incidence_angle', 'ellipsoid_incidence_angle', 'noise_removal', 'options',
}  # fmt: skip
SAR_COEFFICIENTS = (
    'beta0', 'sigma0-ellipsoid', 'sigma0-terrain', 'gamma0-ellipsoid', 'gamma0-terrain',
    None,
)  # fmt: skip
SAR_FLAGS = (
    'mask', 'contributing_area', 'local_incidence_angle', 'ellipsoid_incidence_angle',
    'noise_removal',
)  # fmt: skip
BANDS = (
    'B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12', 'SCL',
    'relativeAzimuthAngles', 'sunZenithAngles', 'viewZenithAngles',
)  # fmt: skip
#: The nodata value of the reflectance files this backend writes.
NODATA = 32767
#: The token the local OIDC provider issues (the tests look for it on disk).
ACCESS_TOKEN = 'local-secret-access-token-5f1d2c'
CLIENT_ID = 'torchgeo-bvm-tests'
CLIENT_SECRET = 'local-client-secret-9a8b7c'


def acquisition_dates(start: date, end: date) -> list[date]:
    """The days the fake satellite images: every fifth day (end exclusive)."""
    first = start + timedelta(days=(-start.toordinal()) % 5)
    return [first + timedelta(days=k) for k in range(0, (end - first).days, 5)]


def radar_dates(start: date, end: date, orbit: str) -> list[date]:
    """The days the fake radar passes in one direction: every 6th day (end exclusive)."""
    shift = 0 if orbit == 'ASCENDING' else 3
    first = start + timedelta(days=(shift - start.toordinal()) % 6)
    return [first + timedelta(days=k) for k in range(0, (end - first).days, 6)]


def cloud_cover(day: date) -> int:
    """The scene cloud cover (%) of a day, spread over 0..100."""
    return (day.toordinal() * 37) % 101


def month_starts(start: date, end: date) -> list[date]:
    """First days of the months overlapping [start, end)."""
    months, day = [], date(start.year, start.month, 1)
    while day < end:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


@dataclass
class Request:
    """What a process graph asks for."""

    collection: str
    bands: list[str]
    west: float
    south: float
    east: float
    north: float
    start: date
    end: date
    composite: bool
    epsg: int | None
    max_cloud_cover: float | None
    output_bands: list[str]
    orbit: str | None = None

    def dates(self) -> list[date]:
        if self.composite:
            return month_starts(self.start, self.end)
        if self.orbit is not None:
            return radar_dates(self.start, self.end, self.orbit)
        days = acquisition_dates(self.start, self.end)
        if self.max_cloud_cover is not None:
            days = [d for d in days if cloud_cover(d) <= self.max_cloud_cover]
        return days


class GraphError(ValueError):
    """A process graph this backend cannot run."""


def parse_graph(process: dict[str, Any]) -> Request:
    """Read a process graph (``{'process_graph': {...}}``) into a request."""
    nodes = process['process_graph']
    by_id: dict[str, list[dict[str, Any]]] = {}
    for node in nodes.values():
        by_id.setdefault(node['process_id'], []).append(node)
    if len(by_id.get('load_collection', [])) != 1:
        raise GraphError('expected exactly one load_collection')
    load = by_id['load_collection'][0]['arguments']
    if load['id'] not in (COLLECTION, S1_COLLECTION):
        raise GraphError(f"Collection '{load['id']}' does not exist.")
    radar = load['id'] == S1_COLLECTION
    offered = S1_BANDS if radar else BANDS
    bands = list(load.get('bands') or offered)
    if unknown := [b for b in bands if b not in offered]:
        raise GraphError(f'unknown bands {unknown}')
    extent = load['spatial_extent']
    crs = extent.get('crs', 4326)
    # The official schema: an EPSG code as an integer, or WKT2 text.
    if isinstance(crs, str) and not crs.lstrip().startswith(('GEOGCRS', 'PROJCRS')):
        raise GraphError(
            f'spatial_extent.crs must be an EPSG code (integer) or WKT2, got {crs!r}'
        )
    if crs != 4326:
        raise GraphError('this backend takes EPSG:4326 extents only')
    start, end = (date.fromisoformat(t) for t in load['temporal_extent'])
    if radar:
        return _radar_request(nodes, by_id, load, bands, start, end)
    max_cloud_cover = None
    if properties := load.get('properties'):
        (node,) = properties['eo:cloud_cover']['process_graph'].values()
        if node['process_id'] != 'lte':
            raise GraphError('eo:cloud_cover filter must be lte')
        max_cloud_cover = float(node['arguments']['y'])
    aggregates = by_id.get('aggregate_temporal_period', [])
    composite = bool(aggregates)
    if composite:
        arguments = aggregates[0]['arguments']
        (reducer,) = arguments['reducer']['process_graph'].values()
        if arguments['period'] != 'month' or reducer['process_id'] != 'median':
            raise GraphError('only monthly medians are supported')
        if 'mask' not in by_id:
            raise GraphError('a composite without a cloud mask')
        output_bands = list(by_id['filter_bands'][0]['arguments']['bands'])
    else:
        output_bands = bands
    epsg = None
    epsg = _output_epsg(by_id)
    return Request(
        COLLECTION, bands, extent['west'], extent['south'], extent['east'],
        extent['north'], start, end, composite, epsg, max_cloud_cover, output_bands,
    )  # fmt: skip


def _output_epsg(by_id: dict[str, list[dict[str, Any]]]) -> int | None:
    """The target projection of ``resample_spatial`` (checked), and ``save_result``."""
    epsg = None
    if resample := by_id.get('resample_spatial'):
        arguments = resample[0]['arguments']
        epsg = int(arguments['projection'])
        resolution = arguments['resolution']
        pair = isinstance(resolution, list) and len(resolution) == 2
        if not (isinstance(resolution, int | float) or pair):
            raise GraphError(
                f'resample_spatial.resolution must be a number or two, got {resolution!r}'
            )
        if pair and resolution[0] == resolution[1]:
            # As dask-based backends: a pair is refused; one value is square.
            raise GraphError('resample_spatial: give one resolution for square pixels')
    if (
        'save_result' not in by_id
        or by_id['save_result'][0]['arguments']['format'] != 'GTiff'
    ):
        raise GraphError('expected save_result with format GTiff')
    return epsg


def _equals(properties: dict[str, Any], name: str) -> str:
    """The value a collection property must equal (an ``eq`` child process)."""
    if name not in properties:
        raise GraphError(f'expected a {name} property filter')
    (node,) = properties[name]['process_graph'].values()
    arguments = node['arguments']
    if node['process_id'] != 'eq' or arguments['x'] != {'from_parameter': 'value'}:
        raise GraphError(f'{name} filter must be eq on the parameter value')
    return str(arguments['y'])


def _radar_request(
    nodes: dict[str, dict[str, Any]],
    by_id: dict[str, list[dict[str, Any]]],
    load: dict[str, Any],
    bands: list[str],
    start: date,
    end: date,
) -> Request:
    """A ``SENTINEL1_GRD`` graph, checked against the official ``sar_backscatter``."""
    properties = load.get('properties') or {}
    orbit = _equals(properties, 'sat:orbit_state')
    if orbit not in ('ASCENDING', 'DESCENDING'):
        raise GraphError(f'unknown sat:orbit_state {orbit!r}')
    if _equals(properties, 'polarisation') != 'VV&VH':
        raise GraphError('this backend serves dual-polarisation VV&VH products only')
    if len(by_id.get('sar_backscatter', [])) != 1:
        raise GraphError('SENTINEL1_GRD needs exactly one sar_backscatter')
    arguments = by_id['sar_backscatter'][0]['arguments']
    if unknown := sorted(set(arguments) - SAR_BACKSCATTER_PARAMETERS):
        raise GraphError(f'sar_backscatter has no parameter {unknown}')
    if arguments.get('coefficient', 'gamma0-terrain') not in SAR_COEFFICIENTS:
        raise GraphError(
            f'sar_backscatter: unknown coefficient {arguments["coefficient"]!r}'
        )
    if flags := [f for f in SAR_FLAGS if not isinstance(arguments.get(f, False), bool)]:
        raise GraphError(f'sar_backscatter: {flags} must be booleans')
    if arguments.get('coefficient') != 'sigma0-ellipsoid':
        raise GraphError('this backend computes sigma0-ellipsoid only')
    load_id = next(k for k, n in nodes.items() if n['process_id'] == 'load_collection')
    if arguments['data'] != {'from_node': load_id}:
        raise GraphError('sar_backscatter must take the loaded collection')
    aggregates = by_id.get('aggregate_temporal_period', [])
    if aggregates:
        period = aggregates[0]['arguments']
        (reducer,) = period['reducer']['process_graph'].values()
        if period['period'] != 'month' or reducer['process_id'] != 'mean':
            raise GraphError('radar composites are monthly means')
    extent = load['spatial_extent']
    return Request(
        S1_COLLECTION, bands, extent['west'], extent['south'], extent['east'],
        extent['north'], start, end, bool(aggregates), _output_epsg(by_id), None,
        bands, orbit,
    )  # fmt: skip


def radar_value(band: str, day: date, rows: Any, cols: Any) -> Any:
    """The fake backscatter (linear power) of a band on a day at some pixels."""
    decibels = -10.0 - 6.0 * S1_BANDS.index(band) + 0.01 * day.timetuple().tm_yday
    return np.power(10.0, (decibels + 0.1 * (rows + cols)) / 10).astype(np.float32)


def _render_radar(
    request: Request, day: date, width: int, height: int, describe: bool
) -> bytes:
    """One float32 GeoTIFF of backscatter, NaN (nodata) at the first pixel."""
    crs = f'EPSG:{request.epsg or 32631}'
    bounds = transform_bounds(
        'EPSG:4326', crs, request.west, request.south, request.east, request.north
    )
    rows, cols = np.mgrid[0:height, 0:width]
    data = np.stack([radar_value(b, day, rows, cols) for b in request.output_bands])
    data[:, 0, 0] = np.nan
    profile = {
        'driver': 'GTiff', 'width': width, 'height': height,
        'count': len(request.output_bands), 'dtype': 'float32', 'crs': crs,
        'transform': from_bounds(*bounds, width, height), 'nodata': np.nan,
    }  # fmt: skip
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data)
            if describe:
                dst.descriptions = tuple(request.output_bands)
        return bytes(memory.read())


def render_tiff(
    request: Request, day: date, width: int, height: int, describe: bool
) -> bytes:
    """One GeoTIFF of a request's extent and bands for one date (int16 optical)."""
    if request.collection == S1_COLLECTION:
        return _render_radar(request, day, width, height, describe)
    crs = f'EPSG:{request.epsg or 32631}'
    bounds = transform_bounds(
        'EPSG:4326', crs, request.west, request.south, request.east, request.north
    )
    rows, cols = np.mgrid[0:height, 0:width]
    data = np.empty((len(request.output_bands), height, width), dtype=np.int16)
    for i, band in enumerate(request.output_bands):
        if band == 'SCL':
            # Vegetation with a cloud (9) and its shadow (3) whose place varies by day.
            scl = np.full((height, width), 4, dtype=np.int16)
            c = day.toordinal() % width
            scl[rows < height // 2] = 5
            scl[(cols == c) & (rows < 3)] = 9
            scl[(cols == (c + 1) % width) & (rows == 3)] = 3
            data[i] = scl
        else:
            data[i] = 100 * BANDS.index(band) + day.timetuple().tm_yday + rows + cols
    data[: -1 if 'SCL' in request.output_bands else None, 0, 0] = NODATA
    profile = {
        'driver': 'GTiff', 'width': width, 'height': height,
        'count': len(request.output_bands), 'dtype': 'int16', 'crs': crs,
        'transform': from_bounds(*bounds, width, height), 'nodata': NODATA,
    }  # fmt: skip
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data)
            if describe:
                dst.descriptions = tuple(request.output_bands)
        return bytes(memory.read())


@dataclass
class Faults:
    """Faults to inject.

    Args:
        http_500: route -> how many times to answer 500 before serving it;
            routes are ``'POST /jobs'``, ``'GET /jobs/{id}'``,
            ``'POST /jobs/{id}/results'``, ``'GET /jobs/{id}/results'``,
            ``'GET /assets'``, ``'POST /result'``.
        error_jobs: every job ends in ``error``.
        drop_downloads: how many downloads (assets or ``POST /result``) to cut
            off halfway through their body.
        band_names: band descriptions to write instead of the requested names.
        missing_assets: every asset download answers 404 (results listed, then
            gone, as when a job's results expire).
        failing_jobs: how many jobs, the first to finish, end in ``error``.
    """

    http_500: dict[str, int] = field(default_factory=dict)
    error_jobs: bool = False
    drop_downloads: int = 0
    band_names: list[str] | None = None
    missing_assets: bool = False
    failing_jobs: int = 0


@dataclass
class Job:
    id: str
    process: dict[str, Any]
    title: str | None
    status: str = 'created'
    polls: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


class LocalOpenEO:
    """The backend; use as a context manager.

    Args:
        faults: faults to inject.
        polls_until_done: status polls a started job takes to finish.
        require_auth: demand an OIDC bearer token (client credentials).
        describe_bands: write band names into the GeoTIFFs as descriptions.
        width: columns of every GeoTIFF.
        height: rows of every GeoTIFF.
        lifetime: seconds after which the server stops by itself.
        mapper: runs a map graph (``apply_neighborhood`` with ``run_udf``)
            with the job's options and gives its result files
            (:func:`map_files`), when the job finishes (an exception ends the
            job in ``error``, its message in the logs); None: map graphs are
            refused.
        slow_jobs: job id -> status polls it takes instead of
            ``polls_until_done``.
    """

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        polls_until_done: int = 2,
        require_auth: bool = False,
        describe_bands: bool = False,
        width: int = 12,
        height: int = 8,
        lifetime: float = 120.0,
        mapper: Callable[[dict[str, Any], dict[str, Any]], dict[str, bytes]]
        | None = None,
        slow_jobs: dict[str, int] | None = None,
    ) -> None:
        self.mapper = mapper
        self.slow_jobs = slow_jobs or {}
        self.faults = faults or Faults()
        self.polls_until_done = polls_until_done
        self.require_auth = require_auth
        self.describe_bands = describe_bands
        self.width, self.height = width, height
        self.lifetime = lifetime
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.requests: list[str] = []
        self.graphs: list[dict[str, Any]] = []
        self.downloads: Counter[str] = Counter()
        self.authorizations: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    def start(self) -> LocalOpenEO:
        backend = self

        class Handler(_Handler):
            server_state = backend

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._timer is not None:
            self._timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LocalOpenEO:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, route: str) -> int:
        """How many requests matched a route such as ``'POST /jobs'``."""
        with self.lock:
            return sum(r == route for r in self.requests)

    def run_map(self, job: Job) -> str:
        """Compute a finishing map job's files: its final status."""
        assert self.mapper is not None
        start = time.monotonic()
        try:
            job.files = self.mapper(job.process, job.options)
            job.seconds = time.monotonic() - start
        except Exception as error:  # a backend reports any failure in the logs
            job.error = f'{type(error).__name__}: {error}'
            return 'error'
        return 'finished'

    def should_fail(self, route: str) -> bool:
        with self.lock:
            left = self.faults.http_500.get(route, 0)
            if left:
                self.faults.http_500[route] = left - 1
            return bool(left)

    def should_drop(self) -> bool:
        with self.lock:
            if self.faults.drop_downloads:
                self.faults.drop_downloads -= 1
                return True
            return False

    def files_for(self, request: Request) -> dict[str, bytes]:
        names = self.faults.band_names
        files = {}
        for day in request.dates():
            tiff = render_tiff(
                request, day, self.width, self.height, self.describe_bands
            )
            if names is not None:
                tiff = _rename_bands(tiff, names)
            files[f'openEO_{day.isoformat()}Z.tif'] = tiff
        return files


def _rename_bands(tiff: bytes, names: list[str]) -> bytes:
    with rasterio.MemoryFile(tiff) as memory, memory.open() as src:
        profile, data = src.profile, src.read()
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data)
            dst.descriptions = tuple(names)
        return bytes(memory.read())


_JOB = re.compile(r'^/jobs/(?P<id>[\w-]+)(?P<rest>/results|/logs)?$')
_ASSET = re.compile(r'^/jobs/(?P<id>[\w-]+)/results/assets/(?P<name>[\w.-]+)$')


class _Handler(BaseHTTPRequestHandler):
    server_state: LocalOpenEO

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    # -- plumbing ---------------------------------------------------------------

    @property
    def state(self) -> LocalOpenEO:
        return self.server_state

    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f'http://{host}:{port}'

    def send_json(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, code: str, message: str) -> None:
        self.send_json(status, {'code': code, 'message': message})

    def send_tiff(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header('Content-Type', 'image/tiff; application=geotiff')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.state.should_drop():
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    def authorized(self) -> bool:
        if not self.state.require_auth:
            return True
        header = self.headers.get('Authorization', '')
        with self.state.lock:
            self.state.authorizations.append(header)
        if header == f'Bearer oidc/local/{ACCESS_TOKEN}':
            return True
        self.send_error_json(401, 'AuthenticationRequired', 'Unauthorized.')
        return False

    def route(self, method: str) -> tuple[str, dict[str, str]]:
        path = urllib.parse.urlparse(self.path).path.rstrip('/') or '/'
        if match := _ASSET.match(path):
            return f'{method} /assets', match.groupdict()
        if match := _JOB.match(path):
            return f'{method} /jobs/{{id}}{match["rest"] or ""}', {'id': match['id']}
        return f'{method} {path}', {}

    def handle_method(self, method: str) -> None:
        route, params = self.route(method)
        with self.state.lock:
            self.state.requests.append(route)
        if self.state.should_fail(route):
            self.read_body()
            self.send_error_json(500, 'Internal', 'Injected server error.')
            return
        handler = getattr(self, 'on_' + _slug(route), None)
        if handler is None:
            self.send_error_json(404, 'NotFound', f'no route {route}')
            return
        handler(**params)

    def do_GET(self) -> None:
        self.handle_method('GET')

    def do_POST(self) -> None:
        self.handle_method('POST')

    # -- discovery ----------------------------------------------------------------

    def on_get(self) -> None:
        endpoints = [
            ('/collections', ['GET']), ('/collections/{collection_id}', ['GET']),
            ('/file_formats', ['GET']), ('/processes', ['GET']), ('/result', ['POST']),
            ('/jobs', ['GET', 'POST']), ('/jobs/{job_id}', ['GET']),
            ('/jobs/{job_id}/results', ['GET', 'POST']), ('/jobs/{job_id}/logs', ['GET']),
        ]  # fmt: skip
        if self.state.require_auth:
            endpoints.append(('/credentials/oidc', ['GET']))
        self.send_json(200, {
            'api_version': '1.2.0', 'backend_version': '0.0-test', 'stac_version': '1.0.0',
            'type': 'Catalog', 'id': 'local-openeo', 'title': 'Local openEO',
            'description': 'openEO backend for the torchgeo-bvm tests',
            'endpoints': [{'path': p, 'methods': m} for p, m in endpoints], 'links': [],
        })  # fmt: skip

    def on_get_credentials_oidc(self) -> None:
        self.send_json(200, {'providers': [{
            'id': 'local', 'issuer': self.base() + '/oidc', 'title': 'Local',
            'scopes': ['openid'],
        }]})  # fmt: skip

    def on_get_oidc_well_known_openid_configuration(self) -> None:
        base = self.base() + '/oidc'
        self.send_json(200, {
            'issuer': base, 'token_endpoint': base + '/token',
            'grant_types_supported': ['client_credentials'],
        })  # fmt: skip

    def on_post_oidc_token(self) -> None:
        form = urllib.parse.parse_qs(self.read_body().decode())
        if (
            form.get('grant_type') != ['client_credentials']
            or form.get('client_id') != [CLIENT_ID]
            or form.get('client_secret') != [CLIENT_SECRET]
        ):
            self.send_json(401, {'error': 'invalid_client'})
            return
        self.send_json(200, {
            'access_token': ACCESS_TOKEN, 'token_type': 'Bearer', 'expires_in': 3600,
        })  # fmt: skip

    def on_get_collections(self) -> None:
        collections = [self._collection(), self._collection(radar=True)]
        self.send_json(200, {'collections': collections, 'links': []})

    def on_get_collections_terrascope_s2_toc_v2(self) -> None:
        self.send_json(200, self._collection())

    def on_get_collections_sentinel1_grd(self) -> None:
        self.send_json(200, self._collection(radar=True))

    def _collection(self, radar: bool = False) -> dict[str, Any]:
        return {
            'stac_version': '1.0.0', 'type': 'Collection',
            'id': S1_COLLECTION if radar else COLLECTION,
            'title': 'Sentinel-1 GRD' if radar else 'Sentinel-2 TOC (Terrascope)',
            'description': 'Sentinel-1 GRD' if radar else 'Sentinel-2 L2A',
            'license': 'proprietary', 'links': [],
            'extent': {'spatial': {'bbox': [[-180, -90, 180, 90]]},
                       'temporal': {'interval': [['2015-07-06T00:00:00Z', None]]}},
            'cube:dimensions': {
                'x': {'type': 'spatial', 'axis': 'x', 'reference_system': 32631},
                'y': {'type': 'spatial', 'axis': 'y', 'reference_system': 32631},
                't': {'type': 'temporal'},
                'bands': {'type': 'bands', 'values': list(S1_BANDS if radar else BANDS)},
            },
        }  # fmt: skip

    def on_get_file_formats(self) -> None:
        gtiff = {'gis_data_types': ['raster'], 'parameters': {}, 'title': 'GeoTIFF'}
        self.send_json(200, {'input': {'GTiff': gtiff}, 'output': {'GTiff': gtiff}})

    def on_get_processes(self) -> None:
        ids = ['load_collection', 'resample_spatial', 'mask', 'filter_bands',
               'reduce_dimension', 'aggregate_temporal_period', 'save_result',
               'sar_backscatter']  # fmt: skip
        processes = [{'id': i, 'description': i, 'parameters': [], 'returns': {}}
                     for i in ids]  # fmt: skip
        self.send_json(200, {'processes': processes, 'links': []})

    # -- processing ---------------------------------------------------------------

    def _request(self) -> tuple[dict[str, Any], Request | None] | None:
        body = json.loads(self.read_body() or b'{}')
        process = body.get('process', {})
        if is_map_graph(process) and self.state.mapper is not None:
            with self.state.lock:
                self.state.graphs.append(process)
            return body, None
        try:
            request = parse_graph(process)
        except (GraphError, KeyError, ValueError, TypeError) as error:
            self.send_error_json(400, 'ProcessGraphInvalid', str(error))
            return None
        with self.state.lock:
            self.state.graphs.append(process)
        return body, request

    def on_post_result(self) -> None:
        if not self.authorized():
            return
        parsed = self._request()
        if parsed is None:
            return
        if parsed[1] is None:
            self.send_error_json(
                400, 'ProcessGraphInvalid', 'map graphs run as batch jobs only'
            )
            return
        files = self.state.files_for(parsed[1])
        if len(files) != 1:
            self.send_error_json(
                400, 'ProcessGraphInvalid',
                f'a synchronous GTiff holds one time step, this one has {len(files)}',
            )  # fmt: skip
            return
        (data,) = files.values()
        with self.state.lock:
            self.state.downloads['/result'] += 1
        self.send_tiff(data)

    def on_post_jobs(self) -> None:
        if not self.authorized():
            return
        parsed = self._request()
        if parsed is None:
            return
        body, _ = parsed
        with self.state.lock:
            job_id = f'j-{len(self.state.jobs) + 1:04d}'
            self.state.jobs[job_id] = Job(
                job_id, body['process'], body.get('title'),
                options=body.get('job_options') or {},
            )  # fmt: skip
        self.send_response(201)
        self.send_header('Location', f'{self.base()}/jobs/{job_id}')
        self.send_header('OpenEO-Identifier', job_id)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def _job(self, id: str) -> Job | None:
        if not self.authorized():
            return None
        job = self.state.jobs.get(id)
        if job is None:
            self.send_error_json(
                404, 'JobNotFound', f"The batch job '{id}' does not exist."
            )
        return job

    def on_post_jobs_id_results(self, id: str) -> None:
        if (job := self._job(id)) is None:
            return
        with self.state.lock:
            if job.status in ('created', 'finished', 'error', 'canceled'):
                job.status, job.polls = 'queued', 0
        self.send_response(202)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def on_get_jobs_id(self, id: str) -> None:
        if (job := self._job(id)) is None:
            return
        with self.state.lock:
            if job.status in ('queued', 'running'):
                job.polls += 1
                polls = self.state.slow_jobs.get(job.id, self.state.polls_until_done)
                if job.polls >= polls:
                    faults = self.state.faults
                    failing = faults.error_jobs or faults.failing_jobs > 0
                    if faults.failing_jobs > 0:
                        faults.failing_jobs -= 1
                    job.status = 'error' if failing else 'finished'
                    if not failing and is_map_graph(job.process):
                        job.status = self.state.run_map(job)
                else:
                    job.status = 'running'
            status = job.status
        described = {
            'id': job.id, 'title': job.title, 'status': status,
            'created': '2024-01-01T00:00:00Z', 'process': job.process,
            'progress': 100 if status == 'finished' else 50,
        }  # fmt: skip
        if status == 'finished' and is_map_graph(job.process):
            # What VITO's backend reports of a batch job: credits and usage.
            described['costs'] = round(0.5 + job.seconds / 60, 2)
            described['usage'] = {
                'cpu': {'value': round(job.seconds, 1), 'unit': 'cpu-seconds'},
                'duration': {'value': round(job.seconds, 1), 'unit': 'seconds'},
            }
        self.send_json(200, described)

    def on_get_jobs_id_results(self, id: str) -> None:
        if (job := self._job(id)) is None:
            return
        if job.status != 'finished':
            self.send_error_json(
                400, 'JobNotFinished', 'Job has not finished computing.'
            )
            return
        with self.state.lock:
            if not job.files:
                job.files = self.state.files_for(parse_graph(job.process))
        assets: dict[str, Any] = {
            name: {
                'href': f'{self.base()}/jobs/{job.id}/results/assets/{name}',
                'type': 'image/tiff; application=geotiff',
                'roles': ['data'],
            }
            for name in job.files
        }
        # A metadata asset, as real backends add; the downloader must skip it.
        assets['job-results.json'] = {
            'href': f'{self.base()}/jobs/{job.id}/results/assets/job-results.json',
            'type': 'application/json',
            'roles': ['metadata'],
        }
        self.send_json(200, {
            'stac_version': '1.0.0', 'type': 'Collection', 'id': job.id,
            'description': 'results', 'license': 'proprietary', 'links': [],
            'extent': {'spatial': {'bbox': [[-180, -90, 180, 90]]},
                       'temporal': {'interval': [[None, None]]}},
            'assets': assets,
        })  # fmt: skip

    def on_get_jobs_id_logs(self, id: str) -> None:
        if (job := self._job(id)) is None:
            return
        logs = []
        if job.error is not None:
            logs = [{'id': '1', 'level': 'error', 'message': job.error}]
        elif job.status == 'error':
            logs = [
                {'id': '1', 'level': 'info', 'message': 'Loading TERRASCOPE_S2_TOC_V2'},
                {'id': '2', 'level': 'error',
                 'message': 'OpenEOApiException: no data in extent for the period'},
            ]  # fmt: skip
        self.send_json(200, {'logs': logs, 'links': []})

    def on_get_assets(self, id: str, name: str) -> None:
        if (job := self._job(id)) is None:
            return
        if name == 'job-results.json':
            self.send_json(200, {'id': job.id})
            return
        data = job.files.get(name)
        if data is None or self.state.faults.missing_assets:
            self.send_error_json(404, 'AssetNotFound', name)
            return
        with self.state.lock:
            self.state.downloads[f'{id}/{name}'] += 1
        self.send_tiff(data)


def _slug(route: str) -> str:
    slug = route.lower().replace('{id}', 'id')
    return re.sub(r'[^a-z0-9]+', '_', slug).strip('_')


# -- map graphs ------------------------------------------------------------------


def is_map_graph(process: dict[str, Any]) -> bool:
    """Whether a graph maps with a UDF (``apply_neighborhood``) rather than downloads."""
    nodes = process.get('process_graph', {}).values()
    return any(node.get('process_id') == 'apply_neighborhood' for node in nodes)


def map_files(
    process: dict[str, Any], options: dict[str, Any], imagery: Path
) -> dict[str, bytes]:
    """Run a map graph as a backend would, on local imagery: its result file.

    The job option ``udf-dependency-archives`` (``file://`` URLs of zips,
    ``#`` and the folder to unpack into) is honoured as VITO's backend does:
    each archive is unpacked into the job's working folder, where the UDF's
    relative paths point.

    The graph's cube is what ``load_collection`` names (bands, extent in its
    EPSG code, year), read from ``imagery`` as the package's local backend
    reads it (monthly composites where the graph aggregates by month, else
    every date); the graph's own UDF code and context run on the chunks of
    its ``apply_neighborhood`` through openeo's UDF runner; the last step's
    three bands are written as one float32 GeoTIFF on the extent's 10 m grid.
    """
    from openeo.rest.datacube import UDF

    from torchgeo_bvm.openeo_map.graph import neighbourhood_udf

    nodes = process['process_graph']
    by_id = {node['process_id']: node['arguments'] for node in nodes.values()}
    udf, chunk, overlap = neighbourhood_udf(process)
    context = dict(udf.context or {})
    work = Path(tempfile.mkdtemp(prefix='openeo-job-'))
    try:
        for archive in options.get('udf-dependency-archives', []):
            url, _, target = archive.partition('#')
            with zipfile.ZipFile(urllib.parse.urlparse(url).path) as unpacked:
                unpacked.extractall(work / target)
        context['model'] = str(work / context['model'])
        here = UDF(udf.code, runtime=udf.get_runtime(None), context=context)
        return _map_result(by_id, here, chunk, overlap, imagery)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _map_result(
    by_id: dict[str, Any], udf: Any, chunk: int, overlap: int, imagery: Path
) -> dict[str, bytes]:
    from affine import Affine

    from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
    from torchgeo_bvm.openeo_map.local import map_lattice
    from torchgeo_bvm.spatial.pixelgrid import Grid

    load = by_id['load_collection']
    extent = load['spatial_extent']
    crs = f'EPSG:{extent["crs"]}'
    year = int(load['temporal_extent'][0][:4])
    monthly = 'aggregate_temporal_period' in by_id
    bands = [b for b in load['bands'] if b != 'SCL']
    dataset = Sentinel2TOC(
        imagery, crs=crs, res=10, bands=bands, years=[year], time_series=True,
        temporal='monthly' if monthly else 'dates',
    )  # fmt: skip
    width = round((extent['east'] - extent['west']) / 10)
    height = round((extent['north'] - extent['south']) / 10)
    transform = Affine(10, 0, extent['west'], 0, -10, extent['north'])
    grid = Grid(dataset.crs, transform, width, height)
    mapped = map_lattice(udf, dataset, grid, year, chunk, overlap)
    bands_out = np.stack([mapped.classes, mapped.confidence, mapped.clear])
    profile = {
        'driver': 'GTiff', 'width': width, 'height': height, 'count': 3,
        'dtype': 'float32', 'crs': dataset.crs, 'transform': transform,
        'nodata': float('nan'),
    }  # fmt: skip
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(bands_out.astype(np.float32))
        return {'openEO.tif': bytes(memory.read())}


# -- the official process specs ------------------------------------------------


#: Parameters the openeo client sends that the openeo-processes-dask copy of
#: the specs lacks, while the official process defines them:
#: ``resample_spatial``'s ``align`` (openeo-processes 1.x, resample_spatial.json).
SPEC_EXTRA_PARAMETERS = {'resample_spatial': {'align'}}


def process_spec(process_id: str) -> dict[str, Any] | None:
    """The official openEO definition of a process, or None if it has none.

    Read from the openeo-processes JSON files that openeo-processes-dask ships
    (``apply_neighborhood`` sits in its ``missing-processes`` folder).
    """
    from importlib.util import find_spec

    # Found, not imported: the package's ``specs`` module leaves every file open.
    spec = find_spec('openeo_processes_dask')
    assert spec is not None
    assert spec.submodule_search_locations
    package = Path(spec.submodule_search_locations[0])
    root = package / 'specs' / 'openeo-processes'
    for name in (f'{process_id}.json', f'missing-processes/{process_id}.json'):
        path = root / name
        if path.is_file():
            definition: dict[str, Any] = json.loads(path.read_text())
            return definition
    return None


def spec_problems(process: dict[str, Any]) -> list[str]:
    """What in a graph (and its callbacks) breaks the official process specs.

    Every process must be defined, every required parameter given, no other
    argument given, and every literal argument (one holding no reference to
    a node or parameter) valid against its parameter's JSON schema.
    """
    import jsonschema

    problems: list[str] = []

    def walk(nodes: dict[str, Any]) -> None:
        for key, node in nodes.items():
            spec = process_spec(node['process_id'])
            if spec is None:
                problems.append(f'{key}: no process {node["process_id"]!r}')
                continue
            parameters = {p['name']: p for p in spec['parameters']}
            arguments = node.get('arguments', {})
            extra = SPEC_EXTRA_PARAMETERS.get(node['process_id'], set())
            for name in arguments.keys() - parameters.keys() - extra:
                problems.append(f'{key}: {node["process_id"]} has no parameter {name}')
            for name, parameter in parameters.items():
                if name not in arguments and not parameter.get('optional'):
                    problems.append(f'{key}: {node["process_id"]} needs {name}')
            for name, value in arguments.items():
                if name not in parameters:
                    continue
                if isinstance(value, dict) and 'process_graph' in value:
                    walk(value['process_graph'])
                    continue
                if _references(value):
                    continue
                schema = parameters[name]['schema']
                schema = {'anyOf': schema} if isinstance(schema, list) else schema
                try:
                    jsonschema.validate(value, schema)
                except jsonschema.ValidationError as error:
                    problems.append(
                        f'{key}: {node["process_id"]}.{name}: {error.message}'
                    )

    walk(process['process_graph'])
    return problems


def _references(value: Any) -> bool:
    if isinstance(value, dict):
        if value.keys() & {'from_node', 'from_parameter', 'process_graph'}:
            return True
        return any(_references(v) for v in value.values())
    if isinstance(value, list):
        return any(_references(v) for v in value)
    return False
