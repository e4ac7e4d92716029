"""A custom split scheme: its map, its class statistics and a data module using it.

The paper splits every 1:50,000 map sheet into its four ``kbl4`` quarters:
train = X/1-2 and X/5-6, validation = X/3-4, test = X/7-8. A
:class:`~torchgeo_bvm.sheets.scheme.SplitScheme` can assign any parts of the sheet
grid instead. This example uses the eight ``kbl8`` sheets (numbered 1-4 in the
top row, 5-8 in the bottom row of every sheet) in a staggered pattern, so every
split has a part in the north and in the south of each sheet::

    1 train | 2 test  | 3 val   | 4 train
    5 val   | 6 train | 7 train | 8 test

(still 50/25/25 % of the area). It then

1. draws the scheme's map with :func:`~torchgeo_bvm.sheets.official.grid` and
   :func:`~torchgeo_bvm.plot.plot_grid`;
2. rasterises the BVM (:func:`~torchgeo_bvm.bvm.labels.rasterize_bvm`) and counts
   the classes of every split with
   :func:`~torchgeo_bvm.bvm.statistics.split_class_counts`, printing the shares and
   the chi-squared distances between the splits' class distributions (smaller is
   more alike);
3. trains nothing, but builds a
   :class:`~torchgeo_bvm.training.datamodule.BVMDataModule` with
   ``sampling=SamplingOptions(split_scheme=SCHEME)`` and reads one training
   batch from it.

A key may also name a full sheet code, which then overrides the parts for that
sheet only, e.g. ``{'22/1-2': 'test', '22/3-4': 'train', ...}``; the keys of one
sheet must then cover it entirely.

Run it on the embedded mini-Flanders (generated into ``--data`` when missing)::

    python examples/custom_split.py --data mini-flanders --out example-output

Outputs in ``<out>/custom_split/``: ``split_map.png``, ``labels.tif`` and the
statistics (``class_counts.csv``, ``chi_squared.csv``, ``split_statistics.md``,
``class_weights.json`` and the chart ``class_distribution.png``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.bvm.statistics import split_class_counts
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX
from torchgeo_bvm.plot import plot_grid
from torchgeo_bvm.sheets.official import grid
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.synth.flanders import SIZES, write_mini_flanders
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import ImageryOptions, LabelOptions, SamplingOptions

#: kbl8 part -> split, applied to every 1:50,000 sheet.
SCHEME: dict[str, str] = {
    '1': 'train',
    '4': 'train',
    '6': 'train',
    '7': 'train',
    '3': 'val',
    '5': 'val',
    '2': 'test',
    '8': 'test',
}
#: The mini-Flanders lies in sheet 22 (Gent).
SHEETS = [22]
#: The imagery's own grid: UTM 31N at 10 m, so nothing is resampled.
CRS = 'EPSG:32631'


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
        '--size', default='demo', choices=list(SIZES), help='mini-Flanders size'
    )
    parser.add_argument(
        '--out', type=Path, default=Path('example-output'), help='output folder'
    )
    parser.add_argument('--patch-size', type=int, default=64, help='patch size (px)')
    parser.add_argument('--batch-size', type=int, default=4, help='samples per batch')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    manifest = write_mini_flanders(args.data, args.size, progress=True)
    out = args.out / 'custom_split'
    out.mkdir(parents=True, exist_ok=True)
    scheme = SplitScheme(SCHEME)
    for split in scheme.splits:
        codes = ', '.join(s.code for s in scheme.sheets(split, SHEETS))
        print(f'{split:<5} {codes}')

    # 1. The map: every kbl8 sheet coloured by its split.
    split_map = out / 'split_map.png'
    plot_grid(
        grid('kbl8', numbers=SHEETS, scheme=scheme),
        split_map,
        title='Custom split of sheet 22 (kbl8 parts)',
    )
    print(f'split map: {split_map}')

    # 2. The class statistics per split, on a label raster.
    labels = out / 'labels.tif'
    if not labels.exists():
        rasterize_bvm(args.data / manifest['bvm'], labels, crs=CRS, res=10.0)
    statistics = split_class_counts(labels, scheme=scheme, numbers=SHEETS)
    print(statistics.to_markdown())
    written = statistics.write(out, log_scale=True)
    for kind, path in written.items():
        print(f'{kind}: {path}')

    # 3. A data module on the same scheme.
    datamodule = BVMDataModule(
        sentinel2_paths=str(args.data / manifest['imagery']['root']),
        bvm_paths=str(labels),
        sheets=list(SHEETS),
        imagery=ImageryOptions(crs=CRS, res=10),
        labels=LabelOptions(boundary=str(args.data / manifest['boundary'])),
        sampling=SamplingOptions(split_scheme=SCHEME),
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        length=args.batch_size,
    )
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    shapes = ', '.join(f'{k} {tuple(v.shape)}' for k, v in batch.items())
    print(f'train batch: {shapes}')
    mask = batch['mask']
    present = sorted({int(v) for v in mask.unique()} - {IGNORE_INDEX})
    print(f'classes in the batch: {", ".join(CLASS_NAMES[i] for i in present)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
