"""The truth beside a mini-Flanders: what changed, and the land cover of each year.

A real user has the BVM and the imagery; the mini-Flanders also knows what
lies on the ground, and writes it under ``truth/`` so that a ranking of
candidates or a map's confidence can be scored:

* ``truth/changes.csv``: one row per BVM polygon whose land cover changed
  after its mapping (:mod:`.changes`), in the layer's order, with the columns
  ``TAG`` and ``UIDN`` (the polygon, as in the BVM layer), ``bvm_class`` (the
  class id of its BVM record, as the label rasters hold it), ``true_class``
  (the class id of its new land cover) and ``change_year`` (the first year
  the imagery shows the new cover). Every other polygon's BVM record is true.
* ``truth/landcover_YYYY.tif``: the true class of every pixel in each year
  of imagery, class ids as the label rasters (0..13, 255 where no polygon
  lies), on the label grid: the grid ``torchgeo-bvm rasterize --crs
  EPSG:32631 --res 10`` gives the BVM layer (the imagery's CRS, pixel size and
  lattice, over the polygons' extent), burnt by the labels' rule (pixel
  centre inside; where polygons overlap the smaller one). It equals that
  label raster except where a changed polygon is on top, from its change
  year on. A class raster like the labels: COG, colour table and class names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rasterio.windows import Window

from ...bvm.polygons import BVMPolygons
from ...classes import IGNORE_INDEX
from ...fileio import atomic_path
from ...spatial.classraster import write_class_raster
from ...spatial.crs import UTM31N
from ...spatial.pixelgrid import Grid
from ...spatial.scanline import burn_polygons
from .changes import Changes

__all__ = [
    'CHANGES_CSV',
    'CHANGE_COLUMNS',
    'TRUTH_FOLDER',
    'landcover_name',
    'write_changes',
    'write_landcover',
]

#: The truth's folder in a mini-Flanders folder.
TRUTH_FOLDER = 'truth'
#: The list of changed polygons, relative to the mini-Flanders folder.
CHANGES_CSV = f'{TRUTH_FOLDER}/changes.csv'
#: Its columns, in order.
CHANGE_COLUMNS = ('TAG', 'UIDN', 'bvm_class', 'true_class', 'change_year')
#: The label grid's resolution (m), in the imagery's CRS.
_RESOLUTION = 10.0


def landcover_name(year: int) -> str:
    """The true land cover raster of a year, relative to the mini-Flanders folder.

    Args:
        year: the year.

    Returns:
        ``truth/landcover_YYYY.tif``.
    """
    return f'{TRUTH_FOLDER}/landcover_{year}.tif'


def write_changes(
    path: Path,
    tags: Sequence[str],
    uidn: Sequence[int],
    bvm_class: NDArray[np.uint8],
    changes: Changes,
) -> Path:
    """Write ``changes.csv`` (see the module).

    Args:
        path: the file to write.
        tags: the ``TAG`` of every polygon of the BVM layer.
        uidn: the ``UIDN`` of every polygon.
        bvm_class: the class id of every polygon's BVM record.
        changes: the changed polygons.

    Returns:
        ``path``.
    """
    rows = changes.rows
    frame = pd.DataFrame(
        {
            'TAG': np.asarray(tags, dtype=object)[rows],
            'UIDN': np.asarray(uidn, dtype=np.int64)[rows],
            'bvm_class': bvm_class[rows].astype(np.int64),
            'true_class': changes.true_classes().astype(np.int64),
            'change_year': changes.years,
        },
        columns=list(CHANGE_COLUMNS),
    )
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False, lineterminator='\n')
    return path


def write_landcover(
    out: Path, bvm: Path, changes: Changes, years: Sequence[int]
) -> dict[int, Path]:
    """Write ``truth/landcover_YYYY.tif`` for each year (see the module).

    Args:
        out: the mini-Flanders folder.
        bvm: its BVM layer (``bvm/BwkHab.shp``), already written.
        changes: the changed polygons (rows of the layer).
        years: the years of imagery.

    Returns:
        Year -> the raster written.
    """
    written = {}
    # The polygons are prepared in a hidden folder of their own, removed after.
    with tempfile.TemporaryDirectory(dir=out, prefix='.truth-') as cache:
        polygons = BVMPolygons(bvm, cache_dir=cache)
        store = polygons.store(UTM31N)
        grid = Grid.from_bounds(polygons.extent(UTM31N), UTM31N, _RESOLUTION)
        mapped = polygons.mapping_result.ids
        for year in years:
            truth = mapped.copy()
            done = changes.years <= year
            truth[changes.rows[done]] = changes.true_classes()[done]
            in_burn_order = truth[store.source_index]

            def block(
                window: Window, labels: NDArray[np.uint8] = in_burn_order
            ) -> NDArray[np.uint8]:
                transform = grid.window_transform(
                    int(window.col_off), int(window.row_off)
                )
                shape = (int(window.height), int(window.width))
                west, north = transform.c, transform.f
                east = west + shape[1] * grid.xres
                south = north - shape[0] * grid.yres
                hits = store.query((west, south, east, north))
                if not len(hits):
                    return np.full(shape, IGNORE_INDEX, dtype=np.uint8)
                return burn_polygons(
                    store.outlines(hits), labels[hits], transform, shape, IGNORE_INDEX
                )

            written[year] = write_class_raster(
                out / landcover_name(year),
                block,
                grid,
                description=f'true land cover {year}',
                progress=False,
            )
    return written
