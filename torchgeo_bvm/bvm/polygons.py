"""The BVM's polygons with their classes, prepared once to rasterise any window.

:class:`BVMPolygons` opens the BVM layer (:class:`~torchgeo_bvm.bvm.layer.BVMLayer`,
with all its checks), maps its label column to class ids, and rasterises
windows of the polygons in any CRS: :class:`~torchgeo_bvm.datasets.BVMDataset`
serves it to TorchGeo and :func:`~torchgeo_bvm.bvm.labels.rasterize_bvm` writes it
to a GeoTIFF. It needs neither torch nor TorchGeo, which is why
``torchgeo-bvm rasterize`` starts without torch.

Pixels belong to a polygon when their centre lies inside it (holes excluded);
where polygons overlap the smaller one (by area in the layer's CRS) wins, and
between polygons of equal area the later one in the file.

The polygons are prepared once per layer and CRS (read, repaired, sorted into
burn order, reprojected and indexed: tens of seconds for the real map) into a
:class:`~torchgeo_bvm.bvm.polygonstore.PolygonStore`, flat arrays in one file of
the cache folder (:func:`~torchgeo_bvm.fileio.default_cache_dir`, or
``cache_dir``). Every process maps that file read-only, so the main process
and all DataLoader workers share one copy of the polygons (about 200 MB for
the real map) instead of each holding its own copy as shapely objects (over a
gigabyte), and a later run finds it prepared and only opens it. Shapely
objects cannot be shared this way: a forked worker writes to every object it
touches (reference counts), making the pages its own; flat arrays in a mapped
file are never written. The cache entry records the hash of the source
files' content (:func:`~torchgeo_bvm.fileio.fingerprint`) and is prepared
again when it changes, or when the entry is damaged (with one warning naming
it); it is written
under a temporary name and renamed, under a lock, so concurrent processes
prepare it once and never see it half-written. A window rasterises only the
polygons whose bounding box meets it, exactly as from the shapely polygons.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.transform import Affine

from ..classes import IGNORE_INDEX
from ..errors import BVMError, BVMFileError, BVMValueError
from ..fileio import default_cache_dir, file_lock, read_cache_entry
from ..spatial.crs import DEFAULT_CRS
from ..spatial.geometry import repair_polygons, reproject_bounds, reproject_geometry
from ..spatial.scanline import burn_polygons
from .layer import BVMLayer
from .polygonstore import MAGIC, PolygonStore, StoreInfo
from .units import UnitMapping

__all__ = ['BVMPolygons', 'HasBVMPolygons', 'LayerOptions', 'LoadReport']

#: Polygons reprojected at a time while preparing (bounds the memory it takes).
_PREPARE_CHUNK = 100_000
_POLYGONAL = (3, 6)  # shapely.get_type_id of Polygon and MultiPolygon


@dataclass(frozen=True)
class LoadReport:
    """What loading the polygons did.

    Args:
        polygons: polygons kept (indexed and rasterised).
        repaired: invalid geometries repaired with :func:`shapely.make_valid`.
        skipped: empty or missing geometries, invalid ones with no area left
            after repair, and points or lines mixed in; they are not drawn.
        seconds: wall time of the load (opening the prepared polygons, and
            preparing them first when they were not cached: read, repair,
            reproject, index, write).
        cached: whether the prepared polygons came from the cache.
    """

    polygons: int
    repaired: int
    skipped: int
    seconds: float
    cached: bool = False


class LayerOptions(TypedDict, total=False):
    """How a BVM layer is read: the arguments of :class:`BVMPolygons` after ``paths``.

    A dataset built on the polygons takes them as ``**options``; their defaults
    and meaning are :class:`BVMPolygons`'.
    """

    layer: str | None
    label_field: str
    mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None
    habitat_field: str | None
    cache_dir: str | os.PathLike[str] | None


class BVMPolygons:
    """The polygons of a BVM layer with their class ids, ready to rasterise.

    Only the layer's metadata and label columns are read when it is created
    (the columns are cached in the cache folder too, while the layer is
    unchanged); the polygons are prepared (or found prepared in the cache) by
    :meth:`load` or at the first :meth:`rasterize`, once per CRS and process. A
    pickled instance leaves them behind: a DataLoader worker maps the prepared
    file itself.

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
            :class:`~torchgeo_bvm.bvm.units.UnitMapping`; default the shipped one).
        habitat_field: the tie-breaking habitat field (rule 9 of
            :mod:`torchgeo_bvm.bvm.units`); ignored when the layer lacks it and it is
            left at its default; ``None`` to disable.
        cache_dir: where the prepared polygons and label columns are cached
            (default :func:`~torchgeo_bvm.fileio.default_cache_dir`).

    Raises:
        BVMNotFoundError: if ``paths`` holds no BVM layer.
        BVMFileError: if the file is empty, truncated or cannot be read as a
            vector layer.
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
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.paths = paths
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        # The layer's fingerprint, taken here, is what the labels below are
        # read from: the prepared polygons must come from the same files.
        self.file = BVMLayer.open(paths, layer, folder)
        labels = self.file.read_labels(label_field, mapping, habitat_field)
        self.source, self.layer = self.file.source, self.file.layer
        self.label_field = label_field
        self.habitat_field = labels.habitat_field
        self.source_crs: CRS = self.file.info.crs
        self.source_bounds: tuple[float, float, float, float] = self.file.info.bounds
        self.mapping: UnitMapping | None = labels.mapping
        self.mapping_result = labels.result
        self.mapping_result.warn(self.source, label_field)
        self._store: PolygonStore | None = None
        self._store_crs: CRS | None = None
        self._burn_labels: NDArray[np.uint8] | None = None
        self._report: LoadReport | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the polygons: a worker maps the prepared file itself.

        Returns:
            The instance's state.
        """
        state = self.__dict__.copy()
        state.update(_store=None, _store_crs=None, _burn_labels=None, _report=None)
        return state

    @property
    def loaded(self) -> bool:
        """Whether this process holds the polygons (mapped or in memory)."""
        return self._store is not None

    def load(self, crs: CRS = DEFAULT_CRS) -> LoadReport:
        """Prepare the polygons in ``crs`` now, or open them prepared.

        Args:
            crs: their CRS.

        Returns:
            What loading did.

        Raises:
            BVMFileError: if the layer's files changed since it was opened.
            BVMValueError: if the layer yields no polygon (only points, lines
                or empty geometries).
        """
        self.store(crs)
        assert self._report is not None
        return self._report

    def store(self, crs: CRS = DEFAULT_CRS) -> PolygonStore:
        """The polygons in ``crs``, prepared or opened at the first call.

        Args:
            crs: their CRS.

        Returns:
            The prepared polygons, in burn order.

        Raises:
            BVMFileError: if the layer's files changed since it was opened.
            BVMValueError: if the layer yields no polygon.
        """
        if self._store is None or not (
            crs is self._store_crs or crs == self._store_crs
        ):
            crs = CRS.from_user_input(crs)
            self._store = self._open_store(crs)
            self._store_crs = crs
        return self._store

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
        return reproject_bounds(self.source_bounds, self.source_crs, crs)

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
        used = self.store(crs).info.source_bounds
        return reproject_bounds(used, self.source_crs, crs)

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

        Raises:
            BVMValueError: if the transform is rotated or not north up.
        """
        store = self.store(crs)
        west, north = transform @ (0, 0)
        east, south = transform @ (width, height)
        # Polygon positions in burn order, as a shapely STRtree query of the
        # window's box would give them.
        hits = store.query(
            (min(west, east), min(south, north), max(west, east), max(south, north))
        )
        if not len(hits) or width == 0 or height == 0:
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        # Our numpy scanline fill: GDAL's pixels (pixel centre inside; later
        # polygons over earlier ones) at a quarter of rasterio's cost, which goes
        # into converting every vertex to Python objects for GDAL.
        return burn_polygons(
            store.outlines(hits),
            self._labels_in_burn_order(store)[hits],
            transform,
            (height, width),
            IGNORE_INDEX,
        )

    # -- the prepared polygons ---------------------------------------------------

    def _store_path(self, crs: CRS) -> Path:
        """The cache file of the prepared polygons (one per layer and CRS)."""
        assert self.file.cache_dir is not None  # always given by __init__
        name = self.file.cache_name(
            'bvm-polygons', {'crs': crs.to_wkt(), 'format': MAGIC.hex()}
        )
        return self.file.cache_dir / f'{name}.bin'

    def _open_store(self, crs: CRS) -> PolygonStore:
        """Map the prepared polygons, preparing them first if not cached."""
        start = time.perf_counter()
        if self.file.changed():
            raise BVMFileError(
                f'{self.source}: the file changed since the dataset was created '
                '(its content differs); create the dataset again'
            )
        wkt = crs.to_wkt()
        path = self._store_path(crs)
        # A damaged store is reported here, once, and prepared again below.
        store = self._matching(read_cache_entry(path, PolygonStore.open), wkt)
        cached = store is not None
        if store is None:
            try:
                with file_lock(path.with_suffix('.lock')):
                    # Another process may have prepared it while this one waited.
                    store = self._matching(_open_if_whole(path), wkt)
                    cached = store is not None
                    if store is None:
                        store = self._prepare_and_save(crs, wkt, path)
            except OSError as error:
                if isinstance(error, BVMError):
                    raise  # about the layer, not the cache
                _cannot_cache(path, error)
                store = self._prepare(crs, wkt)
        if len(store.source_index) and (
            int(store.source_index.max()) >= len(self.mapping_result.ids)
        ):
            raise BVMFileError(
                f'{path}: prepared from another version of {self.source}; delete it'
            )
        self._burn_labels = None
        info = store.info
        self._report = LoadReport(
            len(store), info.repaired, info.skipped, time.perf_counter() - start, cached
        )
        if info.repaired or info.skipped:
            warnings.warn(
                f'{self.source}: repaired {info.repaired} invalid geometries with '
                f'shapely.make_valid and skipped {info.skipped} empty, unrepairable '
                'or non-polygon ones',
                UserWarning,
                stacklevel=4,
            )
        return store

    def _prepare_and_save(self, crs: CRS, wkt: str, path: Path) -> PolygonStore:
        """Prepare the polygons; map them from the cache file if it can be written."""
        prepared = self._prepare(crs, wkt)
        try:
            prepared.save(path)
        except OSError as error:
            _cannot_cache(path, error)
            return prepared
        # Mapped from the file, its pages are shared.
        return PolygonStore.open(path) or prepared

    def _matching(self, store: PolygonStore | None, wkt: str) -> PolygonStore | None:
        """The store if it was prepared from the current files in this CRS."""
        if store is None or store.info.crs != wkt:
            return None
        return store if store.info.source == self.file.fingerprint else None

    def _prepare(self, crs: CRS, wkt: str) -> PolygonStore:
        """Read, repair, order and reproject the polygons into a store."""
        geometries = self.file.read_geometries()
        count = len(self.mapping_result.ids)
        if len(geometries) != count:
            raise BVMFileError(
                f'{self.source}: {len(geometries)} geometries but {count} labels; '
                'was the file changed after the dataset was created?'
            )
        geometries, repaired = repair_polygons(geometries)
        keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
        keep &= np.isin(shapely.get_type_id(geometries), _POLYGONAL)
        kept = np.flatnonzero(keep)
        if not len(kept):
            raise BVMValueError(
                f'{self.source}: none of its {count} geometries is a polygon with an '
                'area (points, lines or empty geometries only): nothing to label'
            )
        used = shapely.total_bounds(geometries[kept])
        # Larger polygons first, so the smaller ones are burnt later and win;
        # the stable sort keeps file order between equal areas.
        order = np.argsort(-shapely.area(geometries[kept]), kind='stable')
        source_index = kept[order]
        ordered = geometries[source_index]
        del geometries
        # Vertices only (densify=0): polygon edges of a few metres need none.
        chunks = (
            reproject_geometry(
                ordered[first : first + _PREPARE_CHUNK], self.source_crs, crs, 0.0
            )
            for first in range(0, len(ordered), _PREPARE_CHUNK)
        )
        bounds = (float(used[0]), float(used[1]), float(used[2]), float(used[3]))
        info = StoreInfo(
            self.file.fingerprint, wkt, repaired, count - len(kept), bounds
        )
        return PolygonStore.build(chunks, source_index, info)

    def _labels_in_burn_order(self, store: PolygonStore) -> NDArray[np.uint8]:
        if self._burn_labels is None:
            self._burn_labels = self.mapping_result.ids[store.source_index]
        return self._burn_labels


def _open_if_whole(path: Path) -> PolygonStore | None:
    """The store in ``path``, or None if it is missing or damaged (reported)."""
    try:
        return PolygonStore.open(path)
    except ValueError:
        return None


def _cannot_cache(path: Path, error: OSError) -> None:
    """Warn that the cache is not writable: the polygons stay in memory."""
    warnings.warn(
        f'cannot cache the prepared polygons in {path.parent} ({error}): each '
        'process prepares its own copy; set TORCHGEO_BVM_CACHE or cache_dir to a '
        'writable folder',
        UserWarning,
        stacklevel=6,
    )


class HasBVMPolygons(Protocol):
    """Anything holding a :class:`BVMPolygons` as ``bvm`` (e.g. ``BVMDataset``)."""

    @property
    def bvm(self) -> BVMPolygons:
        """The polygons."""
        ...
