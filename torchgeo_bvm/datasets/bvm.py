"""The Biological Valuation Map (BVM) of Flanders as TorchGeo datasets."""

from __future__ import annotations

import json
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import rasterio
import shapely
import torch
from geopandas import GeoDataFrame
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from rasterio.io import DatasetReader
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from shapely import STRtree
from torch import Tensor
from torchgeo.datasets import (
    DatasetNotFoundError,
    GeoDataset,
    RasterDataset,
    UnionDataset,
    VectorDataset,
)
from torchgeo.datasets.utils import GeoSlice, Sample

from ..bwk import UnitMapping, map_integer_labels
from ..classes import IGNORE_INDEX, NUM_CLASSES
from ..crs import DEFAULT_CRS, LAMBERT72, is_lambert72, resolution_for
from ..fileio import VECTOR_SUFFIXES, find_files
from ..geometry import repair_polygons, reproject_geometry
from ..pixelgrid import Grid, merge_fill
from ..plot import class_colormap, class_legend
from ..scanline import burn_polygons
from ._fastpath import CachedBounds, IndexArrays, torchgeo_lookup

__all__ = [
    'BVMDataset',
    'BVMRaster',
    'LoadReport',
    'class_colormap',
    'merge_label_samples',
    'plot_label_sample',
]

#: Name of the BVM layer in INBO's files.
BVM_LAYER = 'BwkHab'
_INTEGER_DTYPES = ('int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32')


@dataclass(frozen=True)
class LoadReport:
    """What loading the polygons into memory did.

    Args:
        polygons: polygons kept (indexed and rasterised).
        repaired: invalid geometries repaired with :func:`shapely.make_valid`.
        skipped: empty or missing geometries, or invalid ones with no area left
            after repair; they are not drawn.
        seconds: wall time of the load (read, repair, reproject, index).
    """

    polygons: int
    repaired: int
    skipped: int
    seconds: float


@dataclass
class _Polygons:
    """The polygons of one process, in the dataset CRS, in burn order."""

    crs: CRS
    geometries: NDArray[np.object_]
    labels: NDArray[np.uint8]
    tree: STRtree
    report: LoadReport


