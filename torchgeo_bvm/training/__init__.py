"""Training, evaluation and prediction with TorchGeo's trainers and command line.

:mod:`~torchgeo_bvm.training.datamodule` joins datasets and samplers for
``torchgeo fit|validate|test|predict`` (its grouped options in
:mod:`~torchgeo_bvm.training.options`, checked in
:mod:`~torchgeo_bvm.training.settings`; the model/data agreement in
:mod:`~torchgeo_bvm.training.agreement`), :mod:`~torchgeo_bvm.training.tasks` is the
task (its temperature: :mod:`~torchgeo_bvm.training.calibration`),
:mod:`~torchgeo_bvm.training.callbacks` what evaluation writes (per sheet and
calibration: :mod:`~torchgeo_bvm.training.testing`),
:mod:`~torchgeo_bvm.training.checkpoints` the checkpoint callback,
:mod:`~torchgeo_bvm.training.prediction` the writer of fused maps,
:mod:`~torchgeo_bvm.training.normalization` the band statistics and
:mod:`~torchgeo_bvm.training.configs` the configurations shipped with the
package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .agreement import InputLayout
    from .calibration import CALIBRATION_PIXELS, ValidationLogits
    from .callbacks import (
        ConfusionMatrixWriter,
        MetricTable,
        confusion_matrix_figure,
        describe_model,
        format_metric_table,
        plot_confusion_matrix,
    )
    from .checkpoints import ModelCheckpoint
    from .configs import (
        LAPTOP_BATCH_SIZE,
        LAPTOP_PATCH_SIZE,
        LAPTOP_STEPS,
        config_file,
        config_names,
        config_text,
        laptop_settings,
    )
    from .console import LIGHTNING_LOGGERS, exit_in_one_line, quiet_lightning
    from .datamodule import BVMDataModule
    from .normalization import (
        STATS_FORMAT,
        BandStats,
        compute_band_stats,
        load_band_stats,
    )
    from .options import (
        MAX_BATCH_SIZE,
        ImageryOptions,
        LabelOptions,
        PredictionOptions,
        RadarOptions,
        SamplingOptions,
        TimeSeriesOptions,
        cloud_rule_from,
    )
    from .prediction import MOSAIC, SheetPredictionWriter
    from .settings import DataSettings, band_normalisation
    from .tasks import WEIGHTS_OVERRIDE, BVMSemanticSegmentation, imagenet_unreachable
    from .temporal import TEMPORAL_MODELS, BVMTemporalSegmentation
    from .testing import CALIBRATION_NAMES, SheetEvaluation

_HOMES: dict[str, str] = {
    'BVMDataModule': 'datamodule',
    'BVMSemanticSegmentation': 'tasks',
    'BVMTemporalSegmentation': 'temporal',
    'TEMPORAL_MODELS': 'temporal',
    'CALIBRATION_NAMES': 'testing',
    'CALIBRATION_PIXELS': 'calibration',
    'SheetEvaluation': 'testing',
    'ValidationLogits': 'calibration',
    'BandStats': 'normalization',
    'ConfusionMatrixWriter': 'callbacks',
    'LAPTOP_BATCH_SIZE': 'configs',
    'LAPTOP_PATCH_SIZE': 'configs',
    'LAPTOP_STEPS': 'configs',
    'LIGHTNING_LOGGERS': 'console',
    'DataSettings': 'settings',
    'band_normalisation': 'settings',
    'ImageryOptions': 'options',
    'InputLayout': 'agreement',
    'LabelOptions': 'options',
    'MAX_BATCH_SIZE': 'options',
    'MOSAIC': 'prediction',
    'MetricTable': 'callbacks',
    'ModelCheckpoint': 'checkpoints',
    'STATS_FORMAT': 'normalization',
    'SheetPredictionWriter': 'prediction',
    'PredictionOptions': 'options',
    'RadarOptions': 'options',
    'SamplingOptions': 'options',
    'TimeSeriesOptions': 'options',
    'WEIGHTS_OVERRIDE': 'tasks',
    'cloud_rule_from': 'options',
    'compute_band_stats': 'normalization',
    'config_file': 'configs',
    'confusion_matrix_figure': 'callbacks',
    'config_names': 'configs',
    'config_text': 'configs',
    'describe_model': 'callbacks',
    'exit_in_one_line': 'console',
    'format_metric_table': 'callbacks',
    'imagenet_unreachable': 'tasks',
    'laptop_settings': 'configs',
    'load_band_stats': 'normalization',
    'plot_confusion_matrix': 'callbacks',
    'quiet_lightning': 'console',
}

__all__ = [
    'CALIBRATION_NAMES',
    'CALIBRATION_PIXELS',
    'LAPTOP_BATCH_SIZE',
    'LAPTOP_PATCH_SIZE',
    'LAPTOP_STEPS',
    'LIGHTNING_LOGGERS',
    'MAX_BATCH_SIZE',
    'MOSAIC',
    'STATS_FORMAT',
    'TEMPORAL_MODELS',
    'WEIGHTS_OVERRIDE',
    'BVMDataModule',
    'BVMSemanticSegmentation',
    'BVMTemporalSegmentation',
    'BandStats',
    'ConfusionMatrixWriter',
    'DataSettings',
    'ImageryOptions',
    'InputLayout',
    'LabelOptions',
    'MetricTable',
    'ModelCheckpoint',
    'PredictionOptions',
    'RadarOptions',
    'SamplingOptions',
    'SheetEvaluation',
    'SheetPredictionWriter',
    'TimeSeriesOptions',
    'ValidationLogits',
    'band_normalisation',
    'cloud_rule_from',
    'compute_band_stats',
    'config_file',
    'config_names',
    'config_text',
    'confusion_matrix_figure',
    'describe_model',
    'exit_in_one_line',
    'format_metric_table',
    'imagenet_unreachable',
    'laptop_settings',
    'load_band_stats',
    'plot_confusion_matrix',
    'quiet_lightning',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
