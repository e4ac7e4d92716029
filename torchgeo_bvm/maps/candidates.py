"""The picture of the strongest candidates: what a mapper judges them by.

Each candidate gets a row of three panels of one size, on one square window
around it (the map's grid, the same scale in all three): a **clear image** of
the place (true colour, B04 B03 B02, of the clearest of the images given:
Terrascope products, whose scene classification says which pixels are clear,
or GeoTIFFs whose bands are named ``B02``, ``B03``, ``B04``, such as the
openEO downloader's composites), the **BVM's classes** and the **map's
classes**, the polygon outlined on each. Above them, the score's parts: the
probability the map gives the BVM class against its class's typical one, the
likelihood ratio, the years since mapping and the pixels and clear
observations (:mod:`~torchgeo_bvm.maps.ranking`). Without images the first
panel says so. Two candidates share a row; rows never overlap.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from ..classes import IGNORE_INDEX, NUM_CLASSES
from ..datasets.bands import CloudRule
from ..errors import BVMFileError, BVMValueError
from ..plot import class_legend, show_classes, stretch
from ..spatial.geometry import reproject_geometry
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import burn_polygons
from .files import ClassMap

__all__ = ['TRUE_COLOUR', 'TrueColourImage', 'find_images', 'plot_candidates']

#: The bands of a true-colour picture: red, green, blue.
TRUE_COLOUR = ('B04', 'B03', 'B02')
#: Candidates per row of the picture.
_PER_ROW = 2
_PANEL_INCHES = 2.6
_TERRASCOPE_BAND = re.compile(r'_TOC-B04_10M_(?P<version>V\d{3})\.tiff?$')
_PRODUCT_DATE = re.compile(r'_(?P<date>\d{8})T\d{6}_')


@dataclass(frozen=True)
class TrueColourImage:
    """An image a candidate can be shown on.

    Args:
        name: how the panel names it (a date or a file name).
        bands: the red, green and blue files with their band index (1-based).
        scl: the scene classification, for Terrascope products (None: every
            pixel with data is clear).
        nodata: the reflectance nodata.
    """

    name: str
    bands: tuple[tuple[Path, int], ...]
    scl: Path | None
    nodata: float | None

    def read(
        self, grid: Grid, window: rasterio.windows.Window
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """The picture and its clear pixels on a window of a map's grid.

        Args:
            grid: the map's grid.
            window: the window.

        Returns:
            ``[H, W, 3]`` reflectance x 10000 (NaN without data) and
            ``[H, W]`` whether each pixel is clear.
        """
        shape = (int(window.height), int(window.width))
        transform = rasterio.windows.transform(window, grid.transform)
        layers = []
        has_data = np.ones(shape, dtype=bool)
        for path, band in self.bands:
            values = _warped(path, band, grid.crs, transform, shape, Resampling.nearest)
            if self.nodata is not None:
                has_data &= values != self.nodata
            layers.append(values.astype(np.float32))
        image = np.stack(layers, axis=-1)
        image[~has_data] = np.nan
        clear = has_data
        if self.scl is not None:
            scl = _warped(self.scl, 1, grid.crs, transform, shape, Resampling.nearest)
            clear = clear & np.isin(scl, CloudRule().valid)
        return image, clear


def _warped(
    path: Path,
    band: int,
    crs: CRS | None,
    transform: rasterio.Affine,
    shape: tuple[int, int],
    resampling: Resampling,
) -> NDArray[np.floating]:
    with rasterio.open(path) as source:
        fill = source.nodata if source.nodata is not None else 0
        with WarpedVRT(
            source,
            crs=crs or source.crs,
            transform=transform,
            width=shape[1],
            height=shape[0],
            resampling=resampling,
            nodata=fill,
        ) as vrt:
            values: NDArray[np.floating] = vrt.read(band)
    return values


def find_images(
    paths: Sequence[str | os.PathLike[str]],
) -> list[TrueColourImage]:
    """The true-colour images in files and folders.

    A folder contributes every Terrascope product under it (a folder holding
    ``..._TOC-B04_10M_V2x0.tif`` with its B03, B02 and scene classification);
    a file must be a GeoTIFF with bands described ``B02``, ``B03`` and ``B04``.

    Args:
        paths: Terrascope product folders (or folders above them) and GeoTIFFs.

    Returns:
        The images, in the order found.

    Raises:
        BVMFileError: if a path does not exist or a folder holds no product.
        BVMValueError: if a file has no bands named B02, B03 and B04.
    """
    images: list[TrueColourImage] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            reds = sorted(path.rglob('*_TOC-B04_10M_*.tif*'))
            found = [p for p in map(_product, reds) if p is not None]
            if not found:
                raise BVMFileError(
                    f'{path}: no Terrascope product (..._TOC-B04_10M_V2x0.tif) in it'
                )
            images += found
        elif path.is_file():
            images.append(_described(path))
        else:
            raise BVMFileError(f'image not found: {path}')
    return images


def _product(red: Path) -> TrueColourImage | None:
    match = _TERRASCOPE_BAND.search(red.name)
    if match is None:
        return None
    stem = red.name[: match.start()]
    folder = red.parent
    version = match['version']
    bands = tuple(
        (folder / f'{stem}_TOC-{band}_10M_{version}{red.suffix}', 1)
        for band in TRUE_COLOUR
    )
    scl = folder / f'{stem}_SCENECLASSIFICATION_20M_{version}{red.suffix}'
    if not all(path.is_file() for path, _ in bands):
        return None
    with rasterio.open(red) as source:
        nodata = source.nodata
    date = _PRODUCT_DATE.search(stem)
    name = (
        f'{date["date"][:4]}-{date["date"][4:6]}-{date["date"][6:]}' if date else stem
    )
    return TrueColourImage(name, bands, scl if scl.is_file() else None, nodata)


def _described(path: Path) -> TrueColourImage:
    try:
        with rasterio.open(path) as source:
            names = list(source.descriptions)
            nodata = source.nodata
    except rasterio.errors.RasterioIOError as error:
        raise BVMFileError(f'{path}: not a raster GDAL can read ({error})') from None
    missing = [band for band in TRUE_COLOUR if band not in names]
    if missing:
        raise BVMValueError(
            f'{path}: no band named {", ".join(missing)}: a true-colour image needs '
            'bands described B02, B03 and B04 (or give a Terrascope product folder)'
        )
    bands = tuple((path, names.index(band) + 1) for band in TRUE_COLOUR)
    return TrueColourImage(path.stem, bands, None, nodata)


# -- the figure ---------------------------------------------------------------------


def plot_candidates(
    frame: gpd.GeoDataFrame,
    maps: Sequence[ClassMap],
    top: int = 12,
    images: Sequence[TrueColourImage] = (),
) -> Figure:
    """The strongest candidates, each on a clear image, the BVM and the map.

    Args:
        frame: the comparison (see
            :func:`~torchgeo_bvm.maps.compare.compare_with_bvm`), with its
            ``rank``, ``main_map``, classes and evidence columns; its polygons
            also give the BVM panel.
        maps: the maps ``main_map`` indexes.
        top: how many candidates to show.
        images: true-colour images (:func:`find_images`); for each candidate
            the one with the most clear pixels around it is shown.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    chosen = frame[frame['rank'].notna()].sort_values('rank').head(top)
    rows = max(1, math.ceil(len(chosen) / _PER_ROW))
    columns = 3 * _PER_ROW
    figure = plt.figure(
        figsize=(columns * _PANEL_INCHES + 0.6, rows * (_PANEL_INCHES + 0.9) + 1.0),
        layout='constrained',
    )
    parts = figure.subfigures(rows, _PER_ROW, squeeze=False)
    labelled = _labelled(frame)
    present: set[int] = set()
    for part, (_, polygon) in zip(parts.ravel(), chosen.iterrows(), strict=False):
        item = maps[int(polygon['main_map'])]
        present |= _draw(part, polygon, frame.crs, item, labelled, images)
    if chosen.empty:
        parts[0, 0].text(0.5, 0.5, 'no candidates', ha='center', va='center')
    handles = class_legend(present)
    if handles:
        figure.legend(
            handles=handles,
            loc='outside lower center',
            ncol=min(5, len(handles)),
            fontsize='small',
            frameon=False,
        )
    figure.suptitle(
        'Strongest candidates: a clear image, the BVM and the map '
        '(the polygon outlined)',
        fontsize='large',
    )
    return figure


