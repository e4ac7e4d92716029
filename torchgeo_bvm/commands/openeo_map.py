r"""Map sheets and years inside openEO with an exported model.

Writes, per map sheet and year, the openEO process graph (Sentinel-2 L2A, the
package's SCL rule, the model's monthly composites or dates, the exported model
as a UDF in apply_neighborhood, class and confidence saved as GeoTIFF) into
OUT/graphs/ and the job list into OUT/jobs.csv; runs one batch job per sheet
and year with openeo's MultiBackendJobManager (resumable: run it again after an
interruption; failed jobs are started again --retries times), downloads the
results into OUT/.jobs/ and writes each year's maps into OUT/<year>/ as
torchgeo predict does (sheet COGs, confidence, count, mosaic.vrt, quick-looks),
so torchgeo-bvm compare reads either.

The backend must find the model: --model-url names a zip of the model folder
that the backend fetches (the udf-dependency-archives job option of VITO's
backend); the UDF reads it from the folder the archive is unpacked into.

--backend local runs the graph's UDF here with openeo's own UDF runner on
chunks read from local imagery (--sentinel2), on the sheets and grid
torchgeo predict uses; --dry-run writes the graphs and the job list only,
without connecting. Authentication is the openeo client's.

Examples:
  torchgeo-bvm openeo-map --model models/year --sheets 22/7-8 --years 2022 \
      --out maps --dry-run
  torchgeo-bvm openeo-map --model models/year --sheets test --years 2022 \
      --out local-maps --backend local --sentinel2 demo-output/data/season/openeo
  torchgeo-bvm openeo-map --model models/year --sheets 22 --years 2022 \
      --out maps --model-url https://example.org/year-model.zip
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BVMValueError
from . import Command
from ._options import parse_integers


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--model', type=Path, required=True, help='the folder of torchgeo-bvm export'
    )
    parser.add_argument(
        '--sheets',
        required=True,
        help='sheet codes, kbl numbers or split names, comma-separated',
    )
    parser.add_argument(
        '--years', required=True, help='calendar years, comma-separated'
    )
    parser.add_argument('--out', type=Path, required=True, help='the output folder')
    parser.add_argument(
        '--backend',
        default=None,
        help="the openEO backend's URL (default openeo.vito.be), or 'local'",
    )
    parser.add_argument(
        '--sentinel2', type=Path, help='the local imagery of --backend local'
    )
    parser.add_argument(
        '--boundary',
        type=Path,
        help='the Flanders boundary (Refgew.shp): no class outside it',
    )
    parser.add_argument(
        '--crs', help="the map CRS (default: the local imagery's, else EPSG:32631)"
    )
    parser.add_argument(
        '--chunk',
        type=int,
        default=256,
        help='apply_neighborhood chunk in pixels (default 256; the overlap is '
        'the patch size)',
    )
    parser.add_argument(
        '--model-url',
        help='a zip of the model folder the backend fetches (udf-dependency-archives)',
    )
    parser.add_argument(
        '--retries',
        type=int,
        default=2,
        help='times a failed job is started again (default 2)',
    )
    parser.add_argument(
        '--poll',
        type=int,
        default=30,
        help='seconds between polls of the backend (default 30)',
    )
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='write the graphs and the job list, without connecting',
    )
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help="start afresh where --out holds another run's job list",
    )


def _run(args: argparse.Namespace) -> int:
    """Map."""
    from ..download import DEFAULT_BACKEND
    from ..openeo_map.graph import MapSettings
    from ..openeo_map.mapper import openeo_map

    if not 0 <= args.retries <= 10:
        raise BVMValueError(f'--retries: expected 0..10, got {args.retries}')
    if not 1 <= args.poll <= 3600:
        raise BVMValueError(f'--poll: expected 1..3600 seconds, got {args.poll}')
    settings = MapSettings(chunk=args.chunk)
    job_options = None
    if args.model_url:
        job_options = {'udf-dependency-archives': [f'{args.model_url}#model']}
    years = parse_integers(args.years, '--years')
    mapped = openeo_map(
        args.model,
        args.sheets,
        years,
        args.out,
        backend=args.backend or DEFAULT_BACKEND,
        sentinel2=args.sentinel2,
        boundary=args.boundary,
        crs=args.crs,
        settings=settings,
        dry_run=args.dry_run,
        retries=args.retries,
        poll_seconds=args.poll,
        job_options=job_options,
        overwrite=args.overwrite,
    )
    if args.dry_run:
        graphs = sorted((args.out / 'graphs').glob('*.json'))
        print(f'{len(graphs)} process graphs and jobs.csv in {args.out} (dry run)')
        for graph in graphs:
            print(f'  {graph}')
        return 0
    if args.backend != 'local':
        from ..openeo_map.jobs import JOB_DATABASE, describe_jobs

        for line in describe_jobs(args.out / JOB_DATABASE):
            print(line)
    for year in mapped:
        print(f'{year.year}: {len(year.files)} files in {year.folder}')
        for path in year.files:
            print(f'  {path}')
    return 0


COMMAND = Command(
    help='map sheets and years inside openEO with an exported model',
    add_arguments=_add_arguments,
    run=_run,
)
