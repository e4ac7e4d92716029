"""Per-band statistics of the training imagery, for input normalisation.

:func:`compute_band_stats` reads every date of every sheet of the training split
and accumulates, per band, over the pixels that are *usable*: inside a sheet of
the split, inside Flanders, with data, and cloud-free by the SCL rule (the
imagery's ``valid`` mask). Validation and test sheets never enter, so their
numbers stay unbiased.

* mean and standard deviation are exact, merged chunk by chunk with Chan et al.'s
  parallel algorithm in float64;
* percentiles (1 and 99 by default, the paper's ``(x - p1) / (p99 - p1)``
  scaling) are taken over a uniform random sample of at most ``sample_size``
  usable pixels (a reservoir kept by the smallest random keys), because exact
  percentiles of billions of pixels would need them all in memory. With 10^6
  pixels the sampling error of a percentile is a few hundredths of a percentile
  rank.

The result is written as JSON (:meth:`BandStats.write`, atomically) and read by
:class:`~torchgeo_bvm.training.datamodule.BVMDataModule`, which applies it with kornia's
``Normalize`` on the device. Statistics are kept per band name, so a file computed
for all 11 bands serves every band mode.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import GeoDataset
from tqdm import tqdm

from ..checks import MAX_READ_BYTES, check_bytes
from ..datasets.imagery import imagery_grid
from ..errors import BVMNotFoundError, BVMValueError
from ..fileio import atomic_path, read_json
from ..sheets.boundary import FlandersMask
from ..sheets.layout import SheetLayout
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import Grid

__all__ = ['STATS_FORMAT', 'BandStats', 'compute_band_stats', 'load_band_stats']

#: Identifies the JSON files written by :meth:`BandStats.write`.
STATS_FORMAT = 'torchgeo-bvm band statistics'
_VERSION = 1


@dataclass(frozen=True)
class BandStats:
    """Per-band statistics of usable pixels.

    Args:
        bands: band names.
        mean: mean per band.
        std: population standard deviation per band.
        percentiles: percentile (0-100) -> value per band.
        pixels: number of usable pixels the mean and std were computed over.
        sampled: number of pixels the percentiles were computed over.
        metadata: where the numbers come from (split, sheets, dates, ...).

    Raises:
        ValueError: if the lists do not all have one value per band.
    """

    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    percentiles: Mapping[float, tuple[float, ...]]
    pixels: int
    sampled: int
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(self.mean), len(self.std)}
        lengths |= {len(v) for v in self.percentiles.values()}
        if lengths != {len(self.bands)}:
            raise BVMValueError(
                f'band statistics need one value per band ({len(self.bands)} bands: '
                f'{", ".join(self.bands)}), got lists of lengths {sorted(lengths)}'
            )
        if len(set(self.bands)) != len(self.bands):
            raise BVMValueError(f'band statistics name a band twice: {self.bands}')
        for name, values in (
            ('mean', self.mean),
            ('std', self.std),
            *((f'percentile {q:g}', v) for q, v in self.percentiles.items()),
        ):
            bad = [
                b
                for b, v in zip(self.bands, values, strict=True)
                if not math.isfinite(v)
            ]
            if bad:
                raise BVMValueError(
                    f'band statistics: {name} of {", ".join(bad)} is not a finite '
                    'number'
                )
        flat = [b for b, v in zip(self.bands, self.std, strict=True) if v <= 0]
        if flat:
            # Normalising by a zero spread would divide by zero (or by a clamp).
            raise BVMValueError(
                f'band statistics: std of {", ".join(flat)} is {min(self.std):g}, '
                'not above 0 (a band with one value everywhere, or no usable pixel)'
            )

    def select(self, bands: Sequence[str]) -> BandStats:
        """The statistics of some bands, in the given order.

        Args:
            bands: band names.

        Returns:
            The statistics of those bands.

        Raises:
            ValueError: naming the bands that have no statistics.
        """
        missing = [b for b in bands if b not in self.bands]
        if missing:
            raise BVMValueError(
                f'no statistics for band(s) {", ".join(missing)}: the statistics '
                f'cover {", ".join(self.bands)}; recompute them with these bands'
            )
        pick = [self.bands.index(b) for b in bands]
        return BandStats(
            bands=tuple(bands),
            mean=tuple(self.mean[i] for i in pick),
            std=tuple(self.std[i] for i in pick),
            percentiles={
                p: tuple(v[i] for i in pick) for p, v in self.percentiles.items()
            },
            pixels=self.pixels,
            sampled=self.sampled,
            metadata=self.metadata,
        )

    def percentile(self, q: float) -> tuple[float, ...]:
        """The values of one percentile.

        Args:
            q: the percentile, 0-100.

        Returns:
            One value per band.

        Raises:
            ValueError: if that percentile was not computed.
        """
        for key, values in self.percentiles.items():
            if math.isclose(key, q):
                return values
        raise BVMValueError(
            f'percentile {q} was not computed; available: {sorted(self.percentiles)}'
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary.

        Returns:
            The dictionary written by :meth:`write`.
        """
        return {
            'format': STATS_FORMAT,
            'version': _VERSION,
            'bands': list(self.bands),
            'mean': list(self.mean),
            'std': list(self.std),
            'percentiles': {
                f'{q:g}': list(v) for q, v in sorted(self.percentiles.items())
            },
            'pixels': self.pixels,
            'sampled_pixels': self.sampled,
            **{k: v for k, v in self.metadata.items() if k not in _RESERVED},
        }

    def write(self, path: str | Path) -> Path:
        """Write the statistics as JSON, atomically.

        Args:
            path: the file to write.

        Returns:
            ``path``.
        """
        path = Path(path)
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(self.to_dict(), indent=2) + '\n')
        return path


