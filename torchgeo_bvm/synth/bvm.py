"""Write BVM layers (``BwkHab``) in INBO's real format.

The files carry every field of the real layer with its real name and type
(:data:`BWKHAB_FIELDS`), MULTIPOLYGON geometries in EPSG:31370, and, for
shapefiles, the ESRI "Belge_Lambert_1972" ``.prj`` that maps to no EPSG code
(:data:`~torchgeo_bvm.synth.kbl.LAMBERT72_ESRI_WKT`), as INBO's bulk download
does, with a dBASE table whose fields are as wide as their longest value. Formats: a
shapefile (``.shp``), a ``.zip`` holding ``Shapefile/BwkHab.shp`` like the
download, a GeoPackage (``.gpkg``, layer ``BwkHab``) and GeoParquet
(``.parquet``).

:func:`bwkhab_frame` builds a layer from explicit polygons and codes (for
hand-computed tests); :func:`synthetic_bwkhab` builds a deterministic seeded
tessellation of ``n`` polygons at realistic sizes (about 2 ha each, like the
real map's 650,000 polygons over 13,500 km²).
"""

from __future__ import annotations

import struct
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ..bvm.units import load_mapping_table
from ..classes import CLASSES, PAPER_PERCENT
from ..errors import BVMValueError
from ..fileio import atomic_path
from ..sheets.codes import KBL_CRS
from .kbl import LAMBERT72_ESRI_WKT

__all__ = [
    'BWKHAB_FIELDS',
    'BWKHAB_LAYER',
    'FLANDERS_BVM_BOUNDS',
    'bwkhab_frame',
    'synthetic_bwkhab',
    'tessellation',
    'write_bwkhab',
]

#: Layer (and shapefile) name of the real data.
BWKHAB_LAYER = 'BwkHab'

#: Approximate bounds of the real layer in EPSG:31370.
FLANDERS_BVM_BOUNDS = (21991.0, 153058.0, 258872.0, 244027.0)

#: Fields of the real layer and their dtypes (``OPPERVL``/``LENGTE``: shapefile only).
BWKHAB_FIELDS: dict[str, str] = {
    'UIDN': 'int64',
    'OIDN': 'int64',
    'TAG': 'str',
    'EVAL': 'str',
    **{f'EENH{i}': 'str' for i in range(1, 9)},
    **{f'V{i}': 'str' for i in range(1, 4)},
    'HERK': 'str',
    'INFO': 'str',
    'BWKLABEL': 'str',
    **{f'HAB{i}': 'str' for i in range(1, 6)},
    **{f'PHAB{i}': 'int32' for i in range(1, 6)},
    'HERKHAB': 'str',
    'HERKPHAB': 'str',
    'HABLEGENDE': 'str',
    'OPPERVL': 'float64',
    'LENGTE': 'float64',
}
_SHAPEFILE_ONLY = ('OPPERVL', 'LENGTE')

#: Mean polygon area of the real map in m² (13,500 km² / 650,000 polygons).
MEAN_POLYGON_AREA = 20_800.0


