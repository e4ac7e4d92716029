"""The openEO process graph that maps one sheet and year with an exported model.

Per map sheet and year, :func:`build_map_graph` writes, without a backend:

1. ``load_collection`` of Terrascope's Sentinel-2 L2A
   (:data:`~torchgeo_bvm.download.graph.COLLECTION`), the model's bands and
   ``SCL``, over the sheet's tiles (:class:`Lattice`) in the map's CRS, for the
   calendar year;
2. the package's SCL rule (:func:`~torchgeo_bvm.download.graph.mask_clouds`)
   and, for a monthly model, ``aggregate_temporal_period`` to monthly medians:
   the composites the model was trained on (``torchgeo-bvm download
   --composite monthly`` makes the same); a single-date model gets every date;
3. ``resample_spatial`` onto the map's CRS at 10 m (a no-op on Terrascope's
   own UTM grid);
4. ``apply_neighborhood`` with ``run_udf``: chunks of ``chunk`` pixels, with an
   ``overlap`` of the patch size on every side, so that every tile covering a
   pixel of a chunk's core lies in the chunk (openEO asks for an overlap
   smaller than the chunk). The UDF (:mod:`~torchgeo_bvm.openeo_map.udf`)
   returns the fused class probabilities and the clear steps;
5. ``apply_dimension`` over the bands: the class (``array_find`` of the
   ``max``: the first most probable class, as numpy's ``argmax``), its
   probability and the clear steps, renamed ``class``, ``confidence`` and
   ``clear``;
6. ``save_result`` as GeoTIFF.

The UDF finds the model at ``context['model']``: the folder as the backend
sees it (:attr:`MapSettings.model_location`), for example the folder a
``udf-dependency-archives`` job option unpacks the model's zip into.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from openeo.processes import ProcessBuilder, array_create, array_element, array_find
from openeo.rest.datacube import (  # type: ignore[attr-defined]  # UDF: unmarked re-export
    UDF,
    DataCube,
)
from pyproj import CRS

from ..datasets.bands import ALL_BANDS, SCL_BAND
from ..download.graph import COLLECTION, DownloadOptions, mask_clouds, resample
from ..errors import BVMValueError
from ..export.card import ModelCard
from ..sheets.layout import tile_starts
from ..spatial.pixelgrid import Grid
from .udf import CLEAR_BAND

__all__ = [
    'MAP_BANDS',
    'Lattice',
    'MapSettings',
    'build_map_graph',
    'check_mappable',
    'dumps',
    'graph_processes',
    'neighbourhood_udf',
    'spatial_extent',
    'udf_code',
]

#: The bands of a map job's GeoTIFF, in order.
MAP_BANDS = ('class', 'confidence', CLEAR_BAND)


@dataclass(frozen=True)
class Lattice:
    """The tiles of one sheet: ``columns`` x ``rows`` tiles every ``stride`` pixels.

    Tile ``(row, column)`` covers the pixels ``column * stride`` to
    ``column * stride + size`` across (and likewise down), counted from the
    left and top edge of tile ``(0, 0)``: the tiling of
    :meth:`~torchgeo_bvm.sheets.layout.SplitRegion.tiles` (centred on the
    sheet's pixel box) that ``torchgeo predict`` reads.

    Args:
        grid: the grid of every tile pixel: its upper-left pixel is tile
            ``(0, 0)``'s, its size the tiles' extent.
        columns: tiles across.
        rows: tiles down.
        size: a tile's side in pixels.
        stride: pixels between neighbouring tiles.
    """

    grid: Grid
    columns: int
    rows: int
    size: int
    stride: int

    @classmethod
    def of_box(
        cls, grid: Grid, box: tuple[int, int, int, int], size: int, stride: int
    ) -> Lattice:
        """The tiling of a sheet's pixel box.

        Args:
            grid: the imagery's pixel grid.
            box: ``(first column, first row, stop column, stop row)`` of the
                sheet on ``grid``.
            size: tile size.
            stride: step between tiles.

        Returns:
            The lattice.
        """
        c0, r0, c1, r1 = box
        across = tile_starts(c0, c1, size, stride)
        down = tile_starts(r0, r1, size, stride)
        width = (len(across) - 1) * stride + size
        height = (len(down) - 1) * stride + size
        transform = grid.window_transform(across[0], down[0])
        return cls(
            Grid(grid.crs, transform, width, height),
            len(across),
            len(down),
            size,
            stride,
        )

    def context(self) -> dict[str, Any]:
        """What the UDF's ``context['lattice']`` holds.

        Returns:
            ``left``, ``top``, ``xres``, ``yres``, ``columns``, ``rows``.
        """
        return {
            'left': self.grid.left,
            'top': self.grid.top,
            'xres': self.grid.xres,
            'yres': self.grid.yres,
            'columns': self.columns,
            'rows': self.rows,
        }


@dataclass(frozen=True)
class MapSettings:
    """How a map is made in openEO, the same for every sheet.

    Args:
        chunk: the core of an ``apply_neighborhood`` chunk in pixels.
        model_location: where the UDF finds the model folder on the backend.
        max_cloud_cover: keep only scenes with at most this cloud cover (%).
        cloud_mask: ``'scl'`` or ``'dilation'``
            (:class:`~torchgeo_bvm.download.graph.DownloadOptions`).
    """

    chunk: int = 256
    model_location: str = 'model'
    max_cloud_cover: float | None = None
    cloud_mask: Literal['scl', 'dilation'] = 'scl'

    def overlap(self, card: ModelCard) -> int:
        """The overlap of the chunks: the patch size.

        Args:
            card: the model.

        Returns:
            Pixels on every side of a chunk's core.
        """
        return card.patch_size


def check_mappable(card: ModelCard, settings: MapSettings) -> None:
    """Refuse, in one line, a model or chunking that openEO cannot map.

    Args:
        card: the exported model.
        settings: the chunking.

    Raises:
        BVMValueError: for radar bands, a per-date series, or an overlap
            (the patch size) not smaller than the chunk.
    """
    radar = [band for band in card.bands if band not in ALL_BANDS]
    if radar:
        raise BVMValueError(
            f'model.json: bands {", ".join(radar)} are not Sentinel-2 bands; '
            'openeo-map reads Sentinel-2 L2A only'
        )
    if card.temporal == 'dates':
        raise BVMValueError(
            "model.json: temporal layout 'dates' (a series of acquisitions) is not "
            'mapped in openEO; export a single-date or monthly model'
        )
    overlap = settings.overlap(card)
    if not overlap < settings.chunk:
        raise BVMValueError(
            f'--chunk {settings.chunk}: openEO needs the overlap ({overlap} px, '
            f'the patch size) smaller than the chunk; use --chunk {2 * overlap} '
            'or more'
        )


def udf_code() -> str:
    """The UDF's source, as ``run_udf`` carries it.

    Returns:
        The text of :mod:`torchgeo_bvm.openeo_map.udf`.
    """
    return resources.files(__package__).joinpath('udf.py').read_text()


def spatial_extent(lattice: Lattice) -> dict[str, Any]:
    """The lattice's bounds as ``load_collection`` takes them, in its own CRS.

    Args:
        lattice: the sheet's tiles.

    Returns:
        ``west``, ``south``, ``east``, ``north`` and ``crs`` (the EPSG code).

    Raises:
        BVMValueError: if the lattice's CRS has no EPSG code.
    """
    epsg = CRS.from_user_input(lattice.grid.crs).to_epsg()
    if epsg is None:
        raise BVMValueError(f'the map CRS {lattice.grid.crs} has no EPSG code')
    west, south, east, north = lattice.grid.bounds
    return {'west': west, 'south': south, 'east': east, 'north': north, 'crs': epsg}


def build_map_graph(
    card: ModelCard,
    lattice: Lattice,
    year: int,
    settings: MapSettings,
    title: str | None = None,
) -> dict[str, Any]:
    """The openEO process graph of one sheet and year (see the module).

    Args:
        card: the exported model.
        lattice: the sheet's tiles, in the map's CRS.
        year: the calendar year.
        settings: the chunking, model location and cloud rule.
        title: a note for the UDF's context (the sheet's code).

    Returns:
        The openEO process object ``{'process_graph': {...}}`` (flat graph).
    """
    check_mappable(card, settings)
    monthly = card.temporal == 'monthly'
    options = DownloadOptions(
        bands=card.bands,
        composite='monthly' if monthly else None,
        max_cloud_cover=settings.max_cloud_cover,
        crs=str(lattice.grid.crs),
        cloud_mask=settings.cloud_mask,
    )
    cube = DataCube.load_collection(
        COLLECTION,
        spatial_extent=spatial_extent(lattice),
        temporal_extent=[f'{year}-01-01', f'{year + 1}-01-01'],
        bands=[*card.bands, SCL_BAND],
        max_cloud_cover=settings.max_cloud_cover,
    )
    cube = mask_clouds(cube, options)
    if monthly:
        cube = cube.aggregate_temporal_period('month', reducer='median')
    assert options.crs is not None
    cube = resample(cube, options.crs, 'near')
    overlap = settings.overlap(card)
    context = {
        'model': settings.model_location,
        'lattice': lattice.context(),
        'sheet': title,
    }
    udf = UDF(udf_code(), runtime='Python', context=context)
    mapped = cube.apply_neighborhood(
        process=udf,
        size=[
            {'dimension': 'x', 'value': settings.chunk, 'unit': 'px'},
            {'dimension': 'y', 'value': settings.chunk, 'unit': 'px'},
        ],
        overlap=[
            {'dimension': 'x', 'value': overlap, 'unit': 'px'},
            {'dimension': 'y', 'value': overlap, 'unit': 'px'},
        ],
    )
    # The client's idea of the cube, built without a backend, stops at the UDF
    # (it keeps neither ``t`` nor the UDF's bands); the backend knows the rest.
    mapped.metadata = None
    classes = len(card.classes)
    mapped = mapped.reduce_dimension(dimension='t', reducer='first')
    mapped = mapped.apply_dimension(
        dimension='bands', process=lambda data: _classify(data, classes)
    ).rename_labels('bands', list(MAP_BANDS))
    graph: dict[str, Any] = mapped.save_result(format='GTiff').flat_graph()
    return {'process_graph': graph}


def _classify(data: ProcessBuilder, classes: int) -> ProcessBuilder:
    """The class (first most probable), its probability and the clear steps."""
    probabilities = array_create([array_element(data, index=k) for k in range(classes)])
    top = probabilities.max()
    label = array_find(probabilities, top)
    result: ProcessBuilder = array_create(
        [label, top, array_element(data, index=classes)]
    )
    return result


def neighbourhood_udf(graph: dict[str, Any]) -> tuple[UDF, int, int]:
    """The UDF of a map graph's ``apply_neighborhood``, as a backend runs it.

    Args:
        graph: ``{'process_graph': {...}}`` (:func:`build_map_graph`).

    Returns:
        The ``run_udf``'s code, runtime and context as an ``openeo.UDF``, and
        the chunk and overlap along ``x`` in pixels.

    Raises:
        BVMValueError: if the graph has no single ``apply_neighborhood`` over
            one ``run_udf``.
    """
    nodes = [
        node['arguments']
        for node in graph['process_graph'].values()
        if node['process_id'] == 'apply_neighborhood'
    ]
    inner = [n['process']['process_graph'] for n in nodes]
    if len(nodes) != 1 or len(inner[0]) != 1:
        raise BVMValueError('a map graph holds one apply_neighborhood of one run_udf')
    (udf,) = inner[0].values()
    if udf['process_id'] != 'run_udf':
        raise BVMValueError(
            f'apply_neighborhood runs {udf["process_id"]!r}, not run_udf'
        )
    arguments = udf['arguments']
    size = {item['dimension']: item['value'] for item in nodes[0]['size']}
    overlap = {item['dimension']: item['value'] for item in nodes[0]['overlap']}
    code = UDF(
        arguments['udf'], runtime=arguments['runtime'], context=arguments['context']
    )
    return code, int(size['x']), int(overlap['x'])


def graph_processes(graph: dict[str, Any]) -> list[str]:
    """Every process id of a flat graph and its callbacks, in order.

    Args:
        graph: ``{'process_graph': {...}}``.

    Returns:
        The ids, each once.
    """
    found: dict[str, None] = {}

    def walk(nodes: dict[str, Any]) -> None:
        for node in nodes.values():
            found[node['process_id']] = None
            for value in node.get('arguments', {}).values():
                if isinstance(value, dict) and 'process_graph' in value:
                    walk(value['process_graph'])

    walk(graph['process_graph'])
    return list(found)


def dumps(graph: dict[str, Any]) -> str:
    """A graph as the ``.json`` file of a dry run writes it.

    Args:
        graph: the process object.

    Returns:
        Indented JSON.
    """
    return json.dumps(graph, indent=1) + '\n'
