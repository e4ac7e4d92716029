"""Class rasters: class-id GeoTIFFs that open labelled in QGIS."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.io import DatasetReader
from rasterio.windows import Window

from ..classes import CLASSES, IGNORE_INDEX, BVMClass
from ..errors import BVMFileError, BVMValueError
from .cog import BlockSource, write_cog
from .pixelgrid import Grid

#: Class ids to write: ``[height, width]`` uint8, or a function returning the
#: block of a window.
ClassSource = NDArray[np.uint8] | Callable[[Window], NDArray[np.uint8]]

__all__ = [
    'ClassSource',
    'class_raster_aux_xml',
    'open_label_raster',
    'write_class_raster',
]


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
            :data:`~torchgeo_bvm.spatial.cog.COG_BLOCK_SIZE`).
        progress: show a progress bar.
        before_commit: as for :func:`~torchgeo_bvm.spatial.cog.write_cog`,
            which writes the file.

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


def open_label_raster(path: str | os.PathLike[str]) -> DatasetReader:
    """Open a label raster, refusing what is not one (reflectance, no CRS, ...).

    Args:
        path: the file.

    Returns:
        The open file: one uint8 band with a CRS and a north-up grid.

    Raises:
        BVMFileError: if GDAL cannot read it.
        BVMValueError: if it has no CRS, several bands or another data type
            than uint8 (a Sentinel-2 band is uint16 or int16: not labels).
    """
    import rasterio

    try:
        source = rasterio.open(path)
    except rasterio.errors.RasterioIOError as error:
        raise BVMFileError(f'{path}: cannot be read as a raster ({error})') from None
    problem = None
    if source.crs is None:
        problem = 'the label raster has no CRS'
    elif source.count != 1 or source.dtypes[0] != 'uint8':
        problem = (
            f'not a label raster: it has {source.count} band(s) of {source.dtypes[0]}, '
            'a label raster one band of uint8 class ids (torchgeo-bvm rasterize)'
        )
    elif not _north_up(source.transform):
        problem = 'the label raster is not north up'
    if problem is not None:
        source.close()
        raise BVMValueError(f'{path}: {problem}')
    return source


def _north_up(transform: Affine) -> bool:
    return bool(
        transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0
    )
