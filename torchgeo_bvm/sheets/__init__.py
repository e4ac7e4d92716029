"""The NGI map-sheet grid, split schemes, sheets on a pixel grid and Flanders.

:mod:`~torchgeo_bvm.sheets.codes` parses every spelling of a sheet code,
:mod:`~torchgeo_bvm.sheets.scheme` assigns sub-sheets to splits,
:mod:`~torchgeo_bvm.sheets.official` reads and checks the official sheet files,
:mod:`~torchgeo_bvm.sheets.layout` lays the sheets on a dataset's pixel grid,
:mod:`~torchgeo_bvm.sheets.plan` plans the maps of a prediction run and
:mod:`~torchgeo_bvm.sheets.boundary` knows where Flanders is. Nothing here
imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .boundary import FlandersMask, flanders_from_labels, read_boundary
    from .codes import (
        KBL_CRS,
        KBL_NAMES,
        LEVELS,
        Level,
        Sheet,
        iter_codes,
        kbl_numbers,
        sheets,
    )
    from .layout import (
        SheetDataset,
        SheetLayout,
        SheetSelection,
        SplitRegion,
        crop_domain,
        mirror_sources_from_extent,
        reflect_index,
        tile_starts,
    )
    from .official import (
        OFFICIAL_FIELDS,
        SheetDifference,
        compare_official,
        grid,
        read_official,
    )
    from .plan import (
        PredictionPlan,
        SheetPlan,
        TileQuery,
        period_name,
        period_words,
    )
    from .scheme import PAPER_SPLIT, SplitScheme

_HOMES: dict[str, str] = {
    'FlandersMask': 'boundary',
    'KBL_CRS': 'codes',
    'KBL_NAMES': 'codes',
    'LEVELS': 'codes',
    'Level': 'codes',
    'OFFICIAL_FIELDS': 'official',
    'PAPER_SPLIT': 'scheme',
    'Sheet': 'codes',
    'SheetDataset': 'layout',
    'SheetDifference': 'official',
    'PredictionPlan': 'plan',
    'SheetLayout': 'layout',
    'SheetPlan': 'plan',
    'SheetSelection': 'layout',
    'TileQuery': 'plan',
    'period_name': 'plan',
    'period_words': 'plan',
    'tile_starts': 'layout',
    'SplitRegion': 'layout',
    'SplitScheme': 'scheme',
    'compare_official': 'official',
    'crop_domain': 'layout',
    'flanders_from_labels': 'boundary',
    'grid': 'official',
    'iter_codes': 'codes',
    'kbl_numbers': 'codes',
    'mirror_sources_from_extent': 'layout',
    'read_boundary': 'boundary',
    'read_official': 'official',
    'reflect_index': 'layout',
    'sheets': 'codes',
}

__all__ = [
    'KBL_CRS',
    'KBL_NAMES',
    'LEVELS',
    'OFFICIAL_FIELDS',
    'PAPER_SPLIT',
    'FlandersMask',
    'Level',
    'PredictionPlan',
    'Sheet',
    'SheetDataset',
    'SheetDifference',
    'SheetLayout',
    'SheetPlan',
    'SheetSelection',
    'SplitRegion',
    'SplitScheme',
    'TileQuery',
    'compare_official',
    'crop_domain',
    'flanders_from_labels',
    'grid',
    'iter_codes',
    'kbl_numbers',
    'mirror_sources_from_extent',
    'period_name',
    'period_words',
    'read_boundary',
    'read_official',
    'reflect_index',
    'sheets',
    'tile_starts',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
