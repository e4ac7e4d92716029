r"""Export a trained model for mapping without torch: model.onnx and model.json.

Reads the checkpoint of `torchgeo fit` and its YAML configuration (the one
`torchgeo fit` saved beside its logs holds the command line's overrides too)
and writes a folder: model.onnx, an ONNX graph (opset 17) that takes
normalised images and gives class probabilities (calibrated by the task's
temperature), and model.json, what it needs: the bands and their
normalisation, the classes and their colours, the temporal layout, the patch
size, the overlap and taper of the fusion, the calibration and the package
version. onnxruntime runs the graph on a probe before the folder appears, and
must give torch's probabilities within 1e-4.

Examples:
  torchgeo-bvm export --ckpt checkpoints/bvm_all/best.ckpt \
      --config logs/bvm_all/version_0/config.yaml --out models/bvm_all
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command
from ._options import add_output_options


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--ckpt', type=Path, required=True, help='the checkpoint of torchgeo fit'
    )
    parser.add_argument(
        '--config', type=Path, required=True, help='its YAML configuration'
    )
    add_output_options(parser, 'the model folder to write')


def _run(args: argparse.Namespace) -> int:
    """Export."""
    from ..export.exporter import export_model

    exported = export_model(args.ckpt, args.config, args.out, args.overwrite)
    card = exported.card
    layout = card.temporal if card.stack is None else f'{card.temporal}, {card.stack}'
    print(
        f'{exported.folder}: {card.network} ({layout}) on {len(card.bands)} bands, '
        f'{len(card.classes)} classes, opset {card.opset}; onnxruntime agrees with '
        f'torch within {exported.difference:.1g}'
    )
    return 0


COMMAND = Command(
    help='export a trained model as ONNX with its model card (model.json)',
    add_arguments=_add_arguments,
    run=_run,
)
