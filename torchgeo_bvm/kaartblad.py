"""The old home of the map sheets, kept so that existing imports keep working.

Map sheets and split schemes now live in :mod:`torchgeo_bvm.sheets`, the plot
of the sheets by split in :mod:`torchgeo_bvm.plot` and reprojection in
:mod:`torchgeo_bvm.geometry`; every name this module had is re-exported here
unchanged.
"""

from .geometry import reproject_geometry
from .plot import SPLIT_COLOURS, plot_grid
from .sheets import (
    KBL4_PARTS,
    KBL8_POSITIONS,
    KBL_CRS,
    KBL_HEIGHT,
    KBL_NAMES,
    KBL_WIDTH,
    LEVELS,
    OFFICIAL_FIELDS,
    PAPER_SPLIT,
    Level,
    Sheet,
    SheetDifference,
    SplitScheme,
    compare_official,
    grid,
    iter_codes,
    read_official,
    sheets,
)

__all__ = [
    'KBL4_PARTS',
    'KBL8_POSITIONS',
    'KBL_CRS',
    'KBL_HEIGHT',
    'KBL_NAMES',
    'KBL_WIDTH',
    'LEVELS',
    'OFFICIAL_FIELDS',
    'PAPER_SPLIT',
    'SPLIT_COLOURS',
    'Level',
    'Sheet',
    'SheetDifference',
    'SplitScheme',
    'compare_official',
    'grid',
    'iter_codes',
    'plot_grid',
    'read_official',
    'reproject_geometry',
    'sheets',
]