def _labelled(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygons with a BVM class, larger first (smaller ones burnt on top)."""
    known = frame[frame['bvm_class'].notna()]
    order = np.argsort(-shapely.area(known.geometry.to_numpy()), kind='stable')
    return known.iloc[order]


def _draw(
    part: SubFigure,
    polygon: pd.Series,
    crs: CRS,
    item: ClassMap,
    labelled: gpd.GeoDataFrame,
    images: Sequence[TrueColourImage],
) -> set[int]:
    grid = item.grid
    outline = reproject_geometry(polygon.geometry, crs, grid.crs or crs, 0.0)
    window = _square_window(grid, outline.bounds)
    left, bottom, right, top = rasterio.windows.bounds(window, grid.transform)
    extent = (left, right, bottom, top)
    shape = (int(window.height), int(window.width))
    transform = rasterio.windows.transform(window, grid.transform)
    photo, bvm, mapped = part.subplots(1, 3)
    picture = _clearest(images, grid, window)
    if picture is None:
        photo.text(
            0.5,
            0.5,
            'no image given',
            ha='center',
            va='center',
            transform=photo.transAxes,
        )
        photo.set_title('image', fontsize='small')
    else:
        name, image, clear = picture
        seen = ~np.isnan(image).any(axis=-1)
        pixels = image[clear & seen] if (clear & seen).any() else image[seen]
        shown = stretch(np.nan_to_num(image), pixels if len(pixels) else None)
        photo.imshow(shown, extent=extent, interpolation='nearest')
        photo.set_title(f'{name}, {clear.mean():.0%} clear', fontsize='small')
    nearby = labelled[labelled.intersects(_box_in(crs, grid.crs, extent))]
    geometries = reproject_geometry(
        nearby.geometry.to_numpy(), crs, grid.crs or crs, 0.0
    )
    bvm_classes = burn_polygons(
        geometries,
        nearby['bvm_class'].to_numpy(dtype=np.uint8),
        transform,
        shape,
        IGNORE_INDEX,
    )
    show_classes(bvm, bvm_classes, extent, interpolation='none')
    bvm.set_title('BVM', fontsize='small')
    with rasterio.open(item.path) as source:
        classes = source.read(1, window=window, boundless=True, fill_value=IGNORE_INDEX)
    show_classes(mapped, classes, extent, interpolation='none')
    mapped.set_title('map', fontsize='small')
    for axes in (photo, bvm, mapped):
        _outline(axes, outline, extent)
    part.suptitle(_caption(polygon), fontsize='small', ha='left', x=0.02)
    shown_classes = np.concatenate([np.unique(bvm_classes), np.unique(classes)])
    return {int(v) for v in shown_classes if v < NUM_CLASSES}


def _square_window(
    grid: Grid, bounds: tuple[float, float, float, float]
) -> rasterio.windows.Window:
    """A square window of whole pixels centred on the bounds, with a margin."""
    xmin, ymin, xmax, ymax = bounds
    size = max(xmax - xmin, ymax - ymin) * 1.6 + 16 * max(grid.res)
    pixels = max(24, math.ceil(size / max(grid.res)))
    column, row = ~grid.transform @ ((xmin + xmax) / 2, (ymin + ymax) / 2)
    return rasterio.windows.Window(
        round(column - pixels / 2), round(row - pixels / 2), pixels, pixels
    )


def _box_in(
    crs: CRS, grid_crs: CRS | None, extent: tuple[float, float, float, float]
) -> shapely.Geometry:
    left, right, bottom, top = extent
    box = shapely.box(left, bottom, right, top)
    return reproject_geometry(box, grid_crs or crs, crs, 10.0)


def _clearest(
    images: Sequence[TrueColourImage],
    grid: Grid,
    window: rasterio.windows.Window,
) -> tuple[str, NDArray[np.float32], NDArray[np.bool_]] | None:
    """The image with the most clear pixels in the window (the first of equals)."""
    best: tuple[str, NDArray[np.float32], NDArray[np.bool_]] | None = None
    for image in images:
        picture, clear = image.read(grid, window)
        if best is None or clear.mean() > best[2].mean():
            best = (image.name, picture, clear)
    return best


def _outline(
    axes: Axes, outline: shapely.Geometry, extent: tuple[float, float, float, float]
) -> None:
    for piece in shapely.get_parts(outline):
        for ring in [piece.exterior, *piece.interiors]:
            x, y = ring.xy
            axes.plot(x, y, color='white', linewidth=2.2)
            axes.plot(x, y, color='black', linewidth=1.0)
    left, right, bottom, top = extent
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    axes.set_aspect('equal')
    axes.set_xticks([])
    axes.set_yticks([])


def _caption(polygon: pd.Series) -> str:
    """Two lines: who the candidate is, and the score's parts."""
    years = polygon.get('years_since_mapping')
    parts = (
        f'excess {float(polygon["excess_disagreement"]):.2f} x extent '
        f'{float(polygon["disagreement_extent"]):.2f}'
    )
    aged = (
        f' = {parts}'
        if years is None or pd.isna(years)
        else f' = {float(years):g} years x {parts}'
    )
    first = (
        f'#{int(polygon["rank"])} {polygon["TAG"]}: score '
        f'{float(polygon["score"]):.3g}{aged}'
    )
    probability = float(polygon['bvm_probability'])
    typical = float(polygon['class_typical'])
    seen = polygon.get('observations')
    clear = '' if seen is None or pd.isna(seen) else f', {float(seen):.1f} clear obs.'
    second = (
        f'BVM {_short(polygon["bvm_name"])}: p {probability:.2f} (typical '
        f'{typical:.2f}); map {_short(polygon["pred_name"])} '
        f'{float(polygon["pred_share"]):.0%} of {int(polygon["pixels"])} px{clear}'
    )
    return f'{first}\n{second}'


def _short(name: object, length: int = 24) -> str:
    text = str(name)
    return text if len(text) <= length else text[: length - 1] + '…'
