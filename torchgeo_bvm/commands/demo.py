"""Run the whole pipeline on the embedded mini-Flanders (what `make demo` runs).

Generates the region, rasterises the labels, prints the split statistics with
chi-squared distances, computes the band statistics, trains with `torchgeo fit`
on the CPU, evaluates on the test sheets, writes the predicted map, and prints
overall accuracy, per-class IoU and the majority-class baseline. What is already
in OUT is reused.

Examples:
  torchgeo-bvm demo --out demo-output
  torchgeo-bvm demo --out /tmp/quick --size tiny --max-steps 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', type=Path, default=Path('demo-output'), help='folder')
    parser.add_argument(
        '--size', default='demo', help="mini-Flanders size (default 'demo')"
    )
    parser.add_argument('--seed', type=int, default=0, help='seed of the region')
    parser.add_argument('--max-steps', type=int, help='training steps (default 200)')
    parser.add_argument('--length', type=int, help='training crops per epoch')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


def _run(args: argparse.Namespace) -> int:
    """Run the demo and print its report."""
    from ..checks import MAX_LENGTH, MAX_STEPS, check_count, check_seed
    from ..demo import run_demo
    from ..errors import BVMValueError
    from ..fileio import check_writable_folder
    from ..synth.flanders import SIZES

    if args.size not in SIZES:
        raise BVMValueError(f'--size {args.size!r}: expected one of {", ".join(SIZES)}')
    check_seed(args.seed, '--seed')
    for option, value, most in (
        ('--max-steps', args.max_steps, MAX_STEPS),
        ('--length', args.length, MAX_LENGTH),
    ):
        if value is not None:
            check_count(value, option, maximum=most)
    check_writable_folder(args.out)

    result = run_demo(
        args.out,
        size=args.size,
        seed=args.seed,
        max_steps=args.max_steps,
        length=args.length,
        progress=not args.quiet,
    )
    print(result.summary())
    return 0


COMMAND = Command(
    help='run the whole pipeline on the embedded mini-Flanders',
    add_arguments=_add_arguments,
    run=_run,
)
