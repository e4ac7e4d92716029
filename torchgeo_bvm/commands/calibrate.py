r"""Calibrate a model's map confidence on held-out sheets: a calibrated checkpoint.

A fused map averages the class probabilities of every clear date, and that
average is less sure than the map is right. This command reads fused maps of
held-out sheets (the validation sheets, predicted with the checkpoint:
`torchgeo predict ... --data.init_args.prediction.sheets=val`), compares every
pixel's class with the labels there (a label raster from `torchgeo-bvm
rasterize`), fits the calibrated probability of each confidence code by
isotonic regression per predicted class (one table for the classes with
fewer than 1,000 pixels), and writes a copy of the checkpoint that carries it:
`torchgeo predict` with that copy writes confidences that are probabilities.
The maps must come from the checkpoint as it is (not an already calibrated
copy) and should hold _probabilities.tif (the raw confidence is their
maximum; without them, _confidence.tif is taken as raw).

Examples:
  torchgeo-bvm calibrate --maps predictions-val --labels labels.tif \
      --checkpoint training/checkpoints/best.ckpt \
      --out training/checkpoints/best-calibrated.ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command
from ._options import add_output_options


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--maps',
        type=Path,
        nargs='+',
        required=True,
        help='fused maps of held-out sheets (<name>.tif) or folders of them',
    )
    parser.add_argument(
        '--labels',
        type=Path,
        required=True,
        help='a label raster covering them (torchgeo-bvm rasterize)',
    )
    parser.add_argument(
        '--checkpoint', type=Path, required=True, help='the checkpoint to calibrate'
    )
    add_output_options(parser, 'the calibrated copy to write')


def _run(args: argparse.Namespace) -> int:
    """Calibrate."""
    import numpy as np

    from ..classes import CLASS_NAMES
    from ..errors import BVMFileError
    from ..evaluation.calibration import CLASS_PIXELS, Reliability, confidence_table
    from ..fileio import check_output
    from ..maps.files import find_class_maps, sibling_path
    from ..maps.reliability import map_outcomes

    if not args.checkpoint.is_file():
        raise BVMFileError(f'--checkpoint not found: {args.checkpoint}')
    check_output(args.out, [args.checkpoint, args.labels, *args.maps], args.overwrite)
    maps = find_class_maps(args.maps)
    raw = all(sibling_path(m.path, '_probabilities').is_file() for m in maps)
    codes, correct, classes = map_outcomes(args.maps, args.labels, raw=raw)
    table = confidence_table(codes, correct, classes)
    before, after = Reliability(), Reliability()
    before.add(codes / 250, correct)
    after.add(table[classes, codes], correct)
    from ..training.calibration import calibrate_checkpoint

    calibrate_checkpoint(args.checkpoint, args.out, table, overwrite=args.overwrite)
    source = 'the maximum of _probabilities' if raw else '_confidence'
    print(
        f'{len(codes):,} pixels of {len(maps)} maps against {args.labels} '
        f'(confidence: {source}); right {100 * before.accuracy():.2f} %'
    )
    print(
        f'expected calibration error on them: {before.ece():.4f} before, '
        f'{after.ece():.4f} after (on the pixels it was fitted on)'
    )
    own = np.flatnonzero(np.bincount(classes, minlength=len(table)) >= CLASS_PIXELS)
    print(
        f'confidence tables of their own for {len(own)} classes '
        f'({", ".join(CLASS_NAMES[c] for c in own)}); the others share one'
    )
    print(f'wrote {args.out}')
    return 0


COMMAND = Command(
    help="calibrate a model's map confidence on held-out sheets (a checkpoint copy)",
    add_arguments=_add_arguments,
    run=_run,
)
