"""Maps made where the data lives: an exported model as an openEO UDF.

:mod:`~torchgeo_bvm.openeo_map.udf` is the UDF (numpy, xarray and onnxruntime
only), :mod:`~torchgeo_bvm.openeo_map.graph` the process graph of one sheet
and year, :mod:`~torchgeo_bvm.openeo_map.local` runs that graph's UDF here on
local imagery, :mod:`~torchgeo_bvm.openeo_map.jobs` runs the graphs as batch
jobs (openeo's ``MultiBackendJobManager``), and
:mod:`~torchgeo_bvm.openeo_map.mapper` ties them into ``torchgeo-bvm
openeo-map``, writing the fused-map files of ``torchgeo predict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .graph import MAP_BANDS, Lattice, MapSettings, build_map_graph, check_mappable
    from .jobs import JOB_DATABASE, JOBS_FOLDER, SheetJobManager
    from .local import LocalMap, classify, map_lattice
    from .mapper import DEFAULT_MAP_CRS, MappedYear, MapSheet, openeo_map

_HOMES: dict[str, str] = {
    'MAP_BANDS': 'graph',
    'Lattice': 'graph',
    'MapSettings': 'graph',
    'build_map_graph': 'graph',
    'check_mappable': 'graph',
    'JOB_DATABASE': 'jobs',
    'JOBS_FOLDER': 'jobs',
    'SheetJobManager': 'jobs',
    'LocalMap': 'local',
    'classify': 'local',
    'map_lattice': 'local',
    'DEFAULT_MAP_CRS': 'mapper',
    'MapSheet': 'mapper',
    'MappedYear': 'mapper',
    'openeo_map': 'mapper',
}

__all__ = [
    'DEFAULT_MAP_CRS',
    'JOBS_FOLDER',
    'JOB_DATABASE',
    'MAP_BANDS',
    'Lattice',
    'LocalMap',
    'MapSettings',
    'MapSheet',
    'MappedYear',
    'SheetJobManager',
    'build_map_graph',
    'check_mappable',
    'classify',
    'map_lattice',
    'openeo_map',
]

__getattr__, __dir__ = exports(__name__, _HOMES, __all__)
