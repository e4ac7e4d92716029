"""Tiny Sentinel-2 x BVM scenes in the real formats, for the joint-data tests.

Written with the package's own ``synth`` writers: openEO downloader GeoTIFFs
(named bands, SCL last) and INBO ``BwkHab`` shapefiles with the paper's integer
``Label`` field, plus a ``Refgew.shp`` boundary with the ESRI Lambert 72 ``.prj``.

The exact scene covers map sheet 22 (x 98-130 km, y 178-198 km in EPSG:31370) at
100 m, so 320 x 200 pixels, on the Lambert 72 grid where sheets are axis-aligned
and every expected value is known:

* ``B02`` = column, ``B03`` = row (of the sheet-22 pixel), every other band a
  constant per band and date;
* labels: 1 km squares, class ``(i + j) % 14`` for square column ``i`` (west to
  east) and row ``j`` (north to south), written as an ``EENH1`` mapping unit of
  that class in the shipped unit table; the squares ``j == 0, i < 4`` are
  missing (unlabelled);
* clouds: SCL 9 on rows 120-129, columns 20-39 on the first date only;
* Flanders: the sheet without its easternmost 2 km (columns 300-319).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import box

from torchgeo_bvm.bvm.units import UnitMapping, load_mapping_table
from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.synth.bvm import bwkhab_frame, write_bwkhab
from torchgeo_bvm.synth.flanders import write_refgew
from torchgeo_bvm.synth.sentinel2 import write_openeo_sheet

RES = 100.0
SHEET = Sheet.parse(22)
LEFT, BOTTOM, RIGHT, TOP = SHEET.bounds
HEIGHT, WIDTH = round((TOP - BOTTOM) / RES), round((RIGHT - LEFT) / RES)
DATES = ('2021-05-01', '2021-06-10')
CLOUD_ROWS, CLOUD_COLUMNS = slice(120, 130), slice(20, 40)
FLANDERS_EAST = RIGHT - 2000.0
MISSING = {(i, 0) for i in range(4)}


@dataclass(frozen=True)
class Scene:
    """Paths and the expected arrays of a scene (pixel [row, column] of sheet 22)."""

    imagery: Path
    bvm: Path
    boundary: Path
    labels: NDArray[np.int64]
    flanders: NDArray[np.bool_]
    clouds: dict[str, NDArray[np.bool_]]


def band_value(band: str, date_index: int) -> int:
    """The constant value of a band other than B02/B03 on a date."""
    return 100 * (ALL_BANDS.index(band) + 1) + date_index


@functools.cache
def unit_codes() -> dict[int, str]:
    """One mapping unit per class id, found through the package's own mapping."""
    table = load_mapping_table()
    ids = UnitMapping().map_codes(table['code'], None).ids
    codes: dict[int, str] = {}
    for code, class_id in zip(table['code'], ids, strict=True):
        codes.setdefault(int(class_id), str(code))
    return codes


def expected_labels() -> NDArray[np.int64]:
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    i, j = columns // 10, rows // 10
    labels = ((i + j) % 14).astype(np.int64)
    for a, b in MISSING:
        labels[(i == a) & (j == b)] = IGNORE_INDEX
    return labels


def write_scene(
    root: Path,
    dates: tuple[str, ...] = DATES,
    clouds: Mapping[int, tuple[slice, slice]] | None = None,
) -> Scene:
    """Write the exact scene under ``root``.

    ``clouds`` maps a date's position in ``dates`` to the (rows, columns) where
    its SCL is 9 (cloud); default: :data:`CLOUD_ROWS` x :data:`CLOUD_COLUMNS` on
    the first date.
    """
    if clouds is None:
        clouds = {0: (CLOUD_ROWS, CLOUD_COLUMNS)}
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    cloud_masks = {}
    for k, day in enumerate(dates):
        bands = {
            b: np.full((HEIGHT, WIDTH), band_value(b, k), np.int16) for b in ALL_BANDS
        }
        bands['B02'] = columns.astype(np.int16)
        bands['B03'] = rows.astype(np.int16)
        scl = np.full((HEIGHT, WIDTH), 4, np.int16)
        cloudy = np.zeros((HEIGHT, WIDTH), bool)
        if k in clouds:
            cloudy[clouds[k]] = True
            scl[cloudy] = 9
        bands['SCL'] = scl
        cloud_masks[day] = cloudy
        write_openeo_sheet(
            root / 'sentinel2', SHEET, day, bands, crs='EPSG:31370', bounds=SHEET.bounds
        )
    squares, labels = [], []
    for i in range(32):
        for j in range(20):
            if (i, j) in MISSING:
                continue
            x0, y1 = LEFT + 1000 * i, TOP - 1000 * j
            squares.append(box(x0, y1 - 1000, x0 + 1000, y1))
            labels.append(unit_codes()[(i + j) % 14])
    frame = bwkhab_frame(squares, labels)
    bvm = write_bwkhab(frame, root / 'bvm' / 'BwkHab.shp')
    boundary = write_refgew(
        root / 'vrbg' / 'Refgew.shp', box(LEFT, BOTTOM, FLANDERS_EAST, TOP)
    )
    flanders = np.broadcast_to(columns < 300, (HEIGHT, WIDTH)).copy()
    return Scene(
        root / 'sentinel2', bvm, boundary, expected_labels(), flanders, cloud_masks
    )
