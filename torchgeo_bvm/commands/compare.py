r"""Where a class map disagrees with the BVM: candidates for an update.

Reads class maps in the fused-map format (<name>.tif: class ids 0..13, 255 where
there is no class, with <name>_confidence.tif beside it) and the BVM layer,
counts for every BVM polygon the map's pixels of each class (pixel centre
inside the polygon, the rule of the labels) and writes into the folder OUT:

  disagreement.gpkg        the BVM polygons the maps cover: TAG, UIDN, BVM class,
                           pixels, agreement, predicted majority class and share,
                           mean confidence, score and rank (candidates first)
  class_agreement.csv/.md  agreement per BVM class
  candidates.png           the strongest candidates over the map

score = (1 - agreement) x mean confidence x pixels / (pixels + 10); a candidate
is a polygon whose predicted majority class is not its BVM class, rank 1 the
strongest. Existing files in OUT are replaced only with --overwrite.

Examples:
  torchgeo-bvm compare --bvm BwkHab.shp --maps fused/2022 --out comparison
  torchgeo-bvm compare --bvm BwkHab.gpkg --layer BwkHab \
      --maps fused/2022/22_1-2.tif fused/2022/22_3-4.tif --out comparison --top 20
  torchgeo-bvm compare --bvm BVM_labeled.zip --label-field Label \
      --maps mosaic.tif --no-confidence --out comparison --overwrite
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command
from ._options import add_bvm_options


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bvm_options(parser)
    parser.add_argument(
        '--maps',
        type=Path,
        nargs='+',
        required=True,
        help='class maps (<name>.tif) or folders of them',
    )
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    parser.add_argument(
        '--no-confidence',
        action='store_true',
        help='read no _confidence rasters: rank by disagreement and size only',
    )
    parser.add_argument(
        '--top',
        type=int,
        default=12,
        help='candidates to print and to draw in candidates.png, 0..100 (default 12)',
    )
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing output files'
    )
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def _run(args: argparse.Namespace) -> int:
    """Compare."""
    from ..bvm.layer import BVMLayer
    from ..checks import MAX_CANDIDATES, check_count
    from ..fileio import check_output, check_outside_scans
    from ..maps.compare import compare_with_bvm, output_paths

    check_count(
        args.top,
        '--top',
        minimum=0,
        maximum=MAX_CANDIDATES,
        hint='one panel of candidates.png per candidate',
    )
    # The layer's own files, whatever named them (a folder resolves to one).
    inputs = [*BVMLayer.locate(args.bvm, args.layer), args.mapping, *args.maps]
    for path in output_paths(args.out).values():
        check_output(path, inputs, args.overwrite)
    check_outside_scans([args.out], {'--bvm': [args.bvm], '--maps': args.maps})
    result = compare_with_bvm(
        args.bvm,
        args.maps,
        args.out,
        layer=args.layer,
        label_field=args.label_field,
        mapping=args.mapping,
        confidence=not args.no_confidence,
        top=args.top,
        progress=not args.quiet,
    )
    for line in result.describe(args.top):
        print(line)
    for path in result.paths.values():
        print(f'wrote {path}')
    return 0


COMMAND = Command(
    help='the BVM polygons where a class map disagrees: GeoPackage, summary, PNG',
    add_arguments=_add_arguments,
    run=_run,
)
