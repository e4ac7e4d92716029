"""Print or write a training configuration shipped with the package.

The configurations for TorchGeo's command line (torchgeo fit|test|predict
--config FILE) are installed with the package: the paper's experiments
(bvm_rgb, bvm_rgnir, bvm_all), class-imbalance variants (bvm_all_weighted,
bvm_all_focal), two time-series models (bvm_monthly_unet,
bvm_monthly_convlstm) and the demo's CPU run (demo). Without a name, lists
them and where they are installed.

--laptop writes the same configuration at laptop scale: 5 steps of 64 x 64
crops, batch 4, one DataLoader worker per CPU but one; each changed line keeps
the value as shipped (the paper's) in a comment beside it.

Examples:
  torchgeo-bvm config
  torchgeo-bvm config bvm_all --out bvm_all.yaml
  torchgeo-bvm config bvm_all --laptop --out bvm_all.yaml
  torchgeo-bvm config demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import Command
from ._options import add_output_options


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        'name', nargs='?', help='the configuration (default: list them all)'
    )
    parser.add_argument(
        '--laptop',
        action='store_true',
        help='laptop scale: few steps, small crops, workers for this machine',
    )
    add_output_options(
        parser, 'write it to this file (default: print it)', required=False
    )


def _run(args: argparse.Namespace) -> int:
    """List the configurations, or print or write one."""
    from ..errors import BVMValueError
    from ..fileio import atomic_path, check_output
    from ..training.configs import config_file, config_text

    if args.name is None:
        if args.laptop or args.out is not None:
            raise BVMValueError('--laptop and --out need a configuration name')
        _list()
        return 0
    text = config_text(args.name, laptop=args.laptop)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    check_output(args.out, [str(config_file(args.name))], args.overwrite)
    with atomic_path(args.out) as temporary:
        temporary.write_text(text)
    scale = ' at laptop scale' if args.laptop else ''
    print(f'wrote {args.name}{scale} to {args.out}')
    return 0


def _list() -> None:
    from ..training.configs import config_file, config_names, config_summary

    names = config_names()
    folder = Path(str(config_file(names[0]))).parent
    print(f'training configurations (in {folder}):')
    width = max(map(len, names))
    for name in names:
        print(f'  {name:<{width}}  {config_summary(name)}')
    print('write one: torchgeo-bvm config NAME --out NAME.yaml [--laptop]')


COMMAND = Command(
    help='print or write a training configuration (the paper, demo, laptop scale)',
    add_arguments=_add_arguments,
    run=_run,
)
