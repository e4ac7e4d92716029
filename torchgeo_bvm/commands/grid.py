"""Write the NGI map-sheet grid (kaartbladen) as a vector file.

Examples:
  torchgeo-bvm grid --level kbl4 --split --out kbl4.gpkg --plot split.png
  torchgeo-bvm grid --level kbl16 --sheets 15,22 --crs EPSG:4326 --out sheets.geojson
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command
from ._options import parse_crs, parse_kbl_numbers

_DRIVERS = {
    '.gpkg': 'GPKG',
    '.geojson': 'GeoJSON',
    '.json': 'GeoJSON',
    '.shp': 'ESRI Shapefile',
}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..sheets.codes import LEVELS

    parser.add_argument('--level', choices=LEVELS, default='kbl', help='sheet level')
    parser.add_argument(
        '--out', type=Path, required=True, help='output file (.gpkg, .geojson or .shp)'
    )
    parser.add_argument('--crs', default='EPSG:31370', help='CRS (default EPSG:31370)')
    parser.add_argument(
        '--split', action='store_true', help="add a 'split' field (the paper's split)"
    )
    parser.add_argument(
        '--sheets', help='comma-separated 1:50,000 sheet numbers (default all 43)'
    )
    parser.add_argument(
        '--plot', type=Path, help='also draw the sheets by split to a PNG'
    )
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace --out and --plot if they exist',
    )


def _run(args: argparse.Namespace) -> int:
    """Write the grid."""
    from ..errors import BVMValueError
    from ..fileio import atomic_path, check_output, check_writable_folder
    from ..plot import plot_grid
    from ..sheets.codes import KBL_CRS
    from ..sheets.official import grid
    from ..sheets.scheme import SplitScheme

    check_output(args.out, [], args.overwrite)
    driver = _DRIVERS.get(args.out.suffix.lower())
    if driver is None:
        raise BVMValueError(
            f'{args.out}: unknown output format {args.out.suffix!r}; '
            f'expected one of {", ".join(_DRIVERS)}'
        )
    numbers = None if args.sheets is None else parse_kbl_numbers(args.sheets)
    crs = parse_crs(args.crs)
    if args.plot is not None:
        check_output(args.plot, [args.out], args.overwrite, option='--plot')
    check_writable_folder(args.out.parent)
    scheme = SplitScheme() if args.split or args.plot else None
    frame = grid(args.level, crs=crs, numbers=numbers, scheme=scheme)
    if not args.split and 'split' in frame.columns:
        frame = frame.drop(columns='split')
    if args.level != 'kbl':
        frame = frame.drop(columns='NAAM')
    # The layer is named after the final file, not the temporary one.
    layer = {'layer': args.out.stem} if driver == 'GPKG' else {}
    with atomic_path(args.out) as temporary:
        frame.to_file(temporary, driver=driver, engine='pyogrio', **layer)
    print(f'wrote {len(frame)} {args.level} sheets to {args.out}')
    if args.plot:
        scheme = scheme or SplitScheme()
        shown = grid(args.level, crs=KBL_CRS, numbers=numbers, scheme=scheme)
        plot_grid(shown, args.plot)
        print(f'wrote the split map to {args.plot}')
    return 0


COMMAND = Command(
    help='write the NGI map-sheet grid with the paper split',
    add_arguments=_add_arguments,
    run=_run,
)
