"""torchgeo-bvm: the Biological Valuation Map of Flanders x Sentinel-2 in TorchGeo."""

from .bwk import MAPPING_VERSION, UnitMapping, map_integer_labels
from .callbacks import ConfusionMatrixWriter, MetricTable
from .classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, NUM_CLASSES, BVMClass
from .crs import DEFAULT_CRS, resolution_for
from .datasets import BVMDataset, BVMRaster, CloudRule, Sentinel2TOC
from .download import DownloadOptions, download
from .errors import BVMError, BVMFileError, BVMValueError
from .labels import rasterize_bvm, write_class_raster
from .pixelgrid import Grid
from .sheets import PAPER_SPLIT, Sheet, SplitScheme, compare_official, grid
from .statistics import SplitStatistics, chi_squared_distance, split_class_counts
from .tasks import BVMSemanticSegmentation

__version__ = '0.1.0'

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'DEFAULT_CRS',
    'IGNORE_INDEX',
    'MAPPING_VERSION',
    'NUM_CLASSES',
    'PAPER_SPLIT',
    'BVMClass',
    'BVMDataset',
    'BVMError',
    'BVMFileError',
    'BVMRaster',
    'BVMSemanticSegmentation',
    'BVMValueError',
    'CloudRule',
    'ConfusionMatrixWriter',
    'DownloadOptions',
    'Grid',
    'MetricTable',
    'Sentinel2TOC',
    'Sheet',
    'SplitScheme',
    'SplitStatistics',
    'UnitMapping',
    '__version__',
    'chi_squared_distance',
    'compare_official',
    'download',
    'grid',
    'map_integer_labels',
    'rasterize_bvm',
    'resolution_for',
    'split_class_counts',
    'write_class_raster',
]
