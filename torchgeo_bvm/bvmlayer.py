"""The BVM layer on disk: finding it, checking it, mapping its labels, its polygons.

:class:`BVMLayer` is everything about the Biological Valuation Map's polygons
that needs neither torch nor TorchGeo: it finds the ``BwkHab`` layer in a file,
folder or zip, checks what it holds (fields, geometry type, CRS and where its
coordinates lie), maps its label column to class ids, and loads, repairs,
reprojects and indexes the polygons to rasterise windows of them.
:class:`~torchgeo_bvm.datasets.BVMDataset` serves it to TorchGeo, and
:func:`~torchgeo_bvm.labels.rasterize_bvm` writes it to a GeoTIFF, which is why
``torchgeo-bvm rasterize`` starts without torch.

Nothing is reinterpreted silently: a layer without polygons, a label column
that is neither integer class numbers nor text unit codes, a text column that
holds only numbers, or coordinates that cannot be in the CRS the layer declares
are errors that name the file and what was found.
"""

from __future__ import annotations

import json
import os
import struct
import time
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pyogrio.errors
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from rasterio.transform import Affine
from shapely import STRtree

from .bwk import MappingResult, UnitMapping, map_integer_labels
from .classes import IGNORE_INDEX
from .crs import DEFAULT_CRS, LAMBERT72, is_lambert72
from .errors import BVMFileError, BVMNotFoundError, BVMValueError
from .fileio import VECTOR_SUFFIXES, find_files
from .geometry import repair_polygons, reproject_geometry
from .scanline import burn_polygons

__all__ = [
    'BVM_LAYER',
    'FLANDERS_EXTENT',
    'BVMLayer',
    'HasBVMLayer',
    'LoadReport',
    'Polygons',
]

#: Name of the BVM layer in INBO's files.
BVM_LAYER = 'BwkHab'
#: Where Flanders lies in EPSG:31370 (the 43 map sheets' box, 2 km wider): a
#: layer whose coordinates miss it is in another CRS than its ``.prj`` says.
FLANDERS_EXTENT = (0.0, 136_000.0, 292_000.0, 240_000.0)
_INTEGER_DTYPES = ('int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32')
_FLOAT_DTYPES = ('float', 'float16', 'float32', 'float64', 'double', 'halffloat')
_TEXT_DTYPES = ('object', 'str', 'string', 'large_string', 'string[python]')
_POLYGON_TYPES = ('Polygon', 'MultiPolygon', 'Unknown', 'GeometryCollection')


@dataclass(frozen=True)
class LoadReport:
    """What loading the polygons into memory did.

    Args:
        polygons: polygons kept (indexed and rasterised).
        repaired: invalid geometries repaired with :func:`shapely.make_valid`.
        skipped: empty or missing geometries, invalid ones with no area left
            after repair, and points or lines mixed in; they are not drawn.
        seconds: wall time of the load (read, repair, reproject, index).
    """

    polygons: int
    repaired: int
    skipped: int
    seconds: float


@dataclass
class Polygons:
    """The polygons of a layer in one CRS, in burn order, indexed.

    Args:
        crs: their CRS.
        geometries: the (Multi)Polygons, larger first.
        labels: the class id of each.
        tree: a :class:`shapely.STRtree` of them.
        report: what loading them did.
        source_bounds: (xmin, ymin, xmax, ymax) of these polygons in the
            layer's own CRS.
    """

    crs: CRS
    geometries: NDArray[np.object_]
    labels: NDArray[np.uint8]
    tree: STRtree
    report: LoadReport
    source_bounds: tuple[float, float, float, float]


