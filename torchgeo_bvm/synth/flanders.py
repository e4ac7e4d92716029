"""Mini-Flanders: a small, deterministic region around Gent in the real formats.

:func:`write_mini_flanders` writes everything the package reads, for one region
of sheet 22 (Gent), so that the whole pipeline can run on a fresh machine:

* ``bvm/BwkHab.shp``: a BVM layer with every field of INBO's ``BwkHab``
  (:func:`torchgeo_bvm.synth.bwk.write_bwkhab`), mapping units drawn so that
  all 14 classes occur with shares like the paper's Table 1 (the rare classes
  raised to at least :data:`RARE_FLOOR` of the area so that their metrics are
  defined), polygons of realistic shapes and sizes: patchworks of fields in
  differently oriented landscape blocks, small urban blocks in the city,
  clustered woods, a meandering tidal river with mudflats, salt marsh, dykes
  and dunes on its banks, a canal, roads, a railway and streams, and narrow
  hedges, tree rows and verges (5-12 m wide) on field edges. Patches such as
  heath clearings, ponds and orchards are holes in their host polygon; a few
  small features overlap the fields they are drawn over, and roads overlap the
  river at bridges, as in the real map.
* ``kbl/Kbl.shp``, ``Kbl4.shp``, ``Kbl8.shp``, ``Kbl16.shp``: the official sheet
  files of the 1:50,000 sheets the region touches
  (:func:`torchgeo_bvm.synth.kbl.write_official_sheets`).
* ``boundary/Refgew.shp``: a Flanders boundary in the format of the VRBG's
  ``Refgew.shp``, whose border cuts through the region's north-east: there the
  imagery goes on but the BVM has no polygon.
* ``TOC_V2/YYYY/MM/DD/<product>/``: Terrascope TOC products of MGRS tile 31UES
  (UTM 31N) for :data:`DATES`, spring, summer and autumn of two years
  (:func:`torchgeo_bvm.synth.sentinel2.write_terrascope_product`). Reflectance
  is rendered from the land cover: realistic spectra per class and season
  (crops bare in spring and green in summer, deciduous woods leafless in early
  spring, tides over the mudflats), each polygon its own crop and brightness,
  texture within polygons, mixed pixels at edges (rendered at 5 m, averaged to
  10 m and blurred), clouds, cloud shadows, cirrus and a no-data corner, with a
  scene classification (SCL) that marks them.
* ``manifest.json``: what was written (paths relative to the folder), the
  region, sheets, dates, seed, size and the class pixel counts of the BVM at
  10 m; written last, so its ``complete`` flag says the folder is whole.
* ``overview.png``: the class map beside one true-colour date.

**Re-running** into the same folder with the same size and seed reuses what is
there when the manifest says it is complete and every listed file exists with
its recorded size; otherwise everything is regenerated (each file atomically)
and files listed by an older manifest that the new run does not write are
removed. A non-empty folder without a manifest is refused, never overwritten.

Same seed and size give byte-identical files: the dBASE headers carry a fixed
date (:data:`DBF_DATE`) instead of today's, and no GeoTIFF carries a time tag.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.transform import Affine, from_origin
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from ..bwk import UnitMapping
from ..classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, PAPER_PERCENT
from ..crs import UTM31N
from ..datasets.sentinel2 import ALL_BANDS
from ..fileio import atomic_path
from ..kaartblad import KBL_CRS, LEVELS, Sheet, sheets
from .bwk import bwkhab_frame, tessellation, write_bwkhab
from .kbl import LAMBERT72_ESRI_WKT, write_official_sheets
from .sentinel2 import SCL_SPECTRA, TERRASCOPE_NODATA, write_terrascope_product

__all__ = [
    'DATES',
    'DBF_DATE',
    'DEFAULT_SIZE',
    'MANIFEST_NAME',
    'RARE_FLOOR',
    'SIZES',
    'TARGET_SHARES',
    'MiniFlandersSize',
    'load_manifest',
    'write_mini_flanders',
    'write_refgew',
]

#: Bumped whenever the generated content changes (a re-run then regenerates).
GENERATOR_VERSION = 1
#: Name of the manifest inside the output folder.
MANIFEST_NAME = 'manifest.json'
#: Date written into every dBASE header, for byte-identical re-runs.
DBF_DATE = (2023, 1, 1)
#: The MGRS tile over Gent and its processing version.
TILE = '31UES'
VERSION = 'V210'


@dataclass(frozen=True)
class MiniFlandersSize:
    """One size of the generated region.

    Args:
        name: the size's name.
        bounds: the region in EPSG:31370 ``(xmin, ymin, xmax, ymax)``; every
            size is centred on the corner of the four ``kbl4`` sheets of sheet
            22, so the paper's split gives train, validation and test parts.
        description: what the size is for.
    """

    name: str
    bounds: tuple[float, float, float, float]
    description: str

    @property
    def pixels(self) -> tuple[int, int]:
        """(rows, columns) of the region at 10 m."""
        xmin, ymin, xmax, ymax = self.bounds
        return round((ymax - ymin) / 10), round((xmax - xmin) / 10)


#: The sizes offered; ``demo`` is the default.
SIZES: dict[str, MiniFlandersSize] = {
    s.name: s
    for s in (
        MiniFlandersSize(
            'tiny',
            (112_400.0, 187_000.0, 115_600.0, 189_000.0),
            '3.2 x 2 km (320 x 200 px), for the test suite',
        ),
        MiniFlandersSize(
            'small',
            (110_000.0, 185_500.0, 118_000.0, 190_500.0),
            '8 x 5 km, for quick experiments',
        ),
        MiniFlandersSize(
            'demo',
            (106_000.0, 183_000.0, 122_000.0, 193_000.0),
            '16 x 10 km, an 8 x 5 km part of each of 22/1-2, 22/3-4, 22/5-6, 22/7-8',
        ),
        MiniFlandersSize(
            'sheet',
            (98_000.0, 178_000.0, 130_000.0, 198_000.0),
            'the whole 1:50,000 sheet 22 (Gent), 32 x 20 km',
        ),
    )
}
#: The size written when none is given.
DEFAULT_SIZE = 'demo'

#: Acquisitions: (sensing time UTC, platform); spring, summer and autumn of 2020
#: and early summer of 2021.
DATES: tuple[tuple[str, str], ...] = (
    ('2020-04-18T10:50:31', 'S2A'),
    ('2020-07-27T10:46:19', 'S2B'),
    ('2020-10-05T10:50:31', 'S2A'),
    ('2021-06-14T10:46:19', 'S2B'),
)
#: Cloud cover, cirrus and a no-data corner per date (same order as DATES).
_WEATHER = (
    {'cloud': 0.06, 'cirrus': False, 'nodata': False},
    {'cloud': 0.02, 'cirrus': True, 'nodata': False},
    {'cloud': 0.22, 'cirrus': False, 'nodata': True},
    {'cloud': 0.10, 'cirrus': True, 'nodata': False},
)

#: Smallest area share of any class, so that rare classes have pixels to score.
RARE_FLOOR = 0.0005

#: Target area share of each class: the paper's Table 1 normalised to 1 (its
#: percentages add up to 112 %), rare classes raised to :data:`RARE_FLOOR`.
TARGET_SHARES: dict[str, float] = {
    name: max(RARE_FLOOR, percent / sum(PAPER_PERCENT.values()))
    for name, percent in PAPER_PERCENT.items()
}

# ----------------------------------------------------------------- land cover
# A "kind" is what a polygon is on the ground: it decides its mapping units
# (EENH1, drawn from the shipped table's codes of the intended class) and how it
# is rendered. Tests check every code maps to the class named here.
_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    'arable': ('Cultivated land', ('bl', 'bl', 'bs', 'bu', 'bk')),
    'orchard_low': ('Cultivated land', ('kl',)),
    'grass': ('Grasslands', ('hp', 'hp', 'hp', 'hx', 'hpr', 'hu', 'hr', 'hc', 'hj')),
    'urban_dense': ('Urban areas', ('ud',)),
    'urban': ('Urban areas', ('ua', 'ur', 'ua', 'un', 'uc', 'uv')),
    'industry': ('Urban areas', ('ui',)),
    'park': ('Urban areas', ('kp', 'kpk', 'kp+')),
    'road': ('Urban areas', ('weg',)),
    'rail': ('Urban areas', ('spoor',)),
    'wood': ('Woodland and shrub', ('qb', 'fm', 'fs', 'qs', 'va', 'vm', 'ru', 'sz')),
    'poplar': ('Woodland and shrub', ('lh', 'ls', 'lhi')),
    'conifer': ('Woodland and shrub', ('pa', 'pi', 'ppa', 'pms')),
    'heath': ('Heathland', ('cg', 'ce', 'cm', 'cd')),
    'marsh': ('Inland marshes', ('mr', 'mc', 'mz', 'mm')),
    'pioneer': ('Pioneer vegetation', ('ku', 'kz', 'ko', 'dm')),
    'river': ('Water bodies', ('ae',)),
    'canal': ('Water bodies', ('ap',)),
    'lake': ('Water bodies', ('ae', 'ao', 'aom', 'ad')),
    'stream': ('Water bodies', ('wat',)),
    'mudflat': ('Marine habitats', ('ds', 'dz')),
    'saltmarsh': ('Marine habitats', ('da',)),
    'dune': ('Coastal dune habitats', ('dd', 'had', 'hd', 'sd', 'mp')),
    'hedge': ('Small Woody Landscape Features', ('kh', 'kb', 'khw', 'kh(qs)', 'kb+')),
    'orchard': ('Small Woody Landscape Features', ('kj',)),
    'verge': ('Small Non-woody Landscape Features', ('k(hf)', 'k(hr)', 'kt(hr)')),
    'pond': ('Small Non-woody Landscape Features', ('kn',)),
    'dyke': ('Small Landscape Features - not Specified', ('kd', 'kt', 'kw', 'ks')),
    'unmapped': ('Unknown', ('ng',)),
}
_KIND_NAMES = tuple(_KINDS)
_K = {name: i for i, name in enumerate(_KIND_NAMES)}

_HABITATS: dict[str, tuple[str, ...]] = {
    'wood': ('9130_end', '9160', '91E0_va', 'gh', 'gh'),
    'heath': ('4030', '4010', '2310'),
    'marsh': ('rbbmr', 'rbbmc', 'gh'),
    'mudflat': ('1130', '1140_mo'),
    'saltmarsh': ('1330_da',),
    'dune': ('2120', '2130_had', '2160', '2190_mp'),
    'pioneer': ('2330_bu', 'gh', 'gh'),
    'grass': ('gh', 'gh', 'gh', 'gh', '6510_hu', 'rbbhc'),
}
_EVALUATION: dict[str, tuple[str, ...]] = {
    'wood': ('w', 'z', 'wz'),
    'poplar': ('mw', 'w'),
    'conifer': ('m', 'mw'),
    'heath': ('z',),
    'marsh': ('z', 'wz'),
    'mudflat': ('z',),
    'saltmarsh': ('z',),
    'dune': ('z',),
    'pioneer': ('w', 'mw'),
    'grass': ('m', 'm', 'mw', 'w'),
    'hedge': ('mw', 'w'),
    'orchard': ('w',),
    'verge': ('mw', 'm'),
    'pond': ('w', 'mw'),
    'dyke': ('m', 'mw'),
    'stream': ('mw',),
    'lake': ('m', 'mw', 'w'),
    'unmapped': ('m',),
}

# Endmember spectra (reflectance x 10000) for B01 B02 B03 B04 B05 B06 B07 B08
# B8A B11 B12, typical Sentinel-2 L2A values of each surface.
_ENDMEMBERS: dict[str, tuple[float, ...]] = {
    'crop': (250, 300, 600, 300, 1000, 2900, 3600, 3900, 4000, 2100, 1000),
    'grass': (300, 360, 720, 420, 1150, 2550, 3050, 3350, 3450, 2250, 1200),
    'dry': (700, 800, 1050, 1250, 1550, 1850, 2050, 2200, 2300, 3300, 2600),
    'soil': (900, 1000, 1300, 1650, 1850, 2000, 2150, 2250, 2350, 3000, 2550),
    'forest': (220, 250, 480, 230, 800, 2400, 3000, 3300, 3400, 1600, 700),
    'bare_trees': (450, 480, 620, 650, 850, 1150, 1350, 1450, 1550, 1900, 1300),
    'conifer': (200, 230, 380, 220, 600, 1400, 1700, 1850, 1950, 950, 450),
    'turbid': (750, 700, 800, 650, 520, 330, 280, 240, 220, 120, 90),
    'clear': (500, 430, 480, 300, 240, 190, 170, 140, 130, 70, 50),
    'urban': (1150, 1200, 1300, 1400, 1550, 1700, 1800, 1900, 1950, 2200, 2000),
    'asphalt': (800, 750, 800, 850, 900, 950, 1000, 1050, 1080, 1300, 1200),
    'roof': (2200, 2300, 2450, 2600, 2700, 2800, 2900, 3000, 3050, 3200, 3000),
    'sand': (1500, 1750, 2150, 2550, 2800, 3000, 3150, 3250, 3350, 3900, 3300),
    'mud': (650, 700, 850, 950, 1050, 1150, 1200, 1250, 1250, 1000, 700),
    'heath': (280, 320, 480, 450, 780, 1450, 1750, 1950, 2050, 1950, 1250),
    'reed': (320, 380, 650, 500, 1000, 2200, 2650, 2850, 2950, 2150, 1200),
}
_EM_NAMES = tuple(_ENDMEMBERS)
_E = {name: i for i, name in enumerate(_EM_NAMES)}
_EM = np.array([_ENDMEMBERS[n] for n in _EM_NAMES], dtype=np.float64)

# 'ley': grass sown on arable land for a year or two, spectrally grassland.
_CROPS = ('winter_cereal', 'maize', 'potato', 'beet', 'vegetable', 'ley')
_CROP_P = (0.27, 0.27, 0.12, 0.08, 0.12, 0.14)
# Green cover and residue by day of year: (day, green, residue) nodes.
_PHENOLOGY: dict[str, tuple[tuple[float, float, float], ...]] = {
    'winter_cereal': (
        (60, 0.35, 0.0),
        (110, 0.6, 0.0),
        (160, 0.95, 0.0),
        (195, 0.3, 0.6),
        (215, 0.05, 0.85),
        (260, 0.05, 0.4),
        (300, 0.15, 0.1),
    ),
    'maize': (
        (60, 0, 0),
        (135, 0, 0),
        (170, 0.25, 0),
        (205, 0.9, 0),
        (265, 0.85, 0),
        (285, 0.05, 0.6),
        (320, 0.05, 0.3),
    ),
    'potato': (
        (60, 0, 0),
        (130, 0, 0),
        (165, 0.6, 0),
        (205, 0.85, 0),
        (230, 0.3, 0.5),
        (250, 0, 0.1),
        (320, 0, 0),
    ),
    'beet': (
        (60, 0, 0),
        (120, 0, 0),
        (165, 0.5, 0),
        (200, 0.9, 0),
        (290, 0.85, 0),
        (310, 0.05, 0.3),
    ),
    'ley': (
        (60, 0.7, 0),
        (130, 0.9, 0),
        (170, 0.55, 0.3),
        (220, 0.85, 0),
        (300, 0.8, 0),
    ),
    'vegetable': (
        (60, 0.1, 0),
        (110, 0.2, 0),
        (160, 0.6, 0),
        (210, 0.7, 0.1),
        (280, 0.5, 0.1),
        (320, 0.3, 0),
    ),
}


def _interp_phenology(crop: str, doy: NDArray[np.float64]) -> tuple[Any, Any]:
    nodes = np.array(_PHENOLOGY[crop], dtype=np.float64)
    return np.interp(doy, nodes[:, 0], nodes[:, 1]), np.interp(
        doy, nodes[:, 0], nodes[:, 2]
    )


def _leaf(doy: float) -> float:
    """Leaf cover of deciduous trees (0 leafless .. 1 full) by day of year."""
    return float(np.interp(doy, [95, 140, 285, 320], [0.05, 1.0, 1.0, 0.1]))


# ------------------------------------------------------------------- geometry


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent generator per component.

    A change in one component then does not shift the random draws of another.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _smooth_noise(
    shape: tuple[int, int], rng: np.random.Generator, scale: float
) -> NDArray[np.float64]:
    """White noise low-pass filtered to features of about ``scale`` pixels."""
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * scale) ** 2 * (fx**2 + fy**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=shape)
    result: NDArray[np.float64] = (field - field.mean()) / (field.std() + 1e-12)
    return result


class _Field:
    """A smooth random field (mean 0, sd 1) over an extent, sampled at points."""

    def __init__(
        self,
        extent: tuple[float, float, float, float],
        rng: np.random.Generator,
        scale_m: float,
    ) -> None:
        self.x0, self.y0, x1, y1 = extent
        self.cell = max(20.0, scale_m / 8)
        shape = (
            max(4, math.ceil((y1 - self.y0) / self.cell) + 1),
            max(4, math.ceil((x1 - self.x0) / self.cell) + 1),
        )
        self.values = _smooth_noise(shape, rng, scale_m / self.cell)

    def __call__(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        rows = ((y - self.y0) / self.cell).astype(np.int64)
        cols = ((x - self.x0) / self.cell).astype(np.int64)
        rows = np.clip(rows, 0, self.values.shape[0] - 1)
        cols = np.clip(cols, 0, self.values.shape[1] - 1)
        result: NDArray[np.float64] = self.values[rows, cols]
        return result


def _curve(
    xy: NDArray[np.float64],
    rng: np.random.Generator,
    wiggle: float,
    spacing: float,
) -> LineString:
    """A smooth line through points (metres), meandering by about ``wiggle`` m."""
    for _ in range(3):  # Chaikin corner cutting rounds the polyline off
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        xy = np.vstack([xy[:1], np.column_stack([q, r]).reshape(-1, 2), xy[-1:]])
    line = LineString(xy)
    n = max(8, int(line.length / spacing))
    coords = shapely.get_coordinates(
        shapely.line_interpolate_point(line, np.linspace(0, line.length, n))
    )
    tangent = np.gradient(coords, axis=0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    s = np.linspace(0, 1, n)
    offset = np.zeros(n)
    for _ in range(3):
        offset += np.sin(2 * np.pi * (rng.uniform(2, 7) * s + rng.uniform(0, 1)))
    return LineString(coords + normal * (wiggle / 3 * offset)[:, None])


def _polygons(
    geometries: Sequence[BaseGeometry] | NDArray[np.object_],
) -> NDArray[np.object_]:
    """The polygonal parts (area > 1 m²) of geometries, as Polygons."""
    parts = shapely.get_parts(np.asarray(geometries, dtype=object))
    parts = parts[shapely.get_type_id(parts) == 3]
    kept: NDArray[np.object_] = parts[shapely.area(parts) > 1.0]
    return kept


def _blob(
    centre: tuple[float, float], radius: float, rng: np.random.Generator
) -> Polygon:
    """An irregular roundish polygon."""
    angles = np.linspace(0, 2 * np.pi, 17)[:-1]
    r = radius * (1 + 0.25 * np.sin(angles * 2 + rng.uniform(0, 6)))
    r *= rng.uniform(0.85, 1.15, len(angles))
    return Polygon(
        np.column_stack(
            [centre[0] + r * np.cos(angles), centre[1] + r * np.sin(angles)]
        )
    )


def _subtract(
    cells: NDArray[np.object_], cutters: Sequence[BaseGeometry] | NDArray[np.object_]
) -> NDArray[np.object_]:
    """Cut ``cutters`` out of ``cells``; only the cells they touch are computed."""
    cutters = np.asarray(cutters, dtype=object)
    if not len(cutters) or not len(cells):
        return cells
    hit_cutter, hit_cell = shapely.STRtree(cells).query(cutters, predicate='intersects')
    if not len(hit_cell):
        return cells
    order = np.argsort(hit_cell, kind='stable')
    hit_cell, hit_cutter = hit_cell[order], hit_cutter[order]
    starts = np.flatnonzero(np.r_[True, hit_cell[1:] != hit_cell[:-1]])
    merged = np.array(
        [
            shapely.union_all(cutters[group])
            for group in np.split(hit_cutter, starts[1:])
        ],
        dtype=object,
    )
    out = cells.copy()
    targets = hit_cell[starts]
    out[targets] = shapely.difference(cells[targets], merged)
    return out


@dataclass
class _World:
    """The land cover: polygons in EPSG:31370 with their kind.

    Polygons cover the whole imaged extent (also outside the region and outside
    Flanders, where there is imagery but no BVM), in the order the BVM layer
    writes them.
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
        self.rng = _rng(seed, 1)
        names = ('urban', 'wood', 'grass', 'sand', 'hedges')
        spans = (0.08, 0.06, 0.1, 0.15, 0.12)
        self.fields = {
            name: _Field(extent, _rng(seed, 10 + i), span * self.scale)
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
        river = _curve(
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
        canal = _curve(self.metres([(0.6, 0.56), (0.55, 0.8), (0.5, 1.1)]), rng, 0, 50)
        motorway = _curve(
            self.metres([(-0.1, 0.34), (0.3, 0.4), (0.7, 0.44), (1.1, 0.5)]),
            rng,
            wiggle=0.01 * s,
            spacing=0.01 * s,
        )
        railway = _curve(
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
        return _curve(
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
            segment = shapely.ops.substring(river, start, stop)
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
                bank = _blob((centre.x, centre.y), 0.25 * self.river_width, self.rng)
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
            line = _curve(
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
        self.city_blob = _blob(tuple(self.city), self.city_radius, self.rng)
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
        return _polygons(shapely.intersection(cells, block))

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
        kinds = np.full(len(cells), _K['arable'], dtype=np.int64)
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
        kinds[urban] = _K['urban']
        kinds[urban & (d_city < 0.5 * self.city_radius)] = _K['urban_dense']
        near_canal = shapely.distance(centre, corridors.canal) < 0.12 * self.scale
        kinds[urban & near_canal & (d_city >= 0.5 * self.city_radius)] = _K['industry']
        kinds[urban & (kinds == _K['urban']) & (self.rng.random(len(cells)) < 0.06)] = (
            _K['park']
        )
        free &= ~urban

        wood_score = self.fields['wood'](cx, cy) + 0.3 * (d_city > self.city_radius)
        wood = self._take(wood_score, free, 1.15 * self.target('Woodland and shrub'))
        kinds[wood] = _K['wood']
        kinds[wood & (self.sand > 0.6)] = _K['conifer']
        kinds[wood & (self.d_river < 0.05 * self.scale) & (self.sand <= 0.6)] = _K[
            'poplar'
        ]
        free &= ~wood

        grass_score = self.fields['grass'](cx, cy) + 1.2 * np.exp(
            -self.d_river / (0.06 * self.scale)
        )
        # Meadows and arable fields alternate field by field, as in Flanders.
        grass_score = grass_score + 0.8 * self.rng.standard_normal(len(cells))
        grass = self._take(grass_score, free, 1.05 * self.target('Grasslands'))
        kinds[grass] = _K['grass']
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
        rng = _rng(self.seed, 2)
        cuts: dict[int, list[BaseGeometry]] = {}
        geoms: list[BaseGeometry] = []
        out_kinds: list[int] = []
        rural = (kinds == _K['arable']) | (kinds == _K['grass'])
        woody = (kinds == _K['wood']) | (kinds == _K['conifer'])
        grass = kinds == _K['grass']
        near_river = self.d_river < 0.1 * self.scale
        paved = np.isin(kinds, [_K['urban'], _K['urban_dense']])
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
                (grass & near_river) | (kinds == _K['poplar']),
            ),
            (
                'pioneer',
                self.target('Pioneer vegetation'),
                8_000.0,
                (kinds == _K['industry']) | (kinds == _K['arable']),
            ),
            ('unmapped', self.target('Unknown'), 5_000.0, rural | woody),
            ('lake', self.lake_target, 15_000.0, woody | grass),
            (
                'orchard',
                0.2 * self.target('Small Woody Landscape Features'),
                4_000.0,
                grass & (self.d_village < 0.1 * self.scale),
            ),
            ('orchard_low', 0.01 * self.area, 10_000.0, kinds == _K['arable']),
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
                    blob = _blob((centre.x, centre.y), math.sqrt(area / math.pi), rng)
                    patch: BaseGeometry = blob.intersection(cells[index])
                    for other in cuts.get(int(index), []):
                        patch = patch.difference(other)
                    pieces = _polygons([patch])
                    if not len(pieces) or self.in_region(patch) < 0.9 * patch.area:
                        continue  # a host on the region's edge or the border
                    patch = shapely.union_all(pieces)
                    cuts.setdefault(int(index), []).append(patch)
                    geoms.append(patch)
                    out_kinds.append(_K[kind])
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
        rng = _rng(self.seed, 3)
        rural = (kinds == _K['arable']) | (kinds == _K['grass'])
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
                    out_kinds.append(_K[kind])
                    placed += strip.area
        strips = np.asarray(geoms, dtype=object)
        # A strip drawn later is cut where it crosses an earlier one.
        strips = _subtract_earlier(strips)
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
        border = _curve(
            points, _rng(self.seed, 4), 0.01 * self.scale, 0.005 * self.scale
        )
        coords = shapely.get_coordinates(border)
        far = self.metres([(3.0, 3.0)])
        outside = shapely.make_valid(Polygon(np.vstack([coords, far])))
        return sheet_area.difference(outside)


def _subtract_earlier(strips: NDArray[np.object_]) -> NDArray[np.object_]:
    """Cut each strip by the strips before it, so crossing strips do not overlap."""
    if len(strips) < 2:
        return strips
    out = strips.copy()
    earlier, later = shapely.STRtree(strips).query(strips, predicate='intersects')
    keep = earlier < later
    for index in np.unique(later[keep]):
        cutters = strips[earlier[keep & (later == index)]]
        out[index] = strips[index].difference(shapely.union_all(cutters))
    return out


def _build_world(
    size: MiniFlandersSize,
    seed: int,
    extent: tuple[float, float, float, float],
    sheet_area: BaseGeometry,
) -> _World:
    land = _Landscape(size, seed, extent, sheet_area)
    corridors = land.corridors()
    water_done = sum(
        land.in_region(g)
        for g, k in corridors.features
        if k in ('river', 'canal', 'stream')
    )
    land.lake_target = max(land.target('Water bodies') - water_done, 0.002 * land.area)
    cells = _polygons(_subtract(land.cells(), [g for g, _ in corridors.features]))
    kinds = land.cover(cells, corridors)
    patch_geoms, patch_kinds = land.patches(cells, kinds)
    strips, strip_kinds, drawn_over = land.edge_features(cells, kinds)
    cells = _subtract(cells, strips[~drawn_over])
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
            np.asarray([_K[k] for _, k in corridors.features], dtype=np.int64),
        ]
    )
    geometries = shapely.intersection(geometries, land.world_box)
    # Single parts only where a geometry fell apart into slivers; whole parts
    # stay one (Multi)Polygon feature.
    geometries = np.asarray([_clean(g) for g in geometries], dtype=object)
    keep = ~shapely.is_empty(geometries)
    return _World(geometries[keep], all_kinds[keep], land.flanders)


def _clean(geometry: BaseGeometry) -> BaseGeometry:
    """Polygonal parts over 1 m², valid, as one geometry (empty if none)."""
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = _polygons([geometry])
    if not len(parts):
        return Polygon()
    if len(parts) == 1:
        single: BaseGeometry = parts[0]
        return single
    multi: BaseGeometry = shapely.multipolygons(list(parts))
    return multi


# ------------------------------------------------------------------ attributes


def _bvm_frame(
    geometries: NDArray[np.object_], kinds: NDArray[np.int64], seed: int
) -> gpd.GeoDataFrame:
    """The BVM attributes of each polygon, in the notation of the real layer."""
    rng = _rng(seed, 5)
    n = len(geometries)
    names = np.array(_KIND_NAMES, dtype=object)[kinds]
    eenh1 = np.empty(n, dtype=object)
    hab1 = np.full(n, 'gh', dtype=object)
    evaluation = np.full(n, 'm', dtype=object)
    for kind, (_, codes) in _KINDS.items():
        rows = np.flatnonzero(names == kind)
        if not len(rows):
            continue
        eenh1[rows] = rng.choice(np.array(codes, dtype=object), len(rows))
        if kind in _HABITATS:
            hab1[rows] = rng.choice(np.array(_HABITATS[kind], dtype=object), len(rows))
        if kind in _EVALUATION:
            evaluation[rows] = rng.choice(
                np.array(_EVALUATION[kind], dtype=object), len(rows)
            )
    # The real notation: + well developed, - poorly developed (printed * and °).
    natural = np.isin(names, ['wood', 'heath', 'marsh', 'grass', 'dune', 'conifer'])
    plain = np.array([code.isalpha() for code in eenh1])
    draw = rng.random(n)
    eenh1 = np.where(natural & plain & (draw < 0.10), eenh1 + '+', eenh1)
    eenh1 = np.where(natural & plain & (draw > 0.96), eenh1 + '-', eenh1)
    eenh2 = np.full(n, None, dtype=object)
    second = natural & (rng.random(n) < 0.25)
    companions = np.array(['kb', 'hp', 'sz', 'qs', 'hf', 'mr', 'ku'], dtype=object)
    eenh2[second] = rng.choice(companions, int(second.sum()))
    legend = np.where(hab1 == 'gh', 'gh', 'hab').astype(object)
    phab1 = np.full(n, 100, dtype=np.int32)
    hab2 = np.full(n, None, dtype=object)
    phab2 = np.zeros(n, dtype=np.int32)
    partly = (legend == 'hab') & (rng.random(n) < 0.25)
    legend[partly] = 'phab'
    phab1[partly] = rng.choice([50, 60, 70, 80], int(partly.sum())).astype(np.int32)
    hab2[partly] = 'gh'
    phab2[partly] = 100 - phab1[partly]
    uidn = rng.choice(np.arange(100_000, 900_000), n, replace=False).astype(np.int64)
    oidn = rng.choice(np.arange(1, 700_000), n, replace=False).astype(np.int64)
    versions = rng.choice([1997, 2003, 2009, 2014, 2016, 2018, 2020, 2022], n)
    return bwkhab_frame(
        geometries,
        list(eenh1),
        {
            'UIDN': list(uidn),
            'OIDN': list(oidn),
            'TAG': [f'{o}_v{v}' for o, v in zip(oidn, versions, strict=True)],
            'EVAL': list(evaluation),
            'EENH2': list(eenh2),
            'HAB1': list(hab1),
            'PHAB1': list(phab1),
            'HAB2': list(hab2),
            'PHAB2': list(phab2),
            'HABLEGENDE': list(legend),
        },
    )


# ------------------------------------------------------------------- imagery


@dataclass
class _Traits:
    """Per-polygon properties that stay the same on every date."""

    brightness: NDArray[np.float64]
    crops: NDArray[np.int64]  # (n, years): the crop of an arable field per year
    shift: NDArray[np.float64]  # days earlier or later than the average crop
    green: NDArray[np.float64]  # garden share of urban polygons
    mix: NDArray[np.float64]  # (n, 4) cover of unmapped polygons
    weeds: NDArray[np.float64]  # share of a field that departs from its crop
    mowing: NDArray[np.float64]  # how often a meadow is mown


def _traits(kinds: NDArray[np.int64], seed: int) -> _Traits:
    rng = _rng(seed, 6)
    n = len(kinds)
    green = rng.uniform(0.2, 0.5, n)
    green[kinds == _K['urban_dense']] = rng.uniform(
        0.03, 0.12, int((kinds == _K['urban_dense']).sum())
    )
    green[kinds == _K['industry']] = rng.uniform(
        0.0, 0.1, int((kinds == _K['industry']).sum())
    )
    return _Traits(
        brightness=rng.lognormal(0.0, 0.12, n),
        crops=rng.choice(len(_CROPS), (n, 2), p=_CROP_P).astype(np.int64),
        shift=rng.normal(0.0, 8.0, n),
        green=green,
        mix=rng.dirichlet([1.0, 1.0, 1.0, 1.0], n),
        mowing=rng.uniform(0.0, 0.9, n),
        weeds=rng.uniform(0.0, 0.3, n),
    )


def _fractions(
    kinds: NDArray[np.int64],
    traits: _Traits,
    doy: float,
    year: int,
    tide: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Endmember fractions (n, endmembers) of every polygon on one date."""
    n = len(kinds)
    fractions = np.zeros((n, len(_EM_NAMES)))
    leaf = _leaf(doy)
    spring = float(np.interp(doy, [60, 130, 280, 330], [0.65, 0.9, 0.9, 0.75]))

    def put(kind: str | Sequence[str], **cover: float | NDArray[np.float64]) -> None:
        rows = np.isin(
            kinds, [_K[k] for k in ([kind] if isinstance(kind, str) else kind)]
        )
        for name, value in cover.items():
            fractions[rows, _E[name]] += (
                value[rows] if isinstance(value, np.ndarray) else value
            )

    # Arable fields: each its own crop, sown a little earlier or later.
    crop = traits.crops[:, year]
    arable = kinds == _K['arable']
    for index, name in enumerate(_CROPS):
        rows = arable & (crop == index)
        g, residue = _interp_phenology(name, doy + traits.shift[rows])
        fractions[rows, _E['grass' if name == 'ley' else 'crop']] = g
        fractions[rows, _E['dry']] = (1 - g) * residue
        fractions[rows, _E['soil']] = (1 - g) * (1 - residue)
    # Meadows: green all year, but mown or grazed short on some dates.
    mown = rng.random(n) < traits.mowing * (0.5 if 140 < doy < 260 else 0.05)
    g = np.where(mown, 0.4, 0.9) * spring
    put('grass', grass=g, dry=(1 - g) * 0.7, soil=(1 - g) * 0.3)
    # Weeds, patchy emergence, lodging: part of every field and meadow departs
    # from its crop, each field by its own amount and mixture.
    farmed = (kinds == _K['arable']) | (kinds == _K['grass'])
    other = rng.dirichlet([1.0, 1.0, 1.0, 1.0], n)
    weeds = np.where(farmed, traits.weeds, 0.0)[:, None]
    fractions *= 1 - weeds
    for column, name in enumerate(('crop', 'grass', 'dry', 'soil')):
        fractions[:, _E[name]] += weeds[:, 0] * other[:, column]
    put(
        'orchard_low',
        grass=0.5,
        forest=0.3 * leaf,
        bare_trees=0.3 * (1 - leaf),
        soil=0.2,
    )
    gardens = traits.green
    put(
        ['urban', 'urban_dense'],
        urban=1 - gardens,
        grass=gardens * 0.6 * spring,
        soil=gardens * 0.6 * (1 - spring),
        forest=gardens * 0.4 * leaf,
        bare_trees=gardens * 0.4 * (1 - leaf),
    )
    put(
        'industry', roof=0.6 * (1 - gardens), asphalt=0.4 * (1 - gardens), grass=gardens
    )
    put(
        'park',
        grass=0.55 * spring,
        dry=0.55 * (1 - spring),
        forest=0.4 * leaf,
        bare_trees=0.4 * (1 - leaf),
        urban=0.05,
    )
    put('road', asphalt=0.85, grass=0.15)
    put('rail', urban=0.5, asphalt=0.3, dry=0.2)
    autumn = 0.2 if doy > 270 else 0.0
    put(
        ['wood', 'poplar', 'hedge'],
        forest=leaf * (1 - autumn),
        dry=leaf * autumn,
        bare_trees=1 - leaf,
    )
    put('orchard', grass=0.55, forest=0.45 * leaf, bare_trees=0.45 * (1 - leaf))
    put('conifer', conifer=0.85, grass=0.15)
    put('heath', heath=0.8, dry=0.1, grass=0.1)
    reed = float(np.interp(doy, [90, 160, 250, 300], [0.15, 0.85, 0.9, 0.4]))
    put('marsh', reed=reed, dry=1 - reed)
    put('pioneer', sand=0.5, soil=0.25, grass=0.25 * spring)
    summer = 0.04 if 150 < doy < 250 else 0.0  # algae
    put(['river', 'canal'], turbid=1 - summer, crop=summer)
    put('lake', clear=0.85 - summer, turbid=0.15, crop=summer)
    put(
        'stream', clear=0.45, grass=0.35, forest=0.2 * leaf, bare_trees=0.2 * (1 - leaf)
    )
    put('mudflat', mud=1 - tide, turbid=tide)
    put('saltmarsh', reed=0.5 * spring, dry=0.5 * (1 - spring), grass=0.2, mud=0.3)
    put('dune', sand=0.55, grass=0.25, dry=0.2)
    put('verge', grass=0.6 * spring, dry=0.4 + 0.6 * (1 - spring))
    put('pond', clear=0.6, grass=0.4)
    put('dyke', grass=0.8, dry=0.2)
    rows = kinds == _K['unmapped']
    for column, name in enumerate(('grass', 'soil', 'urban', 'forest')):
        fractions[rows, _E[name]] += traits.mix[rows, column]
    total = fractions.sum(axis=1, keepdims=True)
    result: NDArray[np.float64] = fractions / np.where(total > 0, total, 1.0)
    return result


@dataclass
class _Grid:
    """The imagery grid: UTM 31N, 10 m, whole multiples of 60 m."""

    bounds: tuple[float, float, float, float]

    @property
    def shape(self) -> tuple[int, int]:
        xmin, ymin, xmax, ymax = self.bounds
        return round((ymax - ymin) / 10), round((xmax - xmin) / 10)

    def transform(self, metres: float) -> Affine:
        return from_origin(self.bounds[0], self.bounds[3], metres, metres)


def _imagery_grid(region: tuple[float, float, float, float]) -> _Grid:
    to_utm = Transformer.from_crs(KBL_CRS, UTM31N, always_xy=True)
    xmin, ymin, xmax, ymax = to_utm.transform_bounds(*region, densify_pts=21)
    snap = 60.0
    return _Grid(
        (
            math.floor((xmin - 100) / snap) * snap,
            math.floor((ymin - 100) / snap) * snap,
            math.ceil((xmax + 100) / snap) * snap,
            math.ceil((ymax + 100) / snap) * snap,
        )
    )


def _to_utm(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    transformer = Transformer.from_crs(KBL_CRS, UTM31N, always_xy=True)

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    result: NDArray[np.object_] = shapely.transform(geometries, project)
    return result


_FINE = 2  # rendered at 10 m / _FINE, then averaged: mixed pixels at edges
_TEXTURE = {
    'arable': 0.05,
    'grass': 0.05,
    'urban': 0.16,
    'urban_dense': 0.2,
    'industry': 0.18,
    'park': 0.1,
    'wood': 0.09,
    'poplar': 0.08,
    'conifer': 0.07,
    'heath': 0.08,
    'marsh': 0.07,
    'pioneer': 0.12,
    'dune': 0.1,
    'mudflat': 0.05,
}


def _rasterise_ids(world: _World, grid: _Grid) -> NDArray[np.int32]:
    """Polygon index per fine pixel (-1: none); smaller polygons drawn last."""
    utm = _to_utm(world.geometries)
    order = np.argsort(-shapely.area(utm), kind='stable')
    rows, cols = grid.shape
    burnt = rasterio.features.rasterize(
        zip(utm[order], order.tolist(), strict=True),
        out_shape=(rows * _FINE, cols * _FINE),
        transform=grid.transform(10.0 / _FINE),
        fill=-1,
        dtype=np.int32,
    )
    return np.asarray(burnt, dtype=np.int32)


def _blur(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """A small separable blur standing in for the sensor's point spread."""
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], 'edge')
        before = padded[:-2] if axis == 0 else padded[:, :-2]
        after = padded[2:] if axis == 0 else padded[:, 2:]
        out = 0.6 * out + 0.2 * (before + after)
    result: NDArray[np.float32] = out.astype(np.float32)
    return result


def _block_average(fine: NDArray[Any]) -> NDArray[np.float32]:
    """Mean of each _FINE x _FINE block.

    Summing strided views is several times faster than ``reshape(...).mean``.
    """
    total = np.zeros((fine.shape[0] // _FINE, fine.shape[1] // _FINE), dtype=np.float32)
    for dr in range(_FINE):
        for dc in range(_FINE):
            total += fine[dr::_FINE, dc::_FINE]
    result: NDArray[np.float32] = (total / (_FINE * _FINE)).astype(np.float32)
    return result


def _surface(
    world: _World,
    ids: NDArray[np.int32],
    traits: _Traits,
    texture: NDArray[np.float64],
    date_index: int,
    seed: int,
) -> NDArray[np.float32]:
    """Surface reflectance (bands, rows, cols) at 10 m on one date."""
    sensing, _ = DATES[date_index]
    stamp = pd.Timestamp(sensing)
    rng = _rng(seed, 20 + date_index)
    tide = (0.2, 0.65, 0.4, 0.1)[date_index % 4]
    fractions = _fractions(
        world.kinds, traits, float(stamp.dayofyear), stamp.year - 2020, tide, rng
    )
    spectra = (
        fractions
        @ _EM
        * (traits.brightness * rng.lognormal(0, 0.03, len(world.kinds)))[:, None]
    )
    background = _ENDMEMBERS['grass']
    spectra = np.vstack([spectra, background]).astype(np.float32)  # index -1
    rows, cols = ids.shape[0] // _FINE, ids.shape[1] // _FINE
    image = np.empty((len(ALL_BANDS), rows, cols), dtype=np.float32)
    for band in range(len(ALL_BANDS)):
        fine = spectra[:, band][ids]
        image[band] = _blur(_block_average(fine))
    kind10 = np.append(world.kinds, _K['grass'])[ids[::_FINE, ::_FINE]]
    amplitude = np.full(len(_KIND_NAMES), 0.04)
    for name, value in _TEXTURE.items():
        amplitude[_K[name]] = value
    image *= (1 + amplitude[kind10] * texture).astype(np.float32)[None]
    image += np.asarray(rng.normal(0.0, 25.0, image.shape), dtype=np.float32)
    return image


def _weather(
    image: NDArray[np.float32], date_index: int, seed: int
) -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """Clouds, shadows, cirrus and no-data over a surface; reflectance and SCL."""
    weather = _WEATHER[date_index % len(_WEATHER)]
    rng = _rng(seed, 30 + date_index)
    rows, cols = image.shape[1:]
    cloud_spectrum = np.array([SCL_SPECTRA[9][b] for b in ALL_BANDS], dtype=np.float32)
    cirrus_spectrum = np.array(
        [SCL_SPECTRA[10][b] for b in ALL_BANDS], dtype=np.float32
    )
    tau = (
        _smooth_noise((rows, cols), rng, 30)
        + 0.5 * _smooth_noise((rows, cols), rng, 10)
        + 0.25 * _smooth_noise((rows, cols), rng, 3)
    )
    threshold = np.quantile(tau, 1 - weather['cloud'])
    alpha = np.clip((tau - threshold) / 0.5, 0, 1).astype(np.float32)
    # Shadows fall north-west of the clouds (the sun is in the south-east).
    dr, dc = max(2, int(0.08 * rows)), max(2, int(0.06 * cols))
    shadow = np.zeros_like(alpha)
    shadow[: rows - dr, : cols - dc] = alpha[dr:, dc:]
    out = image * (1 - 0.65 * shadow * (1 - alpha))[None]
    cirrus = np.zeros_like(alpha)
    if weather['cirrus']:
        haze = _smooth_noise((rows, cols), rng, 50)
        cirrus = np.clip((haze - 0.8) / 1.5, 0, 0.6).astype(np.float32)
        out = out + cirrus[None] * 0.5 * cirrus_spectrum[:, None, None]
    out = out * (1 - alpha)[None] + alpha[None] * cloud_spectrum[:, None, None]
    b03, b04, b08 = (out[ALL_BANDS.index(b)] for b in ('B03', 'B04', 'B08'))
    ndvi = (b08 - b04) / np.maximum(b08 + b04, 1)
    ndwi = (b03 - b08) / np.maximum(b03 + b08, 1)
    scl = np.full((rows, cols), 5, dtype=np.uint8)
    scl[ndvi > 0.4] = 4
    scl[(ndwi > 0.05) & (b08 < 1000)] = 6
    speckle = rng.random((rows, cols))
    scl[speckle < 0.003] = 7
    scl[(speckle > 0.998) & (b08 < 1500)] = 2
    scl[cirrus > 0.25] = 10
    scl[(shadow > 0.3) & (alpha <= 0.12)] = 3
    scl[alpha > 0.12] = 8
    scl[alpha > 0.45] = 9
    reflectance = np.clip(np.round(out), 1, 20000).astype(np.int16)
    if weather['nodata']:
        # The edge of the orbit's swath, on the 60 m grid so that the writer's
        # 20 m and 60 m aggregates never mix data with no-data.
        r60, c60 = np.mgrid[0 : rows // 6, 0 : cols // 6]
        wedge = c60 + 1.5 * r60 < 0.2 * (cols // 6 + 1.5 * rows // 6)
        wedge = np.repeat(np.repeat(wedge, 6, axis=0), 6, axis=1)
        reflectance[:, wedge] = TERRASCOPE_NODATA
        scl[wedge] = 0
    return reflectance, scl


# ------------------------------------------------------------------- writing


def _write_sheets(path: Path, level: str, numbers: list[int]) -> Path:
    return write_official_sheets(path, level, numbers)  # type: ignore[arg-type]


def write_refgew(path: str | Path, region: BaseGeometry) -> Path:
    """Write a boundary in the format of the VRBG's ``Refgew.shp``.

    One polygon feature with the fields of the official file: ``UIDN``,
    ``OIDN``, ``TERRID``, ``NAAM`` ('Vlaams Gewest'), ``NISCODE`` ('02000'),
    ``NUTS1`` ('BE2'), ``LENGTE`` and ``OPPERVL`` (perimeter and area in m), in
    EPSG:31370 with the ESRI "Belge_Lambert_1972" ``.prj`` of Digitaal
    Vlaanderen's files and a fixed dBASE date.

    Args:
        path: the ``.shp`` file to write (sidecars beside it).
        region: the (Multi)Polygon of Flanders in EPSG:31370.

    Returns:
        ``path``.

    Raises:
        ValueError: if ``region`` has no area.
    """
    path = Path(path)
    if region.is_empty or region.area <= 0:
        raise ValueError(f'{path}: the boundary to write has no area')
    frame = gpd.GeoDataFrame(
        {
            'UIDN': np.array([1], dtype=np.int64),
            'OIDN': np.array([1], dtype=np.int64),
            'TERRID': np.array([3], dtype=np.int64),
            'NAAM': ['Vlaams Gewest'],
            'NISCODE': ['02000'],
            'NUTS1': ['BE2'],
            'LENGTE': [round(region.length, 2)],
            'OPPERVL': [round(region.area, 2)],
        },
        geometry=[region],
        crs=KBL_CRS,
    )
    year, month, day = DBF_DATE
    with atomic_path(path) as temporary:
        frame.to_file(
            temporary,
            driver='ESRI Shapefile',
            engine='pyogrio',
            layer_options={'DBF_DATE_LAST_UPDATE': f'{year:04d}-{month:02d}-{day:02d}'},
        )
        temporary.with_suffix('.prj').write_text(LAMBERT72_ESRI_WKT)
    return path


def _shapefile_parts(shp: Path) -> list[Path]:
    suffixes = ('.shp', '.shx', '.dbf', '.prj', '.cpg')
    return [
        shp.with_suffix(suffix)
        for suffix in suffixes
        if shp.with_suffix(suffix).exists()
    ]


def _files(folder: Path, root: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob('*')):
        if path.is_file():
            yield path.relative_to(root)


def load_manifest(out: str | Path) -> dict[str, Any]:
    """Read the manifest of a mini-Flanders folder.

    Args:
        out: the folder :func:`write_mini_flanders` wrote.

    Returns:
        The manifest (paths in it are relative to ``out``).

    Raises:
        FileNotFoundError: if the folder has no manifest.
        ValueError: if the manifest is unreadable or marks an unfinished run.
    """
    path = Path(out) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f'no mini-Flanders manifest in {out} ({MANIFEST_NAME})')
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'{path}: unreadable manifest: {error}') from None
    if not manifest.get('complete'):
        raise ValueError(
            f'{path}: the generation of this folder did not finish; run '
            '`torchgeo-bvm synth` again'
        )
    return manifest


def _reusable(
    out: Path, manifest: dict[str, Any] | None, size: str, seed: int, plot: bool
) -> bool:
    if manifest is None or not manifest.get('complete'):
        return False
    same = (
        manifest.get('version') == GENERATOR_VERSION
        and manifest.get('size') == size
        and manifest.get('seed') == seed
        and (manifest.get('overview') is not None or not plot)
    )
    if not same:
        return False
    sizes: dict[str, int] = manifest.get('sizes', {})
    return all(
        (out / name).is_file() and (out / name).stat().st_size == length
        for name, length in sizes.items()
    )


def _existing_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST_NAME
    if not out.exists() or not any(out.iterdir()):
        return None
    if not path.exists():
        raise ValueError(
            f'{out} is not empty and holds no {MANIFEST_NAME}: refusing to write '
            'mini-Flanders over files it did not make; choose a new or empty folder'
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError):
        return {}
    return manifest


def _write_json(path: Path, content: dict[str, Any]) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(
            json.dumps(content, indent=2, sort_keys=True) + '\n', encoding='utf-8'
        )


def _class_pixels(
    frame: gpd.GeoDataFrame,
    ids: NDArray[np.uint8],
    region: tuple[float, float, float, float],
) -> NDArray[np.uint8]:
    """The BVM's class map at 10 m over the region.

    Burnt as BVMDataset burns it: by pixel centre, the smaller polygon on top.
    """
    geometries = frame.geometry.to_numpy()
    order = np.argsort(-shapely.area(geometries), kind='stable')
    xmin, ymin, xmax, ymax = region
    burnt = rasterio.features.rasterize(
        zip(geometries[order], ids[order].tolist(), strict=True),
        out_shape=(round((ymax - ymin) / 10), round((xmax - xmin) / 10)),
        transform=from_origin(xmin, ymax, 10.0, 10.0),
        fill=IGNORE_INDEX,
        dtype=np.uint8,
    )
    return np.asarray(burnt, dtype=np.uint8)


def _plot_overview(
    path: Path,
    classes: NDArray[np.uint8],
    rgb: NDArray[np.int16],
    size: MiniFlandersSize,
    grid: _Grid,
    flanders: BaseGeometry,
    date: str,
) -> None:
    xmin, ymin, xmax, ymax = size.bounds
    colours = ListedColormap([c.colour for c in CLASSES])
    figure, axes = plt.subplots(1, 2, figsize=(14, 5.2), layout='constrained')
    shown = np.ma.masked_equal(classes, IGNORE_INDEX)
    axes[0].imshow(
        shown,
        cmap=colours,
        vmin=-0.5,
        vmax=NUM_CLASSES - 0.5,
        extent=(xmin, xmax, ymin, ymax),
        interpolation='nearest',
    )
    for sheet in sheets('kbl16', sorted({s.number for s in _touched(size.bounds)})):
        sx0, sy0, sx1, sy1 = sheet.bounds
        axes[0].plot(
            [sx0, sx1, sx1, sx0, sx0], [sy0, sy0, sy1, sy1, sy0], color='k', lw=0.5
        )
    for part in getattr(flanders, 'geoms', [flanders]):
        bx, by = part.exterior.xy
        axes[0].plot(bx, by, color='red', lw=1.2)
    axes[0].set_xlim(xmin, xmax)
    axes[0].set_ylim(ymin, ymax)
    axes[0].set_title(f'BVM classes (EPSG:31370), {size.name}; red: Flanders border')
    present = [c for c in CLASSES if (classes == c.id).any()]
    axes[0].legend(
        handles=[Patch(color=c.colour, label=c.name) for c in present],
        loc='upper left',
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        frameon=False,
    )
    bands = [ALL_BANDS.index(b) for b in ('B04', 'B03', 'B02')]
    picture = np.clip(rgb[bands].astype(np.float64) / 2000.0, 0, 1)
    picture[:, rgb[bands[0]] == TERRASCOPE_NODATA] = 0
    gx0, gy0, gx1, gy1 = grid.bounds
    axes[1].imshow(np.moveaxis(picture, 0, -1), extent=(gx0, gx1, gy0, gy1))
    axes[1].set_title(f'Sentinel-2 TOC true colour {date} (EPSG:32631)')
    for axis in axes:
        axis.tick_params(labelsize=7)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format='png', metadata={'Software': None})
    plt.close(figure)


def _touched(bounds: tuple[float, float, float, float]) -> list[Sheet]:
    area = box(*bounds)
    return [s for s in sheets('kbl') if box(*s.bounds).intersection(area).area > 0]


def write_mini_flanders(
    out: str | Path,
    size: str = DEFAULT_SIZE,
    seed: int = 0,
    *,
    plot: bool = True,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write a mini-Flanders region in the real formats (see the module).

    Args:
        out: the folder to write into (created if needed).
        size: a key of :data:`SIZES`.
        seed: random seed; the same seed and size give byte-identical files.
        plot: also write ``overview.png``.
        force: regenerate even if the folder is up to date.
        progress: show a progress bar.

    Returns:
        The manifest (also written to ``out/manifest.json``); its paths are
        relative to ``out``, and ``reused`` says whether the folder was up to
        date and nothing was written.

    Raises:
        ValueError: for an unknown size, or a non-empty ``out`` without a
            mini-Flanders manifest (nothing is written then).
    """
    if size not in SIZES:
        raise ValueError(
            f'unknown mini-Flanders size {size!r}: expected one of {", ".join(SIZES)}'
        )
    spec = SIZES[size]
    out = Path(out)
    previous = _existing_manifest(out)
    if not force and _reusable(out, previous, size, seed, plot):
        assert previous is not None
        return {**previous, 'reused': True}
    start = time.perf_counter()
    params = {
        'generator': __name__,
        'version': GENERATOR_VERSION,
        'size': size,
        'seed': seed,
    }
    _write_json(out / MANIFEST_NAME, {**params, 'complete': False})
    steps = tqdm(
        total=5 + len(DATES), desc='mini-Flanders', disable=not progress, unit='step'
    )

    touched = _touched(spec.bounds)
    numbers = sorted({s.number for s in touched})
    sheet_area = shapely.union_all([box(*s.bounds) for s in touched])
    grid = _imagery_grid(spec.bounds)
    to_lambert = Transformer.from_crs(UTM31N, KBL_CRS, always_xy=True)
    lx0, ly0, lx1, ly1 = to_lambert.transform_bounds(*grid.bounds, densify_pts=21)
    extent = (lx0 - 50.0, ly0 - 50.0, lx1 + 50.0, ly1 + 50.0)
    world = _build_world(spec, seed, extent, sheet_area)
    steps.update()

    # The BVM: the land cover inside the region and inside Flanders.
    inside = shapely.intersection(
        world.geometries, box(*spec.bounds).intersection(world.flanders)
    )
    cleaned = np.asarray([_clean(g) for g in inside], dtype=object)
    keep = ~shapely.is_empty(cleaned)
    frame = _bvm_frame(cleaned[keep], world.kinds[keep], seed)
    written: list[str] = []
    bvm = write_bwkhab(frame, out / 'bvm' / 'BwkHab.shp')
    written.append(str(bvm.relative_to(out)))
    class_ids = UnitMapping().map_codes(frame['EENH1'], frame['HAB1']).ids
    classes = _class_pixels(frame, class_ids, spec.bounds)
    steps.update()

    kbl = {}
    for level in LEVELS:
        name = {'kbl': 'Kbl', 'kbl4': 'Kbl4', 'kbl8': 'Kbl8', 'kbl16': 'Kbl16'}[level]
        path = _write_sheets(out / 'kbl' / f'{name}.shp', level, numbers)
        kbl[level] = str(path.relative_to(out))
    boundary = write_refgew(out / 'boundary' / 'Refgew.shp', world.flanders)
    steps.update()

    ids = _rasterise_ids(world, grid)
    traits = _traits(world.kinds, seed)
    texture = 0.7 * _smooth_noise(grid.shape, _rng(seed, 7), 1.5) + 0.3 * _rng(
        seed, 8
    ).standard_normal(grid.shape)
    steps.update()
    products = []
    summer: NDArray[np.int16] | None = None
    for index, (sensing, platform) in enumerate(DATES):
        surface = _surface(world, ids, traits, texture, index, seed)
        reflectance, scl = _weather(surface, index, seed)
        folder = write_terrascope_product(
            out,
            sensing=sensing,
            tile=TILE,
            platform=platform,
            version=VERSION,
            bounds=grid.bounds,
            crs=UTM31N,
            reflectance={band: reflectance[i] for i, band in enumerate(ALL_BANDS)},
            scl=scl,
            seed=seed * 100 + index,
        )
        if index == 1:
            summer = reflectance
        products.append(
            {
                'date': sensing[:10],
                'sensing': sensing,
                'platform': platform,
                'path': str(folder.relative_to(out)),
            }
        )
        steps.update()

    overview = None
    if plot and summer is not None:
        _plot_overview(
            out / 'overview.png',
            classes,
            summer,
            spec,
            grid,
            world.flanders,
            DATES[1][0][:10],
        )
        overview = 'overview.png'
    steps.update()
    steps.close()

    counts = np.bincount(classes.ravel(), minlength=IGNORE_INDEX + 1)
    labelled = int(counts[:NUM_CLASSES].sum())
    shapefiles = [bvm, *(out / name for name in kbl.values()), boundary]
    files = [p.relative_to(out) for shp in shapefiles for p in _shapefile_parts(shp)]
    files += [p for product in products for p in _files(out / product['path'], out)]
    if overview:
        files.append(Path(overview))
    sizes = {str(p): (out / p).stat().st_size for p in files}
    for stale in (previous or {}).get('sizes', {}):
        if stale not in sizes:
            (out / stale).unlink(missing_ok=True)
    manifest = {
        **params,
        'complete': True,
        'crs': 'EPSG:31370',
        'region': list(spec.bounds),
        'description': spec.description,
        'sheets': {
            'kbl': numbers,
            'kbl4': [
                s.code
                for s in sheets('kbl4', numbers)
                if box(*s.bounds).intersection(box(*spec.bounds)).area > 0
            ],
        },
        'bvm': str(bvm.relative_to(out)),
        'kbl_files': kbl,
        'boundary': str(boundary.relative_to(out)),
        'imagery': {
            'root': 'TOC_V2',
            'crs': 'EPSG:32631',
            'tile': TILE,
            'bounds': list(grid.bounds),
            'products': products,
        },
        'dates': [p['date'] for p in products],
        'polygons': len(frame),
        'pixels': {c.name: int(counts[c.id]) for c in CLASSES},
        'labelled_pixels': labelled,
        'unlabelled_pixels': int(counts[IGNORE_INDEX]),
        'overview': overview,
        'sizes': sizes,
    }
    _write_json(out / MANIFEST_NAME, manifest)
    return {**manifest, 'reused': False, 'seconds': time.perf_counter() - start}
