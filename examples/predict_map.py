r"""Produce a georeferenced land-cover map from a trained checkpoint.

Given a checkpoint of TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation`
or the package's :class:`~torchgeo_bvm.training.tasks.BVMSemanticSegmentation`
(from ``torchgeo fit`` with a configuration of ``torchgeo-bvm config``, or from
``make demo``: ``demo-output/training/checkpoints/best.ckpt``), this example
maps the test sheets of the mini-Flanders for one year with Lightning's
``Trainer.predict``: :class:`~torchgeo_bvm.training.datamodule.BVMDataModule` tiles the
test sheets and reads every tile on every date of the year
(``prediction.sheets``, ``prediction.years``), and
:class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter` fuses the clear dates
per pixel into one map per sheet (uint8 class ids with the class colour table,
nodata :data:`~torchgeo_bvm.classes.IGNORE_INDEX`, opens labelled in QGIS; its
confidence and count of clear dates beside it), a PNG preview, a mosaic and a
quick-look. For every map it prints the path, CRS, shape and class histogram.

Without ``--checkpoint`` it first trains a tiny fully convolutional network
(TorchGeo's ``fcn``, random initialisation: nothing is downloaded) for
``--steps`` steps on the CPU and saves ``<out>/predict_map/model.ckpt``, so the
example runs anywhere in a minute; that model is barely trained, so do not judge
the map's quality by it (``make demo`` trains a U-Net properly).

The data module must be configured as for training (bands, CRS, resolution,
normalisation): the checkpoint stores the model, not the data settings.

Run it on the embedded mini-Flanders (generated into ``--data`` when missing)::

    python examples/predict_map.py --data mini-flanders --out example-output
    python examples/predict_map.py --data demo-output/data \\
        --stats demo-output/band-stats.json \\
        --checkpoint demo-output/training/checkpoints/best.ckpt

Outputs in ``<out>/predict_map/``: ``predictions/22_7-8.tif`` with
``_confidence.tif``, ``_count.tif`` and ``.png`` (one set per test sheet),
``predictions/mosaic.vrt`` and ``mosaic.png``, and ``model.ckpt`` when it
trained one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from lightning.pytorch import Trainer, seed_everything
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.errors import BVMError
from torchgeo_bvm.maps.files import SIBLING_SUFFIXES
from torchgeo_bvm.synth.flanders import (
    DEFAULT_SIZE,
    MANIFEST_NAME,
    SIZES,
    load_manifest,
    write_mini_flanders,
)
from torchgeo_bvm.training.callbacks import describe_model
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
)
from torchgeo_bvm.training.prediction import MOSAIC, SheetPredictionWriter
from torchgeo_bvm.training.tasks import BVMSemanticSegmentation

#: The imagery's own grid: UTM 31N at 10 m, so nothing is resampled.
CRS = 'EPSG:32631'


def open_mini_flanders(folder: Path, size: str | None) -> dict[str, Any]:
    """The mini-Flanders in ``folder``, generated there when it is missing.

    Args:
        folder: the mini-Flanders folder.
        size: its size; None keeps the size and seed of the one already there
            (the demo's, say), else generates the ``demo`` size.

    Returns:
        Its manifest (paths relative to ``folder``).
    """
    seed = 0
    if size is None and (folder / MANIFEST_NAME).exists():
        existing = load_manifest(folder)
        size, seed = existing['size'], existing['seed']
    return write_mini_flanders(folder, size or DEFAULT_SIZE, seed, progress=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data',
        type=Path,
        default=Path('mini-flanders'),
        help='mini-Flanders folder (generated there when missing)',
    )
    parser.add_argument(
        '--size',
        choices=list(SIZES),
        help="mini-Flanders size (default: the folder's, else demo)",
    )
    parser.add_argument(
        '--out', type=Path, default=Path('example-output'), help='output folder'
    )
    parser.add_argument(
        '--checkpoint',
        type=Path,
        help='a SemanticSegmentation checkpoint (default: train a small one)',
    )
    parser.add_argument(
        '--stats', help='band statistics JSON used in training (torchgeo-bvm stats)'
    )
    parser.add_argument(
        '--bands', default='all', help="'all', 'rgb', 'rgnir' (as in training)"
    )
    parser.add_argument('--year', type=int, default=2020, help='the year to map')
    parser.add_argument(
        '--stride',
        type=int,
        help='prediction tiles every N px (default: 3/4 of the tile, as the demo)',
    )
    parser.add_argument('--patch-size', type=int, default=64, help='tile size (px)')
    parser.add_argument('--batch-size', type=int, default=16, help='tiles per batch')
    parser.add_argument(
        '--steps', type=int, default=20, help='training steps without --checkpoint'
    )
    return parser.parse_args(argv)


def make_datamodule(
    args: argparse.Namespace, manifest: dict[str, Any]
) -> BVMDataModule:
    """The data module of the mini-Flanders, as configured for training.

    Args:
        args: the parsed command line.
        manifest: the mini-Flanders manifest.

    Returns:
        The data module.
    """
    return BVMDataModule(
        sentinel2_paths=str(args.data / manifest['imagery']['root']),
        bvm_paths=str(args.data / manifest['bvm']),
        sheets=[22],
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        length=args.steps * args.batch_size,
        imagery=ImageryOptions(bands=args.bands, stats=args.stats, crs=CRS, res=10),
        labels=LabelOptions(boundary=str(args.data / manifest['boundary'])),
        prediction=PredictionOptions(
            sheets='test',
            years=[args.year],
            stride=args.stride or args.patch_size * 3 // 4,
            # No gradients: larger batches fit, and run faster per tile on a CPU.
            batch_size=8 * args.batch_size,
            # One year into <out>/predict_map/predictions itself.
            period_folder=False,
        ),
    )


def train_small_model(datamodule: BVMDataModule, steps: int, path: Path) -> Path:
    """Train a tiny network for a few steps and save its checkpoint.

    Args:
        datamodule: the data module.
        steps: training steps.
        path: the checkpoint to write.

    Returns:
        ``path``.
    """
    seed_everything(0, workers=True)
    task = SemanticSegmentation(
        model='fcn',
        num_filters=32,
        weights=None,
        in_channels=len(datamodule.check().bands),
        num_classes=NUM_CLASSES,
        labels=list(CLASS_NAMES),
        ignore_index=IGNORE_INDEX,
        lr=3e-3,
    )
    trainer = Trainer(
        accelerator='cpu',
        devices=1,
        max_steps=steps,
        # One validation batch: the task's ReduceLROnPlateau needs a val_loss.
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=path.parent,
    )
    trainer.fit(task, datamodule=datamodule)
    trainer.save_checkpoint(path)
    return path


def load_task(checkpoint: Path) -> BVMSemanticSegmentation:
    """The segmentation task of a checkpoint.

    Loaded as :class:`~torchgeo_bvm.training.tasks.BVMSemanticSegmentation`,
    which the package's configurations and the demo train (its checkpoints
    carry the calibration, which TorchGeo's own class would refuse); a
    checkpoint of TorchGeo's ``SemanticSegmentation`` loads with the neutral
    calibration, so it predicts as TorchGeo's task would.

    Args:
        checkpoint: the checkpoint file.

    Returns:
        The task, on the CPU.

    Raises:
        FileNotFoundError: if the checkpoint does not exist.
    """
    if not checkpoint.is_file():
        raise FileNotFoundError(f'--checkpoint {checkpoint}: no such file')
    task = BVMSemanticSegmentation.load_from_checkpoint(checkpoint, map_location='cpu')
    print(f'model: {describe_model(task, checkpoint)}')
    return task


def predict(
    task: SemanticSegmentation, datamodule: BVMDataModule, out: Path
) -> SheetPredictionWriter:
    """Map the test sheets with a model.

    Args:
        task: the trained task.
        datamodule: the data module, as configured for training.
        out: the example's output folder.

    Returns:
        The writer, which lists the files it wrote.

    Raises:
        BVMValueError: if the model takes other bands than the data module
            reads (checked when prediction starts, before anything is read).
    """
    writer = SheetPredictionWriter(out / 'predictions', preview=True)
    trainer = Trainer(
        accelerator='cpu',
        devices=1,
        logger=False,
        callbacks=[writer],
        enable_model_summary=False,
        default_root_dir=out,
    )
    trainer.predict(task, datamodule=datamodule, return_predictions=False)
    return writer


def describe(path: Path) -> None:
    """Print a predicted map's CRS, shape and class histogram.

    Args:
        path: a GeoTIFF written by SheetPredictionWriter.
    """
    with rasterio.open(path) as source:
        classes = source.read(1)
        print(f'{path}')
        print(f'  CRS {source.crs}, shape {classes.shape}, pixel {source.res} m')
        print(f'  bounds {tuple(round(v) for v in source.bounds)}')
    counts = np.bincount(classes[classes != IGNORE_INDEX], minlength=NUM_CLASSES)
    total = max(int(counts.sum()), 1)
    print(f'  predicted pixels {total}, no data {int((classes == IGNORE_INDEX).sum())}')
    for class_id in np.flatnonzero(counts):
        share = 100 * counts[class_id] / total
        print(f'    {CLASS_NAMES[class_id]:<42} {counts[class_id]:>8} {share:6.2f} %')


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 2 when the checkpoint is missing or unreadable,
        or the data module refuses the model (other bands, say: it checks the
        model when prediction starts), with the reason on stderr.
    """
    args = parse_args(argv)
    manifest = open_mini_flanders(args.data, args.size)
    out = args.out / 'predict_map'
    out.mkdir(parents=True, exist_ok=True)
    datamodule = make_datamodule(args, manifest)

    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = train_small_model(datamodule, args.steps, out / 'model.ckpt')
        print(f'trained {args.steps} steps, checkpoint: {checkpoint}')
    try:
        task = load_task(checkpoint)
    except (OSError, ValueError) as error:  # missing, or not a checkpoint
        print(f'predict_map.py: error: {error}', file=sys.stderr)
        return 2
    try:
        writer = predict(task, datamodule, out)
    except BVMError as error:
        print(f'predict_map.py: error: {error}', file=sys.stderr)
        return 2
    for path in writer.written:
        if path.suffix == '.tif' and not path.stem.endswith(SIBLING_SUFFIXES):
            describe(path)
            preview = path.with_suffix('.png')
            if preview.exists():
                print(f'  preview {preview}')
    assert writer.folder is not None
    print(f'mosaic {writer.folder / MOSAIC}, quick-look mosaic.png beside it')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
