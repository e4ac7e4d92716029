"""Download Sentinel-2 TOC imagery or Sentinel-1 backscatter per map sheet (openEO).

Sentinel-2 (--sensor s2, the default) lands in
OUT/<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif (one per acquisition date, bands
then SCL) or OUT/<sheet>/<sheet>_openEO_<YYYY-MM>_median.tif (monthly
cloud-free composites). Sentinel-1 (--sensor s1: SENTINEL1_GRD through
sar_backscatter, sigma0 on the ellipsoid, linear float32) lands in
OUT/<sheet>/<sheet>_openEO_S1-<ORBIT>_<YYYY-MM-DD>Z.tif or
..._<YYYY-MM>_mean.tif (monthly means), one job per orbit direction. Band names
are stored in the files. A manifest per sensor in OUT records what is
finished: run the same command again to resume.

Authentication uses the openeo client's own mechanisms (refresh tokens it keeps,
the device flow, or OPENEO_AUTH_METHOD=client_credentials with
OPENEO_AUTH_CLIENT_ID / OPENEO_AUTH_CLIENT_SECRET); tokens are never written or
logged by this package.

Without an openEO account or a network, --dry-run prints the process graphs
without connecting. The output folder is checked before the backend is
contacted; an unreachable backend is tried 3 times (--connect-timeout seconds
each, 1 s and 2 s apart) and then the command stops with one line.

Examples:
  torchgeo-bvm download --out s2 --sheets 22/1-2,22/3-4 --years 2022 --dry-run
  torchgeo-bvm download --out s2 --sheets 22/1-2 --years 2022 --months 4,5 --bands rgb
  torchgeo-bvm download --out s2 --split train --years 2022 --composite monthly
  torchgeo-bvm download --out s2 --sheets 22/1N --years 2022 --composite monthly --sync
  torchgeo-bvm download --sensor s1 --out s1 --sheets 22/1-2 --years 2022 \
      --composite monthly --orbit both --dry-run
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from . import Command
from ._options import parse_crs, parse_integers, parse_sheets

if TYPE_CHECKING:
    from ..download import SensorDownload
    from ..sheets.codes import Sheet


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..datasets.bands import BAND_MODES
    from ..download import DEFAULT_BACKEND
    from ..sheets.scheme import SplitScheme

    parser.add_argument(
        '--sensor',
        choices=['s2', 's1'],
        default='s2',
        help="'s2': Sentinel-2 TOC reflectance (default); 's1': Sentinel-1 "
        'backscatter (sigma0, VV and VH)',
    )
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        '--sheets',
        help="comma-separated sheet codes of any level, e.g. '22/1-2,22/3-4'",
    )
    where.add_argument(
        '--split',
        choices=SplitScheme().splits,
        help="every sheet of one split of the paper's scheme",
    )
    parser.add_argument(
        '--years', required=True, help="comma-separated years, e.g. '2022'"
    )
    parser.add_argument('--months', help='comma-separated months 1..12 (default all)')
    parser.add_argument(
        '--bands',
        help=f's2: a mode ({", ".join(BAND_MODES)}) or comma-separated names '
        '(default all); s1: VV, VH or both (default VV,VH)',
    )
    parser.add_argument(
        '--composite',
        choices=['monthly'],
        help='server-side monthly composites instead of every date: the '
        'cloud-masked median (s2), the mean (s1)',
    )
    parser.add_argument(
        '--orbit',
        choices=['ascending', 'descending', 'both'],
        help='s1: the orbit direction(s), one job each (default ascending)',
    )
    parser.add_argument(
        '--cloud-mask',
        choices=['scl', 'dilation'],
        help="s2 composites: 'scl' masks SCL not in 4..7, 'dilation' uses VITO's "
        'to_scl_dilation_mask (default scl)',
    )
    parser.add_argument(
        '--max-cloud-cover', type=float, help='s2: skip scenes cloudier than this (%%)'
    )
    parser.add_argument(
        '--crs',
        default='EPSG:4326',
        help="CRS of the files at 10 m, or 'native' for the backend's UTM grid "
        '(default EPSG:4326)',
    )
    parser.add_argument(
        '--backend',
        default=DEFAULT_BACKEND,
        help=f'openEO URL (default {DEFAULT_BACKEND})',
    )
    parser.add_argument(
        '--sync',
        action='store_true',
        help='synchronous requests (one per sheet and month; needs --composite)',
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        '--auth',
        dest='auth',
        action='store_const',
        const=True,
        help='always authenticate (default: if the backend offers OpenID Connect)',
    )
    auth.add_argument(
        '--no-auth',
        dest='auth',
        action='store_const',
        const=False,
        help='never authenticate',
    )
    parser.add_argument(
        '--poll-interval',
        type=float,
        default=10.0,
        help='first job status poll delay (s)',
    )
    parser.add_argument(
        '--retries', type=int, default=5, help='retries of transient errors (default 5)'
    )
    parser.add_argument(
        '--connect-timeout',
        type=float,
        default=10.0,
        help='seconds to wait for the backend to answer at start-up; it is tried '
        '3 times before the command gives up (default 10)',
    )
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the process graphs as JSON without connecting',
    )
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


def _sheets(args: argparse.Namespace) -> list[Sheet]:
    from ..sheets.scheme import SplitScheme

    if args.split:
        return SplitScheme().sheets(args.split)
    return parse_sheets(args.sheets)


def _options(args: argparse.Namespace) -> SensorDownload:
    """The sensor's download options; an option of the other sensor is refused."""
    from ..datasets.bands import resolve_bands
    from ..download import DownloadOptions, Sentinel1Options
    from ..errors import BVMValueError

    crs = None if args.crs.lower() == 'native' else parse_crs(args.crs).to_string()
    if args.sensor == 's2':
        if args.orbit is not None:
            raise BVMValueError('--orbit is an option of --sensor s1 (radar)')
        return DownloadOptions(
            bands=resolve_bands('all' if args.bands is None else args.bands),
            composite=args.composite,
            max_cloud_cover=args.max_cloud_cover,
            crs=crs,
            cloud_mask=args.cloud_mask or 'scl',
        )
    optical = [
        option
        for option, value in (
            ('--cloud-mask', args.cloud_mask),
            ('--max-cloud-cover', args.max_cloud_cover),
        )
        if value is not None
    ]
    if optical:
        raise BVMValueError(
            f'{" and ".join(optical)}: options of --sensor s2; radar sees through '
            'clouds, --sensor s1 downloads every acquisition'
        )
    given = 'VV,VH' if args.bands is None else args.bands
    bands = [b.strip() for b in given.split(',') if b.strip()]
    if not bands:
        raise BVMValueError(f'--bands: no band given ({given!r}); name VV, VH or both')
    return Sentinel1Options(
        bands=tuple(bands),
        orbits=(args.orbit or 'ascending',),
        composite=args.composite,
        crs=crs,
    )


