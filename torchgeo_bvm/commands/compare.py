r"""Where a class map disagrees with the BVM: the records most probably out of date.

Reads class maps in the fused-map format (<name>.tif: class ids 0..13, 255 where
there is no class, with <name>_confidence.tif beside it, and where they lie
beside it _probabilities.tif and _count.tif) and the BVM layer, counts for
every BVM polygon the map's pixels of each class (pixel centre inside the
polygon, the rule of the labels) and writes into the folder OUT:

  disagreement.gpkg        the BVM polygons the maps cover: TAG, UIDN, BVM class,
                           pixels, agreement, predicted majority class and share,
                           mean confidence, the evidence, score, candidate and
                           rank (rank 1 first)
  class_agreement.csv/.md  agreement per BVM class
  accuracy.csv/.md         the map against the BVM: overall accuracy, per-class
                           IoU, F1, user's and producer's accuracy with 95 %
                           intervals from a bootstrap over whole sheets
  accuracy_by_sheet.csv    the same per sheet (--units, --block)
  candidates.png           the strongest candidates: a clear image (--image),
                           the BVM and the map, the score's parts
  truth_scores.csv         with --truth: precision at 10, 20, 50, average
                           precision, share of the changes in the top 5 %

score = years since mapping (TAG version to --year) x excess disagreement x
its extent: how much more of the polygon's probability the map gives other
classes than it gives a typical polygon of its BVM class, and how much of the
polygon it puts in another class (both shrunk towards the class's median by the
polygon's pixels and clear observations). A candidate is a polygon whose
predicted majority class is not its BVM class. Existing files in OUT are
replaced only with --overwrite.

Examples:
  torchgeo-bvm compare --bvm BwkHab.shp --maps fused/2022 --out comparison
  torchgeo-bvm compare --bvm BwkHab.gpkg --layer BwkHab \
      --maps fused/2022/22_1-2.tif fused/2022/22_3-4.tif --out comparison --top 20
  torchgeo-bvm compare --bvm BVM_labeled.zip --label-field Label \
      --maps mosaic.tif --no-confidence --out comparison --overwrite
  torchgeo-bvm compare --bvm BwkHab.shp --maps fused/2022 --year 2022 \
      --truth changes.csv --image composite.tif --out ranked
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
        '--year',
        type=int,
        help='the year the maps show: the years since each polygon was mapped '
        "count to it, and the truth's changes up to it (default: the period in "
        'the prediction.json beside the maps)',
    )
    parser.add_argument(
        '--truth',
        type=Path,
        help='a list of changed polygons (CSV with TAG and change_year, as '
        "mini-Flanders' truth/changes.csv) to score the ranking against",
    )
    parser.add_argument(
        '--image',
        type=Path,
        nargs='+',
        default=[],
        help='true-colour images for candidates.png: Terrascope product folders '
        '(or folders above them) or GeoTIFFs with bands B02, B03, B04; each '
        'candidate is shown on the clearest',
    )
    parser.add_argument(
        '--units',
        default='kbl16',
        choices=['kbl', 'kbl4', 'kbl8', 'kbl16'],
        help='the sheets the accuracy is bootstrapped over (default kbl16)',
    )
    parser.add_argument(
        '--block',
        type=float,
        help='cut those sheets into square blocks of this side in metres (for a '
        'map of one or two sheets; blocks lie closer together than sheets, so '
        'their interval is narrower)',
    )
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing output files'
    )
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def _run(args: argparse.Namespace) -> int:
    """Compare."""
    from ..bvm.layer import BVMLayer
    from ..checks import MAX_CANDIDATES, check_count
    from ..evaluation.units import EvaluationUnits
    from ..fileio import check_output, check_outside_scans
    from ..maps.compare import compare_with_bvm, output_paths

    check_count(
        args.top,
        '--top',
        minimum=0,
        maximum=MAX_CANDIDATES,
        hint='one panel of candidates.png per candidate',
    )
    units = EvaluationUnits(args.units, args.block)
    # The layer's own files, whatever named them (a folder resolves to one).
    inputs = [*BVMLayer.locate(args.bvm, args.layer), args.mapping, *args.maps]
    inputs += [*args.image, args.truth]
    # Every output a run may leave (the truth's scores too: a run without
    # --truth removes an earlier run's).
    for path in output_paths(args.out, truth=True).values():
        check_output(path, inputs, args.overwrite)
    scans = {'--bvm': [args.bvm], '--maps': args.maps, '--image': args.image}
    check_outside_scans([args.out], scans)
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
        year=args.year,
        truth=args.truth,
        images=args.image,
        units=units,
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
