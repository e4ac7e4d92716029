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
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import rasterio.windows
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window

from .bvmpolygons import BVMPolygons, HasBVMPolygons
from .bwk import UnitMapping
from .checks import check_pixels, check_resolution
from .classes import CLASSES, IGNORE_INDEX, BVMClass
from .cog import (
    COG_BLOCK_SIZE as COG_BLOCK_SIZE,  # its old import path
    BlockSource,
    write_cog,
)
from .crs import DEFAULT_CRS, resolution_for
from .errors import BVMValueError
from .fileio import check_output
from .pixelgrid import Grid as Grid  # its old import path
from .scanline import polygon_coverage
from .sheets import Sheet

__all__ = [
    'COG_BLOCK_SIZE',
    'ClassSource',
    'class_raster_aux_xml',
    'rasterize_bvm',
    'write_class_raster',
]

#: Class ids to write: ``[height, width]`` uint8, or a function returning the
#: block of a window.
ClassSource = NDArray[np.uint8] | Callable[[Window], NDArray[np.uint8]]


def class_raster_aux_xml(
    classes: Sequence[BVMClass] = CLASSES, description: str = 'class'
) -> str:
    """The GDAL ``.aux.xml`` naming the classes of a class-id raster.

    It holds the band description, the colour table (one entry per value up to
    the largest class id, transparent where no class has the value; nodata has
    no entry, so QGIS's paletted renderer lists the classes and nothing else),
    the class names as category names and a thematic raster attribute table
    (value, class name, red, green, blue), which QGIS and GDAL read from beside
    the GeoTIFF.

    Args:
        classes: the classes; their ids are the pixel values.
        description: the band description.

    Returns:
        The XML text.
    """
    by_id = {c.id: c for c in classes}
    categories = ''.join(
        f'      <Category>{escape(by_id[i].name) if i in by_id else ""}</Category>\n'
        for i in range(max(by_id) + 1)
    )
    # Usage codes are GDAL's GDALRATFieldUsage: 5 MinMax, 2 Name, 6-8 Red-Blue;
    # types are GDALRATFieldType: 0 integer, 2 string.
    fields = [('Value', 0, 5), ('Class', 2, 2), ('Red', 0, 6), ('Green', 0, 7)]
    fields.append(('Blue', 0, 8))
    definitions = ''.join(
        f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{kind}</Type>'
        f'<Usage>{usage}</Usage></FieldDefn>\n'
        for i, (name, kind, usage) in enumerate(fields)
    )
    rows = ''.join(
        f'      <Row index="{row}"><F>{c.id}</F><F>{escape(c.name)}</F>'
        + ''.join(f'<F>{v}</F>' for v in c.rgb)
        + '</Row>\n'
        for row, c in enumerate(classes)
    )
    entries = ''.join(
        '      <Entry c1="{}" c2="{}" c3="{}" c4="{}"/>\n'.format(
            *((*by_id[i].rgb, 255) if i in by_id else (0, 0, 0, 0))
        )
        for i in range(max(by_id) + 1)
    )
    return (
        '<PAMDataset>\n'
        '  <PAMRasterBand band="1">\n'
        f'    <Description>{escape(description)}</Description>\n'
        '    <ColorInterp>Palette</ColorInterp>\n'
        '    <ColorTable>\n'
        f'{entries}'
        '    </ColorTable>\n'
        '    <CategoryNames>\n'
        f'{categories}'
        '    </CategoryNames>\n'
        '    <GDALRasterAttributeTable tableType="thematic">\n'
        f'{definitions}{rows}'
        '    </GDALRasterAttributeTable>\n'
        '  </PAMRasterBand>\n'
        '</PAMDataset>\n'
    )


def write_class_raster(
    path: str | os.PathLike[str],
    data: ClassSource,
    grid: Grid,
    classes: Sequence[BVMClass] = CLASSES,
    nodata: int = IGNORE_INDEX,
    description: str = 'class',
    block_size: int = 2048,
    progress: bool = True,
    before_commit: Callable[[], None] | None = None,
) -> Path:
    """Write a class-id raster as a COG with colour table and class names.

    The colour table, the class names and a raster attribute table are in the
    ``.tif.aux.xml`` beside the GeoTIFF (:func:`class_raster_aux_xml`): a TIFF's
    own colour map always has 256 entries, which QGIS lists as 256 classes.

    Args:
        path: the ``.tif`` to write; a ``.tif.aux.xml`` with the colour table
            and class names is written beside it.
        data: the class ids, uint8 [height, width], or a function returning the
            uint8 block of a :class:`~rasterio.windows.Window` (bounded memory).
        grid: the raster grid.
        classes: the classes (their ids are the values, their colours the colour
            table).
        nodata: the nodata value.
        description: the band description.
        block_size: pixels per block side when producing ``data`` (a multiple of
            :data:`~torchgeo_bvm.cog.COG_BLOCK_SIZE`).
        progress: show a progress bar.
        before_commit: called once every block is written, before the file
            appears; raising from it leaves no file (and any old one as it was).

    Returns:
        The written path.

    Raises:
        BVMValueError: if an array has the wrong shape or a block the wrong size.
    """
    path = Path(path)
    height, width = grid.shape
    if isinstance(data, np.ndarray):
        if data.shape != (height, width):
            raise BVMValueError(
                f'{path}: data of shape {data.shape} for a grid of '
                f'{height} x {width} pixels'
            )
        source: BlockSource = data[np.newaxis]
    else:
        function = data

        def source(window: Window) -> NDArray[np.uint8]:
            block = np.asarray(function(window), dtype=np.uint8)
            if block.shape != (window.height, window.width):
                raise BVMValueError(
                    f'block function returned shape {block.shape} for window {window}'
                )
            return block[np.newaxis]

    return write_cog(
        path,
        source,
        grid,
        count=1,
        dtype='uint8',
        nodata=nodata,
        descriptions=[description],
        aux_xml=class_raster_aux_xml(classes, description),
        block_size=block_size,
        progress=progress,
        before_commit=before_commit,
    )


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
            :class:`~torchgeo_bvm.bvmpolygons.BVMPolygons` takes it), its
            polygons, or a dataset holding them (``BVMDataset``).
        out: the GeoTIFF to write; never one of the inputs.
        crs: CRS of the grid (default EPSG:4326); not with ``like``.
        res: resolution (default the equivalent of 10 m); not with ``like``.
        like: a reference raster whose grid is used exactly.
        sheets: map sheets (any level) to restrict the raster to; the grid then
            covers their bounding box (unless ``like`` is given).
        layer: layer name (see :class:`~torchgeo_bvm.bvmpolygons.BVMPolygons`).
        label_field: label field (see ``BVMPolygons``).
        mapping: unit -> class table (see ``BVMPolygons``).
        block_size: pixels per block side (memory: about ``block_size²`` bytes).
        progress: show a progress bar.
        overwrite: replace ``out`` if it exists (the command line asks for
            ``--overwrite``).

    Returns:
        The written path.

    Raises:
        BVMValueError: if ``like`` is combined with ``crs`` or ``res``, the
            resolution is not positive, the grid would be too large, misses the
            map, or holds no labelled pixel.
        BVMExistsError: if ``out`` is an input, or exists and ``overwrite`` is
            False.
    """
    if like is not None and (crs is not None or res is not None):
        raise BVMValueError('give either like= or crs=/res=, not both')
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
