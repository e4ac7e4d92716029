"""A BVM layer and class maps for the comparison tests, and a brute-force reference.

The polygons lie around the border of map sheets 22/1-2 and 22/3-4 (x = 114,000
in EPSG:31370): seeded star-shaped polygons that overlap one another, polygons
with holes, multipolygons (one part with a hole), one straddling the sheet
border, a sliver too thin to hold a pixel centre, one with no class (integer
label 0) and one far outside every map. Their vertices are random floats, so
no pixel centre lies on an edge and ``shapely.contains_xy`` on pixel centres is
an exact reference for the scanline rule.

Class maps are written in the fused-map format by
:func:`torchgeo_bvm.synth.classmap.write_class_map`: the polygons' BVM classes
burnt in (smaller over larger), a share of pixels changed at random, a few
polygons wholly "changed" to another class, a patch of 255, and random
confidences (some 255).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from torchgeo_bvm.bvm.units import UnitMapping
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.geometry import reproject_geometry
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.spatial.scanline import burn_polygons, polygon_coverage
from torchgeo_bvm.synth.bvm import bwkhab_frame, write_bwkhab
from torchgeo_bvm.synth.classmap import write_class_map

L72 = CRS.from_epsg(31370)
#: The area the polygons lie in (EPSG:31370), across the sheets' border.
AREA = (112_700.0, 189_700.0, 115_300.0, 191_300.0)
BORDER_X = 114_000.0
#: Units of the scene's polygons and their classes under the shipped mapping.
UNITS = ['hp', 'bu', 'ppa', 'ae', 'ur', 'ce', 'mr', 'kn']
#: Polygons "changed" in every map: (index, class the map shows).
CHANGED = {0: 11, 2: 12, 8: 1}
SLIVER = 'sliver'
OUTSIDE = 'outside'


def _star(rng: np.random.Generator, x: float, y: float, radius: float) -> Polygon:
    count = int(rng.integers(6, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = radius * rng.uniform(0.45, 1.0, count)
    return Polygon(
        np.column_stack([x + radii * np.cos(angles), y + radii * np.sin(angles)])
    )


def scene_polygons(seed: int = 0) -> tuple[list[BaseGeometry], list[str], list[str]]:
    """The polygons (EPSG:31370), their EENH1 units and TAG notes.

    Returns:
        ``(geometries, units, notes)``; ``notes`` marks the sliver and the
        polygon outside every map.
    """
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = AREA
    geometries: list[BaseGeometry] = []
    notes: list[str] = []
    for _ in range(22):  # overlapping stars
        x = rng.uniform(xmin + 300, xmax - 300)
        y = rng.uniform(ymin + 300, ymax - 300)
        geometries.append(_star(rng, x, y, rng.uniform(60, 320)))
        notes.append('')
    for _ in range(4):  # with a hole
        x = rng.uniform(xmin + 400, xmax - 400)
        y = rng.uniform(ymin + 400, ymax - 400)
        outer = _star(rng, x, y, rng.uniform(200, 300))
        hole = shapely.affinity.scale(outer, 0.35, 0.35, origin=(x, y))
        geometries.append(Polygon(outer.exterior.coords, [hole.exterior.coords]))
        notes.append('')
    for _ in range(3):  # multipolygons, the first part with a hole
        x = rng.uniform(xmin + 300, BORDER_X - 200)
        y = rng.uniform(ymin + 300, ymax - 300)
        first = _star(rng, x, y, 180.0)
        hole = shapely.affinity.scale(first, 0.3, 0.3, origin=(x, y))
        first = Polygon(first.exterior.coords, [hole.exterior.coords])
        second = _star(rng, x + 900.0, y + rng.uniform(-100, 100), 120.0)
        geometries.append(MultiPolygon([first, second]))
        notes.append('')
    # One across the sheets' border, with a hole on the border.
    straddle = Polygon(
        [(BORDER_X - 351.3, 190_101.7), (BORDER_X + 402.9, 190_087.1),
         (BORDER_X + 377.7, 190_655.3), (BORDER_X - 333.1, 190_640.9)],
        [[(BORDER_X - 91.7, 190_301.3), (BORDER_X + 87.3, 190_299.9),
          (BORDER_X + 81.1, 190_441.7), (BORDER_X - 77.9, 190_433.3)]],
    )  # fmt: skip
    geometries.append(straddle)
    notes.append('')
    geometries.append(shapely.box(113_203.3, 190_903.7, 113_205.9, 190_911.1))
    notes.append(SLIVER)
    geometries.append(_star(rng, 200_000.0, 200_000.0, 100.0))
    notes.append(OUTSIDE)
    units = [UNITS[i % len(UNITS)] for i in range(len(geometries))]
    return geometries, units, notes


def write_scene_bvm(path: Path, label_column: bool = False) -> Path:
    """Write the scene's BVM layer (format from the suffix).

    Args:
        path: ``.shp``, ``.zip``, ``.gpkg`` or ``.parquet``.
        label_column: add the paper's integer ``Label`` (1..14; 0 for the
            second polygon: no label).

    Returns:
        The path.
    """
    geometries, units, _ = scene_polygons()
    fields: dict[str, list[object]] = {}
    if label_column:
        labels = [int(v) + 1 for v in scene_classes()]
        labels[1] = 0
        fields['Label'] = labels  # type: ignore[assignment]
    return write_bwkhab(bwkhab_frame(geometries, units, fields), path)


def scene_classes() -> NDArray[np.uint8]:
    """The BVM class of every scene polygon (the shipped unit mapping)."""
    _, units, _ = scene_polygons()
    return UnitMapping().map_codes(units).ids


def scene_grid(crs: CRS | str | int, res: float | tuple[float, float]) -> Grid:
    """A grid over the scene's area (with a margin) in ``crs``."""
    crs = CRS.from_user_input(crs)
    area = reproject_geometry(shapely.box(*AREA).buffer(200), L72, crs)
    return Grid.from_bounds(area.bounds, crs, res)


