"""The old home of the map sheets, kept so that existing imports keep working.

Map sheets and split schemes now live in :mod:`torchgeo_bvm.sheets`, the plot
of the sheets by split in :mod:`torchgeo_bvm.plot` and reprojection in
:mod:`torchgeo_bvm.geometry`; every name this module had is re-exported here
unchanged.
"""

# ``X as X``: re-exported under the old path (no __all__ here, so this module
# does not repeat the list of what it re-exports).
from .geometry import (
    reproject_geometry as reproject_geometry,
)
from .plot import (
    SPLIT_COLOURS as SPLIT_COLOURS,
    plot_grid as plot_grid,
)
from .sheets import (
    KBL4_PARTS as KBL4_PARTS,
    KBL8_POSITIONS as KBL8_POSITIONS,
    KBL_CRS as KBL_CRS,
    KBL_HEIGHT as KBL_HEIGHT,
    KBL_NAMES as KBL_NAMES,
    KBL_WIDTH as KBL_WIDTH,
    LEVELS as LEVELS,
    OFFICIAL_FIELDS as OFFICIAL_FIELDS,
    PAPER_SPLIT as PAPER_SPLIT,
    Level as Level,
    Sheet as Sheet,
    SheetDifference as SheetDifference,
    SplitScheme as SplitScheme,
    compare_official as compare_official,
    grid as grid,
    iter_codes as iter_codes,
    read_official as read_official,
    sheets as sheets,
)
