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
    from .candidates import TRUE_COLOUR, TrueColourImage, find_images, plot_candidates
    from .compare import (
        OUTPUT_NAMES,
        Comparison,
        class_summary,
        compare_with_bvm,
        map_year,
        output_paths,
        polygon_table,
        summary_markdown,
    )
    from .files import (
        CLASS_MAP_SUFFIXES,
        CONFIDENCE_SCALE,
        SIBLING_SUFFIXES,
        ClassMap,
        check_maps_disjoint,
        find_class_maps,
        optional_sibling,
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
    from .fusion import (
        MAX_COUNT,
        MOSAIC,
        SheetFusion,
        edge_taper,
        plot_fused_map,
        write_fused_sheet,
        write_mosaic,
    )
    from .polygonaccuracy import polygon_accuracy
    from .ranking import (
        EVIDENCE_STEPS,
        PRIOR_PIXELS,
        class_typical,
        disagreement_extent,
        evidence_weight,
        excess_disagreement,
        ranking_score,
        step_scores,
        years_since_mapping,
    )
    from .reliability import map_outcomes, map_reliability
    from .seams import SeamRates, seam_rates, tile_borders
    from .truth import (
        REQUIRED_COLUMNS,
        TRUTH_NAME,
        describe_scores,
        read_changes,
        score_ranking,
    )
    from .zonal import ZonalCounts, zonal_counts

_HOMES: dict[str, str] = {
    'CLASS_MAP_SUFFIXES': 'files',
    'CONFIDENCE_SCALE': 'files',
    'ClassMap': 'files',
    'Comparison': 'compare',
    'EVIDENCE_STEPS': 'ranking',
    'MANIFEST': 'folder',
    'MANIFEST_FORMAT': 'folder',
    'MAX_COUNT': 'fusion',
    'MOSAIC': 'fusion',
    'MapRun': 'folder',
    'OUTPUT_NAMES': 'compare',
    'PRIOR_PIXELS': 'ranking',
    'REQUIRED_COLUMNS': 'truth',
    'SIBLING_SUFFIXES': 'files',
    'SeamRates': 'seams',
    'SheetFusion': 'fusion',
    'TRUE_COLOUR': 'candidates',
    'TRUTH_NAME': 'truth',
    'TrueColourImage': 'candidates',
    'ZonalCounts': 'zonal',
    'check_map_folder': 'folder',
    'check_map_folders': 'folder',
    'check_maps_disjoint': 'files',
    'check_run_folder': 'folder',
    'finish_map_run': 'folder',
    'read_manifest': 'folder',
    'start_map_run': 'folder',
    'write_manifest': 'folder',
    'class_summary': 'compare',
    'class_typical': 'ranking',
    'compare_with_bvm': 'compare',
    'disagreement_extent': 'ranking',
    'describe_scores': 'truth',
    'edge_taper': 'fusion',
    'evidence_weight': 'ranking',
    'find_class_maps': 'files',
    'find_images': 'candidates',
    'excess_disagreement': 'ranking',
    'map_year': 'compare',
    'optional_sibling': 'files',
    'output_paths': 'compare',
    'plot_candidates': 'candidates',
    'plot_fused_map': 'fusion',
    'polygon_table': 'compare',
    'map_outcomes': 'reliability',
    'map_reliability': 'reliability',
    'polygon_accuracy': 'polygonaccuracy',
    'ranking_score': 'ranking',
    'read_changes': 'truth',
    'score_ranking': 'truth',
    'seam_rates': 'seams',
    'sibling_path': 'files',
    'step_scores': 'ranking',
    'summary_markdown': 'compare',
    'tile_borders': 'seams',
    'write_fused_sheet': 'fusion',
    'write_mosaic': 'fusion',
    'years_since_mapping': 'ranking',
    'zonal_counts': 'zonal',
}

__all__ = [
    'CLASS_MAP_SUFFIXES',
    'CONFIDENCE_SCALE',
    'EVIDENCE_STEPS',
    'MANIFEST',
    'MANIFEST_FORMAT',
    'MAX_COUNT',
    'MOSAIC',
    'OUTPUT_NAMES',
    'PRIOR_PIXELS',
    'REQUIRED_COLUMNS',
    'SIBLING_SUFFIXES',
    'TRUE_COLOUR',
    'TRUTH_NAME',
    'ClassMap',
    'Comparison',
    'MapRun',
    'SeamRates',
    'SheetFusion',
    'TrueColourImage',
    'ZonalCounts',
    'check_map_folder',
    'check_map_folders',
    'check_maps_disjoint',
    'check_run_folder',
    'class_summary',
    'class_typical',
    'compare_with_bvm',
    'describe_scores',
    'disagreement_extent',
    'edge_taper',
    'evidence_weight',
    'excess_disagreement',
    'find_class_maps',
    'find_images',
    'finish_map_run',
    'map_outcomes',
    'map_reliability',
    'map_year',
    'optional_sibling',
    'output_paths',
    'plot_candidates',
    'plot_fused_map',
    'polygon_accuracy',
    'polygon_table',
    'ranking_score',
    'read_changes',
    'read_manifest',
    'score_ranking',
    'seam_rates',
    'sibling_path',
    'start_map_run',
    'step_scores',
    'summary_markdown',
    'tile_borders',
    'write_fused_sheet',
    'write_manifest',
    'write_mosaic',
    'years_since_mapping',
    'zonal_counts',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
