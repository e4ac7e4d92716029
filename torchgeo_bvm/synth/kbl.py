"""Official-format map-sheet files: Kbl.shp, Kbl4.shp, Kbl8.shp and Kbl16.shp.

The files reproduce Digitaal Vlaanderen's "Kaartbladversnijdingen NGI numerieke
reeks" shapefiles: the dbf fields ``UIDN``, ``OIDN`` (N 15), ``CODE`` (C 8),
``NAAM`` (C 64, Kbl only), ``OPPERVL``, ``LENGTE`` (N 16.2) in a Windows-1252 dbf
without ``.cpg``, the ESRI "Belge_Lambert_1972" ``.prj`` that maps to no EPSG code,
polygon rings with a vertex every 8 km x 5 km, features in an order other than
their codes, and float noise on the coordinates (``252999.999``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import fiona
import numpy as np
from shapely.geometry import Polygon, mapping

from ..fileio import atomic_path
from ..sheets.codes import KBL_WIDTH, Level, Sheet, sheets

__all__ = ['LAMBERT72_ESRI_WKT', 'OFFICIAL_DBF_DATE', 'write_official_sheets']

#: The last-update date in the header of Digitaal Vlaanderen's Kbl.dbf.
OFFICIAL_DBF_DATE = '2013-04-22'

#: The ``.prj`` text of the official files (ESRI WKT, no EPSG code).
LAMBERT72_ESRI_WKT = (
    'PROJCS["Belge_Lambert_1972",GEOGCS["GCS_Belge_1972",DATUM["D_Belge_1972",'
    'SPHEROID["International_1924",6378388.0,297.0]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],'
    'PARAMETER["False_Easting",150000.01256],PARAMETER["False_Northing",5400088.4378],'
    'PARAMETER["Central_Meridian",4.367486666666666],'
    'PARAMETER["Standard_Parallel_1",49.8333339],'
    'PARAMETER["Standard_Parallel_2",51.16666723333333],'
    'PARAMETER["Latitude_Of_Origin",90.0],UNIT["Meter",1.0]]'
)

_SCHEMA_FIELDS = {
    'UIDN': 'int:15',
    'OIDN': 'int:15',
    'CODE': 'str:8',
    'NAAM': 'str:64',
    'OPPERVL': 'float:16.2',
    'LENGTE': 'float:16.2',
}
_STEP_X = KBL_WIDTH / 4
_STEP_Y = 5_000.0
_NOISE = 0.001


def _ring(
    bounds: tuple[float, float, float, float], noisy: bool
) -> list[tuple[float, float]]:
    xmin, ymin, xmax, ymax = bounds
    xs = np.arange(xmin, xmax + 1e-6, _STEP_X)
    ys = np.arange(ymin, ymax + 1e-6, _STEP_Y)
    # Clockwise from the lower-left corner, as shapefile outer rings are stored.
    points = (
        [(xmin, y) for y in ys]
        + [(x, ymax) for x in xs[1:]]
        + [(xmax, y) for y in ys[::-1][1:]]
        + [(x, ymin) for x in xs[::-1][1:]]
    )
    if noisy:
        # The official coordinates carry noise such as 252999.999 on inner vertices.
        points = [
            (x, y - _NOISE if 0 < i < len(points) - 1 and i % 3 == 1 else y)
            for i, (x, y) in enumerate(points)
        ]
    return points


def write_official_sheets(
    path: str | Path,
    level: Level = 'kbl',
    numbers: Iterable[int] | None = None,
    *,
    noise: bool = True,
    names: Mapping[str, str] | None = None,
    offsets: Mapping[str, tuple[float, float]] | None = None,
    drop: Iterable[str] = (),
) -> Path:
    """Write an official-format sheet shapefile.

    Args:
        path: the ``.shp`` file to write (its sidecars go beside it).
        level: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``.
        numbers: ``kbl`` sheet numbers to write (default all 43).
        noise: add the float noise of the official coordinates.
        names: code -> ``NAAM`` overrides (to make a deliberately wrong file).
        offsets: code -> (dx, dy) metres to shift a sheet by.
        drop: codes to leave out.

    Returns:
        The path of the ``.shp`` file.
    """
    path = Path(path)
    names, offsets = dict(names or {}), dict(offsets or {})
    dropped = {Sheet.parse(code) for code in drop}
    fields = {k: v for k, v in _SCHEMA_FIELDS.items() if k != 'NAAM' or level == 'kbl'}
    schema = {'geometry': 'Polygon', 'properties': fields}
    selected = [s for s in sheets(level, numbers) if s not in dropped]
    # The official files are not in code order; a fixed shuffle reproduces that.
    order = np.random.default_rng(31370).permutation(len(selected))
    with atomic_path(path) as temporary:
        with fiona.open(
            temporary,
            'w',
            driver='ESRI Shapefile',
            schema=schema,
            encoding='cp1252',
            # The date of the official files, not today's: same input, same bytes.
            DBF_DATE_LAST_UPDATE=OFFICIAL_DBF_DATE,
        ) as sink:
            for uid, index in enumerate(order, start=1):
                sheet = selected[index]
                dx, dy = offsets.get(sheet.code, (0.0, 0.0))
                xmin, ymin, xmax, ymax = sheet.bounds
                polygon = Polygon(
                    _ring((xmin + dx, ymin + dy, xmax + dx, ymax + dy), noise)
                )
                properties: dict[str, object] = {
                    'UIDN': uid,
                    'OIDN': uid,
                    'CODE': sheet.code,
                    'OPPERVL': round(polygon.area, 2),
                    'LENGTE': round(polygon.length, 2),
                }
                if level == 'kbl':
                    properties['NAAM'] = names.get(sheet.code, sheet.name)
                sink.write({'geometry': mapping(polygon), 'properties': properties})
        temporary.with_suffix('.prj').write_text(LAMBERT72_ESRI_WKT)
        # The official dbf declares its code page in the header (LDID 87 =
        # Windows-1252) and ships no .cpg.
        temporary.with_suffix('.cpg').unlink(missing_ok=True)
        dbf = temporary.with_suffix('.dbf')
        with dbf.open('r+b') as handle:
            handle.seek(29)
            handle.write(bytes([0x57]))
    return path
