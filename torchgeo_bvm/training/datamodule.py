"""The Lightning data module for Sentinel-2 x BVM training runs.

:class:`BVMDataModule` builds the joint dataset
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`) from paths, splits it by map
sheet with the paper's scheme (or any :class:`~torchgeo_bvm.sheets.scheme.SplitScheme`)
and feeds TorchGeo's trainers. Every argument is a plain YAML value, so it works as
``data.class_path: torchgeo_bvm.training.datamodule.BVMDataModule`` in a
``torchgeo fit --config`` file::

    data:
      class_path: torchgeo_bvm.training.datamodule.BVMDataModule
      init_args:
        sentinel2_paths: data/sentinel2
        bvm_paths: data/BwkHab.shp
        sheets: [22, 23]
        bands: rgnir
        patch_size: 256
        batch_size: 8
        length: 4000
        stats: data/band-stats.json
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import kornia.augmentation as K  # noqa: N812
import torch
from kornia.constants import DataKey, Resample
from lightning.pytorch.utilities import rank_zero_info
from matplotlib.figure import Figure
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import DatasetNotFoundError, GeoDataset
from torchgeo.samplers import TemporalSampler

from ..bvm.layer import FLANDERS_EXTENT
from ..checks import (
    MAX_BATCH_BYTES,
    MAX_LENGTH,
    MAX_PATCH_PIXELS,
    MAX_REDRAWS,
    MAX_WORKERS,
    check_bytes,
    check_count,
    check_crs,
    check_numbers,
    check_pixels,
    check_resolution,
    check_seed,
)
from ..datasets.bands import (
    PAPER_CLOUD_RULE,
    REFLECTANCE_SCALE,
    CloudRule,
    resolve_bands,
)
from ..datasets.bvm import BVMDataset, BVMRaster
from ..datasets.joint import BVMSentinel2
from ..datasets.sentinel2 import Sentinel2TOC
from ..datasets.series import (
    TemporalLayout,
    calendar_year,
    check_max_dates,
    check_min_clear,
    check_temporal,
)
from ..errors import BVMNotFoundError, BVMValueError, one_line_errors_under_torchgeo
from ..fileio import RASTER_SUFFIXES
from ..samplers.prediction import SheetObservationSampler
from ..samplers.sheet import CropRedraw, SheetGridSampler, SheetSampler
from ..samplers.temporal import CalendarYearSampler, CentreTimestampSampler
from ..sheets.boundary import flanders_from_labels, read_boundary
from ..sheets.codes import KBL_WIDTH, Sheet, kbl_numbers
from ..sheets.scheme import SplitScheme
from ..spatial.crs import FLANDERS_CENTRE, pixel_size_m, resolution_for
from .console import exit_in_one_line, quiet_lightning
from .normalization import load_band_stats

__all__ = ['MAX_BATCH_SIZE', 'BVMDataModule', 'TimeSeriesOptions', 'cloud_rule_from']

#: Samples per batch at most: more does not fit any accelerator at 256 pixels.
MAX_BATCH_SIZE = 4096


def cloud_rule_from(value: str | dict[str, Any] | None) -> CloudRule | None:
    """A cloud rule from a YAML-friendly value.

    Args:
        value: ``'default'`` (SCL classes 4-7 usable, clouds not dilated),
            ``'paper'`` (the paper's ~400 m dilation), ``'none'`` or None (SCL
            ignored), or a mapping of :class:`CloudRule` arguments such as
            ``{'valid': [4, 5, 6], 'dilation_m': 200}``.

    Returns:
        The rule, or None.

    Raises:
        ValueError: for an unknown name or bad arguments.
    """
    if value is None:
        return None
    if isinstance(value, str):
        named: dict[str, CloudRule | None] = {
            'default': CloudRule(),
            'paper': PAPER_CLOUD_RULE,
            'none': None,
        }
        if value.lower() not in named:
            raise BVMValueError(
                f'unknown cloud_rule {value!r}: expected one of {sorted(named)} or a '
                'mapping with the keys valid, dilate_classes, dilation_m'
            )
        return named[value.lower()]
    unknown = set(value) - {'valid', 'dilate_classes', 'dilation_m'}
    if unknown:
        raise BVMValueError(
            f'unknown cloud_rule keys {sorted(unknown)}: expected valid, '
            'dilate_classes, dilation_m'
        )
    arguments: dict[str, Any] = dict(value)
    for key in ('valid', 'dilate_classes'):
        if key in arguments:
            arguments[key] = tuple(arguments[key])
    return CloudRule(**arguments)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _as_numbers(value: object) -> object:
    """A single number as a list of one (``predict_years: 2020``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value


def _is_raster(paths: Sequence[str]) -> bool:
    for path in map(Path, paths):
        if path.is_dir():
            if any(p.suffix.lower() in RASTER_SUFFIXES for p in path.rglob('*')):
                return True
        elif path.suffix.lower() in RASTER_SUFFIXES:
            return True
    return False


class BVMDataModule(GeoDataModule):
    """Sentinel-2 TOC imagery and BVM labels, split by map sheet.

    * ``fit``: training crops from :class:`~torchgeo_bvm.samplers.SheetSampler`
      (``length`` per epoch, one random acquisition date each, crops without any
      labelled pixel redrawn up to ``max_redraws`` times), validation tiles from
      :class:`~torchgeo_bvm.samplers.SheetGridSampler`;
    * ``validate``/``test``: the tiles of the ``val``/``test`` sheets. Every
      evaluation tile gets one date, chosen by a seeded hash of its location
      (:class:`~torchgeo_bvm.samplers.temporal.CentreTimestampSampler`), so the numbers
      are the same in every epoch and run;
    * ``predict``: the tiles of any sheets (``predict_sheets``, default every
      sheet that holds data, of any split), overlapping by half, each on every
      acquisition date of the period (``predict_years``, ``predict_months``)
      that covers it (:class:`~torchgeo_bvm.samplers.SheetObservationSampler`),
      for :class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter` to fuse into
      one map per sheet. Prediction samples are read without mirroring or
      labels and carry ``valid``, where the pixel is *clear*: it has data and
      passes ``cloud_rule``, the rule that decides which pixels keep their
      label in training. Under ``--trainer.devices=N`` the ranks share out
      whole sheets.

    On the device, images are normalised with kornia ``Normalize`` using the band
    statistics file (:mod:`torchgeo_bvm.training.normalization`):
    ``(x - mean) / std``, or
    the paper's ``(x - p1) / (p99 - p1)`` with ``normalization='percentile'``
    (not clipped). Without a statistics file images are divided by 10000, giving
    reflectance. Training batches are also flipped and rotated by multiples of 90
    degrees, image and mask together (the mask with nearest resampling, so class
    ids and the ignore value survive exactly).

    **Time series** (``time_series='monthly'`` or ``'dates'``): every sample is
    the series of one period, a calendar year
    (:class:`~torchgeo_bvm.samplers.temporal.CalendarYearSampler`): for training a year
    drawn per crop among the years with imagery at its centre, for evaluation
    one year for every tile, ``eval_year`` or else the latest year of the
    imagery (printed at setup and kept in :attr:`eval_period`). ``image`` is
    ``[T, C, H, W]`` (``T`` = the requested months, or ``max_dates``), ``dates``
    ``[T]`` (days since 1970-01-01), ``length`` the real steps of a ``'dates'``
    sample, and ``mask`` ``[H, W]``: labelled where the pixel is clear on at
    least ``min_clear`` steps. Normalisation applies each band's statistics
    at every step; flips and rotations are the same for every step and the
    mask. Mirroring, Flanders masking and the evaluation tiles are those of
    single dates.

    Args:
        sentinel2_paths: folder(s) or file(s) of Sentinel-2 imagery
            (:class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` layouts).
        bvm_paths: BVM polygons (``BwkHab.shp``, GeoPackage, GeoParquet) or label
            GeoTIFFs (``torchgeo-bvm rasterize``), or folders of them.
        sheets: ``kbl`` sheet numbers (a list or ``'22,23'``; default all 43).
        split_scheme: sheet part or code -> split name (default: the paper's,
            ``{'1-2': 'train', '5-6': 'train', '3-4': 'val', '7-8': 'test'}``);
            it must name the splits ``train``, ``val`` and ``test``.
        years: only acquisition dates in these years.
        months: only acquisition dates in these months (1-12).
        bands: ``'rgb'``, ``'rgnir'``, ``'all'`` or a list of band names.
        patch_size: crop and tile size in pixels, a multiple of 32 (U-Net/VGG).
        batch_size: samples per batch.
        length: training crops per epoch (default: the train sheets' area in crops).
        num_workers: DataLoader workers.
        crs: the CRS imagery and labels are joined in (default EPSG:4326, as the paper).
        res: resolution in units of ``crs``, one number or ``[x, y]`` (default:
            10 m expressed in ``crs``,
            :func:`~torchgeo_bvm.spatial.crs.resolution_for`).
        boundary: a Flanders boundary file (``Refgew.shp`` or any vector file);
            default: the region covered by the BVM labels (cached).
        stats: band statistics JSON (``torchgeo-bvm stats --bands``).
        normalization: ``'meanstd'`` or ``'percentile'``.
        cloud_rule: see :func:`cloud_rule_from`.
        eval_stride: stride of evaluation tiles in pixels (default ``patch_size``:
            non-overlapping tiles, every pixel counted once).
        max_redraws: redraws of training crops without a labelled pixel.
        seed: seed of crops, dates and redraws.
        cache_dir: where what is derived from the inputs is cached: the Flanders
            boundary, the prepared BVM polygons and the imagery index (default
            :func:`~torchgeo_bvm.fileio.default_cache_dir`).
        bvm_options: extra keyword arguments for the BVM label dataset.
        time_series: None (one date per sample), or every sample a time series
            of its period: ``'monthly'`` (one step per requested month) or
            ``'dates'`` (the acquisitions, at most ``max_dates``); see
            :mod:`torchgeo_bvm.datasets.series`.
        max_dates: with ``'dates'``: the steps of every sample (required).
        min_clear: with a series: on how many steps a pixel must be clear (valid
            by the cloud rule) to keep its label.
        stack: with a series: ``'time'`` for ``(B, T, C, H, W)`` batches
            (:class:`torchgeo.tasks.SpatioTemporalSegmentation`) or
            ``'channels'`` for ``(B, T * C, H, W)`` (early fusion in
            ``SemanticSegmentation``: ``in_channels = T * C``).
        eval_year: with a series: the calendar year of every evaluation tile
            (default: the latest year of the imagery).
        predict_sheets: the sheets to predict: sheet codes (``'22/7-8'``),
            ``kbl`` numbers (``22``: its every sheet) or split names
            (``'test'``), a list or comma-separated, within ``sheets``; of
            those, the sheets that hold data are predicted, and a sheet named by
            its own code must hold some. Default: every sheet of every split
            that holds data.
        predict_years: the period to predict: a year or years (default: every
            date of the imagery, within ``years``; with ``time_series``, the
            evaluation year). A series model predicts each tile once per
            calendar year of the period.
        predict_months: only the dates of these months (1-12).
        predict_stride: step between prediction tiles in pixels (default
            ``patch_size // 2``, the overlap the writer's taper blends
            seamlessly; ``patch_size`` predicts every pixel once per date).
        predict_batch_size: tiles per prediction batch (default
            ``batch_size``). Prediction keeps no gradients, so larger batches
            fit, and on a CPU small tiles run several times faster per tile in
            batches of 64 or more than of 16.

    Raises:
        ValueError: for a ``patch_size`` that is not a positive multiple of 32,
            unknown sheets, bands or cloud rule, a scheme without the three splits,
            or an unknown ``normalization``.
        FileNotFoundError: if the statistics or boundary file does not exist.
    """

    def __init__(
        self,
        sentinel2_paths: str | list[str],
        bvm_paths: str | list[str],
        sheets: list[int | str] | str | None = None,
        split_scheme: dict[str, str] | None = None,
        years: list[int] | None = None,
        months: list[int] | None = None,
        bands: str | list[str] = 'all',
        patch_size: int = 256,
        batch_size: int = 8,
        length: int | None = None,
        num_workers: int = 0,
        crs: str = 'EPSG:4326',
        res: float | list[float] | None = None,
        boundary: str | None = None,
        stats: str | None = None,
        normalization: str = 'meanstd',
        cloud_rule: str | dict[str, Any] | None = 'default',
        eval_stride: int | None = None,
        max_redraws: int = 50,
        seed: int = 0,
        cache_dir: str | None = None,
        bvm_options: dict[str, Any] | None = None,
        time_series: str | None = None,
        max_dates: int | None = None,
        min_clear: int = 1,
        stack: str = 'time',
        eval_year: int | None = None,
        predict_sheets: str | list[int | str] | None = None,
        predict_years: int | list[int] | None = None,
        predict_months: int | list[int] | None = None,
        predict_stride: int | None = None,
        predict_batch_size: int | None = None,
    ) -> None:
        # Under TorchGeo's command line jsonargparse wraps what __init__ raises;
        # the hook (installed only under that command) shows our line instead.
        one_line_errors_under_torchgeo()
        quiet_lightning()
        # Every argument is checked here, before anything is read, so that a bad
        # configuration fails at once with one line (see _check_arguments).
        crs_ = check_crs(crs, 'crs')
        res_ = check_resolution(res) if res is not None else resolution_for(crs_)
        patch_size = _check_patch_size(patch_size, crs_, res_)
        _check_grid_size(crs_, res_)
        batch_size = check_count(batch_size, 'batch_size', maximum=MAX_BATCH_SIZE)
        if length is not None:
            length = check_count(length, 'length', maximum=MAX_LENGTH)
        num_workers = check_count(
            num_workers, 'num_workers', minimum=0, maximum=MAX_WORKERS
        )
        if eval_stride is not None:
            eval_stride = check_count(
                eval_stride,
                'eval_stride',
                maximum=patch_size,
                hint='tiles every eval_stride pixels, at most patch_size apart',
            )
        if predict_stride is not None:
            predict_stride = check_count(
                predict_stride,
                'predict_stride',
                maximum=patch_size,
                hint='tiles every predict_stride pixels, at most patch_size apart',
            )
        if predict_batch_size is not None:
            predict_batch_size = check_count(
                predict_batch_size, 'predict_batch_size', maximum=MAX_BATCH_SIZE
            )
        period_years = check_numbers(
            _as_numbers(predict_years), 'predict_years', 2015, 2100
        )
        period_months = check_numbers(
            _as_numbers(predict_months), 'predict_months', 1, 12
        )
        max_redraws = check_count(
            max_redraws, 'max_redraws', minimum=0, maximum=MAX_REDRAWS
        )
        seed = check_seed(seed)
        check_numbers(years, 'years', 2015, 2100)
        check_numbers(months, 'months', 1, 12)
        _check_paths(sentinel2_paths, 'sentinel2_paths')
        _check_paths(bvm_paths, 'bvm_paths')
        if boundary is not None:
            _check_paths(boundary, 'boundary')
        super().__init__(BVMSentinel2, batch_size, patch_size, length, num_workers)
        self.sentinel2_paths = _as_list(sentinel2_paths)
        self.bvm_paths = _as_list(bvm_paths)
        self.numbers = None if sheets is None else _sheet_numbers(sheets)
        try:
            self.scheme = SplitScheme(split_scheme)
        except ValueError as error:
            raise BVMValueError(f'split_scheme: {error}') from None
        missing = [s for s in ('train', 'val', 'test') if s not in self.scheme.splits]
        if missing:
            raise BVMValueError(
                f'split_scheme has no split {", ".join(map(repr, missing))}: it must '
                f'assign sheets to train, val and test (it has {self.scheme.splits})'
            )
        self.years = years
        self.months = months
        self.bands = resolve_bands(bands)
        self.crs = crs_
        self.res = res_
        self.boundary = boundary
        self.cloud_rule = cloud_rule_from(cloud_rule)
        self.eval_stride = eval_stride
        self.max_redraws = max_redraws
        self.seed = seed
        self.cache_dir = cache_dir
        self.bvm_options = dict(bvm_options or {})
        self.stats_path = stats
        self.series = TimeSeriesOptions.of(
            time_series, max_dates, min_clear, stack, eval_year, months
        )
        steps = self.series.steps if self.series is not None else 1
        check_bytes(
            4.0 * batch_size * steps * len(self.bands) * patch_size**2,
            MAX_BATCH_BYTES,
            f'a batch of {batch_size} x {steps} steps x {len(self.bands)} bands x '
            f'{patch_size} x {patch_size} pixels',
            'use fewer max_dates, a smaller batch_size or patch_size',
        )
        self.eval_period: int | None = None
        self.predict_sheets = _check_predict_sheets(
            predict_sheets, self.scheme, self.numbers
        )
        self.predict_years = period_years
        self.predict_months = period_months
        self.predict_stride = predict_stride
        # TorchGeo's data loaders take it for predict (else batch_size).
        self.predict_batch_size = predict_batch_size
        mean, std = self._normalisation(stats, normalization)
        # A series is normalised as T x C channels: each band alike at every step.
        mean, std = mean.repeat(steps), std.repeat(steps)
        self.aug = K.AugmentationSequential(
            K.Normalize(mean=mean, std=std), data_keys=None, keepdim=True
        )
        self.train_aug = K.AugmentationSequential(
            K.Normalize(mean=mean, std=std),
            K.RandomHorizontalFlip(p=0.5),
            K.RandomVerticalFlip(p=0.5),
            K.RandomRotation90(times=(0, 3), p=1.0),
            data_keys=None,
            keepdim=True,
            extra_args={
                DataKey.MASK: {'resample': Resample.NEAREST, 'align_corners': None}
            },
        )
        self.joint: BVMSentinel2 | None = None

    def _normalisation(
        self, stats: str | None, normalization: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if normalization not in ('meanstd', 'percentile'):
            raise BVMValueError(
                f"unknown normalization {normalization!r}: expected 'meanstd' or "
                "'percentile'"
            )
        if stats is None:
            channels = len(self.bands)
            return torch.zeros(channels), torch.full(
                (channels,), float(REFLECTANCE_SCALE)
            )
        band_stats = load_band_stats(stats, self.bands)
        if normalization == 'percentile':
            low = torch.tensor(band_stats.percentile(1.0))
            high = torch.tensor(band_stats.percentile(99.0))
            return low, torch.clamp(high - low, min=1e-6)
        std = torch.tensor(band_stats.std)
        return torch.tensor(band_stats.mean), torch.clamp(std, min=1e-6)

    # ------------------------------------------------------------------ datasets

    def _flanders(self) -> BaseGeometry:
        if self.boundary is not None:
            return read_boundary(self.boundary)
        return flanders_from_labels(self.bvm_paths, cache_dir=self.cache_dir)

    def _imagery(self) -> Sentinel2TOC:
        try:
            return Sentinel2TOC(
                self.sentinel2_paths,
                crs=self.crs,
                res=self.res,
                bands=self.bands,
                cloud_rule=self.cloud_rule,
                years=self.years,
                months=self.months,
                cache_dir=self.cache_dir,
                **(self.series.imagery() if self.series is not None else {}),
            )
        except DatasetNotFoundError:
            raise BVMValueError(
                f'no Sentinel-2 imagery found in {self.sentinel2_paths}: expected '
                'Terrascope product folders or openEO downloads '
                '(<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif)'
            ) from None

    def _labels(self) -> GeoDataset:
        options = dict(self.bvm_options)
        if _is_raster(self.bvm_paths):
            return BVMRaster(self.bvm_paths, crs=self.crs, res=self.res, **options)
        options.setdefault('cache_dir', self.cache_dir)
        # One BwkHab layer is the norm; several (e.g. editions per region) are
        # merged with BVMDataset's union, which keeps labels over IGNORE_INDEX.
        layers = [
            BVMDataset(path, crs=self.crs, res=self.res, **options)
            for path in self.bvm_paths
        ]
        for layer in layers:
            # Here, in the main process, before the DataLoader starts workers:
            # they then all map the prepared polygons instead of preparing them.
            layer.load()
        return functools.reduce(operator.or_, layers[1:], cast(GeoDataset, layers[0]))

    def build(self) -> BVMSentinel2:
        """Build (once) the joint dataset of all splits.

        Returns:
            The joint dataset.

        Raises:
            ValueError: if no imagery is found, none for the chosen dates, or imagery
                and labels do not overlap.
        """
        if self.joint is None:
            self.joint = BVMSentinel2(
                self._imagery(),
                self._labels(),
                scheme=self.scheme,
                numbers=self.numbers,
                flanders=self._flanders(),
                min_clear=self.series.min_clear if self.series is not None else 1,
            )
        return self.joint

    def setup(self, stage: str) -> None:
        """Build the datasets and samplers of a stage.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.

        Raises:
            ValueError: if a split has no data (no sheet where imagery, labels and
                Flanders meet).
        """
        joint = self.build()
        size = int(self.patch_size)  # type: ignore[arg-type]
        if stage == 'fit':
            self.train_dataset = joint.for_split('train', self.max_redraws)
            dates: CentreTimestampSampler = (
                CentreTimestampSampler(self.train_dataset, generator=self.seed + 1)
                if self.series is None
                else CalendarYearSampler(self.train_dataset, generator=self.seed + 1)
            )
            crops = SheetSampler(
                self.train_dataset,
                split='train',
                size=size,
                length=self.length,
                generator=self.seed,
            )
            self.train_dataset.redraw = CropRedraw(crops, dates, seed=self.seed)
            self.train_sampler = crops @ dates
        if stage in ('fit', 'validate'):
            self.val_dataset, self.val_sampler = self._evaluation('val', size)
        if stage == 'test':
            self.test_dataset, self.test_sampler = self._evaluation('test', size)
        if stage == 'predict':
            self.predict_dataset = joint.for_prediction()
            rank, ranks = self._rank()
            self.predict_sampler = SheetObservationSampler(
                self.predict_dataset,
                size=size,
                stride=self.predict_stride,
                sheets=self.predict_sheets,
                years=self.predict_years,
                months=self.predict_months,
                periods=self._predict_periods(self.predict_dataset),
                rank=rank,
                world_size=ranks,
            )

    def _predict_periods(self, dataset: BVMSentinel2) -> list[slice] | None:
        """A series model's observations: one calendar year each (else None).

        ``predict_years``, else the evaluation year (``eval_year`` or the latest
        year of the imagery), so a series model maps one year by default.
        """
        if self.series is None:
            return None
        years = self.predict_years or [self._evaluation_year(dataset)]
        return [calendar_year(year) for year in sorted(years)]

    def _rank(self) -> tuple[int, int]:
        """This process's rank and the number of ranks (0 and 1 without a trainer)."""
        trainer = getattr(self, 'trainer', None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _evaluation(self, split: str, size: int) -> tuple[BVMSentinel2, Any]:
        assert self.joint is not None
        dataset = self.joint.for_split(split, max_redraws=0)
        dates: TemporalSampler
        if self.series is None:
            dates = CentreTimestampSampler(dataset, per_location=True, seed=self.seed)
        else:
            dates = CalendarYearSampler(dataset, year=self._evaluation_year(dataset))
        sampler = (
            SheetGridSampler(dataset, split=split, size=size, stride=self.eval_stride)
            @ dates
        )
        return dataset, sampler

    def _evaluation_year(self, dataset: BVMSentinel2) -> int:
        """The period of every evaluation tile: ``eval_year``, else the latest year."""
        assert self.series is not None
        if self.eval_period is None:
            years = CalendarYearSampler(dataset).years()
            year = self.series.eval_year
            if year is None:
                year = years[-1]
                reason = 'the latest year of the imagery; set eval_year to choose'
            elif year not in years:
                raise BVMValueError(
                    f'eval_year {year}: the imagery has no date in {year}, only in '
                    f'{", ".join(map(str, years))}'
                )
            else:
                reason = 'eval_year'
            rank_zero_info(f'BVMDataModule: evaluation period: {year} ({reason})')
            self.eval_period = year
        return self.eval_period

    def on_exception(self, exception: BaseException) -> None:
        """Under ``torchgeo``, end a run stopped by our error in one line (status 2).

        Lightning calls this hook when fit, validation, test or prediction
        raises; see :func:`~torchgeo_bvm.training.console.exit_in_one_line`.

        Args:
            exception: what stopped the run.
        """
        exit_in_one_line(exception)

    def on_after_batch_transfer(
        self, batch: dict[str, Any], dataloader_idx: int
    ) -> dict[str, Any]:
        """Normalise and augment a batch on the device (see the class docstring).

        A series ``(B, T, C, H, W)`` goes through the augmentations as ``T x C``
        channels, so every step gets the same flips and rotations as the mask;
        ``stack='time'`` gives it back as ``(B, T, C, H, W)``, ``'channels'``
        keeps ``(B, T * C, H, W)``.

        Args:
            batch: the batch.
            dataloader_idx: the data loader's index.

        Returns:
            The batch.
        """
        image = batch['image']
        if self.series is None or image.ndim != 5:
            return super().on_after_batch_transfer(batch, dataloader_idx)
        size, steps, bands, height, width = image.shape
        batch['image'] = image.reshape(size, steps * bands, height, width)
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if self.series.stack == 'time':
            batch['image'] = batch['image'].reshape(size, steps, bands, height, width)
        return batch

    def plot(self, *args: Any, **kwargs: Any) -> Figure | None:  # noqa: ANN401
        """Plot a sample: image (true or false colour), labels and prediction.

        Args:
            *args: passed to :meth:`BVMSentinel2.plot`.
            **kwargs: passed to :meth:`BVMSentinel2.plot`.

        Returns:
            The figure, or None before :meth:`setup`.
        """
        dataset = (
            self.val_dataset or self.test_dataset or self.train_dataset or self.joint
        )
        if not isinstance(dataset, BVMSentinel2):
            return None
        return dataset.plot(*args, **kwargs)


def _sheet_numbers(sheets: list[int | str] | str) -> list[int]:
    try:
        numbers = kbl_numbers(sheets)
    except ValueError as error:
        raise BVMValueError(f'sheets: {error}') from None
    if not numbers:
        raise BVMValueError('sheets is empty: give 1:50,000 sheet numbers (1..43)')
    return numbers


def _check_predict_sheets(
    sheets: str | list[int | str] | None,
    scheme: SplitScheme,
    numbers: list[int] | None,
) -> str | list[int | str] | None:
    """Sheet codes that parse and lie in the data's sheets, or split names."""
    if sheets is None:
        return None
    items = sheets.split(',') if isinstance(sheets, str) else list(sheets)
    for item in items:
        if str(item).strip() in scheme.splits or not str(item).strip():
            continue
        try:
            sheet = Sheet.parse(item)
        except ValueError as error:
            raise BVMValueError(f'predict_sheets: {error}') from None
        if numbers is not None and sheet.number not in numbers:
            raise BVMValueError(
                f'predict_sheets: sheet {sheet.code} is not among the sheets '
                f'{numbers}; add {sheet.number} to sheets'
            )
    return sheets


def _check_patch_size(patch_size: object, crs: CRS, res: tuple[float, float]) -> int:
    """A patch size the model takes and the map sheets hold."""
    size = check_count(patch_size, 'patch_size', minimum=-(2**63))
    if size <= 0 or size % 32:
        raise BVMValueError(
            f'patch_size must be a positive multiple of 32 (the U-Net with a VGG '
            f'encoder halves it 5 times), got {size}'
        )
    check_count(size, 'patch_size', maximum=MAX_PATCH_PIXELS)
    metres = pixel_size_m(crs, res, FLANDERS_CENTRE)
    sheet = int(KBL_WIDTH / metres[0])
    if size > sheet:
        raise BVMValueError(
            f'patch_size {size} pixels of {metres[0]:.3g} m is '
            f'{size * metres[0] / 1000:.3g} km, wider than a whole 1:50,000 map '
            f'sheet ({sheet} pixels, {KBL_WIDTH / 1000:.0f} km); use at most '
            f'{sheet // 32 * 32}'
        )
    return size


def _check_grid_size(crs: CRS, res: tuple[float, float]) -> None:
    """Refuse a resolution at which the sheets of Flanders would not fit in memory."""
    metres = pixel_size_m(crs, res, FLANDERS_CENTRE)
    xmin, ymin, xmax, ymax = FLANDERS_EXTENT
    check_pixels(
        (xmax - xmin) / metres[0],
        (ymax - ymin) / metres[1],
        f'at res {res} (pixels of {metres[0]:.3g} x {metres[1]:.3g} m) the grid '
        'over Flanders',
        'give a coarser res',
    )


def _check_paths(paths: str | Sequence[str], name: str) -> None:
    for path in _as_list(paths):
        if not Path(path).exists():
            raise BVMNotFoundError(f'{name}: {path} not found')


@dataclass(frozen=True)
class TimeSeriesOptions:
    """What :class:`BVMDataModule` does with imagery time series (checked).

    Args:
        temporal: ``'monthly'`` or ``'dates'``
            (:mod:`torchgeo_bvm.datasets.series`).
        steps: ``T``, the steps of every sample: the requested months, or
            ``max_dates``.
        max_dates: the most dates of a ``'dates'`` sample.
        min_clear: on how many steps a pixel must be valid to keep its label.
        stack: ``'time'`` (batches ``(B, T, C, H, W)``) or ``'channels'``
            (``(B, T * C, H, W)``).
        eval_year: the calendar year of every evaluation tile (None: the
            latest year of the imagery).
    """

    temporal: TemporalLayout
    steps: int
    max_dates: int | None
    min_clear: int
    stack: Literal['time', 'channels']
    eval_year: int | None

    @classmethod
    def of(
        cls,
        time_series: str | None,
        max_dates: int | None,
        min_clear: int,
        stack: str,
        eval_year: int | None,
        months: Sequence[int] | None,
    ) -> TimeSeriesOptions | None:
        """Check the data module's time-series arguments.

        Args:
            time_series: None (one date per sample), ``'monthly'`` or ``'dates'``.
            max_dates: see the class.
            min_clear: see the class.
            stack: see the class.
            eval_year: see the class.
            months: the data module's ``months`` (the requested months).

        Returns:
            The options, or None for single-date samples.

        Raises:
            BVMValueError: for an unknown layout or stack, ``max_dates`` missing
                with ``'dates'`` or given with ``'monthly'``, ``max_dates`` or
                ``min_clear`` not a positive whole number, ``min_clear`` above
                the number of steps, or series options without ``time_series``.
        """
        if stack not in ('time', 'channels'):
            raise BVMValueError(
                f"unknown stack {stack!r}: expected 'time' (B, T, C, H, W) or "
                "'channels' (B, T * C, H, W)"
            )
        if time_series is None:
            given = [
                name
                for name, value, default in (
                    ('max_dates', max_dates, None),
                    ('min_clear', min_clear, 1),
                    ('stack', stack, 'time'),
                    ('eval_year', eval_year, None),
                )
                if value != default
            ]
            if given:
                raise BVMValueError(
                    f'{", ".join(given)} applies to time series: set time_series '
                    "to 'monthly' or 'dates'"
                )
            return None
        temporal = check_temporal(time_series)
        most = check_max_dates(max_dates)
        if temporal == 'dates' and most is None:
            raise BVMValueError(
                "time_series='dates' needs max_dates: every sample of a batch has "
                'the same number of steps (shorter ones are padded)'
            )
        if temporal == 'monthly' and most is not None:
            raise BVMValueError(
                "max_dates applies to time_series='dates'; a monthly series has one "
                'step per requested month'
            )
        steps = most if most is not None else len(set(months or range(1, 13)))
        clear = check_min_clear(min_clear)
        if clear > steps:
            raise BVMValueError(
                f'min_clear {clear} is more than the {steps} steps of a sample: no '
                'pixel could keep its label'
            )
        if eval_year is not None and (
            isinstance(eval_year, bool) or not isinstance(eval_year, int)
        ):
            raise BVMValueError(f'eval_year must be a year, got {eval_year!r}')
        return cls(
            temporal,
            steps,
            most,
            clear,
            'time' if stack == 'time' else 'channels',
            eval_year,
        )

    def imagery(self) -> dict[str, Any]:
        """The :class:`~torchgeo_bvm.datasets.Sentinel2TOC` arguments of a series.

        Returns:
            ``time_series``, ``temporal`` and ``max_dates``.
        """
        return {
            'time_series': True,
            'temporal': self.temporal,
            'max_dates': self.max_dates,
        }
