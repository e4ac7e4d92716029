r"""Fused maps: every clear observation of a sheet in one map, without seams.

A single-date model predicts a tile from one acquisition; a map of a year
should rest on every clear one. :class:`SheetFusion` accumulates, for every
pixel of one map sheet, the class probabilities of every tile that covers the
pixel on every observation, weighted by

.. math::

   w = \text{clear} \times \text{taper}

* **clear**: 1 where the observation is clear at the pixel, else 0: the pixel
  has data and its scene classification passes the imagery's cloud rule (the
  ``valid`` mask of :class:`~torchgeo_bvm.datasets.Sentinel2TOC`, the rule that
  decides which pixels keep their label in training). A cloudy observation
  does not count at all; a time series (one prediction from many dates) is
  one observation, clear where at least one of its dates is;
* **taper** (:func:`edge_taper`): ``sin²(π (i + ½) / size)`` along the rows
  times the same along the columns: highest at the tile's centre and close to
  zero at its border, where the network sees the least context. With tiles
  every ``size / 2`` pixels the tapers of the overlapping tiles add up to one
  everywhere (``sin² + cos² = 1``), so each tile fades into its neighbours and
  no tile border shows.

Per pixel the fused probabilities are ``Σ w p / Σ w``; the **class** is their
argmax, the **confidence** their maximum (through the model's confidence
table when it has one: the calibrated probability that the class is right,
:func:`~torchgeo_bvm.evaluation.calibration.confidence_table`) and the
**count** the number of clear observations (each counted once, however many
tiles cover the pixel; a time series counts its clear dates). Tiles may come
in any order. A pixel clear on no observation, or outside the sheet, Flanders
or the data, has class 255 and confidence 255; its count is 0, or 255
outside.

:meth:`SheetFusion.write` writes the files of the fused-map contract
(:mod:`torchgeo_bvm.maps.files`) on the sheet's exact grid, every one a Cloud
Optimized GeoTIFF with overviews; :func:`write_mosaic` joins written sheets
into a mosaic (GDAL virtual rasters, see there why) and :func:`plot_fused_map`
draws a quick-look of it.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling

from ..checks import MAX_ACCUMULATOR_BYTES, check_bytes
from ..classes import CLASS_NAMES, IGNORE_INDEX
from ..errors import BVMFileError, BVMValueError
from ..fileio import atomic_path
from ..plot import plot_class_map
from ..spatial.classraster import class_raster_aux_xml, write_class_raster
from ..spatial.cog import write_cog
from ..spatial.pixelgrid import Grid
from .files import CONFIDENCE_SCALE, SIBLING_SUFFIXES, sibling_path

__all__ = [
    'MAX_COUNT',
    'MOSAIC',
    'SheetFusion',
    'edge_taper',
    'fused_map_files',
    'plot_fused_map',
    'write_fused_sheet',
    'write_mosaic',
]

#: The largest count written; 255 is nodata.
MAX_COUNT = 254
#: The mosaic's class raster in a folder of maps (:func:`write_mosaic`).
MOSAIC = 'mosaic.vrt'


def edge_taper(size: int) -> NDArray[np.float32]:
    """The weight of each pixel of a square tile: ``sin²`` across, times ``sin²`` down.

    ``w(i) = sin²(π (i + ½) / size)`` is never zero, peaks at the centre and,
    for tiles ``size / 2`` apart, sums to one over the overlapping tiles
    (``w(i) + w(i + size / 2) = 1``).

    Args:
        size: the tile's side in pixels.

    Returns:
        ``[size, size]`` float32 weights in ``(0, 1]``.
    """
    ramp = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(ramp, ramp).astype(np.float32)


@dataclass
class SheetFusion:
    """The fused prediction of one map sheet, accumulated tile by tile.

    Tiles may be added in any order. The count of a pixel is kept per
    observation until :meth:`close` says that the observation's last tile is
    in: a pixel covered by several tiles of one observation is counted once.

    Memory: ``4 (classes + 1) + 2`` bytes per pixel, and 2 more per observation
    still open (one at a time when the tiles come observation by observation),
    checked against :data:`~torchgeo_bvm.checks.MAX_ACCUMULATOR_BYTES` before
    anything is allocated.

    Args:
        grid: the sheet's grid (its pixel box on the imagery's grid).
        num_classes: the number of classes.
        inside: pixels that may carry a class (inside the sheet, Flanders and
            the data); all when None.
        confidence_table: ``[classes, 251]`` the calibrated probability of
            each confidence code per class (None: the fused maximum as it is).

    Raises:
        BVMValueError: if the accumulators would take too much memory.
    """

    grid: Grid
    num_classes: int
    inside: NDArray[np.bool_] | None = None
    confidence_table: NDArray[np.floating] | None = None
    _sums: NDArray[np.float32] = field(init=False, repr=False)
    _weights: NDArray[np.float32] = field(init=False, repr=False)
    _count: NDArray[np.uint16] = field(init=False, repr=False)
    _open: dict[int, NDArray[np.uint16]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        height, width = self.grid.shape
        self._check_memory(open_observations=1)
        if self.inside is not None and self.inside.shape != (height, width):
            raise BVMValueError(
                f'inside has the shape {self.inside.shape}, the sheet {(height, width)}'
            )
        self._sums = np.zeros((self.num_classes, height, width), dtype=np.float32)
        self._weights = np.zeros((height, width), dtype=np.float32)
        self._count = np.zeros((height, width), dtype=np.uint16)
        self._open = {}

    def _check_memory(self, open_observations: int) -> None:
        height, width = self.grid.shape
        check_bytes(
            float(height)
            * width
            * (4 * (self.num_classes + 1) + 2 + 2 * open_observations),
            MAX_ACCUMULATOR_BYTES,
            f'fusing a sheet of {width} x {height} pixels and '
            f'{self.num_classes} classes'
            + (
                f' with {open_observations} observations open'
                if open_observations > 1
                else ''
            ),
            'use a coarser resolution or a split scheme with smaller sheets',
        )

    def add(
        self,
        probabilities: NDArray[np.floating],
        clear: NDArray[np.bool_] | NDArray[np.integer],
        column: int,
        row: int,
        observation: int,
        taper: NDArray[np.float32] | None = None,
    ) -> None:
        """Add one tile's class probabilities on one observation.

        Args:
            probabilities: ``[num_classes, height, width]`` of the tile.
            clear: ``[height, width]``: whether the observation is clear at each
                pixel, or (a time series) on how many of its dates it is.
            column: the tile's left column relative to the sheet (negative or
                past the sheet where the tile reaches beyond it).
            row: the tile's top row relative to the sheet.
            observation: the observation's number, 0 or more; tiles of any
                observation may come in any order.
            taper: the tile's weights (default :func:`edge_taper` of its size).

        Raises:
            BVMValueError: for the wrong number of classes, shapes that differ,
                or more observations open at once than memory allows.
        """
        classes, height, width = probabilities.shape
        if classes != self.num_classes or clear.shape != (height, width):
            raise BVMValueError(
                f'expected probabilities of {self.num_classes} classes and a clear '
                f'mask of their size, got {probabilities.shape} and {clear.shape}'
            )
        if taper is None:
            taper = edge_taper(height) if height == width else _taper(height, width)
        rows, columns = self.grid.shape
        r0, c0 = max(row, 0), max(column, 0)
        r1, c1 = min(row + height, rows), min(column + width, columns)
        if r0 >= r1 or c0 >= c1:
            return
        tile = (slice(r0 - row, r1 - row), slice(c0 - column, c1 - column))
        here = (slice(r0, r1), slice(c0, c1))
        steps = np.asarray(clear[tile], dtype=np.uint16)
        weight = taper[tile] * (steps > 0)
        self._sums[:, here[0], here[1]] += (
            np.asarray(probabilities[:, tile[0], tile[1]], dtype=np.float32) * weight
        )
        self._weights[here] += weight
        # Every tile of an observation sees the same clear steps at a pixel:
        # the observation's count is theirs, whichever tiles cover it.
        seen = self._steps_of(observation)
        np.maximum(seen[here], steps, out=seen[here])

    def _steps_of(self, observation: int) -> NDArray[np.uint16]:
        if observation not in self._open:
            self._check_memory(open_observations=len(self._open) + 1)
            self._open[observation] = np.zeros(self.grid.shape, dtype=np.uint16)
        return self._open[observation]

    def close(self, observation: int) -> None:
        """Count an observation whose every tile has been added, and free it.

        Args:
            observation: the observation's number (one never added is ignored).
        """
        seen = self._open.pop(observation, None)
        if seen is not None:
            # Both terms are at most MAX_COUNT, so the sum cannot overflow.
            added = self._count + np.minimum(seen, MAX_COUNT)
            self._count = np.minimum(added, MAX_COUNT).astype(np.uint16)

    @property
    def fused(self) -> NDArray[np.bool_]:
        """Pixels with a class: at least one clear observation, inside the sheet."""
        fused: NDArray[np.bool_] = self._weights > 0
        if self.inside is not None:
            fused &= self.inside
        return fused

    def probabilities(self) -> NDArray[np.float32]:
        """The fused class probabilities, 0 where a pixel has no class.

        Returns:
            ``[num_classes, height, width]`` float32.
        """
        fused = self.fused
        result = np.zeros_like(self._sums)
        result[:, fused] = self._sums[:, fused] / self._weights[fused]
        return result

    def classes(self) -> NDArray[np.uint8]:
        """The fused class of every pixel, 255 where it has none.

        Returns:
            ``[height, width]`` uint8.
        """
        result = self._sums.argmax(axis=0).astype(np.uint8)
        result[~self.fused] = IGNORE_INDEX
        return result

    def confidence(self) -> NDArray[np.uint8]:
        """The fused maximum class probability x 250, 255 where there is no class.

        With a ``confidence_table``, each code is replaced by the calibrated
        probability x 250 of its class and code.

        Returns:
            ``[height, width]`` uint8 (divide by
            :data:`~torchgeo_bvm.maps.files.CONFIDENCE_SCALE` for the probability).
        """
        fused = self.fused
        result = np.full(self._weights.shape, IGNORE_INDEX, dtype=np.uint8)
        top = self._sums[:, fused].max(axis=0) / self._weights[fused]
        codes = np.rint(top * CONFIDENCE_SCALE).astype(np.uint8)
        if self.confidence_table is not None:
            table = np.asarray(self.confidence_table, dtype=np.float64)
            classes = self._sums[:, fused].argmax(axis=0)
            codes = np.rint(table[classes, codes] * CONFIDENCE_SCALE).astype(np.uint8)
        result[fused] = codes
        return result

    def counts(self) -> NDArray[np.uint8]:
        """Clear observations per pixel (at most :data:`MAX_COUNT`), 255 outside.

        Observations not closed yet are counted too.

        Returns:
            ``[height, width]`` uint8.
        """
        count = self._count.astype(np.int64)
        for seen in self._open.values():
            count += seen
        result = np.minimum(count, MAX_COUNT).astype(np.uint8)
        if self.inside is not None:
            result[~self.inside] = IGNORE_INDEX
        return result

    def write(
        self, path: str | os.PathLike[str], probabilities: bool = False
    ) -> dict[str, Path]:
        """Write the sheet's files of the fused-map contract.

        See :func:`write_fused_sheet`.

        Args:
            path: the class raster, ``<name>.tif``.
            probabilities: also write the fused per-class probabilities.

        Returns:
            The files written by kind: ``count``, ``confidence``,
            ``probabilities`` (if asked for) and ``classes``.
        """
        scaled = None
        if probabilities:
            scaled = np.rint(self.probabilities() * CONFIDENCE_SCALE).astype(np.uint8)
            scaled[:, ~self.fused] = IGNORE_INDEX
        return write_fused_sheet(
            path, self.grid, self.classes(), self.confidence(), self.counts(), scaled
        )


def write_fused_sheet(
    path: str | os.PathLike[str],
    grid: Grid,
    classes: NDArray[np.uint8],
    confidence: NDArray[np.uint8],
    counts: NDArray[np.uint8],
    probabilities: NDArray[np.uint8] | None = None,
) -> dict[str, Path]:
    """Write a sheet's files of the fused-map contract, the class raster last.

    ``<name>_count.tif``, ``<name>_confidence.tif`` (GDAL scale 1/250, so
    QGIS shows 0..1), optionally ``<name>_probabilities.tif`` (one band per
    class, the same scale) and then ``<name>.tif`` with the class colour
    table and names: a sheet whose class raster exists is complete. Every
    file is a COG with overviews (nearest for classes and counts, average
    for probabilities), on the sheet's grid.

    Args:
        path: the class raster, ``<name>.tif``.
        grid: the sheet's grid.
        classes: ``[H, W]`` class ids, 255 where there is no class.
        confidence: ``[H, W]`` confidence codes (probability x 250), 255 where
            there is no class.
        counts: ``[H, W]`` clear observations, 255 outside the sheet.
        probabilities: ``[classes, H, W]`` probability codes, or None.

    Returns:
        The files written by kind: ``count``, ``confidence``,
        ``probabilities`` (if given) and ``classes``.
    """
    path = Path(path)
    written: dict[str, Path] = {}
    for kind, suffix, band, description, probability in (
        ('count', '_count', counts, 'clear observations', False),
        ('confidence', '_confidence', confidence, 'confidence', True),
    ):
        written[kind] = _write_uint8(
            sibling_path(path, suffix),
            band[np.newaxis],
            grid,
            [description],
            probability=probability,
        )
    if probabilities is not None:
        written['probabilities'] = _write_uint8(
            sibling_path(path, '_probabilities'),
            probabilities,
            grid,
            list(CLASS_NAMES[: len(probabilities)]),
            probability=True,
        )
    written['classes'] = write_class_raster(
        path, classes, grid, description='fused class', progress=False
    )
    return written


def fused_map_files(
    sheets: Sequence[str],
    probabilities: bool = False,
    preview: bool = True,
    mosaic: bool = True,
) -> list[str]:
    """The names of a folder of fused maps' files, in the order they are written.

    Per sheet its siblings (``_count``, ``_confidence`` and, with
    ``probabilities``, ``_probabilities``), its class raster and, with
    ``preview``, its PNG; then, with ``mosaic``, :data:`MOSAIC`, its siblings
    and its quick-look.

    Args:
        sheets: the sheets' class rasters (``22_7-8.tif``).
        probabilities: whether the probabilities are written.
        preview: whether each sheet has a PNG.
        mosaic: whether the mosaic is written.

    Returns:
        The file names.
    """
    suffixes = ['_count', '_confidence']
    if probabilities:
        suffixes.append('_probabilities')
    names = []
    for name in sheets:
        path = Path(name)
        names += [sibling_path(path, s).name for s in suffixes] + [path.name]
        if preview:
            names.append(path.with_suffix('.png').name)
    if mosaic:
        joined = Path(MOSAIC)
        names += [joined.name] + [sibling_path(joined, s).name for s in suffixes]
        names.append(joined.with_suffix('.png').name)
    return names


def _write_uint8(
    path: Path,
    bands: NDArray[np.uint8],
    grid: Grid,
    descriptions: list[str],
    probability: bool,
) -> Path:
    """A uint8 COG on the sheet's grid, nodata 255.

    A probability's bands hold it times :data:`CONFIDENCE_SCALE` (GDAL's
    scale says so) and their overviews average it.
    """
    count = len(bands)
    return write_cog(
        path,
        bands,
        grid,
        count=count,
        dtype='uint8',
        nodata=IGNORE_INDEX,
        descriptions=descriptions,
        scales=[1 / CONFIDENCE_SCALE] * count if probability else None,
        offsets=[0.0] * count if probability else None,
        overview_resampling='average' if probability else 'nearest',
        progress=False,
    )


def _taper(height: int, width: int) -> NDArray[np.float32]:
    down = np.sin(np.pi * (np.arange(height) + 0.5) / height) ** 2
    across = np.sin(np.pi * (np.arange(width) + 0.5) / width) ** 2
    return np.outer(down, across).astype(np.float32)


# -- the mosaic ----------------------------------------------------------------


def write_mosaic(
    sheets: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str]
) -> dict[str, Path]:
    """Join the fused maps of sheets into a mosaic of GDAL virtual rasters.

    ``path`` (a ``.vrt``) mosaics the sheets' class rasters, with the class
    colour table and names; beside it ``<stem>_confidence.vrt`` and
    ``<stem>_count.vrt`` (and ``<stem>_probabilities.vrt`` when every sheet has
    probabilities) mosaic their siblings. A virtual raster rather than one more
    GeoTIFF: it copies no pixel (a Flanders-wide copy would double the disk
    used and take minutes to write), it is always what the sheets hold, GDAL
    and QGIS read it like one raster and use the sheets' own overviews when
    zoomed out, and a folder scan for class maps (``.tif``, as
    ``torchgeo-bvm compare`` does) does not count its pixels twice. It refers
    to the sheets by relative path, so keep it in their folder.

    Args:
        sheets: the sheets' class rasters (``<sheet>.tif``), on one pixel
            lattice (same CRS and resolution, offsets of whole pixels), in the
            folder of ``path``.
        path: the mosaic's class raster (``.vrt``).

    Returns:
        The files written by kind (``classes``, ``confidence``, ``count``,
        ``probabilities``).

    Raises:
        BVMValueError: for no sheets, a path that is no ``.vrt``, sheets on
            different lattices or in another folder.
        BVMFileError: if a sheet or one of its siblings is missing.
    """
    path = Path(path)
    if path.suffix.lower() != '.vrt':
        raise BVMValueError(f'{path}: a mosaic is a virtual raster, name it .vrt')
    files = [Path(s) for s in sheets]
    if not files:
        raise BVMValueError(f'{path}: no sheet to mosaic')
    for file in files:
        if file.parent.resolve() != path.parent.resolve():
            raise BVMValueError(
                f'{file}: not in the folder of the mosaic {path} (it refers to '
                'its sheets by relative path)'
            )
    written: dict[str, Path] = {}
    kinds = {'classes': ''} | {s.lstrip('_'): s for s in SIBLING_SUFFIXES}
    for kind, suffix in kinds.items():
        sources = [sibling_path(f, suffix) if suffix else f for f in files]
        if kind == 'probabilities' and not all(s.exists() for s in sources):
            continue
        missing = [s for s in sources if not s.exists()]
        if missing:
            raise BVMFileError(f'{missing[0]}: not found, cannot mosaic the sheets')
        target = sibling_path(path, suffix) if suffix else path
        text = _vrt(sources, kind == 'classes')
        with atomic_path(target) as temporary:
            temporary.write_text(text)
        written[kind] = target
    return written


@dataclass(frozen=True)
class _Source:
    path: Path
    grid: Grid
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]


def _open_source(path: Path) -> _Source:
    with rasterio.open(path) as src:
        return _Source(
            path,
            Grid.of_file(src),
            src.count,
            src.dtypes[0],
            src.nodata,
            tuple(src.descriptions),
            tuple(src.scales),
            tuple(src.offsets),
        )


def _vrt(paths: Sequence[Path], classes: bool) -> str:
    """The XML of a virtual raster mosaicking rasters of one lattice."""
    sources = [_open_source(p) for p in paths]
    first = sources[0]
    res = first.grid.res
    for source in sources[1:]:
        same = (
            source.grid.crs == first.grid.crs
            and np.allclose(source.grid.res, res, rtol=1e-9, atol=0)
            and first.grid.aligned(
                source.grid.bounds, source.grid.res, source.grid.shape
            )
            is not None
            and (source.count, source.dtype) == (first.count, first.dtype)
        )
        if not same:
            raise BVMValueError(
                f'{source.path} and {first.path} are not on one pixel lattice (CRS, '
                'resolution, whole-pixel offsets) with the same bands: they cannot '
                'be mosaicked'
            )
    left = min(s.grid.left for s in sources)
    top = max(s.grid.top for s in sources)
    right = max(s.grid.bounds[2] for s in sources)
    bottom = min(s.grid.bounds[1] for s in sources)
    width = round((right - left) / res[0])
    height = round((top - bottom) / res[1])
    assert first.grid.crs is not None
    lines = [
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
        f'  <SRS>{escape(first.grid.crs.to_wkt())}</SRS>',
        f'  <GeoTransform>{left!r}, {res[0]!r}, 0.0, {top!r}, 0.0, '
        f'{-res[1]!r}</GeoTransform>',
    ]
    data_type = {'uint8': 'Byte'}.get(first.dtype, first.dtype.capitalize())
    for band in range(1, first.count + 1):
        lines.append(f'  <VRTRasterBand dataType="{data_type}" band="{band}">')
        if first.nodata is not None:
            lines.append(f'    <NoDataValue>{first.nodata:g}</NoDataValue>')
        if classes:
            lines += _class_band_metadata()
        else:
            description = first.descriptions[band - 1]
            if description:
                lines.append(f'    <Description>{escape(description)}</Description>')
            lines.append(f'    <Offset>{first.offsets[band - 1]!r}</Offset>')
            lines.append(f'    <Scale>{first.scales[band - 1]!r}</Scale>')
        for source in sources:
            column = round((source.grid.left - left) / res[0])
            row = round((top - source.grid.top) / res[1])
            rows, columns = source.grid.shape
            name = escape(source.path.name)
            lines += [
                '    <ComplexSource>',
                f'      <SourceFilename relativeToVRT="1">{name}</SourceFilename>',
                f'      <SourceBand>{band}</SourceBand>',
                f'      <SrcRect xOff="0" yOff="0" xSize="{columns}" ySize="{rows}"/>',
                f'      <DstRect xOff="{column}" yOff="{row}" xSize="{columns}" '
                f'ySize="{rows}"/>',
            ]
            if first.nodata is not None:
                # Pixels outside a sheet are nodata: they never cover a neighbour.
                lines.append(f'      <NODATA>{first.nodata:g}</NODATA>')
            lines.append('    </ComplexSource>')
        lines.append('  </VRTRasterBand>')
    lines.append('</VRTDataset>')
    return '\n'.join(lines) + '\n'


def _class_band_metadata() -> list[str]:
    """The description, colours, names and attribute table of a class band."""
    band = ET.fromstring(class_raster_aux_xml(description='fused class')).find(
        'PAMRasterBand'
    )
    assert band is not None
    ET.indent(band, space='  ', level=2)
    return ['    ' + ET.tostring(child, encoding='unicode').strip() for child in band]


# -- the quick-look --------------------------------------------------------------


def plot_fused_map(
    path: str | os.PathLike[str],
    image: str | os.PathLike[str],
    title: str,
    max_side: int = 1600,
) -> Path:
    """A PNG quick-look of a fused map (a sheet or a mosaic), with a legend.

    The map is read at most ``max_side`` pixels wide and high (nearest
    resampling, from the overviews), cut to where it has classes and drawn at
    its own aspect, so the picture is the map
    (:func:`~torchgeo_bvm.plot.plot_class_map`).

    Args:
        path: the class raster (``.tif`` or ``.vrt``).
        image: the PNG to write.
        title: its title.
        max_side: the most pixels read along either side.

    Returns:
        ``image``.
    """
    with rasterio.open(path) as src:
        factor = max(1, math.ceil(max(src.width, src.height) / max_side))
        shape = (math.ceil(src.height / factor), math.ceil(src.width / factor))
        classes = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        transform = src.transform @ src.transform.scale(
            src.width / shape[1], src.height / shape[0]
        )
        grid = Grid(Grid.of_file(src).crs, transform, shape[1], shape[0])
    plot_class_map(classes, grid, Path(image), title)
    return Path(image)
