"""Sentinel-2 imagery joined with BVM labels, one map sheet per sample.

:class:`BVMSentinel2` is what a training run reads: the intersection of a
:class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` (imagery, with the SCL
``valid`` mask) and a BVM label dataset
(:class:`~torchgeo_bvm.datasets.bvm.BVMDataset` polygons or
:class:`~torchgeo_bvm.datasets.bvm.BVMRaster` label GeoTIFFs), with the map-sheet
logic of the paper (sections 2.2-2.3): every sample belongs to one sheet, and what
a window shows beyond that sheet is the sheet's own pixels mirrored, never the
real pixels of a neighbouring sheet, which may belong to another split.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import rasterio
import torch
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from torch import Tensor
from torchgeo.datasets import GeoDataset, IntersectionDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..classes import IGNORE_INDEX
from ..errors import BVMValueError
from ..plot import (
    IGNORED_LABEL,
    class_legend,
    display_bands,
    sample_date,
    show_classes,
    stretch,
)
from ..sheets.boundary import FlandersMask
from ..sheets.layout import (
    SheetLayout,
    SplitRegion,
    crop_domain,
    mirror_sources_from_extent,
)
from ..sheets.plan import TileQuery
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import Grid, location_seed
from ..spatial.scanline import row_extent, runs_to_mask
from ._fastpath import CachedBounds
from .bands import FALSE_COLOUR_BANDS, TRUE_COLOUR_BANDS
from .sentinel2 import Sentinel2TOC
from .series import calendar_year, check_min_clear

__all__ = ['SERIES_KEYS', 'BVMSentinel2', 'imagery_grid', 'merge_joint_samples']

#: What a time-series sample of the imagery adds that a joint sample keeps.
SERIES_KEYS = ('dates', 'length')


def _gather(values: Tensor, flat: NDArray[np.intp], shape: tuple[int, int]) -> Tensor:
    """``values[..., pixels]`` for flat pixel positions, reshaped to ``shape``."""
    lead = values.shape[:-2]
    # numpy's take along the last axis of a 2-D array: for 12 x 11 x 256 x 256
    # several times faster than torch's index_select (same values, same order).
    pixels = values.numpy().reshape(-1, values.shape[-2] * values.shape[-1])
    return torch.from_numpy(pixels[:, flat]).reshape(*lead, *shape)


def merge_joint_samples(samples: Sequence[Sample]) -> Sample:
    """Join an imagery sample and a label sample without concatenating keys.

    TorchGeo's default ``concat_samples`` concatenates every key, so two ``mask``
    keys would become one tensor of twice the height and ``bounds`` would have 18
    values. Here the imagery sample provides ``image``, ``bounds`` and
    ``transform``, the label sample provides ``mask``; a key present in both is
    taken from the first sample (the imagery).

    Args:
        samples: the imagery sample, then the label sample.

    Returns:
        One sample.
    """
    merged: Sample = {}
    for sample in samples:
        for key, value in sample.items():
            merged.setdefault(key, value)
    return merged


def imagery_grid(image: GeoDataset) -> Grid:
    """The imagery's pixel grid, preferring the grid of its first file.

    When the first file is in the dataset's CRS at the dataset's resolution,
    windows snap to that file's own grid, so reads from files sharing it are plain
    window reads; otherwise (imagery warped on the fly) the grid is anchored at the
    imagery's bounds, as TorchGeo's samplers do.

    Args:
        image: the imagery dataset.

    Returns:
        The grid.
    """
    xres, yres = map(float, image.res)
    xmin, _, _, ymax = map(float, image.index.total_bounds)
    first = str(image.index['filepath'].iloc[0])
    if isinstance(image, Sentinel2TOC):
        first = image.reference_path(first)
    try:
        with rasterio.open(first) as src:
            same_crs = src.crs is not None and CRS.from_user_input(src.crs) == image.crs
            same_res = np.allclose(src.res, (xres, yres), rtol=1e-9, atol=0)
            if same_crs and same_res:
                return Grid.lattice(
                    src.transform.c, src.transform.f, xres, yres, image.crs
                )
    except (rasterio.errors.RasterioError, OSError):
        pass
    return Grid.lattice(xmin, ymax, xres, yres, image.crs)


class BVMSentinel2(CachedBounds, IntersectionDataset):
    """Sentinel-2 TOC imagery with BVM land-cover labels, per map sheet.

    The imagery is Copernicus Sentinel-2 Level-2A top-of-canopy reflectance from
    Terrascope (VITO); the labels are the Biological Valuation Map of Flanders
    (Biologische Waarderingskaart, INBO) mapped to the 14 classes of Li et al.
    (see :mod:`torchgeo_bvm.classes`). Both are joined in the imagery dataset's CRS
    (EPSG:4326 by default in :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`,
    as in the paper) on the imagery's pixel grid: windows are snapped to it, so data
    already on that grid is never resampled.

    A sample is a dictionary with

    * ``image``: float32 ``[C, H, W]``, the imagery's bands (digital numbers);
    * ``mask``: int64 ``[H, W]``, class ids 0..13, and
      :data:`~torchgeo_bvm.classes.IGNORE_INDEX` where the pixel is cloudy or
      without data by the SCL rule, outside Flanders, unlabelled, or mirrored;
    * ``bounds`` (9 values) and ``transform`` (9 values) of the window, as in TorchGeo.

    **Time series.** When the imagery returns a series
    (:class:`~torchgeo_bvm.datasets.Sentinel2TOC` with ``time_series=True``),
    ``image`` is ``[T, C, H, W]``, the sample also holds the imagery's ``dates``
    (and ``length`` for padded date stacks), and ``mask`` stays ``[H, W]``: a
    pixel keeps its label when it is valid on at least ``min_clear`` of the
    steps (a pixel cloudy on every step gets ``IGNORE_INDEX``). Mirroring
    gathers the same source pixel at every step. A query's time slice is then
    the sample's period, e.g. a calendar year
    (:func:`~torchgeo_bvm.datasets.series.calendar_year`); a redrawn training
    crop gets a random calendar year among those with imagery at its centre.

    **Sheets and mirroring.** The sheet of a window is the sheet of the split
    scheme (restricted to ``split`` when given) that contains the window's centre
    pixel, else the one overlapping it most
    (:meth:`~torchgeo_bvm.sheets.layout.SheetLayout.find`). Pixels of the window outside
    that sheet take the value of the sheet pixel reflected across the sheet's edge
    (:func:`~torchgeo_bvm.sheets.layout.mirror_sources_from_extent`, ``numpy.pad``
    'reflect' semantics) and are labelled ``IGNORE_INDEX``; the read is
    clipped to what the reflection needs, so no pixel of a neighbouring sheet
    reaches the sample. Inside the sheet, pixels outside Flanders keep their real
    imagery and are labelled ``IGNORE_INDEX``. A window outside every sheet of
    the layout is returned unmirrored with every pixel labelled ``IGNORE_INDEX``.

    **Prediction.** :meth:`for_prediction` gives a copy whose samples are the
    window as it is (real pixels past the sheet's edge, no labels) with
    ``valid``, the clear pixels, for fused prediction maps.

    **Invalid crops.** With ``max_redraws > 0`` (training), a window without any
    labelled pixel is replaced by a new random window of the same split and a new
    random date, drawn deterministically from the query, up to ``max_redraws``
    times; then a :class:`RuntimeError` says that the split seems to hold no valid
    pixel. Evaluation datasets keep ``max_redraws=0`` so tiles stay where they are.

    Citation: Li, Grujicic, De Saeger, Heremans, Somers and Blaschko, "Biological
    valuation map of Flanders: a Sentinel-2 imagery analysis", IGARSS 2024; De
    Saeger et al., *Biologische Waarderingskaart en Natura 2000 Habitatkaart,
    uitgave 2023*, INBO report 31 (2023), doi:10.21436/inbor.96375305.

    Args:
        image: the imagery, returning ``image`` and ``valid``; its CRS and
            resolution are those of the joint dataset.
        labels: the labels, returning ``mask``; reprojected to the imagery's CRS
            and resolution by TorchGeo's intersection.
        scheme: the split scheme (default: the paper's).
        numbers: ``kbl`` sheet numbers in use (default: all 43).
        split: the split this dataset serves (None: any split).
        flanders: the Flanders region in EPSG:31370 (None: no restriction
            beyond where labels exist).
        max_redraws: how often a window without labelled pixels is redrawn.
        seed: seed of the redraws.
        transforms: a function applied to each sample.
        min_clear: with imagery time series, on how many steps a pixel must be
            valid to keep its label.

    Raises:
        ValueError: if imagery and labels do not overlap, or ``min_clear`` is
            not a positive whole number.
    """

    def __init__(
        self,
        image: GeoDataset,
        labels: GeoDataset,
        *,
        scheme: SplitScheme | None = None,
        numbers: Sequence[int | str] | None = None,
        split: str | None = None,
        flanders: BaseGeometry | None = None,
        max_redraws: int = 0,
        seed: int = 0,
        transforms: Callable[[Sample], Sample] | None = None,
        min_clear: int = 1,
    ) -> None:
        try:
            super().__init__(
                image,
                labels,
                spatial_only=True,
                collate_fn=merge_joint_samples,
                transforms=transforms,
            )
        except RuntimeError as error:
            raise BVMValueError(
                'imagery and labels do not overlap: the imagery covers '
                f'{tuple(np.round(image.index.total_bounds, 6))} and the labels '
                f'{tuple(np.round(labels.index.total_bounds, 6))} (xmin, ymin, xmax, '
                f'ymax in {image.crs.to_string()}); check the paths and the sheets'
            ) from error
        self.scheme = scheme or SplitScheme()
        self.numbers = None if numbers is None else list(numbers)
        if split is not None and split not in self.scheme.splits:
            raise BVMValueError(
                f'unknown split {split!r}: the scheme has {self.scheme.splits}'
            )
        self.split = split
        self.max_redraws = int(max_redraws)
        self.seed = int(seed)
        self.min_clear = check_min_clear(min_clear)
        self.grid = imagery_grid(image)
        self.layout = SheetLayout(self.scheme, self.crs, self.numbers)
        self.flanders_mask = (
            None
            if flanders is None
            else FlandersMask.from_lambert72(flanders, self.crs)
        )
        self._regions: dict[str, SplitRegion] = {}
        #: Whether windows are read as they are, with ``valid`` and no labels
        #: (:meth:`for_prediction`).
        self.predicting = False

    @property
    def flanders_region(self) -> BaseGeometry | None:
        """The Flanders region in the dataset's CRS, or None.

        Returns:
            The region.
        """
        return None if self.flanders_mask is None else self.flanders_mask.region

    def for_split(
        self, split: str | None, max_redraws: int | None = None
    ) -> BVMSentinel2:
        """A shallow copy serving one split (sharing files, index and caches).

        Args:
            split: the split.
            max_redraws: redraws of label-less windows (default: unchanged).

        Returns:
            The copy.

        Raises:
            ValueError: for an unknown split.
        """
        if split is not None and split not in self.scheme.splits:
            raise BVMValueError(
                f'unknown split {split!r}: the scheme has {self.scheme.splits}'
            )
        other = copy.copy(self)
        other.split = split
        if max_redraws is not None:
            other.max_redraws = int(max_redraws)
        return other

    def for_prediction(self) -> BVMSentinel2:
        """A shallow copy that reads windows as they are, for prediction maps.

        Its samples are ``image``, ``valid`` (bool ``[H, W]``: the pixel has
        data and is clear by the imagery's cloud rule, the definition of a
        *clear observation* that training uses to keep a label; a time series
        ``[T, H, W]``, its clear steps where the pixel is clear on at least
        ``min_clear`` of them, else none), ``bounds`` and ``transform``, and for
        a :class:`~torchgeo_bvm.sheets.plan.TileQuery` its ``sheet``,
        ``observation`` and ``tile`` ids; no labels are read and nothing is
        mirrored: without labels a neighbouring sheet cannot leak into a split,
        and its real pixels give the tiles at a sheet's edge their true context.

        Returns:
            The copy.
        """
        other = self.for_split(None, max_redraws=0)
        other.predicting = True
        return other

    # ------------------------------------------------------------------ reading

    def __getitem__(self, query: GeoSlice) -> Sample:
        """Read the sample of a window and date.

        Args:
            query: ``[xmin:xmax, ymin:ymax, tmin:tmax]``; x and y are snapped to the
                imagery's pixel grid.

        Returns:
            The sample (see the class docstring).

        Raises:
            IndexError: if no imagery covers the query.
            RuntimeError: if ``max_redraws`` redraws all lack a labelled pixel.
        """
        x, y, t = self._disambiguate_slice(query)
        column, row, width, height = self.grid.locate(x, y)
        time = slice(t.start, t.stop)
        if self.predicting:
            sample = self._read_plain(column, row, width, height, time)
            if isinstance(query, TileQuery):
                sample.update({k: torch.tensor(v) for k, v in query.ids.items()})
            return sample
        sample = self._read_window(column, row, width, height, time)
        attempt = 0
        while self.max_redraws and not bool((sample['mask'] != IGNORE_INDEX).any()):
            if attempt == self.max_redraws:
                raise RuntimeError(self._no_valid_message(column, row, width, height))
            attempt += 1
            redrawn = self._redraw(x, y, attempt, width, height, column, row)
            if redrawn is None:
                continue
            column, row, time = redrawn
            sample = self._read_window(column, row, width, height, time)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _read_window(
        self, column: int, row: int, width: int, height: int, time: slice
    ) -> Sample:
        grid = self.grid
        x, y = grid.window(column, row, width, height)
        cx, cy = grid.centre(column + width // 2, row + height // 2)
        sheet = self.layout.find(
            (x.start, y.start, x.stop, y.stop), (float(cx), float(cy)), self.split
        )
        shape = (height, width)
        if sheet is None:
            image, valid, steps = self._read_image(x, y, time)
            inside: NDArray[np.bool_] = np.zeros(shape, dtype=bool)
        elif self.layout.contains_window(sheet, grid, column, row, width, height):
            image, valid, steps = self._read_image(x, y, time)
            inside = np.ones(shape, dtype=bool)
        else:
            image, valid, inside, steps = self._read_mirrored(
                sheet, column, row, width, height, time
            )
        label = self._read_labels(x, y, shape)
        keep = inside & self._clear_enough(valid)
        if self.flanders_mask is not None:
            keep &= self.flanders_mask(grid.window_transform(column, row), shape)
        # The label tensor is this sample's own: masking it in place saves a copy.
        label.numpy()[~keep] = IGNORE_INDEX
        return {
            'image': image.float(),
            'mask': label,
            **steps,
            'bounds': self._slice_to_tensor((x, y, self._full_time(time))),
            'transform': torch.tensor(tuple(grid.window_transform(column, row)))[:9],
        }

    def _clear_enough(self, valid: Tensor) -> NDArray[np.bool_]:
        """Pixels that may keep their label (series: valid on ``min_clear`` steps)."""
        if valid.ndim == 2:
            return valid.numpy().astype(bool, copy=False)
        clear: NDArray[np.bool_] = valid.sum(dim=0).numpy() >= self.min_clear
        return clear

    def _read_plain(
        self, column: int, row: int, width: int, height: int, time: slice
    ) -> Sample:
        x, y = self.grid.window(column, row, width, height)
        image, valid, steps = self._read_image(x, y, time)
        clear = torch.from_numpy(self._clear_enough(valid))
        sample: Sample = {
            'image': image.float(),
            # A series is one observation, clear where its labels would be; its
            # steps stay, so that a map counts the clear dates it rests on.
            'valid': clear if valid.ndim == 2 else valid & clear,
            **steps,
            'bounds': self._slice_to_tensor((x, y, self._full_time(time))),
            'transform': torch.tensor(tuple(self.grid.window_transform(column, row)))[
                :9
            ],
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _full_time(self, time: slice) -> slice:
        _, _, bounds = self.bounds
        start = bounds.start if time.start is None else time.start
        stop = bounds.stop if time.stop is None else time.stop
        return slice(pd.Timestamp(start), pd.Timestamp(stop), 1)

    def _read_image(
        self, x: slice, y: slice, time: slice
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """The imagery's ``image``, ``valid`` and a series' ``dates``, ``length``."""
        sample = self.datasets[0][x, y, time]
        image = sample['image']
        valid = sample.get('valid')
        if valid is None:
            valid = torch.ones(image.shape[-2:], dtype=torch.bool)
        steps = {key: sample[key] for key in SERIES_KEYS if key in sample}
        return image, valid, steps

    def _read_labels(self, x: slice, y: slice, shape: tuple[int, int]) -> Tensor:
        try:
            mask = self.datasets[1][x, y]['mask']
        except IndexError:
            return torch.full(shape, IGNORE_INDEX, dtype=torch.long)
        return mask.to(torch.long).reshape(shape).contiguous()

    def _read_mirrored(
        self, sheet: int, column: int, row: int, width: int, height: int, time: slice
    ) -> tuple[Tensor, Tensor, NDArray[np.bool_], dict[str, Tensor]]:
        # The reflection of a window whose centre lies in the sheet never reaches
        # further into the sheet than the window's size, so a margin of that size
        # holds every source pixel; only their bounding box is read.
        margin = max(width, height)
        left, top = column - margin, row - margin
        region = (height + 2 * margin, width + 2 * margin)
        runs = self.layout.row_runs(
            sheet, self.grid.window_transform(left, top), region
        )
        first, last, covered = row_extent(*runs, region)
        rows, columns = mirror_sources_from_extent(
            first, last, covered, margin, margin, height, width
        )
        r0, r1 = int(rows.min()), int(rows.max()) + 1
        c0, c1 = int(columns.min()), int(columns.max()) + 1
        x, y = self.grid.window(left + c0, top + r0, c1 - c0, r1 - r0)
        image, valid, steps = self._read_image(x, y, time)
        # One gather of flat pixel positions: ``image[:, rows, columns]`` with
        # broadcast index tensors goes through torch's general advanced indexing,
        # about ten times slower for 11 x 256 x 256 (same values, same order).
        flat = ((rows - r0)[:, None] * (c1 - c0) + columns - c0).ravel()
        run_rows, starts, stops = runs
        window_inside = runs_to_mask(
            run_rows - margin, starts - margin, stops - margin, (height, width)
        )
        return (
            _gather(image, flat, (height, width)),
            _gather(valid, flat, (height, width)),
            window_inside,
            steps,
        )

    # ---------------------------------------------------------------- redrawing

    def _region(self, split: str) -> SplitRegion:
        if split not in self._regions:
            domain = crop_domain(self.index.geometry.union_all(), self.flanders_region)
            self._regions[split] = SplitRegion(self.layout, split, self.grid, domain)
        return self._regions[split]

    def _split_of_window(
        self, column: int, row: int, width: int, height: int
    ) -> str | None:
        if self.split is not None:
            return self.split
        x, y = self.grid.window(column, row, width, height)
        cx, cy = self.grid.centre(column + width // 2, row + height // 2)
        sheet = self.layout.find(
            (x.start, y.start, x.stop, y.stop), (float(cx), float(cy))
        )
        return None if sheet is None else self.layout.splits[sheet]

    def _redraw(
        self,
        x: slice,
        y: slice,
        attempt: int,
        width: int,
        height: int,
        column: int,
        row: int,
    ) -> tuple[int, int, slice] | None:
        split = self._split_of_window(column, row, width, height)
        if split is None:
            return None
        rng = np.random.default_rng(location_seed(self.seed + attempt, x, y))
        columns, rows = self._region(split).draw(rng, 1)
        new_column, new_row = int(columns[0]) - width // 2, int(rows[0]) - height // 2
        cx, cy = self.grid.centre(int(columns[0]), int(rows[0]))
        images = self.datasets[0].index
        dates = images.cx[float(cx) : float(cx), float(cy) : float(cy)].index.unique()
        if len(dates) == 0:
            return None
        if getattr(self.datasets[0], 'time_series', False):
            years = sorted({interval.left.year for interval in dates})
            period = calendar_year(years[int(rng.integers(len(years)))])
            return new_column, new_row, period
        interval = dates[int(rng.integers(len(dates)))]
        return new_column, new_row, slice(interval.left, interval.right)

    def _no_valid_message(self, column: int, row: int, width: int, height: int) -> str:
        split = self._split_of_window(column, row, width, height)
        codes = (
            ', '.join(self.layout.sheets[i].code for i in self.layout.of_split(split))
            if split is not None
            else 'none'
        )
        return (
            f'split {split!r} (sheets {codes}): {self.max_redraws + 1} random crops '
            'in a row had no valid pixel: every pixel was cloudy or without data by '
            'the SCL rule, unlabelled, or outside Flanders. Check the cloud rule, the '
            'chosen years/months and that the labels cover these sheets'
        )

    # ------------------------------------------------------------------ plotting

    @property
    def bands(self) -> tuple[str, ...]:
        """The imagery's band names.

        Returns:
            The band names.
        """
        return tuple(getattr(self.datasets[0], 'bands', ()) or ())

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot image (true or false colour), labels and, if present, the prediction.

        True colour (B04 B03 B02) when those bands are loaded, else false colour
        (B08 B04 B03), else the first three bands, stretched together between
        the 2nd and 98th percentile of the labelled pixels (clouds and missing
        data do not set the scale). Labels use the class colours, with a legend
        of the classes shown; ignored pixels are white and the legend says why.
        The image's title gives the acquisition date.

        A time series (``image`` ``[T, C, H, W]``, or ``[T * C, H, W]`` as
        ``stack='channels'`` batches it) is shown step by step, each step titled
        with its date, all stretched alike, then the labels.

        Args:
            sample: a sample, optionally with ``prediction`` ([H, W] class ids).
            show_titles: whether to title the panels.
            suptitle: a title for the figure.

        Returns:
            The figure.
        """
        import matplotlib.pyplot as plt

        image = sample['image'].detach().cpu().numpy()
        steps = _series_steps(image, len(self.bands))
        if steps is not None:
            return self._plot_series(sample, steps, show_titles, suptitle)
        mask = sample['mask'].detach().cpu().numpy()
        bands = list(self.bands) or [f'band {i + 1}' for i in range(image.shape[0])]
        names, title = display_bands(bands, TRUE_COLOUR_BANDS, FALSE_COLOUR_BANDS)
        picture = np.moveaxis(image[[bands.index(n) for n in names]], 0, -1)
        labelled = mask != IGNORE_INDEX
        shown = stretch(picture, picture[labelled] if labelled.any() else None)
        panels = [('mask', 'labels')]
        if 'prediction' in sample:
            panels.append(('prediction', 'prediction'))
        figure, axes = plt.subplots(
            1,
            1 + len(panels),
            figsize=(3.6 * (1 + len(panels)) + 3.4, 4),
            layout='constrained',
        )
        axes[0].imshow(shown, cmap='gray' if shown.ndim == 2 else None)
        date = sample_date(sample['bounds']) if 'bounds' in sample else None
        if show_titles:
            axes[0].set_title(f'{title}, {date}' if date else title, fontsize=9)
        present: set[int] = set()
        for axis, (key, name) in zip(axes[1:], panels, strict=True):
            classes = sample[key].detach().cpu().numpy()
            present |= set(np.unique(classes).tolist())
            show_classes(axis, classes)
            if show_titles:
                axis.set_title(name, fontsize=9)
        for axis in axes:
            axis.set_xticks([])
            axis.set_yticks([])
        handles = class_legend(present, ignored=IGNORED_LABEL)
        figure.legend(handles=handles, loc='outside right upper', fontsize=7)
        if suptitle is not None:
            figure.suptitle(suptitle)
        return figure

    def _plot_series(
        self,
        sample: Sample,
        steps: NDArray[np.float32],
        show_titles: bool,
        suptitle: str | None,
    ) -> Figure:
        import matplotlib.pyplot as plt

        bands = list(self.bands)
        names, title = display_bands(bands, TRUE_COLOUR_BANDS, FALSE_COLOUR_BANDS)
        picked = np.moveaxis(steps[:, [bands.index(n) for n in names]], 1, -1)
        count, height = picked.shape[:2]
        # One stretch for every step, so that the months compare.
        shown = stretch(picked.reshape(count * height, *picked.shape[2:]))
        shown = shown.reshape(count, height, *shown.shape[1:])
        dates = sample.get('dates')
        panels = [('mask', 'labels')]
        if 'prediction' in sample:
            panels.append(('prediction', 'prediction'))
        # The last row holds the labels, the prediction and the legend.
        columns = max(min(len(steps), 6), len(panels) + 1)
        rows = -(-len(steps) // columns) + 1
        figure, axes = plt.subplots(
            rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False
        )
        for step, axis in enumerate(axes[:-1].flat):
            if step >= len(steps):
                axis.set_axis_off()
                continue
            axis.imshow(shown[step], cmap='gray' if shown.ndim == 3 else None)
            if show_titles and dates is not None and int(dates[step]) >= 0:
                day = pd.Timestamp('1970-01-01') + int(dates[step]) * pd.Timedelta(
                    1, unit='D'
                )
                axis.set_title(f'{day:%Y-%m-%d}', fontsize=9)
            axis.set_axis_off()
        present: set[int] = set()
        for column, axis in enumerate(axes[-1]):
            axis.set_axis_off()
            if column >= len(panels):
                continue
            key, name = panels[column]
            classes = sample[key].detach().cpu().numpy()
            present |= set(np.unique(classes).tolist())
            show_classes(axis, classes)
            if show_titles:
                axis.set_title(name, fontsize=9)
        handles = class_legend(present, ignored=IGNORED_LABEL)
        axes[-1, len(panels)].legend(
            handles=handles, loc='upper left', fontsize=7, frameon=False
        )
        figure.suptitle(suptitle or f'{len(steps)} steps, {title}', fontsize=10)
        return figure


def _series_steps(image: NDArray[np.float32], bands: int) -> NDArray[np.float32] | None:
    """The steps ``[T, C, H, W]`` of a time-series image, or None for one date."""
    if image.ndim == 4:
        return image
    channels = image.shape[0]
    if bands and image.ndim == 3 and channels > bands and channels % bands == 0:
        return image.reshape(-1, bands, *image.shape[1:])
    return None
