"""Use the BVM as an ordinary TorchGeo dataset: ``&``, a sampler and a DataLoader.

This example builds the plain TorchGeo pipeline by hand, without the package's
data module: Sentinel-2 imagery (:class:`~torchgeo_bvm.datasets.Sentinel2TOC`)
intersected with the BVM polygons (:class:`~torchgeo_bvm.datasets.BVMDataset`)
with TorchGeo's ``&`` operator, TorchGeo's own ``RandomPatchSampler`` composed
with a ``RandomTimestampSampler`` (one acquisition date per patch), and a
PyTorch ``DataLoader``. It prints the shapes of each batch and the class counts
of the labelled pixels, and saves a plot of the first batch.

Two details matter when joining imagery and labels with ``&``:

* put the imagery first: the intersection gives the second dataset the CRS and
  resolution of the first, so the imagery is read on its own grid and only the
  labels are rasterised onto it (build the labels on that grid from the start,
  ``crs=image.crs, res=image.res``, and nothing is converted);
* TorchGeo's default ``concat_samples`` concatenates every key of the two
  samples (``bounds`` and ``transform`` would get 18 values);
  :func:`~torchgeo_bvm.datasets.joint.merge_joint_samples` keeps ``image`` from
  the imagery and ``mask`` from the labels instead.

Cloudy pixels (by the scene classification) are set to
:data:`~torchgeo_bvm.classes.IGNORE_INDEX` in the mask by a small transform.

Run it on the embedded mini-Flanders (generated into ``--data`` when missing)::

    python examples/bvm_in_torchgeo.py --data mini-flanders --out example-output

Outputs: ``<out>/bvm_in_torchgeo.png`` (image and labels of the first batch).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.artist import Artist
from torch.utils.data import DataLoader
from torchgeo.datasets import stack_samples
from torchgeo.datasets.utils import Sample
from torchgeo.samplers import RandomPatchSampler, RandomTimestampSampler

from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.joint import merge_joint_samples
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.plot import (
    class_colormap,
    class_legend,
    ignored_patch,
    sample_date,
    save_figure,
    stretch,
)
from torchgeo_bvm.synth.flanders import (
    DEFAULT_SIZE,
    MANIFEST_NAME,
    SIZES,
    load_manifest,
    write_mini_flanders,
)


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
    parser.add_argument('--patch-size', type=int, default=64, help='patch size (px)')
    parser.add_argument('--batch-size', type=int, default=4, help='samples per batch')
    parser.add_argument('--batches', type=int, default=2, help='batches to read')
    parser.add_argument('--seed', type=int, default=0, help='sampler seed')
    return parser.parse_args(argv)


def ignore_invalid(sample: Sample) -> Sample:
    """Label cloudy or empty pixels IGNORE_INDEX and drop the ``valid`` key.

    Args:
        sample: a joint sample with ``mask`` and ``valid``.

    Returns:
        The sample, with ``mask`` masked.
    """
    valid = sample.pop('valid')
    sample['mask'] = sample['mask'].masked_fill(~valid, IGNORE_INDEX)
    return sample


def class_counts(mask: torch.Tensor) -> dict[str, int]:
    """Labelled pixels per class (IGNORE_INDEX not counted).

    Args:
        mask: class ids, any shape.

    Returns:
        Class name -> pixel count, for the classes present.
    """
    counts = torch.bincount(mask[mask != IGNORE_INDEX].flatten(), minlength=NUM_CLASSES)
    return {CLASS_NAMES[i]: int(n) for i, n in enumerate(counts.tolist()) if n}


def plot_batch(batch: Sample, bands: Sequence[str], path: Path) -> None:
    """Save true-colour images and labels of a batch side by side.

    Each image is stretched between the 2nd and 98th percentile of its labelled
    pixels (clouds do not set the scale) and titled with its acquisition date;
    the legend names the classes shown and what white means.

    Args:
        batch: a collated batch with ``image`` [B, C, H, W], ``mask`` [B, H, W]
            and ``bounds`` [B, 9].
        bands: the band names of ``image``.
        path: the PNG to write.
    """
    rgb = [list(bands).index(b) for b in ('B04', 'B03', 'B02')]
    size = batch['image'].shape[0]
    figure, axes = plt.subplots(
        2, size, figsize=(2.6 * size + 3.2, 5.4), squeeze=False, layout='constrained'
    )
    present: set[int] = set()
    for column in range(size):
        image = batch['image'][column, rgb].permute(1, 2, 0).numpy()
        mask = batch['mask'][column].numpy()
        labelled = mask != IGNORE_INDEX
        axes[0, column].imshow(
            stretch(image, image[labelled] if labelled.any() else None)
        )
        axes[0, column].set_title(sample_date(batch['bounds'][column]), fontsize=9)
        axes[1, column].imshow(
            mask, cmap=class_colormap(), vmin=0, vmax=255, interpolation='none'
        )
        present |= set(np.unique(mask).tolist())
        for axis in axes[:, column]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0, 0].set_ylabel('Sentinel-2 (B04 B03 B02)')
    axes[1, 0].set_ylabel('BVM classes')
    handles: list[Artist] = list(class_legend(present))
    if IGNORE_INDEX in present:
        handles.append(
            ignored_patch(
                'no label (ignored):\ncloud or shadow, no data,\nno BVM polygon'
            )
        )
    figure.legend(handles=handles, loc='outside right upper', fontsize=7)
    save_figure(figure, path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    manifest = open_mini_flanders(args.data, args.size)

    # The labels are rasterised on the imagery's grid (the products' own UTM
    # 31N grid at 10 m, so nothing is resampled). Given it here, as TorchGeo
    # expects; `&` would otherwise convert the labels' CRS and resolution (and
    # say so).
    image = Sentinel2TOC(args.data / manifest['imagery']['root'], bands='all')
    labels = BVMDataset(args.data / manifest['bvm'], crs=image.crs, res=image.res)
    dataset = image & labels
    dataset.collate_fn = merge_joint_samples
    dataset.transforms = ignore_invalid
    print(
        f'dataset: {len(dataset)} dates, CRS {dataset.crs.to_string()}, '
        f'resolution {dataset.res}, bands {" ".join(image.bands)}'
    )

    sampler = RandomPatchSampler(
        dataset,
        size=args.patch_size,
        length=args.batch_size * args.batches,
        generator=args.seed,
    ) @ RandomTimestampSampler(dataset, generator=args.seed)
    loader = DataLoader(
        dataset, batch_size=args.batch_size, sampler=sampler, collate_fn=stack_samples
    )

    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / 'bvm_in_torchgeo.png'
    total: dict[str, int] = {}
    for index, batch in enumerate(loader):
        shapes = ', '.join(f'{k} {tuple(v.shape)}' for k, v in batch.items())
        print(f'batch {index}: {shapes}')
        for name, count in class_counts(batch['mask']).items():
            total[name] = total.get(name, 0) + count
        if index == 0:
            plot_batch(batch, image.bands, plot)

    print('labelled pixels per class:')
    for name in CLASS_NAMES:
        if name in total:
            print(f'  {name:<42} {total[name]:>8}')
    print(f'plot: {plot}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