def map_classes(grid: Grid, seed: int = 1) -> NDArray[np.uint8]:
    """The scene's class map on a grid: BVM classes, noise, changes, a gap."""
    rng = np.random.default_rng(seed)
    geometries, _, _ = scene_polygons()
    classes = scene_classes().copy()
    for index, changed in CHANGED.items():
        classes[index] = changed
    polygons = reproject_geometry(
        np.asarray(geometries, dtype=object), L72, grid.crs, 0.0
    )
    # Larger under smaller, and the changed polygons on top of all.
    order = np.argsort(-shapely.area(polygons), kind='stable')
    order = np.concatenate([[i for i in order if i not in CHANGED], list(CHANGED)])
    height, width = grid.shape
    burnt = burn_polygons(
        polygons[order], classes[order], grid.transform, (height, width), 2
    )
    noise = rng.random((height, width)) < 0.3
    burnt[noise] = rng.integers(0, NUM_CLASSES, int(noise.sum()))
    burnt[height // 3 : height // 3 + 6, width // 4 : width // 2] = IGNORE_INDEX
    return burnt


def map_confidence(grid: Grid, seed: int = 2) -> NDArray[np.uint8]:
    """Random confidences 0..250, 2 % of them 255."""
    rng = np.random.default_rng(seed)
    confidence = rng.integers(0, 251, grid.shape).astype(np.uint8)
    confidence[rng.random(grid.shape) < 0.02] = IGNORE_INDEX
    return confidence


def write_scene_map(
    path: Path,
    grid: Grid,
    keep: NDArray[np.bool_] | None = None,
    confidence: bool = True,
) -> Path:
    """Write the scene's map on ``grid``; pixels outside ``keep`` are 255."""
    classes = map_classes(grid)
    if keep is not None:
        classes[~keep] = IGNORE_INDEX
    write_class_map(
        path,
        classes,
        grid,
        map_confidence(grid) if confidence else None,
        np.full(grid.shape, 7, dtype=np.uint8),
    )
    return path


def sheet_keep(grid: Grid, sheet: str) -> NDArray[np.bool_]:
    """The pixels of a grid whose centre lies in a map sheet."""
    outline = Sheet.parse(sheet).geometry(grid.crs)
    return polygon_coverage(
        np.asarray([outline], dtype=object), grid.transform, grid.shape
    )


def brute_force(
    geometries: list[BaseGeometry], maps: list[Path], confidence: bool = True
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Per polygon: pixels per class, confidence sum and count, by contains_xy.

    Each polygon is reprojected (vertices only, as the package does) into each
    map's CRS and tested against every pixel centre of the map.
    """
    n = len(geometries)
    counts = np.zeros((n, NUM_CLASSES), dtype=np.int64)
    sums = np.zeros(n)
    known = np.zeros(n, dtype=np.int64)
    for path in maps:
        with rasterio.open(path) as src:
            classes = src.read(1)
            grid = Grid.of_file(src)
        scores = None
        if confidence:
            with rasterio.open(path.with_name(path.stem + '_confidence.tif')) as src:
                scores = src.read(1)
        columns, rows = np.meshgrid(np.arange(grid.shape[1]), np.arange(grid.shape[0]))
        x, y = grid.centre(columns, rows)
        for i, geometry in enumerate(geometries):
            projected = reproject_geometry(geometry, L72, grid.crs, 0.0)
            inside = shapely.contains_xy(projected, x, y) & (classes != IGNORE_INDEX)
            counts[i] += np.bincount(classes[inside], minlength=NUM_CLASSES)
            if scores is not None:
                valued = inside & (scores != IGNORE_INDEX)
                sums[i] += scores[valued].sum() / 250
                known[i] += int(valued.sum())
    return counts, sums, known


def sheet_grid(
    sheet: str, crs: CRS | str | int = 'EPSG:32631', res: float = 20.0
) -> Grid:
    """A grid over a map sheet, on the lattice of multiples of ``res`` in ``crs``."""
    outline = Sheet.parse(sheet).geometry(CRS.from_user_input(crs))
    return Grid.from_bounds(outline.bounds, crs, res)


def write_documented_inputs(folder: Path) -> Path:
    """The files the documented ``compare`` commands name, in ``folder``.

    ``BwkHab.shp`` (and ``.gpkg``), ``BVM_labeled.zip`` (with ``Label``), the
    fused maps of sheets 22/1-2 and 22/3-4 in ``fused/2022/`` (one UTM lattice,
    each map 255 outside its sheet), ``mosaic.tif`` without confidence, a truth
    ``changes.csv`` and an image ``composite.tif``.
    """
    write_scene_bvm(folder / 'BwkHab.shp')
    write_scene_bvm(folder / 'BwkHab.gpkg')
    write_scene_bvm(folder / 'BVM_labeled.zip', label_column=True)
    for sheet in ('22/1-2', '22/3-4'):
        grid = sheet_grid(sheet)
        path = folder / 'fused' / '2022' / f'{sheet.replace("/", "_")}.tif'
        write_scene_map(path, grid, sheet_keep(grid, sheet))
    write_scene_map(folder / 'mosaic.tif', scene_grid(L72, 20.0), confidence=False)
    write_scene_changes(folder / 'changes.csv')
    write_scene_composite(folder / 'composite.tif')
    return folder


def write_scene_changes(path: Path) -> Path:
    """The "changed" polygons as a truth file (``changes.csv``), changed in 2016."""
    classes = scene_classes()
    rows = [
        f'{index + 1}_v2014,{index + 1},{classes[index]},{changed},2016'
        for index, changed in CHANGED.items()
    ]
    path.write_text(
        'TAG,UIDN,bvm_class,true_class,change_year\n' + '\n'.join(rows) + '\n'
    )
    return path


def write_scene_composite(path: Path) -> Path:
    """An openEO monthly composite over the scene (UTM 10 m, 11 named bands)."""
    from torchgeo_bvm.datasets.bands import ALL_BANDS
    from torchgeo_bvm.synth.sentinel2 import write_openeo_file

    grid = scene_grid('EPSG:32631', 10.0)
    rng = np.random.default_rng(3)
    bands = {
        band: rng.integers(200, 3000, grid.shape).astype(np.int16) for band in ALL_BANDS
    }
    return write_openeo_file(path, bands, bounds=grid.bounds, crs=grid.crs)
