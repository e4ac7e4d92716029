"""Sentinel-2 top-of-canopy reflectance from Terrascope, with SCL cloud masking.

:class:`Sentinel2TOC` reads two layouts of the same data:

* **Terrascope TOC products**, as VITO archives them: one folder per product
  (``TOC_V2/YYYY/MM/DD/S2B_20200405T104619_31UDS_TOC_V210/``) holding one GeoTIFF
  per band (``S2B_20200405T104619_31UDS_TOC-B02_10M_V210.tif``) at 10, 20 or 60 m,
  the scene classification (``..._SCENECLASSIFICATION_20M_V210.tif``) and quality
  layers that are ignored;
* **openEO downloads**, as ``torchgeo-bvm download`` writes them: one multi-band
  GeoTIFF per map sheet and acquisition date
  (``22_1-2/22_1-2_openEO_2022-04-05Z.tif``) or per month for a cloud-free median
  composite (``22_1-2/22_1-2_openEO_2022-04_median.tif``), every band named in the
  file's band descriptions (``B02``, ..., ``SCL``). See
  :func:`openeo_acquisition_path` and :func:`openeo_composite_path`.

Bands are always selected by name, never by position. The scene classification
(SCL) is categorical: it is read with nearest-neighbour resampling, never enters
``image``, and is turned into the ``valid`` mask by a :class:`CloudRule`.

The band catalogue, the file naming and the cloud rule live in
:mod:`torchgeo_bvm.datasets.bands`; their names are importable from here too.
"""

from __future__ import annotations

import math
import pickle
import resource
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
import rasterio.merge
import shapely
import torch
from geopandas import GeoDataFrame
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from torchgeo.datasets import DatasetNotFoundError, RasterDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..checks import (
    MAX_BATCH_BYTES,
    check_bytes,
    check_count,
    check_crs,
    check_numbers,
    check_resolution,
)
from ..errors import BVMValueError
from ..plot import display_bands, stretch
from ..spatial.crs import pixel_size_m
from ..spatial.pixelgrid import Grid
from ._fastpath import CachedBounds, IndexArrays, torchgeo_lookup
from ._products import (
    FileInfo,
    HeaderCache,
    Item,
    OpenFiles,
    corrupt_file_error,
    default_res,
    find_items,
    list_files,
    open_files_capacity,
)
from .bands import (
    ALL_BANDS,
    FALSE_COLOUR_BANDS,
    TRUE_COLOUR_BANDS,
    CloudRule,
    resolve_bands,
)
from .series import (
    DATE_PAD,
    FILL_VALUE,
    TemporalLayout,
    check_max_dates,
    check_temporal,
    clear_median,
    day_number,
    month_steps,
    spread,
)

__all__ = ['Sentinel2TOC']


