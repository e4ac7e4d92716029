"""The BVM layer in a file: finding it, reading its fields, geometries and labels.

INBO publishes the ``BwkHab`` layer as a shapefile (also zipped as
``Shapefile/BwkHab.shp``); users keep it as a GeoPackage or GeoParquet too.
:class:`BVMLayer` finds the layer in any of these (or in a folder holding one of
them), reads its description without reading the features, and reads columns,
geometries and class labels on request. Labels come from ``EENH1`` through
:class:`~torchgeo_bvm.bwk.UnitMapping` with ``HAB1`` as tie-breaker, or from an
integer label column (:func:`~torchgeo_bvm.bwk.map_integer_labels`).

A layer opened with a cache folder keeps the columns it reads there (as codes
into their distinct values), so reading them again, while the layer's files are
unchanged, reads no ``.dbf``: for the real map reading two text columns is most
of a warm start. What is derived from a layer and cached (the columns here, the
prepared polygons of :class:`~torchgeo_bvm.datasets.BVMDataset`) is named by
:meth:`BVMLayer.cache_name` and records the layer's
:attr:`BVMLayer.fingerprint`, taken when it was opened, so a changed file is
read again.

:class:`~torchgeo_bvm.datasets.BVMDataset` (the TorchGeo dataset) and
:mod:`torchgeo_bvm.compare` (the BVM against a class map) read the layer
through this module, so both see the same polygons with the same classes; it
needs neither torch nor TorchGeo.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from .bwk import MappingResult, UnitMapping, map_integer_labels
from .crs import LAMBERT72, is_lambert72
from .errors import BVMFileError, BVMValueError
from .fileio import VECTOR_SUFFIXES, atomic_path, find_files, fingerprint

__all__ = ['BVM_LAYER', 'BVMLayer', 'LayerInfo', 'LayerLabels']

#: Name of the BVM layer in INBO's files.
BVM_LAYER = 'BwkHab'
_INTEGER_DTYPES = ('int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32')
_SHAPEFILE_PARTS = ('.shp', '.shx', '.dbf', '.prj', '.cpg')


@dataclass(frozen=True)
class LayerInfo:
    """What a layer holds, read from its header.

    Args:
        fields: the attribute fields, in file order.
        dtypes: their dtypes (numpy names for OGR formats, Arrow names for
            GeoParquet).
        crs: the layer's CRS: EPSG:31370 when the file has none or carries
            ESRI's "Belge_Lambert_1972" WKT.
        bounds: (xmin, ymin, xmax, ymax) in ``crs``.
        features: the number of features.
    """

    fields: tuple[str, ...]
    dtypes: tuple[str, ...]
    crs: CRS
    bounds: tuple[float, float, float, float]
    features: int

    def is_integer(self, field: str) -> bool:
        """Whether a field holds integers (an integer label column).

        Args:
            field: a field of the layer.

        Returns:
            True for integer dtypes.
        """
        return self.dtypes[self.fields.index(field)] in _INTEGER_DTYPES


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
            BVMFileError: if ``paths`` does not exist or holds no vector file.
            BVMValueError: if the layer does not exist (the message lists those
                that do) or a folder holds several candidates.
        """
        source, name, is_parquet = _find_source(Path(paths), layer)
        # Taken before anything is read: what is derived from the layer later
        # must come from the files as they were then.
        files = fingerprint(_source_files(source))
        info = _parquet_info(source) if is_parquet else _ogr_info(source, name)
        folder = Path(cache_dir) if cache_dir is not None else None
        return cls(source, name, is_parquet, info, files, folder)

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
            True if a file's size, modification time or first bytes changed.

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

    def read_geometries(self) -> NDArray[np.object_]:
        """Read the geometry of every feature, in file order, in :attr:`LayerInfo.crs`.

        Returns:
            shapely geometries (None where a feature has none).
        """
        if self.is_parquet:
            column = _parquet_geometry_column(self.source)
            table = pd.read_parquet(self.source, columns=[column])
            return np.asarray(shapely.from_wkb(table[column].to_numpy()), dtype=object)
        frame = pyogrio.read_dataframe(
            self.source, layer=self.layer, columns=[], use_arrow=True
        )
        return np.asarray(frame.geometry.to_numpy(), dtype=object)

    def read_labels(
        self,
        label_field: str = 'EENH1',
        mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
        habitat_field: str | None = 'HAB1',
    ) -> LayerLabels:
        """The class id of every feature.

        Args:
            label_field: a mapping-unit field (text, e.g. ``EENH1``) classified by
                ``mapping``, or an integer field (e.g. the paper's ``Label``,
                1..14, 0 = no label).
            mapping: the unit -> class table (CSV path, DataFrame or
                :class:`~torchgeo_bvm.bwk.UnitMapping`; default the shipped one).
            habitat_field: the tie-breaking habitat field (rule 9 of
                :mod:`torchgeo_bvm.bwk`); ignored when the layer lacks it and it is
                left at its default; ``None`` to disable.

        Returns:
            The labels, in file order.

        Raises:
            BVMValueError: if the label field or a named habitat field does not
                exist (the message lists what exists), or the layer is empty.
            FileNotFoundError: if a mapping table file does not exist.
        """
        self.require_fields([label_field])
        if habitat_field is not None and habitat_field not in self.info.fields:
            if habitat_field != 'HAB1':
                self.require_fields([habitat_field], 'habitat field')
            habitat_field = None
        if self.info.features == 0:
            raise BVMValueError(f'{self.source}: the layer holds no features')
        if self.info.is_integer(label_field):
            values = self.read_columns([label_field])[label_field]
            return LayerLabels(label_field, None, None, map_integer_labels(values))
        units = mapping if isinstance(mapping, UnitMapping) else UnitMapping(mapping)
        columns = [label_field] + ([habitat_field] if habitat_field else [])
        table = self.read_columns(columns)
        result = units.map_codes(
            table[label_field], table[habitat_field] if habitat_field else None
        )
        return LayerLabels(label_field, habitat_field, units, result)