class BVMLayer:
    """One BVM layer: where it is, what it holds, its labels and its polygons.

    Only the layer's metadata and label column are read when it is created; the
    polygons are read at the first :meth:`polygons` (once per CRS and process:
    a pickled layer leaves them behind, so DataLoader workers load their own).

    Args:
        paths: the BVM layer: a ``.shp``, a ``.zip`` of it, a ``.gpkg``, a
            GeoParquet file, or a folder holding exactly one of them (named
            ``BwkHab`` if there are several).
        layer: layer name in a GeoPackage, or shapefile name in a ``.zip``
            (default ``BwkHab``, or the only layer there is).
        label_field: a mapping-unit field (text, e.g. ``EENH1``) classified by
            ``mapping``, or an integer field (e.g. the paper's ``Label``, 1..14,
            0 = no label).
        mapping: the unit -> class table (CSV path, DataFrame or
            :class:`~torchgeo_bvm.bwk.UnitMapping`; default the shipped one).
        habitat_field: the tie-breaking habitat field (rule 9 of
            :mod:`torchgeo_bvm.bwk`); ignored when the layer lacks it and it is
            left at its default; ``None`` to disable.

    Raises:
        BVMNotFoundError: if ``paths`` holds no BVM layer.
        BVMFileError: if the file cannot be read as a vector layer.
        BVMValueError: if the layer, the label or habitat field does not exist
            (the message lists what exists), the layer is empty or holds no
            polygons, the label field is of an unusable type, or its
            coordinates cannot be in its CRS.
    """

    def __init__(
        self,
        paths: str | os.PathLike[str],
        layer: str | None = None,
        label_field: str = 'EENH1',
        mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
        habitat_field: str | None = 'HAB1',
    ) -> None:
        self.paths = paths
        self.source, self.layer, self.is_parquet = _find_source(paths, layer)
        info = self._read_info()
        fields: list[str] = info['fields']
        if label_field not in fields:
            raise BVMValueError(
                f'{self.source}: no field {label_field!r}; the layer has the fields '
                f'{", ".join(fields)}'
            )
        if habitat_field is not None and habitat_field not in fields:
            if habitat_field != 'HAB1':
                raise BVMValueError(
                    f'{self.source}: no habitat field {habitat_field!r}; the layer '
                    f'has the fields {", ".join(fields)}'
                )
            habitat_field = None
        if info['features'] == 0:
            raise BVMValueError(f'{self.source}: the layer holds no features')
        if info['geometry_type'] not in _POLYGON_TYPES:
            raise BVMValueError(
                f'{self.source}: the layer holds {info["geometry_type"]} geometries; '
                'the BVM is a layer of polygons'
            )
        self.label_field = label_field
        self.habitat_field = habitat_field
        self.source_crs: CRS = _source_crs(info['crs'], self.source)
        self.source_bounds: tuple[float, float, float, float] = info['bounds']
        _check_coordinates(self.source, self.source_crs, self.source_bounds)
        dtype = info['dtypes'][fields.index(label_field)]
        self.mapping: UnitMapping | None = None
        self.mapping_result = self._map_labels(dtype, mapping)
        self._cache: Polygons | None = None

    # -- describing the source ---------------------------------------------------

    def _read_info(self) -> dict[str, Any]:
        if self.is_parquet:
            return _parquet_info(self.source)
        try:
            info = pyogrio.read_info(
                self.source, layer=self.layer, force_total_bounds=True
            )
        except pyogrio.errors.DataSourceError as error:
            raise _unreadable(self.source, error) from None
        if info['total_bounds'] is None:
            raise BVMValueError(
                f'{self.source}: none of its {info["features"]} geometries has an '
                'extent (all empty or missing): nothing to label'
            )
        bounds = tuple(float(v) for v in info['total_bounds'])
        return {
            'fields': [str(f) for f in info['fields']],
            'dtypes': [str(d) for d in info['dtypes']],
            'crs': info['crs'],
            'bounds': bounds,
            'features': int(info['features']),
            'geometry_type': _geometry_type(info.get('geometry_type')),
        }

    def _read_columns(self, columns: Sequence[str]) -> pd.DataFrame:
        try:
            if self.is_parquet:
                return pd.read_parquet(self.source, columns=list(columns))
            return cast(
                pd.DataFrame,
                pyogrio.read_dataframe(
                    self.source,
                    layer=self.layer,
                    columns=list(columns),
                    read_geometry=False,
                ),
            )
        except (pyogrio.errors.DataSourceError, OSError) as error:
            raise _unreadable(self.source, error) from None

    def _map_labels(
        self,
        dtype: str,
        mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None,
    ) -> MappingResult:
        field = self.label_field
        if dtype in _INTEGER_DTYPES:
            result = map_integer_labels(self._read_columns([field])[field])
            _refuse_all_unmapped(result, self.source, field, 'class numbers 0..14')
            result.warn(self.source, field)
            return result
        if dtype.lower() in _FLOAT_DTYPES:
            raise BVMValueError(
                f'{self.source}: the label field {field!r} holds decimal numbers '
                f'({dtype}); expected an integer class field (1..14, 0 = no label, '
                "as the paper's Label) or a text unit field such as EENH1"
            )
        if dtype.lower() not in _TEXT_DTYPES:
            raise BVMValueError(
                f'{self.source}: the label field {field!r} is of type {dtype}; '
                'expected an integer class field or a text unit field such as EENH1'
            )
        self.mapping = (
            mapping if isinstance(mapping, UnitMapping) else UnitMapping(mapping)
        )
        habitat = self.habitat_field
        table = self._read_columns([field] + ([habitat] if habitat else []))
        if mapping is None:
            _refuse_numbers_as_codes(table[field], self.source, field)
        # The field itself must hold unit codes: that HAB1 would label every
        # polygon of a wrong field is no reason to take it.
        own = self.mapping.map_codes(table[field])
        _refuse_all_unmapped(own, self.source, field, 'BWK unit codes')
        result = self.mapping.map_codes(
            table[field], table[habitat] if habitat else None
        )
        result.warn(self.source, field)
        return result

    # -- polygons ----------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the loaded polygons: each process loads its own.

        Returns:
            The state.
        """
        state = self.__dict__.copy()
        state['_cache'] = None
        return state

    @property
    def loaded(self) -> bool:
        """Whether this process has the polygons in memory."""
        return self._cache is not None

    def polygons(self, crs: CRS = DEFAULT_CRS) -> Polygons:
        """The polygons in ``crs``, read, repaired and indexed at the first call.

        Args:
            crs: their CRS.

        Returns:
            The polygons.

        Raises:
            BVMValueError: if the layer yields no polygon (only points, lines
                or empty geometries), or changed since it was opened.
        """
        crs = CRS.from_user_input(crs)
        if self._cache is None or self._cache.crs != crs:
            self._cache = self._load_polygons(crs)
        return self._cache

    def bounds(self, crs: CRS = DEFAULT_CRS) -> tuple[float, float, float, float]:
        """The bounds of the layer in ``crs``, from its file's header.

        The header is read when the layer is opened, without the geometries;
        :meth:`extent` gives the bounds of the polygons actually used.

        Args:
            crs: the CRS.

        Returns:
            (xmin, ymin, xmax, ymax) of the header's box, densified so curved
            edges are covered.
        """
        return _transform_box(self.source_bounds, self.source_crs, crs)

    def extent(self, crs: CRS = DEFAULT_CRS) -> tuple[float, float, float, float]:
        """The bounds in ``crs`` of the polygons used (loading them if needed).

        Points, lines, empty geometries and what lies in the header but not in
        the geometries do not count.

        Args:
            crs: the CRS.

        Returns:
            (xmin, ymin, xmax, ymax) of the box around the polygons in the
            layer's CRS, transformed as :meth:`bounds` is.
        """
        return _transform_box(self.polygons(crs).source_bounds, self.source_crs, crs)

    def _read_geometries(self) -> NDArray[np.object_]:
        if self.is_parquet:
            column = _parquet_geometry_column(self.source)
            table = pd.read_parquet(self.source, columns=[column])
            return np.asarray(shapely.from_wkb(table[column].to_numpy()), dtype=object)
        try:
            frame = pyogrio.read_dataframe(
                self.source, layer=self.layer, columns=[], use_arrow=True
            )
        except (pyogrio.errors.DataSourceError, OSError) as error:
            raise _unreadable(self.source, error) from None
        return np.asarray(frame.geometry.to_numpy(), dtype=object)

    def _load_polygons(self, crs: CRS) -> Polygons:
        start = time.perf_counter()
        geometries = self._read_geometries()
        labels = self.mapping_result.ids
        if len(geometries) != len(labels):
            raise BVMValueError(
                f'{self.source}: {len(geometries)} geometries but {len(labels)} '
                'labels; was the file changed after the dataset was created?'
            )
        geometries, repaired = repair_polygons(geometries)
        keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
        polygonal = shapely.get_type_id(geometries)
        keep &= np.isin(polygonal, (3, 6))  # Polygon, MultiPolygon
        if not keep.any():
            raise BVMValueError(
                f'{self.source}: none of its {len(geometries)} geometries is a '
                'polygon with an area (points, lines or empty geometries only): '
                'nothing to label'
            )
        skipped = int((~keep).sum())
        geometries, labels = geometries[keep], labels[keep]
        used = tuple(float(v) for v in shapely.total_bounds(geometries))
        # Larger polygons first, so the smaller ones are burnt later and win;
        # the stable sort keeps file order between equal areas.
        order = np.argsort(-shapely.area(geometries), kind='stable')
        geometries, labels = geometries[order], labels[order]
        # Vertices only (densify=0): polygon edges of a few metres need none.
        geometries = reproject_geometry(geometries, self.source_crs, crs, 0.0)
        tree = STRtree(geometries)
        report = LoadReport(
            len(geometries), repaired, skipped, time.perf_counter() - start
        )
        if repaired or skipped:
            warnings.warn(
                f'{self.source}: repaired {repaired} invalid geometries with '
                f'shapely.make_valid and skipped {skipped} empty, unrepairable or '
                'non-polygon ones',
                UserWarning,
                stacklevel=4,
            )
        return Polygons(crs, geometries, labels, tree, report, used)  # type: ignore[arg-type]

    def rasterize(
        self, transform: Affine, width: int, height: int, crs: CRS = DEFAULT_CRS
    ) -> NDArray[np.uint8]:
        """Class ids of a window of pixels.

        Args:
            transform: affine transform of the window (north up), in ``crs``.
            width: width in pixels.
            height: height in pixels.
            crs: the CRS of the window.

        Returns:
            uint8 [height, width]: class ids, IGNORE_INDEX where no polygon lies.
        """
        polygons = self.polygons(crs)
        west, north = transform @ (0, 0)
        east, south = transform @ (width, height)
        window = shapely.box(
            min(west, east), min(south, north), max(west, east), max(south, north)
        )
        # The tree returns indices into the burn order; sorting them restores it.
        hits = np.sort(polygons.tree.query(window))
        if not len(hits) or width == 0 or height == 0:
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        # Our numpy scanline fill: GDAL's pixels (pixel centre inside; later
        # polygons over earlier ones) at a quarter of rasterio's cost, which goes
        # into converting every vertex to Python objects for GDAL.
        return burn_polygons(
            polygons.geometries[hits],
            polygons.labels[hits],
            transform,
            (height, width),
            IGNORE_INDEX,
        )


class HasBVMLayer(Protocol):
    """Anything holding a :class:`BVMLayer` as ``bvm`` (e.g. ``BVMDataset``)."""

    @property
    def bvm(self) -> BVMLayer:
        """The layer."""
        ...


# -- finding the layer -------------------------------------------------------------


def _find_source(
    paths: str | os.PathLike[str], layer: str | None
) -> tuple[str, str | None, bool]:
    """(path GDAL/pyarrow opens, layer, is GeoParquet) of the BVM layer."""
    path = Path(paths)
    if path.is_dir():
        path = _find_in_folder(path)
    if not path.exists():
        raise BVMNotFoundError(f'BVM layer not found: {path}')
    if path.stat().st_size == 0:
        raise BVMFileError(f'{path}: the file is empty (0 bytes)')
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise BVMValueError(
            f'{path}: not a BVM layer; expected one of {", ".join(VECTOR_SUFFIXES)} '
            '(the .shp of a shapefile, not its .dbf, .shx or .prj)'
        )
    if suffix in ('.parquet', '.geoparquet'):
        return str(path), None, True
    if suffix == '.zip':
        return _find_in_zip(path, layer), None, False
    if suffix == '.shp':
        _check_shapefile(path)
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except pyogrio.errors.DataSourceError as error:
        raise _unreadable(str(path), error) from None
    if layer is None:
        by_name = [n for n in layers if n.lower() == BVM_LAYER.lower()]
        if by_name or len(layers) == 1:
            return str(path), (by_name or layers)[0], False
        raise BVMValueError(
            f'{path}: several layers and none named {BVM_LAYER}; pass layer= one '
            f'of {", ".join(layers)}'
        )
    if layer not in layers:
        raise BVMValueError(
            f'{path}: no layer {layer!r}; the layers are {", ".join(layers)}'
        )
    return str(path), layer, False


def _check_shapefile(shp: Path) -> None:
    """Refuse a shapefile whose parts are shorter than their headers say.

    GDAL reads a truncated ``.shp`` as if the missing records had no geometry,
    and a truncated ``.dbf`` as if they had no attributes; the headers give
    each file's full length, so a cut file is told apart from a short layer.
    """
    shp_size = _declared_length(shp, 24, '>i', words=True)
    shx = _part(shp, '.shx')
    dbf = _part(shp, '.dbf')
    problems = []
    if shp_size is not None and shp.stat().st_size < shp_size:
        problems.append(f'{shp.name} has {shp.stat().st_size} of {shp_size} bytes')
    if shx is not None:
        shx_size = _declared_length(shx, 24, '>i', words=True)
        if shx_size is not None and shx.stat().st_size < shx_size:
            problems.append(f'{shx.name} has {shx.stat().st_size} of {shx_size} bytes')
    if dbf is not None:
        header = dbf.read_bytes()[:12]
        if len(header) == 12:
            records = int.from_bytes(header[4:8], 'little')
            size = int.from_bytes(header[8:10], 'little') + records * int.from_bytes(
                header[10:12], 'little'
            )
            if dbf.stat().st_size < size:
                problems.append(f'{dbf.name} has {dbf.stat().st_size} of {size} bytes')
    if problems:
        raise BVMFileError(
            f'{shp}: the shapefile is truncated ({"; ".join(problems)}); copy it again'
        )


def _part(shp: Path, suffix: str) -> Path | None:
    for candidate in (shp.with_suffix(suffix), shp.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def _declared_length(path: Path, offset: int, fmt: str, words: bool) -> int | None:
    """The file length a shapefile header declares (in bytes), if it has one."""
    with path.open('rb') as stream:
        header = stream.read(offset + 4)
    if len(header) < offset + 4:
        return None
    (value,) = struct.unpack(fmt, header[offset : offset + 4])
    return int(value) * (2 if words else 1)


def _find_in_folder(folder: Path) -> Path:
    found = find_files(folder, VECTOR_SUFFIXES)
    if not found:
        raise BVMNotFoundError(
            f'{folder}: no BVM layer in the folder (expected a file ending in '
            f'{", ".join(VECTOR_SUFFIXES)})'
        )
    named = [p for p in found if p.stem.lower() == BVM_LAYER.lower()]
    if len(found) == 1 or len(named) == 1:
        return (named or found)[0]
    raise BVMValueError(
        f'{folder}: several vector files, expected one (or one named '
        f'{BVM_LAYER}): {", ".join(str(p) for p in found)}'
    )


def _find_in_zip(path: Path, layer: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith('.shp')]
    except zipfile.BadZipFile:
        raise BVMFileError(f'{path}: not a zip archive (or a damaged one)') from None
    wanted = (layer or BVM_LAYER).lower()
    named = [m for m in members if Path(m).stem.lower() == wanted]
    if named or (layer is None and len(members) == 1):
        return f'/vsizip/{path.resolve()}/{(named or members)[0]}'
    raise BVMValueError(
        f'{path}: no shapefile {layer or BVM_LAYER!r} inside; it holds '
        f'{", ".join(members) or "no shapefile"}'
    )


def _unreadable(source: str, error: Exception) -> BVMFileError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return BVMFileError(
        f'{source}: cannot be read as a vector layer ({reason}); is it complete, '
        'with its .shx and .dbf beside the .shp?'
    )


def _geometry_type(value: object) -> str:
    text = str(value or 'Unknown')
    # GDAL's names: 'Polygon', 'MultiPolygon Z', '3D Polygon', ...
    for name in ('MultiPolygon', 'Polygon', 'MultiLineString', 'LineString'):
        if name.lower() in text.lower():
            return name
    for name in ('MultiPoint', 'Point', 'GeometryCollection'):
        if name.lower() in text.lower():
            return name
    return 'Unknown'


def _source_crs(crs: object, source: str) -> CRS:
    """The layer's CRS: EPSG:31370 when missing or the ESRI Lambert 72 WKT."""
    if crs is None or crs == '':
        return LAMBERT72
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as error:
        raise BVMValueError(
            f'{source}: its CRS (.prj) cannot be read: {error}'
        ) from None
    return LAMBERT72 if is_lambert72(parsed) else parsed