class Sentinel2TOC(CachedBounds, RasterDataset):
    """Sentinel-2 top-of-canopy (TOC) reflectance from Terrascope.

    The data are Copernicus Sentinel-2 Level-2A surface reflectances processed
    with Sen2Cor by VITO for the Terrascope platform (collection
    ``TERRASCOPE_S2_TOC_V2``), in the UTM zone of each MGRS tile (EPSG:32631 for
    Flanders), as int16 digital numbers equal to reflectance x 10000. Eleven bands
    are offered (:data:`ALL_BANDS`): B02, B03, B04, B08 at 10 m, B05, B06, B07,
    B8A, B11, B12 at 20 m and B01 at 60 m, plus the Sen2Cor scene classification
    (SCL, 20 m, :data:`SCL_CLASSES`).

    Two layouts are read, also mixed under one ``paths``:

    * Terrascope product folders, one file per band; every band is read onto the
      product's 10 m grid;
    * the multi-band GeoTIFFs of ``torchgeo-bvm download`` (openEO), one per map
      sheet and date, or per month for median composites, with the band names in
      the band descriptions (:func:`openeo_acquisition_path`,
      :func:`openeo_composite_path`).

    Samples are dictionaries with

    * ``image``: float32 ``[C, H, W]``, the requested bands in the requested
      order, as digital numbers (reflectance x :data:`REFLECTANCE_SCALE`, the
      convention of TorchGeo's ``Sentinel2``; divide by 10000 for reflectance).
      A band without data at a pixel (the file's nodata, or outside the file) is
      0 there.
    * ``valid``: bool ``[H, W]``, True where every band has data and the SCL
      class passes ``cloud_rule`` (composites, which have no SCL: where every
      band has data);
    * ``bounds`` and ``transform`` as in TorchGeo.

    A sample always comes from one acquisition date (or one composite month):
    products of that date from adjacent tiles or sheets are merged, but a query
    whose time range holds several dates raises ``ValueError`` unless
    ``mosaic_dates=True`` or ``time_series=True``. Sample one date at a time with
    TorchGeo's samplers, e.g. ``RandomPatchSampler(ds, size=256) @
    RandomTimestampSampler(ds)``.

    **Time series** (``time_series=True``, as TorchGeo's ``RasterDataset``): a
    query's time range is a period, and the sample holds its steps in order
    (:mod:`torchgeo_bvm.datasets.series`): ``image`` ``[T, C, H, W]``, ``valid``
    ``[T, H, W]`` and ``dates`` int64 ``[T]`` (days since 1970-01-01). With
    ``temporal='monthly'`` a step is a calendar month (``T`` = the months of the
    period among ``months``, 12 for a calendar year): the downloader's monthly
    composite where there is one, else the per-pixel median of that month's
    clear observations (by ``cloud_rule``) computed while reading; a pixel
    without any is 0 and invalid. With ``temporal='dates'`` a step is an
    acquisition date, all of them or ``max_dates`` spread evenly over them,
    padded at the end to ``max_dates`` steps (``dates`` -1, ``image`` 0,
    ``valid`` False), and ``length`` holds the real steps. Every step is read
    as a single date is, one windowed read per file where the window lies on
    its pixels. Query a calendar year with
    :func:`~torchgeo_bvm.datasets.series.calendar_year`, or sample with
    :class:`~torchgeo_bvm.samplers.temporal.CalendarYearSampler`.

    Data source and citation: Terrascope (https://terrascope.be), operated by VITO
    on behalf of the Belgian Science Policy Office (BELSPO); acknowledge
    "Contains modified Copernicus Sentinel data [year] processed by VITO
    (Terrascope)". Level-2A processing: Main-Knorn et al., "Sen2Cor for
    Sentinel-2", Proc. SPIE 10427 (2017), doi:10.1117/12.2278218.

    Args:
        paths: folders to search recursively, or files.
        crs: CRS to return samples in (default: the CRS of the first file,
            never resampled).
        res: resolution in units of ``crs``. Default: the first file's own
            grid in its own CRS (10 m for Terrascope products); in another CRS,
            its ground sampling distance in metres expressed in ``crs`` by
            :func:`~torchgeo_bvm.spatial.crs.resolution_for`, the rule of
            :class:`~torchgeo_bvm.datasets.BVMDataset` too (in EPSG:4326, 10 m
            at the centre of Flanders: x and y differ in degrees).
        bands: band names or a mode of :data:`BAND_MODES` (default all 11).
        cloud_rule: turns SCL into ``valid``; ``None`` ignores SCL (then
            ``valid`` only marks pixels with data).
        years: only dates in these years.
        months: only dates in these months (1-12).
        mosaic_dates: allow a query to span several dates; each pixel then comes
            from the earliest date where it is valid.
        resampling: resampling of reflectance bands onto the output grid
            (a :class:`rasterio.enums.Resampling` name); ``'nearest'`` by default
            so that 20 m and 60 m pixels are replicated, as openEO does. SCL is
            always read with nearest.
        transforms: a function applied to each sample.
        cache: keep files open between samples.
        cache_dir: where the index cache lives (default
            :func:`~torchgeo_bvm.fileio.default_cache_dir`).
        max_open_files: how many files each process keeps open (default: every
            file the data set reads, within the file-descriptor limit less an
            eighth, and 16,384, shared by every data set of the process); each
            costs about 30 kB, and reopening one about as much as reading a
            window from it.
        time_series: return every step of a query's period (see above).
        temporal: with ``time_series``: ``'monthly'`` or ``'dates'``.
        max_dates: with ``temporal='dates'``: the steps of every sample (None:
            every acquisition of the period, unpadded).

    Raises:
        DatasetNotFoundError: if no Sentinel-2 file is found under ``paths``.
        FileNotFoundError: if a product lacks a requested band or its SCL.
        ValueError: for unknown band names, unreadable files, openEO files
            without band names, or filters that leave no date.
        BVMFileError: at read time, for a file moved or deleted since the
            dataset indexed it.
        BVMValueError: for an unknown ``temporal``, ``max_dates`` not a positive
            whole number or given with ``'monthly'``, ``time_series`` with
            ``mosaic_dates``; at read time, for a time-series query whose period
            holds no acquisition or fewer months than requested.

    **Large archives.** Indexing reads the headers of each product's requested
    bands (the Terrascope file names give the tile, date and band; the headers
    must agree on CRS, tile and native resolution, and the first requested
    10 m band places the product) or of each openEO file, and keeps what they
    say in a cache file (``sentinel2-index-<key>.json`` in the cache folder)
    keyed by each file's path, size and header bytes, so indexing an archive
    already seen opens no file with GDAL; the cache is only a speed-up (a
    missing, stale or damaged entry is read again from the file). Each process
    notes what each file holds once, keeps its files
    open (see ``cache`` and ``max_open_files``), and opens them without GDAL's
    listing of their folder (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``:
    side-car ``.aux.xml``, ``.ovr`` and ``.msk`` files are not looked for;
    Terrascope and openEO files have none). What a DataLoader worker receives is
    the index and the items' paths (compressed), never open files.
    """

    filename_glob = '*.tif'
    all_bands: tuple[str, ...] = ALL_BANDS
    rgb_bands: tuple[str, ...] = TRUE_COLOUR_BANDS
    #: Bands shown by :meth:`plot` when ``rgb_bands`` are not all loaded.
    false_colour_bands: ClassVar[tuple[str, ...]] = FALSE_COLOUR_BANDS

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path] = 'data',
        crs: CRS | str | int | None = None,
        res: float | tuple[float, float] | None = None,
        bands: str | Sequence[str] = 'all',
        cloud_rule: CloudRule | None = CloudRule(),
        years: Iterable[int] | None = None,
        months: Iterable[int] | None = None,
        mosaic_dates: bool = False,
        resampling: str | Resampling = 'nearest',
        transforms: Callable[[Sample], Sample] | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        max_open_files: int | None = None,
        time_series: bool = False,
        temporal: TemporalLayout = 'monthly',
        max_dates: int | None = None,
    ) -> None:
        # RasterDataset.__init__ is not called: it skips unreadable files silently
        # and selects bands by their position, and this dataset must do neither.
        self.paths = paths
        self.bands = resolve_bands(bands)
        self.cloud_rule = cloud_rule
        self.years = check_numbers(years, 'years', 2015, 2100)
        self.months = check_numbers(months, 'months', 1, 12)
        self.mosaic_dates = mosaic_dates
        self._resampling = _resampling(resampling)
        if res is not None:
            res = check_resolution(res)
        if max_open_files is not None:
            max_open_files = check_count(
                max_open_files,
                'max_open_files',
                maximum=_open_files_limit(),
                hint='the files this process may open: ulimit -n',
            )
        self.transforms = transforms
        self.cache = cache
        self.cache_dir = cache_dir
        self.time_series = bool(time_series)
        self.temporal = check_temporal(temporal)
        self.max_dates = check_max_dates(max_dates)
        if self.max_dates is not None and self.temporal != 'dates':
            raise BVMValueError(
                "max_dates applies to temporal='dates' (a monthly series has one "
                f'step per month), got max_dates={self.max_dates} with '
                f'temporal={self.temporal!r}'
            )
        if self.time_series and mosaic_dates:
            raise BVMValueError(
                'time_series=True stacks the dates of a query, mosaic_dates=True '
                'merges them into one image: choose one'
            )
        # Files whose CRS is the dataset's (recomputed if ``crs`` is changed).
        self._grids_crs: CRS | None = None
        self._on_crs: dict[str, bool] = {}
        self._crs_equal: list[tuple[CRS | None, bool]] = []
        self._pixel_m: dict[tuple[float, float], tuple[float, float]] = {}

        roots = [paths] if isinstance(paths, str | Path) else list(paths)
        files = sorted(set(list_files(roots)))
        headers = HeaderCache(roots, cache_dir)
        found = find_items(files, self.bands, self.cloud_rule, headers)
        if not found:
            raise DatasetNotFoundError(self)
        items = [item for item in found if self._wanted(item)]
        if not items:
            raise BVMValueError(
                f'no Sentinel-2 date in years {sorted(self.years or [])} and months '
                f'{sorted(self.months or [])} under {paths!r}: the data have '
                f'{", ".join(sorted({i.period for i in found}))}'
            )
        items.sort(key=lambda i: (i.start, i.key))

        files_read = len(
            {s.path for i in items for s in (*i.bands.values(), i.scl) if s is not None}
        )
        capacity = max_open_files or open_files_capacity(files_read)
        self._open = OpenFiles(capacity, keep_open=self.cache)
        dst_crs = check_crs(crs) if crs is not None else None
        geometries = []
        # Products of one tile share their footprint: placed once per tile.
        footprints: dict[tuple[str, tuple[float, ...]], shapely.Polygon] = {}
        for item in items:
            header = headers.header(item.reference)
            self._open.note(item.reference, header)
            src_crs = self._open.crs(header.crs)
            if dst_crs is None:
                dst_crs = src_crs
            if res is None:
                res = default_res(item, header, src_crs, dst_crs)
            place = (header.crs, header.bounds)
            if place not in footprints:
                bounds = header.bounds
                if src_crs != dst_crs:
                    bounds = transform_bounds(src_crs, dst_crs, *bounds, densify_pts=21)
                footprints[place] = shapely.box(*bounds)
            geometries.append(footprints[place])
        headers.save(files)
        if isinstance(res, int | float):
            res = (float(res), float(res))
        assert res is not None
        self._res = (float(res[0]), float(res[1]))
        self._items = {item.key: item for item in items}
        # Whether acquisitions (not only monthly composites) are indexed.
        self._has_dates = any(item.layout != 'composite' for item in items)
        index = pd.IntervalIndex.from_arrays(
            [i.start for i in items],
            [i.stop for i in items],
            closed='both',
            name='datetime',
        )
        self.index = GeoDataFrame(
            {
                'filepath': [i.key for i in items],
                'layout': [i.layout for i in items],
                'period': [i.period for i in items],
            },
            index=index,
            geometry=geometries,
            crs=dst_crs,
        )

    @property
    def resampling(self) -> Resampling:
        """Resampling of the reflectance bands (SCL is always nearest)."""
        return self._resampling

    def reference_path(self, filepath: str) -> str:
        """The file whose pixel grid stands for an entry of the index.

        Args:
            filepath: a ``filepath`` of :attr:`index` (a Terrascope product or an
                openEO file).

        Returns:
            For a Terrascope product its first requested 10 m band (else its first
            requested band), for an openEO file the file itself.

        Raises:
            KeyError: if ``filepath`` is not in the index.
        """
        return self._items[filepath].reference

    def _wanted(self, item: Item) -> bool:
        if self.years is not None and item.start.year not in self.years:
            return False
        return self.months is None or item.start.month in self.months

    # ------------------------------------------------------------------- reading

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without open files and what was noted of them (for workers).

        A worker opens and notes its own files (:class:`OpenFiles` pickles
        empty). The items' file paths repeat their folders, so they travel
        compressed: a year of Terrascope products (12,000 paths) pickles to a
        few hundred kB instead of a few MB.

        Returns:
            The instance's state.
        """
        state = self.__dict__.copy()
        state['_on_crs'], state['_crs_equal'], state['_grids_crs'] = {}, [], None
        state.pop('_index_arrays', None)
        state['_items'] = zlib.compress(
            pickle.dumps(list(self._items.values()), pickle.HIGHEST_PROTOCOL), 1
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled dataset.

        Args:
            state: from :meth:`__getstate__`.
        """
        items: list[Item] = pickle.loads(zlib.decompress(state['_items']))
        state['_items'] = {item.key: item for item in items}
        self.__dict__.update(state)

    def _source(self, path: str) -> DatasetReader:
        return self._open.open(path)

    def _same_crs(self, path: str) -> bool:
        """Whether a file is in the dataset's CRS (noted per file and CRS)."""
        self._follow_crs()
        same = self._on_crs.get(path)
        if same is None:
            file_crs = self._open.file_info(path).grid.crs
            # pyproj's CRS comparison costs up to a millisecond: once per CRS,
            # since files share their CRS objects (OpenFiles.crs).
            same = next((v for c, v in self._crs_equal if c is file_crs), None)
            if same is None:
                same = file_crs == self.crs
                self._crs_equal.append((file_crs, same))
            self._on_crs[path] = same
        return same

    def _follow_crs(self) -> None:
        """Forget what depends on the dataset's CRS when it has changed."""
        crs = self.crs
        if crs is not self._grids_crs:
            self._on_crs, self._crs_equal, self._pixel_m = {}, [], {}
            self._grids_crs = crs

    def _direct_file(self, path: str) -> FileInfo | None:
        """The file's header if its pixels can be read as they are, in our CRS."""
        file = self._open.file_info(path)
        return file if file.direct and self._same_crs(path) else None

    def _aligned(
        self,
        path: str,
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        shape: tuple[int, int],
    ) -> tuple[FileInfo, int, int] | None:
        """The file and the window's (col, row) if the window is on its grid."""
        file = self._direct_file(path)
        if file is None:
            return None
        offset = file.grid.aligned(bounds, res, shape)
        return None if offset is None else (file, *offset)

    def _subdivided(
        self,
        path: str,
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        shape: tuple[int, int],
    ) -> tuple[FileInfo, int, int, int, int] | None:
        """The file and :meth:`Grid.subdivided` of a window that splits its pixels."""
        file = self._direct_file(path)
        if file is None:
            return None
        found = file.grid.subdivided(bounds, res, shape)
        return None if found is None else (file, *found)

    def _read_subdivided(
        self,
        path: str,
        indexes: list[int],
        file: FileInfo,
        column: int,
        row: int,
        x_factor: int,
        y_factor: int,
        shape: tuple[int, int],
    ) -> NDArray[np.float32]:
        """Read a window whose pixels split the file's (a 20 m band at 10 m).

        Nearest-neighbour resampling then repeats each file pixel over the
        window pixels inside it: the same values as ``rasterio.merge.merge``
        with nearest resampling (see :meth:`_read_window`), from one plain
        windowed read of the file's pixels and a gather, with no merge.
        """
        height, width = shape
        out = np.full((len(indexes), height, width), np.nan, dtype=np.float32)
        # The file pixel of every window row and column.
        rows = (row + np.arange(height)) // y_factor
        columns = (column + np.arange(width)) // x_factor
        r0, c0 = int(rows[0]), int(columns[0])
        window = (c0, r0, int(columns[-1]) - c0 + 1, int(rows[-1]) - r0 + 1)
        clipped = self._read_clipped(path, indexes, window)
        if clipped is None:
            return out
        data, data_rows, data_columns = clipped
        values = data.astype(np.float32)
        for channel, index in enumerate(indexes):
            nodata = file.nodata[index - 1]
            if nodata is not None and not math.isnan(nodata):
                values[channel][data[channel] == nodata] = np.nan
        # The window rows and columns whose file pixel was read (a run of each).
        inside_rows = np.flatnonzero(
            (rows - r0 >= data_rows.start) & (rows - r0 < data_rows.stop)
        )
        inside_columns = np.flatnonzero(
            (columns - c0 >= data_columns.start) & (columns - c0 < data_columns.stop)
        )
        take_rows = rows[inside_rows] - r0 - data_rows.start
        take_columns = columns[inside_columns] - c0 - data_columns.start
        rs = slice(int(inside_rows[0]), int(inside_rows[-1]) + 1)
        cs = slice(int(inside_columns[0]), int(inside_columns[-1]) + 1)
        out[:, rs, cs] = values[:, take_rows][:, :, take_columns]
        return out

    def _read_clipped(
        self, path: str, indexes: list[int], window: tuple[int, int, int, int]
    ) -> tuple[NDArray[Any], slice, slice] | None:
        """The part of a window (col, row, width, height) inside a file.

        Returns the file's values there and where they go in the window; None
        (and nothing is read) when the window misses the file.
        """
        clipped = self._open.file_info(path).grid.clip(*window)
        if clipped is None:
            return None
        part, rows, columns = clipped
        src = self._source(path)
        try:
            data: NDArray[Any] = src.read(indexes, window=part)
        except RasterioError as error:
            raise corrupt_file_error(path, error) from error
        finally:
            self._open.release(src)
        return data, rows, columns

    def _read(
        self,
        path: str,
        indexes: list[int],
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        resampling: Resampling,
        shape: tuple[int, int],
    ) -> NDArray[np.float32]:
        """Read bands of one file onto the query grid; NaN where there is no data."""
        aligned = self._aligned(path, bounds, res, shape)
        if aligned is not None:
            return self._read_window(path, indexes, *aligned, shape)
        if resampling == Resampling.nearest:
            subdivided = self._subdivided(path, bounds, res, shape)
            if subdivided is not None:
                return self._read_subdivided(path, indexes, *subdivided, shape)
        src = self._source(path)
        try:
            if self._same_crs(path):
                data, _ = rasterio.merge.merge(
                    [src],
                    bounds=bounds,
                    res=res,
                    indexes=indexes,
                    resampling=resampling,
                    dtype='float32',
                    nodata=np.nan,
                )
            else:
                target = Grid(
                    self.crs,
                    rasterio.transform.from_origin(bounds[0], bounds[3], *res),
                    round((bounds[2] - bounds[0]) / res[0]),
                    round((bounds[3] - bounds[1]) / res[1]),
                )
                data = self._warp(src, indexes, target, resampling)
        except RasterioError as error:
            raise corrupt_file_error(path, error) from error
        finally:
            self._open.release(src)
        result: NDArray[np.float32] = data
        return result

    def _read_window(
        self,
        path: str,
        indexes: list[int],
        file: FileInfo,
        col: int,
        row: int,
        shape: tuple[int, int],
    ) -> NDArray[np.float32]:
        """Read a window that lies on the file's own pixel grid.

        The same values as ``rasterio.merge.merge`` (TorchGeo's path, and ours
        for windows off the file's grid) in a fraction of the time: merge reads
        every band through a masked, resampling read (GDAL computes a mask band)
        into a nodata-filled mosaic, and a second merge for SCL decompresses the
        same pixel-interleaved strips again. Here one plain windowed read of the
        image bands and SCL together decompresses each strip once, with no
        merge, VRT or mask band; only the part of the window outside the file is
        filled (NaN), and nodata values become NaN as merge's mask would make them.
        """
        out = np.empty((len(indexes), *shape), dtype=np.float32)
        self._read_window_into(path, indexes, file, col, row, out)
        return out

    def _read_window_into(
        self,
        path: str,
        indexes: list[int],
        file: FileInfo,
        col: int,
        row: int,
        out: NDArray[np.float32],
    ) -> bool:
        """:meth:`_read_window` into ``out``; whether it holds no NaN."""
        height, width = out.shape[1:]
        clipped = self._read_clipped(path, indexes, (col, row, width, height))
        if clipped is None:
            out[...] = np.nan
            return False
        data, rows, columns = clipped
        if data.shape[1:] == out.shape[1:]:
            # The usual case, a window inside the file: one conversion straight
            # into place, no NaN-filled canvas to fill and copy into.
            np.copyto(out, data, casting='unsafe')
            part = out
            clean = data.dtype.kind in 'iu'  # floats may hold NaN
        else:
            out[...] = np.nan
            part = out[:, rows, columns]
            part[...] = data
            clean = False
        for channel, index in enumerate(indexes):
            nodata = file.nodata[index - 1]
            if nodata is not None and not math.isnan(nodata):
                hole = data[channel] == nodata
                if hole.any():
                    part[channel][hole] = np.nan
                    clean = False
        return clean

    def _read_bands_and_scl(
        self,
        path: str,
        channels: list[int],
        indexes: list[int],
        scl_index: int,
        aligned: tuple[FileInfo, int, int],
        wide_shape: tuple[int, int],
        image: NDArray[np.float32],
    ) -> tuple[NDArray[np.float32], bool, bool]:
        """Bands and SCL of one file on its own grid, in one windowed read.

        Gives what :meth:`_read_window` of the wide window (the window with the
        cloud rule's margin) followed by cropping the bands gives, without
        converting the bands' margin to float32 (1.7 times the pixels of a 256 px
        window at 400 m) only to crop it away, and without a NaN canvas when the
        window lies inside the file: the bands are cast from the file's integers
        straight into ``image`` (exact for int16), SCL is kept wide. Writes
        ``image[channels]`` (NaN outside the file and at nodata); returns SCL
        (NaN likewise) and whether the bands, and SCL, hold no NaN at all, which
        the caller's NaN bookkeeping can then skip.
        """
        file, col, row = aligned
        height, width = image.shape[1:]
        wide_height, wide_width = wide_shape
        my, mx = (wide_height - height) // 2, (wide_width - width) // 2
        whole = channels == list(range(image.shape[0]))
        bands = image if whole else np.empty((len(channels), height, width), np.float32)
        scl = np.full(wide_shape, np.nan, dtype=np.float32)
        clipped = self._read_clipped(
            path, [*indexes, scl_index], (col, row, wide_width, wide_height)
        )
        if clipped is None:
            bands[...] = np.nan
            data: NDArray[Any] = np.empty((len(indexes) + 1, 0, 0), dtype=np.int16)
            dr = dc = 0
        else:
            data, rows, columns = clipped
            # The data's rows and columns in the wide window.
            dr, dc = rows.start, columns.start
        # The inner window's rows and columns in the data.
        ir0, ir1 = max(dr, my), min(dr + data.shape[1], my + height)
        ic0, ic1 = max(dc, mx), min(dc + data.shape[2], mx + width)
        bands_clean = False
        if ir0 >= ir1 or ic0 >= ic1:
            bands[...] = np.nan
        else:
            inner = data[:-1, ir0 - dr : ir1 - dr, ic0 - dc : ic1 - dc]
            if (ir0, ir1, ic0, ic1) == (my, my + height, mx, mx + width):
                part = bands
                bands_clean = data.dtype.kind in 'iu'  # floats may hold NaN
            else:
                bands[...] = np.nan
                part = bands[:, ir0 - my : ir1 - my, ic0 - mx : ic1 - mx]
            np.copyto(part, inner, casting='unsafe')
            for channel, index in enumerate(indexes):
                nodata = file.nodata[index - 1]
                if nodata is not None and not math.isnan(nodata):
                    hole = inner[channel] == nodata
                    if hole.any():
                        part[channel][hole] = np.nan
                        bands_clean = False
        if not whole:
            image[channels] = bands
        scl_clean = data.shape[1:] == wide_shape and data.dtype.kind in 'iu'
        if data.shape[1] and data.shape[2]:
            scl_part = scl[dr : dr + data.shape[1], dc : dc + data.shape[2]]
            np.copyto(scl_part, data[-1], casting='unsafe')
            nodata = file.nodata[scl_index - 1]
            if nodata is not None and not math.isnan(nodata):
                hole = data[-1] == nodata
                if hole.any():
                    scl_part[hole] = np.nan
                    scl_clean = False
        return scl, bands_clean, scl_clean

    def _warp(
        self,
        src: DatasetReader,
        indexes: list[int],
        target: Grid,
        resampling: Resampling,
    ) -> NDArray[np.float32]:
        # Warped straight onto the query grid: unlike TorchGeo's cached VRT on a
        # default grid, read again with resampling, this resamples once, and a
        # pixel gets the same value whatever window it is read in. GDAL's default
        # tolerance of 0.125 px lets nearest pick another pixel from window to
        # window; 0.001 px costs no measurable time (rasterio refuses 0).
        # Warped in the file's own dtype and masked by its nodata (or an alpha
        # band where it has none): a float32 VRT with NaN as nodata does not mask
        # the source's integer nodata, and 32767 would come through as data.
        masking: dict[str, object] = (
            {'nodata': src.nodata} if src.nodata is not None else {'add_alpha': True}
        )
        with WarpedVRT(
            src,
            crs=self.crs.to_wkt(),
            transform=target.transform,
            width=target.width,
            height=target.height,
            resampling=resampling,
            tolerance=0.001,
            **masking,
        ) as vrt:
            masked = vrt.read(indexes, masked=True)
        data: NDArray[np.float32] = masked.astype(np.float32).filled(np.nan)
        return data

    def _pixel_size(self, res: tuple[float, float]) -> tuple[float, float]:
        # Metres per pixel at the dataset's centre, not the window's: the same
        # pixel then gets the same mask whatever window it is read in.
        self._follow_crs()
        if res not in self._pixel_m:
            bx, by, _ = self.bounds
            centre = ((bx.start + bx.stop) / 2, (by.start + by.stop) / 2)
            self._pixel_m[res] = pixel_size_m(self.crs, res, centre)
        return self._pixel_m[res]

    def _read_item(
        self,
        item: Item,
        x: slice,
        y: slice,
        shape: tuple[int, int],
        keep_nan: bool = False,
        out: NDArray[np.float32] | None = None,
    ) -> tuple[
        NDArray[np.float32],
        NDArray[np.bool_],
        NDArray[np.bool_],
        NDArray[np.bool_] | None,
    ]:
        """Read one product or file.

        Returns (image, some band has data, every band has data, usable by the
        cloud rule or None without one); ``image`` is 0 where a band has no
        data, or NaN with ``keep_nan``; it is ``out`` when given.
        """
        bounds = (x.start, y.start, x.stop, y.stop)
        res = (x.step, y.step)
        scl = item.scl if self.cloud_rule is not None else None
        mx = my = 0
        if scl is not None:
            assert self.cloud_rule is not None
            pixel_m = self._pixel_size(res)
            # SCL is read with a margin: clouds just outside the window count.
            mx, my = self.cloud_rule.margin(pixel_m)
        wide = (
            x.start - mx * x.step,
            y.start - my * y.step,
            x.stop + mx * x.step,
            y.stop + my * y.step,
        )
        wide_shape = (shape[0] + 2 * my, shape[1] + 2 * mx)
        image = (
            np.empty((len(self.bands), *shape), dtype=np.float32)
            if out is None
            else out
        )
        by_file: dict[str, list[tuple[int, int]]] = {}
        for channel, band in enumerate(self.bands):
            source = item.bands[band]
            by_file.setdefault(source.path, []).append((channel, source.index))
        raw_scl: NDArray[np.float32] | None = None
        # Channels known to hold no NaN, and whether SCL holds none: the NaN
        # scans below (about 1 ms for 11 bands) are skipped when nothing can be NaN.
        clean_channels: set[int] = set()
        scl_clean = False
        for path, pairs in by_file.items():
            channels = [c for c, _ in pairs]
            indexes = [i for _, i in pairs]
            aligned = None
            if scl is not None and scl.path == path:
                aligned = self._aligned(path, wide, res, wide_shape)
            if aligned is not None:
                assert scl is not None
                # Bands and SCL of one file in one read of the wider window.
                raw_scl, bands_clean, scl_clean = self._read_bands_and_scl(
                    path, channels, indexes, scl.index, aligned, wide_shape, image
                )
                if bands_clean:
                    clean_channels.update(channels)
            elif self._read_bands(path, indexes, bounds, res, image, channels):
                clean_channels.update(channels)
        if len(clean_channels) == len(image):
            covered = np.ones(shape, dtype=bool)
            complete = np.ones(shape, dtype=bool)
        else:
            missing = np.isnan(image)
            covered = ~missing.all(axis=0)
            complete = ~missing.any(axis=0)
            if not keep_nan:
                np.copyto(image, 0.0, where=missing)
        if scl is None or self.cloud_rule is None:
            return image, covered, complete, None
        if raw_scl is None:
            raw_scl = self._read(
                scl.path, [scl.index], wide, res, Resampling.nearest, wide_shape
            )[0]
        if scl_clean:
            classes = raw_scl.astype(np.uint8)
        else:
            classes = np.where(np.isnan(raw_scl), 0, raw_scl).astype(np.uint8)
        usable = self.cloud_rule.mask(classes, pixel_m)
        usable = usable[my : my + shape[0], mx : mx + shape[1]]
        return image, covered, complete, usable

    def _read_bands(
        self,
        path: str,
        indexes: list[int],
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        image: NDArray[np.float32],
        channels: list[int],
    ) -> bool:
        """Read bands of one file into ``image[channels]``; whether they hold no NaN.

        Channels in a run (an openEO file's bands) on the file's grid are read
        straight into ``image``, without an intermediate copy.
        """
        shape = (image.shape[1], image.shape[2])
        first = channels[0]
        aligned = None
        if channels == list(range(first, first + len(channels))):
            aligned = self._aligned(path, bounds, res, shape)
        if aligned is None:
            image[channels] = self._read(
                path, indexes, bounds, res, self.resampling, shape
            )
            return False
        run = image[first : first + len(channels)]
        return self._read_window_into(path, indexes, *aligned, run)

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Read the sample at a spatiotemporal slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]``.

        Returns:
            A sample with ``image``, ``valid``, ``bounds`` and ``transform``.

        Raises:
            IndexError: if nothing is found at ``index``.
            ValueError: if the time range holds several dates and
                ``mosaic_dates`` is False, or a file cannot be read.
        """
        x, y, t = self._disambiguate_slice(index)
        paths, found_periods = self._lookup(x, y, t)
        if not paths and self.time_series:
            self._no_acquisition(index, x, y, t)
        if not paths:
            raise IndexError(
                f'index: {index} not found in dataset with bounds: {self.bounds}'
            )
        if self.time_series:
            return self._series_sample(index, x, y, t, paths)
        periods = sorted(set(found_periods))
        if len(periods) > 1 and not self.mosaic_dates:
            raise BVMValueError(self._several_dates_message(periods, x, y))

        shape = (
            round((y.stop - y.start) / y.step),
            round((x.stop - x.start) / x.step),
        )
        items = _in_read_order(self._items[key] for key in paths)
        image, valid, _ = self._read_date(items, x, y, shape)

        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        sample: Sample = {
            'image': torch.from_numpy(image),
            'valid': torch.from_numpy(valid),
            'bounds': self._slice_to_tensor(index),
            'transform': torch.tensor(transform),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _read_date(
        self,
        items: Sequence[Item],
        x: slice,
        y: slice,
        shape: tuple[int, int],
        keep_nan: bool = False,
        out: NDArray[np.float32] | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_] | None]:
        """Read and merge the items of one date (or composite month).

        Returns (image, valid, usable by the cloud rule or None without one),
        each pixel from the first item (in :func:`_in_read_order`) where it is
        valid; ``image`` is ``out`` when given.
        """
        # The first item is taken whole: it is 0 wherever it has no data, and
        # this saves a boolean-indexed copy (6 ms for 11 x 256 x 256).
        image, covered, valid, usable = self._read_item(
            items[0], x, y, shape, keep_nan, out
        )
        if usable is not None:
            valid &= usable
        for item in items[1:]:
            if valid.all():
                # Nothing left to fill: the next files (overlapping sheets of the
                # same date) would be read only to be discarded.
                break
            item_image, item_covered, item_valid, item_usable = self._read_item(
                item, x, y, shape, keep_nan
            )
            if item_usable is not None:
                item_valid &= item_usable
            # A valid pixel is never replaced; an invalid one by the next valid one.
            take = (item_valid & ~valid) | (item_covered & ~covered & ~valid)
            np.copyto(image, item_image, where=take)
            if usable is not None and item_usable is not None:
                np.copyto(usable, item_usable, where=take)
            valid |= take & item_valid
            covered |= item_covered
        return image, valid, usable

    # ------------------------------------------------------------- time series

    def _series_sample(
        self, index: GeoSlice, x: slice, y: slice, t: slice, keys: list[str]
    ) -> Sample:
        """A time-series sample: the steps of the period (see :mod:`.series`)."""
        shape = (
            round((y.stop - y.start) / y.step),
            round((x.stop - x.start) / x.step),
        )
        items = [self._items[key] for key in keys]
        if self.temporal == 'monthly':
            steps = month_steps(t.start, t.stop, self.months)
            by_step = _by_month(items, steps)
            length = None
            size = len(steps)
        else:
            if self._has_dates:
                items = [i for i in items if i.layout != 'composite']
            dated = _by_date(items)
            every = list(dated)
            steps = [every[k] for k in spread(len(every), self.max_dates or len(every))]
            by_step = [dated[step] for step in steps]
            length = len(steps)
            size = self.max_dates or length
        check_bytes(
            4.0 * size * len(self.bands) * shape[0] * shape[1],
            MAX_BATCH_BYTES,
            f'a sample of {size} steps x {len(self.bands)} bands x {shape[0]} x '
            f'{shape[1]} pixels',
            'use fewer max_dates or a smaller window',
        )
        # Each step is read in place; only steps without data are filled.
        image = np.empty((size, len(self.bands), *shape), np.float32)
        valid = np.zeros((size, *shape), dtype=bool)
        dates = np.full(size, DATE_PAD, dtype=np.int64)
        image[len(steps) :] = FILL_VALUE
        for step, (start, step_items) in enumerate(zip(steps, by_step, strict=True)):
            dates[step] = day_number(start)
            if step_items:
                valid[step] = self._read_step(step_items, x, y, image[step])
            else:
                image[step] = FILL_VALUE
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        sample: Sample = {
            'image': torch.from_numpy(image),
            'valid': torch.from_numpy(valid),
            'dates': torch.from_numpy(dates),
            'bounds': self._slice_to_tensor(index),
            'transform': torch.tensor(transform),
        }
        if length is not None:
            sample['length'] = torch.tensor(length, dtype=torch.long)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _read_step(
        self, items: list[Item], x: slice, y: slice, out: NDArray[np.float32]
    ) -> NDArray[np.bool_]:
        """One step into ``out``: a date, a month's composites or clear median.

        Returns the step's ``valid``.
        """
        shape = (out.shape[1], out.shape[2])
        composites = [i for i in items if i.layout == 'composite']
        if composites or self.temporal == 'dates':
            _, valid, _ = self._read_date(
                _in_read_order(composites or items), x, y, shape, out=out
            )
            return valid
        days = _by_date(items)
        # Each date read in place into the month's stack of observations.
        observations = np.empty((len(days), *out.shape), dtype=np.float32)
        for values, day_items in zip(observations, days.values(), strict=True):
            _, _, usable = self._read_date(
                day_items, x, y, shape, keep_nan=True, out=values
            )
            if usable is not None:
                np.copyto(values, np.nan, where=~usable[None])
        median = clear_median(observations)
        missing = np.isnan(median)
        np.copyto(median, FILL_VALUE, where=missing)
        out[...] = median
        clear: NDArray[np.bool_] = ~missing.any(axis=0)
        return clear

    def _no_acquisition(self, index: GeoSlice, x: slice, y: slice, t: slice) -> None:
        """Raise the error of a time-series query whose period holds no date."""
        _, _, everywhen = self.bounds
        _, periods = self._lookup(x, y, everywhen)
        if not periods:
            raise IndexError(
                f'index: {index} not found in dataset with bounds: {self.bounds}'
            )
        held = sorted(set(periods))
        raise BVMValueError(
            f'no Sentinel-2 acquisition in the period '
            f'{pd.Timestamp(t.start):%Y-%m-%d}..{pd.Timestamp(t.stop):%Y-%m-%d} at '
            f'x={x.start}:{x.stop}, y={y.start}:{y.stop}: the data there hold '
            f'{len(held)} dates from {held[0]} to {held[-1]}'
        )

    def _lookup(self, x: slice, y: slice, t: slice) -> tuple[list[str], list[str]]:
        """Keys and periods of the indexed items a query touches."""
        arrays = IndexArrays.of(self)
        rows = arrays.lookup(x, y, t)
        if rows is not None:
            return (
                arrays.column('filepath')[rows].tolist(),
                arrays.column('period')[rows].tolist(),
            )
        df = torchgeo_lookup(self.index, x, y, t)
        return list(df['filepath']), list(df['period'])

    def _several_dates_message(self, periods: list[str], x: slice, y: slice) -> str:
        shown = ', '.join(periods[:6]) + (', ...' if len(periods) > 6 else '')
        return (
            f'{len(periods)} dates ({shown}) intersect the query '
            f'x={x.start}:{x.stop}, y={y.start}:{y.stop}: a Sentinel2TOC sample '
            'comes from one acquisition date (or one composite month). Give a time '
            'slice, e.g. ds[x0:x1, y0:y1, pd.Timestamp("2020-04-05"):'
            'pd.Timestamp("2020-04-05 23:59")], sample with '
            '`RandomPatchSampler(ds, size=256) @ RandomTimestampSampler(ds)` '
            '(torchgeo.samplers), or pass mosaic_dates=True to mosaic the dates.'
        )

    # ------------------------------------------------------------------ plotting

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: true or false colour, and the validity mask.

        Uses B04 B03 B02 when loaded, else B08 B04 B03, else the first band(s),
        stretched between the 2nd and 98th percentile of the valid pixels.

        Args:
            sample: a sample returned by :meth:`__getitem__`.
            show_titles: whether to title the panels.
            suptitle: a title for the figure.

        Returns:
            The matplotlib figure.
        """
        image = sample['image'].numpy()
        valid = sample['valid'].numpy().astype(bool)
        names, title = display_bands(
            self.bands, self.rgb_bands, self.false_colour_bands
        )
        shown = np.moveaxis(image[[self.bands.index(b) for b in names]], 0, -1)
        shown = stretch(shown, shown[valid] if valid.any() else None)

        fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
        axes[0].imshow(shown, cmap='gray' if shown.ndim == 2 else None)
        axes[1].imshow(valid, cmap='gray', vmin=0, vmax=1, interpolation='nearest')
        for ax in axes:
            ax.axis('off')
        if show_titles:
            axes[0].set_title(title)
            axes[1].set_title(f'valid ({valid.mean():.0%} usable)')
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig


