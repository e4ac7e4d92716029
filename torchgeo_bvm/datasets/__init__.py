"""TorchGeo datasets for the Biological Valuation Map and Sentinel-2 TOC imagery."""

from .bvm import BVMDataset, BVMRaster
from .sentinel2 import CloudRule, Sentinel2TOC

__all__ = ['BVMDataset', 'BVMRaster', 'CloudRule', 'Sentinel2TOC']