_RESERVED = frozenset(
    {
        'format',
        'version',
        'bands',
        'mean',
        'std',
        'percentiles',
        'pixels',
        'sampled_pixels',
    }
)


def load_band_stats(path: str | Path, bands: Sequence[str] | None = None) -> BandStats:
    """Read statistics written by :meth:`BandStats.write`.

    Args:
        path: the JSON file.
        bands: keep only these bands, in this order (default: all).

    Returns:
        The statistics.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a band statistics file or lacks a band.
    """
    path = Path(path)
    if not path.exists():
        raise BVMNotFoundError(
            f'band statistics file not found: {path} (compute it with '
            '`torchgeo-bvm stats --bands ...`)'
        )
    if not path.is_file():
        raise BVMValueError(f'{path}: is a folder, expected a band statistics file')
    data = read_json(path)
    if not isinstance(data, dict) or data.get('format') != STATS_FORMAT:
        raise BVMValueError(
            f'{path}: not a band statistics file (no "format": "{STATS_FORMAT}")'
        )
    try:
        stats = BandStats(
            bands=tuple(str(b) for b in data['bands']),
            mean=tuple(float(v) for v in data['mean']),
            std=tuple(float(v) for v in data['std']),
            percentiles={
                float(q): tuple(float(v) for v in values)
                for q, values in data['percentiles'].items()
            },
            pixels=int(data['pixels']),
            sampled=int(data['sampled_pixels']),
            metadata={k: v for k, v in data.items() if k not in _RESERVED},
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise BVMValueError(
            f'{path}: malformed band statistics: missing or bad {error}'
        ) from None
    except ValueError as error:
        raise BVMValueError(f'{path}: {error}') from None
    return stats if bands is None else stats.select(bands)


class _Accumulator:
    """Exact streaming mean/variance and a uniform reservoir sample."""

    def __init__(
        self, channels: int, sample_size: int, rng: np.random.Generator
    ) -> None:
        self.count = 0
        self.mean = np.zeros(channels)
        self.m2 = np.zeros(channels)
        self.sample_size = sample_size
        self.rng = rng
        self.keys = np.empty(0)
        self.sample = np.empty((0, channels), dtype=np.float32)

    def add(self, pixels: NDArray[np.float32]) -> None:
        """Add pixels, shape [N, C]."""
        n = pixels.shape[0]
        if n == 0:
            return
        chunk = pixels.astype(np.float64)
        mean = chunk.mean(axis=0)
        m2 = ((chunk - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta**2 * self.count * n / total
        self.count = total
        keys = np.concatenate([self.keys, self.rng.random(n)])
        sample = np.concatenate([self.sample, pixels.astype(np.float32)])
        if keys.size > self.sample_size:
            keep = np.argpartition(keys, self.sample_size - 1)[: self.sample_size]
            keys, sample = keys[keep], sample[keep]
        self.keys, self.sample = keys, sample


def _sheet_window(
    grid: Grid, polygon: BaseGeometry, footprint: BaseGeometry
) -> tuple[int, int, int, int] | None:
    area = polygon.intersection(footprint)
    if area.is_empty or area.area == 0:
        return None
    xmin, ymin, xmax, ymax = area.bounds
    c0, c1 = int(grid.column(xmin)), int(grid.column(xmax))
    r0, r1 = int(grid.row(ymax)), int(grid.row(ymin))
    return c0, r0, c1 - c0 + 1, r1 - r0 + 1


def compute_band_stats(
    image: GeoDataset,
    scheme: SplitScheme | None = None,
    split: str = 'train',
    numbers: Iterable[int | str] | None = None,
    flanders: BaseGeometry | None = None,
    percentiles: Sequence[float] = (1.0, 99.0),
    sample_size: int = 1_000_000,
    seed: int = 0,
    progress: bool = True,
) -> BandStats:
    """Per-band statistics over the usable pixels of one split's sheets.

    Every date of the imagery that overlaps a sheet of ``split`` is read over that
    sheet (one read per sheet and date). A pixel counts when its centre lies inside
    the sheet and inside ``flanders`` and the imagery marks it ``valid`` (data
    present and cloud-free by the dataset's SCL rule).

    Args:
        image: the imagery, e.g. a
            :class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` with the bands to
            describe (samples must hold ``image`` and ``valid``).
        scheme: the split scheme (default: the paper's).
        split: the split to describe (the training split).
        numbers: ``kbl`` sheet numbers (default: all 43).
        flanders: the Flanders region in EPSG:31370 (default: no restriction).
        percentiles: percentiles to compute, 0-100.
        sample_size: most pixels kept for the percentiles.
        seed: seed of the percentile sample.
        progress: show a progress bar.

    Returns:
        The statistics, with the split, sheets and number of reads in ``metadata``.

    Raises:
        ValueError: if a percentile is outside 0-100, no imagery overlaps the split,
            or no usable pixel is found.
    """
    bad = [q for q in percentiles if not 0 <= q <= 100]
    if bad:
        raise BVMValueError(f'percentiles must lie in 0..100, got {bad}')
    scheme = scheme or SplitScheme()
    numbers = None if numbers is None else list(numbers)
    layout = SheetLayout(scheme, image.crs, numbers, splits=[split])
    grid = imagery_grid(image)
    mask_flanders = (
        None if flanders is None else FlandersMask.from_lambert72(flanders, image.crs)
    )
    bands = tuple(getattr(image, 'bands', ()) or ())
    reads = _plan_reads(image, layout, grid)
    if not reads:
        codes = ', '.join(s.code for s in layout.sheets)
        raise BVMValueError(
            f'no imagery overlaps the {split!r} sheets ({codes or "none"}): cannot '
            'compute band statistics'
        )
    # Each sheet is read whole on each date: a fine res would not fit in memory.
    widest = max(width * height for _, (_, _, width, height), _ in reads)
    check_bytes(
        4.0 * widest * (len(bands) + 2),
        MAX_READ_BYTES,
        f'reading a sheet of {widest:,} pixels at res {tuple(image.res)} at once',
        'give a coarser res (the band statistics of 10 m imagery need no finer)',
    )
    accumulator: _Accumulator | None = None
    rng = np.random.default_rng(seed)
    for sheet, window, interval in tqdm(
        reads, desc='band statistics', disable=not progress
    ):
        column, row, width, height = window
        x, y = grid.window(column, row, width, height)
        sample = image[x, y, slice(interval.left, interval.right)]
        data = sample['image'].numpy()
        usable = sample['valid'].numpy().astype(bool)
        transform = grid.window_transform(column, row)
        usable &= layout.inside(sheet, transform, (height, width))
        if mask_flanders is not None:
            usable &= mask_flanders(transform, (height, width))
        if accumulator is None:
            accumulator = _Accumulator(data.shape[0], sample_size, rng)
        accumulator.add(data[:, usable].T)
    if accumulator is None or accumulator.count == 0:
        raise BVMValueError(
            f'no usable pixel in the {split!r} sheets: every pixel is cloudy or '
            'without data by the SCL rule, or outside Flanders'
        )
    names = bands or tuple(f'band{i + 1}' for i in range(accumulator.mean.size))
    values = np.percentile(accumulator.sample, list(percentiles), axis=0)
    return BandStats(
        bands=names,
        mean=tuple(float(v) for v in accumulator.mean),
        std=tuple(float(v) for v in np.sqrt(accumulator.m2 / accumulator.count)),
        percentiles={
            float(q): tuple(float(v) for v in row)
            for q, row in zip(percentiles, values, strict=True)
        },
        pixels=accumulator.count,
        sampled=int(accumulator.sample.shape[0]),
        metadata={
            'split': split,
            'sheets': [s.code for s in layout.sheets],
            'reads': len(reads),
            'crs': image.crs.to_string(),
            'res': list(map(float, image.res)),
            'cloud_rule': repr(getattr(image, 'cloud_rule', None)),
            'pixels_are': 'usable pixels: inside the split sheets and Flanders, '
            'with data and cloud-free by the SCL rule',
        },
    )


def _plan_reads(
    image: GeoDataset, layout: SheetLayout, grid: Grid
) -> list[tuple[int, tuple[int, int, int, int], pd.Interval]]:
    reads = []
    index = image.index
    for sheet, polygon in enumerate(layout.polygons):
        hits = index[index.geometry.intersects(polygon)]
        for interval in hits.index.unique().sort_values():
            footprints = hits.loc[hits.index == interval].geometry.union_all()
            window = _sheet_window(grid, polygon, footprints)
            if window is not None:
                reads.append((sheet, window, interval))
    return reads
