r"""Rasterise the Biological Valuation Map into a class-id GeoTIFF (COG).

The result is uint8 with class ids 0..13, nodata 255 (no label), a colour table
and the class names (in the .aux.xml beside it), so QGIS shows it labelled.

Examples:
  torchgeo-bvm rasterize --bvm BwkHab.shp --out labels.tif
  torchgeo-bvm rasterize --bvm BWK_2023_Shapefile.zip --out labels_utm.tif \
      --crs EPSG:32631 --res 10
  torchgeo-bvm rasterize --bvm BwkHab.gpkg --layer BwkHab --out s2_labels.tif \
      --like S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tif
  torchgeo-bvm rasterize --bvm BVM_labeled.zip --label-field Label \
      --sheets 22/1-2,22/3-4 --out ghent.tif
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command
from ._options import (
    add_bvm_options,
    add_output_options,
    parse_crs,
    parse_res,
    parse_sheets,
)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bvm_options(parser)
    add_output_options(parser, 'the GeoTIFF to write')
    parser.add_argument('--crs', help='CRS of the grid (default EPSG:4326)')
    parser.add_argument(
        '--res',
        type=float,
        nargs='+',
        metavar='RES',
        help='resolution: one value, or x and y (default: 10 m in the CRS units)',
    )
    parser.add_argument(
        '--like',
        type=Path,
        help='use exactly the grid of this raster (e.g. Sentinel-2)',
    )
    parser.add_argument(
        '--sheets', help='map sheets to restrict to, e.g. 22 or 22/1-2,22/3-4'
    )
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def _run(args: argparse.Namespace) -> int:
    """Rasterise."""
    from ..bvm.labels import rasterize_bvm
    from ..bvm.layer import BVMLayer
    from ..errors import BVMNotFoundError, BVMValueError
    from ..fileio import check_output, check_outside_scans, check_writable_folder

    if args.like is not None and (args.crs is not None or args.res is not None):
        raise BVMValueError(
            '--like takes the CRS and resolution from the raster: '
            'leave out --crs and --res'
        )
    res = parse_res(args.res)
    crs = None if args.crs is None else parse_crs(args.crs)
    sheets = None if args.sheets is None else parse_sheets(args.sheets)
    for option, path in (('--bvm', args.bvm), ('--like', args.like)):
        if path is not None and not path.exists():
            raise BVMNotFoundError(f'{option}: {path} not found')
    # Refused before the layer is read: an input would be lost, or the old
    # output replaced without --overwrite.
    layer = BVMLayer.locate(args.bvm, args.layer)
    check_output(args.out, [*layer, args.like, args.mapping], args.overwrite)
    check_outside_scans([args.out], {'--bvm': [args.bvm]})
    check_writable_folder(args.out.parent)
    out = rasterize_bvm(
        args.bvm,
        args.out,
        crs=crs,
        res=res,
        like=args.like,
        sheets=sheets,
        layer=args.layer,
        label_field=args.label_field,
        mapping=args.mapping,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f'wrote {out}')
    return 0


COMMAND = Command(
    help='rasterise the BVM into a class-id GeoTIFF with colour table and class names',
    add_arguments=_add_arguments,
    run=_run,
)