def _resampling(value: str | Resampling) -> Resampling:
    if isinstance(value, Resampling):
        return value
    try:
        return Resampling[str(value)]
    except KeyError:
        names = ', '.join(r.name for r in Resampling if r.value < 100)
        raise BVMValueError(
            f'unknown resampling {value!r}: expected one of {names}'
        ) from None


def _in_read_order(items: Iterable[Item]) -> list[Item]:
    """The items of a date in the order they fill a sample's pixels."""
    return sorted(
        items,
        # The newest processing version of a product wins over reprocessed ones.
        key=lambda i: (i.start, [-ord(c) for c in i.version], i.key),
    )


def _by_date(items: Iterable[Item]) -> dict[pd.Timestamp, list[Item]]:
    """Items grouped by their date (or composite month), in date order."""
    groups: dict[pd.Timestamp, list[Item]] = {}
    for item in _in_read_order(items):
        groups.setdefault(item.start, []).append(item)
    return groups


def _by_month(items: Iterable[Item], months: list[pd.Timestamp]) -> list[list[Item]]:
    """The items of each month (first days given), in read order."""
    position = {(m.year, m.month): k for k, m in enumerate(months)}
    groups: list[list[Item]] = [[] for _ in months]
    for item in _in_read_order(items):
        k = position.get((item.start.year, item.start.month))
        if k is not None:
            groups[k].append(item)
    return groups


def _open_files_limit() -> int | None:
    """How many files this process may open (``ulimit -n``), None if unlimited."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft
