"""torchgeo-bvm: the Biological Valuation Map of Flanders x Sentinel-2 in TorchGeo.

The names a user works with are importable from here (every module lists all
of its own in its ``__all__``). They are loaded on first use
(:pep:`562`), so ``import torchgeo_bvm`` and the command line start without
torch: a command that needs no deep learning never imports it.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from .lazy import exports

if TYPE_CHECKING:
    from .bvm.labels import rasterize_bvm
    from .bvm.layer import BVMLayer
    from .bvm.polygons import BVMPolygons
    from .bvm.statistics import (
        SplitStatistics,
        chi_squared_distance,
        split_class_counts,
    )
    from .bvm.units import MAPPING_VERSION, UnitMapping, map_integer_labels
    from .classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, NUM_CLASSES, BVMClass
    from .datasets import (
        BVMDataset,
        BVMRaster,
        CloudRule,
        ImageryDataset,
        Sentinel1Sigma0,
        Sentinel2TOC,
    )
    from .datasets.joint import BVMSentinel2
    from .download import DownloadOptions, download
    from .errors import (
        BVMError,
        BVMExistsError,
        BVMFileError,
        BVMNotFoundError,
        BVMValueError,
    )
    from .evaluation.accuracy import AccuracyReport
    from .evaluation.calibration import Reliability
    from .evaluation.units import EvaluationUnits
    from .fileio import default_cache_dir
    from .maps.compare import compare_with_bvm
    from .maps.files import ClassMap
    from .maps.fusion import SheetFusion, plot_fused_map, write_mosaic
    from .maps.reliability import map_reliability
    from .maps.seams import SeamRates, seam_rates
    from .models import (
        UTAE,
        EarlyFusionUNet,
        LateFusionUNet,
        PixelTemporalEncoder,
        TemporalAttention,
        load_encoder_weights,
    )
    from .samplers.prediction import SheetObservationSampler
    from .samplers.sheet import SheetGridSampler, SheetSampler
    from .samplers.temporal import CalendarYearSampler, CentreTimestampSampler
    from .sheets.codes import Sheet
    from .sheets.official import compare_official, grid
    from .sheets.plan import PredictionPlan
    from .sheets.scheme import PAPER_SPLIT, SplitScheme
    from .spatial.classraster import write_class_raster
    from .spatial.crs import DEFAULT_CRS, resolution_for
    from .spatial.pixelgrid import Grid
    from .training import (
        BVMDataModule,
        BVMSemanticSegmentation,
        BVMTemporalSegmentation,
        ConfusionMatrixWriter,
        ImageryOptions,
        LabelOptions,
        MetricTable,
        PredictionOptions,
        RadarOptions,
        SamplingOptions,
        SheetPredictionWriter,
        TimeSeriesOptions,
    )

__version__ = '0.1.0'

#: The module each public name lives in.
_HOMES: dict[str, str] = {
    'BVMLayer': 'bvm.layer',
    'BVMPolygons': 'bvm.polygons',
    'MAPPING_VERSION': 'bvm.units',
    'UnitMapping': 'bvm.units',
    'map_integer_labels': 'bvm.units',
    'ConfusionMatrixWriter': 'training.callbacks',
    'MetricTable': 'training.callbacks',
    'CLASS_NAMES': 'classes',
    'CLASSES': 'classes',
    'IGNORE_INDEX': 'classes',
    'NUM_CLASSES': 'classes',
    'BVMClass': 'classes',
    'ClassMap': 'maps.files',
    'compare_with_bvm': 'maps.compare',
    'DEFAULT_CRS': 'spatial.crs',
    'resolution_for': 'spatial.crs',
    'BVMDataModule': 'training.datamodule',
    'ImageryOptions': 'training.options',
    'LabelOptions': 'training.options',
    'PredictionOptions': 'training.options',
    'RadarOptions': 'training.options',
    'SamplingOptions': 'training.options',
    'TimeSeriesOptions': 'training.options',
    'PredictionPlan': 'sheets.plan',
    'BVMDataset': 'datasets',
    'BVMRaster': 'datasets',
    'CloudRule': 'datasets',
    'ImageryDataset': 'datasets',
    'Sentinel1Sigma0': 'datasets',
    'Sentinel2TOC': 'datasets',
    'BVMSentinel2': 'datasets.joint',
    'DownloadOptions': 'download',
    'download': 'download',
    'BVMError': 'errors',
    'BVMExistsError': 'errors',
    'BVMFileError': 'errors',
    'BVMNotFoundError': 'errors',
    'BVMValueError': 'errors',
    'default_cache_dir': 'fileio',
    'AccuracyReport': 'evaluation.accuracy',
    'EvaluationUnits': 'evaluation.units',
    'Reliability': 'evaluation.calibration',
    'map_reliability': 'maps.reliability',
    'SheetFusion': 'maps.fusion',
    'plot_fused_map': 'maps.fusion',
    'write_mosaic': 'maps.fusion',
    'rasterize_bvm': 'bvm.labels',
    'write_class_raster': 'spatial.classraster',
    'Grid': 'spatial.pixelgrid',
    'SheetPredictionWriter': 'training.prediction',
    'CalendarYearSampler': 'samplers',
    'CentreTimestampSampler': 'samplers',
    'SheetGridSampler': 'samplers',
    'SheetObservationSampler': 'samplers',
    'SheetSampler': 'samplers',
    'SeamRates': 'maps.seams',
    'seam_rates': 'maps.seams',
    'PAPER_SPLIT': 'sheets',
    'Sheet': 'sheets',
    'SplitScheme': 'sheets',
    'compare_official': 'sheets',
    'grid': 'sheets',
    'SplitStatistics': 'bvm.statistics',
    'chi_squared_distance': 'bvm.statistics',
    'split_class_counts': 'bvm.statistics',
    'BVMSemanticSegmentation': 'training.tasks',
    'BVMTemporalSegmentation': 'training.temporal',
    'UTAE': 'models',
    'EarlyFusionUNet': 'models',
    'LateFusionUNet': 'models',
    'PixelTemporalEncoder': 'models',
    'TemporalAttention': 'models',
    'load_encoder_weights': 'models',
}

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'DEFAULT_CRS',
    'IGNORE_INDEX',
    'MAPPING_VERSION',
    'NUM_CLASSES',
    'PAPER_SPLIT',
    'UTAE',
    'AccuracyReport',
    'BVMClass',
    'BVMDataModule',
    'BVMDataset',
    'BVMError',
    'BVMExistsError',
    'BVMFileError',
    'BVMLayer',
    'BVMNotFoundError',
    'BVMPolygons',
    'BVMRaster',
    'BVMSemanticSegmentation',
    'BVMSentinel2',
    'BVMTemporalSegmentation',
    'BVMValueError',
    'CalendarYearSampler',
    'CentreTimestampSampler',
    'ClassMap',
    'CloudRule',
    'ConfusionMatrixWriter',
    'DownloadOptions',
    'EarlyFusionUNet',
    'EvaluationUnits',
    'Grid',
    'ImageryDataset',
    'ImageryOptions',
    'LabelOptions',
    'LateFusionUNet',
    'MetricTable',
    'PixelTemporalEncoder',
    'PredictionOptions',
    'PredictionPlan',
    'RadarOptions',
    'Reliability',
    'SamplingOptions',
    'SeamRates',
    'Sentinel1Sigma0',
    'Sentinel2TOC',
    'Sheet',
    'SheetFusion',
    'SheetGridSampler',
    'SheetObservationSampler',
    'SheetPredictionWriter',
    'SheetSampler',
    'SplitScheme',
    'SplitStatistics',
    'TemporalAttention',
    'TimeSeriesOptions',
    'UnitMapping',
    '__version__',
    'chi_squared_distance',
    'compare_official',
    'compare_with_bvm',
    'default_cache_dir',
    'download',
    'grid',
    'load_encoder_weights',
    'map_integer_labels',
    'map_reliability',
    'plot_fused_map',
    'rasterize_bvm',
    'resolution_for',
    'seam_rates',
    'split_class_counts',
    'write_class_raster',
    'write_mosaic',
]


class _Package(types.ModuleType):
    """The package, keeping its function ``download`` over the subpackage.

    Importing ``torchgeo_bvm.download`` binds the subpackage to the name
    ``download`` of its parent; the public name is the function (as it was
    before imports became lazy), so that binding is left out. The subpackage
    stays importable by its full name.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _HOMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
