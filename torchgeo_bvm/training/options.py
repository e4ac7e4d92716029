"""The grouped options of :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`.

Each group is a dataclass that ``jsonargparse`` (TorchGeo's command line)
reads from a nested YAML mapping, or that Python code builds::

    data:
      class_path: torchgeo_bvm.training.datamodule.BVMDataModule
      init_args:
        sentinel2_paths: data/sentinel2-monthly
        bvm_paths: data/BwkHab.shp
        time_series: true
        imagery: {crs: EPSG:32631, res: 10}
        series: {temporal: monthly, stack: channels}
        prediction: {sheets: test, years: 2022, output_dir: predictions/year}

and on the command line ``--data.init_args.series.stack=channels``. A group
holds the values as given; they are checked, with one line naming the option
and the value, when the data module starts
(:meth:`~torchgeo_bvm.training.datamodule.BVMDataModule.check`), before
anything is read. The checks of the groups live here: :func:`cloud_rule_from`,
:meth:`TimeSeriesOptions.check`, :meth:`PredictionOptions.check`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from ..checks import check_count, check_numbers
from ..datasets.bands import PAPER_CLOUD_RULE, CloudRule
from ..datasets.series import (
    TemporalLayout,
    check_max_dates,
    check_min_clear,
    check_temporal,
)
from ..errors import BVMValueError
from ..sheets.layout import SheetSelection

__all__ = [
    'MAX_BATCH_SIZE',
    'CheckedPrediction',
    'ImageryOptions',
    'LabelOptions',
    'PredictionOptions',
    'RadarOptions',
    'SamplingOptions',
    'TimeSeriesOptions',
    'cloud_rule_from',
    'given_fields',
]

#: Samples per batch at most: more does not fit any accelerator at 256 pixels.
MAX_BATCH_SIZE = 4096


@dataclass(frozen=True)
class ImageryOptions:
    """How the imagery is read and normalised.

    ``bands``, ``stats`` and ``cloud_rule`` are Sentinel-2's (the radar's
    are in :class:`RadarOptions`); the others apply to every sensor.

    Args:
        bands: ``'rgb'``, ``'rgnir'``, ``'all'`` or a list of Sentinel-2 band
            names.
        stats: the Sentinel-2 band statistics file (``torchgeo-bvm stats
            --bands``); without it, reflectance is scaled to 0-1
            (``x / 10000``).
        crs: the CRS imagery and labels are joined in (default EPSG:4326, as
            the paper).
        res: resolution in units of ``crs``, one number or ``[x, y]`` (default:
            10 m expressed in ``crs``,
            :func:`~torchgeo_bvm.spatial.crs.resolution_for`).
        years: only acquisition dates in these years.
        months: only acquisition dates in these months (1-12); a monthly
            series has one step per month given.
        cloud_rule: which pixels are clear (:func:`cloud_rule_from`).
        normalization: ``'meanstd'`` (``(x - mean) / std``) or
            ``'percentile'`` (the paper's ``(x - p1) / (p99 - p1)``), with the
            band statistics files ``stats`` and ``radar.stats``.
        cache_dir: where what is derived from the inputs is cached: the imagery
            index, the prepared BVM polygons and the Flanders region (default
            :func:`~torchgeo_bvm.fileio.default_cache_dir`).
    """

    bands: str | list[str] = 'all'
    stats: str | None = None
    crs: str = 'EPSG:4326'
    res: float | list[float] | None = None
    years: list[int] | None = None
    months: list[int] | None = None
    cloud_rule: str | dict[str, Any] | None = 'default'
    normalization: str = 'meanstd'
    cache_dir: str | None = None


@dataclass(frozen=True)
class RadarOptions:
    """How the Sentinel-1 imagery (``sentinel1_paths``) is read and normalised.

    Args:
        bands: ``'dual'`` (VV, VH), ``'ratio'`` (VV, VH, VH/VV) or a list of
            :class:`~torchgeo_bvm.datasets.Sentinel1Sigma0` band names.
        orbit: ``'ascending'``, ``'descending'`` or ``'both'``.
        decibels: backscatter in dB (``10 * log10``) rather than linear power.
        stats: the radar's band statistics file (``torchgeo-bvm stats --bands
            --sentinel1 ...``), read with the imagery's ``normalization``;
            without it the radar bands are taken as they are (mean 0, std 1).
    """

    bands: str | list[str] = 'dual'
    orbit: str = 'ascending'
    decibels: bool = True
    stats: str | None = None

    def dataset(self) -> dict[str, Any]:
        """The :class:`~torchgeo_bvm.datasets.Sentinel1Sigma0` arguments given here.

        Returns:
            ``bands``, ``orbit`` and ``decibels``.
        """
        return {'bands': self.bands, 'orbit': self.orbit, 'decibels': self.decibels}


@dataclass(frozen=True)
class LabelOptions:
    """Which labels count: the BVM layer's fields, and where Flanders ends.

    Args:
        boundary: a Flanders boundary file (``Refgew.shp`` or any vector
            file): pixels outside are neither labelled nor mapped. Default: the
            region covered by the BVM labels (cached).
        layer: the layer of a GeoPackage holding several (default: the one
            named ``BwkHab``).
        label_field: the BVM field of the mapping units (``EENH1``) or of
            integer class labels.
        mapping: a CSV of mapping units and classes (default: the shipped
            table).
        habitat_field: the habitat field read with the units (None: none).
    """

    boundary: str | None = None
    layer: str | None = None
    label_field: str = 'EENH1'
    mapping: str | None = None
    habitat_field: str | None = 'HAB1'

    def polygon_options(self) -> dict[str, Any]:
        """The arguments of :class:`~torchgeo_bvm.datasets.BVMDataset` given here.

        Returns:
            ``layer``, ``label_field``, ``mapping``, ``habitat_field``.
        """
        return {
            'layer': self.layer,
            'label_field': self.label_field,
            'mapping': self.mapping,
            'habitat_field': self.habitat_field,
        }


@dataclass(frozen=True)
class SamplingOptions:
    """How sheets are split and samples drawn.

    Args:
        split_scheme: sheet part or code -> split name (default: the paper's,
            ``{'1-2': 'train', '5-6': 'train', '3-4': 'val', '7-8': 'test'}``);
            it must name the splits ``train``, ``val`` and ``test``.
        eval_stride: stride of evaluation tiles in pixels (default
            ``patch_size``: non-overlapping tiles, every pixel counted once).
        max_redraws: redraws of training crops without a labelled pixel.
        seed: seed of crops, dates and redraws.
        rare_classes: the share of training crops drawn where rare classes
            are, from 0 (every crop centred uniformly in the train sheets) to
            1: each crop is then centred in a cell of half a patch chosen by
            its labelled pixels' class weights (median frequency balancing of
            the train split, as the loss's ``class_weights``), and its redraws
            too (:mod:`torchgeo_bvm.samplers.rare`). Above 0 the train split's
            labels are counted once when training starts.
    """

    split_scheme: dict[str, str] | None = None
    eval_stride: int | None = None
    max_redraws: int = 50
    seed: int = 0
    rare_classes: float = 0.0


@dataclass(frozen=True)
class TimeSeriesOptions:
    """What the data module does with time series (with ``time_series: true``).

    Args:
        temporal: ``'monthly'`` (one step per requested month) or ``'dates'``
            (the acquisitions, at most ``max_dates``); see
            :mod:`torchgeo_bvm.datasets.series`.
        max_dates: with ``'dates'``: the steps of every sample (required).
        min_clear: on how many steps a pixel must be clear (valid by the cloud
            rule) to keep its label.
        stack: ``'time'`` for ``(B, T, C, H, W)`` batches
            (:class:`torchgeo.tasks.SpatioTemporalSegmentation`) or
            ``'channels'`` for ``(B, T * C, H, W)`` (early fusion in
            ``SemanticSegmentation``: ``in_channels = T * C``).
        eval_year: the calendar year of every evaluation tile (default: the
            latest year of the imagery).
    """

    temporal: str = 'monthly'
    max_dates: int | None = None
    min_clear: int = 1
    stack: str = 'time'
    eval_year: int | None = None

    def check(self, months: Sequence[int] | None) -> int:
        """Check the options of a series.

        Args:
            months: the imagery's requested months (``imagery.months``).

        Returns:
            ``T``, the steps of every sample: the requested months, or
            ``max_dates``.

        Raises:
            BVMValueError: for an unknown layout or stack, ``max_dates`` missing
                with ``'dates'`` or given with ``'monthly'``, ``max_dates`` or
                ``min_clear`` not a positive whole number, ``min_clear`` above
                the number of steps, or an ``eval_year`` that is no year.
        """
        if self.stack not in ('time', 'channels'):
            raise BVMValueError(
                f"unknown stack {self.stack!r}: expected 'time' (B, T, C, H, W) or "
                "'channels' (B, T * C, H, W)"
            )
        temporal = check_temporal(self.temporal)
        most = check_max_dates(self.max_dates)
        if temporal == 'dates' and most is None:
            raise BVMValueError(
                "series.temporal 'dates' needs series.max_dates: every sample of a "
                'batch has the same number of steps (shorter ones are padded)'
            )
        if temporal == 'monthly' and most is not None:
            raise BVMValueError(
                "series.max_dates applies to series.temporal 'dates'; a monthly "
                'series has one step per requested month'
            )
        steps = most if most is not None else len(set(months or range(1, 13)))
        clear = check_min_clear(self.min_clear)
        if clear > steps:
            raise BVMValueError(
                f'min_clear {clear} is more than the {steps} steps of a sample: no '
                'pixel could keep its label'
            )
        year = self.eval_year
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            raise BVMValueError(f'eval_year must be a year, got {year!r}')
        return steps

    @property
    def layout(self) -> TemporalLayout:
        """The temporal layout (after :meth:`check`)."""
        return 'dates' if self.temporal == 'dates' else 'monthly'

    @property
    def stacking(self) -> Literal['time', 'channels']:
        """How batches stack the steps (after :meth:`check`)."""
        return 'channels' if self.stack == 'channels' else 'time'

    def imagery(self) -> dict[str, Any]:
        """The :class:`~torchgeo_bvm.datasets.Sentinel2TOC` arguments of a series.

        Returns:
            ``time_series``, ``temporal`` and ``max_dates``.
        """
        return {
            'time_series': True,
            'temporal': self.layout,
            'max_dates': self.max_dates,
        }


@dataclass(frozen=True)
class CheckedPrediction:
    """:class:`PredictionOptions` checked (see there).

    Args:
        sheets: the sheets, parsed (None: every sheet with data).
        years: the years (None: see :class:`PredictionOptions`).
        months: the months (None: every month).
        stride: tile step in pixels (None: half a tile).
        batch_size: tiles per batch (None: ``batch_size``).
    """

    sheets: SheetSelection | None
    years: frozenset[int] | None
    months: frozenset[int] | None
    stride: int | None
    batch_size: int | None


@dataclass(frozen=True)
class PredictionOptions:
    """What ``torchgeo predict`` maps, and where the maps go.

    Args:
        sheets: the sheets to map: sheet codes (``'22/7-8'``), ``kbl`` numbers
            (``22``: its every sheet) or split names (``'test'``), a list or
            comma-separated, within ``sheets``; of those, the sheets that hold
            data are mapped, and a sheet named by its own code must hold some.
            Default: every sheet of every split that holds data.
        years: the period: a year or years (default: every date of the
            imagery, within ``imagery.years``; with ``time_series``, the
            evaluation year). A series model maps each calendar year of the
            period.
        months: only the dates of these months (1-12); single-date models only
            (a series model's months are its steps, ``imagery.months``).
        stride: step between tiles in pixels (default ``patch_size // 2``, the
            overlap the writer's taper blends seamlessly; ``patch_size`` maps
            every pixel once per date).
        batch_size: tiles per prediction batch (default ``batch_size``).
            Prediction keeps no gradients, so larger batches fit, and on a CPU
            small tiles run several times faster per tile in batches of 64 or
            more than of 16.
        output_dir: the folder of the maps (default: the prediction writer's
            ``output_dir``).
        period_folder: write the maps into a subfolder named after the period
            (``2020``, ``2021_m05-06``), so that maps of another period in the
            same ``output_dir`` are kept.
    """

    sheets: str | list[int | str] | None = None
    years: int | list[int] | None = None
    months: int | list[int] | None = None
    stride: int | None = None
    batch_size: int | None = None
    output_dir: str | None = None
    period_folder: bool = True

    def check(
        self,
        splits: Sequence[str],
        numbers: Sequence[int] | None,
        patch_size: int,
        time_series: bool,
    ) -> CheckedPrediction:
        """Check the options (nothing is read).

        Args:
            splits: the split names of the scheme.
            numbers: the ``kbl`` sheets in use (None: all).
            patch_size: the tile size.
            time_series: whether every sample is a series.

        Returns:
            The checked options.

        Raises:
            BVMValueError: for an invalid sheet code or one outside ``numbers``,
                a year or month out of range, a stride or batch size out of
                range, or months given for a time series.
        """
        sheets = None
        if self.sheets is not None:
            try:
                sheets = SheetSelection.parse(self.sheets, splits)
                sheets.check_numbers(numbers)
            except BVMValueError as error:
                raise BVMValueError(f'prediction.sheets: {error}') from None
        stride = None
        if self.stride is not None:
            stride = check_count(
                self.stride,
                'prediction.stride',
                maximum=patch_size,
                hint='tiles every stride pixels, at most patch_size apart',
            )
        batch_size = None
        if self.batch_size is not None:
            batch_size = check_count(
                self.batch_size, 'prediction.batch_size', maximum=MAX_BATCH_SIZE
            )
        years = check_numbers(_as_list(self.years), 'prediction.years', 2015, 2100)
        months = check_numbers(_as_list(self.months), 'prediction.months', 1, 12)
        if months is not None and time_series:
            raise BVMValueError(
                'prediction.months applies to single-date models: a series model '
                'maps whole calendar years on the months of its steps '
                '(imagery.months); leave prediction.months out'
            )
        return CheckedPrediction(sheets, years, months, stride, batch_size)

    def folder(
        self, period: str, default: str | os.PathLike[str] | None = None
    ) -> Path:
        """The folder of a run's maps.

        ``output_dir``, else ``default`` (the prediction writer's), and in it
        the period's subfolder unless ``period_folder`` is false.

        Args:
            period: the period's folder name
                (:attr:`~torchgeo_bvm.sheets.plan.PredictionPlan.name`).
            default: the folder when ``output_dir`` is not set.

        Returns:
            The folder.

        Raises:
            BVMValueError: if neither names a folder, or both do and differ.
        """
        given = self.output_dir
        if given is not None and default is not None and Path(given) != Path(default):
            raise BVMValueError(
                f'two folders for the maps: prediction.output_dir {given} and the '
                f"prediction writer's output_dir {default}; give one"
            )
        folder = given if given is not None else default
        if folder is None:
            raise BVMValueError(
                'no folder for the maps: set prediction.output_dir '
                '(--data.init_args.prediction.output_dir=...)'
            )
        return Path(folder) / period if self.period_folder else Path(folder)


def given_fields(options: object) -> list[str]:
    """The fields of an options group whose value is not the default.

    Args:
        options: a group (a dataclass instance).

    Returns:
        Their names.
    """
    return [
        f.name
        for f in fields(options)  # type: ignore[arg-type]
        if getattr(options, f.name) != f.default
    ]


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


def _as_list(value: object) -> object:
    """A single number as a list of one (``years: 2020``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value
