"""Download Sentinel-2 TOC imagery and Sentinel-1 backscatter with openEO.

Sentinel-1 (``Sentinel1Options``, ``torchgeo-bvm download --sensor s1``):
``SENTINEL1_GRD`` through ``sar_backscatter`` (sigma0 on the ellipsoid), per
acquisition or as monthly means, one job per sheet, period and orbit
direction, float32 files named apart from Sentinel-2's
(``<sheet>_openEO_S1-ASCENDING_<YYYY-MM-DD>Z.tif``,
``..._<YYYY-MM>_mean.tif``) and a manifest of their own, so one folder holds
both sensors; see :mod:`torchgeo_bvm.download.sentinel1`. The rest of this
page is about Sentinel-2; the faults, the resumption and the authentication
are the same for both.

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
  Lambert 72 rectangle are covered, as the paper did; its ``crs`` the integer
  ``4326``, as the official schema asks), the period, and optionally
  ``max_cloud_cover`` (an ``eo:cloud_cover`` property filter).
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
  the centre of Flanders (:func:`torchgeo_bvm.spatial.crs.resolution_for`), with
  nearest-neighbour sampling (``SCL`` is categorical): the package intersects
  imagery and labels in EPSG:4326 by default, so reading never has to warp.
  ``crs=None`` keeps the backend's native grid (UTM 31N, 10 m) instead; any
  other CRS is resampled to 10 m in it. Square pixels (any projected CRS) are
  sent as one ``resolution`` value, which every backend accepts; EPSG:4326
  pixels of 10 m are not square in degrees, so that default sends the pair
  ``[x, y]``, which backends built on dask may refuse: use ``--crs native``
  (or a projected CRS) there.
* ``save_result(format='GTiff')``: batch jobs write one GeoTIFF per date
  (``openEO_2022-04-05Z.tif``) or month, renamed here as above.

Faults: the backend is first tried
:data:`~torchgeo_bvm.download.backend.CONNECT_ATTEMPTS` times
(``connect_timeout`` seconds each, 1 s and 2 s apart) after the output folder
was checked, so an unreachable backend fails within a stated time. A refused
login (HTTP 401, a failed OpenID Connect flow), an asset that is gone (404) and
every other failed request end in :class:`DownloadError`, one line naming the
backend and its answer. HTTP 429 and 5xx answers are retried with exponential
backoff by the client's own ``urllib3`` retry adapter, configured for every
method (starting a job twice is harmless in the openEO API, and a created job
that is never started costs nothing); dropped connections and truncated bodies
(fewer bytes than ``Content-Length``) are retried here, with the same backoff. A
failed job raises :class:`JobFailedError` with its id and the backend's log
lines. A JSON manifest (``openeo-manifest.json`` in the output folder, rewritten
atomically after every file) records each job id and each finished file, so a
re-run skips finished sheets and periods, picks up a job that is still running
or finished, and downloads only the missing files. Every file is written through
:func:`torchgeo_bvm.fileio.atomic_path`: an interrupted run never leaves a
truncated file under its final name.

Authentication goes only through the client's own mechanisms
(``Connection.authenticate_oidc()``: refresh tokens kept by the client, the
device flow, or client credentials from ``OPENEO_AUTH_*`` environment
variables); this package never reads, writes or logs a token.

The package holds the process graph (:mod:`~torchgeo_bvm.download.graph`), the
tasks (:mod:`~torchgeo_bvm.download.tasks`), the folder's manifest
(:mod:`~torchgeo_bvm.download.manifest`), the backend's connection and retries
(:mod:`~torchgeo_bvm.download.backend`), batch jobs
(:mod:`~torchgeo_bvm.download.jobs`), the delivered files' checks
(:mod:`~torchgeo_bvm.download.files`) and the downloader
(:mod:`~torchgeo_bvm.download.downloader`); every public name is importable from
here.
"""

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .backend import (
        CONNECT_ATTEMPTS,
        MAX_BACKOFF_SECONDS,
        MAX_CONNECT_TIMEOUT,
        TRANSIENT_STATUS,
        Backend,
        DownloadError,
    )
    from .downloader import Downloader, download
    from .graph import (
        COLLECTION,
        VALID_SCL,
        DownloadOptions,
        build_process_graph,
        check_download_crs,
        resample,
        sheet_extent,
    )
    from .jobs import JobFailedError
    from .manifest import MANIFEST_NAME, Manifest
    from .sentinel1 import (
        S1_COEFFICIENT,
        S1_COLLECTION,
        S1_MANIFEST_NAME,
        Sentinel1Options,
        build_s1_process_graph,
    )
    from .tasks import DownloadTask, SensorDownload, output_path, plan_tasks

#: The backend used by the paper (Terrascope).
DEFAULT_BACKEND = 'openeo.vito.be'

#: The module each public name lives in.
_HOMES = {
    'CONNECT_ATTEMPTS': 'backend',
    'MAX_BACKOFF_SECONDS': 'backend',
    'MAX_CONNECT_TIMEOUT': 'backend',
    'TRANSIENT_STATUS': 'backend',
    'Backend': 'backend',
    'DownloadError': 'backend',
    'Downloader': 'downloader',
    'download': 'downloader',
    'JobFailedError': 'jobs',
    'COLLECTION': 'graph',
    'VALID_SCL': 'graph',
    'DownloadOptions': 'graph',
    'build_process_graph': 'graph',
    'check_download_crs': 'graph',
    'resample': 'graph',
    'sheet_extent': 'graph',
    'MANIFEST_NAME': 'manifest',
    'Manifest': 'manifest',
    'S1_COEFFICIENT': 'sentinel1',
    'S1_COLLECTION': 'sentinel1',
    'S1_MANIFEST_NAME': 'sentinel1',
    'Sentinel1Options': 'sentinel1',
    'build_s1_process_graph': 'sentinel1',
    'DownloadTask': 'tasks',
    'SensorDownload': 'tasks',
    'output_path': 'tasks',
    'plan_tasks': 'tasks',
}
__all__ = [
    'COLLECTION',
    'CONNECT_ATTEMPTS',
    'DEFAULT_BACKEND',
    'MANIFEST_NAME',
    'MAX_BACKOFF_SECONDS',
    'MAX_CONNECT_TIMEOUT',
    'S1_COEFFICIENT',
    'S1_COLLECTION',
    'S1_MANIFEST_NAME',
    'TRANSIENT_STATUS',
    'VALID_SCL',
    'Backend',
    'DownloadError',
    'DownloadOptions',
    'DownloadTask',
    'Downloader',
    'JobFailedError',
    'Manifest',
    'SensorDownload',
    'Sentinel1Options',
    'build_process_graph',
    'build_s1_process_graph',
    'check_download_crs',
    'download',
    'output_path',
    'plan_tasks',
    'resample',
    'sheet_extent',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