class BVMDataset(CachedBounds, VectorDataset):
    """Biological Valuation Map of Flanders (Biologische Waarderingskaart, BWK).

    The `Biological Valuation Map <https://www.vlaanderen.be/inbo/biologische-waarderingskaart/>`__
    is INBO's survey of land cover, vegetation and biological value of all of
    Flanders: about 650,000 polygons (layer ``BwkHab``) in Belgian Lambert 72
    (EPSG:31370), each with up to eight mapping units (``EENH1`` .. ``EENH8``,
    ``EENH1`` the main one), Natura 2000 habitat types (``HAB1`` .. ``HAB5``) and a
    biological value (``EVAL``).

    Dataset features:

    * vector polygons covering Flanders (about 13,500 km²), surveyed in the field
    * edition 2023 (earlier editions 2018 and 2020 have the same format)
    * rasterised on request at any CRS and resolution (default EPSG:4326 at the
      equivalent of 10 m, the grid of the paper)

    Dataset format:

    * the ``BwkHab`` layer as a shapefile (INBO's bulk download, also zipped as
      ``Shapefile/BwkHab.shp``), a GeoPackage layer or GeoParquet
    * the ``.prj`` may be ESRI's "Belge_Lambert_1972" WKT, which maps to no EPSG
      code: it is read as EPSG:31370; a file without CRS is taken as EPSG:31370

    Dataset classes: the 14 classes of :data:`~torchgeo_bvm.classes.CLASSES`
    (ids 0..13), from ``EENH1`` by :class:`~torchgeo_bvm.bwk.UnitMapping` (the
    shipped versioned table or your own) with ``HAB1`` as tie-breaker, or from an
    integer label column such as the paper's ``Label`` (1..14 -> 0..13, 0 ->
    :data:`~torchgeo_bvm.classes.IGNORE_INDEX`). Units that no rule maps become
    *Unknown* (id 10); they are counted when the dataset is created and
    summarised in one line on the ``torchgeo_bvm`` logger, once per file and
    process. Pixels covered by no polygon are
    :data:`~torchgeo_bvm.classes.IGNORE_INDEX`.

    Pixels belong to a polygon when their centre lies inside it (holes
    excluded). **Overlaps:** where polygons overlap, the smaller polygon (by area
    in EPSG:31370) wins, so small features drawn over a larger polygon stay
    visible; between polygons of equal area the later one in the file wins.

    Speed: unlike :class:`torchgeo.datasets.VectorDataset`, which re-reads the
    whole file for every sample, the polygons are read once per process (lazily,
    at the first sample, so DataLoader workers each load their own copy and
    nothing unpicklable is created before), reprojected once into the dataset
    CRS, and indexed with a :class:`shapely.STRtree`; a sample rasterises only
    the polygons that touch its window.

    If you use this dataset in your research, please cite:

    * De Saeger, S. et al. (2023). Biologische Waarderingskaart en
      Natura 2000 Habitatkaart, uitgave 2023. Rapporten van het Instituut voor
      Natuur- en Bosonderzoek 2023 (31). INBO, Brussel.
      https://doi.org/10.21436/inbor.96375305

    Creating the dataset reads only the layer's metadata and label column; the
    polygons are read at the first sample.

    Args:
        paths: the BVM layer: a ``.shp``, a ``.zip`` of it, a ``.gpkg``, a
            GeoParquet file, or a folder holding exactly one of them (named
            ``BwkHab`` if there are several).
        crs: CRS of the samples (default EPSG:4326, see
            :data:`~torchgeo_bvm.crs.DEFAULT_CRS`).
        res: resolution in units of ``crs`` (default 10 m expressed in ``crs``
            by :func:`~torchgeo_bvm.crs.resolution_for`, the rule
            :class:`~torchgeo_bvm.datasets.Sentinel2TOC` follows too).
        transforms: a function/transform that takes a sample and returns a
            transformed version.
        layer: layer name in a GeoPackage, or shapefile name in a ``.zip``
            (default ``BwkHab``, or the only layer there is).
        label_field: the field to label with: a mapping-unit field (text, e.g.
            ``EENH1``) classified by ``mapping``, or an integer field (e.g.
            the paper's ``Label``, 1..14, 0 = no label).
        mapping: the unit -> class table (CSV path, DataFrame or
            :class:`~torchgeo_bvm.bwk.UnitMapping`; default the shipped one).
        habitat_field: the tie-breaking habitat field (rule 9 of
            :mod:`torchgeo_bvm.bwk`); ignored when the layer lacks it and it
            is left at its default; ``None`` to disable.

    Raises:
        DatasetNotFoundError: if ``paths`` holds no BVM layer.
        ValueError: if the layer, the label field or the habitat field does
            not exist (the message lists what exists), or the layer is empty.
    """

    filename_glob = '*'

    def __init__(
        self,
        paths: str | os.PathLike[str] = 'data',
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        layer: str | None = None,
        label_field: str = 'EENH1',
        mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
        habitat_field: str | None = 'HAB1',
    ) -> None:
        self.paths = paths
        self.transforms = transforms
        self.label_name = label_field
        self.task = 'semantic_segmentation'
        self.source, self.layer, self._is_parquet = self._find_source(paths, layer)
        info = self._read_info()
        fields: list[str] = info['fields']
        if label_field not in fields:
            raise ValueError(
                f'{self.source}: no field {label_field!r}; the layer has the fields '
                f'{", ".join(fields)}'
            )
        if habitat_field is not None and habitat_field not in fields:
            if habitat_field != 'HAB1':
                raise ValueError(
                    f'{self.source}: no habitat field {habitat_field!r}; the layer has '
                    f'the fields {", ".join(fields)}'
                )
            habitat_field = None
        if info['features'] == 0:
            raise ValueError(f'{self.source}: the layer holds no features')
        self.label_field = label_field
        self.habitat_field = habitat_field
        self.source_crs: CRS = _source_crs(info['crs'])
        self.source_bounds: tuple[float, float, float, float] = info['bounds']
        integer = info['dtypes'][fields.index(label_field)] in _INTEGER_DTYPES
        self.mapping: UnitMapping | None = None
        if integer:
            self.mapping_result = map_integer_labels(
                self._read_columns([label_field])[label_field]
            )
        else:
            self.mapping = (
                mapping if isinstance(mapping, UnitMapping) else UnitMapping(mapping)
            )
            columns = [label_field] + ([habitat_field] if habitat_field else [])
            table = self._read_columns(columns)
            self.mapping_result = self.mapping.map_codes(
                table[label_field],
                table[habitat_field] if habitat_field else None,
            )
        self.mapping_result.warn(self.source, label_field)
        crs = CRS.from_user_input(crs) if crs is not None else DEFAULT_CRS
        if res is None:
            res = resolution_for(crs)
        if isinstance(res, int | float):
            res = (float(res), float(res))
        self._res = (float(res[0]), float(res[1]))
        self.index = self._make_index(crs)
        self._cache: _Polygons | None = None

    # -- finding and describing the source ------------------------------------

    def _find_source(
        self, paths: str | os.PathLike[str], layer: str | None
    ) -> tuple[str, str | None, bool]:
        """(path GDAL/pyarrow opens, layer, is GeoParquet) of the BVM layer."""
        path = Path(paths)
        if path.is_dir():
            path = self._find_in_folder(path)
        if not path.exists():
            raise DatasetNotFoundError(self)
        suffix = path.suffix.lower()
        if suffix in ('.parquet', '.geoparquet'):
            return str(path), None, True
        if suffix == '.zip':
            return self._find_in_zip(path, layer), None, False
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
        if layer is None:
            by_name = [n for n in layers if n.lower() == BVM_LAYER.lower()]
            if by_name or len(layers) == 1:
                return str(path), (by_name or layers)[0], False
            raise ValueError(
                f'{path}: several layers and none named {BVM_LAYER}; pass layer= one '
                f'of {", ".join(layers)}'
            )
        if layer not in layers:
            raise ValueError(
                f'{path}: no layer {layer!r}; the layers are {", ".join(layers)}'
            )
        return str(path), layer, False

    def _find_in_folder(self, folder: Path) -> Path:
        found = find_files(folder, VECTOR_SUFFIXES)
        if not found:
            raise DatasetNotFoundError(self)
        named = [p for p in found if p.stem.lower() == BVM_LAYER.lower()]
        if len(found) == 1 or len(named) == 1:
            return (named or found)[0]
        raise ValueError(
            f'{folder}: several vector files, expected one (or one named '
            f'{BVM_LAYER}): {", ".join(str(p) for p in found)}'
        )

    @staticmethod
    def _find_in_zip(path: Path, layer: str | None) -> str:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith('.shp')]
        wanted = (layer or BVM_LAYER).lower()
        named = [m for m in members if Path(m).stem.lower() == wanted]
        if named or (layer is None and len(members) == 1):
            return f'/vsizip/{path.resolve()}/{(named or members)[0]}'
        raise ValueError(
            f'{path}: no shapefile {layer or BVM_LAYER!r} inside; it holds '
            f'{", ".join(members) or "no shapefile"}'
        )

    def _read_info(self) -> dict[str, Any]:
        if self._is_parquet:
            return _parquet_info(self.source)
        info = pyogrio.read_info(self.source, layer=self.layer, force_total_bounds=True)
        return {
            'fields': [str(f) for f in info['fields']],
            'dtypes': [str(d) for d in info['dtypes']],
            'crs': info['crs'],
            'bounds': tuple(float(v) for v in info['total_bounds']),
            'features': int(info['features']),
        }

    def _read_columns(self, columns: Sequence[str]) -> pd.DataFrame:
        if self._is_parquet:
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

    def _make_index(self, crs: CRS) -> GeoDataFrame:
        transformer = Transformer.from_crs(self.source_crs, crs, always_xy=True)
        bounds = transformer.transform_bounds(*self.source_bounds, densify_pts=21)
        interval = pd.IntervalIndex.from_tuples(
            [(pd.Timestamp.min, pd.Timestamp.max)], closed='both', name='datetime'
        )
        return GeoDataFrame(
            {'filepath': [self.source]},
            index=interval,
            geometry=[shapely.box(*bounds)],
            crs=crs,
        )

    # -- CRS changes (IntersectionDataset sets crs and res) ---------------------

    @property
    def crs(self) -> CRS:
        """:term:`coordinate reference system (CRS)` of the samples.

        Returns:
            The CRS.
        """
        return cast(CRS, self.index.crs)

    @crs.setter
    def crs(self, new_crs: CRS) -> None:
        """Change the CRS; the polygons are reprojected at the next sample.

        Args:
            new_crs: the new CRS.
        """
        new_crs = CRS.from_user_input(new_crs)
        if new_crs == self.crs:
            return
        self.index = self._make_index(new_crs)
        self._cache = None

    # -- loading ---------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the loaded polygons: each process loads its own."""
        state = self.__dict__.copy()
        state['_cache'] = None
        return state

    def load(self) -> LoadReport:
        """Read, repair, reproject and index the polygons now (else at first use).

        Returns:
            What loading did.
        """
        return self._polygons().report

    def _polygons(self) -> _Polygons:
        if self._cache is None or self._cache.crs != self.crs:
            self._cache = self._load_polygons()
        return self._cache

    def _read_geometries(self) -> NDArray[np.object_]:
        if self._is_parquet:
            column = _parquet_geometry_column(self.source)
            table = pd.read_parquet(self.source, columns=[column])
            return np.asarray(shapely.from_wkb(table[column].to_numpy()), dtype=object)
        frame = pyogrio.read_dataframe(
            self.source, layer=self.layer, columns=[], use_arrow=True
        )
        return np.asarray(frame.geometry.to_numpy(), dtype=object)

    def _load_polygons(self) -> _Polygons:
        start = time.perf_counter()
        geometries = self._read_geometries()
        labels = self.mapping_result.ids
        if len(geometries) != len(labels):
            raise ValueError(
                f'{self.source}: {len(geometries)} geometries but {len(labels)} '
                'labels; was the file changed after the dataset was created?'
            )
        geometries, repaired = repair_polygons(geometries)
        keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
        skipped = int((~keep).sum())
        geometries, labels = geometries[keep], labels[keep]
        # Larger polygons first, so the smaller ones are burnt later and win;
        # the stable sort keeps file order between equal areas.
        order = np.argsort(-shapely.area(geometries), kind='stable')
        geometries, labels = geometries[order], labels[order]
        # Vertices only (densify=0): polygon edges of a few metres need none.
        geometries = reproject_geometry(geometries, self.source_crs, self.crs, 0.0)
        tree = STRtree(geometries)
        report = LoadReport(
            len(geometries), repaired, skipped, time.perf_counter() - start
        )
        if repaired or skipped:
            warnings.warn(
                f'{self.source}: repaired {repaired} invalid geometries with '
                f'shapely.make_valid and skipped {skipped} empty or unrepairable ones',
                UserWarning,
                stacklevel=3,
            )
        return _Polygons(self.crs, geometries, labels, tree, report)

    # -- sampling --------------------------------------------------------------

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Rasterise the labels of a spatiotemporal slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]`` in the
                dataset CRS; missing parts default to the dataset bounds and
                resolution.

        Returns:
            ``mask`` (long [H, W], class ids 0..13 and IGNORE_INDEX where no polygon
            lies), ``bounds`` and ``transform`` as in TorchGeo.

        Raises:
            IndexError: if the slice does not intersect the dataset.
        """
        x, y, t = self._disambiguate_slice(index)
        rows = IndexArrays.of(self).lookup(x, y, t)
        if rows is None:
            empty = torchgeo_lookup(self.index, x, y, t).empty
        else:
            empty = len(rows) == 0
        if empty:
            raise IndexError(
                f'index: {index} not found in dataset with bounds: {self.bounds}'
            )
        width = round((x.stop - x.start) / x.step)
        height = round((y.stop - y.start) / y.step)
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        mask = self.rasterize(transform, width, height)
        sample: Sample = {
            'mask': torch.from_numpy(mask.astype(np.int64)),
            'bounds': self._slice_to_tensor(index),
            'transform': torch.tensor(transform),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def rasterize(
        self, transform: Affine, width: int, height: int
    ) -> NDArray[np.uint8]:
        """Class ids of a window of pixels in the dataset CRS.

        Args:
            transform: affine transform of the window (north up).
            width: width in pixels.
            height: height in pixels.

        Returns:
            uint8 [height, width]: class ids, IGNORE_INDEX where no polygon lies.

        Raises:
            ValueError: if the transform is rotated or not north up.
        """
        polygons = self._polygons()
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

    def __or__(self, other: GeoDataset) -> UnionDataset:
        """Take the union with another dataset, merging masks on IGNORE_INDEX.

        TorchGeo's default merge takes the pixel-wise maximum, which would let
        IGNORE_INDEX (255) win over every class; here the first dataset's class
        is kept and its IGNORE_INDEX pixels are filled from the other.

        Args:
            other: another dataset.

        Returns:
            The union.
        """
        return UnionDataset(self, other, collate_fn=merge_label_samples)

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: the mask in class colours, a prediction beside it if any.

        Args:
            sample: a sample from :meth:`__getitem__`, optionally with a
                ``prediction`` [H, W] of class ids.
            show_titles: whether to title the panels.
            suptitle: a title above the figure.

        Returns:
            The figure.
        """
        return plot_label_sample(sample, show_titles, suptitle)


