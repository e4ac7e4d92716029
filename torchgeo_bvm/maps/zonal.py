r"""Exact zonal statistics of class maps per BVM polygon.

:func:`zonal_counts` gives every polygon the pixels of a class map whose
centre lies in it, counted per predicted class, with the sums of what the
map's siblings hold there (confidence, clear observations, the probability of
the polygon's BVM class); :mod:`~torchgeo_bvm.maps.compare` ranks the
polygons from them.

**Pixels.** A polygon holds the pixels whose centre lies inside it (holes
excluded), by the package's scanline rule (:mod:`torchgeo_bvm.spatial.scanline`), the
same rule as the labels, with the polygons repaired and reprojected into the
map's CRS as :class:`~torchgeo_bvm.datasets.BVMDataset` does (vertices only).
Pixels of 255 are left out; a polygon with no other pixel has a pixel count of
0 and is not a candidate.

**Overlapping polygons.** Every polygon gets every pixel whose centre lies in
it: these are zonal statistics, not a burn. A pixel under two overlapping
polygons counts for both, because each polygon's own claim about its area is
what is tested; burning them first (the labels give an overlap to the smaller
polygon) would leave the larger polygon's statistics without part of its area.

**Several maps.** Statistics add up over the maps: a polygon straddling two
sheets gets the pixels of both, each once, because maps must not overlap
(:func:`~torchgeo_bvm.maps.files.check_maps_disjoint` runs before anything is
counted, and overlapping maps are an error).

"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Never

import numpy as np
import rasterio
import rasterio.io
import rasterio.windows
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window
from shapely import STRtree
from tqdm import tqdm

from ..classes import IGNORE_INDEX, NUM_CLASSES
from ..errors import BVMValueError
from ..spatial.geometry import reproject_geometry
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import pixel_runs, run_pixels
from .files import CONFIDENCE_SCALE, ClassMap, optional_sibling

__all__ = ['ZonalCounts', 'zonal_counts']


@dataclass
class ZonalCounts:
    """Pixel counts per polygon and predicted class, and sums of what maps hold.

    Args:
        counts: ``[polygons, NUM_CLASSES]`` int64, pixels per predicted class.
        confidence_sum: per polygon, the sum of the confidences (0..1) of its
            counted pixels that have one.
        confidence_pixels: per polygon, how many counted pixels have one.
        covered: per polygon, whether it meets the extent of some map.
        main_map: per polygon, the index of the map giving it most pixels
            (-1 for none).
        probability_sum: per polygon, the sum over its counted pixels of the
            map's probability (0..1) of the polygon's BVM class (from
            ``_probabilities`` rasters).
        probability_pixels: per polygon, how many counted pixels have one.
        observation_sum: per polygon, the sum of its counted pixels' clear
            observations (from ``_count`` rasters).
        observation_pixels: per polygon, how many counted pixels have a count.
    """

    counts: NDArray[np.int64]
    confidence_sum: NDArray[np.float64]
    confidence_pixels: NDArray[np.int64]
    covered: NDArray[np.bool_]
    main_map: NDArray[np.int64]
    probability_sum: NDArray[np.float64]
    probability_pixels: NDArray[np.int64]
    observation_sum: NDArray[np.float64]
    observation_pixels: NDArray[np.int64]

    @classmethod
    def zeros(cls, polygons: int) -> ZonalCounts:
        """Counts of nothing yet.

        Args:
            polygons: the number of polygons.

        Returns:
            All-zero counts.
        """
        return cls(
            np.zeros((polygons, NUM_CLASSES), dtype=np.int64),
            np.zeros(polygons, dtype=np.float64),
            np.zeros(polygons, dtype=np.int64),
            np.zeros(polygons, dtype=bool),
            np.full(polygons, -1, dtype=np.int64),
            np.zeros(polygons, dtype=np.float64),
            np.zeros(polygons, dtype=np.int64),
            np.zeros(polygons, dtype=np.float64),
            np.zeros(polygons, dtype=np.int64),
        )

    @property
    def pixels(self) -> NDArray[np.int64]:
        """Counted pixels per polygon."""
        total: NDArray[np.int64] = self.counts.sum(axis=1)
        return total


def zonal_counts(
    geometries: NDArray[np.object_],
    crs: CRS,
    maps: Sequence[ClassMap],
    block_size: int = 2048,
    progress: bool = True,
    bvm_class: NDArray[np.uint8] | None = None,
) -> ZonalCounts:
    """Count, per polygon, the map's pixels of each class inside it.

    Each map is read block by block; a block's pixels are given to every polygon
    holding their centre (:func:`~torchgeo_bvm.spatial.scanline.pixel_runs` on the
    block's grid), so memory is bounded by the block and the per-polygon counts.
    Where a map has a ``_count`` sibling its clear observations are summed, and
    where it has a ``_probabilities`` sibling and ``bvm_class`` is given, the
    probability of each polygon's BVM class.

    Args:
        geometries: valid shapely polygons (None or empty ones get nothing).
        crs: their CRS.
        maps: the maps (see :func:`check_maps_disjoint`).
        block_size: pixels per block side.
        progress: show a progress bar.
        bvm_class: the BVM class of each polygon (IGNORE_INDEX: none).

    Returns:
        The counts, one row per geometry.

    Raises:
        BVMValueError: if a class map holds a value other than 0..13 and 255, or
            a confidence or probability raster one in 251..254.
    """
    result = ZonalCounts.zeros(len(geometries))
    present = np.flatnonzero(
        ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    )
    best = np.zeros(len(geometries), dtype=np.int64)
    blocks = sum(_block_count(m.grid, block_size) for m in maps)
    by_crs: dict[CRS, list[int]] = {}
    for index, item in enumerate(maps):
        by_crs.setdefault(item.grid.crs or crs, []).append(index)
    classes = (
        np.full(len(geometries), IGNORE_INDEX, dtype=np.int64)
        if bvm_class is None
        else np.asarray(bvm_class, dtype=np.int64)
    )
    with tqdm(
        total=blocks, desc='zonal statistics', unit='block', disable=not progress
    ) as bar:
        for map_crs, indices in by_crs.items():
            projected = reproject_geometry(geometries[present], crs, map_crs, 0.0)
            tree = STRtree(projected)
            zones = _Zones(projected, present, tree, classes[present])
            for index in indices:
                item = maps[index]
                rows = present[tree.query(shapely.box(*item.grid.bounds))]
                result.covered[rows] = True
                before = result.counts[rows].sum(axis=1)
                _count_map(item, zones, result, block_size, bar)
                gained = result.counts[rows].sum(axis=1) - before
                better = gained > best[rows]
                best[rows[better]] = gained[better]
                result.main_map[rows[better]] = index
    return result


@dataclass(frozen=True)
class _Zones:
    """The polygons of one CRS: their outlines, rows, index and BVM classes."""

    projected: NDArray[np.object_]
    present: NDArray[np.int64]
    tree: STRtree
    classes: NDArray[np.int64]


def _block_count(grid: Grid, block_size: int) -> int:
    height, width = grid.shape
    return math.ceil(height / block_size) * math.ceil(width / block_size)


def _count_map(
    item: ClassMap,
    zones: _Zones,
    result: ZonalCounts,
    block_size: int,
    bar: tqdm[Never],
) -> None:
    count_path = optional_sibling(item, '_count', 1)
    probability_path = optional_sibling(item, '_probabilities', NUM_CLASSES)
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(rasterio.open(item.path))
        confidence = (
            stack.enter_context(rasterio.open(item.confidence))
            if item.confidence
            else None
        )
        count = stack.enter_context(rasterio.open(count_path)) if count_path else None
        probability = (
            stack.enter_context(rasterio.open(probability_path))
            if probability_path
            else None
        )
        for window in item.grid.windows(block_size):
            bar.update()
            transform = rasterio.windows.transform(window, item.grid.transform)
            shape = (int(window.height), int(window.width))
            box = shapely.box(*rasterio.windows.bounds(window, item.grid.transform))
            hits = np.sort(zones.tree.query(box))
            if not hits.size:
                continue
            owner, row, start, stop = pixel_runs(
                zones.projected[hits], transform, shape
            )
            if not owner.size:
                continue
            pixel = run_pixels(row, start, stop, shape[1])
            owner = np.repeat(owner, stop - start)
            classes = src.read(1, window=window).ravel()
            _check_values(classes, NUM_CLASSES - 1, item.path, window)
            value = classes[pixel]
            valid = value != IGNORE_INDEX
            owner, pixel, value = owner[valid], pixel[valid], value[valid]
            local = np.bincount(
                owner * NUM_CLASSES + value, minlength=len(hits) * NUM_CLASSES
            )
            rows = zones.present[hits]
            result.counts[rows] += local.reshape(len(hits), NUM_CLASSES)
            block = _Block(window, owner, pixel, rows, len(hits))
            if confidence is not None:
                sums, known = block.sums(confidence, item.confidence, CONFIDENCE_SCALE)
                result.confidence_sum[rows] += sums / CONFIDENCE_SCALE
                result.confidence_pixels[rows] += known
            if count is not None:
                sums, known = block.sums(count, count_path, IGNORE_INDEX - 1)
                result.observation_sum[rows] += sums
                result.observation_pixels[rows] += known
            if probability is not None:
                band = zones.classes[hits][owner]
                sums, known = block.sums(
                    probability, probability_path, CONFIDENCE_SCALE, band
                )
                result.probability_sum[rows] += sums / CONFIDENCE_SCALE
                result.probability_pixels[rows] += known


@dataclass(frozen=True)
class _Block:
    """The counted pixels of one block: whose they are and where."""

    window: Window
    owner: NDArray[np.int64]
    pixel: NDArray[np.int64]
    rows: NDArray[np.int64]
    polygons: int

    def sums(
        self,
        source: rasterio.io.DatasetReader,
        path: Path | None,
        largest: int,
        band: NDArray[np.int64] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Per polygon, the sum of a raster's values at its pixels, and their count.

        With ``band``, each pixel's value is taken from its polygon's band
        (band ``c + 1`` for class ``c``; pixels of no class count nothing).
        """
        if band is None:
            values = source.read(1, window=self.window).ravel()[self.pixel]
            owner = self.owner
        else:
            labelled = band < NUM_CLASSES
            stack = source.read(window=self.window).reshape(source.count, -1)
            values = stack[band[labelled], self.pixel[labelled]]
            owner = self.owner[labelled]
        _check_values(values, largest, path, self.window)
        known = values != IGNORE_INDEX
        sums = np.bincount(
            owner[known],
            weights=values[known].astype(np.float64),
            minlength=self.polygons,
        )
        counted = np.bincount(owner[known], minlength=self.polygons)
        return sums, counted


def _check_values(
    values: NDArray[np.uint8], largest: int, path: Path | None, window: Window
) -> None:
    """Refuse values above ``largest`` other than 255 (no class, no data)."""
    bad = values[(values > largest) & (values != IGNORE_INDEX)]
    if bad.size:
        found = ', '.join(str(v) for v in np.unique(bad)[:10])
        what = 'not a class map: values' if largest < NUM_CLASSES else 'values'
        raise BVMValueError(
            f'{path}: {what} {found} in the block at row {int(window.row_off)}, '
            f'column {int(window.col_off)}; expected 0..{largest} and {IGNORE_INDEX}'
        )
