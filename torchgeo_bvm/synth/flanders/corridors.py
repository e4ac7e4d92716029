"""Corridors of the mini-Flanders: the river and its banks, canal, roads, streams.

They are drawn first and cut through the fields: a tidal river meandering
across all four ``kbl4`` quarters with strips of mudflat, salt marsh, dyke and
dune on alternating banks and sand banks in holes of its channel, a canal
from the city, a motorway, a railway, roads from the city to the villages and
on out of the region, and streams one or two pixels wide draining into the
river.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from .frame import Frame
from .geometry import blob, curve

__all__ = ['Corridors', 'build_corridors']


@dataclass
class Corridors:
    """Linear features that cut through the fields.

    Args:
        river: the river's centre line.
        canal: the canal's centre line.
        roads: the roads' centre lines, the motorway first.
        villages: the villages' centres ``(n, 2)`` (EPSG:31370).
        features: every corridor polygon with its kind's name, in drawing order.
    """

    river: LineString
    canal: LineString
    roads: list[LineString]
    villages: NDArray[np.float64]
    features: list[tuple[BaseGeometry, str]]


def build_corridors(frame: Frame) -> Corridors:
    """Draw the corridors.

    Args:
        frame: the region; its generator draws the meanders, villages and roads.

    Returns:
        The corridors.
    """
    rng, s = frame.rng, frame.scale
    # The river crosses all four kbl4 quarters and leaves across the border.
    river = curve(
        frame.metres(
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
    canal = curve(frame.metres([(0.6, 0.56), (0.55, 0.8), (0.5, 1.1)]), rng, 0, 50)
    motorway = curve(
        frame.metres([(-0.1, 0.34), (0.3, 0.4), (0.7, 0.44), (1.1, 0.5)]),
        rng,
        wiggle=0.01 * s,
        spacing=0.01 * s,
    )
    railway = curve(
        frame.metres([(-0.1, 0.66), (0.3, 0.62), (0.6, 0.56), (0.8, 0.3), (1.1, 0.26)]),
        rng,
        wiggle=0.0,
        spacing=0.01 * s,
    )
    villages = frame.metres(
        rng.uniform(0.05, 0.95, (max(2, round(frame.area / 12e6)), 2))
    )
    roads = [motorway]
    for village in villages:
        roads.append(_road(frame, frame.city, village))
    for village in villages[: max(1, len(villages) // 2)]:
        side = rng.integers(3)
        exit_uv = [
            (-0.1, rng.uniform()),
            (1.1, rng.uniform()),
            (rng.uniform(), -0.1),
        ][side]
        roads.append(_road(frame, village, frame.metres([exit_uv])[0]))
    features: list[tuple[BaseGeometry, str]] = [
        (canal.buffer(frame.river_width / 4, cap_style='flat'), 'canal'),
        (motorway.buffer(15.0, cap_style='flat'), 'road'),
        (railway.buffer(9.0, cap_style='flat'), 'rail'),
        *[(road.buffer(6.0, cap_style='flat'), 'road') for road in roads[1:]],
    ]
    water: BaseGeometry = river.buffer(frame.river_width / 2, cap_style='flat')
    banks, sandbanks = _banks(frame, river, water)
    if sandbanks:
        water = water.difference(shapely.union_all(sandbanks))  # holes
    features = [(water, 'river'), *banks, *features, *_streams(frame, river)]
    return Corridors(river, canal, roads, villages, features)


def _road(
    frame: Frame, start: NDArray[np.float64], end: NDArray[np.float64]
) -> LineString:
    direction = end - start
    length = float(np.hypot(*direction))
    normal = np.array([-direction[1], direction[0]]) / (length + 1e-9)
    bend = (start + end) / 2 + normal * frame.rng.normal(0, 0.08) * length
    return curve(
        np.array([start, bend, end]),
        frame.rng,
        0.004 * frame.scale,
        max(20.0, length / 100),
    )


def _banks(
    frame: Frame, river: LineString, water: BaseGeometry
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
    inside = river.intersection(frame.region_box).length
    widths = {}
    for kind, (name, part) in classes.items():
        length = inside * pattern.count(kind) / len(pattern)
        widths[kind] = float(
            np.clip(frame.target(name) * part / max(length, 1.0), 6, 150)
        )
    piece = max(50.0, 0.03 * frame.height)
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
            side * (frame.river_width / 2 + widths[kind]),
            cap_style='flat',
            single_sided=True,
        )
        strip = outer.difference(water)
        if not strip.is_empty:
            banks.append((strip, kind))
        if kind == 'mudflat' and i % 3 == 0:
            centre = segment.interpolate(0.5, normalized=True)
            bank = blob((centre.x, centre.y), 0.25 * frame.river_width, frame.rng)
            sandbanks.append(bank.intersection(water))
    # A sand bank in the channel is a mudflat polygon in a hole of the river.
    banks += [(s, 'mudflat') for s in sandbanks if not s.is_empty]
    return banks, [s for s in sandbanks if not s.is_empty]


def _streams(frame: Frame, river: LineString) -> list[tuple[BaseGeometry, str]]:
    """Streams 6-8 m wide (one or two pixels) draining into the river."""
    streams: list[tuple[BaseGeometry, str]] = []
    for _ in range(max(2, round(frame.area / 25e6))):
        start = frame.metres(frame.rng.uniform(0.0, 1.0, (1, 2)))[0]
        mouth = river.interpolate(frame.rng.uniform(0.1, 0.9), normalized=True)
        line = curve(
            np.array([start, (mouth.x, mouth.y)]), frame.rng, 0.01 * frame.scale, 25.0
        )
        streams.append(
            (line.buffer(frame.rng.uniform(3.0, 4.0), cap_style='flat'), 'stream')
        )
    return streams


# -- fields -------------------------------------------------------------------
