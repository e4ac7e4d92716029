"""Class distributions of the dataset splits (the paper's Tables 1 and 2).

Counts are taken from a label raster (see :mod:`torchgeo_bvm.bvm.labels`), so they are
fast at full Flanders scale: the raster is read block by block, each pixel is
assigned to the split whose sheet contains its centre, and the pairs
(split, class) are counted with one :func:`numpy.bincount` per block.

The homogeneity of the splits is reported as the chi-squared distance of the
paper, D(P, Q) = sum_i (P(i) - Q(i))^2 / (P(i) + Q(i)), over the class
probabilities of two splits (classes absent from both are skipped).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from shapely.geometry import box
from tqdm import tqdm

from ..checks import check_positive
from ..classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, NUM_CLASSES
from ..errors import BVMFileError, BVMNotFoundError, BVMValueError
from ..fileio import atomic_paths
from ..plot import save_figure
from ..sheets.codes import KBL_CRS
from ..sheets.scheme import SplitScheme
from ..spatial.classraster import open_label_raster
from ..spatial.geometry import reproject_geometry
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import burn_polygons

__all__ = [
    'STATISTICS_FILES',
    'SplitStatistics',
    'chi_squared_distance',
    'median_frequency_weights',
    'split_class_counts',
]

# Split index 0 is reserved for pixels in no selected sheet.
_OUTSIDE = 0

#: The files :meth:`SplitStatistics.write` writes into its folder, by kind.
STATISTICS_FILES = {
    'counts': 'class_counts.csv',
    'chi_squared': 'chi_squared.csv',
    'markdown': 'split_statistics.md',
    'chart': 'class_distribution.png',
    'class_weights': 'class_weights.json',
}


def chi_squared_distance(
    p: Sequence[float] | NDArray[np.number] | pd.Series,
    q: Sequence[float] | NDArray[np.number] | pd.Series,
) -> float:
    """The chi-squared distance between two categorical distributions.

    Both inputs are normalised to probabilities first, so counts work as well.

    Args:
        p: counts or probabilities of the first distribution.
        q: counts or probabilities of the second, in the same class order.

    Returns:
        sum_i (P(i) - Q(i))^2 / (P(i) + Q(i)), over the classes with P + Q > 0.

    Raises:
        ValueError: if the lengths differ or a distribution sums to zero or
            has a negative entry.
    """
    a, b = _numbers(p, 'the first distribution'), _numbers(q, 'the second distribution')
    if a.shape != b.shape:
        raise BVMValueError(
            f'distributions of different lengths: {a.size} and {b.size}'
        )
    for name, values in (('first', a), ('second', b)):
        if values.ndim != 1 or not np.isfinite(values).all():
            raise BVMValueError(
                f'the {name} distribution must be a list of finite numbers, got '
                f'{values.tolist()}'
            )
        if (values < 0).any() or values.sum() <= 0:
            raise BVMValueError(
                f'the {name} distribution must be non-negative and non-zero, got '
                f'{values.tolist()}'
            )
    a, b = a / a.sum(), b / b.sum()
    total = a + b
    present = total > 0
    return float((((a - b) ** 2)[present] / total[present]).sum())


def _numbers(values: object, name: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1:
        raise BVMValueError(f'{name} must be a list of numbers, got {values!r}')
    return array


def median_frequency_weights(
    counts: Sequence[float] | NDArray[np.number] | pd.Series, max_weight: float = 50.0
) -> list[float]:
    """Class weights for the loss by median frequency balancing.

    ``w_c = median(f) / f_c`` over the classes present (Eigen and Fergus, 2015),
    so a class of median frequency weighs 1, rarer classes more. Weights are capped
    at ``max_weight``, since the rarest BVM classes are 0.01 % of the pixels and an
    uncapped weight of several hundred destabilises training; absent classes get 0.

    Args:
        counts: pixel counts per class (e.g. of the train split).
        max_weight: the largest weight.

    Returns:
        One weight per class, rounded to 4 decimals (for configs).

    Raises:
        ValueError: if no class has pixels or a count is negative.
    """
    values = _numbers(counts, 'class counts')
    if values.ndim != 1 or not np.isfinite(values).all():
        raise BVMValueError(
            f'class counts must be a list of finite numbers, got {values.tolist()}'
        )
    if (values < 0).any() or values.sum() <= 0:
        raise BVMValueError(
            'class counts must be non-negative with at least one pixel, got '
            f'{values.tolist()}'
        )
    check_positive(max_weight, 'max_weight')
    frequencies = values / values.sum()
    present = frequencies > 0
    median = float(np.median(frequencies[present]))
    weights = np.zeros_like(frequencies)
    weights[present] = np.minimum(median / frequencies[present], max_weight)
    return [round(float(w), 4) for w in weights]


@dataclass
class SplitStatistics:
    """Per-split class pixel counts.

    Args:
        counts: pixel counts with one row per class (index: class names in id
            order) and one column per split.
        unlabelled: pixels inside the split's sheets without a class
            (:data:`~torchgeo_bvm.classes.IGNORE_INDEX`), per split.
    """

    counts: pd.DataFrame
    unlabelled: pd.Series

    @property
    def splits(self) -> list[str]:
        """The split names."""
        return [str(c) for c in self.counts.columns]

    def percentages(self) -> pd.DataFrame:
        """Class shares in percent of each split's labelled pixels.

        Returns:
            A frame shaped like :attr:`counts`.
        """
        totals = self.counts.sum(axis=0).replace(0, np.nan)
        return (100 * self.counts / totals).fillna(0.0)

    def chi_squared(self) -> pd.DataFrame:
        """Chi-squared distances between every pair of splits.

        Returns:
            One row per pair with the columns ``split_a``, ``split_b``, ``distance``.
        """
        rows = [
            {
                'split_a': a,
                'split_b': b,
                'distance': chi_squared_distance(self.counts[a], self.counts[b]),
            }
            for a, b in itertools.combinations(self.splits, 2)
            if self.counts[a].sum() > 0 and self.counts[b].sum() > 0
        ]
        return pd.DataFrame(rows, columns=['split_a', 'split_b', 'distance'])

    def class_weights(
        self, split: str = 'train', max_weight: float = 50.0
    ) -> list[float]:
        """Loss weights from one split's counts (:func:`median_frequency_weights`).

        Args:
            split: the split whose counts are used.
            max_weight: the largest weight.

        Returns:
            One weight per class, in class id order.
        """
        return median_frequency_weights(self.counts[split], max_weight)

    def to_markdown(self) -> str:
        """Markdown tables: pixels and percent per class and split, then distances.

        Returns:
            The Markdown text.
        """
        percent = self.percentages()
        header = ['Class', *(f'{s} (pixels)' for s in self.splits)]
        header += [f'{s} (%)' for s in self.splits]
        lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
        values, shares = self.counts.to_numpy(), percent.to_numpy()
        for i, name in enumerate(self.counts.index):
            cells = [str(name)]
            cells += [f'{int(v):,}' for v in values[i]]
            cells += [f'{float(v):.2f}' for v in shares[i]]
            lines.append('| ' + ' | '.join(cells) + ' |')
        totals = [f'{int(self.counts[s].sum()):,}' for s in self.splits]
        lines.append(
            '| Total | ' + ' | '.join(totals) + ' |' + ' 100.00 |' * len(self.splits)
        )
        lines += ['', '| Splits | Chi-squared distance |', '|---|---|']
        for row in self.chi_squared().itertuples():
            lines.append(f'| {row.split_a} - {row.split_b} | {row.distance:.5f} |')
        return '\n'.join(lines) + '\n'

    def write(self, directory: str | Path, log_scale: bool = False) -> dict[str, Path]:
        """Write CSV, Markdown and a bar chart into ``directory``, as one set.

        The files appear together once all are written (:func:`atomic_paths`):
        an interrupted run, a full disk or a read-only folder leaves the folder
        as it was, and a file of an earlier run that this one does not write
        (``class_weights.json`` when there is no train split now) is removed.

        Args:
            directory: the output folder (created if missing).
            log_scale: draw the bar chart's y axis on a log scale, so the rare
                classes show.

        Returns:
            The written files by kind: ``counts``, ``chi_squared``, ``markdown``,
            ``chart`` and, when there is a non-empty ``train`` split,
            ``class_weights`` (JSON, median frequency balancing of the train
            split, ready for the task's ``class_weights``).
        """
        directory = Path(directory)
        every = {kind: directory / name for kind, name in STATISTICS_FILES.items()}
        paths = dict(every)
        if 'train' not in self.splits or self.counts['train'].sum() <= 0:
            del paths['class_weights']
        table = self.counts.copy()
        table.insert(0, 'class_id', [c.id for c in CLASSES])
        for split, share in self.percentages().items():
            table[f'{split}_percent'] = share.round(4)
        table.index.name = 'class'
        with atomic_paths(list(paths.values()), owned=every.values()) as temporaries:
            staged = dict(zip(paths, temporaries, strict=True))
            table.to_csv(staged['counts'])
            self.chi_squared().to_csv(staged['chi_squared'], index=False)
            staged['markdown'].write_text(self.to_markdown())
            self.plot(staged['chart'], log_scale=log_scale)
            if 'class_weights' in staged:
                weights = {
                    'split': 'train',
                    'class_weights': self.class_weights('train'),
                }
                staged['class_weights'].write_text(json.dumps(weights, indent=2) + '\n')
        return paths

    def plot(self, path: str | Path, log_scale: bool = False) -> None:
        """Draw the class shares of every split as grouped bars.

        Args:
            path: the PNG file to write.
            log_scale: use a log scale for the percentages.
        """
        import matplotlib.pyplot as plt

        percent = self.percentages()
        figure, axes = plt.subplots(figsize=(12, 5), layout='constrained')
        width = 0.8 / max(len(self.splits), 1)
        x = np.arange(len(percent.index))
        for i, split in enumerate(self.splits):
            axes.bar(x + i * width, percent[split], width, label=split)
        axes.set_xticks(x + width * (len(self.splits) - 1) / 2)
        axes.set_xticklabels(percent.index, rotation=40, ha='right', fontsize=8)
        axes.set_ylabel('share of labelled pixels (%)')
        if log_scale:
            axes.set_yscale('log')
        axes.set_title('Class distribution per split')
        axes.legend()
        save_figure(figure, path, dpi=150)


def _zones(
    scheme: SplitScheme,
    numbers: Iterable[int | str] | None,
    crs: rasterio.crs.CRS,
    densify: float,
) -> NDArray[np.object_]:
    """One (multi)polygon per split of ``scheme``, in its order, in ``crs``."""
    zones = [
        shapely.union_all([box(*s.bounds) for s in scheme.sheets(split, numbers)])
        for split in scheme.splits
    ]
    return np.array(
        [reproject_geometry(zone, KBL_CRS, crs, densify) for zone in zones],
        dtype=object,
    )


def split_class_counts(
    labels: str | Path,
    scheme: SplitScheme | None = None,
    numbers: Iterable[int | str] | None = None,
    block_size: int = 2048,
    progress: bool = True,
) -> SplitStatistics:
    """Count the labelled pixels of every class in every split.

    A pixel belongs to the split whose sheet contains its centre; sheets are
    reprojected (densified) into the raster's CRS, so rasters in EPSG:4326, UTM or
    Lambert 72 are counted alike. Memory stays bounded by ``block_size``.

    Args:
        labels: a label raster with class ids 0..13 and nodata
            :data:`~torchgeo_bvm.classes.IGNORE_INDEX`.
        scheme: the split scheme (default: the paper's).
        numbers: ``kbl`` sheet numbers to count (default all 43).
        block_size: height and width of the blocks read at once.
        progress: show a tqdm progress bar.

    Returns:
        The per-split counts.

    Raises:
        FileNotFoundError: if ``labels`` does not exist.
        ValueError: if the raster has no CRS, or holds values other than class ids
            and IGNORE_INDEX.
    """
    path = Path(labels)
    if not path.exists():
        raise BVMNotFoundError(f'label raster not found: {path}')
    scheme = scheme or SplitScheme()
    splits = scheme.splits
    size = (len(splits) + 1) * 256
    totals = np.zeros(size, dtype=np.int64)
    with open_label_raster(path) as source:
        # Sheet edges are densified every 10 m (in Lambert 72) before
        # reprojecting, so pixel centres near an edge land in the right sheet.
        zones = _zones(scheme, numbers, source.crs, densify=10.0)
        splits_of_zones = np.arange(1, len(zones) + 1, dtype=np.uint8)
        nodata = source.nodata
        windows = list(Grid.of_file(source).windows(block_size))
        for window in tqdm(windows, desc='counting classes', disable=not progress):
            try:
                values = source.read(1, window=window)
            except rasterio.errors.RasterioIOError as error:
                raise BVMFileError(
                    f'{path}: cannot be read (damaged or truncated?): {error}'
                ) from None
            if nodata is not None and nodata != IGNORE_INDEX:
                # The raster's own nodata is unlabelled, whatever its value.
                values[values == nodata] = IGNORE_INDEX
            # The scanline rule, as for the labels themselves: a pixel is in the
            # split whose sheet holds its centre.
            split_of = burn_polygons(
                zones,
                splits_of_zones,
                source.window_transform(window),
                values.shape,
                _OUTSIDE,
            )
            totals += _count_block(values, split_of, size, path)
    if not totals.any():
        sheets = 'all 43 sheets' if numbers is None else f'sheets {list(numbers)}'
        raise BVMValueError(
            f'{path}: no pixel of the raster lies in the {sheets} of the split '
            f'scheme (raster bounds {tuple(round(v, 6) for v in source.bounds)} in '
            f'{source.crs}); is it the right raster, CRS or --sheets?'
        )
    table = totals.reshape(len(splits) + 1, 256)[1:]
    counts = pd.DataFrame(
        table[:, :NUM_CLASSES].T,
        index=pd.Index(CLASS_NAMES, name='class'),
        columns=splits,
    )
    unlabelled = pd.Series(table[:, IGNORE_INDEX], index=splits, name='unlabelled')
    return SplitStatistics(counts=counts, unlabelled=unlabelled)


def _count_block(
    values: NDArray[np.generic], zones: NDArray[np.uint8], size: int, path: Path
) -> NDArray[np.int64]:
    inside = zones != _OUTSIDE
    found = values[inside].astype(np.int64)
    bad = (found >= NUM_CLASSES) & (found != IGNORE_INDEX) | (found < 0)
    if bad.any():
        raise BVMValueError(
            f'{path}: value {int(found[bad][0])} is neither a class id '
            f'(0..{NUM_CLASSES - 1}) nor the nodata value {IGNORE_INDEX}'
        )
    keys = zones[inside].astype(np.int64) * 256 + found
    return np.bincount(keys, minlength=size)