def bwkhab_frame(
    geometries: Sequence[BaseGeometry] | NDArray[np.object_],
    eenh1: Sequence[str | None],
    fields: Mapping[str, Sequence[object]] | None = None,
) -> gpd.GeoDataFrame:
    """Build a ``BwkHab`` layer from polygons and their main mapping units.

    Every field of :data:`BWKHAB_FIELDS` is present; those not given get the
    values of an ordinary polygon: ``UIDN``/``OIDN`` 1..n, ``TAG`` like
    ``'1_v2014'``, ``EVAL`` ``'m'``, ``BWKLABEL`` = the units joined by ``' + '``,
    ``HAB1`` ``'gh'`` (no habitat) with ``PHAB1`` 100, other units and habitats
    empty, ``OPPERVL``/``LENGTE`` the area and perimeter.

    Args:
        geometries: (Multi)Polygons in EPSG:31370; written as MULTIPOLYGON.
        eenh1: the main unit of each polygon (``None``/``''`` = empty).
        fields: values of other fields by name (e.g. ``EENH2``, ``HAB1``, or a
            ``Label`` column as in the paper's labelled copy).

    Returns:
        The layer in EPSG:31370.

    Raises:
        ValueError: if a column has the wrong length.
    """
    geoms = np.asarray(geometries, dtype=object)
    n = len(geoms)
    given = dict(fields or {})
    given['EENH1'] = list(eenh1)
    for name, values in given.items():
        if len(values) != n:
            raise BVMValueError(
                f'field {name}: {len(values)} values for {n} geometries'
            )
    multi = _as_multipolygons(geoms)
    ids = np.arange(1, n + 1, dtype=np.int64)
    columns: dict[str, object] = {}
    for name, dtype in BWKHAB_FIELDS.items():
        if name in given:
            columns[name] = given[name]
        elif dtype == 'str':
            columns[name] = np.full(n, None, dtype=object)
    columns['UIDN'] = given.get('UIDN', ids)
    columns['OIDN'] = given.get('OIDN', ids)
    columns['TAG'] = given.get('TAG', [f'{i}_v2014' for i in ids])
    columns['EVAL'] = given.get('EVAL', np.full(n, 'm', dtype=object))
    columns['HAB1'] = given.get('HAB1', np.full(n, 'gh', dtype=object))
    columns['HABLEGENDE'] = given.get('HABLEGENDE', np.full(n, 'gh', dtype=object))
    for i in range(1, 6):
        default = np.full(n, 100 if i == 1 else 0, dtype=np.int32)
        columns[f'PHAB{i}'] = given.get(f'PHAB{i}', default)
    if 'BWKLABEL' not in given:
        units = pd.DataFrame({f'EENH{i}': columns[f'EENH{i}'] for i in range(1, 9)})
        columns['BWKLABEL'] = [
            ' + '.join(str(u) for u in row if isinstance(u, str) and u)
            for row in units.itertuples(index=False)
        ]
    columns['OPPERVL'] = given.get('OPPERVL', shapely.area(multi))
    columns['LENGTE'] = given.get('LENGTE', shapely.length(multi))
    ordered = {name: columns[name] for name in BWKHAB_FIELDS}
    extra = {k: v for k, v in given.items() if k not in BWKHAB_FIELDS}
    frame = pd.DataFrame({**ordered, **extra})
    for name, dtype in BWKHAB_FIELDS.items():
        if dtype != 'str' and name not in given:
            frame[name] = frame[name].to_numpy().astype(np.dtype(dtype))
    return gpd.GeoDataFrame(frame, geometry=multi, crs=KBL_CRS)


