"""What a mini-Flanders polygon is on the ground, and its BVM attributes.

A "kind" is what a polygon is on the ground: it decides its mapping units
(``EENH1``, drawn from the shipped table's codes of the intended class), its
habitat types and biological evaluation, and how it is rendered.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from ..bvm import bwkhab_frame
from ..noise import seeded_rng

__all__ = ['EVALUATION', 'HABITATS', 'KIND', 'KINDS', 'KIND_NAMES', 'bvm_frame']

#: Kind -> (the BVM class it belongs to, the ``EENH1`` codes it is drawn from);
#: the tests check that every code maps to the class named here.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
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
    # Only ever a new land cover (heath or grassland overgrown), never mapped.
    'scrub': ('Woodland and shrub', ('sp', 'sg', 'so')),
}
#: The kinds' names, in the order of their indices.
KIND_NAMES = tuple(KINDS)
#: Kind name -> index (the land cover stores indices).
KIND = {name: i for i, name in enumerate(KIND_NAMES)}

#: Habitat types (``HAB1``) a kind's polygons are drawn from; others are 'gh'.
HABITATS: dict[str, tuple[str, ...]] = {
    'wood': ('9130_end', '9160', '91E0_va', 'gh', 'gh'),
    'heath': ('4030', '4010', '2310'),
    'marsh': ('rbbmr', 'rbbmc', 'gh'),
    'mudflat': ('1130', '1140_mo'),
    'saltmarsh': ('1330_da',),
    'dune': ('2120', '2130_had', '2160', '2190_mp'),
    'pioneer': ('2330_bu', 'gh', 'gh'),
    'grass': ('gh', 'gh', 'gh', 'gh', '6510_hu', 'rbbhc'),
}
#: Biological evaluation (``EVAL``) a kind's polygons are drawn from; others 'm'.
EVALUATION: dict[str, tuple[str, ...]] = {
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


def bvm_frame(
    geometries: NDArray[np.object_], kinds: NDArray[np.int64], seed: int
) -> gpd.GeoDataFrame:
    """The BVM attributes of each polygon, in the notation of the real layer.

    Args:
        geometries: the polygons (EPSG:31370).
        kinds: the kind of each (an index into :data:`KIND_NAMES`).
        seed: the scene's seed.

    Returns:
        The layer (see :func:`torchgeo_bvm.synth.bvm.bwkhab_frame`).
    """
    rng = seeded_rng(seed, 5)
    n = len(geometries)
    names = np.array(KIND_NAMES, dtype=object)[kinds]
    eenh1 = np.empty(n, dtype=object)
    hab1 = np.full(n, 'gh', dtype=object)
    evaluation = np.full(n, 'm', dtype=object)
    for kind, (_, codes) in KINDS.items():
        rows = np.flatnonzero(names == kind)
        if not len(rows):
            continue
        eenh1[rows] = rng.choice(np.array(codes, dtype=object), len(rows))
        if kind in HABITATS:
            hab1[rows] = rng.choice(np.array(HABITATS[kind], dtype=object), len(rows))
        if kind in EVALUATION:
            evaluation[rows] = rng.choice(
                np.array(EVALUATION[kind], dtype=object), len(rows)
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