def _run(args: argparse.Namespace) -> int:
    """Download, or print the process graphs with ``--dry-run``."""
    from ..download import Downloader
    from ..fileio import check_writable_folder

    options = _options(args)
    downloader = Downloader(
        args.out,
        options,
        backend=args.backend,
        sync=args.sync,
        auth=args.auth,
        retries=args.retries,
        poll_interval=args.poll_interval,
        connect_timeout=args.connect_timeout,
        progress=not args.quiet,
    )
    years = parse_integers(args.years, '--years')
    months = None if args.months is None else parse_integers(args.months, '--months')
    tasks = downloader.plan(_sheets(args), years, months)
    if args.dry_run:
        graphs = [
            {
                'sheet': task.sheet.code,
                **({} if task.orbit is None else {'orbit': task.orbit}),
                'temporal_extent': task.temporal_extent,
                'process': downloader.graph(task),
            }
            for task in tasks
        ]
        print(json.dumps(graphs, indent=2))
        return 0
    # The folder first: a read-only or misnamed --out fails before any request.
    check_writable_folder(args.out)
    # A failed job, download or login is a DownloadError, a BVMError: the
    # command line prints it in one line (status 2); the manifest keeps what
    # finished for a re-run.
    files = downloader.run(tasks)
    periods = len({(task.sheet, task.start) for task in tasks})
    orbits = {task.orbit for task in tasks} - {None}
    per_orbit = f' x {len(orbits)} orbit directions' if orbits else ''
    print(f'{len(files)} files for {periods} sheet periods{per_orbit} in {args.out}')
    return 0


COMMAND = Command(
    help='download Sentinel-2 TOC imagery or Sentinel-1 backscatter per map sheet '
    'with openEO (resumable)',
    add_arguments=_add_arguments,
    run=_run,
)
