"""The openEO process graph of one map sheet and period, built without a backend.

See :mod:`torchgeo_bvm.download` for what the graph does and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
from openeo.rest.datacube import DataCube
from pyproj import CRS

from ..datasets.bands import ALL_BANDS, SCL_BAND, resolve_bands
from ..errors import BVMValueError
from ..sheets.codes import Sheet
from ..spatial.crs import DEFAULT_CRS, resolution_for

__all__ = [
    'COLLECTION',
    'VALID_SCL',
    'DownloadOptions',
    'build_process_graph',
    'sheet_extent',
]

#: The openEO collection of Terrascope Sentinel-2 L2A (TOC) reflectance.
COLLECTION = 'TERRASCOPE_S2_TOC_V2'
#: SCL classes kept by the composites: vegetation, not vegetated, water, unclassified.
VALID_SCL = (4, 5, 6, 7)


@dataclass(frozen=True)
class DownloadOptions:
    """What to download, the same for every sheet and period.

    Args:
        bands: the reflectance bands in file order (``SCL`` is added last).
        composite: ``'monthly'`` for a server-side cloud-masked monthly median,
            None for every acquisition date.
        max_cloud_cover: keep only scenes with at most this cloud cover (%).
        crs: the CRS of the files (resampled to 10 m there), or None for the
            backend's native grid.
        cloud_mask: ``'scl'`` (SCL not in :data:`VALID_SCL`) or ``'dilation'``
            (VITO's ``to_scl_dilation_mask``); used by composites only.

    Raises:
        ValueError: for an unknown composite, cloud mask, band or a cloud cover
            outside 0..100.
    """

    bands: tuple[str, ...] = ALL_BANDS
    composite: Literal['monthly'] | None = None
    max_cloud_cover: float | None = None
    crs: str | None = 'EPSG:4326'
    cloud_mask: Literal['scl', 'dilation'] = 'scl'

    def __post_init__(self) -> None:
        object.__setattr__(self, 'bands', resolve_bands(self.bands))
        if self.composite not in (None, 'monthly'):
            raise BVMValueError(
                f"unknown composite {self.composite!r}: expected 'monthly'"
            )
        if self.cloud_mask not in ('scl', 'dilation'):
            raise BVMValueError(
                f"unknown cloud mask {self.cloud_mask!r}: expected 'scl' or 'dilation'"
            )
        if self.max_cloud_cover is not None and not 0 <= self.max_cloud_cover <= 100:
            raise BVMValueError(
                f'max_cloud_cover must lie in 0..100 %, got {self.max_cloud_cover}'
            )
        if self.crs is not None:
            epsg = CRS.from_user_input(self.crs).to_epsg()
            if epsg is None:
                raise BVMValueError(
                    f'crs {self.crs!r} has no EPSG code, which openEO needs'
                )
            object.__setattr__(self, 'crs', f'EPSG:{epsg}')

    @property
    def file_bands(self) -> tuple[str, ...]:
        """The band names of every downloaded file, in order."""
        return self.bands if self.composite else (*self.bands, SCL_BAND)

    def settings(self) -> dict[str, Any]:
        """What the files of an output folder must agree on (kept in the manifest).

        Returns:
            A JSON-serialisable dict.
        """
        return {
            'collection': COLLECTION,
            'bands': list(self.file_bands),
            'composite': self.composite,
            'crs': self.crs,
            'cloud_mask': self.cloud_mask if self.composite else None,
        }


def sheet_extent(sheet: Sheet | str, densify: float = 100.0) -> dict[str, Any]:
    """The EPSG:4326 bounding box of a sheet as an openEO ``spatial_extent``.

    Args:
        sheet: the map sheet.
        densify: edge length in metres before reprojecting, so the box covers
            the curved edges of the Lambert 72 rectangle.

    Returns:
        ``{'west', 'south', 'east', 'north', 'crs'}``, rounded to 1e-7 degrees
        (about 1 cm) outwards; ``crs`` is the integer EPSG code 4326, as the
        openEO ``load_collection`` schema asks (an EPSG integer or WKT2).
    """
    west, south, east, north = _extent(Sheet.parse(sheet), densify)
    return {
        'west': west,
        'south': south,
        'east': east,
        'north': north,
        'crs': 4326,
    }


@cache
def _extent(sheet: Sheet, densify: float) -> tuple[float, float, float, float]:
    # Cached: every period of a sheet has the same extent, and each
    # reprojection builds a pyproj Transformer (about 50 ms).
    west, south, east, north = sheet.geometry(DEFAULT_CRS, densify).bounds
    scale = 1e7
    return (
        float(np.floor(west * scale) / scale),
        float(np.floor(south * scale) / scale),
        float(np.ceil(east * scale) / scale),
        float(np.ceil(north * scale) / scale),
    )


def build_process_graph(
    sheet: Sheet | str, temporal_extent: Sequence[str], options: DownloadOptions
) -> dict[str, Any]:
    """The openEO process graph of one sheet and period, built without a backend.

    Args:
        sheet: the map sheet.
        temporal_extent: ``[start, end]`` ISO dates, the end exclusive.
        options: bands, composite, cloud cover, CRS and cloud mask.

    Returns:
        The openEO process object ``{'process_graph': {...}}`` (flat graph).
    """
    cube = DataCube.load_collection(
        COLLECTION,
        spatial_extent=sheet_extent(sheet),
        temporal_extent=list(temporal_extent),
        bands=[*options.bands, SCL_BAND],
        max_cloud_cover=options.max_cloud_cover,
    )
    if options.composite == 'monthly':
        cube = _mask_clouds(cube, options).aggregate_temporal_period(
            'month', reducer='median'
        )
    if options.crs is not None:
        projection = CRS.from_user_input(options.crs).to_epsg()
        xres, yres = resolution_for(options.crs)
        # One value for square pixels: dask-based backends refuse a pair.
        cube = cube.resample_spatial(
            resolution=xres if xres == yres else [xres, yres],
            projection=projection,
            method='near',
        )
    graph: dict[str, Any] = cube.save_result(format='GTiff').flat_graph()
    return {'process_graph': graph}


def _mask_clouds(cube: DataCube, options: DownloadOptions) -> DataCube:
    if options.cloud_mask == 'dilation':
        # The cube itself as ``data``: what openEO's ``THIS`` placeholder stands
        # for, without importing it from the client's private module.
        scl_cube = cube.filter_bands([SCL_BAND])
        invalid = scl_cube.process('to_scl_dilation_mask', data=scl_cube)
    else:
        scl = cube.band(SCL_BAND)
        valid: DataCube = scl == VALID_SCL[0]
        for value in VALID_SCL[1:]:
            valid = valid | (scl == value)
        invalid = ~valid
    return cube.filter_bands(list(options.bands)).mask(invalid)
