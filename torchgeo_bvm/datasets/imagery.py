"""The imagery core: a TorchGeo dataset of any sensor's products.

:class:`ImageryDataset` is what every imagery dataset of the package is built
on (:class:`~torchgeo_bvm.datasets.sentinel2.Sentinel2TOC` today): it finds
the products (:mod:`~torchgeo_bvm.datasets.products`, their headers kept in
the :class:`~torchgeo_bvm.datasets.headers.HeaderCache`), indexes them as
TorchGeo does, and reads a sample through a
:class:`~torchgeo_bvm.datasets.mosaic.ProductReader`: one date (the products of
that date merged) or, with ``time_series=True``, the steps of a period. A
sensor's subclass declares only what is its own: bands, the validity layer and
its rule, file naming and scale (see ``docs/architecture.rst``, "How to add a
sensor").

:func:`imagery_grid` gives the pixel lattice that windows snap to, for any
imagery dataset: reads on it are plain windowed reads.
"""

from __future__ import annotations

import math
import pickle
import resource
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import rasterio
import shapely
import torch
from geopandas import GeoDataFrame
from matplotlib.figure import Figure
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError, GeoDataset, RasterDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..checks import (
    MAX_READ_BYTES,
    check_bytes,
    check_count,
    check_crs,
    check_numbers,
    check_resolution,
)
from ..errors import BVMValueError
from ..plot import plot_image_and_valid
from ..spatial.crs import pixel_size_m
from ..spatial.pixelgrid import Grid, declared_grid, lattice_at_bounds
from ._fastpath import CachedBounds, IndexArrays, torchgeo_lookup
from .headers import HeaderCache, list_files
from .mosaic import MaskRule, ProductReader, in_read_order, query_shape
from .products import (
    Product,
    default_res,
    find_products,
)
from .reader import FileReader, OpenFiles, open_files_capacity
from .sensor import SensorDeclaration
from .series import TemporalLayout, check_series

__all__ = [
    'ImageryDataset',
    'ReadingOptions',
    'band_names',
    'imagery_grid',
    'index_products',
]


class ReadingOptions(TypedDict, total=False):
    """How any sensor's imagery is read: what a sensor's dataset passes on.

    The keyword arguments of :class:`ImageryDataset` from ``years`` to
    ``max_dates``, with its defaults and its meaning of each; a sensor's
    dataset takes them as ``**options``.
    """

    years: Iterable[int] | None
    months: Iterable[int] | None
    mosaic_dates: bool
    resampling: str | Resampling
    transforms: Callable[[Sample], Sample] | None
    cache: bool
    cache_dir: str | Path | None
    max_open_files: int | None
    time_series: bool
    temporal: TemporalLayout
    max_dates: int | None


