"""Patches and narrow features of the mini-Flanders, placed in and along the fields.

Rare classes (heath, marsh, pioneer vegetation, unmapped land, lakes,
orchards, ponds, parks) are patches in holes of their host fields, placed per
``kbl4`` quarter so that every split holds every class; hedges and tree rows,
verges and embankments are strips 5-12 m wide along field edges, a few of them
drawn over the fields they straddle, as in the real map.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from ..noise import seeded_rng
from .frame import CellFacts, Frame
from .geometry import blob, polygonal_parts, subtract_earlier
from .kinds import KIND

__all__ = ['edge_strips', 'place_patches']


def place_patches(
    frame: Frame,
    facts: CellFacts,
    lake_target: float,
    cells: NDArray[np.object_],
    kinds: NDArray[np.int64],
) -> tuple[list[BaseGeometry], list[int]]:
    """Rare classes as patches inside host cells, which keep a hole.

    Placed per kbl4 quarter, so every quarter (hence every split) holds
    every rare class. The host cells are cut in place.

    Args:
        frame: the region.
        facts: what the cover learnt about each cell.
        lake_target: area (m²) of lakes still to place.
        cells: the fields (cut in place where a patch is placed).
        kinds: the fields' kinds.

    Returns:
        The patches and their kinds.
    """
    rng = seeded_rng(frame.seed, 2)
    cuts: dict[int, list[BaseGeometry]] = {}
    geoms: list[BaseGeometry] = []
    out_kinds: list[int] = []
    rural = (kinds == KIND['arable']) | (kinds == KIND['grass'])
    woody = (kinds == KIND['wood']) | (kinds == KIND['conifer'])
    grass = kinds == KIND['grass']
    near_river = facts.d_river < 0.1 * frame.scale
    paved = np.isin(kinds, [KIND['urban'], KIND['urban_dense']])
    plan = [
        (
            'heath',
            frame.target('Heathland'),
            12_000.0,
            woody | (grass & (facts.sand > 0)),
        ),
        (
            'marsh',
            frame.target('Inland marshes'),
            8_000.0,
            (grass & near_river) | (kinds == KIND['poplar']),
        ),
        (
            'pioneer',
            frame.target('Pioneer vegetation'),
            8_000.0,
            (kinds == KIND['industry']) | (kinds == KIND['arable']),
        ),
        ('unmapped', frame.target('Unknown'), 5_000.0, rural | woody),
        ('lake', lake_target, 15_000.0, woody | grass),
        (
            'orchard',
            0.2 * frame.target('Small Woody Landscape Features'),
            4_000.0,
            grass & (facts.d_village < 0.1 * frame.scale),
        ),
        ('orchard_low', 0.01 * frame.area, 10_000.0, kinds == KIND['arable']),
        (
            'pond',
            0.3 * frame.target('Small Non-woody Landscape Features'),
            700.0,
            rural,
        ),
        ('park', 0.004 * frame.area, 8_000.0, paved),
    ]
    for kind, target, mean_area, host in plan:
        for q in range(4):
            here = facts.in_region & (facts.quadrants == q)
            here &= facts.area > 2_000.0
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
                    min(area, 0.45 * facts.area[index], wanted - placed + 400.0),
                )
                centre = shapely.point_on_surface(cells[index])
                disc = blob((centre.x, centre.y), math.sqrt(area / math.pi), rng)
                patch: BaseGeometry = disc.intersection(cells[index])
                for other in cuts.get(int(index), []):
                    patch = patch.difference(other)
                pieces = polygonal_parts([patch])
                if not len(pieces) or frame.in_region(patch) < 0.9 * patch.area:
                    continue  # a host on the region's edge or the border
                patch = shapely.union_all(pieces)
                cuts.setdefault(int(index), []).append(patch)
                geoms.append(patch)
                out_kinds.append(KIND[kind])
                placed += patch.area
    for host, holes in cuts.items():
        cells[host] = cells[host].difference(shapely.union_all(holes))
    return geoms, out_kinds


def edge_strips(
    frame: Frame, facts: CellFacts, cells: NDArray[np.object_], kinds: NDArray[np.int64]
) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.bool_]]:
    """Hedges and tree rows, verges, embankments along field edges.

    Returns the strips, their kinds and which ones stay drawn over the
    fields (the others are cut out of the fields they straddle).

    Args:
        frame: the region.
        facts: what the cover learnt about each cell.
        cells: the fields.
        kinds: the fields' kinds.

    Returns:
        The strips, their kinds and which stay drawn over the fields.
    """
    rng = seeded_rng(frame.seed, 3)
    rural = (kinds == KIND['arable']) | (kinds == KIND['grass'])
    centre = shapely.centroid(cells)
    bocage = frame.fields['hedges'](shapely.get_x(centre), shapely.get_y(centre))
    plan = [
        ('hedge', 0.8 * frame.target('Small Woody Landscape Features'), (6.0, 12.0)),
        (
            'verge',
            0.7 * frame.target('Small Non-woody Landscape Features'),
            (5.0, 8.0),
        ),
        (
            'dyke',
            0.5 * frame.target('Small Landscape Features - not Specified'),
            (6.0, 10.0),
        ),
    ]
    geoms: list[BaseGeometry] = []
    out_kinds: list[int] = []
    for kind, target, (w_min, w_max) in plan:
        for q in range(4):
            candidates = np.flatnonzero(
                rural & facts.in_region & (facts.quadrants == q)
            )
            weight = np.exp(bocage[candidates]) if kind == 'hedge' else 1.0
            candidates = candidates[np.argsort(-weight * rng.random(len(candidates)))]
            placed, wanted = 0.0, max(target / 4, 300.0)
            for index in candidates:
                if placed >= wanted:
                    break
                ring = shapely.get_coordinates(shapely.get_exterior_ring(cells[index]))[
                    :-1
                ]
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
                    frame.region_box,
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