def _check_coordinates(
    source: str, crs: CRS, bounds: tuple[float, float, float, float]
) -> None:
    """Refuse coordinates that cannot be in ``crs`` or that miss Flanders."""
    if not all(np.isfinite(bounds)):
        raise BVMValueError(f'{source}: the layer has no finite extent ({bounds})')
    if crs.is_geographic and not (
        -180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90
    ):
        raise BVMValueError(
            f'{source}: coordinates {_show(bounds)} are not degrees, yet the layer '
            f'declares {crs.name}; is its .prj wrong (the BVM is in EPSG:31370)?'
        )
    try:
        transformer = Transformer.from_crs(crs, LAMBERT72, always_xy=True)
        lambert = transformer.transform_bounds(*bounds, densify_pts=21)
    except Exception:  # pyproj raises several kinds here
        lambert = (np.inf,) * 4
    if not all(np.isfinite(lambert)) or not shapely.box(*lambert).intersects(
        shapely.box(*FLANDERS_EXTENT)
    ):
        raise BVMValueError(
            f'{source}: the layer lies at {_show(bounds)} in {crs.name}, outside '
            f'Flanders ({_show(FLANDERS_EXTENT)} in EPSG:31370); is its .prj '
            'right?'
        )


def _transform_box(
    bounds: tuple[float, float, float, float], src: CRS, dst: CRS
) -> tuple[float, float, float, float]:
    transformer = Transformer.from_crs(src, dst, always_xy=True)
    xmin, ymin, xmax, ymax = transformer.transform_bounds(*bounds, densify_pts=21)
    return (float(xmin), float(ymin), float(xmax), float(ymax))


