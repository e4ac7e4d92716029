"""The Biological Valuation Map: its layer, units, polygons, labels and statistics.

:mod:`~torchgeo_bvm.bvm.layer` finds and checks the ``BwkHab`` layer,
:mod:`~torchgeo_bvm.bvm.units` maps its mapping units to the 14 classes,
:mod:`~torchgeo_bvm.bvm.polygons` prepares its polygons once (kept by
:mod:`~torchgeo_bvm.bvm.polygonstore`), :mod:`~torchgeo_bvm.bvm.labels` writes
label rasters, :mod:`~torchgeo_bvm.bvm.statistics` the split statistics and
:mod:`~torchgeo_bvm.bvm.tags` reads the mapping year in a polygon's ``TAG``.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .labels import rasterize_bvm
    from .layer import BVM_LAYER, FLANDERS_EXTENT, BVMLayer, LayerInfo, LayerLabels
    from .polygons import BVMPolygons, HasBVMPolygons, LoadReport
    from .polygonstore import PolygonStore, StoreInfo
    from .statistics import (
        STATISTICS_FILES,
        SplitStatistics,
        chi_squared_distance,
        median_frequency_weights,
        split_class_counts,
    )
    from .tags import mapping_year, mapping_years
    from .units import (
        MAPPING_FILE,
        MAPPING_VERSION,
        TREE_CODES,
        MappingResult,
        UnitMapping,
        classify_habitat,
        load_mapping_table,
        map_integer_labels,
        normalise_code,
    )

_HOMES: dict[str, str] = {
    'BVMLayer': 'layer',
    'BVMPolygons': 'polygons',
    'BVM_LAYER': 'layer',
    'FLANDERS_EXTENT': 'layer',
    'HasBVMPolygons': 'polygons',
    'LayerInfo': 'layer',
    'LayerLabels': 'layer',
    'LoadReport': 'polygons',
    'MAPPING_FILE': 'units',
    'MAPPING_VERSION': 'units',
    'MappingResult': 'units',
    'PolygonStore': 'polygonstore',
    'STATISTICS_FILES': 'statistics',
    'SplitStatistics': 'statistics',
    'StoreInfo': 'polygonstore',
    'TREE_CODES': 'units',
    'UnitMapping': 'units',
    'chi_squared_distance': 'statistics',
    'classify_habitat': 'units',
    'load_mapping_table': 'units',
    'map_integer_labels': 'units',
    'mapping_year': 'tags',
    'mapping_years': 'tags',
    'median_frequency_weights': 'statistics',
    'normalise_code': 'units',
    'rasterize_bvm': 'labels',
    'split_class_counts': 'statistics',
}

__all__ = [
    'BVM_LAYER',
    'FLANDERS_EXTENT',
    'MAPPING_FILE',
    'MAPPING_VERSION',
    'STATISTICS_FILES',
    'TREE_CODES',
    'BVMLayer',
    'BVMPolygons',
    'HasBVMPolygons',
    'LayerInfo',
    'LayerLabels',
    'LoadReport',
    'MappingResult',
    'PolygonStore',
    'SplitStatistics',
    'StoreInfo',
    'UnitMapping',
    'chi_squared_distance',
    'classify_habitat',
    'load_mapping_table',
    'map_integer_labels',
    'mapping_year',
    'mapping_years',
    'median_frequency_weights',
    'normalise_code',
    'rasterize_bvm',
    'split_class_counts',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
