"""Label rasters: the BVM rasterised to class-id GeoTIFFs.

:func:`rasterize_bvm` writes the whole map, or given map sheets, as one uint8
GeoTIFF in Cloud Optimized GeoTIFF layout (512 x 512 DEFLATE tiles, nearest
overviews), nodata :data:`~torchgeo_bvm.classes.IGNORE_INDEX`, the band
description and, in the ``.aux.xml`` beside it, the colour table of the
classes, their names as category names and a raster attribute table, so QGIS
shows the classes by name, one legend entry each. (A TIFF's own colour map
always has 256 entries, which QGIS's paletted renderer lists as 256 classes;
GDAL reads the ``.aux.xml`` unless ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``.)

The grid is either a CRS and resolution (snapped to multiples of the
resolution) or exactly the grid of a reference raster, such as a Sentinel-2
file, so labels and imagery share pixels. The raster is produced block by
block, so memory stays bounded at full Flanders scale, and appears atomically.

:func:`write_class_raster` writes any class-id array or block function in the
same format (prediction maps reuse it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio.windows
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window

from ..checks import check_pixels, check_resolution
from ..classes import IGNORE_INDEX
from ..errors import BVMValueError
from ..fileio import check_output
from ..sheets.codes import Sheet
from ..spatial.classraster import write_class_raster
from ..spatial.cog import COG_SUFFIXES
from ..spatial.crs import DEFAULT_CRS, resolution_for
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import polygon_coverage
from .polygons import BVMPolygons, HasBVMPolygons
from .units import UnitMapping

__all__ = ['rasterize_bvm']


def rasterize_bvm(
    bvm: str | os.PathLike[str] | BVMPolygons | HasBVMPolygons,
    out: str | os.PathLike[str],
    crs: CRS | str | int | None = None,
    res: float | tuple[float, float] | None = None,
    like: str | os.PathLike[str] | None = None,
    sheets: Iterable[Sheet | str] | None = None,
    layer: str | None = None,
    label_field: str = 'EENH1',
    mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
    block_size: int = 2048,
    progress: bool = True,
    overwrite: bool = True,
) -> Path:
    """Rasterise the BVM (or given map sheets) into one class-id GeoTIFF.

    Pixels take the class of the polygon holding their centre; overlaps follow
    :class:`~torchgeo_bvm.datasets.BVMDataset` (the smaller polygon wins), so
    :class:`~torchgeo_bvm.datasets.BVMRaster` on this file returns the same
    masks as :class:`~torchgeo_bvm.datasets.BVMDataset` on the same grid.
    Pixels outside every polygon, or outside the given sheets, are
    IGNORE_INDEX. Without ``like`` or ``sheets`` the grid covers the polygons
    themselves (not the extent the file's header claims).

    Args:
        bvm: the BVM layer (a path, as
            :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons` takes it), its
            polygons, or a dataset holding them (``BVMDataset``).
        out: the GeoTIFF to write; never one of the inputs.
        crs: CRS of the grid (default EPSG:4326); not with ``like``.
        res: resolution (default the equivalent of 10 m); not with ``like``.
        like: a reference raster whose grid is used exactly.
        sheets: map sheets (any level) to restrict the raster to; the grid then
            covers their bounding box (unless ``like`` is given).
        layer: layer name (see :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons`).
        label_field: label field (see ``BVMPolygons``).
        mapping: unit -> class table (see ``BVMPolygons``).
        block_size: pixels per block side (memory: about ``block_size²`` bytes).
        progress: show a progress bar.
        overwrite: replace ``out`` if it exists (the command line asks for
            ``--overwrite``).

    Returns:
        The written path.

    Raises:
        BVMValueError: if ``out`` is not named ``.tif``, ``like`` is combined
            with ``crs`` or ``res``, the resolution is not positive, the grid
            would be too large, misses the map, or holds no labelled pixel.
        BVMExistsError: if ``out`` is an input, or exists and ``overwrite`` is
            False.
    """
    if like is not None and (crs is not None or res is not None):
        raise BVMValueError('give either like= or crs=/res=, not both')
    if Path(out).suffix.lower() not in COG_SUFFIXES:
        raise BVMValueError(
            f'{out}: the label raster is a GeoTIFF; name it .tif (suffix '
            f'{Path(out).suffix or "none"})'
        )
    resolution = None if res is None else check_resolution(res)
    chosen = [Sheet.parse(s) for s in sheets] if sheets is not None else None
    target = CRS.from_user_input(crs) if crs is not None else DEFAULT_CRS
    source = _layer_of(bvm, layer, label_field, mapping)
    check_output(
        out,
        [
            source.paths,
            *source.file.source_files(),
            like,
            mapping if isinstance(mapping, str | os.PathLike) else None,
        ],
        overwrite=overwrite,
    )
    grid = None
    if like is not None:
        grid = Grid.like(like)
        if grid.crs is not None:  # always: Grid.like refuses rasters without one
            target = grid.crs
    area = None
    if chosen is not None:
        area = shapely.union_all([s.geometry(target) for s in chosen])
    extent = source.extent(target)
    if grid is None:
        bounds = area.bounds if area is not None else extent
        xres, yres = resolution or resolution_for(target)
        check_pixels(
            (bounds[2] - bounds[0]) / xres,
            (bounds[3] - bounds[1]) / yres,
            f'the label raster of {source.source} at resolution {(xres, yres)}',
            'give a coarser resolution (--res) or fewer sheets (--sheets)',
        )
        grid = Grid.from_bounds(bounds, target, (xres, yres))
    map_box = shapely.box(*extent)
    if not map_box.intersects(shapely.box(*grid.bounds)):
        raise BVMValueError(
            f'the grid {grid.bounds} does not overlap the map {map_box.bounds} '
            f'(CRS {target.to_string()})'
        )
    labelled = [0]

    def labels(window: Window) -> NDArray[np.uint8]:
        transform = rasterio.windows.transform(window, grid.transform)
        block = source.rasterize(
            transform, int(window.width), int(window.height), target
        )
        if area is not None:
            shape = (int(window.height), int(window.width))
            # The scanline rule of the labels themselves: pixel centres inside.
            inside = polygon_coverage(shapely.get_parts(area), transform, shape)
            block[~inside] = IGNORE_INDEX
        labelled[0] += int(np.count_nonzero(block != IGNORE_INDEX))
        return block

    def some_labels() -> None:
        if not labelled[0]:
            raise BVMValueError(
                f'{source.source}: no polygon of the layer covers a pixel centre of '
                f'the grid ({grid.width} x {grid.height} pixels of {grid.res}); '
                'nothing to label (polygons smaller than a pixel, or outside the '
                'sheets asked for?)'
            )

    return write_class_raster(
        out,
        labels,
        grid,
        description='BVM class',
        block_size=block_size,
        progress=progress,
        before_commit=some_labels,
    )


def _layer_of(
    bvm: str | os.PathLike[str] | BVMPolygons | HasBVMPolygons,
    layer: str | None,
    label_field: str,
    mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None,
) -> BVMPolygons:
    if isinstance(bvm, BVMPolygons):
        return bvm
    if isinstance(bvm, str | os.PathLike):
        return BVMPolygons(bvm, layer, label_field, mapping)
    return bvm.bvm
