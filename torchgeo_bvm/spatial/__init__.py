"""Pixel grids, coordinate reference systems, geometry and rasters on disk.

The lowest layer above the package's basics: where pixels are
(:class:`~torchgeo_bvm.spatial.pixelgrid.Grid`), how polygons become pixels
(:mod:`~torchgeo_bvm.spatial.scanline`), and the two raster writers every output
uses (:func:`~torchgeo_bvm.spatial.cog.write_cog`,
:func:`~torchgeo_bvm.spatial.classraster.write_class_raster`). Nothing here imports
torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .classraster import (
        ClassSource,
        class_raster_aux_xml,
        open_label_raster,
        write_class_raster,
    )
    from .cog import COG_BLOCK_SIZE, COG_SUFFIXES, BlockSource, write_cog
    from .crs import (
        DEFAULT_CRS,
        FLANDERS_CENTRE,
        LAMBERT72,
        UTM31N,
        is_lambert72,
        pixel_size_m,
        resolution_for,
        to_lambert72,
    )
    from .geometry import (
        polygonal,
        repair_polygons,
        reproject_bounds,
        reproject_geometry,
    )
    from .pixelgrid import Grid, location_seed, merge_fill, nodata_is_the_only_mask
    from .scanline import (
        Outlines,
        burn_polygons,
        is_simple_polygon,
        pixel_runs,
        polygon_coverage,
        row_extent,
        run_pixels,
        runs_to_mask,
    )

_HOMES: dict[str, str] = {
    'BlockSource': 'cog',
    'COG_BLOCK_SIZE': 'cog',
    'COG_SUFFIXES': 'cog',
    'ClassSource': 'classraster',
    'DEFAULT_CRS': 'crs',
    'FLANDERS_CENTRE': 'crs',
    'Grid': 'pixelgrid',
    'LAMBERT72': 'crs',
    'Outlines': 'scanline',
    'UTM31N': 'crs',
    'burn_polygons': 'scanline',
    'class_raster_aux_xml': 'classraster',
    'is_lambert72': 'crs',
    'is_simple_polygon': 'scanline',
    'location_seed': 'pixelgrid',
    'merge_fill': 'pixelgrid',
    'nodata_is_the_only_mask': 'pixelgrid',
    'pixel_runs': 'scanline',
    'pixel_size_m': 'crs',
    'polygon_coverage': 'scanline',
    'polygonal': 'geometry',
    'repair_polygons': 'geometry',
    'reproject_bounds': 'geometry',
    'reproject_geometry': 'geometry',
    'resolution_for': 'crs',
    'row_extent': 'scanline',
    'run_pixels': 'scanline',
    'runs_to_mask': 'scanline',
    'to_lambert72': 'crs',
    'open_label_raster': 'classraster',
    'write_class_raster': 'classraster',
    'write_cog': 'cog',
}

__all__ = [
    'COG_BLOCK_SIZE',
    'COG_SUFFIXES',
    'DEFAULT_CRS',
    'FLANDERS_CENTRE',
    'LAMBERT72',
    'UTM31N',
    'BlockSource',
    'ClassSource',
    'Grid',
    'Outlines',
    'burn_polygons',
    'class_raster_aux_xml',
    'is_lambert72',
    'is_simple_polygon',
    'location_seed',
    'merge_fill',
    'nodata_is_the_only_mask',
    'open_label_raster',
    'pixel_runs',
    'pixel_size_m',
    'polygon_coverage',
    'polygonal',
    'repair_polygons',
    'reproject_bounds',
    'reproject_geometry',
    'resolution_for',
    'row_extent',
    'run_pixels',
    'runs_to_mask',
    'to_lambert72',
    'write_class_raster',
    'write_cog',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
