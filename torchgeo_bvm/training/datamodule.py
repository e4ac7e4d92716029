"""The Lightning data module for Sentinel-2 (and Sentinel-1) x BVM training runs.

:class:`BVMDataModule` builds the joint dataset
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`) from paths, splits it by map
sheet with the paper's scheme (or any :class:`~torchgeo_bvm.sheets.scheme.SplitScheme`)
and feeds TorchGeo's trainers. Its arguments are plain YAML values and groups
of them (:mod:`torchgeo_bvm.training.options`), so it works as
``data.class_path: torchgeo_bvm.training.datamodule.BVMDataModule`` in a
``torchgeo fit --config`` file::

    data:
      class_path: torchgeo_bvm.training.datamodule.BVMDataModule
      init_args:
        sentinel2_paths: data/sentinel2
        bvm_paths: data/BwkHab.shp
        sheets: [22, 23]
        patch_size: 256
        batch_size: 8
        length: 4000
        imagery:
          bands: rgnir
          stats: data/band-stats.json
        labels:
          boundary: data/Refgew.shp
        prediction:
          sheets: test
          years: 2020
          output_dir: predictions/rgnir
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info
from matplotlib.figure import Figure
from torchgeo.datamodules import GeoDataModule
from torchgeo.samplers import TemporalSampler

from ..datasets.joint import BVMSentinel2
from ..datasets.series import calendar_year, observed_steps
from ..errors import BVMValueError, one_line_errors_under_torchgeo
from ..samplers.prediction import SheetObservationSampler
from ..samplers.sheet import CropRedraw, SheetGridSampler, SheetSampler
from ..samplers.temporal import CalendarYearSampler, CentreTimestampSampler
from ..sheets.plan import period_name
from .agreement import InputLayout
from .console import exit_in_one_line, quiet_lightning
from .options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
    RadarOptions,
    SamplingOptions,
    TimeSeriesOptions,
)
from .settings import DataSettings

__all__ = ['BVMDataModule']


class BVMDataModule(GeoDataModule):
    """Sentinel-2 TOC imagery and BVM labels, split by map sheet.

    * ``fit``: training crops from :class:`~torchgeo_bvm.samplers.SheetSampler`
      (``length`` per epoch, one random acquisition date each, crops without any
      labelled pixel redrawn up to ``sampling.max_redraws`` times, a share
      ``sampling.rare_classes`` of them drawn where rare classes are), validation
      tiles from :class:`~torchgeo_bvm.samplers.SheetGridSampler`;
    * ``validate``/``test``: the tiles of the ``val``/``test`` sheets. Every
      evaluation tile gets one date, chosen by a seeded hash of its location
      (:class:`~torchgeo_bvm.samplers.temporal.CentreTimestampSampler`), so the numbers
      are the same in every epoch and run;
    * ``predict``: the run's :class:`~torchgeo_bvm.sheets.plan.PredictionPlan`
      (:class:`~torchgeo_bvm.samplers.SheetObservationSampler`): the tiles of
      ``prediction.sheets``, overlapping by half, on every acquisition date of
      the period that covers them, read without mirroring or labels, with
      ``valid`` where the pixel is clear by ``imagery.cloud_rule``, for
      :class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter` to fuse
      into maps in ``prediction.output_dir``. Ranks share out whole sheets.

    Every option is checked, in one line naming it and its value, when a stage
    starts (:meth:`check`, before anything is read). The model is checked
    against the data when a stage starts, and a checkpoint against the data it
    was trained on (:class:`~torchgeo_bvm.training.agreement.InputLayout`).

    On the device, images are normalised with kornia ``Normalize``: ``(x -
    mean) / std`` of the band statistics, the paper's ``(x - p1) / (p99 - p1)``
    with ``imagery.normalization: percentile``, or ``x / 10000`` without
    ``imagery.stats``. Training batches are flipped and rotated by multiples of 90
    degrees, image and mask together (the mask with nearest resampling).

    **Time series** (``time_series: true``, with the ``series`` options):
    every sample is the series of one calendar year
    (:class:`~torchgeo_bvm.samplers.temporal.CalendarYearSampler`): for training
    a year drawn per crop, for evaluation ``series.eval_year`` or else the
    latest year of the imagery (kept in :attr:`eval_period`). ``image`` is
    ``[T, C, H, W]``, ``dates`` ``[T]``, ``length`` the real steps of a
    ``'dates'`` sample, and ``mask`` ``[H, W]``, labelled where the pixel is
    clear on at least ``series.min_clear`` steps; each band is normalised alike
    at every step, and every step is flipped and rotated as the mask.

    **Radar** (``sentinel1_paths``, ``radar``): Sentinel-1 beside Sentinel-2
    stacks the months of a monthly series
    (:class:`~torchgeo_bvm.datasets.fused.OpticalRadarSeries`, ``[T, C_s2 +
    C_s1, H, W]``, a cloudy month keeping its radar); with ``sentinel2_paths:
    null`` the radar is read alone.

    Args:
        sentinel2_paths: folder(s) or file(s) of Sentinel-2 imagery
            (:class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` layouts);
            null (the default) for Sentinel-1 only.
        bvm_paths: BVM polygons (``BwkHab.shp``, GeoPackage, GeoParquet) or label
            GeoTIFFs (``torchgeo-bvm rasterize``), or folders of them
            (required; a default only so that ``sentinel2_paths`` may be left
            out).
        sheets: ``kbl`` sheet numbers (a list or ``'22,23'``; default all 43).
        patch_size: crop and tile size in pixels, a multiple of 32 (U-Net/VGG).
        batch_size: samples per batch.
        length: training crops per epoch (default: the train sheets' area in crops).
        num_workers: DataLoader workers.
        time_series: every sample a time series of its period (``series``).
        sentinel1_paths: folder(s) or file(s) of Sentinel-1 imagery
            (:class:`~torchgeo_bvm.datasets.Sentinel1Sigma0` layouts).
        imagery: how the imagery is read and normalised
            (:class:`~torchgeo_bvm.training.options.ImageryOptions`: the
            Sentinel-2 ``bands`` and their ``stats``, ``crs``, ``res``,
            ``years``, ``months``, ``cloud_rule``, ``normalization``,
            ``cache_dir``).
        radar: how the Sentinel-1 imagery is read and normalised
            (:class:`~torchgeo_bvm.training.options.RadarOptions`: ``bands``,
            ``orbit``, ``decibels``, ``stats``), with ``sentinel1_paths`` only.
        labels: which labels count
            (:class:`~torchgeo_bvm.training.options.LabelOptions`: the
            Flanders ``boundary`` and the BVM layer's fields).
        sampling: how sheets are split and samples drawn
            (:class:`~torchgeo_bvm.training.options.SamplingOptions`:
            ``split_scheme``, ``eval_stride``, ``max_redraws``, ``seed``,
            ``rare_classes``).
        series: the time-series options
            (:class:`~torchgeo_bvm.training.options.TimeSeriesOptions`; default
            a monthly series stacked in time), with ``time_series`` only.
        prediction: what ``torchgeo predict`` maps and where
            (:class:`~torchgeo_bvm.training.options.PredictionOptions`).
    """

    def __init__(
        self,
        sentinel2_paths: str | list[str] | None = None,
        bvm_paths: str | list[str] | None = None,
        sheets: list[int | str] | str | None = None,
        patch_size: int = 256,
        batch_size: int = 8,
        length: int | None = None,
        num_workers: int = 0,
        time_series: bool = False,
        sentinel1_paths: str | list[str] | None = None,
        imagery: ImageryOptions = ImageryOptions(),  # noqa: B008
        radar: RadarOptions = RadarOptions(),  # noqa: B008
        labels: LabelOptions = LabelOptions(),  # noqa: B008
        sampling: SamplingOptions = SamplingOptions(),  # noqa: B008
        series: TimeSeriesOptions | None = None,
        prediction: PredictionOptions = PredictionOptions(),  # noqa: B008
    ) -> None:
        # An error of ours while LightningCLI builds the data module stays one line.
        one_line_errors_under_torchgeo()
        quiet_lightning()
        super().__init__(BVMSentinel2, batch_size, patch_size, length, num_workers)
        self.options: dict[str, Any] = {
            'sentinel2_paths': sentinel2_paths,
            'bvm_paths': bvm_paths,
            'sheets': sheets,
            'patch_size': patch_size,
            'batch_size': batch_size,
            'length': length,
            'num_workers': num_workers,
            'time_series': time_series,
            'sentinel1_paths': sentinel1_paths,
        }
        self.imagery = imagery
        self.radar = radar
        self.labels = labels
        self.sampling = sampling
        self.series = series
        self.prediction = prediction
        #: The options checked (:meth:`check`), None before.
        self.settings: DataSettings | None = None
        self.joint: BVMSentinel2 | None = None
        self.eval_period: int | None = None

    # ----------------------------------------------------------------- checks

    def check(self) -> DataSettings:
        """Check every option, before anything is read (once; then a no-op).

        Called when a stage starts (:meth:`prepare_data`, :meth:`setup`,
        :meth:`build`); call it to check a configuration by hand.

        Returns:
            The settings (:class:`~torchgeo_bvm.training.settings.DataSettings`),
            also :attr:`settings`; ``bands``, ``series`` and the normalisation
            (``aug``, ``train_aug``) are set.

        Raises:
            BVMValueError: for a value out of range or of the wrong kind,
                naming the option and the value.
            BVMNotFoundError: if an input file does not exist.
        """
        if self.settings is None:
            settings = DataSettings.check(
                self.options,
                self.imagery,
                self.labels,
                self.sampling,
                self.series,
                self.prediction,
                self.radar,
            )
            self.bands, self.series = settings.bands, settings.series
            self.patch_size, self.batch_size = settings.patch_size, settings.batch_size
            self.length, self.num_workers = settings.length, settings.num_workers
            # TorchGeo's data loaders take it for predict (else batch_size).
            self.predict_batch_size = settings.predict.batch_size
            self.aug, self.train_aug = settings.augmentations()
            self.settings = settings
        return self.settings

    @property
    def input_layout(self) -> InputLayout:
        """What a batch holds, as a model sees it."""
        return self.check().input_layout

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the data: the layout of a batch.

        Returns:
            ``{'input_layout': ...}`` (plain values).
        """
        return {'input_layout': self.input_layout.state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Check that the data are those the checkpoint's model was trained on.

        Lightning calls it when a checkpoint is restored (``--ckpt_path``).

        Args:
            state_dict: what :meth:`state_dict` gave when the checkpoint was saved.

        Raises:
            BVMValueError: naming what differs (bands, series, months, stack).
        """
        saved = state_dict.get('input_layout')
        if saved is not None:
            self.input_layout.check_saved(InputLayout.from_state(saved))

    # ------------------------------------------------------------------ datasets

    def prepare_data(self) -> None:
        """Check the options before anything is read (see :meth:`check`)."""
        self.check()

    def build(self) -> BVMSentinel2:
        """Build (once) the joint dataset of all splits.

        Returns:
            The joint dataset.

        Raises:
            ValueError: if no imagery is found, none for the chosen dates, or imagery
                and labels do not overlap.
        """
        if self.joint is None:
            self.joint = self.check().joint()
        return self.joint

    def setup(self, stage: str) -> None:
        """Build the datasets and samplers of a stage.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.

        Raises:
            ValueError: if a split has no data (no sheet where imagery, labels and
                Flanders meet), or the model does not take the data's batches.
        """
        settings = self.check()
        model = getattr(getattr(self, 'trainer', None), 'lightning_module', None)
        if model is not None:
            settings.input_layout.check_model(model, classes=stage != 'fit')
        joint = self.build()
        size, seed = settings.patch_size, settings.seed
        if stage == 'fit':
            self.train_dataset = joint.for_split('train', settings.max_redraws)
            dates: CentreTimestampSampler = (
                CentreTimestampSampler(self.train_dataset, generator=seed + 1)
                if self.series is None
                else CalendarYearSampler(self.train_dataset, generator=seed + 1)
            )
            crops = SheetSampler(
                self.train_dataset,
                split='train',
                size=size,
                length=self.length,
                generator=seed,
                rare_classes=settings.rare_classes,
            )
            self.train_dataset.redraw = CropRedraw(crops, dates, seed=seed)
            self.train_sampler = crops @ dates
        if stage in ('fit', 'validate'):
            self.val_dataset, self.val_sampler = self._evaluation('val', size)
        if stage == 'test':
            self.test_dataset, self.test_sampler = self._evaluation('test', size)
        if stage == 'predict':
            self.predict_dataset = joint.for_prediction()
            self.predict_sampler = self._prediction_sampler(self.predict_dataset)

    def _prediction_sampler(self, dataset: BVMSentinel2) -> SheetObservationSampler:
        """The plan of the run: every tile of the sheets on every observation.

        A series model maps calendar years: ``prediction.years``, else the
        evaluation year.
        """
        predict = self.check().predict
        years = predict.years
        periods = None
        if self.series is not None:
            years = years or frozenset({self._evaluation_year(dataset)})
            periods = [calendar_year(year) for year in sorted(years)]
        trainer = getattr(self, 'trainer', None)
        return SheetObservationSampler(
            dataset,
            size=self.check().patch_size,
            stride=predict.stride,
            sheets=predict.sheets,
            years=years,
            months=predict.months,
            periods=periods,
            rank=0 if trainer is None else int(trainer.global_rank),
            world_size=1 if trainer is None else int(trainer.world_size),
        )

    def _evaluation(self, split: str, size: int) -> tuple[BVMSentinel2, Any]:
        assert self.joint is not None
        settings = self.check()
        dataset = self.joint.for_split(split, max_redraws=0)
        dates: TemporalSampler
        if self.series is None:
            dates = CentreTimestampSampler(
                dataset, per_location=True, seed=settings.seed
            )
        else:
            dates = CalendarYearSampler(dataset, year=self._evaluation_year(dataset))
        grid = SheetGridSampler(
            dataset, split=split, size=size, stride=settings.eval_stride
        )
        return dataset, grid @ dates

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

    # ---------------------------------------------------------------- outputs

    def prediction_folder(self, default: str | Path | None = None) -> Path:
        """The folder of this run's maps (:meth:`PredictionOptions.folder`).

        Args:
            default: the folder when ``prediction.output_dir`` is not set (the
                prediction writer's).

        Returns:
            The folder: with the period's subfolder, the plan's period after
            :meth:`setup` of ``predict``.

        Raises:
            BVMValueError: if neither names a folder, or both do and differ.
        """
        plan = getattr(self.predict_sampler, 'plan', None)
        if plan is not None:
            return self.prediction.folder(plan.name, default)
        predict = self.check().predict
        return self.prediction.folder(
            period_name(predict.years, predict.months), default
        )

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
        ``series.stack: time`` gives it back as ``(B, T, C, H, W)``,
        ``'channels'`` keeps ``(B, T * C, H, W)``. ``valid_steps`` (``(B, T)``
        bool, :func:`~torchgeo_bvm.datasets.series.observed_steps`) says which
        steps hold data, read before normalisation.

        Args:
            batch: the batch.
            dataloader_idx: the data loader's index.

        Returns:
            The batch.
        """
        image = batch['image']
        series = self.check().series
        if series is None or image.ndim != 5:
            return super().on_after_batch_transfer(batch, dataloader_idx)
        size, steps, bands, height, width = image.shape
        batch['valid_steps'] = observed_steps(image)
        batch['image'] = image.reshape(size, steps * bands, height, width)
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if series.stacking == 'time':
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
