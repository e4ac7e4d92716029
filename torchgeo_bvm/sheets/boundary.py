"""The boundary of Flanders, from a boundary file or from where BVM labels exist.

Pixels outside Flanders carry no BVM label; samplers never centre a crop there and
the joint dataset labels them :data:`~torchgeo_bvm.classes.IGNORE_INDEX`. The
boundary comes from, in order of preference:

1. a boundary file given by the user: the official ``Refgew.shp`` of the VRBG
   ("Voorlopig referentiebestand gemeentegrenzen", Digitaal Vlaanderen,
   EPSG:31370) or any vector file GDAL reads (all features are dissolved);
2. the coverage of the BVM labels themselves (vector polygons or label rasters).

Dissolving 650,000 BVM polygons with ``union_all`` takes minutes. Instead the
labels are rasterised onto a coarse grid (50 m by default: cells whose centre
lies in a polygon, plus cells holding a polygon vertex, so the coverage errs on
the generous side) and the coverage is polygonised: about 1.5 s per 150,000
polygons plus reading the file. The result is cached on disk (GeoPackage, written
atomically) under a key made of the label files' paths and content
(:func:`~torchgeo_bvm.fileio.fingerprint`) and the coverage resolution, so a
changed file invalidates the cache; a damaged entry is derived again.
Being generous by up to one coverage pixel is harmless: pixels just outside
Flanders have no label and are ignored by the loss anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from ..classes import IGNORE_INDEX
from ..errors import BVMNotFoundError, BVMValueError
from ..fileio import (
    RASTER_SUFFIXES,
    VECTOR_SUFFIXES,
    atomic_path,
    default_cache_dir,
    find_files,
    fingerprint,
    read_cache_entry,
)
from ..spatial.crs import is_lambert72, resolution_for, to_lambert72
from ..spatial.geometry import polygonal, reproject_geometry
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import pixel_runs, polygon_coverage, runs_to_mask
from .codes import KBL_CRS

__all__ = [
    'FlandersMask',
    'flanders_from_labels',
    'read_boundary',
]

#: Bumped whenever the way the coverage is computed changes (invalidates caches).
_CACHE_VERSION = 2  # 2: pixel rule of torchgeo_bvm.spatial.scanline


def read_boundary(path: str | Path) -> Polygon | MultiPolygon:
    """Read a boundary file and dissolve all its features.

    Args:
        path: any vector file GDAL reads, e.g. the official ``Refgew.shp``. A
            missing ``.prj`` or the ESRI Lambert 72 WKT is taken as EPSG:31370.

    Returns:
        The dissolved boundary in EPSG:31370.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file holds no polygon.
    """
    path = Path(path)
    if not path.exists():
        raise BVMNotFoundError(f'boundary file not found: {path}')
    frame = to_lambert72(gpd.read_file(path, engine='pyogrio'))
    polygons = frame.geometry[
        frame.geometry.geom_type.isin(['Polygon', 'MultiPolygon'])
    ]
    if polygons.empty:
        raise BVMValueError(f'boundary file {path} holds no polygon features')
    return polygonal(shapely.union_all(polygons.to_numpy()))


def _label_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise BVMNotFoundError(f'BVM label path not found: {path}')
        if path.is_dir():
            files += find_files(path, RASTER_SUFFIXES)
            files += find_files(path, VECTOR_SUFFIXES)
        else:
            files.append(path)
    if not files:
        raise BVMValueError(f'no BVM label files found in {[str(p) for p in paths]}')
    return files


def _cache_key(files: Sequence[Path], resolution: float) -> str:
    # The files' content, not their size and time (an edit may keep both).
    entries = fingerprint(files)
    text = json.dumps({'v': _CACHE_VERSION, 'res': resolution, 'files': entries})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_region(path: Path) -> Polygon | MultiPolygon:
    frame = gpd.read_file(path, engine='pyogrio')
    return polygonal(shapely.union_all(frame.geometry.to_numpy()))


def _polygonise(mask: NDArray[np.bool_], transform: Affine) -> list[BaseGeometry]:
    shapes = rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform, connectivity=8
    )
    return [shape(geometry) for geometry, _ in shapes]


def _scanline_coverage(
    geometries: NDArray[np.object_], transform: Affine, shape_: tuple[int, int]
) -> NDArray[np.bool_]:
    """Cells whose centre lies inside a polygon, plus cells holding a vertex.

    ``rasterio.features.rasterize`` converts every coordinate to a Python tuple on
    its way to GDAL: 20 s for the real map's 11 million vertices; the numpy
    scanline runs of :func:`torchgeo_bvm.spatial.scanline.pixel_runs` are used instead,
    in chunks that bound the memory of the crossings (about ten per polygon),
    and filled in once. Cells holding a vertex are added so that polygons
    narrower than a cell still count.
    """
    height, width = shape_
    left, top, xres, yres = transform.c, transform.f, transform.a, -transform.e
    touched = np.zeros(shape_, dtype=bool)
    empty = np.empty(0, dtype=np.int64)
    runs = [(empty, empty, empty)]  # (row, start, stop) of every chunk
    chunk = 100_000
    for first in range(0, len(geometries), chunk):
        part = geometries[first : first + chunk]
        runs.append(pixel_runs(part, transform, shape_)[1:])
        xy = shapely.get_coordinates(part)
        vertex_rows = np.floor((top - xy[:, 1]) / yres).astype(np.int64)
        vertex_columns = np.floor((xy[:, 0] - left) / xres).astype(np.int64)
        touched[
            np.clip(vertex_rows, 0, height - 1), np.clip(vertex_columns, 0, width - 1)
        ] = True
    rows, starts, stops = (np.concatenate(column) for column in zip(*runs, strict=True))
    inside = runs_to_mask(rows, starts, stops, shape_)
    result: NDArray[np.bool_] = inside | touched
    return result


def _vector_coverage(file: Path, resolution: float) -> list[BaseGeometry]:
    # Only the geometry is read: the 30 attribute fields would triple the time.
    frame = to_lambert72(gpd.read_file(file, engine='pyogrio', columns=[]))
    geometries = frame.geometry[~frame.geometry.is_empty & frame.geometry.notna()]
    if geometries.empty:
        return []
    grid = Grid.from_bounds(tuple(geometries.total_bounds), KBL_CRS, resolution)
    mask = _scanline_coverage(geometries.to_numpy(), grid.transform, grid.shape)
    return _polygonise(mask, grid.transform)


def _raster_coverage(file: Path, resolution: float) -> list[BaseGeometry]:
    with rasterio.open(file) as src:
        crs = CRS.from_user_input(src.crs) if src.crs else KBL_CRS
        metres = src.res[0]
        if crs.is_geographic:
            metres = src.res[0] / resolution_for(crs, 1.0)[0]
        factor = max(1, round(resolution / metres))
        shape_ = (max(1, src.height // factor), max(1, src.width // factor))
        # A decimated nearest read keeps the class values; with ``factor`` pixels
        # per coverage cell a thin strip may be missed, which errs on the small side
        # only along the border, where labels stop anyway.
        data = src.read(1, out_shape=shape_)
        nodata = src.nodata if src.nodata is not None else IGNORE_INDEX
        transform = src.transform @ Affine.scale(
            src.width / shape_[1], src.height / shape_[0]
        )
    mask = data != nodata
    parts = _polygonise(mask, transform)
    if is_lambert72(crs):
        return parts
    return [reproject_geometry(p, crs, KBL_CRS, densify=0) for p in parts]


def flanders_from_labels(
    paths: Iterable[str | Path],
    resolution: float = 50.0,
    cache_dir: str | Path | None = None,
) -> Polygon | MultiPolygon:
    """The region covered by BVM labels, dissolved and cached on disk.

    Args:
        paths: BVM vector files (``BwkHab.shp``, GeoPackage, GeoParquet), label
            GeoTIFFs, or folders holding them.
        resolution: size in metres of the coverage grid the labels are rasterised on.
        cache_dir: where to cache the result (default :func:`default_cache_dir`).

    Returns:
        The covered region in EPSG:31370.

    Raises:
        FileNotFoundError: if a path does not exist.
        ValueError: if no label file is found or the labels cover nothing.
    """
    files = _label_files(paths)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / f'flanders-{_cache_key(files, resolution)}.gpkg'
    region: Polygon | MultiPolygon | None = read_cache_entry(cached, _read_region)
    if region is not None:
        return region
    parts: list[BaseGeometry] = []
    for file in files:
        if file.suffix.lower() in RASTER_SUFFIXES:
            parts += _raster_coverage(file, resolution)
        else:
            parts += _vector_coverage(file, resolution)
    if not parts:
        raise BVMValueError(
            f'the BVM labels in {[str(f) for f in files]} cover no area: cannot '
            'derive the Flanders boundary from them; pass a boundary file instead'
        )
    region = polygonal(shapely.union_all(parts))
    frame = gpd.GeoDataFrame(
        {'source': ['bvm-coverage']}, geometry=[region], crs=KBL_CRS
    )
    with atomic_path(cached) as temporary:
        frame.to_file(temporary, driver='GPKG', engine='pyogrio', layer='flanders')
    return region


class FlandersMask:
    """Rasterises the Flanders region onto sample windows quickly.

    Windows wholly inside or outside the region (the vast majority) are answered by
    a prepared-geometry test; only windows on the border are rasterised, after
    clipping the region to the window so the cost does not grow with the length of
    the whole border.

    Args:
        region: the region in ``crs``.
        crs: the CRS of the windows.
    """

    def __init__(self, region: BaseGeometry, crs: CRS | str | int) -> None:
        self.region = region
        self.crs = CRS.from_user_input(crs)
        shapely.prepare(self.region)

    @classmethod
    def from_lambert72(cls, region: BaseGeometry, crs: CRS | str | int) -> FlandersMask:
        """Build a mask from a region in EPSG:31370.

        Args:
            region: the region in EPSG:31370.
            crs: the CRS of the windows.

        Returns:
            The mask.
        """
        crs = CRS.from_user_input(crs)
        return cls(reproject_geometry(region, KBL_CRS, crs, densify=100.0), crs)

    def __call__(self, transform: Affine, shape_: tuple[int, int]) -> NDArray[np.bool_]:
        """Which pixels of a window have their centre inside the region.

        Args:
            transform: the window's affine transform (north up).
            shape_: (height, width) of the window.

        Returns:
            A boolean array of ``shape_``.
        """
        if not shapely.is_prepared(self.region):
            shapely.prepare(self.region)  # preparation is lost when pickled to workers
        height, width = shape_
        left, top = transform.c, transform.f
        right, bottom = left + width * transform.a, top + height * transform.e
        # The box spans the outermost pixel centres: for a polygon region,
        # containing them all is the same as containing the box.
        centres = box(
            left + transform.a / 2,
            bottom - transform.e / 2,
            right - transform.a / 2,
            top + transform.e / 2,
        )
        if self.region.contains(centres):
            return np.ones(shape_, dtype=bool)
        window = box(left, bottom, right, top)
        if not self.region.intersects(window):
            return np.zeros(shape_, dtype=bool)
        clipped = shapely.clip_by_rect(self.region, left, bottom, right, top)
        if clipped.is_empty:
            return np.zeros(shape_, dtype=bool)
        # The scanline fill of the sheets and labels: one pixel rule everywhere.
        return polygon_coverage(shapely.get_parts(clipped), transform, shape_)
