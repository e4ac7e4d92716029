"""TorchGeo datasets for the Biological Valuation Map and Sentinel-2 TOC imagery.

:class:`IndexArrays` and :class:`CachedBounds` are the faster equivalents of
TorchGeo's per-query bookkeeping that these datasets (and the samplers of
:mod:`torchgeo_bvm.samplers`) use; any ``GeoDataset`` subclass may use them too.
"""

from ._fastpath import CachedBounds, IndexArrays
from .bvm import BVMDataset, BVMRaster
from .sentinel2 import CloudRule, Sentinel2TOC

__all__ = [
    'BVMDataset',
    'BVMRaster',
    'CachedBounds',
    'CloudRule',
    'IndexArrays',
    'Sentinel2TOC',
]
