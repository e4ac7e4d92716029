"""The Biological Valuation Map (BVM) of Flanders as TorchGeo datasets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Unpack, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
import shapely
import torch
from geopandas import GeoDataFrame
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.io import DatasetReader
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from torch import Tensor
from torchgeo.datasets import (
    DatasetNotFoundError,
    GeoDataset,
    RasterDataset,
    UnionDataset,
    VectorDataset,
)
from torchgeo.datasets.utils import GeoSlice, Sample

from ..bvm.polygons import BVMPolygons, LayerOptions, LoadReport
from ..bvm.polygonstore import PolygonStore
from ..bvm.units import UnitMapping
from ..checks import check_crs, check_resolution
from ..classes import IGNORE_INDEX, NUM_CLASSES
from ..errors import BVMNotFoundError
from ..plot import class_legend, show_classes
from ..spatial.classraster import open_label_raster
from ..spatial.crs import DEFAULT_CRS, resolution_for
from ..spatial.pixelgrid import Grid, merge_fill
from ._fastpath import CachedBounds, IndexArrays, torchgeo_lookup

__all__ = [
    'BVMDataset',
    'BVMRaster',
    'LoadReport',
    'merge_label_samples',
    'plot_label_sample',
]


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
    (ids 0..13), from ``EENH1`` by :class:`~torchgeo_bvm.bvm.units.UnitMapping` (the
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

    Speed and memory: unlike :class:`torchgeo.datasets.VectorDataset`, which
    re-reads the whole file for every sample, the polygons are prepared once
    (read, repaired, sorted into burn order, reprojected into the dataset CRS
    and indexed: tens of seconds for the real map) into a
    :class:`~torchgeo_bvm.bvm.polygonstore.PolygonStore`, flat arrays in one file
    of the cache folder (:func:`~torchgeo_bvm.fileio.default_cache_dir`, or
    ``cache_dir``), which every process maps read-only: the main process and
    all DataLoader workers share one copy of the polygons (about 200 MB for the
    real map), and a later run finds it prepared and only opens it (see
    :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons`, which holds them as
    :attr:`bvm`). A sample rasterises only the polygons whose bounding box
    meets its window.

    If you use this dataset in your research, please cite:

    * De Saeger, S. et al. (2023). Biologische Waarderingskaart en
      Natura 2000 Habitatkaart, uitgave 2023. Rapporten van het Instituut voor
      Natuur- en Bosonderzoek 2023 (31). INBO, Brussel.
      https://doi.org/10.21436/inbor.96375305

    Creating the dataset reads only the layer's metadata and label columns (the
    columns are cached in the cache folder too, while the layer is unchanged);
    the polygons are prepared (or found prepared in the cache) by :meth:`load`
    or at the first sample. Call :meth:`load` before handing the dataset to a
    DataLoader with workers, as :class:`~torchgeo_bvm.training.datamodule.BVMDataModule`
    does, so that the main process prepares them; otherwise the first worker to
    need them prepares them while the others wait for it.

    Args:
        paths: the BVM layer: a ``.shp``, a ``.zip`` of it, a ``.gpkg``, a
            GeoParquet file, or a folder holding exactly one of them (named
            ``BwkHab`` if there are several).
        crs: CRS of the samples (default EPSG:4326, see
            :data:`~torchgeo_bvm.spatial.crs.DEFAULT_CRS`).
        res: resolution in units of ``crs`` (default 10 m expressed in ``crs``
            by :func:`~torchgeo_bvm.spatial.crs.resolution_for`, the rule
            :class:`~torchgeo_bvm.datasets.Sentinel2TOC` follows too).
        transforms: a function/transform that takes a sample and returns a
            transformed version.
        **options: how the layer is read
            (:class:`~torchgeo_bvm.bvm.polygons.LayerOptions`, see
            :class:`~torchgeo_bvm.bvm.polygons.BVMPolygons`): ``layer`` (in a
            GeoPackage or ``.zip``), ``label_field`` (the field to label with,
            ``EENH1`` by default), ``mapping`` (the unit -> class table),
            ``habitat_field`` (the tie-breaker, ``HAB1``) and ``cache_dir``
            (where the prepared polygons and label columns are cached).

    Raises:
        DatasetNotFoundError: if ``paths`` holds no BVM layer.
        BVMFileError: if the layer is empty, truncated or unreadable.
        BVMValueError: if the layer, the label field or the habitat field does
            not exist (the message lists what exists), the layer is empty or
            holds no polygons, its label field is of an unusable type, its
            coordinates cannot be in its CRS, or ``crs`` or ``res`` is invalid.
    """

    filename_glob = '*'

    def __init__(
        self,
        paths: str | os.PathLike[str] = 'data',
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        **options: Unpack[LayerOptions],
    ) -> None:
        self.paths = paths
        self.transforms = transforms
        self.task = 'semantic_segmentation'
        self.cache_dir = options.get('cache_dir')
        try:
            self.bvm = BVMPolygons(paths, **options)
        except BVMNotFoundError:
            raise DatasetNotFoundError(self) from None
        self.label_field = self.bvm.label_field
        self.label_name = self.label_field
        self.file = self.bvm.file
        self.source, self.layer = self.bvm.source, self.bvm.layer
        self.habitat_field = self.bvm.habitat_field
        self.source_crs: CRS = self.bvm.source_crs
        self.source_bounds = self.bvm.source_bounds
        self.mapping: UnitMapping | None = self.bvm.mapping
        self.mapping_result = self.bvm.mapping_result
        crs = check_crs(crs) if crs is not None else DEFAULT_CRS
        self._res = check_resolution(resolution_for(crs) if res is None else res)
        self.index = self._make_index(crs)

    # -- describing the source -------------------------------------------------

    def _make_index(self, crs: CRS) -> GeoDataFrame:
        interval = pd.IntervalIndex.from_tuples(
            [(pd.Timestamp.min, pd.Timestamp.max)], closed='both', name='datetime'
        )
        return GeoDataFrame(
            {'filepath': [self.source]},
            index=interval,
            geometry=[shapely.box(*self.bvm.bounds(crs))],
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

    # -- loading ---------------------------------------------------------------

    def load(self) -> LoadReport:
        """Prepare the polygons now, or open them prepared (else at first use).

        Returns:
            What loading did.

        Raises:
            BVMFileError: if the layer's files changed since the dataset was
                created.
            BVMValueError: if the layer yields no polygon.
        """
        return self.bvm.load(self.crs)

    def _polygons(self) -> PolygonStore:
        return self.bvm.store(self.crs)

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
            BVMValueError: if the transform is rotated or not north up.
        """
        return self.bvm.rasterize(transform, width, height, self.crs)

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
    """Label rasters of the Biological Valuation Map (:mod:`torchgeo_bvm.bvm.labels`).

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
        BVMValueError: for a resolution that is not positive, or a file that
            is not a label raster (several bands, or not uint8: e.g. a
            Sentinel-2 band given as labels).
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
        if res is not None:
            res = check_resolution(res)
        super().__init__(paths, crs=crs, res=res, transforms=transforms, cache=cache)
        for path in self.files:
            # Refused here, before a sample shows reflectance as class ids.
            open_label_raster(path).close()

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
    present: set[int] = set()
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        array = data.detach().cpu().numpy() if isinstance(data, Tensor) else data
        present.update(int(v) for v in np.unique(array) if v < NUM_CLASSES)
        show_classes(ax, array, interpolation='none')
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
