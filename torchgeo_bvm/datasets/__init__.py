"""TorchGeo datasets for the Biological Valuation Map and Sentinel-1/-2 imagery.

:class:`ImageryDataset` is the imagery core that knows no sensor (products,
headers, the read engine, time series); :class:`Sentinel2TOC` is its
Sentinel-2 sensor and :class:`Sentinel1Sigma0` its Sentinel-1 sensor.

:class:`IndexArrays` and :class:`CachedBounds` are the faster equivalents of
TorchGeo's per-query bookkeeping that these datasets (and the samplers of
:mod:`torchgeo_bvm.samplers`) use; any ``GeoDataset`` subclass may use them too.

The names are loaded on first use (:pep:`562`), so that
:mod:`torchgeo_bvm.datasets.bands`, which needs neither torch nor TorchGeo, can
be imported without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from ._fastpath import CachedBounds, IndexArrays
    from .bands import CloudRule
    from .bvm import BVMDataset, BVMRaster
    from .fused import OpticalRadarSeries
    from .imagery import ImageryDataset, imagery_grid
    from .sensor import SensorDeclaration
    from .sentinel1 import Sentinel1Sigma0
    from .sentinel2 import Sentinel2TOC

#: The module each public name lives in.
_HOMES = {
    'BVMDataset': 'bvm',
    'BVMRaster': 'bvm',
    'CachedBounds': '_fastpath',
    'CloudRule': 'sentinel2',
    'ImageryDataset': 'imagery',
    'IndexArrays': '_fastpath',
    'OpticalRadarSeries': 'fused',
    'SensorDeclaration': 'sensor',
    'Sentinel1Sigma0': 'sentinel1',
    'Sentinel2TOC': 'sentinel2',
    'imagery_grid': 'imagery',
}

__all__ = [
    'BVMDataset',
    'BVMRaster',
    'CachedBounds',
    'CloudRule',
    'ImageryDataset',
    'IndexArrays',
    'OpticalRadarSeries',
    'SensorDeclaration',
    'Sentinel1Sigma0',
    'Sentinel2TOC',
    'imagery_grid',
]


__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
