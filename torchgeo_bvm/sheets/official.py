"""The sheet grid as a table, and the official Digitaal Vlaanderen sheet files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import shapely
from pyproj import CRS
from shapely.geometry import box

from ..errors import BVMNotFoundError, BVMValueError
from ..spatial.crs import to_lambert72
from .codes import KBL_CRS, Level, Sheet, sheets
from .scheme import SplitScheme

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    'OFFICIAL_FIELDS',
    'SheetDifference',
    'compare_official',
    'grid',
    'read_official',
]


def grid(
    level: Level | str = 'kbl',
    crs: CRS | str | int = KBL_CRS,
    numbers: Iterable[int | str] | None = None,
    scheme: SplitScheme | None = None,
    densify: float = 100.0,
) -> gpd.GeoDataFrame:
    """The sheets of one level as a GeoDataFrame.

    Args:
        level: ``'kbl'``, ``'kbl4'``, ``'kbl8'`` or ``'kbl16'``.
        crs: CRS of the geometries (default EPSG:31370).
        numbers: ``kbl`` sheet numbers to keep (default: all 43).
        scheme: if given, add a ``split`` column with each sheet's split; every
            sheet must then lie inside one part of the scheme.
        densify: maximum edge length in metres before reprojecting.

    Returns:
        One row per sheet with the columns ``CODE``, ``NAAM`` (the ``kbl`` name),
        ``split`` (with ``scheme``) and ``geometry``.

    Raises:
        ValueError: for an unknown level or sheet number, or a sheet that straddles
            two splits of ``scheme``.
    """
    selected = sheets(level, numbers)
    data: dict[str, list[str]] = {
        'CODE': [s.code for s in selected],
        'NAAM': [s.name for s in selected],
    }
    if scheme is not None:
        data['split'] = [scheme.split_of(s) for s in selected]
    geometries = [s.geometry(crs, densify) for s in selected]
    import geopandas as gpd

    return gpd.GeoDataFrame(data, geometry=geometries, crs=CRS.from_user_input(crs))


# -- official files ---------------------------------------------------------

#: Fields of the official Digitaal Vlaanderen sheet files (``NAAM`` on Kbl only).
OFFICIAL_FIELDS = ('UIDN', 'OIDN', 'CODE', 'NAAM', 'OPPERVL', 'LENGTE')


def read_official(path: str | Path) -> gpd.GeoDataFrame:
    """Read an official sheet file (``Kbl.shp``, ``Kbl4.shp``, ``Kbl8.shp``, ...).

    The file's CRS is taken as EPSG:31370 when its ``.prj`` is missing or is the
    ESRI "Belge_Lambert_1972" WKT that maps to no EPSG code; files in another CRS
    are reprojected to EPSG:31370. Codes are normalised (``2/5z`` -> ``2/5Z``).

    Args:
        path: the file (any format GDAL reads).

    Returns:
        The features in EPSG:31370 with a ``sheet`` column of :class:`Sheet`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the ``CODE`` field is missing or holds an invalid code.
    """
    path = Path(path)
    if not path.exists():
        raise BVMNotFoundError(f'map sheet file not found: {path}')
    import geopandas as gpd

    frame = gpd.read_file(path, engine='pyogrio')
    if 'CODE' not in frame.columns:
        fields = ', '.join(c for c in frame.columns if c != 'geometry')
        raise BVMValueError(
            f"{path}: no field 'CODE'; the file has the fields {fields}"
        )
    frame = to_lambert72(frame)
    parsed = []
    for code in frame['CODE']:
        try:
            parsed.append(Sheet.parse(str(code)))
        except ValueError as error:
            raise BVMValueError(f'{path}: field CODE: {error}') from None
    frame['sheet'] = parsed
    return frame


@dataclass(frozen=True)
class SheetDifference:
    """One difference between an official sheet file and the generated grid.

    Args:
        code: the sheet code.
        kind: ``'missing'`` (in the grid, not in the file), ``'extra'`` (in the file
            twice or at another level), ``'name'`` or ``'geometry'``.
        detail: a human-readable explanation.
    """

    code: str
    kind: Literal['missing', 'extra', 'name', 'geometry']
    detail: str

    def __str__(self) -> str:
        return f'{self.code}: {self.kind}: {self.detail}'


def compare_official(
    path: str | Path,
    tolerance: float = 1.0,
    numbers: Iterable[int | str] | None = None,
) -> list[SheetDifference]:
    """Compare an official sheet file with the generated grid.

    The level is that of the file's codes. Geometry is compared with the Hausdorff
    distance, so the float noise of the official coordinates (193999.999) is
    tolerated up to ``tolerance`` metres.

    Args:
        path: an official file such as ``Kbl.shp`` or ``Kbl16.shp``.
        tolerance: largest accepted Hausdorff distance in metres.
        numbers: ``kbl`` sheet numbers the file is expected to cover (default all).

    Returns:
        Every difference: sheets missing from the file, codes that occur twice or at
        another level than the rest, names (``NAAM``, when present) and geometries
        that differ. An empty list means the file matches the grid.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file has no ``CODE`` field or an invalid code.
    """
    frame = read_official(path)
    levels = [s.level for s in frame['sheet']]
    level = max(set(levels), key=levels.count) if levels else 'kbl'
    expected = {s: s for s in sheets(level, numbers)}
    differences: list[SheetDifference] = []
    seen: set[Sheet] = set()
    has_names = 'NAAM' in frame.columns and level == 'kbl'
    for _, row in frame.iterrows():
        sheet: Sheet = row['sheet']
        if sheet not in expected or sheet in seen:
            reason = (
                'occurs twice' if sheet in seen else f'not a {level} sheet of the grid'
            )
            differences.append(SheetDifference(sheet.code, 'extra', reason))
            continue
        seen.add(sheet)
        if has_names and str(row['NAAM']).strip() != sheet.name:
            differences.append(
                SheetDifference(
                    sheet.code, 'name', f'NAAM {row["NAAM"]!r}, expected {sheet.name!r}'
                )
            )
        distance = shapely.hausdorff_distance(row.geometry, box(*sheet.bounds))
        if not distance <= tolerance:
            differences.append(
                SheetDifference(
                    sheet.code,
                    'geometry',
                    f'{distance:.2f} m from the grid sheet {sheet.bounds} '
                    f'(bounds {tuple(round(b, 3) for b in row.geometry.bounds)})',
                )
            )
    differences.extend(
        SheetDifference(
            s.code, 'missing', f'{level} sheet absent from {Path(path).name}'
        )
        for s in expected
        if s not in seen
    )
    return differences
