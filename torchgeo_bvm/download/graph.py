"""The openEO process graph of one map sheet and period, built without a backend.

See :mod:`torchgeo_bvm.download` for what the graph does and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from openeo.rest.datacube import DataCube
from pyproj import CRS

from ..datasets.bands import ALL_BANDS, SCL_BAND, resolve_bands
from ..errors import BVMValueError
from ..sheets.codes import Sheet
from ..spatial.crs import DEFAULT_CRS, resolution_for
from .manifest import MANIFEST_NAME
from .tasks import DownloadTask, output_path

__all__ = [
    'COLLECTION',
    'VALID_SCL',
    'DownloadOptions',
    'build_process_graph',
    'check_download_crs',
    'mask_clouds',
    'resample',
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

    #: The sensor, as messages name it.
    sensor: ClassVar[str] = 'Sentinel-2'
    #: The first year with data (Sentinel-2 L2A).
    first_year: ClassVar[int] = 2015
    #: The data type of the downloaded files (reflectance x 10000).
    file_dtype: ClassVar[str] = 'int16'
    #: The output folder's manifest.
    manifest_name: ClassVar[str] = MANIFEST_NAME

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
        object.__setattr__(self, 'crs', check_download_crs(self.crs))

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

    def expand(self, tasks: list[DownloadTask]) -> list[DownloadTask]:
        """The tasks to run for planned sheet periods (one each).

        Args:
            tasks: the sheet periods.

        Returns:
            ``tasks``.
        """
        return tasks

    def graph(self, task: DownloadTask) -> dict[str, Any]:
        """The process graph of a task (:func:`build_process_graph`).

        Args:
            task: the task.

        Returns:
            The openEO process object.
        """
        return build_process_graph(task.sheet, task.temporal_extent, self)

    def output_path(self, out: str | Path, task: DownloadTask, day: date) -> Path:
        """Where a file of a task goes (:func:`~.tasks.output_path`).

        Args:
            out: the output folder.
            task: the task.
            day: the acquisition date, or any day of a composite's month.

        Returns:
            The path.
        """
        return output_path(out, task.sheet, day, bool(self.composite))


def check_download_crs(crs: str | None) -> str | None:
    """The CRS of downloaded files as openEO takes it: ``EPSG:<code>``.

    Args:
        crs: any spelling pyproj reads, or None (the backend's native grid).

    Returns:
        ``'EPSG:<code>'``, or None.

    Raises:
        BVMValueError: for a CRS without an EPSG code.
    """
    if crs is None:
        return None
    epsg = CRS.from_user_input(crs).to_epsg()
    if epsg is None:
        raise BVMValueError(f'crs {crs!r} has no EPSG code, which openEO needs')
    return f'EPSG:{epsg}'


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
        cube = mask_clouds(cube, options).aggregate_temporal_period(
            'month', reducer='median'
        )
    if options.crs is not None:
        cube = resample(cube, options.crs, 'near')
    graph: dict[str, Any] = cube.save_result(format='GTiff').flat_graph()
    return {'process_graph': graph}


def resample(cube: DataCube, crs: str, method: str) -> DataCube:
    """A cube resampled onto ``crs`` at the resolution of 10 m there.

    Args:
        cube: the cube.
        crs: ``'EPSG:<code>'``.
        method: ``resample_spatial``'s method (``'near'`` for categorical
            bands).

    Returns:
        The resampled cube.
    """
    projection = CRS.from_user_input(crs).to_epsg()
    xres, yres = resolution_for(crs)
    # One value for square pixels: dask-based backends refuse a pair.
    resampled: DataCube = cube.resample_spatial(
        resolution=xres if xres == yres else [xres, yres],
        projection=projection,
        method=method,
    )
    return resampled


def mask_clouds(cube: DataCube, options: DownloadOptions) -> DataCube:
    """The reflectance bands of a cube, masked where the SCL rule rejects a pixel.

    Args:
        cube: a cube of ``options.bands`` and ``SCL``.
        options: the bands and the rule (``'scl'``: SCL not in
            :data:`VALID_SCL`; ``'dilation'``: VITO's ``to_scl_dilation_mask``).

    Returns:
        The cube of ``options.bands``, masked.
    """
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
