"""Sentinel-1 radar backscatter (sigma0) from Terrascope and openEO.

:class:`Sentinel1Sigma0` reads two layouts of the same measurement, C-band
backscatter through clouds:

* **Terrascope sigma0 products**, as VITO archives them (collection
  ``terrascope-s1-grd-sigma0-v1``): one folder per product
  (``CGS_S1_GRD_SIGMA0_L1/2020/04/05/S1B_IW_GRDH_SIGMA0_DV_20200405T173223_ASCENDING_161_32CD_V110/``)
  holding one GeoTIFF per band (``..._V110_VV.tif``, ``..._V110_VH.tif``,
  ``..._V110_angle.tif``) and an ``.xml``;
* **openEO downloads**, as ``torchgeo-bvm download --sensor s1`` writes them:
  one float32 GeoTIFF per map sheet, orbit direction and acquisition date
  (``22_1-2/22_1-2_openEO_S1-ASCENDING_2022-04-05Z.tif``) or month, for a mean
  composite (``22_1-2/22_1-2_openEO_S1-ASCENDING_2022-04_mean.tif``), the bands
  named in the band descriptions (``VV``, ``VH``).

The band catalogue and the file naming live in
:mod:`torchgeo_bvm.datasets.radar`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, Unpack

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from ..errors import BVMValueError
from .imagery import ImageryDataset, ReadingOptions
from .mosaic import MonthReducer
from .products import ArchiveNaming, DownloadNaming, Product
from .radar import (
    ALL_BANDS,
    ANGLE_BAND,
    ANGLE_SCALE,
    NOISE_FLOOR_DB,
    POLARISATIONS,
    RATIO_BAND,
    check_orbit,
    from_db,
    orbit_of,
    parse_openeo_s1_name,
    resolve_bands,
    to_db,
)
from .series import FILL_VALUE

__all__ = ['Sentinel1Sigma0']


class Sentinel1Sigma0(ImageryDataset):
    """Sentinel-1 backscatter (sigma0) from Terrascope products or openEO downloads.

    The data are Copernicus Sentinel-1 interferometric wide swath (IW)
    ground range detected (GRD) acquisitions in VV and VH polarisation,
    calibrated to sigma0 (the backscatter coefficient on the ellipsoid's ground
    area) in linear power. Terrascope's products (VITO, collection
    ``terrascope-s1-grd-sigma0-v1``, from October 2014) are calibrated with
    each GRD product's look-up table, orbit-corrected, cleared of thermal and
    border noise and terrain-corrected onto the Sentinel-2 UTM grid at 10 m
    (EPSG:32631 over Flanders), one float32 file per polarisation and the
    incidence angle as integers (thousandths of a degree, :data:`ANGLE_SCALE`).
    The openEO downloads are ``SENTINEL1_GRD`` through ``sar_backscatter``
    with ``coefficient='sigma0-ellipsoid'``: the same quantity, per acquisition
    or as the monthly mean.

    Two layouts are read, also mixed under one ``paths``:

    * Terrascope product folders, one file per band
      (``<product>_VV.tif``, ``<product>_VH.tif``, ``<product>_angle.tif``);
    * the float32 GeoTIFFs of ``torchgeo-bvm download --sensor s1``, one per
      map sheet, orbit direction and date, or per month for mean composites,
      with the band names in the band descriptions
      (:func:`~torchgeo_bvm.datasets.radar.openeo_s1_acquisition_path`,
      :func:`~torchgeo_bvm.datasets.radar.openeo_s1_composite_path`); a
      folder may hold Sentinel-2 downloads as well, which this dataset leaves
      alone (and :class:`~torchgeo_bvm.datasets.Sentinel2TOC` leaves these).

    Samples are dictionaries with

    * ``image``: float32 ``[C, H, W]``, the requested bands in the requested
      order: ``VV`` and ``VH`` as linear sigma0 (or in dB with
      ``decibels=True``), ``VH/VV`` their ratio (in dB: ``VH - VV``), ``angle``
      the incidence angle in degrees; ``0`` where ``valid`` is False;
    * ``valid``: bool ``[H, W]``, True where every band read has data above
      the noise floor: a file's nodata, the swath's edge, what noise removal
      left below ``noise_floor_db`` (border noise, say) and pixels outside
      the files are invalid. Clouds are not: radar sees through them.
    * ``bounds`` and ``transform`` as in TorchGeo.

    A sample comes from one acquisition date: products of that date (both
    passes of a day, or adjacent swaths) are merged, each pixel from the first
    product where it is valid, in the order of their names (the earlier pass
    of a day first). With ``time_series=True`` the sample holds the
    steps of the query's period (``image`` ``[T, C, H, W]``, ``valid``
    ``[T, H, W]``, ``dates`` ``[T]``, and ``length`` with
    ``temporal='dates'``), as :class:`~torchgeo_bvm.datasets.Sentinel2TOC`
    does; a month without a downloaded composite is the per-pixel **mean** of
    the month's valid acquisitions in linear power (the rule of openEO's
    monthly mean composites), converted to dB afterwards when asked.

    Backscatter depends on the viewing geometry (incidence angle, look
    direction), so one orbit direction is read by default, as ESA WorldCereal
    composites one direction per tile; ``orbit='both'`` reads both (a month's
    mean then spans both geometries; with composites of both directions, a
    pixel comes from the ascending composite where it has data).

    Data source and citation: Terrascope (https://terrascope.be), operated by
    VITO; "VITO (2026). Sentinel-1 GRD Sigma0 products,
    doi:10.71570/mfv3-t364", and "Contains modified Copernicus Sentinel data
    [year] processed by VITO (Terrascope)". openEO's ``sar_backscatter``:
    the openEO processes specification, Open-EO/openeo-processes.

    Args:
        paths: folders to search recursively, or files.
        crs: CRS to return samples in (default: the first file's).
        res: resolution in units of ``crs`` (default: the first file's grid
            in its CRS; in another CRS, 10 m expressed in it).
        bands: band names or a mode of
            :data:`~torchgeo_bvm.datasets.radar.BAND_MODES`: ``'dual'`` (VV,
            VH; the default) or ``'ratio'`` (VV, VH, VH/VV); ``angle`` only from
            Terrascope products (downloads carry VV and VH).
        orbit: ``'ascending'`` (default), ``'descending'`` or ``'both'``.
        decibels: return VV, VH and the ratio in dB (``10 * log10``) instead of
            linear power.
        noise_floor_db: VV or VH at or below this (dB) is no data.
        **options: how the imagery is read
            (:class:`~torchgeo_bvm.datasets.imagery.ReadingOptions`: ``years``
            (2014 or later), ``months``, ``mosaic_dates``, ``resampling``,
            ``transforms``, ``cache``, ``cache_dir``, ``max_open_files``,
            ``time_series``, ``temporal``, ``max_dates``; see
            :class:`~torchgeo_bvm.datasets.imagery.ImageryDataset`).

    Raises:
        DatasetNotFoundError: if no Sentinel-1 file is found under ``paths``.
        FileNotFoundError: if a Terrascope product lacks a requested band.
        BVMValueError: for unknown bands or orbits, a noise floor that is no
            number, an orbit direction or filters that leave no product, or a
            download without a requested band (``angle``); see
            :class:`~torchgeo_bvm.datasets.imagery.ImageryDataset` for the rest.
    """

    #: Terrascope sigma0 band files (the archive layout).
    filename_regex = r"""
        ^(?P<product>S1[A-D]_IW_GRDH_SIGMA0_D[VH]_(?P<date>\d{8}T\d{6})
        _(?:ASCENDING|DESCENDING)_\d{1,3}_[0-9A-F]{4})
        _(?P<version>V\d{3})_(?P<band>VV|VH|angle)\.tif$
    """
    date_format = '%Y%m%dT%H%M%S'
    all_bands: tuple[str, ...] = ALL_BANDS
    rgb_bands: tuple[str, ...] = ()
    false_colour_bands: ClassVar[tuple[str, ...]] = ('VV', 'VH', RATIO_BAND)
    sensor: ClassVar[str] = 'Sentinel-1'
    archive: ClassVar[ArchiveNaming | None] = ArchiveNaming(
        name='Terrascope',
        layout='terrascope-s1',
        product='{product}_{version}',
        band_file='{product}_{version}_{band}.tif',
        mask_file='{product}_{version}_{band}.tif',
        grid_m=10.0,
    )
    download: ClassVar[DownloadNaming | None] = DownloadNaming(
        'openEO', parse_openeo_s1_name
    )
    native_resolution: ClassVar[dict[str, int]] = {
        'VV': 10,
        'VH': 10,
        ANGLE_BAND: 10,
    }
    scale: ClassVar[float] = 1.0
    first_year: ClassVar[int] = 2014
    index_prefix: ClassVar[str] = 'sentinel1'
    month_reducer: ClassVar[MonthReducer] = 'mean'

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path] = 'data',
        crs: CRS | str | int | None = None,
        res: float | tuple[float, float] | None = None,
        bands: str | Sequence[str] = 'dual',
        orbit: str = 'ascending',
        decibels: bool = False,
        noise_floor_db: float = NOISE_FLOOR_DB,
        **options: Unpack[ReadingOptions],
    ) -> None:
        self.orbits = check_orbit(orbit)
        self.decibels = bool(decibels)
        if not isinstance(noise_floor_db, int | float) or not math.isfinite(
            noise_floor_db
        ):
            raise BVMValueError(
                f'noise_floor_db must be a number of dB, got {noise_floor_db!r}'
            )
        self.noise_floor_db = float(noise_floor_db)
        floor = float(from_db(self.noise_floor_db))
        super().__init__(
            paths,
            crs,
            res,
            bands,
            None,
            floors=dict.fromkeys(POLARISATIONS, floor),
            **options,
        )

    @classmethod
    def resolve_bands(cls, bands: str | Sequence[str]) -> tuple[str, ...]:
        """The bands of a mode or list (:func:`.radar.resolve_bands`).

        Args:
            bands: ``'dual'``, ``'ratio'`` or band names.

        Returns:
            The band names, in the requested order.

        Raises:
            BVMValueError: for an unknown mode or band, a repeated band or none.
        """
        return resolve_bands(bands)

    def source_bands(self) -> tuple[str, ...]:
        """The files' bands the requested bands need (the ratio needs VV and VH).

        Returns:
            The bands, in the order of their first use.
        """
        needed: list[str] = []
        for band in self.bands:
            for source in POLARISATIONS if band == RATIO_BAND else (band,):
                if source not in needed:
                    needed.append(source)
        return tuple(needed)

    def derive(
        self, image: NDArray[np.float32], valid: NDArray[np.bool_]
    ) -> NDArray[np.float32]:
        """The sample's bands: decibels, the ratio and the angle in degrees.

        Args:
            image: ``[..., C, H, W]`` of :meth:`source_bands`, linear sigma0
                and the angle's digital numbers.
            valid: ``[..., H, W]``.

        Returns:
            ``[..., len(bands), H, W]``, :data:`~.series.FILL_VALUE` where
            ``valid`` is False.
        """
        sources = self.source_bands()
        if sources == self.bands and not self.decibels and ANGLE_BAND not in sources:
            # A band may have data where another has none: 0 wherever invalid.
            np.copyto(image, FILL_VALUE, where=~valid[..., None, :, :])
            return image
        channel = {band: image[..., k, :, :] for k, band in enumerate(sources)}
        shape = (*image.shape[:-3], len(self.bands), *image.shape[-2:])
        out = np.empty(shape, dtype=np.float32)
        for k, band in enumerate(self.bands):
            values = self._band(band, channel)
            np.copyto(out[..., k, :, :], np.where(valid, values, FILL_VALUE))
        return out

    def _band(
        self, band: str, channel: dict[str, NDArray[np.float32]]
    ) -> NDArray[np.float32]:
        if band == ANGLE_BAND:
            angle: NDArray[np.float32] = channel[band] / np.float32(ANGLE_SCALE)
            return angle
        if band == RATIO_BAND:
            if self.decibels:
                ratio_db: NDArray[np.float32] = to_db(channel['VH']) - to_db(
                    channel['VV']
                )
                return ratio_db
            with np.errstate(divide='ignore', invalid='ignore'):
                ratio: NDArray[np.float32] = channel['VH'] / channel['VV']
            return ratio
        return to_db(channel[band]) if self.decibels else channel[band]

    def select(self, products: list[Product]) -> list[Product]:
        """The products of the selected orbit directions.

        Args:
            products: every Sentinel-1 product found.

        Returns:
            Those whose name states a selected direction.

        Raises:
            BVMValueError: if none does.
        """
        kept = [p for p in products if orbit_of(os.path.basename(p.key)) in self.orbits]
        if not kept:
            held = sorted({str(orbit_of(os.path.basename(p.key))) for p in products})
            raise BVMValueError(
                f'no {" or ".join(self.orbits)} Sentinel-1 product under '
                f'{self.paths!r}: the data hold {", ".join(held)} passes; pass '
                "orbit='both' or the direction the data have"
            )
        return kept