def _as_multipolygons(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    if single.any():
        out[single] = shapely.multipolygons(
            geoms[single], indices=np.arange(single.sum())
        )
    return out


def write_bwkhab(
    frame: gpd.GeoDataFrame,
    path: str | Path,
    layer: str = BWKHAB_LAYER,
    esri_prj: bool = True,
) -> Path:
    """Write a ``BwkHab`` layer in the format its suffix names.

    Args:
        frame: the layer, e.g. from :func:`bwkhab_frame` (EPSG:31370).
        path: ``.shp``, ``.zip`` (``Shapefile/<layer>.shp`` inside, as INBO's
            download), ``.gpkg`` or ``.parquet``.
        layer: the layer name (GeoPackage) or shapefile name inside a ``.zip``.
        esri_prj: write the ESRI "Belge_Lambert_1972" ``.prj`` of the real
            shapefiles (no EPSG code); ``False`` writes the EPSG definition.

    Returns:
        The written path.

    Raises:
        ValueError: for an unknown suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ('.shp', '.zip', '.gpkg', '.parquet'):
        raise BVMValueError(
            f'{path}: unknown BVM format {suffix!r}; expected .shp, .zip, .gpkg or '
            '.parquet'
        )
    if suffix in ('.gpkg', '.parquet'):
        frame = frame.drop(columns=[c for c in _SHAPEFILE_ONLY if c in frame.columns])
    with atomic_path(path) as temporary:
        if suffix == '.shp':
            _write_shapefile(frame, temporary, esri_prj)
        elif suffix == '.zip':
            with tempfile.TemporaryDirectory(dir=path.parent) as folder:
                shp = Path(folder) / 'Shapefile' / f'{layer}.shp'
                shp.parent.mkdir()
                _write_shapefile(frame, shp, esri_prj)
                with zipfile.ZipFile(temporary, 'w', zipfile.ZIP_DEFLATED) as archive:
                    for member in sorted(shp.parent.iterdir()):
                        archive.write(member, f'Shapefile/{member.name}')
        elif suffix == '.gpkg':
            frame.to_file(
                temporary,
                layer=layer,
                driver='GPKG',
                engine='pyogrio',
                geometry_type='MultiPolygon',
            )
        else:
            frame.to_parquet(temporary)
    return path


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, esri_prj: bool) -> None:
    # GDAL writes the geometry; the .dbf is written here, vectorised, with fields
    # as narrow as their longest value like the real file. GDAL's own writer
    # gives every string field 80 characters (a 1.5 GB .dbf at 650,000 rows)
    # and its RESIZE option takes minutes.
    frame[['geometry']].to_file(path, driver='ESRI Shapefile', engine='pyogrio')
    _write_dbf(path.with_suffix('.dbf'), frame.drop(columns='geometry'))
    path.with_suffix('.cpg').write_text('UTF-8')
    if esri_prj:
        path.with_suffix('.prj').write_text(LAMBERT72_ESRI_WKT)


def _dbf_field(values: pd.Series) -> tuple[bytes, int, int, NDArray[np.bytes_]]:
    """(type, width, decimals, padded values) of one dBASE field."""
    if pd.api.types.is_integer_dtype(values.dtype):
        text = np.char.mod('%d', values.to_numpy()).astype(np.bytes_)
        width = max(15 if values.dtype == np.int64 else 9, text.dtype.itemsize)
        return b'N', width, 0, np.char.rjust(text, width)
    if pd.api.types.is_float_dtype(values.dtype):
        text = np.char.mod('%.2f', values.to_numpy()).astype(np.bytes_)
        width = max(16, text.dtype.itemsize)
        return b'N', width, 2, np.char.rjust(text, width)
    encoded = np.array(
        [b'' if v is None or v != v else str(v).encode() for v in values],
        dtype=np.bytes_,
    )
    width = min(254, max(1, encoded.dtype.itemsize))
    return b'C', width, 0, np.char.ljust(encoded, width)


def _write_dbf(path: Path, table: pd.DataFrame) -> None:
    fields = [(str(name), *_dbf_field(table[name])) for name in table.columns]
    n = len(table)
    record = np.zeros(
        n, dtype=[('deleted', 'S1')] + [(f[0], f'S{f[2]}') for f in fields]
    )
    record['deleted'] = b' '
    for name, _, _, _, padded in fields:
        record[name] = padded
    header = struct.pack(
        '<BBBBIHH20x',
        3,
        123,
        1,
        1,
        n,
        32 + 32 * len(fields) + 1,
        record.dtype.itemsize,
    )
    descriptors = b''.join(
        struct.pack('<11sc4xBB14x', name.encode()[:10], kind, width, decimals)
        for name, kind, width, decimals, _ in fields
    )
    with path.open('wb') as handle:
        handle.write(header + descriptors + b'\r')
        handle.write(record.tobytes())
        handle.write(b'\x1a')


def tessellation(
    n: int,
    seed: int = 0,
    origin: tuple[float, float] = (FLANDERS_BVM_BOUNDS[0], FLANDERS_BVM_BOUNDS[1]),
    mean_area: float = MEAN_POLYGON_AREA,
    aspect: float = 2.6,
    points_per_edge: int = 3,
) -> NDArray[np.object_]:
    """A gap-free, overlap-free tessellation of ``n`` irregular polygons.

    Cells of a grid with random column widths and row heights get jittered
    corners and wiggly shared edges (``points_per_edge`` extra vertices), so the
    polygons vary in size and shape but neighbours share their boundaries
    exactly, as in the real map.

    Args:
        n: number of polygons.
        seed: random seed; the same seed gives the same polygons.
        origin: lower-left corner in EPSG:31370.
        mean_area: mean polygon area in m².
        aspect: width / height of the covered extent (Flanders is about 2.6).
        points_per_edge: extra vertices on every edge.

    Returns:
        ``n`` Polygons in EPSG:31370, row by row from the south-west corner.

    Raises:
        ValueError: if ``n < 1``.
    """
    if n < 1:
        raise BVMValueError(f'need at least one polygon, got n={n}')
    rng = np.random.default_rng(seed)
    rows = max(1, round(np.sqrt(n / aspect)))
    cols = int(np.ceil(n / rows))
    size = np.sqrt(mean_area)
    widths = np.clip(rng.lognormal(0.0, 0.35, cols), 0.5, 2.0)
    heights = np.clip(rng.lognormal(0.0, 0.35, rows), 0.5, 2.0)
    xs = origin[0] + np.concatenate([[0], np.cumsum(widths / widths.mean() * size)])
    ys = origin[1] + np.concatenate([[0], np.cumsum(heights / heights.mean() * size)])
    node_x = xs[:, None] + rng.uniform(-0.15, 0.15, (cols + 1, rows + 1)) * size
    node_y = ys[None, :] + rng.uniform(-0.15, 0.15, (cols + 1, rows + 1)) * size
    node_x[0, :], node_x[-1, :] = xs[0], xs[-1]
    node_y[:, 0], node_y[:, -1] = ys[0], ys[-1]
    nodes = np.stack([node_x, node_y], axis=-1)  # (cols + 1, rows + 1, 2)
    k = points_per_edge
    t = np.arange(1, k + 1) / (k + 1)
    # Edge wiggles are drawn once per edge, so both neighbours see the same edge.
    wiggle_h = rng.uniform(-0.04, 0.04, (cols, rows + 1, k)) * size
    wiggle_v = rng.uniform(-0.04, 0.04, (cols + 1, rows, k)) * size
    wiggle_h[:, [0, -1], :] = 0.0
    wiggle_v[[0, -1], :, :] = 0.0
    a, b = nodes[:-1, :, None, :], nodes[1:, :, None, :]
    horizontal = a + (b - a) * t[None, None, :, None]
    horizontal[..., 1] += wiggle_h
    a, b = nodes[:, :-1, None, :], nodes[:, 1:, None, :]
    vertical = a + (b - a) * t[None, None, :, None]
    vertical[..., 0] += wiggle_v
    ii, jj = np.meshgrid(np.arange(cols), np.arange(rows), indexing='ij')
    ii, jj = ii.T.ravel()[:n], jj.T.ravel()[:n]  # row-major from the south-west
    ring = np.concatenate(
        [
            nodes[ii, jj][:, None],
            horizontal[ii, jj],
            nodes[ii + 1, jj][:, None],
            vertical[ii + 1, jj],
            nodes[ii + 1, jj + 1][:, None],
            horizontal[ii, jj + 1][:, ::-1],
            nodes[ii, jj + 1][:, None],
            vertical[ii, jj][:, ::-1],
            nodes[ii, jj][:, None],
        ],
        axis=1,
    )
    return np.asarray(shapely.polygons(ring), dtype=object)


def synthetic_bwkhab(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """A deterministic ``BwkHab`` layer of ``n`` polygons with realistic units.

    Units are drawn from the shipped mapping table with the class shares of the
    paper's Table 1, written in the real notation (``+``/``-`` qualifiers, a
    trailing ``b``, second units in ``EENH2``, Natura 2000 types in ``HAB1``).

    Args:
        n: number of polygons.
        seed: random seed.

    Returns:
        The layer in EPSG:31370 (see :func:`bwkhab_frame`).
    """
    rng = np.random.default_rng(seed)
    geometries = tessellation(n, seed=seed)
    table = load_mapping_table()
    names = [c.name for c in CLASSES]
    shares = np.array([PAPER_PERCENT[name] for name in names])
    drawn_class = rng.choice(len(names), size=n, p=shares / shares.sum())
    eenh1 = np.empty(n, dtype=object)
    for class_id in range(len(names)):
        rows = np.flatnonzero(drawn_class == class_id)
        codes = table['code'][table['class_id'] == class_id].to_numpy()
        eenh1[rows] = rng.choice(codes, size=len(rows))
    qualifier = rng.random(n)
    plain = np.array([c.isalpha() for c in eenh1])
    eenh1 = np.where(plain & (qualifier < 0.10), eenh1 + '+', eenh1)
    eenh1 = np.where(plain & (qualifier > 0.95), eenh1 + '-', eenh1)
    eenh2 = np.full(n, None, dtype=object)
    second = rng.random(n) < 0.2
    eenh2[second] = rng.choice(table['code'].to_numpy(), int(second.sum()))
    hab1 = np.where(
        rng.random(n) < 0.1, rng.choice(['9130_end', '4030', '6510_hu'], n), 'gh'
    )
    evaluation = rng.choice(
        ['m', 'w', 'z', 'mw', 'wz'], size=n, p=[0.6, 0.2, 0.1, 0.07, 0.03]
    )
    return bwkhab_frame(
        geometries,
        list(eenh1),
        {'EENH2': list(eenh2), 'HAB1': list(hab1), 'EVAL': list(evaluation)},
    )
