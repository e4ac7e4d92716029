"""The BVM layer in a file: finding it, checking it, reading its fields and labels.

INBO publishes the ``BwkHab`` layer as a shapefile (also zipped as
``Shapefile/BwkHab.shp``); users keep it as a GeoPackage or GeoParquet too.
:class:`BVMLayer` finds the layer in any of these (or in a folder holding one of
them), reads its description without reading the features, and reads columns,
geometries and class labels on request. Labels come from ``EENH1`` through
:class:`~torchgeo_bvm.bvm.units.UnitMapping` with ``HAB1`` as tie-breaker, or from an
integer label column (:func:`~torchgeo_bvm.bvm.units.map_integer_labels`).

Nothing is reinterpreted silently: an empty, truncated or unreadable file, a
layer without features or without polygons, coordinates that cannot be in the
CRS the layer declares (or that miss Flanders), a label column that is neither
integer class numbers nor text unit codes, a text column that holds only
numbers, or one none of whose values is a unit code are errors that name the
file and what was found.

A layer opened with a cache folder keeps the columns it reads there (as codes
into their distinct values), so reading them again, while the layer's files are
unchanged, reads no ``.dbf``: for the real map reading two text columns is most
of a warm start. What is derived from a layer and cached (the columns here, the
prepared polygons of :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons`) is named by
:meth:`BVMLayer.cache_name` and records the layer's
:attr:`BVMLayer.fingerprint`, taken when it was opened, so a changed file is
read again.

:class:`~torchgeo_bvm.bvm.polygons.BVMPolygons` (the polygons that
:class:`~torchgeo_bvm.datasets.BVMDataset` and ``torchgeo-bvm rasterize``
rasterise) and :mod:`torchgeo_bvm.maps.compare` (the BVM against a class map) read
the layer through this module, so they see the same polygons with the same
classes; it needs neither torch nor TorchGeo.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pyogrio.errors
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..errors import BVMFileError, BVMNotFoundError, BVMValueError
from ..fileio import (
    VECTOR_SUFFIXES,
    atomic_path,
    find_files,
    fingerprint,
    read_cache_entry,
)
from ..spatial.crs import LAMBERT72, is_lambert72
from ..spatial.geometry import reproject_bounds
from .units import MappingResult, UnitMapping, map_integer_labels

__all__ = ['BVM_LAYER', 'FLANDERS_EXTENT', 'BVMLayer', 'LayerInfo', 'LayerLabels']

#: Name of the BVM layer in INBO's files.
BVM_LAYER = 'BwkHab'
#: Where Flanders lies in EPSG:31370 (the 43 map sheets' box, 2 km wider): a
#: layer whose coordinates miss it is in another CRS than its ``.prj`` says.
FLANDERS_EXTENT = (0.0, 136_000.0, 292_000.0, 240_000.0)
_INTEGER_DTYPES = ('int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32')
_FLOAT_DTYPES = ('float', 'float16', 'float32', 'float64', 'double', 'halffloat')
_TEXT_DTYPES = ('object', 'str', 'string', 'large_string', 'string[python]')
_POLYGON_TYPES = ('Polygon', 'MultiPolygon', 'Unknown', 'GeometryCollection')
_SHAPEFILE_PARTS = ('.shp', '.shx', '.dbf', '.prj', '.cpg')


@dataclass(frozen=True)
class LayerInfo:
    """What a layer holds, read from its header.

    Args:
        fields: the attribute fields, in file order.
        dtypes: their dtypes (numpy names for OGR formats, Arrow names for
            GeoParquet but its floats, named as numpy's).
        crs: the layer's CRS: EPSG:31370 when the file has none or carries
            ESRI's "Belge_Lambert_1972" WKT.
        bounds: (xmin, ymin, xmax, ymax) in ``crs``.
        features: the number of features.
        geometry_type: the layer's declared geometry type (``'Polygon'``,
            ``'MultiPolygon'``, ``'Point'``, ...; ``'Unknown'`` for mixed or
            undeclared types).
    """

    fields: tuple[str, ...]
    dtypes: tuple[str, ...]
    crs: CRS
    bounds: tuple[float, float, float, float]
    features: int
    geometry_type: str = 'Unknown'

    def dtype(self, field: str) -> str:
        """The dtype of a field.

        Args:
            field: a field of the layer.

        Returns:
            Its dtype name (numpy names; Arrow's floats as numpy's).
        """
        return self.dtypes[self.fields.index(field)]

    def is_integer(self, field: str) -> bool:
        """Whether a field holds integers (an integer label column).

        Args:
            field: a field of the layer.

        Returns:
            True for integer dtypes.
        """
        return self.dtype(field) in _INTEGER_DTYPES


@dataclass(frozen=True)
class LayerLabels:
    """The class of every feature, and how it was decided.

    Args:
        field: the label field.
        habitat_field: the tie-breaking habitat field used, if any.
        mapping: the unit mapping (None for an integer label field).
        result: class ids per feature, with the values no rule mapped.
    """

    field: str
    habitat_field: str | None
    mapping: UnitMapping | None
    result: MappingResult


@dataclass(frozen=True)
class BVMLayer:
    """The ``BwkHab`` layer of one file.

    Use :meth:`open` to find it.

    Args:
        source: the path GDAL (or pyarrow, for GeoParquet) opens: a file, or a
            ``/vsizip/`` path inside a ``.zip``.
        layer: the layer name (None for shapefiles and GeoParquet).
        is_parquet: whether the file is GeoParquet.
        info: the layer's description.
        fingerprint: the :func:`~torchgeo_bvm.fileio.fingerprint` of the
            layer's files (:meth:`source_files`) when it was opened.
        cache_dir: where the columns read are cached (None: not cached).
    """

    source: str
    layer: str | None
    is_parquet: bool
    info: LayerInfo
    fingerprint: list[list[object]] = field(hash=False)
    cache_dir: Path | None = None

    @classmethod
    def open(
        cls,
        paths: str | os.PathLike[str],
        layer: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> BVMLayer:
        """Find the layer and read its description.

        Args:
            paths: a ``.shp``, a ``.zip`` of it, a ``.gpkg``, a GeoParquet file, or
                a folder holding exactly one of them (named ``BwkHab`` if there
                are several).
            layer: layer name in a GeoPackage, or shapefile name in a ``.zip``
                (default ``BwkHab``, or the only layer there is).
            cache_dir: a folder where :meth:`read_columns` keeps the columns it
                reads, to read them from there while the layer is unchanged;
                None to read them from the layer every time.

        Returns:
            The layer.

        Raises:
            BVMNotFoundError: if ``paths`` does not exist or holds no vector file.
            BVMFileError: if the file is empty, truncated, or cannot be read as a
                vector layer.
            BVMValueError: if the layer does not exist (the message lists those
                that do), a folder holds several candidates, the layer holds no
                features or no polygons, or its coordinates cannot be in its CRS
                or lie outside Flanders.
        """
        source, name, is_parquet = _find_source(Path(paths), layer)
        # Taken before anything is read: what is derived from the layer later
        # must come from the files as they were then.
        files = fingerprint(_source_files(source))
        info = _parquet_info(source) if is_parquet else _ogr_info(source, name)
        _check_geometry_type(source, info.geometry_type)
        _check_coordinates(source, info.crs, info.bounds)
        folder = Path(cache_dir) if cache_dir is not None else None
        return cls(source, name, is_parquet, info, files, folder)

    @staticmethod
    def locate(paths: str | os.PathLike[str], layer: str | None = None) -> list[Path]:
        """The files of the layer :meth:`open` would find, without reading it.

        A command checks its outputs against these, whatever spelling named the
        layer (a folder, a ``.zip``, a link).

        Args:
            paths: as for :meth:`open`.
            layer: as for :meth:`open`.

        Returns:
            The files (see :meth:`source_files`).

        Raises:
            BVMNotFoundError: if ``paths`` does not exist or holds no vector file.
            BVMFileError: if the file is empty or truncated.
            BVMValueError: if it is not a vector file or the layer is missing.
        """
        return _source_files(_find_source(Path(paths), layer)[0])

    def source_files(self) -> list[Path]:
        """The files the layer is read from.

        Returns:
            A shapefile's parts (``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg``),
            the ``.zip`` holding it, or the GeoPackage or GeoParquet file.
        """
        return _source_files(self.source)

    def changed(self) -> bool:
        """Whether the layer's files differ from when it was opened.

        Returns:
            True if a file's content changed (its size or its SHA-256).

        Raises:
            FileNotFoundError: if a file no longer exists.
        """
        return fingerprint(self.source_files()) != self.fingerprint

    def cache_name(self, kind: str, what: object) -> str:
        """The name of a cache entry derived from this layer.

        Args:
            kind: what kind of entry (``'bvm-columns'``, ``'bvm-polygons'``).
            what: what distinguishes it from the layer's other entries of that
                kind (the columns, the CRS), JSON-serialisable.

        Returns:
            ``<kind>-<16 hex digits>``, a hash of the layer's path and name and
            ``what``; the entry itself records :attr:`fingerprint`.
        """
        key = json.dumps(
            {
                'source': str(Path(self.source.removeprefix('/vsizip')).resolve()),
                'layer': self.layer,
                'what': what,
            }
        )
        return f'{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}'

    def require_fields(
        self, fields: Sequence[str], kind: str = 'field', why: str = ''
    ) -> None:
        """Check that the layer has some fields.

        Args:
            fields: the field names.
            kind: what they are, for the message (``'field'``, ``'habitat field'``).
            why: what they are needed for, for the message.

        Raises:
            BVMValueError: naming the missing fields and listing those there are.
        """
        missing = [f for f in fields if f not in self.info.fields]
        if missing:
            reason = f' ({why})' if why else ''
            raise BVMValueError(
                f'{self.source}: no {kind} {", ".join(map(repr, missing))}{reason}; '
                f'the layer has the fields {", ".join(self.info.fields)}'
            )

    def read_columns(self, columns: Sequence[str]) -> pd.DataFrame:
        """Read attribute columns of every feature, without geometries.

        With a :attr:`cache_dir`, from the cache while the layer's files are as
        when it was opened; numbers and text (with None) are cached, other
        columns read every time.

        Args:
            columns: field names.

        Returns:
            One row per feature, in file order.

        Raises:
            BVMFileError: if the layer cannot be read.
        """
        if self.cache_dir is None:
            return self._read_columns_from_file(columns)
        path = self.cache_dir / f'{self.cache_name("bvm-columns", list(columns))}.npz'
        table = _load_columns(path, columns, self.fingerprint)
        if table is None:
            table = self._read_columns_from_file(columns)
            _save_columns(path, table, self.fingerprint)
        return table

    def _read_columns_from_file(self, columns: Sequence[str]) -> pd.DataFrame:
        try:
            if self.is_parquet:
                table = pd.read_parquet(self.source, columns=list(columns))
            else:
                table = pyogrio.read_dataframe(
                    self.source,
                    layer=self.layer,
                    columns=list(columns),
                    read_geometry=False,
                )
        except (pyogrio.errors.DataSourceError, OSError) as error:
            raise _unreadable(self.source, error) from None
        # GDAL returns the fields in file order; the cache stores them by position.
        return table[list(columns)]

    def read_geometries(self) -> NDArray[np.object_]:
        """Read the geometry of every feature, in file order, in :attr:`LayerInfo.crs`.

        Returns:
            shapely geometries (None where a feature has none).

        Raises:
            BVMFileError: if the layer cannot be read.
        """
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

    def read_labels(
        self,
        label_field: str = 'EENH1',
        mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
        habitat_field: str | None = 'HAB1',
    ) -> LayerLabels:
        """The class id of every feature.

        Values no rule maps are counted in the result (see
        :meth:`~torchgeo_bvm.bvm.units.MappingResult.warn`); a column none of whose
        values maps is refused as the wrong column.

        Args:
            label_field: a mapping-unit field (text, e.g. ``EENH1``) classified by
                ``mapping``, or an integer field (e.g. the paper's ``Label``,
                1..14, 0 = no label).
            mapping: the unit -> class table (CSV path, DataFrame or
                :class:`~torchgeo_bvm.bvm.units.UnitMapping`; default the shipped one).
            habitat_field: the tie-breaking habitat field (rule 9 of
                :mod:`torchgeo_bvm.bvm.units`); ignored when the layer lacks it and
                it is left at its default; ``None`` to disable.

        Returns:
            The labels, in file order.

        Raises:
            BVMValueError: if the label field or a named habitat field does not
                exist (the message lists what exists), the label field is
                neither integer nor text, holds numbers as text (with the
                shipped mapping), or none of its values is a class number or
                unit code.
            BVMNotFoundError: if a mapping table file does not exist.
        """
        self.require_fields([label_field])
        if habitat_field is not None and habitat_field not in self.info.fields:
            if habitat_field != 'HAB1':
                self.require_fields([habitat_field], 'habitat field')
            habitat_field = None
        dtype = self.info.dtype(label_field)
        if dtype in _INTEGER_DTYPES:
            values = self.read_columns([label_field])[label_field]
            result = map_integer_labels(values)
            _refuse_all_unmapped(
                result, self.source, label_field, 'class numbers 0..14'
            )
            return LayerLabels(label_field, None, None, result)
        _refuse_label_dtype(self.source, label_field, dtype)
        units = mapping if isinstance(mapping, UnitMapping) else UnitMapping(mapping)
        columns = [label_field] + ([habitat_field] if habitat_field else [])
        table = self.read_columns(columns)
        if mapping is None:
            _refuse_numbers_as_codes(table[label_field], self.source, label_field)
        # The field itself must hold unit codes: that HAB1 would label every
        # polygon of a wrong field is no reason to take it.
        own = units.map_codes(table[label_field])
        _refuse_all_unmapped(own, self.source, label_field, 'BWK unit codes')
        result = units.map_codes(
            table[label_field], table[habitat_field] if habitat_field else None
        )
        return LayerLabels(label_field, habitat_field, units, result)


def _find_source(path: Path, layer: str | None) -> tuple[str, str | None, bool]:
    """(path GDAL/pyarrow opens, layer, is GeoParquet) of the BVM layer."""
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


def _source_files(source: str) -> list[Path]:
    """The files a layer's source is read from (a shapefile's parts, or a zip)."""
    if source.startswith('/vsizip/'):
        inner = source[len('/vsizip/') :]
        return [Path(inner[: inner.lower().index('.zip') + len('.zip')])]
    path = Path(source)
    if path.suffix.lower() != '.shp':
        return [path]
    return sorted(
        p
        for p in path.parent.glob(f'{path.stem}.*')
        if p.stem == path.stem and p.suffix.lower() in _SHAPEFILE_PARTS
    )


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


def _ogr_info(source: str, layer: str | None) -> LayerInfo:
    try:
        info = pyogrio.read_info(source, layer=layer, force_total_bounds=True)
    except pyogrio.errors.DataSourceError as error:
        raise _unreadable(source, error) from None
    features = int(info['features'])
    if features == 0:
        raise BVMValueError(f'{source}: the layer holds no features')
    if info['total_bounds'] is None:
        raise _no_extent(source, features)
    bounds = cast(
        tuple[float, float, float, float], tuple(map(float, info['total_bounds']))
    )
    # A shapefile of null shapes declares the extent (0, 0, 0, 0): look before
    # blaming the CRS.
    if bounds == (0.0, 0.0, 0.0, 0.0):
        _, extents = pyogrio.read_bounds(source, layer=layer)
        if not np.isfinite(extents).any():
            raise _no_extent(source, features)
    return LayerInfo(
        fields=tuple(str(f) for f in info['fields']),
        dtypes=tuple(str(d) for d in info['dtypes']),
        crs=_source_crs(info['crs'], source),
        bounds=bounds,
        features=features,
        geometry_type=_geometry_type(info.get('geometry_type')),
    )


def _no_extent(source: str, features: int) -> BVMValueError:
    return BVMValueError(
        f'{source}: none of its {features} geometries has an extent (all '
        'empty or missing): nothing to label'
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
        lambert = reproject_bounds(bounds, crs, LAMBERT72)
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


def _check_geometry_type(source: str, geometry_type: str) -> None:
    if geometry_type not in _POLYGON_TYPES:
        raise BVMValueError(
            f'{source}: the layer holds {geometry_type} geometries; the BVM is a '
            'layer of polygons'
        )


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


def _refuse_label_dtype(source: str, field: str, dtype: str) -> None:
    """Only integer class numbers and text unit codes are labels."""
    if dtype.lower() in _FLOAT_DTYPES:
        raise BVMValueError(
            f'{source}: the label field {field!r} holds decimal numbers '
            f'({dtype}); expected an integer class field (1..14, 0 = no label, '
            "as the paper's Label) or a text unit field such as EENH1"
        )
    if dtype.lower() not in _TEXT_DTYPES:
        raise BVMValueError(
            f'{source}: the label field {field!r} is of type {dtype}; '
            'expected an integer class field or a text unit field such as EENH1'
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


def _parquet_info(path: str) -> LayerInfo:
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as error:
        raise _unreadable(path, error) from None
    column = _parquet_geometry_column(path)
    geo: dict[str, Any] = json.loads((schema.metadata or {})[b'geo'])['columns'][column]
    features = pq.ParquetFile(path).metadata.num_rows
    if features == 0:
        raise BVMValueError(f'{path}: the layer holds no features')
    bbox = geo.get('bbox')
    if bbox is None:
        table = pd.read_parquet(path, columns=[column])
        bbox = shapely.total_bounds(shapely.from_wkb(table[column].to_numpy()))
    crs = geo.get('crs', 'OGC:CRS84')  # GeoParquet: an absent crs means CRS84
    fields = tuple(name for name in schema.names if name != column)
    types = geo.get('geometry_types') or []
    bounds = cast(tuple[float, float, float, float], tuple(float(v) for v in bbox))
    if np.isnan(bounds).all():
        raise _no_extent(path, features)
    return LayerInfo(
        fields=fields,
        dtypes=tuple(_arrow_dtype(str(schema.field(name).type)) for name in fields),
        crs=_source_crs(json.dumps(crs) if isinstance(crs, dict) else crs, path),
        bounds=bounds,
        features=features,
        geometry_type=('Unknown' if len(set(types)) != 1 else _geometry_type(types[0])),
    )


def _arrow_dtype(name: str) -> str:
    # Arrow's names ('int64', 'double', 'string', ...) are numpy's, but for these.
    return {'double': 'float64', 'float': 'float32', 'halffloat': 'float16'}.get(
        name, name
    )


def _load_columns(
    path: Path, columns: Sequence[str], source: list[list[object]]
) -> pd.DataFrame | None:
    """Columns saved by :func:`_save_columns` from these source files, or None."""
    return read_cache_entry(path, lambda p: _read_columns_entry(p, columns, source))


def _read_columns_entry(
    path: Path, columns: Sequence[str], source: list[list[object]]
) -> pd.DataFrame | None:
    # Opened here: numpy leaves a file it opened itself open when it is damaged.
    with path.open('rb') as file, np.load(file, allow_pickle=False) as saved:
        if json.loads(str(saved['source'])) != source:
            return None
        table = {}
        for i, name in enumerate(columns):
            if f'values{i}' in saved:
                table[name] = saved[f'values{i}']
            else:
                values = saved[f'distinct{i}'].astype(object)
                codes = saved[f'codes{i}']
                table[name] = np.where(codes < 0, None, values[codes])
    return pd.DataFrame(table)


def _save_columns(path: Path, table: pd.DataFrame, source: list[list[object]]) -> None:
    """Keep columns in the cache: numbers as they are, text as codes."""
    arrays: dict[str, NDArray[Any]] = {'source': np.array(json.dumps(source))}
    for i, name in enumerate(table.columns):
        column = table[name].to_numpy()
        if column.dtype.kind in 'biuf':
            arrays[f'values{i}'] = column
            continue
        codes, distinct = pd.factorize(column, use_na_sentinel=True)
        missing = column[codes < 0]
        texts = all(isinstance(v, str) for v in distinct)
        if not texts or any(v is not None for v in missing):
            return  # only text and None are kept this way
        arrays[f'codes{i}'] = codes.astype(np.int32)
        arrays[f'distinct{i}'] = np.asarray(distinct, dtype=str)
    try:
        with atomic_path(path) as temporary, temporary.open('wb') as file:
            np.savez(file, **cast(dict[str, Any], arrays))
    except OSError:
        pass  # a read-only cache folder: the columns are read again next time
