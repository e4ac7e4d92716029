"""A year of Terrascope Sentinel-2 products over Flanders at the archive's real size.

:func:`write_terrascope_archive` writes what a user's Terrascope archive holds
for a year (about 1,000 products over the seven tiles of Flanders, every file
at its real size) with data only in a small study area of each tile, so that
indexing, headers and file counts can be measured at the real scale on a
small disk (``benchmarks/bench_archive.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from ..errors import BVMValueError
from .sentinel2 import (
    FLANDERS_TILES,
    TILE_SIZE_M,
    synthetic_scene,
    write_terrascope_product,
)

__all__ = ['study_area', 'write_terrascope_archive']


def write_terrascope_archive(
    root: str | Path,
    products: int,
    *,
    year: int = 2021,
    tiles: Mapping[str, tuple[float, float]] = FLANDERS_TILES,
    data_size: int = 504,
    blocksize: int = 512,
    seed: int = 0,
    progress: bool = False,
) -> list[Path]:
    """Write a year of Terrascope products over Flanders at the archive's real size.

    The products are spread over ``tiles`` (a date every few days on each tile,
    alternately from S2A and S2B) in the archive layout
    (``root/TOC_V2/YYYY/MM/DD/<product>/``), every product complete (the 19 files
    of :func:`write_terrascope_product`) and every file at its real size (10,980
    x 10,980 pixels at 10 m, tiled). Data are written only in a study area of
    ``data_size`` x ``data_size`` pixels at the centre of each tile (a seeded
    scene of :func:`synthetic_scene`, four variants per tile); the rest of every
    file is sparse (read as nodata), which keeps a year of products small on
    disk while headers, file counts and footprints are those of the real archive.

    Args:
        root: the archive's root folder.
        products: how many products to write (a real year over Flanders holds
            about 1,000).
        year: the year of the dates.
        tiles: tile -> (left, top) corner in EPSG:32631.
        data_size: width and height of the study area in 10 m pixels, a
            multiple of 6.
        blocksize: the files' block size in pixels.
        seed: seed of the scenes.
        progress: show a progress bar.

    Returns:
        The product folders, in the order written.

    Raises:
        ValueError: if ``products`` is not positive, ``data_size`` not a
            positive multiple of 6 or no tile is given.
    """
    if products < 1 or not tiles:
        raise BVMValueError(f'need at least one product and tile, got {products}')
    if data_size <= 0 or data_size % 6:
        raise BVMValueError(
            f'data_size must be a positive multiple of 6, got {data_size}'
        )
    names = sorted(tiles)
    per_tile = -(-products // len(names))
    # Built from an integer: pandas' keyword Timedelta warns under numpy 2.
    step = pd.Timedelta(max(1, 365 // per_tile) * 86_400_000_000, unit='us')
    start = pd.Timestamp(f'{year}-01-01T10:46:19')
    scenes: dict[tuple[str, int], tuple[dict[str, NDArray[np.int16]], Any]] = {}
    folders = []
    for number in tqdm(range(products), desc='writing products', disable=not progress):
        tile = names[number % len(names)]
        visit = number // len(names)
        left, top = tiles[tile]
        variant = visit % 4
        key = (tile, variant)
        if key not in scenes:
            scenes[key] = synthetic_scene(
                (data_size, data_size), seed=seed + 4 * names.index(tile) + variant
            )
        reflectance, scl = scenes[key]
        folders.append(
            write_terrascope_product(
                root,
                sensing=(start + visit * step).isoformat(),
                tile=tile,
                platform=('S2A', 'S2B')[visit % 2],
                bounds=(left, top - TILE_SIZE_M, left + TILE_SIZE_M, top),
                data_bounds=study_area(tiles[tile], data_size),
                reflectance=reflectance,
                scl=scl,
                blocksize=blocksize,
                seed=seed,
            )
        )
    return folders


def study_area(
    corner: tuple[float, float], data_size: int = 504
) -> tuple[float, float, float, float]:
    """Where :func:`write_terrascope_archive` writes data in a tile.

    Args:
        corner: the tile's upper-left corner (see :data:`FLANDERS_TILES`).
        data_size: the study area's width and height in 10 m pixels.

    Returns:
        ``(xmin, ymin, xmax, ymax)``: a square at the tile's centre, on its 60 m
        grid.
    """
    left, top = corner
    offset = round((TILE_SIZE_M / 10 - data_size) / 2 / 6) * 60.0
    size = data_size * 10.0
    return (left + offset, top - offset - size, left + offset + size, top - offset)
