"""Sentinel-1 backscatter downloads: the openEO process graph and options.

For each map sheet, period of whole months and orbit direction, one process
graph on the openEO collection ``SENTINEL1_GRD`` (Copernicus Sentinel-1 GRD,
on ``openeo.vito.be`` and the Copernicus Data Space):

* ``load_collection`` with the polarisations (``VV``, ``VH``), the sheet's
  EPSG:4326 bounding box and the period, and two property filters, as ESA
  WorldCereal and openeo-gfmap load the collection: ``sat:orbit_state``
  equal to ``ASCENDING`` or ``DESCENDING`` (one viewing geometry per file)
  and ``polarisation`` equal to ``VV&VH`` (dual-polarisation acquisitions
  only);
* ``sar_backscatter`` with ``coefficient='sigma0-ellipsoid'`` (sigma0 on the
  ellipsoid's ground area, the quantity of Terrascope's sigma0 products) and
  every other argument at the official process's default (``noise_removal``
  true, no extra bands): linear power;
* optionally ``aggregate_temporal_period('month', reducer='mean')``: the
  monthly mean of linear power (``composite='monthly'``; clouds do not hide
  radar, so nothing is masked);
* ``resample_spatial`` onto the files' CRS at the resolution of 10 m there
  (bilinear: backscatter is continuous), unless ``crs=None`` keeps the
  backend's grid;
* ``save_result(format='GTiff')``: float32 files, one per date or month.

The files land where :class:`~torchgeo_bvm.datasets.Sentinel1Sigma0` reads
them (:func:`~torchgeo_bvm.datasets.radar.openeo_s1_acquisition_path`,
:func:`~torchgeo_bvm.datasets.radar.openeo_s1_composite_path`), beside
Sentinel-2's if the folder holds those; the folder's manifest is
:data:`S1_MANIFEST_NAME`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal

from openeo.rest.datacube import DataCube

from ..datasets.radar import (
    POLARISATIONS,
    Orbit,
    check_orbit,
    openeo_s1_acquisition_path,
    openeo_s1_composite_path,
)
from ..errors import BVMValueError
from ..sheets.codes import Sheet
from .graph import check_download_crs, resample, sheet_extent
from .tasks import DownloadTask

__all__ = [
    'S1_COEFFICIENT',
    'S1_COLLECTION',
    'S1_MANIFEST_NAME',
    'Sentinel1Options',
    'build_s1_process_graph',
    'sar_backscatter_arguments',
]

#: The openEO collection of Sentinel-1 GRD acquisitions.
S1_COLLECTION = 'SENTINEL1_GRD'
#: The backscatter coefficient: sigma0 on the ellipsoid (Terrascope's quantity).
S1_COEFFICIENT = 'sigma0-ellipsoid'
#: The manifest of a folder's Sentinel-1 downloads.
S1_MANIFEST_NAME = 'openeo-manifest-sentinel1.json'


def sar_backscatter_arguments() -> dict[str, Any]:
    """The arguments of ``sar_backscatter`` besides ``data``.

    What the openeo client's ``DataCube.sar_backscatter(coefficient=...)``
    sends: the coefficient and every other parameter of the official process
    at its default.

    Returns:
        The arguments.
    """
    return {
        'coefficient': S1_COEFFICIENT,
        'elevation_model': None,
        'mask': False,
        'contributing_area': False,
        'local_incidence_angle': False,
        'ellipsoid_incidence_angle': False,
        'noise_removal': True,
    }


@dataclass(frozen=True)
class Sentinel1Options:
    """What to download of Sentinel-1, the same for every sheet and period.

    Args:
        bands: the polarisations in file order (``VV``, ``VH`` or both).
        orbits: the orbit directions; each gets its own job and files.
        composite: ``'monthly'`` for the monthly mean, None for every
            acquisition.
        crs: the CRS of the files (resampled to 10 m there), or None for the
            backend's native grid.

    Raises:
        BVMValueError: for a band that is no polarisation, an unknown orbit or
            composite, or a CRS without an EPSG code.
    """

    bands: tuple[str, ...] = POLARISATIONS
    orbits: tuple[Orbit, ...] = ('ascending',)
    composite: Literal['monthly'] | None = None
    crs: str | None = 'EPSG:4326'

    #: The sensor, as messages name it.
    sensor: ClassVar[str] = 'Sentinel-1'
    #: The first year with data (Sentinel-1A's first products: October 2014).
    first_year: ClassVar[int] = 2014
    #: The data type of the downloaded files (linear sigma0).
    file_dtype: ClassVar[str] = 'float32'
    #: The output folder's manifest.
    manifest_name: ClassVar[str] = S1_MANIFEST_NAME

    def __post_init__(self) -> None:
        names = tuple(str(b).strip().upper() for b in self.bands)
        unknown = set(names) - set(POLARISATIONS)
        if not names or len(set(names)) != len(names) or unknown:
            raise BVMValueError(
                f'Sentinel-1 download bands {list(self.bands)}: expected distinct '
                f'polarisations from {", ".join(POLARISATIONS)} (the ratio and the '
                'angle are not downloaded)'
            )
        object.__setattr__(self, 'bands', names)
        orbits: list[Orbit] = []
        for orbit in self.orbits:
            orbits.extend(o for o in check_orbit(orbit) if o not in orbits)
        if not orbits:
            raise BVMValueError('no orbit direction to download')
        object.__setattr__(self, 'orbits', tuple(orbits))
        if self.composite not in (None, 'monthly'):
            raise BVMValueError(
                f"unknown composite {self.composite!r}: expected 'monthly'"
            )
        object.__setattr__(self, 'crs', check_download_crs(self.crs))

    @property
    def file_bands(self) -> tuple[str, ...]:
        """The band names of every downloaded file, in order."""
        return self.bands

    def settings(self) -> dict[str, Any]:
        """What the files of an output folder must agree on (kept in the manifest).

        Returns:
            A JSON-serialisable dict (the orbit is each task's own).
        """
        return {
            'collection': S1_COLLECTION,
            'coefficient': S1_COEFFICIENT,
            'bands': list(self.bands),
            'composite': self.composite,
            'crs': self.crs,
        }

    def expand(self, tasks: list[DownloadTask]) -> list[DownloadTask]:
        """One task per planned sheet period and orbit direction.

        Args:
            tasks: the sheet periods.

        Returns:
            The tasks, each period's directions together.
        """
        return [replace(task, orbit=orbit) for task in tasks for orbit in self.orbits]

    def graph(self, task: DownloadTask) -> dict[str, Any]:
        """The process graph of a task (:func:`build_s1_process_graph`).

        Args:
            task: the task (with its orbit direction).

        Returns:
            The openEO process object.
        """
        return build_s1_process_graph(
            task.sheet, task.temporal_extent, _orbit(task), self
        )

    def output_path(self, out: str | Path, task: DownloadTask, day: date) -> Path:
        """Where a file of a task goes (the orbit direction is in its name).

        Args:
            out: the output folder.
            task: the task (with its orbit direction).
            day: the acquisition date, or any day of a composite's month.

        Returns:
            The path.
        """
        if self.composite:
            return openeo_s1_composite_path(out, task.sheet, _orbit(task), day)
        return openeo_s1_acquisition_path(out, task.sheet, _orbit(task), day)


def _orbit(task: DownloadTask) -> Orbit:
    if task.orbit is None:
        raise BVMValueError(
            f'task {task.key} names no orbit direction; plan Sentinel-1 tasks '
            'with Sentinel1Options.expand'
        )
    return check_orbit(task.orbit)[0]


def build_s1_process_graph(
    sheet: Sheet | str,
    temporal_extent: Sequence[str],
    orbit: Orbit,
    options: Sentinel1Options,
) -> dict[str, Any]:
    """The openEO process graph of one sheet, period and orbit direction.

    Args:
        sheet: the map sheet.
        temporal_extent: ``[start, end]`` ISO dates, the end exclusive.
        orbit: the orbit direction.
        options: bands, composite and CRS.

    Returns:
        The openEO process object ``{'process_graph': {...}}`` (flat graph).
    """
    direction = check_orbit(orbit)[0].upper()
    cube = DataCube.load_collection(
        S1_COLLECTION,
        spatial_extent=sheet_extent(sheet),
        temporal_extent=list(temporal_extent),
        bands=list(options.bands),
        properties={
            'sat:orbit_state': lambda state: state == direction,
            'polarisation': lambda channels: channels == 'VV&VH',
        },
    )
    # DataCube.sar_backscatter would first ask a backend for the process's
    # coefficients (and log a warning without one); these are its arguments.
    cube = cube.process('sar_backscatter', data=cube, **sar_backscatter_arguments())
    if options.composite == 'monthly':
        cube = cube.aggregate_temporal_period('month', reducer='mean')
    if options.crs is not None:
        cube = resample(cube, options.crs, 'bilinear')
    graph: dict[str, Any] = cube.save_result(format='GTiff').flat_graph()
    return {'process_graph': graph}