class BVMRaster(CachedBounds, RasterDataset):
    """Label rasters of the Biological Valuation Map (see :mod:`torchgeo_bvm.labels`).

    Reads the uint8 GeoTIFFs written by ``torchgeo-bvm rasterize`` (class ids
    0..13, nodata :data:`~torchgeo_bvm.classes.IGNORE_INDEX`) as masks, with
    nearest-neighbour resampling. On the raster's own grid, samples equal those of
    :class:`BVMDataset` on the same grid, at the cost of a file read instead of a
    rasterisation. See :class:`BVMDataset` for the data and how to cite it.

    Args:
        paths: label GeoTIFFs or folders holding them.
        crs: CRS of the samples (default: that of the first file).
        res: resolution (default: that of the first file).
        transforms: a function/transform that takes a sample and returns a
            transformed version.
        cache: keep file handles open between samples.

    Raises:
        DatasetNotFoundError: if no raster is found.
    """

    filename_glob = '*.tif'
    is_image = False

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = 'data',
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        cache: bool = True,
    ) -> None:
        super().__init__(paths, crs=crs, res=res, transforms=transforms, cache=cache)

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Read the labels of a spatiotemporal slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]``.

        Returns:
            ``mask`` (long [H, W]), ``bounds`` and ``transform`` as in TorchGeo.

        Raises:
            IndexError: if the slice does not intersect the dataset.
        """
        x, y, t = self._disambiguate_slice(index)
        mask = self._read_on_grid(x, y, t)
        if mask is None:
            return super().__getitem__(index)
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        sample: Sample = {
            'bounds': self._slice_to_tensor(index),
            'transform': torch.tensor(transform),
            'mask': mask,
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _read_on_grid(self, x: slice, y: slice, t: slice) -> Tensor | None:
        """One window read when the query lies on the grid of its only file.

        TorchGeo's ``rasterio.merge.merge`` (pandas lookup, masked read into a
        nodata-filled mosaic, about 5 ms for 256 x 256) gives the same values
        as a plain windowed read when a single file in the dataset CRS holds the
        query at its own resolution with a whole-pixel offset: merge then copies
        the file's pixels as they are, keeps its nodata value where they are
        nodata, and fills the nodata value (0 without one) outside the file.
        Returns None (use merge) in every other case.
        """
        if self.separate_files or self.time_series:
            return None
        arrays = IndexArrays.of(self)
        rows = arrays.lookup(x, y, t)
        if rows is None or len(rows) != 1:
            return None
        path = str(arrays.column('filepath')[rows[0]])
        src = (
            self._cached_load_warp_file(path, self.crs)
            if self.cache
            else self._load_warp_file(path, self.crs)
        )
        try:
            if not isinstance(src, DatasetReader):
                return None
            # Its pixels only: a file in another CRS came back warped (not here).
            grid = Grid(None, src.transform, src.width, src.height)
            width = round((x.stop - x.start) / x.step)
            height = round((y.stop - y.start) / y.step)
            offset = grid.aligned(
                (x.start, y.start, x.stop, y.stop), (x.step, y.step), (height, width)
            )
            fill = merge_fill(src)
            if offset is None or fill is None:
                return None
            if self.band_indexes not in (None, [1]) or src.count != 1:
                return None
            out = np.full((height, width), fill, dtype=src.dtypes[0])
            clipped = grid.clip(*offset, width, height)
            if clipped is not None:
                part, out_rows, out_columns = clipped
                out[out_rows, out_columns] = src.read(1, window=part)
        finally:
            if not self.cache:
                src.close()
        return torch.from_numpy(out).to(self.dtype)

    def _load_warp_file(
        self, filepath: str | os.PathLike[str], crs: CRS | None = None
    ) -> DatasetReader | WarpedVRT:
        """Open a raster, warping only when its CRS differs from the dataset's.

        TorchGeo warps whenever GDAL's suggested output grid differs from the
        file's, and for EPSG:4326 files with non-square 10 m pixels it always
        does (GDAL suggests square pixels), resampling every label raster; a
        file already in the dataset CRS is read as it is instead.

        Args:
            filepath: the file.
            crs: the CRS to warp to (default the dataset's).

        Returns:
            The open file, or a warped view of it.
        """
        src = rasterio.open(filepath)
        try:
            target = crs if crs is not None else self.crs
        except AttributeError:  # the index does not exist yet in __init__
            target = None
        if target is None or (
            src.crs is not None and CRS.from_user_input(src.crs) == CRS(target)
        ):
            return src
        src.close()
        return cast(DatasetReader | WarpedVRT, super()._load_warp_file(filepath, crs))

    def __or__(self, other: GeoDataset) -> UnionDataset:
        """Take the union with another dataset, merging masks on IGNORE_INDEX.

        Args:
            other: another dataset.

        Returns:
            The union (see :meth:`BVMDataset.__or__`).
        """
        return UnionDataset(self, other, collate_fn=merge_label_samples)

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: the mask in class colours, a prediction beside it if any.

        Args:
            sample: a sample, optionally with a ``prediction``.
            show_titles: whether to title the panels.
            suptitle: a title above the figure.

        Returns:
            The figure.
        """
        return plot_label_sample(sample, show_titles, suptitle)


def merge_label_samples(samples: Iterable[Sample]) -> Sample:
    """Merge samples of the same window, IGNORE_INDEX being nodata in masks.

    Masks keep the first sample's class wherever it has one and take the next
    sample's elsewhere; other keys are merged as TorchGeo's ``merge_samples``
    does (pixel-wise maximum).

    Args:
        samples: samples of the same window.

    Returns:
        One sample.
    """
    merged: Sample = {}
    for sample in samples:
        for key, value in sample.items():
            if key not in merged:
                merged[key] = value
            elif key == 'mask':
                merged[key] = torch.where(
                    merged[key] == IGNORE_INDEX, value, merged[key]
                )
            else:
                merged[key] = torch.maximum(merged[key], value)
    return merged


def plot_label_sample(
    sample: Sample, show_titles: bool = True, suptitle: str | None = None
) -> Figure:
    """Plot a label sample (and its prediction) in class colours with a legend.

    Args:
        sample: a sample with ``mask`` [H, W] and optionally ``prediction`` [H, W]
            (class ids; IGNORE_INDEX is left blank).
        show_titles: whether to title the panels.
        suptitle: a title above the figure.

    Returns:
        The figure.
    """
    panels = [('Mask', sample['mask'])]
    if 'prediction' in sample:
        panels.append(('Prediction', sample['prediction']))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4 * len(panels) + 3, 4), squeeze=False
    )
    cmap = class_colormap()
    present: set[int] = set()
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        array = data.detach().cpu().numpy() if isinstance(data, Tensor) else data
        present.update(int(v) for v in np.unique(array) if v < NUM_CLASSES)
        ax.imshow(array, cmap=cmap, vmin=0, vmax=255, interpolation='none')
        ax.axis('off')
        if show_titles:
            ax.set_title(title)
    handles = class_legend(present, numbered=True)
    if handles:
        fig.legend(handles=handles, loc='center right', fontsize='small', frameon=False)
    fig.subplots_adjust(right=4 * len(panels) / (4 * len(panels) + 3))
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


