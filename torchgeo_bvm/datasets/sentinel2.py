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

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, Unpack

from pyproj import CRS

from .bands import (
    ALL_BANDS,
    FALSE_COLOUR_BANDS,
    NATIVE_RESOLUTION,
    REFLECTANCE_SCALE,
    SCL_BAND,
    TRUE_COLOUR_BANDS,
    CloudRule,
    parse_openeo_name,
    resolve_bands,
)
from .imagery import ImageryDataset, ReadingOptions
from .products import ArchiveNaming, DownloadNaming

__all__ = ['Sentinel2TOC']


class Sentinel2TOC(ImageryDataset):
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
        **options: how the imagery is read
            (:class:`~torchgeo_bvm.datasets.imagery.ReadingOptions`: ``years``,
            ``months``, ``mosaic_dates``, ``resampling``, ``transforms``,
            ``cache``, ``cache_dir``, ``max_open_files``, ``time_series`` (see
            above), ``temporal``, ``max_dates``; see
            :class:`~torchgeo_bvm.datasets.imagery.ImageryDataset`).
            ``resampling`` is that of the reflectance bands, ``'nearest'`` by
            default so that 20 m and 60 m pixels are replicated, as openEO does.

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

    #: Terrascope band files and their scene classification (the archive layout).
    filename_regex = r"""
        ^(?P<product>S2[A-D]_(?P<date>\d{8}T\d{6})_\d{2}[A-Z]{3})
        _(?:TOC-(?P<band>B\d[\dA])|(?P<mask>SCENECLASSIFICATION))
        _\d{2}M_(?P<version>V\d{3})\.tiff?$
    """
    date_format = '%Y%m%dT%H%M%S'
    all_bands: tuple[str, ...] = ALL_BANDS
    rgb_bands: tuple[str, ...] = TRUE_COLOUR_BANDS
    false_colour_bands: ClassVar[tuple[str, ...]] = FALSE_COLOUR_BANDS
    sensor: ClassVar[str] = 'Sentinel-2'
    archive: ClassVar[ArchiveNaming | None] = ArchiveNaming(
        name='Terrascope',
        layout='terrascope',
        product='{product}_TOC_{version}',
        band_file='{product}_TOC-{band}_{res}M_{version}.tif',
        mask_file='{product}_SCENECLASSIFICATION_{res}M_{version}.tif',
        grid_m=10.0,
    )
    download: ClassVar[DownloadNaming | None] = DownloadNaming(
        'openEO', parse_openeo_name
    )
    native_resolution: ClassVar[dict[str, int]] = NATIVE_RESOLUTION
    mask_band: ClassVar[str | None] = SCL_BAND
    scale: ClassVar[float] = REFLECTANCE_SCALE
    first_year: ClassVar[int] = 2015
    index_prefix: ClassVar[str] = 'sentinel2'
    missing_mask_message: ClassVar[str] = (
        '{path}: has no {band} band to mask clouds with (bands: {names}); pass '
        'cloud_rule=None to read it without cloud masking'
    )

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path] = 'data',
        crs: CRS | str | int | None = None,
        res: float | tuple[float, float] | None = None,
        bands: str | Sequence[str] = 'all',
        cloud_rule: CloudRule | None = CloudRule(),
        **options: Unpack[ReadingOptions],
    ) -> None:
        self.cloud_rule = cloud_rule
        super().__init__(paths, crs, res, bands, cloud_rule, **options)

    @classmethod
    def resolve_bands(cls, bands: str | Sequence[str]) -> tuple[str, ...]:
        """The band names of a band mode or list (:func:`.bands.resolve_bands`).

        Args:
            bands: ``'rgb'``, ``'rgnir'``, ``'all'`` or band names.

        Returns:
            The band names, in the requested order.

        Raises:
            ValueError: for an unknown mode or band name, a repeated band,
                ``SCL`` or an empty list.
        """
        return resolve_bands(bands)
