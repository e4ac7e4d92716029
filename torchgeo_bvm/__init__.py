"""torchgeo-bvm: the Biological Valuation Map of Flanders x Sentinel-2 in TorchGeo."""

from .classes import CLASS_NAMES, CLASSES, IGNORE_INDEX, NUM_CLASSES
from .kaartblad import PAPER_SPLIT, Sheet, SplitScheme

__version__ = '0.1.0'

__all__ = [
    'CLASSES',
    'CLASS_NAMES',
    'IGNORE_INDEX',
    'NUM_CLASSES',
    'PAPER_SPLIT',
    'Sheet',
    'SplitScheme',
    '__version__',
]