def _show(bounds: Sequence[float]) -> str:
    return '(' + ', '.join(f'{v:.6g}' for v in bounds) + ')'


def _refuse_all_unmapped(
    result: MappingResult, source: str, field: str, expected: str
) -> None:
    """A column none of whose values maps is the wrong column, not a warning."""
    unmapped = sum(result.unmapped.values())
    if unmapped and unmapped == len(result.ids):
        examples = ', '.join(repr(v) for v, _ in result.unmapped.most_common(3))
        raise BVMValueError(
            f'{source}: none of the {unmapped} values of the label field {field!r} '
            f'is one of the {expected} (most frequent: {examples}); is it the '
            'right field (--label-field) or mapping?'
        )


def _refuse_numbers_as_codes(values: pd.Series, source: str, field: str) -> None:
    """A text column of numbers is not a column of BWK unit codes: say so."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != '']
    if len(text) and text.str.fullmatch(r'[+-]?\d+(\.\d*)?').all():
        examples = ', '.join(repr(v) for v in text.unique()[:3])
        raise BVMValueError(
            f'{source}: the label field {field!r} is text but holds only numbers '
            f'({examples}), which are no BWK unit codes; store class numbers as an '
            "integer field (1..14, as the paper's Label), or pass mapping= a table "
            'for these codes'
        )


def _parquet_geometry_column(path: str) -> str:
    metadata = pq.read_schema(path).metadata or {}
    if b'geo' not in metadata:
        raise BVMValueError(f'{path}: not GeoParquet (no "geo" metadata)')
    return str(json.loads(metadata[b'geo'])['primary_column'])


def _parquet_info(path: str) -> dict[str, Any]:
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as error:
        raise _unreadable(path, error) from None
    column = _parquet_geometry_column(path)
    geo = json.loads((schema.metadata or {})[b'geo'])['columns'][column]
    bbox = geo.get('bbox')
    if bbox is None:
        table = pd.read_parquet(path, columns=[column])
        bbox = shapely.total_bounds(shapely.from_wkb(table[column].to_numpy()))
    crs = geo.get('crs', 'OGC:CRS84')  # GeoParquet: an absent crs means CRS84
    fields = [name for name in schema.names if name != column]
    dtypes = [str(schema.field(name).type) for name in fields]
    types = geo.get('geometry_types') or []
    geometry_type = (
        'Unknown' if not types or len(set(types)) > 1 else _geometry_type(types[0])
    )
    return {
        'fields': fields,
        'dtypes': [_arrow_dtype(d) for d in dtypes],
        'crs': json.dumps(crs) if isinstance(crs, dict) else crs,
        'bounds': tuple(float(v) for v in bbox),
        'features': pq.ParquetFile(path).metadata.num_rows,
        'geometry_type': geometry_type,
    }


def _arrow_dtype(name: str) -> str:
    # Arrow's names ('int64', 'double', 'string', ...) are numpy's, but for these.
    return {'double': 'float64', 'float': 'float32', 'halffloat': 'float16'}.get(
        name, name
    )
