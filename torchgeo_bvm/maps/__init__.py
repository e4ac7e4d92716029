"""Fused class maps: their files, fusion, seams, and the comparison with the BVM.

:mod:`~torchgeo_bvm.maps.files` is the file contract of a fused map (class raster,
``_confidence`` and ``_count`` siblings), :mod:`~torchgeo_bvm.maps.fusion` writes
them, :mod:`~torchgeo_bvm.maps.folder` keeps a folder of them one period of one
run, :mod:`~torchgeo_bvm.maps.seams` measures tile seams and
:mod:`~torchgeo_bvm.maps.compare` ranks BVM polygons where a map disagrees.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .compare import (
        OUTPUT_NAMES,
        SIZE_HALF_PIXELS,
        Comparison,
        ZonalCounts,
        class_summary,
        compare_with_bvm,
        plot_candidates,
        polygon_table,
        ranking_score,
        summary_markdown,
        zonal_counts,
    )
    from .files import (
        CLASS_MAP_SUFFIXES,
        CONFIDENCE_SCALE,
        SIBLING_SUFFIXES,
        ClassMap,
        check_maps_disjoint,
        find_class_maps,
        sibling_path,
    )
    from .folder import (
        MANIFEST,
        MANIFEST_FORMAT,
        MapRun,
        check_map_folder,
        check_map_folders,
        check_run_folder,
        finish_map_run,
        read_manifest,
        start_map_run,
        write_manifest,
    )
    from .fusion import MAX_COUNT, SheetFusion, edge_taper, plot_fused_map, write_mosaic
    from .seams import SeamRates, seam_rates, tile_borders

_HOMES: dict[str, str] = {
    'CLASS_MAP_SUFFIXES': 'files',
    'CONFIDENCE_SCALE': 'files',
    'ClassMap': 'files',
    'Comparison': 'compare',
    'MANIFEST': 'folder',
    'MANIFEST_FORMAT': 'folder',
    'MAX_COUNT': 'fusion',
    'MapRun': 'folder',
    'OUTPUT_NAMES': 'compare',
    'SIBLING_SUFFIXES': 'files',
    'SIZE_HALF_PIXELS': 'compare',
    'SeamRates': 'seams',
    'SheetFusion': 'fusion',
    'ZonalCounts': 'compare',
    'check_map_folder': 'folder',
    'check_map_folders': 'folder',
    'check_maps_disjoint': 'files',
    'check_run_folder': 'folder',
    'finish_map_run': 'folder',
    'read_manifest': 'folder',
    'start_map_run': 'folder',
    'write_manifest': 'folder',
    'class_summary': 'compare',
    'compare_with_bvm': 'compare',
    'edge_taper': 'fusion',
    'find_class_maps': 'files',
    'plot_candidates': 'compare',
    'plot_fused_map': 'fusion',
    'polygon_table': 'compare',
    'ranking_score': 'compare',
    'seam_rates': 'seams',
    'sibling_path': 'files',
    'summary_markdown': 'compare',
    'tile_borders': 'seams',
    'write_mosaic': 'fusion',
    'zonal_counts': 'compare',
}

__all__ = [
    'CLASS_MAP_SUFFIXES',
    'CONFIDENCE_SCALE',
    'MANIFEST',
    'MANIFEST_FORMAT',
    'MAX_COUNT',
    'OUTPUT_NAMES',
    'SIBLING_SUFFIXES',
    'SIZE_HALF_PIXELS',
    'ClassMap',
    'Comparison',
    'MapRun',
    'SeamRates',
    'SheetFusion',
    'ZonalCounts',
    'check_map_folder',
    'check_map_folders',
    'check_maps_disjoint',
    'check_run_folder',
    'class_summary',
    'compare_with_bvm',
    'edge_taper',
    'find_class_maps',
    'finish_map_run',
    'plot_candidates',
    'plot_fused_map',
    'polygon_table',
    'ranking_score',
    'read_manifest',
    'seam_rates',
    'sibling_path',
    'start_map_run',
    'summary_markdown',
    'tile_borders',
    'write_manifest',
    'write_mosaic',
    'zonal_counts',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
