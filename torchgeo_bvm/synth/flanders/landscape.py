"""The mini-Flanders land cover: polygons of every kind, drawn step by step.

Corridors first (the river with its banks, a canal, roads, a railway and
streams: :mod:`.corridors`), then fields (a patchwork of landscape blocks, the
city a block of small urban blocks), their whole-cell cover (urban, woods,
grassland, arable), rare classes as patches in holes of their host fields, and
narrow strips (hedges, verges, dykes) along field edges (:mod:`.features`);
Flanders' border cuts the north-eastern corner off (:class:`.frame.Frame`).
What changed on the ground after the BVM mapped it is added later
(:mod:`.changes`, :meth:`World.changed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ..bvm import tessellation
from .corridors import Corridors, build_corridors
from .features import edge_strips, place_patches
from .frame import CellFacts, Frame
from .geometry import blob, clean, polygonal_parts, subtract
from .kinds import KIND
from .region import MiniFlandersSize

__all__ = ['World', 'build_world']


def _none() -> NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


@dataclass
class World:
    """The land cover: polygons in EPSG:31370 with their kind.

    Polygons cover the whole imaged extent (also outside the region and outside
    Flanders, where there is imagery but no BVM), in the order the BVM layer
    writes them. ``kinds`` is what the BVM mapped; a few polygons changed
    later (``changed``, ``new_kinds``, ``change_years``), and
    :meth:`kinds_in` gives what lies on the ground in a year.

    Args:
        geometries: the polygons.
        kinds: the kind of each as mapped (an index into
            :data:`~torchgeo_bvm.synth.flanders.kinds.KIND_NAMES`).
        flanders: Flanders within the sheets the region touches.
        changed: indices of the polygons whose land cover changed.
        new_kinds: the kind each of them changed into.
        change_years: the year each changed (the new cover is there all that
            year and after).
    """

    geometries: NDArray[np.object_]
    kinds: NDArray[np.int64]
    flanders: BaseGeometry
    changed: NDArray[np.int64] = field(default_factory=_none)
    new_kinds: NDArray[np.int64] = field(default_factory=_none)
    change_years: NDArray[np.int64] = field(default_factory=_none)

    def kinds_in(self, year: int) -> NDArray[np.int64]:
        """What lies on the ground in a year.

        Args:
            year: the calendar year.

        Returns:
            The kind of every polygon: the changed ones' new kind from their
            change year on, the mapped kind otherwise.
        """
        kinds = self.kinds.copy()
        done = self.change_years <= year
        kinds[self.changed[done]] = self.new_kinds[done]
        return kinds

    def changed_into(
        self,
        changed: NDArray[np.int64],
        new_kinds: NDArray[np.int64],
        change_years: NDArray[np.int64],
    ) -> World:
        """The same world, some polygons changing after the mapping.

        Args:
            changed: indices of the polygons that change.
            new_kinds: the kind each changes into.
            change_years: the year each changes.

        Returns:
            A new world; this one is left as it is.
        """
        return replace(
            self,
            changed=np.asarray(changed, dtype=np.int64),
            new_kinds=np.asarray(new_kinds, dtype=np.int64),
            change_years=np.asarray(change_years, dtype=np.int64),
        )


class _Landscape(Frame):
    """Builds the fields and their whole-cell cover (see the module)."""

    def cells(self) -> NDArray[np.object_]:
        """Fields: a patchwork of landscape blocks.

        The blocks are a Voronoi partition, each a tessellation at its own angle
        and field size; the city is a block of small urban blocks.

        Returns:
            The fields.
        """
        ex0, ey0, ex1, ey1 = self.extent
        self.city_blob = blob(tuple(self.city), self.city_radius, self.rng)
        count = int(np.clip(round(self.area / 15e6), 3, 16))
        seeds = shapely.multipoints(
            self.rng.uniform([ex0, ey0], [ex1, ey1], (count, 2))
        )
        voronoi = shapely.get_parts(
            shapely.voronoi_polygons(seeds, extend_to=self.world_box)
        )
        blocks = [
            v.intersection(self.world_box).difference(self.city_blob) for v in voronoi
        ]
        blocks.append(self.city_blob.intersection(self.world_box))
        parts = []
        for i, block in enumerate(blocks):
            if block.is_empty:
                continue
            city = i == len(blocks) - 1
            mean_area = (
                5_000.0 if city else float(self.rng.lognormal(np.log(22_000), 0.3))
            )
            angle = math.radians(self.rng.uniform(-35, 35))
            parts.append(self._block_cells(block, mean_area, angle, i))
        return np.concatenate(parts)

    def _block_cells(
        self, block: BaseGeometry, mean_area: float, angle: float, index: int
    ) -> NDArray[np.object_]:
        cx, cy = block.centroid.x, block.centroid.y
        xmin, ymin, xmax, ymax = block.bounds
        size = math.sqrt(mean_area)
        side = math.ceil(math.hypot(xmax - xmin, ymax - ymin) / size) + 2
        cells = tessellation(
            side * side,
            seed=self.seed * 1000 + index,
            origin=(cx - side * size / 2, cy - side * size / 2),
            mean_area=mean_area,
            aspect=1.0,
        )
        cos, sin = math.cos(angle), math.sin(angle)

        def rotate(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            dx, dy = xy[:, 0] - cx, xy[:, 1] - cy
            return np.column_stack([cx + cos * dx - sin * dy, cy + sin * dx + cos * dy])

        cells = shapely.transform(cells, rotate)
        cells = cells[shapely.intersects(cells, block)]
        return polygonal_parts(shapely.intersection(cells, block))

    def cover(
        self, cells: NDArray[np.object_], corridors: Corridors
    ) -> tuple[NDArray[np.int64], CellFacts]:
        """Whole-cell land cover: urban, then woods, then grassland or arable.

        Each takes the cells of highest suitability until its target area in the
        region is reached (corridors already count towards theirs).

        Args:
            cells: the fields.
            corridors: the corridors (already drawn).

        Returns:
            The kind of each cell, and what the cover learnt about the cells.
        """
        centre = shapely.centroid(cells)
        cx, cy = shapely.get_x(centre), shapely.get_y(centre)
        self.cell_area = shapely.area(cells)
        self.cell_in_region = shapely.intersects(cells, self.mapped)
        d_city = np.hypot(cx - self.city[0], cy - self.city[1])
        villages = corridors.villages
        d_village = np.min(
            np.hypot(cx[:, None] - villages[:, 0], cy[:, None] - villages[:, 1]),
            axis=1,
        )
        d_road = shapely.distance(centre, shapely.union_all(corridors.roads))
        self.d_river = shapely.distance(centre, corridors.river)
        self.sand = self.fields['sand'](cx, cy)
        kinds = np.full(len(cells), KIND['arable'], dtype=np.int64)
        free = np.ones(len(cells), dtype=bool)

        urban_score = (
            2.5 * np.exp(-((d_city / self.city_radius) ** 2))
            + 1.2 * np.exp(-((d_village / (0.06 * self.scale)) ** 2))
            + 0.6 * np.exp(-d_road / 80.0)  # ribbon development along roads
            + 0.35 * self.fields['urban'](cx, cy)
        )
        paved = sum(
            self.in_region(g) for g, k in corridors.features if k in ('road', 'rail')
        )
        urban = self._take(urban_score, free, self.target('Urban areas') - paved)
        kinds[urban] = KIND['urban']
        kinds[urban & (d_city < 0.5 * self.city_radius)] = KIND['urban_dense']
        near_canal = shapely.distance(centre, corridors.canal) < 0.12 * self.scale
        kinds[urban & near_canal & (d_city >= 0.5 * self.city_radius)] = KIND[
            'industry'
        ]
        kinds[
            urban & (kinds == KIND['urban']) & (self.rng.random(len(cells)) < 0.06)
        ] = KIND['park']
        free &= ~urban

        wood_score = self.fields['wood'](cx, cy) + 0.3 * (d_city > self.city_radius)
        wood = self._take(wood_score, free, 1.15 * self.target('Woodland and shrub'))
        kinds[wood] = KIND['wood']
        kinds[wood & (self.sand > 0.6)] = KIND['conifer']
        kinds[wood & (self.d_river < 0.05 * self.scale) & (self.sand <= 0.6)] = KIND[
            'poplar'
        ]
        free &= ~wood

        grass_score = self.fields['grass'](cx, cy) + 1.2 * np.exp(
            -self.d_river / (0.06 * self.scale)
        )
        # Meadows and arable fields alternate field by field, as in Flanders.
        grass_score = grass_score + 0.8 * self.rng.standard_normal(len(cells))
        grass = self._take(grass_score, free, 1.05 * self.target('Grasslands'))
        kinds[grass] = KIND['grass']
        facts = CellFacts(
            self.cell_area,
            self.cell_in_region,
            self.quadrant(cells),
            self.d_river,
            d_village,
            self.sand,
        )
        return kinds, facts

    def _take(
        self, score: NDArray[np.float64], free: NDArray[np.bool_], target: float
    ) -> NDArray[np.bool_]:
        order = np.argsort(-np.where(free, score, -np.inf), kind='stable')
        counted = np.where(
            self.cell_in_region[order] & free[order], self.cell_area[order], 0.0
        )
        chosen = np.zeros(len(score), dtype=bool)
        chosen[order[(np.cumsum(counted) <= target) & free[order]]] = True
        return chosen


def build_world(
    size: MiniFlandersSize,
    seed: int,
    extent: tuple[float, float, float, float],
    sheet_area: BaseGeometry,
) -> World:
    """Build the land cover of a mini-Flanders region.

    Args:
        size: the region.
        seed: the scene's seed.
        extent: the imaged extent in EPSG:31370, which the polygons cover.
        sheet_area: the sheets the region touches; Flanders is cut from them.

    Returns:
        The polygons, their kinds and Flanders (no change yet).
    """
    land = _Landscape(size, seed, extent, sheet_area)
    corridors = build_corridors(land)
    water_done = sum(
        land.in_region(g)
        for g, k in corridors.features
        if k in ('river', 'canal', 'stream')
    )
    lake_target = max(land.target('Water bodies') - water_done, 0.002 * land.area)
    cells = polygonal_parts(subtract(land.cells(), [g for g, _ in corridors.features]))
    kinds, facts = land.cover(cells, corridors)
    patch_geoms, patch_kinds = place_patches(land, facts, lake_target, cells, kinds)
    strips, strip_kinds, drawn_over = edge_strips(land, facts, cells, kinds)
    cells = subtract(cells, strips[~drawn_over])
    geometries = np.concatenate(
        [
            cells,
            np.asarray(patch_geoms, dtype=object),
            strips,
            np.asarray([g for g, _ in corridors.features], dtype=object),
        ]
    )
    all_kinds = np.concatenate(
        [
            kinds,
            np.asarray(patch_kinds, dtype=np.int64),
            strip_kinds,
            np.asarray([KIND[k] for _, k in corridors.features], dtype=np.int64),
        ]
    )
    geometries = shapely.intersection(geometries, land.world_box)
    # Single parts only where a geometry fell apart into slivers; whole parts
    # stay one (Multi)Polygon feature.
    geometries = np.asarray([clean(g) for g in geometries], dtype=object)
    keep = ~shapely.is_empty(geometries)
    return World(geometries[keep], all_kinds[keep], land.flanders)
