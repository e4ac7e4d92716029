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
    from .bvmlayer import BVMLayer
    from .bvmpolygons import BVMPolygons
    from .bwk import MAPPING_VERSION, UnitMapping, map_integer_labels
    from .callbacks import ConfusionMatrixWriter, MetricTable
    from .classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, NUM_CLASSES, BVMClass
    from .classmap import ClassMap
    from .compare import compare_with_bvm
    from .crs import DEFAULT_CRS, resolution_for
    from .datamodules import BVMDataModule, TimeSeriesOptions
    from .datasets import BVMDataset, BVMRaster, CloudRule, Sentinel2TOC
    from .datasets.joint import BVMSentinel2
    from .download import DownloadOptions, download
    from .errors import (
        BVMError,
        BVMExistsError,
        BVMFileError,
        BVMNotFoundError,
        BVMValueError,
    )
    from .fileio import default_cache_dir
    from .fusion import SheetFusion, plot_fused_map, write_mosaic
    from .labels import rasterize_bvm, write_class_raster
    from .pixelgrid import Grid
    from .prediction import SheetPredictionWriter
    from .samplers import (
        CalendarYearSampler,
        CentreTimestampSampler,
        KaartbladGridSampler,
        KaartbladObservationSampler,
        KaartbladSampler,
    )
    from .seams import SeamRates, seam_rates
    from .sheets import PAPER_SPLIT, Sheet, SplitScheme, compare_official, grid
    from .statistics import SplitStatistics, chi_squared_distance, split_class_counts
    from .tasks import BVMSemanticSegmentation

__version__ = '0.1.0'

#: The module each public name lives in.
_HOMES: dict[str, str] = {
    'BVMLayer': 'bvmlayer',
    'BVMPolygons': 'bvmpolygons',
    'MAPPING_VERSION': 'bwk',
    'UnitMapping': 'bwk',
    'map_integer_labels': 'bwk',
    'ConfusionMatrixWriter': 'callbacks',
    'MetricTable': 'callbacks',
    'CLASS_NAMES': 'classes',
    'CLASSES': 'classes',
    'IGNORE_INDEX': 'classes',
    'NUM_CLASSES': 'classes',
    'BVMClass': 'classes',
    'ClassMap': 'classmap',
    'compare_with_bvm': 'compare',
    'DEFAULT_CRS': 'crs',
    'resolution_for': 'crs',
    'BVMDataModule': 'datamodules',
    'TimeSeriesOptions': 'datamodules',
    'BVMDataset': 'datasets',
    'BVMRaster': 'datasets',
    'CloudRule': 'datasets',
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
    'SheetFusion': 'fusion',
    'plot_fused_map': 'fusion',
    'write_mosaic': 'fusion',
    'rasterize_bvm': 'labels',
    'write_class_raster': 'labels',
    'Grid': 'pixelgrid',
    'SheetPredictionWriter': 'prediction',
    'CalendarYearSampler': 'samplers',
    'CentreTimestampSampler': 'samplers',
    'KaartbladGridSampler': 'samplers',
    'KaartbladObservationSampler': 'samplers',
    'KaartbladSampler': 'samplers',
    'SeamRates': 'seams',
    'seam_rates': 'seams',
    'PAPER_SPLIT': 'sheets',
    'Sheet': 'sheets',
    'SplitScheme': 'sheets',
    'compare_official': 'sheets',
    'grid': 'sheets',
    'SplitStatistics': 'statistics',
    'chi_squared_distance': 'statistics',
    'split_class_counts': 'statistics',
    'BVMSemanticSegmentation': 'tasks',
}

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'DEFAULT_CRS',
    'IGNORE_INDEX',
    'MAPPING_VERSION',
    'NUM_CLASSES',
    'PAPER_SPLIT',
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
    'BVMValueError',
    'CalendarYearSampler',
    'CentreTimestampSampler',
    'ClassMap',
    'CloudRule',
    'ConfusionMatrixWriter',
    'DownloadOptions',
    'Grid',
    'KaartbladGridSampler',
    'KaartbladObservationSampler',
    'KaartbladSampler',
    'MetricTable',
    'SeamRates',
    'Sentinel2TOC',
    'Sheet',
    'SheetFusion',
    'SheetPredictionWriter',
    'SplitScheme',
    'SplitStatistics',
    'TimeSeriesOptions',
    'UnitMapping',
    '__version__',
    'chi_squared_distance',
    'compare_official',
    'compare_with_bvm',
    'default_cache_dir',
    'download',
    'grid',
    'map_integer_labels',
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
