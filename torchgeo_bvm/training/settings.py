"""The data module's options checked, and the datasets they describe.

:meth:`DataSettings.check` turns the arguments of
:class:`~torchgeo_bvm.training.datamodule.BVMDataModule` (plain values and the
groups of :mod:`torchgeo_bvm.training.options`) into resolved settings, with
one line naming the option and the value for anything wrong, before any file
is read. The settings then build the datasets: the imagery
(:class:`~torchgeo_bvm.datasets.Sentinel2TOC`,
:class:`~torchgeo_bvm.datasets.Sentinel1Sigma0`, or both stacked per month by
:class:`~torchgeo_bvm.datasets.fused.OpticalRadarSeries`), the labels
(:class:`~torchgeo_bvm.datasets.BVMDataset` or
:class:`~torchgeo_bvm.datasets.BVMRaster`), the Flanders region and their join
(:class:`~torchgeo_bvm.datasets.joint.BVMSentinel2`), and the normalisation of
a batch.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kornia.augmentation as K  # noqa: N812
import torch
from kornia.constants import DataKey, Resample
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import DatasetNotFoundError, GeoDataset

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
from ..datasets.bands import REFLECTANCE_SCALE, CloudRule, resolve_bands
from ..datasets.bvm import BVMDataset, BVMRaster
from ..datasets.fused import OpticalRadarSeries
from ..datasets.imagery import ImageryDataset
from ..datasets.joint import BVMSentinel2
from ..datasets.radar import check_orbit
from ..datasets.radar import resolve_bands as resolve_radar_bands
from ..datasets.sentinel1 import Sentinel1Sigma0
from ..datasets.sentinel2 import Sentinel2TOC
from ..errors import BVMNotFoundError, BVMValueError
from ..fileio import RASTER_SUFFIXES
from ..samplers.rare import check_rare_classes
from ..sheets.boundary import flanders_from_labels, read_boundary
from ..sheets.codes import KBL_WIDTH, kbl_numbers
from ..sheets.scheme import SplitScheme
from ..spatial.crs import FLANDERS_CENTRE, pixel_size_m, resolution_for
from .agreement import InputLayout
from .normalization import load_band_stats
from .options import (
    MAX_BATCH_SIZE,
    CheckedPrediction,
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
    RadarOptions,
    SamplingOptions,
    TimeSeriesOptions,
    cloud_rule_from,
    given_fields,
)

__all__ = ['DataSettings', 'band_normalisation']


@dataclass(frozen=True)
class DataSettings:
    """What :class:`~torchgeo_bvm.training.datamodule.BVMDataModule` was given, checked.

    Build it with :meth:`check`.

    Args:
        sentinel2_paths: the Sentinel-2 files and folders (None: radar only).
        bvm_paths: the label files and folders.
        bands: every channel of a step: the optical bands, then the radar's.
        numbers: the ``kbl`` sheets in use (None: all).
        crs: the CRS of the joint grid.
        res: its resolution.
        patch_size: crop and tile size.
        batch_size: samples per batch.
        length: training crops per epoch (None: the train sheets' area).
        num_workers: DataLoader workers.
        scheme: the split scheme.
        cloud_rule: which pixels are clear (None: all with data).
        eval_stride: evaluation tile step (None: ``patch_size``).
        max_redraws: redraws of label-less training crops.
        seed: seed of crops, dates and redraws.
        series: the time-series options (None: single dates).
        steps: ``T`` of a series (1 for single dates).
        predict: the prediction options.
        imagery: the imagery options as given.
        labels: the label options as given.
        sentinel1_paths: the Sentinel-1 files and folders (None: no radar).
        optical_bands: the Sentinel-2 bands (none without Sentinel-2).
        radar_bands: the Sentinel-1 bands (none without Sentinel-1).
        radar: the radar options as given.
        rare_classes: the share of training crops drawn where rare classes are.
    """

    sentinel2_paths: list[str] | None
    bvm_paths: list[str]
    bands: tuple[str, ...]
    numbers: list[int] | None
    crs: CRS
    res: tuple[float, float]
    patch_size: int
    batch_size: int
    length: int | None
    num_workers: int
    scheme: SplitScheme
    cloud_rule: CloudRule | None
    eval_stride: int | None
    max_redraws: int
    seed: int
    series: TimeSeriesOptions | None
    steps: int
    predict: CheckedPrediction
    imagery: ImageryOptions
    labels: LabelOptions
    sentinel1_paths: list[str] | None = None
    optical_bands: tuple[str, ...] = ()
    radar_bands: tuple[str, ...] = ()
    radar: RadarOptions = RadarOptions()  # noqa: RUF009
    rare_classes: float = 0.0

    @classmethod
    def check(
        cls,
        given: dict[str, Any],
        imagery: ImageryOptions,
        labels: LabelOptions,
        sampling: SamplingOptions,
        series: TimeSeriesOptions | None,
        prediction: PredictionOptions,
        radar: RadarOptions = RadarOptions(),  # noqa: B008
    ) -> DataSettings:
        """Check every option of the data module; nothing is read but the statistics.

        Args:
            given: the plain arguments (``sentinel2_paths``, ``bvm_paths``,
                ``sheets``, ``patch_size``, ``batch_size``,
                ``length``, ``num_workers``, ``time_series`` and, optionally,
                ``sentinel1_paths``).
            imagery: the imagery options.
            labels: the label options.
            sampling: the sampling options.
            series: the time-series options.
            prediction: the prediction options.
            radar: the radar options (with ``sentinel1_paths``).

        Returns:
            The settings.

        Raises:
            BVMValueError: for a value out of range or of the wrong kind,
                naming the option and the value.
            BVMNotFoundError: if an input file does not exist.
        """
        crs = check_crs(imagery.crs, 'imagery.crs')
        res = (
            check_resolution(imagery.res, 'imagery.res')
            if imagery.res is not None
            else resolution_for(crs)
        )
        patch_size = _check_patch_size(given['patch_size'], crs, res)
        _check_grid_size(crs, res)
        length = given['length']
        eval_stride = sampling.eval_stride
        if eval_stride is not None:
            eval_stride = check_count(
                eval_stride,
                'sampling.eval_stride',
                maximum=patch_size,
                hint='tiles every eval_stride pixels, at most patch_size apart',
            )
        check_numbers(imagery.years, 'imagery.years', 2015, 2100)
        check_numbers(imagery.months, 'imagery.months', 1, 12)
        if given['bvm_paths'] is None:
            raise BVMValueError(
                'bvm_paths is required: the BVM polygons or label rasters'
            )
        bvm_paths = _check_paths(given['bvm_paths'], 'bvm_paths')
        if labels.boundary is not None:
            _check_paths(labels.boundary, 'labels.boundary')
        sheets = given['sheets']
        numbers = None if sheets is None else _sheet_numbers(sheets)
        scheme = _check_scheme(sampling.split_scheme)
        series, steps = _check_series(given['time_series'], series, imagery.months)
        batch_size = check_count(
            given['batch_size'], 'batch_size', maximum=MAX_BATCH_SIZE
        )
        sensors = _check_sensors(given, imagery, radar, series)
        bands = sensors.optical_bands + sensors.radar_bands
        check_bytes(
            4.0 * batch_size * steps * len(bands) * patch_size**2,
            MAX_BATCH_BYTES,
            f'a batch of {batch_size} x {steps} steps x {len(bands)} bands x '
            f'{patch_size} x {patch_size} pixels',
            'use fewer series.max_dates, a smaller batch_size or patch_size',
        )
        return cls(
            sensors.sentinel2_paths,
            bvm_paths,
            bands,
            numbers,
            crs,
            res,
            patch_size,
            batch_size,
            None
            if length is None
            else check_count(length, 'length', maximum=MAX_LENGTH),
            check_count(
                given['num_workers'], 'num_workers', minimum=0, maximum=MAX_WORKERS
            ),
            scheme,
            cloud_rule_from(imagery.cloud_rule),
            eval_stride,
            check_count(
                sampling.max_redraws,
                'sampling.max_redraws',
                minimum=0,
                maximum=MAX_REDRAWS,
            ),
            check_seed(sampling.seed, 'sampling.seed'),
            series,
            steps,
            prediction.check(scheme.splits, numbers, patch_size, series is not None),
            imagery,
            labels,
            sensors.sentinel1_paths,
            sensors.optical_bands,
            sensors.radar_bands,
            radar,
            check_rare_classes(sampling.rare_classes, 'sampling.rare_classes'),
        )

    @property
    def input_layout(self) -> InputLayout:
        """What a batch holds, as a model sees it."""
        if self.series is None:
            return InputLayout(tuple(self.bands))
        months = self.imagery.months
        return InputLayout(
            tuple(self.bands),
            self.series.layout,
            self.steps,
            None if months is None else tuple(sorted(set(months))),
            self.series.stacking,
        )

    def input_paths(self) -> dict[str, list[str]]:
        """The files and folders the datasets read, by option.

        Returns:
            ``sentinel2_paths``, ``sentinel1_paths``, ``bvm_paths``,
            ``labels.boundary``, ``imagery.stats`` and ``radar.stats`` (those
            given).
        """
        paths = {'bvm_paths': self.bvm_paths}
        if self.sentinel2_paths is not None:
            paths['sentinel2_paths'] = self.sentinel2_paths
        if self.sentinel1_paths is not None:
            paths['sentinel1_paths'] = self.sentinel1_paths
        if self.labels.boundary is not None:
            paths['labels.boundary'] = [self.labels.boundary]
        if self.imagery.stats is not None:
            paths['imagery.stats'] = [self.imagery.stats]
        if self.radar.stats is not None:
            paths['radar.stats'] = [self.radar.stats]
        return paths

    def normalisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``mean`` and ``std`` of kornia's ``Normalize``, per channel.

        ``(x - mean) / std`` of the statistics files (``imagery.stats`` for the
        optical bands, ``radar.stats`` for the radar's), or ``(x - p1) / (p99 -
        p1)`` with ``imagery.normalization: percentile``; without a file,
        reflectance (``x / 10000``) and radar values as they are. A series
        repeats them at every step.

        Returns:
            ``mean`` and ``std``.

        Raises:
            BVMValueError: for an unknown normalisation, or statistics that do
                not fit the bands.
        """
        mean, std = band_normalisation(
            self.imagery, self.radar, self.optical_bands, self.radar_bands
        )
        # A series is normalised as T x C channels: each band alike at every step.
        return mean.repeat(self.steps), std.repeat(self.steps)

    def augmentations(
        self,
    ) -> tuple[K.AugmentationSequential, K.AugmentationSequential]:
        """The batch transforms on the device: evaluation and training.

        Both normalise (:meth:`normalisation`); training batches are also
        flipped and rotated by multiples of 90 degrees, image and mask together
        (the mask with nearest resampling, so class ids survive exactly).

        Returns:
            ``aug`` and ``train_aug`` of the data module.
        """
        mean, std = self.normalisation()
        evaluation = K.AugmentationSequential(
            K.Normalize(mean=mean, std=std), data_keys=None, keepdim=True
        )
        training = K.AugmentationSequential(
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
        return evaluation, training

    # ------------------------------------------------------------------ datasets

    def joint(self) -> BVMSentinel2:
        """Build the joint dataset of all splits.

        Returns:
            The dataset.

        Raises:
            BVMValueError: if no imagery is found, none for the chosen dates,
                imagery and labels do not overlap, or label options are given
                for label rasters.
        """
        return BVMSentinel2(
            self._imagery(),
            self._labels(),
            scheme=self.scheme,
            numbers=self.numbers,
            flanders=self._flanders(),
            min_clear=self.series.min_clear if self.series is not None else 1,
        )

    def _flanders(self) -> BaseGeometry:
        if self.labels.boundary is not None:
            return read_boundary(self.labels.boundary)
        return flanders_from_labels(self.bvm_paths, cache_dir=self.imagery.cache_dir)

    def _imagery(self) -> GeoDataset:
        optical = None if self.sentinel2_paths is None else self._optical()
        radar = None if self.sentinel1_paths is None else self._radar()
        if optical is not None and radar is not None:
            return OpticalRadarSeries(optical, radar)
        imagery = optical or radar
        assert imagery is not None
        return imagery

    def _reading_arguments(self) -> dict[str, Any]:
        """What every sensor is read with: grid, period, cache and series."""
        return {
            'crs': self.crs,
            'res': self.res,
            'years': self.imagery.years,
            'months': self.imagery.months,
            'cache_dir': self.imagery.cache_dir,
            **(self.series.imagery() if self.series is not None else {}),
        }

    def _radar(self) -> ImageryDataset:
        return self._sensor(
            Sentinel1Sigma0,
            self.sentinel1_paths,
            'no Sentinel-1 imagery found in {paths}: expected Terrascope sigma0 '
            'product folders or openEO downloads (torchgeo-bvm download --sensor s1)',
            {
                'bands': self.radar_bands,
                'orbit': self.radar.orbit,
                'decibels': self.radar.decibels,
            },
        )

    def _optical(self) -> ImageryDataset:
        return self._sensor(
            Sentinel2TOC,
            self.sentinel2_paths,
            'no Sentinel-2 imagery found in {paths}: expected Terrascope product '
            'folders or openEO downloads (<sheet>/<sheet>_openEO_<YYYY-MM-DD>Z.tif)',
            {'bands': self.optical_bands, 'cloud_rule': self.cloud_rule},
        )

    def _sensor(
        self,
        sensor: type[ImageryDataset],
        paths: list[str] | None,
        not_found: str,
        arguments: Mapping[str, Any],
    ) -> ImageryDataset:
        """A sensor's imagery read with its ``arguments`` and the shared ones.

        ``not_found`` (with its ``{paths}``) is the error if none is found.
        """
        assert paths is not None
        try:
            return sensor(paths, **arguments, **self._reading_arguments())
        except DatasetNotFoundError:
            raise BVMValueError(not_found.format(paths=paths)) from None

    def _labels(self) -> GeoDataset:
        if _is_raster(self.bvm_paths):
            given = [f for f in given_fields(self.labels) if f != 'boundary']
            if given:
                raise BVMValueError(
                    f'labels.{given[0]} applies to BVM polygons, and bvm_paths are '
                    'label rasters, whose classes are already mapped'
                )
            return BVMRaster(self.bvm_paths, crs=self.crs, res=self.res)
        options = self.labels.polygon_options()
        # One BwkHab layer is the norm; several (e.g. editions per region) are
        # merged with BVMDataset's union, which keeps labels over IGNORE_INDEX.
        layers = [
            BVMDataset(
                path,
                crs=self.crs,
                res=self.res,
                cache_dir=self.imagery.cache_dir,
                **options,
            )
            for path in self.bvm_paths
        ]
        for layer in layers:
            # Here, in the main process, before the DataLoader starts workers:
            # they then all map the prepared polygons instead of preparing them.
            layer.load()
        return functools.reduce(operator.or_, layers[1:], cast(GeoDataset, layers[0]))


@dataclass(frozen=True)
class _Sensors:
    """The imagery's paths and bands, checked."""

    sentinel2_paths: list[str] | None
    sentinel1_paths: list[str] | None
    optical_bands: tuple[str, ...]
    radar_bands: tuple[str, ...]


#: The imagery options that only Sentinel-2 has, and what to do instead.
OPTICAL_ONLY = {
    'bands': 'set radar.bands for the Sentinel-1 bands',
    'cloud_rule': 'radar sees through clouds',
    'stats': 'set radar.stats for the Sentinel-1 bands',
}


def _check_sensors(
    given: dict[str, Any],
    imagery: ImageryOptions,
    radar: RadarOptions,
    series: TimeSeriesOptions | None,
) -> _Sensors:
    """Sentinel-2, Sentinel-1 or both, and the options that apply to each."""
    optical_given = given['sentinel2_paths'] is not None
    radar_given = given.get('sentinel1_paths') is not None
    for group, options in (('imagery', imagery), ('radar', radar)):
        _refuse_null_read_as_text(options.stats, f'{group}.stats')
    if not optical_given and not radar_given:
        raise BVMValueError('no imagery: give sentinel2_paths, sentinel1_paths or both')
    if not radar_given and given_fields(radar):
        raise BVMValueError(
            f'radar.{given_fields(radar)[0]} applies to Sentinel-1: give '
            'sentinel1_paths'
        )
    if not optical_given:
        optical_only = OPTICAL_ONLY.keys() & set(given_fields(imagery))
        if optical_only:
            name = min(optical_only)
            raise BVMValueError(
                f'imagery.{name} applies to Sentinel-2, and sentinel2_paths is '
                f'null: {OPTICAL_ONLY[name]}'
            )
    if optical_given and radar_given and (series is None or series.layout != 'monthly'):
        raise BVMValueError(
            'sentinel1_paths beside sentinel2_paths stacks the two sensors month '
            'by month: set time_series: true with series.temporal: monthly'
        )
    radar_bands: tuple[str, ...] = ()
    if radar_given:
        try:
            radar_bands = resolve_radar_bands(radar.bands)
            check_orbit(radar.orbit)
        except BVMValueError as error:
            raise BVMValueError(f'radar: {error}') from None
        if radar.stats is not None:
            _check_paths(radar.stats, 'radar.stats')
    return _Sensors(
        _check_paths(given['sentinel2_paths'], 'sentinel2_paths')
        if optical_given
        else None,
        _check_paths(given['sentinel1_paths'], 'sentinel1_paths')
        if radar_given
        else None,
        resolve_bands(imagery.bands) if optical_given else (),
        radar_bands,
    )


def band_normalisation(
    imagery: ImageryOptions,
    radar: RadarOptions,
    optical_bands: Sequence[str],
    radar_bands: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``mean`` and ``std`` of one step's bands: the optical, then the radar's.

    ``(x - mean) / std`` of the statistics files (``imagery.stats`` for the
    optical bands, ``radar.stats`` for the radar's), or ``(x - p1) / (p99 -
    p1)`` with ``imagery.normalization: percentile``; without a file,
    reflectance (``x / 10000``) and radar values as they are.

    Args:
        imagery: the imagery options (``stats``, ``normalization``).
        radar: the radar options (``stats``).
        optical_bands: the Sentinel-2 bands, in channel order.
        radar_bands: the Sentinel-1 bands, in channel order.

    Returns:
        ``mean`` and ``std``, one value per band.

    Raises:
        BVMValueError: for an unknown normalisation, or statistics that do not
            fit the bands.
    """
    method = imagery.normalization
    if method not in ('meanstd', 'percentile'):
        raise BVMValueError(
            f"unknown normalization {method!r}: expected 'meanstd' or 'percentile'"
        )
    optical = _band_normalisation(
        imagery.stats, tuple(optical_bands), method, float(REFLECTANCE_SCALE)
    )
    sar = _band_normalisation(radar.stats, tuple(radar_bands), method, 1.0)
    return torch.cat([optical[0], sar[0]]), torch.cat([optical[1], sar[1]])


def _band_normalisation(
    stats: str | None, bands: tuple[str, ...], method: str, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``mean`` and ``std`` of some bands: from their statistics, else ``scale``."""
    if stats is None:
        return torch.zeros(len(bands)), torch.full((len(bands),), scale)
    band_stats = load_band_stats(stats, bands)
    if method == 'percentile':
        low = torch.tensor(band_stats.percentile(1.0))
        high = torch.tensor(band_stats.percentile(99.0))
        return low, torch.clamp(high - low, min=1e-6)
    mean = torch.tensor(band_stats.mean)
    return mean, torch.clamp(torch.tensor(band_stats.std), min=1e-6)


def _check_series(
    time_series: object, series: TimeSeriesOptions | None, months: list[int] | None
) -> tuple[TimeSeriesOptions | None, int]:
    """The series options of a series (defaults if none given) and its steps."""
    if not time_series:
        if series is not None:
            given = given_fields(series) or ['series']
            raise BVMValueError(
                f'series ({", ".join(given)}) applies to time series: set '
                'time_series to true'
            )
        return None, 1
    series = series or TimeSeriesOptions()
    return series, series.check(months)


def _is_raster(paths: Sequence[str]) -> bool:
    for path in map(Path, paths):
        if path.is_dir():
            if any(p.suffix.lower() in RASTER_SUFFIXES for p in path.rglob('*')):
                return True
        elif path.suffix.lower() in RASTER_SUFFIXES:
            return True
    return False


def _sheet_numbers(sheets: list[int | str] | str) -> list[int]:
    try:
        numbers = kbl_numbers(sheets)
    except ValueError as error:
        raise BVMValueError(f'sheets: {error}') from None
    if not numbers:
        raise BVMValueError('sheets is empty: give 1:50,000 sheet numbers (1..43)')
    return numbers


def _check_scheme(split_scheme: dict[str, str] | None) -> SplitScheme:
    try:
        scheme = SplitScheme(split_scheme)
    except ValueError as error:
        raise BVMValueError(f'sampling.split_scheme: {error}') from None
    missing = [s for s in ('train', 'val', 'test') if s not in scheme.splits]
    if missing:
        raise BVMValueError(
            f'sampling.split_scheme has no split {", ".join(map(repr, missing))}: it '
            f'must assign sheets to train, val and test (it has {scheme.splits})'
        )
    return scheme


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


def _refuse_null_read_as_text(value: str | None, name: str) -> None:
    """Refuse ``'None'`` where no such file exists: a null that became text.

    jsonargparse reads ``--data.init_args.imagery.stats=null`` (a field of a
    group, under ``class_path``) as the string ``'None'``.
    """
    if value == 'None' and not Path(value).exists():
        group = name.split('.')[0]
        raise BVMValueError(
            f"{name} is the text 'None' and no such file exists: to set it to "
            f'null on the command line, give the group in one piece, e.g. '
            f'--data.init_args.{group}=\'{{"stats": null}}\''
        )


def _check_paths(paths: str | Sequence[str], name: str) -> list[str]:
    """The paths as a list, each of which exists."""
    listed = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    for path in listed:
        if not Path(path).exists():
            raise BVMNotFoundError(f'{name}: {path} not found')
    return listed
