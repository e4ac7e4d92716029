"""The mini-Flanders land cover: polygons of every kind, drawn step by step.

Corridors first (the river with its banks, a canal, roads, a railway and
streams), then fields (a patchwork of landscape blocks, the city a block of
small urban blocks), their whole-cell cover (urban, woods, grassland, arable),
rare classes as patches in holes of their host fields, and narrow strips
(hedges, verges, dykes) along field edges; Flanders' border cuts the
north-eastern corner off.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from ..bvm import tessellation
from ..noise import MapField, seeded_rng
from .geometry import (
    blob,
    clean,
    curve,
    polygonal_parts,
    subtract,
    subtract_earlier,
)
from .kinds import KIND
from .region import TARGET_SHARES, MiniFlandersSize

__all__ = ['World', 'build_world']


@dataclass
class World:
    """The land cover: polygons in EPSG:31370 with their kind.

    Polygons cover the whole imaged extent (also outside the region and outside
    Flanders, where there is imagery but no BVM), in the order the BVM layer
    writes them.

    Args:
        geometries: the polygons.
        kinds: the kind of each (an index into
            :data:`~torchgeo_bvm.synth.flanders.kinds.KIND_NAMES`).
        flanders: Flanders within the sheets the region touches.
    """

    geometries: NDArray[np.object_]
    kinds: NDArray[np.int64]
    flanders: BaseGeometry


@dataclass
class _Corridors:
    """Linear features that cut through the fields."""

    river: LineString
    canal: LineString
    roads: list[LineString]
    features: list[tuple[BaseGeometry, str]]


class _Landscape:
    """Builds the mini-Flanders land cover step by step.

    Positions are given in coordinates normalised to the region (0..1 across
    and up), so every size has the same geography, while widths and polygon
    sizes are in metres as in the real map.
    """

    def __init__(
        self,
        size: MiniFlandersSize,
        seed: int,
        extent: tuple[float, float, float, float],
        sheet_area: BaseGeometry,
    ) -> None:
        self.seed = seed
        self.region = size.bounds
        self.region_box = box(*size.bounds)
        x0, y0, x1, y1 = size.bounds
        self.width, self.height = x1 - x0, y1 - y0
        self.area = self.width * self.height
        self.scale = min(self.width, self.height)
        self.extent = extent
        self.world_box = box(*extent)
        self.rng = seeded_rng(seed, 1)
        names = ('urban', 'wood', 'grass', 'sand', 'hedges')
        spans = (0.08, 0.06, 0.1, 0.15, 0.12)
        self.fields = {
            name: MapField(extent, seeded_rng(seed, 10 + i), span * self.scale)
            for i, (name, span) in enumerate(zip(names, spans, strict=True))
        }
        self.city = self.metres([(0.6, 0.56)])[0]
        self.city_radius = 0.22 * self.height
        self.river_width = float(np.clip(0.012 * self.height, 40.0, 150.0))
        self.flanders = self._flanders(sheet_area)
        # What the BVM maps: the region, inside Flanders.
        self.mapped = self.region_box.intersection(self.flanders)
        self.lake_target = 0.0  # set once the river's water area is known

    def metres(
        self, uv: Sequence[tuple[float, float]] | NDArray[np.float64]
    ) -> NDArray[np.float64]:
        uv = np.asarray(uv, dtype=np.float64)
        x0, y0 = self.region[0], self.region[1]
        return np.column_stack(
            [x0 + uv[:, 0] * self.width, y0 + uv[:, 1] * self.height]
        )

    def target(self, name: str) -> float:
        """Target area (m²) of a class in the region."""
        return TARGET_SHARES[name] * self.area

    def in_region(self, geometry: BaseGeometry) -> float:
        """Area of ``geometry`` that the BVM maps (inside the region and Flanders)."""
        return float(geometry.intersection(self.mapped).area)

    # -- corridors --------------------------------------------------------------

    def corridors(self) -> _Corridors:
        rng, s = self.rng, self.scale
        # The river crosses all four kbl4 quarters and leaves across the border.
        river = curve(
            self.metres(
                [
                    (-0.08, 0.72),
                    (0.18, 0.52),
                    (0.32, 0.2),
                    (0.6, 0.16),
                    (0.84, 0.38),
                    (0.9, 0.74),
                    (0.98, 1.12),
                ]
            ),
            rng,
            wiggle=0.03 * s,
            spacing=0.004 * s,
        )
        canal = curve(self.metres([(0.6, 0.56), (0.55, 0.8), (0.5, 1.1)]), rng, 0, 50)
        motorway = curve(
            self.metres([(-0.1, 0.34), (0.3, 0.4), (0.7, 0.44), (1.1, 0.5)]),
            rng,
            wiggle=0.01 * s,
            spacing=0.01 * s,
        )
        railway = curve(
            self.metres(
                [(-0.1, 0.66), (0.3, 0.62), (0.6, 0.56), (0.8, 0.3), (1.1, 0.26)]
            ),
            rng,
            wiggle=0.0,
            spacing=0.01 * s,
        )
        self.villages = self.metres(
            rng.uniform(0.05, 0.95, (max(2, round(self.area / 12e6)), 2))
        )
        roads = [motorway]
        for village in self.villages:
            roads.append(self._road(self.city, village))
        for village in self.villages[: max(1, len(self.villages) // 2)]:
            side = rng.integers(3)
            exit_uv = [
                (-0.1, rng.uniform()),
                (1.1, rng.uniform()),
                (rng.uniform(), -0.1),
            ][side]
            roads.append(self._road(village, self.metres([exit_uv])[0]))
        features: list[tuple[BaseGeometry, str]] = [
            (canal.buffer(self.river_width / 4, cap_style='flat'), 'canal'),
            (motorway.buffer(15.0, cap_style='flat'), 'road'),
            (railway.buffer(9.0, cap_style='flat'), 'rail'),
            *[(road.buffer(6.0, cap_style='flat'), 'road') for road in roads[1:]],
        ]
        water: BaseGeometry = river.buffer(self.river_width / 2, cap_style='flat')
        banks, sandbanks = self._banks(river, water)
        if sandbanks:
            water = water.difference(shapely.union_all(sandbanks))  # holes
        features = [(water, 'river'), *banks, *features, *self._streams(river)]
        return _Corridors(river, canal, roads, features)

    def _road(self, start: NDArray[np.float64], end: NDArray[np.float64]) -> LineString:
        direction = end - start
        length = float(np.hypot(*direction))
        normal = np.array([-direction[1], direction[0]]) / (length + 1e-9)
        bend = (start + end) / 2 + normal * self.rng.normal(0, 0.08) * length
        return curve(
            np.array([start, bend, end]),
            self.rng,
            0.004 * self.scale,
            max(20.0, length / 100),
        )

    def _banks(
        self, river: LineString, water: BaseGeometry
    ) -> tuple[list[tuple[BaseGeometry, str]], list[BaseGeometry]]:
        """Strips of mudflat, salt marsh, dyke and dune along the river banks.

        The river is cut into pieces that take these kinds in turn, on
        alternating banks; strip widths are chosen so each class reaches its
        target area over the river's length inside the region.
        """
        pattern: tuple[str | None, ...] = (
            'mudflat',
            'dune',
            'saltmarsh',
            'dyke',
            'mudflat',
            None,
            'saltmarsh',
            'dune',
        )
        classes = {
            'mudflat': ('Marine habitats', 0.6),
            'saltmarsh': ('Marine habitats', 0.4),
            'dyke': ('Small Landscape Features - not Specified', 0.5),
            'dune': ('Coastal dune habitats', 1.0),
        }
        inside = river.intersection(self.region_box).length
        widths = {}
        for kind, (name, part) in classes.items():
            length = inside * pattern.count(kind) / len(pattern)
            widths[kind] = float(
                np.clip(self.target(name) * part / max(length, 1.0), 6, 150)
            )
        piece = max(50.0, 0.03 * self.height)
        count = max(len(pattern), int(river.length // piece))
        edges = np.linspace(0, river.length, count + 1)
        banks: list[tuple[BaseGeometry, str]] = []
        sandbanks: list[BaseGeometry] = []
        for i, (start, stop) in enumerate(itertools.pairwise(edges)):
            step = pattern[i % len(pattern)]
            if step is None:
                continue
            kind = step
            segment = substring(river, start, stop)
            side = 1 if (i // len(pattern)) % 2 == 0 else -1
            outer = segment.buffer(
                side * (self.river_width / 2 + widths[kind]),
                cap_style='flat',
                single_sided=True,
            )
            strip = outer.difference(water)
            if not strip.is_empty:
                banks.append((strip, kind))
            if kind == 'mudflat' and i % 3 == 0:
                centre = segment.interpolate(0.5, normalized=True)
                bank = blob((centre.x, centre.y), 0.25 * self.river_width, self.rng)
                sandbanks.append(bank.intersection(water))
        # A sand bank in the channel is a mudflat polygon in a hole of the river.
        banks += [(s, 'mudflat') for s in sandbanks if not s.is_empty]
        return banks, [s for s in sandbanks if not s.is_empty]

    def _streams(self, river: LineString) -> list[tuple[BaseGeometry, str]]:
        """Streams 6-8 m wide (one or two pixels) draining into the river."""
        streams: list[tuple[BaseGeometry, str]] = []
        for _ in range(max(2, round(self.area / 25e6))):
            start = self.metres(self.rng.uniform(0.0, 1.0, (1, 2)))[0]
            mouth = river.interpolate(self.rng.uniform(0.1, 0.9), normalized=True)
            line = curve(
                np.array([start, (mouth.x, mouth.y)]), self.rng, 0.01 * self.scale, 25.0
            )
            streams.append(
                (line.buffer(self.rng.uniform(3.0, 4.0), cap_style='flat'), 'stream')
            )
        return streams

    # -- fields -------------------------------------------------------------------

    def cells(self) -> NDArray[np.object_]:
        """Fields: a patchwork of landscape blocks.

        The blocks are a Voronoi partition, each a tessellation at its own angle
        and field size; the city is a block of small urban blocks.
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
        self, cells: NDArray[np.object_], corridors: _Corridors
    ) -> NDArray[np.int64]:
        """Whole-cell land cover: urban, then woods, then grassland or arable.

        Each takes the cells of highest suitability until its target area in the
        region is reached (corridors already count towards theirs).
        """
        centre = shapely.centroid(cells)
        cx, cy = shapely.get_x(centre), shapely.get_y(centre)
        self.cell_area = shapely.area(cells)
        self.cell_in_region = shapely.intersects(cells, self.mapped)
        d_city = np.hypot(cx - self.city[0], cy - self.city[1])
        d_village = np.min(
            np.hypot(
                cx[:, None] - self.villages[:, 0], cy[:, None] - self.villages[:, 1]
            ),
            axis=1,
        )
        d_road = shapely.distance(centre, shapely.union_all(corridors.roads))
        self.d_river = shapely.distance(centre, corridors.river)
        self.d_village = d_village
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
        self.quadrants = self.quadrant(cells)
        return kinds

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

    def quadrant(self, geometries: NDArray[np.object_]) -> NDArray[np.int64]:
        """0 NW, 1 NE, 2 SW, 3 SE: the kbl4 sheets around the region's centre."""
        point = shapely.point_on_surface(geometries)
        east = shapely.get_x(point) >= (self.region[0] + self.region[2]) / 2
        south = shapely.get_y(point) < (self.region[1] + self.region[3]) / 2
        return east.astype(np.int64) + 2 * south.astype(np.int64)

    # -- patches and narrow features ----------------------------------------------

    def patches(
        self, cells: NDArray[np.object_], kinds: NDArray[np.int64]
    ) -> tuple[list[BaseGeometry], list[int]]:
        """Rare classes as patches inside host cells, which keep a hole.

        Placed per kbl4 quarter, so every quarter (hence every split) holds
        every rare class.
        """
        rng = seeded_rng(self.seed, 2)
        cuts: dict[int, list[BaseGeometry]] = {}
        geoms: list[BaseGeometry] = []
        out_kinds: list[int] = []
        rural = (kinds == KIND['arable']) | (kinds == KIND['grass'])
        woody = (kinds == KIND['wood']) | (kinds == KIND['conifer'])
        grass = kinds == KIND['grass']
        near_river = self.d_river < 0.1 * self.scale
        paved = np.isin(kinds, [KIND['urban'], KIND['urban_dense']])
        plan = [
            (
                'heath',
                self.target('Heathland'),
                12_000.0,
                woody | (grass & (self.sand > 0)),
            ),
            (
                'marsh',
                self.target('Inland marshes'),
                8_000.0,
                (grass & near_river) | (kinds == KIND['poplar']),
            ),
            (
                'pioneer',
                self.target('Pioneer vegetation'),
                8_000.0,
                (kinds == KIND['industry']) | (kinds == KIND['arable']),
            ),
            ('unmapped', self.target('Unknown'), 5_000.0, rural | woody),
            ('lake', self.lake_target, 15_000.0, woody | grass),
            (
                'orchard',
                0.2 * self.target('Small Woody Landscape Features'),
                4_000.0,
                grass & (self.d_village < 0.1 * self.scale),
            ),
            ('orchard_low', 0.01 * self.area, 10_000.0, kinds == KIND['arable']),
            (
                'pond',
                0.3 * self.target('Small Non-woody Landscape Features'),
                700.0,
                rural,
            ),
            ('park', 0.004 * self.area, 8_000.0, paved),
        ]
        for kind, target, mean_area, host in plan:
            for q in range(4):
                here = self.cell_in_region & (self.quadrants == q)
                here &= self.cell_area > 2_000.0
                candidates = np.flatnonzero(here & host)
                if not len(candidates):  # a small region: any field will do
                    candidates = np.flatnonzero(here & (rural | woody))
                rng.shuffle(candidates)
                placed, wanted = 0.0, max(target / 4, 900.0)
                for index in candidates:
                    if placed >= wanted:
                        break
                    if len(cuts.get(int(index), [])) >= 2:
                        continue
                    area = float(rng.lognormal(np.log(mean_area), 0.4))
                    area = max(
                        400.0,
                        min(
                            area, 0.45 * self.cell_area[index], wanted - placed + 400.0
                        ),
                    )
                    centre = shapely.point_on_surface(cells[index])
                    disc = blob((centre.x, centre.y), math.sqrt(area / math.pi), rng)
                    patch: BaseGeometry = disc.intersection(cells[index])
                    for other in cuts.get(int(index), []):
                        patch = patch.difference(other)
                    pieces = polygonal_parts([patch])
                    if not len(pieces) or self.in_region(patch) < 0.9 * patch.area:
                        continue  # a host on the region's edge or the border
                    patch = shapely.union_all(pieces)
                    cuts.setdefault(int(index), []).append(patch)
                    geoms.append(patch)
                    out_kinds.append(KIND[kind])
                    placed += patch.area
        for host, holes in cuts.items():
            cells[host] = cells[host].difference(shapely.union_all(holes))
        return geoms, out_kinds

    def edge_features(
        self, cells: NDArray[np.object_], kinds: NDArray[np.int64]
    ) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.bool_]]:
        """Hedges and tree rows, verges, embankments along field edges.

        Returns the strips, their kinds and which ones stay drawn over the
        fields (the others are cut out of the fields they straddle).
        """
        rng = seeded_rng(self.seed, 3)
        rural = (kinds == KIND['arable']) | (kinds == KIND['grass'])
        centre = shapely.centroid(cells)
        bocage = self.fields['hedges'](shapely.get_x(centre), shapely.get_y(centre))
        plan = [
            ('hedge', 0.8 * self.target('Small Woody Landscape Features'), (6.0, 12.0)),
            (
                'verge',
                0.7 * self.target('Small Non-woody Landscape Features'),
                (5.0, 8.0),
            ),
            (
                'dyke',
                0.5 * self.target('Small Landscape Features - not Specified'),
                (6.0, 10.0),
            ),
        ]
        geoms: list[BaseGeometry] = []
        out_kinds: list[int] = []
        for kind, target, (w_min, w_max) in plan:
            for q in range(4):
                candidates = np.flatnonzero(
                    rural & self.cell_in_region & (self.quadrants == q)
                )
                weight = np.exp(bocage[candidates]) if kind == 'hedge' else 1.0
                candidates = candidates[
                    np.argsort(-weight * rng.random(len(candidates)))
                ]
                placed, wanted = 0.0, max(target / 4, 300.0)
                for index in candidates:
                    if placed >= wanted:
                        break
                    ring = shapely.get_coordinates(
                        shapely.get_exterior_ring(cells[index])
                    )[:-1]
                    if len(ring) < 4:
                        continue
                    start, take = int(rng.integers(len(ring))), int(rng.integers(3, 6))
                    line = LineString(np.vstack([ring, ring])[start : start + take])
                    width = float(rng.uniform(w_min, w_max))
                    if not 25.0 <= line.length <= 500.0:
                        continue
                    strip = shapely.intersection(
                        line.buffer(
                            width / 2,
                            cap_style='flat',
                            join_style='mitre',
                            mitre_limit=2.0,
                        ),
                        self.region_box,
                    )
                    if strip.area < 50.0:
                        continue
                    geoms.append(strip)
                    out_kinds.append(KIND[kind])
                    placed += strip.area
        strips = np.asarray(geoms, dtype=object)
        # A strip drawn later is cut where it crosses an earlier one.
        strips = subtract_earlier(strips)
        drawn_over = rng.random(len(strips)) < 0.05
        return strips, np.asarray(out_kinds, dtype=np.int64), drawn_over

    # -- the border ----------------------------------------------------------------

    def _flanders(self, sheet_area: BaseGeometry) -> BaseGeometry:
        """Flanders: the sheets minus a north-eastern corner beyond a wiggly border."""
        points = self.metres(
            [
                (0.4, 3.0),
                (0.48, 1.3),
                (0.55, 1.0),
                (0.68, 0.86),
                (0.8, 0.78),
                (1.0, 0.66),
                (1.3, 0.5),
                (3.0, -0.2),
            ]
        )
        border = curve(
            points, seeded_rng(self.seed, 4), 0.01 * self.scale, 0.005 * self.scale
        )
        coords = shapely.get_coordinates(border)
        far = self.metres([(3.0, 3.0)])
        outside = shapely.make_valid(Polygon(np.vstack([coords, far])))
        return sheet_area.difference(outside)


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
        The polygons, their kinds and Flanders.
    """
    land = _Landscape(size, seed, extent, sheet_area)
    corridors = land.corridors()
    water_done = sum(
        land.in_region(g)
        for g, k in corridors.features
        if k in ('river', 'canal', 'stream')
    )
    land.lake_target = max(land.target('Water bodies') - water_done, 0.002 * land.area)
    cells = polygonal_parts(subtract(land.cells(), [g for g, _ in corridors.features]))
    kinds = land.cover(cells, corridors)
    patch_geoms, patch_kinds = land.patches(cells, kinds)
    strips, strip_kinds, drawn_over = land.edge_features(cells, kinds)
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