# -- helpers -----------------------------------------------------------------------


def _source_crs(crs: object) -> CRS:
    """The layer's CRS: EPSG:31370 when missing or the ESRI Lambert 72 WKT."""
    if crs is None or crs == '':
        return LAMBERT72
    parsed = CRS.from_user_input(crs)
    return LAMBERT72 if is_lambert72(parsed) else parsed


def _parquet_geometry_column(path: str) -> str:
    metadata = pq.read_schema(path).metadata or {}
    if b'geo' not in metadata:
        raise ValueError(f'{path}: not GeoParquet (no "geo" metadata)')
    return str(json.loads(metadata[b'geo'])['primary_column'])


def _parquet_info(path: str) -> dict[str, Any]:
    schema = pq.read_schema(path)
    column = _parquet_geometry_column(path)
    geo = json.loads((schema.metadata or {})[b'geo'])['columns'][column]
    bbox = geo.get('bbox')
    if bbox is None:
        table = pd.read_parquet(path, columns=[column])
        bbox = shapely.total_bounds(shapely.from_wkb(table[column].to_numpy()))
    crs = geo.get('crs', 'OGC:CRS84')  # GeoParquet: an absent crs means CRS84
    fields = [name for name in schema.names if name != column]
    dtypes = [str(schema.field(name).type) for name in fields]
    return {
        'fields': fields,
        'dtypes': dtypes,
        'crs': json.dumps(crs) if isinstance(crs, dict) else crs,
        'bounds': tuple(float(v) for v in bbox),
        'features': pq.ParquetFile(path).metadata.num_rows,
    }
