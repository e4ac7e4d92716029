"""Class maps: the files a fused land-cover map is made of, found and checked.

**The contract.** A class map is a single-band uint8 GeoTIFF (or any raster GDAL
reads) holding class ids 0..13 of :data:`~torchgeo_bvm.classes.CLASSES` and
:data:`~torchgeo_bvm.classes.IGNORE_INDEX` (255) where there is no clear
observation or the pixel lies outside Flanders or outside the map's sheet; its
nodata value, if set, is 255. Beside ``<name>.tif`` lie:

* ``<name>_confidence.tif``: uint8, the fused maximum class probability times
  :data:`CONFIDENCE_SCALE` (0..250), 255 = nodata, on exactly the same grid;
* ``<name>_count.tif``: uint8, the number of clear observations fused;
* optionally ``<name>_probabilities.tif``: the fused per-class probabilities.

A map of one sheet is ``<sheet>.tif`` with its siblings; a mosaic of several
sheets is a single class raster with its ``_confidence`` sibling. Maps may be
in any CRS (EPSG:4326, the package's default, UTM, Lambert 72), and different
maps may have different grids.

**Maps must not overlap**, so that every place is counted once where several are
read together (:func:`check_maps_disjoint`): on one pixel lattice (same CRS,
resolution and whole-pixel offsets) no pixel may carry a class in two maps; maps
on different grids may share at most a one-pixel seam along the border of their
overlap, where pixels of two grids partly cover each other. Sheets of one split
level tile without overlap (each holds the pixels whose centre lies in the
sheet); a mosaic given together with its own sheets, or sheets of two split
levels, overlap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import rasterio.warp
import rasterio.windows
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader
from rasterio.windows import Window
from shapely import STRtree

from ..classes import IGNORE_INDEX
from ..errors import BVMFileError, BVMValueError
from ..fileio import find_files
from ..spatial.pixelgrid import Grid
from .folder import check_map_folders

__all__ = [
    'CLASS_MAP_SUFFIXES',
    'CONFIDENCE_SCALE',
    'SIBLING_SUFFIXES',
    'ClassMap',
    'check_maps_disjoint',
    'find_class_maps',
    'optional_sibling',
    'sibling_path',
]

#: Confidence rasters hold round(probability x CONFIDENCE_SCALE), 255 = nodata.
CONFIDENCE_SCALE = 250
#: Suffixes of the class maps a folder of maps contributes.
CLASS_MAP_SUFFIXES = ('.tif', '.tiff')
#: Name endings of the rasters that lie beside a class map and are not one.
SIBLING_SUFFIXES = ('_confidence', '_count', '_probabilities')


@dataclass(frozen=True)
class ClassMap:
    """A class raster of the input contract and its confidence raster.

    Args:
        path: the class raster.
        confidence: its ``_confidence`` sibling (None when not used).
        grid: the raster's grid (CRS, transform, size).
    """

    path: Path
    confidence: Path | None
    grid: Grid

    def bounds_in(self, crs: CRS | None) -> tuple[float, float, float, float]:
        """The map's bounds in a CRS (its own bounds when ``crs`` is None).

        Args:
            crs: the CRS.

        Returns:
            (xmin, ymin, xmax, ymax), densified so they hold the whole map.
        """
        return _bounds_in(self.grid, crs)

    @classmethod
    def open(cls, path: str | os.PathLike[str], confidence: bool = True) -> ClassMap:
        """Check a class raster (and its confidence sibling) and describe it.

        Args:
            path: the class raster.
            confidence: whether its ``<stem>_confidence`` sibling is needed.

        Returns:
            The map.

        Raises:
            BVMFileError: if a file is missing or not a raster.
            BVMValueError: if the class raster is not a class map (bands, dtype,
                nodata, CRS, orientation) or the confidence raster does not
                match it.
        """
        path = Path(path)
        with _open_raster(path, 'class map') as src:
            _check_uint8_band(src, path, 'class map', 'class ids 0..13')
            grid = Grid.of_file(src)
            if grid.crs is None:
                raise BVMValueError(f'{path}: the class map has no CRS')
            if not grid.north_up:
                raise BVMValueError(f'{path}: the class map is not north up')
        if not confidence:
            return cls(path, None, grid)
        sibling = sibling_path(path, '_confidence')
        if not sibling.exists():
            raise BVMFileError(
                f'{path}: no confidence raster {sibling.name} beside it; compare '
                'without confidence to rank by disagreement and size only'
            )
        with _open_raster(sibling, 'confidence raster') as src:
            _check_uint8_band(src, sibling, 'confidence raster', 'values 0..250')
            _check_on_grid(sibling, Grid.of_file(src), grid, path.name)
        return cls(path, sibling, grid)


def sibling_path(path: str | os.PathLike[str], suffix: str) -> Path:
    """The sibling of a class map, e.g. ``22_7-8.tif`` -> ``22_7-8_confidence.tif``.

    Args:
        path: the class raster (``.tif``, or ``.vrt`` for a mosaic).
        suffix: one of :data:`SIBLING_SUFFIXES`.

    Returns:
        The sibling's path, with the class raster's extension.
    """
    path = Path(path)
    return path.with_name(path.stem + suffix + path.suffix)


def optional_sibling(item: ClassMap, suffix: str, bands: int) -> Path | None:
    """A sibling of a class map that may be there (``_count``, ``_probabilities``).

    Args:
        item: the class map.
        suffix: the sibling's suffix.
        bands: the bands it must have.

    Returns:
        Its path when it exists, None when it does not.

    Raises:
        BVMValueError: if it exists but is not a uint8 raster of ``bands``
            bands with nodata 255 on the class map's grid.
    """
    sibling = sibling_path(item.path, suffix)
    if not sibling.exists():
        return None
    with _open_raster(sibling, f'{suffix[1:]} raster') as src:
        if src.count != bands or set(src.dtypes) != {'uint8'}:
            raise BVMValueError(
                f'{sibling}: {src.count} band(s) of {src.dtypes[0]}, expected '
                f'{bands} uint8 band(s) beside the class map {item.path.name}'
            )
        _check_nodata(src, sibling)
        _check_on_grid(sibling, Grid.of_file(src), item.grid, item.path.name)
    return sibling


def _open_raster(path: Path, what: str) -> DatasetReader:
    if not path.is_file():
        raise BVMFileError(f'{what} not found: {path}')
    try:
        source = rasterio.open(path)
    except RasterioIOError as error:
        raise BVMFileError(f'{path}: not a raster GDAL can read ({error})') from None
    if source.driver == 'VRT':
        # A mosaic opens whatever became of its sheets; reading a missing one
        # fails later without naming it.
        missing = [name for name in source.files[1:] if not Path(name).exists()]
        if missing:
            source.close()
            raise BVMFileError(
                f'{path}: the mosaic reads {missing[0]}, which is missing (a sheet '
                'removed or moved?); write the mosaic again'
            )
    return source


def _check_uint8_band(src: DatasetReader, path: Path, what: str, holds: str) -> None:
    if src.count != 1 or src.dtypes[0] != 'uint8':
        raise BVMValueError(
            f'{path}: not a {what}: {src.count} band(s) of {src.dtypes[0]}, expected '
            f'one uint8 band of {holds} with 255 as nodata'
        )
    _check_nodata(src, path, f' for a {what}')


def _check_nodata(src: DatasetReader, path: Path, context: str = '') -> None:
    if src.nodata is not None and src.nodata != IGNORE_INDEX:
        raise BVMValueError(
            f'{path}: nodata is {src.nodata:g}, expected {IGNORE_INDEX}{context}'
        )


def _check_on_grid(path: Path, theirs: Grid, grid: Grid, name: str) -> None:
    """Refuse a sibling raster that is not on the grid of its class map ``name``."""
    if (theirs.crs, theirs.transform, theirs.shape) != (
        grid.crs,
        grid.transform,
        grid.shape,
    ):
        raise BVMValueError(
            f'{path}: not on the grid of {name} (CRS, transform and size must be equal)'
        )


def find_class_maps(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    confidence: bool = True,
) -> list[ClassMap]:
    """The class maps in files and folders.

    A folder contributes every ``.tif``/``.tiff`` under it (at any depth) except
    the siblings of a class map (names ending in ``_confidence``, ``_count`` or
    ``_probabilities``) and hidden files and folders (among them the staging
    files of a write in progress or killed); a file is taken as it is (a
    ``.vrt`` mosaic too). A file named twice counts once.

    Args:
        paths: class rasters or folders of them.
        confidence: whether each map needs its ``_confidence`` sibling.

    Returns:
        The maps, in the order found.

    Raises:
        BVMFileError: if a path does not exist, a folder holds no class map or a
            confidence raster is missing.
        BVMValueError: if a raster is not a class map, a sibling is given as
            a class map, or a folder of ``torchgeo predict`` is incomplete,
            mixes two runs or holds several periods
            (:func:`~torchgeo_bvm.maps.folder.check_map_folders`).
    """
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not given:
        raise BVMValueError('no class map given')
    check_map_folders(given)
    files: list[Path] = []
    for item in map(Path, given):
        if item.is_dir():
            # Hidden names are skipped: a killed writer's staging files among them.
            found = [
                p for p in find_files(item, CLASS_MAP_SUFFIXES) if not _is_sibling(p)
            ]
            if not found:
                raise BVMFileError(f'{item}: no class map (.tif) in this folder')
            files += found
        elif not item.exists():
            raise BVMFileError(f'class map not found: {item}')
        elif _is_sibling(item):
            raise BVMValueError(
                f'{item}: a sibling of a class map, not a class map; give '
                f'{item.name.rsplit("_", 1)[0]}{item.suffix} instead'
            )
        else:
            files.append(item)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return [ClassMap.open(path, confidence) for path in unique]


def _is_sibling(path: Path) -> bool:
    return path.stem.lower().endswith(SIBLING_SUFFIXES)


# -- maps must not overlap --------------------------------------------------------


def check_maps_disjoint(maps: Sequence[ClassMap], block_size: int = 2048) -> None:
    """Check that no two maps hold a class for the same place.

    On one pixel lattice no pixel may carry a class in both maps; on different
    grids (another CRS, resolution or sub-pixel offset) the second map's pixels
    are resampled (nearest) onto the first's and at most a one-pixel seam along
    the border of their overlap may carry a class in both.

    Args:
        maps: the maps.
        block_size: pixels per block side when reading.

    Raises:
        BVMValueError: naming the two maps and how many pixels both cover.
    """
    boxes = [shapely.box(*m.bounds_in(maps[0].grid.crs)) for m in maps]
    tree = STRtree(boxes)
    for i, first in enumerate(maps):
        for j in sorted(int(k) for k in tree.query(boxes[i]) if k > i):
            second = maps[j]
            both, allowed = _doubly_covered(first, second, block_size)
            if both > allowed:
                raise BVMValueError(
                    f'{first.path} and {second.path} both have a class for '
                    f'{both} pixels: give maps that do not overlap (the sheets of '
                    'one split level, or one mosaic, not both)'
                )


def _bounds_in(grid: Grid, crs: CRS | None) -> tuple[float, float, float, float]:
    if crs is None or grid.crs is None or grid.crs == crs:
        return grid.bounds
    west, south, east, north = rasterio.warp.transform_bounds(
        grid.crs, crs, *grid.bounds, densify_pts=21
    )
    return (west, south, east, north)


def _doubly_covered(
    first: ClassMap, second: ClassMap, block_size: int
) -> tuple[int, int]:
    """(pixels with a class in both maps, how many are allowed)."""
    grid, other = first.grid, second.grid
    offset = None
    if grid.crs == other.crs:
        offset = grid.aligned(other.bounds, other.res, other.shape)
    with rasterio.open(first.path) as src, rasterio.open(second.path) as theirs:
        if offset is not None:
            clipped = grid.clip(*offset, other.shape[1], other.shape[0])
            if clipped is None:
                return 0, 0
            window, rows, columns = clipped
            # The same pixel is (dx, dy) pixels further in the second map.
            dx, dy = columns.start - window.col_off, rows.start - window.row_off

            def same_pixels(part: Window) -> NDArray[np.uint8]:
                block: NDArray[np.uint8] = theirs.read(
                    1,
                    window=Window(
                        part.col_off + dx, part.row_off + dy, part.width, part.height
                    ),
                )
                return block

            return _count_both(src, window, same_pixels, block_size), 0
        window = grid.covering(_bounds_in(other, grid.crs))
        whole = Window(0, 0, grid.shape[1], grid.shape[0])
        try:
            window = window.intersection(whole)
        except rasterio.errors.WindowError:
            return 0, 0

        def resampled(part: Window) -> NDArray[np.uint8]:
            block = np.full(
                (int(part.height), int(part.width)), IGNORE_INDEX, dtype=np.uint8
            )
            rasterio.warp.reproject(
                rasterio.band(theirs, 1),
                block,
                src_nodata=IGNORE_INDEX,
                dst_transform=rasterio.windows.transform(part, src.transform),
                dst_crs=src.crs,
                dst_nodata=IGNORE_INDEX,
                resampling=Resampling.nearest,
            )
            return block

        both = _count_both(src, window, resampled, block_size)
        return both, int(window.width + window.height)


def _count_both(
    src: DatasetReader,
    window: Window,
    theirs: Callable[[Window], NDArray[np.uint8]],
    block_size: int,
) -> int:
    """Pixels of ``window`` with a class in ``src`` and in ``theirs``, by blocks."""
    both = 0
    for block in Grid(
        None, src.transform, int(window.width), int(window.height)
    ).windows(block_size):
        part = Window(
            window.col_off + block.col_off,
            window.row_off + block.row_off,
            block.width,
            block.height,
        )
        mine = src.read(1, window=part)
        other = theirs(part)
        both += int(np.count_nonzero((mine != IGNORE_INDEX) & (other != IGNORE_INDEX)))
    return both