def _find_source(path: Path, layer: str | None) -> tuple[str, str | None, bool]:
    """(path GDAL/pyarrow opens, layer, is GeoParquet) of the BVM layer."""
    if path.is_dir():
        path = _find_in_folder(path)
    if not path.exists():
        raise BVMFileError(f'BVM layer not found: {path}')
    suffix = path.suffix.lower()
    if suffix in ('.parquet', '.geoparquet'):
        return str(path), None, True
    if suffix == '.zip':
        return _find_in_zip(path, layer), None, False
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except pyogrio.errors.DataSourceError as error:
        raise BVMFileError(
            f'{path}: not a vector layer GDAL can read ({error})'
        ) from None
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
        raise BVMFileError(
            f'{folder}: no BVM layer (no {", ".join(VECTOR_SUFFIXES)} file) inside'
        )
    named = [p for p in found if p.stem.lower() == BVM_LAYER.lower()]
    if len(found) == 1 or len(named) == 1:
        return (named or found)[0]
    raise BVMValueError(
        f'{folder}: several vector files, expected one (or one named '
        f'{BVM_LAYER}): {", ".join(str(p) for p in found)}'
    )


def _find_in_zip(path: Path, layer: str | None) -> str:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.namelist() if m.lower().endswith('.shp')]
    wanted = (layer or BVM_LAYER).lower()
    named = [m for m in members if Path(m).stem.lower() == wanted]
    if named or (layer is None and len(members) == 1):
        return f'/vsizip/{path.resolve()}/{(named or members)[0]}'
    raise BVMValueError(
        f'{path}: no shapefile {layer or BVM_LAYER!r} inside; it holds '
        f'{", ".join(members) or "no shapefile"}'
    )


def _ogr_info(source: str, layer: str | None) -> LayerInfo:
    info = pyogrio.read_info(source, layer=layer, force_total_bounds=True)
    bounds = cast(
        tuple[float, float, float, float], tuple(map(float, info['total_bounds']))
    )
    return LayerInfo(
        fields=tuple(str(f) for f in info['fields']),
        dtypes=tuple(str(d) for d in info['dtypes']),
        crs=_source_crs(info['crs']),
        bounds=bounds,
        features=int(info['features']),
    )


def _source_crs(crs: object) -> CRS:
    """The layer's CRS: EPSG:31370 when missing or the ESRI Lambert 72 WKT."""
    if crs is None or crs == '':
        return LAMBERT72
    parsed = CRS.from_user_input(crs)
    return LAMBERT72 if is_lambert72(parsed) else parsed


def _parquet_geometry_column(path: str) -> str:
    metadata = pq.read_schema(path).metadata or {}
    if b'geo' not in metadata:
        raise BVMValueError(f'{path}: not GeoParquet (no "geo" metadata)')
    return str(json.loads(metadata[b'geo'])['primary_column'])


def _parquet_info(path: str) -> LayerInfo:
    schema = pq.read_schema(path)
    column = _parquet_geometry_column(path)
    geo: dict[str, Any] = json.loads((schema.metadata or {})[b'geo'])['columns'][column]
    bbox = geo.get('bbox')
    if bbox is None:
        table = pd.read_parquet(path, columns=[column])
        bbox = shapely.total_bounds(shapely.from_wkb(table[column].to_numpy()))
    crs = geo.get('crs', 'OGC:CRS84')  # GeoParquet: an absent crs means CRS84
    fields = tuple(name for name in schema.names if name != column)
    bounds = cast(tuple[float, float, float, float], tuple(float(v) for v in bbox))
    return LayerInfo(
        fields=fields,
        dtypes=tuple(str(schema.field(name).type) for name in fields),
        crs=_source_crs(json.dumps(crs) if isinstance(crs, dict) else crs),
        bounds=bounds,
        features=pq.ParquetFile(path).metadata.num_rows,
    )


def _load_columns(
    path: Path, columns: Sequence[str], source: list[list[object]]
) -> pd.DataFrame | None:
    """Columns saved by :func:`_save_columns` from these source files, or None."""
    try:
        with np.load(path, allow_pickle=False) as saved:
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
    except (OSError, ValueError, KeyError, IndexError):
        return None
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
