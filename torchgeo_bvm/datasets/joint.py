"""Imagery joined with BVM labels, one map sheet per sample.

:class:`BVMSentinel2` is what a training run reads: the intersection of an
imagery dataset (any :class:`~torchgeo_bvm.datasets.imagery.ImageryDataset`,
such as :class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` with its SCL
``valid`` mask, or any ``GeoDataset`` returning ``image``) and a BVM label dataset
(:class:`~torchgeo_bvm.datasets.bvm.BVMDataset` polygons or
:class:`~torchgeo_bvm.datasets.bvm.BVMRaster` label GeoTIFFs), with the map-sheet
logic of the paper (sections 2.2-2.3): every sample belongs to one sheet, and what
a window shows beyond that sheet is the sheet's own pixels mirrored, never the
real pixels of a neighbouring sheet, which may belong to another split.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from torch import Tensor
from torchgeo.datasets import GeoDataset, IntersectionDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..classes import IGNORE_INDEX
from ..errors import BVMValueError
from ..plot import plot_labelled, sample_date
from ..sheets.boundary import FlandersMask
from ..sheets.layout import SheetLayout, mirror_sources_from_extent
from ..sheets.plan import TileQuery
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import row_extent, runs_to_mask
from ._fastpath import CachedBounds
from .imagery import imagery_grid
from .series import check_min_clear

__all__ = ['SERIES_KEYS', 'BVMSentinel2', 'Redraw', 'merge_joint_samples']

#: What a time-series sample of the imagery adds that a joint sample keeps.
SERIES_KEYS = ('dates', 'length')


def _gather(values: Tensor, flat: NDArray[np.intp], shape: tuple[int, int]) -> Tensor:
    """``values[..., pixels]`` for flat pixel positions, reshaped to ``shape``."""
    lead = values.shape[:-2]
    # numpy's take along the last axis of a 2-D array: for 12 x 11 x 256 x 256
    # several times faster than torch's index_select (same values, same order).
    pixels = values.numpy().reshape(-1, values.shape[-2] * values.shape[-1])
    return torch.from_numpy(pixels[:, flat]).reshape(*lead, *shape)


def _mirror_sources(
    layout: SheetLayout, grid: Grid, sheet: int, window: tuple[int, int, int, int]
) -> tuple[tuple[int, int, int, int], NDArray[np.intp], NDArray[np.bool_]]:
    """Where each pixel of a window mirrored at a sheet's edge comes from.

    Returns the window to read (column, row, width, height: the bounding box
    of the sources), each pixel's flat position in it, and which pixels of the
    window lie inside the sheet.
    """
    column, row, width, height = window
    # The reflection of a window whose centre lies in the sheet never reaches
    # further into the sheet than the window's size, so a margin of that size
    # holds every source pixel; only their bounding box is read.
    margin = max(width, height)
    left, top = column - margin, row - margin
    region = (height + 2 * margin, width + 2 * margin)
    runs = layout.row_runs(sheet, grid.window_transform(left, top), region)
    first, last, covered = row_extent(*runs, region)
    rows, columns = mirror_sources_from_extent(
        first, last, covered, margin, margin, height, width
    )
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    c0, c1 = int(columns.min()), int(columns.max()) + 1
    # One gather of flat pixel positions: ``image[:, rows, columns]`` with
    # broadcast index tensors goes through torch's general advanced indexing,
    # about ten times slower for 11 x 256 x 256 (same values, same order).
    flat = ((rows - r0)[:, None] * (c1 - c0) + columns - c0).ravel()
    run_rows, starts, stops = runs
    inside = runs_to_mask(
        run_rows - margin, starts - margin, stops - margin, (height, width)
    )
    return (left + c0, top + r0, c1 - c0, r1 - r0), flat, inside


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


class Redraw(Protocol):
    """Replaces a training crop that is not clear enough: the sampler's side.

    :class:`BVMSentinel2` says when a crop is not clear enough (it has no
    labelled pixel) and asks its ``redraw`` for another query, up to
    ``max_redraws`` times; how the replacement is drawn (where, on which date
    or year, from which seed) is the sampler's business:
    :class:`~torchgeo_bvm.samplers.sheet.CropRedraw` draws it as the training
    samplers draw their crops.
    """

    def __call__(
        self, query: tuple[slice, slice, slice], attempt: int
    ) -> tuple[slice, slice, slice] | None:
        """The query to read instead of ``query`` at an attempt.

        Args:
            query: the query the sampler yielded (x, y and time slices).
            attempt: 1 for the first redraw, 2 for the next, ...

        Returns:
            The replacement query, or None to let this attempt pass.
        """


class BVMSentinel2(CachedBounds, IntersectionDataset):
    """Imagery with BVM land-cover labels, per map sheet.

    The imagery is any imagery dataset (the paper's: Sentinel-2 Level-2A from
    Terrascope, :class:`~torchgeo_bvm.datasets.Sentinel2TOC`); the labels are
    the Biological Valuation Map of Flanders (Biologische Waarderingskaart,
    INBO) mapped to the 14 classes of Li et al. (:mod:`torchgeo_bvm.classes`).
    Both are joined in the imagery's CRS (EPSG:4326 by default in
    :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`, as in the paper)
    on its pixel grid (:func:`~torchgeo_bvm.datasets.imagery.imagery_grid`):
    windows are snapped to it, so data already on that grid is never resampled.

    A sample is a dictionary with

    * ``image``: float32 ``[C, H, W]``, the imagery's bands (digital numbers);
    * ``mask``: int64 ``[H, W]``, class ids 0..13, and
      :data:`~torchgeo_bvm.classes.IGNORE_INDEX` where the pixel is cloudy or
      without data by the imagery's ``valid`` (Sentinel-2: the SCL rule), outside
      Flanders, unlabelled, or mirrored;
    * ``bounds`` (9 values) and ``transform`` (9 values) of the window, as in TorchGeo.

    **Time series.** When the imagery returns a series (``time_series=True``),
    ``image`` is ``[T, C, H, W]``, the sample also holds the imagery's ``dates``
    (and ``length`` for padded date stacks), and ``mask`` stays ``[H, W]``: a
    pixel keeps its label when it is valid on at least ``min_clear`` of the
    steps (a pixel cloudy on every step gets ``IGNORE_INDEX``). Mirroring
    gathers the same source pixel at every step. A query's time slice is then
    the sample's period, e.g. a calendar year
    (:func:`~torchgeo_bvm.datasets.series.calendar_year`).

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
    labelled pixel is replaced by the query that :attr:`redraw` (a
    :class:`Redraw`, from the samplers) gives, up to ``max_redraws`` times; then
    a :class:`RuntimeError` says that the split seems to hold no valid pixel.
    Evaluation datasets keep ``max_redraws=0`` so tiles stay where they are.

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
        max_redraws: how often a window without labelled pixels is redrawn
            (by :attr:`redraw`, which the training samplers provide).
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
        #: Draws the replacement of a crop without a labelled pixel (see
        #: :class:`Redraw`); set it with the samplers, before reading.
        self.redraw: Redraw | None = None
        self.min_clear = check_min_clear(min_clear)
        self.grid = imagery_grid(image)
        self.layout = SheetLayout(self.scheme, self.crs, self.numbers)
        self.flanders_mask = (
            None
            if flanders is None
            else FlandersMask.from_lambert72(flanders, self.crs)
        )
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
            BVMValueError: if a crop must be redrawn and :attr:`redraw` is None.
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
            if attempt == self.max_redraws or self.redraw is None:
                split = self._split_of_window(column, row, width, height)
                raise self._redraw_error(split, attempt)
            attempt += 1
            redrawn = self.redraw((x, y, t), attempt)
            if redrawn is None:
                continue
            column, row, _, _ = self.grid.locate(redrawn[0], redrawn[1])
            time = slice(redrawn[2].start, redrawn[2].stop)
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
            read, flat, inside = _mirror_sources(
                self.layout, grid, sheet, (column, row, width, height)
            )
            image, valid, steps = self._read_image(*grid.window(*read), time)
            image, valid = _gather(image, flat, shape), _gather(valid, flat, shape)
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

    # ---------------------------------------------------------------- redrawing

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

    def _redraw_error(self, split: str | None, attempt: int) -> Exception:
        if attempt < self.max_redraws:
            return BVMValueError(
                f'split {split!r}: a crop without any labelled pixel is to be '
                f'redrawn (max_redraws={self.max_redraws}) but the dataset has no '
                'redraw: set dataset.redraw = CropRedraw(spatial sampler, temporal '
                'sampler, seed) (torchgeo_bvm.samplers.sheet), or max_redraws=0 to '
                'keep such crops'
            )
        sheets = self.layout.of_split(split) if split is not None else []
        codes = ', '.join(self.layout.sheets[i].code for i in sheets) or 'none'
        return RuntimeError(
            f'split {split!r} (sheets {codes}): {self.max_redraws + 1} random crops '
            'in a row had no valid pixel: every pixel was cloudy or without data by '
            "the imagery's validity rule (Sentinel-2: SCL), unlabelled, or outside "
            'Flanders. Check the cloud rule, the chosen years/months and that the '
            'labels cover these sheets'
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

        The figure of :func:`~torchgeo_bvm.plot.plot_labelled`: the imagery's
        ``rgb_bands`` (else ``false_colour_bands``) stretched over the labelled
        pixels and titled with the date, or each step of a time series (also
        ``[T * C, H, W]``, as ``stack='channels'`` batches it), then the class
        maps with a legend that says what white (ignored) means.

        Args:
            sample: a sample, optionally with ``prediction`` ([H, W] class ids).
            show_titles: whether to title the panels.
            suptitle: a title for the figure.

        Returns:
            The figure.
        """
        panels = [('labels', sample['mask'].detach().cpu().numpy())]
        if 'prediction' in sample:
            panels.append(('prediction', sample['prediction'].detach().cpu().numpy()))
        imagery = self.datasets[0]
        colours = (
            tuple(getattr(imagery, 'rgb_bands', ()) or ()),
            tuple(getattr(imagery, 'false_colour_bands', ()) or ()),
        )
        dates = sample.get('dates')
        return plot_labelled(
            sample['image'].detach().cpu().numpy(),
            self.bands,
            panels,
            colours,
            sample_date(sample['bounds']) if 'bounds' in sample else None,
            None if dates is None else dates.tolist(),
            show_titles,
            suptitle,
        )