class ImageryDataset(SensorDeclaration, CachedBounds, RasterDataset):
    """Imagery of one sensor, from an archive or downloads (see the module).

    ``RasterDataset.__init__`` is not called: it opens every file, skips
    unreadable ones silently and selects bands by their position; here
    indexing reads only headers (cached between runs) and bands are selected
    by name. TorchGeo's class attributes keep their meaning
    (``filename_regex`` and ``date_format`` name the archive's band files).

    Samples are dictionaries with

    * ``image``: float32 ``[C, H, W]``, the requested bands in the requested
      order, as the files' digital numbers (divide by :attr:`scale` for the
      physical value); 0 where a band has no data (nodata, or outside the file);
    * ``valid``: bool ``[H, W]``, True where every band has data and the
      validity layer passes ``mask_rule`` (where a product has a layer);
    * ``bounds`` and ``transform`` as in TorchGeo.

    A sample comes from one acquisition date (or one composite month): products
    of that date from adjacent tiles or sheets are merged, each pixel from the
    first product where it is valid; a query whose time range holds several
    dates raises ``ValueError`` unless ``mosaic_dates=True`` or
    ``time_series=True``. With ``time_series=True`` the sample holds the steps
    of the query's period (:meth:`ProductReader.read_series
    <torchgeo_bvm.datasets.mosaic.ProductReader.read_series>`): ``image``
    ``[T, C, H, W]``, ``valid`` ``[T, H, W]``, ``dates`` ``[T]`` and, with
    ``temporal='dates'``, ``length``.

    A sensor's subclass declares what
    :class:`~torchgeo_bvm.datasets.sensor.SensorDeclaration` lists, calls
    ``super().__init__`` with its validity rule, and may override
    :meth:`resolve_bands` (band modes) and :meth:`source_bands` (the files'
    bands that ``derive`` computes its bands from).

    Args:
        paths: folders to search recursively, or files.
        crs: CRS to return samples in (default: the first file's).
        res: resolution in units of ``crs`` (default: see
            :func:`~torchgeo_bvm.datasets.products.default_res`).
        bands: band names, or what :meth:`resolve_bands` accepts.
        mask_rule: turns the validity layer into usable pixels; None does not
            read it.
        years: only dates in these years (from the sensor's ``first_year``).
        months: only dates in these months (1-12).
        mosaic_dates: allow a query to span several dates; each pixel then comes
            from the earliest date where it is valid.
        resampling: resampling of the bands onto the output grid (a
            :class:`rasterio.enums.Resampling` name); the validity layer is
            always read with nearest.
        transforms: a function applied to each sample.
        cache: keep files open between samples.
        cache_dir: where the header cache lives
            (``<index_prefix>-index-<key>.json``; default
            :func:`~torchgeo_bvm.fileio.default_cache_dir`).
        max_open_files: how many files each process keeps open (default: every
            file the data set reads, within the file-descriptor limit less an
            eighth, and 16,384, shared by every data set of the process); each
            costs about 30 kB, and reopening one about as much as reading a
            window from it.
        time_series: return every step of a query's period.
        temporal: with ``time_series``: ``'monthly'`` or ``'dates'``.
        max_dates: with ``temporal='dates'``: the steps of every sample (None:
            every acquisition of the period, unpadded).
        floors: band name -> the value at or below which the band holds no
            data, beyond the files' nodata (radar border noise, say): such
            pixels, and the band's infinite values, are treated as nodata
            pixels are.

    Raises:
        DatasetNotFoundError: if no product is found under ``paths``.
        BVMValueError: for arguments out of range or that contradict each other,
            or filters that leave no date.
        TypeError: for a class that declares no bands (the core itself).
    """

    filename_glob = '*.tif'
    #: Archive products hold one file per band (TorchGeo's meaning).
    separate_files = True

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path] = 'data',
        crs: CRS | str | int | None = None,
        res: float | tuple[float, float] | None = None,
        bands: str | Sequence[str] = 'all',
        mask_rule: MaskRule | None = None,
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
        floors: Mapping[str, float] | None = None,
    ) -> None:
        if not self.all_bands:
            raise TypeError(
                f'{type(self).__name__} declares no bands: ImageryDataset is the core '
                "of a sensor's dataset, subclass it (as Sentinel2TOC does)"
            )
        self.paths = paths
        self.bands = self.resolve_bands(bands)
        self.mask_rule = mask_rule
        self.years = check_numbers(years, 'years', self.first_year, 2100)
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
        self.temporal, self.max_dates = check_series(
            self.time_series, temporal, max_dates, mosaic_dates
        )
        # Metres per pixel by resolution, for the dataset's CRS (see _follow_crs).
        self._grids_crs: CRS | None = None
        self._pixel_m: dict[tuple[float, float], tuple[float, float]] = {}
        sources = self.source_bands()
        roots = [paths] if isinstance(paths, str | Path) else list(paths)
        files = sorted(set(list_files(roots)))
        headers = HeaderCache(roots, cache_dir, prefix=self.index_prefix)
        found = find_products(files, self, sources, mask_rule is not None, headers)
        if not found:
            raise DatasetNotFoundError(self)
        found = self.select(found)
        products = [p for p in found if _wanted(p, self.years, self.months)]
        if not products:
            raise BVMValueError(
                f'no {self.sensor} date in years {sorted(self.years or [])} and '
                f'months {sorted(self.months or [])} under {paths!r}: the data have '
                f'{", ".join(sorted({p.period for p in found}))}'
            )
        products.sort(key=lambda p: (p.start, p.key))
        read = {s.path for p in products for s in (*p.bands.values(), p.mask) if s}
        capacity = max_open_files or open_files_capacity(len(read))
        self._open = OpenFiles(capacity, keep_open=self.cache)
        self._files = FileReader(self._open)
        self._reader = ProductReader(
            self._files,
            sources,
            mask_rule,
            self._resampling,
            floors={
                channel: float(floors[band])
                for channel, band in enumerate(sources)
                if floors and band in floors
            },
            reducer=self.month_reducer,
        )
        dst_crs = check_crs(crs) if crs is not None else None
        self.index, self._res = index_products(
            products, headers, self._open, dst_crs, res
        )
        headers.save(files)
        self._items = {product.key: product for product in products}
        # Whether acquisitions (not only monthly composites) are indexed.
        self._has_dates = any(not product.composite for product in products)

    @classmethod
    def resolve_bands(cls, bands: str | Sequence[str]) -> tuple[str, ...]:
        """The band names a ``bands`` argument asks for (override for band modes).

        Args:
            bands: ``'all'``, a band name, names separated by commas, or a list.

        Returns:
            The band names, in the requested order.

        Raises:
            BVMValueError: for an unknown or repeated band, the validity layer,
                or no band.
        """
        return band_names(bands, cls.all_bands)

    def source_bands(self) -> tuple[str, ...]:
        """The bands read from the files for :attr:`bands` (override to derive some).

        Returns:
            The files' bands, in the order ``derive`` receives them
            (default: :attr:`bands`).
        """
        return tuple(self.bands)

    @property
    def resampling(self) -> Resampling:
        """Resampling of the bands (the validity layer is always nearest)."""
        return self._resampling

    def reference_path(self, filepath: str) -> str:
        """The file whose pixel grid stands for an entry of the index.

        Args:
            filepath: a ``filepath`` of :attr:`index`.

        Returns:
            An archive product's first requested band on the product's grid
            (else its first requested band), or the downloaded file itself.

        Raises:
            KeyError: if ``filepath`` is not in the index.
        """
        return self._items[filepath].reference

    @property
    def native_grid(self) -> Grid:
        """The pixel lattice on which windows are plain windowed reads.

        The grid of the first product's reference file when that file is in
        the dataset's CRS at the dataset's resolution; otherwise (imagery
        warped on the fly) a lattice anchored at the bounds, as TorchGeo's
        samplers anchor theirs.

        Returns:
            The grid.
        """
        first = self.reference_path(str(self.index['filepath'].iloc[0]))
        try:
            grid = self._open.file_info(first).grid
        except (OSError, ValueError):
            return lattice_at_bounds(self)
        a, b, _, d, e, _ = tuple(grid.transform)[:6]
        # rasterio's DatasetReader.res of the file's transform.
        res = (a, -e) if b == d == 0 else (math.hypot(a, d), math.hypot(b, e))
        return _file_lattice(self, grid.crs, res, (grid.left, grid.top))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without open files (a worker opens and notes its own).

        The products' paths repeat their folders, so they travel compressed: a
        year of Terrascope products (12,000 paths) pickles to a few hundred kB.

        Returns:
            The instance's state.
        """
        state = self.__dict__.copy()
        state['_grids_crs'], state['_pixel_m'] = None, {}
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
        products: list[Product] = pickle.loads(zlib.decompress(state['_items']))
        state['_items'] = {product.key: product for product in products}
        self.__dict__.update(state)

    def _follow_crs(self) -> None:
        """Forget what depends on the dataset's CRS when it has changed."""
        crs = self.crs
        if crs is not self._grids_crs:
            self._pixel_m = {}
            self._grids_crs = crs
        self._files.follow(crs)

    def _pixel_size(self, res: tuple[float, float]) -> tuple[float, float]:
        # Metres per pixel at the dataset's centre, not the window's: the same
        # pixel then gets the same mask whatever window it is read in.
        if res not in self._pixel_m:
            bx, by, _ = self.bounds
            centre = ((bx.start + bx.stop) / 2, (by.start + by.stop) / 2)
            self._pixel_m[res] = pixel_size_m(self.crs, res, centre)
        return self._pixel_m[res]

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Read the sample at a spatiotemporal slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]``.

        Returns:
            A sample with ``image``, ``valid``, ``bounds`` and ``transform``
            (and ``dates``, ``length`` for a time series).

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
        self._follow_crs()
        pixel_m = self._pixel_size((x.step, y.step))
        steps: dict[str, Tensor] = {}
        length = None
        if self.time_series:
            products = [self._items[key] for key in paths]
            image, valid, dates, length = self._reader.read_series(
                products,
                x,
                y,
                t,
                self.temporal,
                pixel_m,
                self.months,
                self.max_dates,
                self._has_dates,
            )
            steps['dates'] = torch.from_numpy(dates)
        else:
            periods = sorted(set(found_periods))
            if len(periods) > 1 and not self.mosaic_dates:
                raise BVMValueError(_several_dates(self, periods, x, y))
            shape = query_shape(x, y)
            check_bytes(
                4.0 * len(self.bands) * shape[0] * shape[1],
                MAX_READ_BYTES,
                f'a sample of {len(self.bands)} bands x {shape[0]} x {shape[1]} pixels',
                'read a smaller window',
            )
            products = in_read_order(self._items[key] for key in paths)
            image, valid, _ = self._reader.read_date(products, x, y, shape, pixel_m)
        image = self.derive(image, valid)
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        sample: Sample = {
            'image': torch.from_numpy(image),
            'valid': torch.from_numpy(valid),
            **steps,
            'bounds': self._slice_to_tensor(index),
            'transform': torch.tensor(transform),
        }
        if length is not None:
            sample['length'] = torch.tensor(length, dtype=torch.long)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _no_acquisition(self, index: GeoSlice, x: slice, y: slice, t: slice) -> None:
        """Raise the error of a time-series query whose period holds no date."""
        _, _, everywhen = self.bounds
        _, periods = self._lookup(x, y, everywhen)
        if not periods:
            raise IndexError(
                f'index: {index} not found in dataset with bounds: {self.bounds}'
            )
        raise BVMValueError(_no_acquisition_message(self.sensor, x, y, t, periods))

    def _lookup(self, x: slice, y: slice, t: slice) -> tuple[list[str], list[str]]:
        """Keys and periods of the indexed products a query touches."""
        arrays = IndexArrays.of(self)
        rows = arrays.lookup(x, y, t)
        if rows is not None:
            return (
                arrays.column('filepath')[rows].tolist(),
                arrays.column('period')[rows].tolist(),
            )
        df = torchgeo_lookup(self.index, x, y, t)
        return list(df['filepath']), list(df['period'])

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: true or false colour, and the validity mask.

        Uses ``rgb_bands`` when loaded, else ``false_colour_bands``, else the
        first band(s), stretched between the 2nd and 98th percentile of the
        valid pixels.

        Args:
            sample: a sample returned by :meth:`__getitem__`.
            show_titles: whether to title the panels.
            suptitle: a title for the figure.

        Returns:
            The matplotlib figure.
        """
        return plot_image_and_valid(
            sample['image'].numpy(),
            sample['valid'].numpy().astype(bool),
            self.bands,
            (self.rgb_bands, self.false_colour_bands),
            show_titles,
            suptitle,
        )


def _several_dates(
    dataset: ImageryDataset, periods: list[str], x: slice, y: slice
) -> str:
    """The error of a single-date query that holds several dates."""
    shown = ', '.join(periods[:6]) + (', ...' if len(periods) > 6 else '')
    return (
        f'{len(periods)} dates ({shown}) intersect the query '
        f'x={x.start}:{x.stop}, y={y.start}:{y.stop}: a {type(dataset).__name__} '
        'sample comes from one acquisition date (or one composite month). Give '
        'a time slice, e.g. ds[x0:x1, y0:y1, pd.Timestamp("2020-04-05"):'
        'pd.Timestamp("2020-04-05 23:59")], sample with '
        '`RandomPatchSampler(ds, size=256) @ RandomTimestampSampler(ds)` '
        '(torchgeo.samplers), or pass mosaic_dates=True to mosaic the dates.'
    )


def _wanted(product: Product, years: Set[int] | None, months: Set[int] | None) -> bool:
    if years is not None and product.start.year not in years:
        return False
    return months is None or product.start.month in months


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


def _no_acquisition_message(
    sensor: str, x: slice, y: slice, t: slice, periods: list[str]
) -> str:
    """Why a time-series query found no date, and which dates the place holds."""
    held = sorted(set(periods))
    return (
        f'no {sensor} acquisition in the period '
        f'{pd.Timestamp(t.start):%Y-%m-%d}..{pd.Timestamp(t.stop):%Y-%m-%d} at '
        f'x={x.start}:{x.stop}, y={y.start}:{y.stop}: the data there hold '
        f'{len(held)} dates from {held[0]} to {held[-1]}'
    )


def index_products(
    products: Sequence[Product],
    headers: HeaderCache,
    files: OpenFiles,
    crs: CRS | None,
    res: float | tuple[float, float] | None,
) -> tuple[GeoDataFrame, tuple[float, float]]:
    """TorchGeo's index of some products, and the resolution to read them at.

    Each product's footprint is its reference file's bounds (in ``crs``); what
    each reference file holds is noted in ``files`` on the way, so that reads
    open no file to learn it.

    Args:
        products: the products, in index order.
        headers: their headers.
        files: the open files of the process.
        crs: the index's CRS (default: the first product's).
        res: the resolution (default:
            :func:`~torchgeo_bvm.datasets.products.default_res` of the first
            product).

    Returns:
        The index (``filepath``, ``layout`` and ``period`` columns, the
        products' intervals) and the ``(x, y)`` resolution.
    """
    geometries = []
    # Products of one tile share their footprint: placed once per tile.
    footprints: dict[tuple[str, tuple[float, ...]], shapely.Polygon] = {}
    for product in products:
        header = headers.header(product.reference)
        files.note(product.reference, header)
        src_crs = files.crs(header.crs)
        if crs is None:
            crs = src_crs
        if res is None:
            res = default_res(product, header, src_crs, crs)
        place = (header.crs, header.bounds)
        if place not in footprints:
            bounds = header.bounds
            if src_crs != crs:
                bounds = transform_bounds(src_crs, crs, *bounds, densify_pts=21)
            footprints[place] = shapely.box(*bounds)
        geometries.append(footprints[place])
    if isinstance(res, int | float):
        res = (float(res), float(res))
    assert res is not None
    index = pd.IntervalIndex.from_arrays(
        [p.start for p in products],
        [p.stop for p in products],
        closed='both',
        name='datetime',
    )
    frame = GeoDataFrame(
        {
            'filepath': [p.key for p in products],
            'layout': [p.layout for p in products],
            'period': [p.period for p in products],
        },
        index=index,
        geometry=geometries,
        crs=crs,
    )
    return frame, (float(res[0]), float(res[1]))


def band_names(bands: str | Sequence[str], offered: Sequence[str]) -> tuple[str, ...]:
    """Band names checked against what a sensor offers.

    Args:
        bands: ``'all'``, a band name, names separated by commas, or a list.
        offered: the sensor's bands.

    Returns:
        The band names, upper case, in the requested order.

    Raises:
        BVMValueError: for an unknown or repeated band, or no band.
    """
    if isinstance(bands, str):
        bands = list(offered) if bands == 'all' else bands.split(',')
    names = tuple(str(b).strip().upper() for b in bands)
    unknown = [n for n in names if n not in offered]
    if unknown or not names or len(set(names)) != len(names):
        raise BVMValueError(
            f'bands {list(names)}: expected distinct names from {", ".join(offered)}'
        )
    return names


def _file_lattice(
    image: GeoDataset,
    crs: object,
    res: tuple[float, float],
    origin: tuple[float, float],
) -> Grid:
    """A file's lattice when the file is in the dataset's CRS and resolution.

    Else the lattice anchored at the dataset's bounds.
    """
    xres, yres = map(float, image.res)
    same_crs = crs is not None and CRS.from_user_input(crs) == image.crs
    if same_crs and np.allclose(res, (xres, yres), rtol=1e-9, atol=0):
        return Grid.lattice(origin[0], origin[1], xres, yres, image.crs)
    return lattice_at_bounds(image)


def imagery_grid(image: GeoDataset) -> Grid:
    """The imagery's pixel grid, preferring the grid of its first file.

    When the first file is in the dataset's CRS at the dataset's resolution,
    windows snap to that file's own grid, so reads from files sharing it are
    plain window reads; otherwise (imagery warped on the fly) the grid is
    anchored at the imagery's bounds, as TorchGeo's samplers do. An
    :class:`ImageryDataset` says so itself (:attr:`ImageryDataset.native_grid`),
    as does any dataset with a ``native_grid``; for any other ``GeoDataset``
    the first ``filepath`` of its index is opened.

    Args:
        image: the imagery dataset.

    Returns:
        The grid.
    """
    declared = declared_grid(image, 'native_grid')
    if declared is not None:
        return declared
    first = str(image.index['filepath'].iloc[0])
    try:
        with rasterio.open(first) as src:
            origin = (float(src.transform.c), float(src.transform.f))
            return _file_lattice(image, src.crs, src.res, origin)
    except (rasterio.errors.RasterioError, OSError):
        return lattice_at_bounds(image)


def _open_files_limit() -> int | None:
    """How many files this process may open (``ulimit -n``), None if unlimited."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft
