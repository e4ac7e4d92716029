r"""Where a class map disagrees with the BVM: exact zonal statistics per polygon.

A land-cover map predicted by a model (the fused map of a year) is compared with
the Biological Valuation Map polygon by polygon: for every BVM polygon the map
covers, how many of its pixels the map puts in each class, how sure the model
was, and a score that ranks the polygons where the BVM is most probably out of
date. :func:`compare_with_bvm` writes the result as a GeoPackage, a per-class
summary (CSV and Markdown) and a picture of the strongest candidates;
``torchgeo-bvm compare`` is its command line. The maps follow the contract of
:mod:`torchgeo_bvm.maps.files` (class raster, ``_confidence`` sibling, 255 where
there is no class), one per sheet or one mosaic, in any CRS.

**Pixels.** A polygon holds the pixels whose centre lies inside it (holes
excluded), by the package's scanline rule (:mod:`torchgeo_bvm.spatial.scanline`), the
same rule as the labels, with the polygons repaired and reprojected into the
map's CRS as :class:`~torchgeo_bvm.datasets.BVMDataset` does (vertices only).
Pixels of 255 are left out; a polygon with no other pixel has a pixel count of
0 and is not a candidate.

**Overlapping polygons.** Every polygon gets every pixel whose centre lies in
it: these are zonal statistics, not a burn. A pixel under two overlapping
polygons counts for both, because each polygon's own claim about its area is
what is tested; burning them first (the labels give an overlap to the smaller
polygon) would leave the larger polygon's statistics without part of its area.

**Several maps.** Statistics add up over the maps: a polygon straddling two
sheets gets the pixels of both, each once, because maps must not overlap
(:func:`~torchgeo_bvm.maps.files.check_maps_disjoint` runs before anything is
counted, and overlapping maps are an error).

**Score.** For a polygon with ``n`` counted pixels, of which the share ``a``
(``agreement``) is predicted as its BVM class, and mean confidence ``c``:

.. math::

   \text{score} = (1 - a) \cdot c \cdot \frac{n}{n + n_{1/2}}

with :math:`n_{1/2}` = :data:`SIZE_HALF_PIXELS` (10 pixels, 0.1 ha at 10 m).
``1 - a`` is how much of the polygon the map puts in another class; ``c`` how
sure the model was there, so confident disagreement outranks a hesitant one;
the size factor damps small polygons, whose shares rest on a few pixels that are
mostly mixed edge pixels at 10 m (a 3-pixel hedge disagrees for reasons other
than change), and saturates, so that a large polygon does not outrank a smaller
one by area alone (with the raw area as a factor, every large field would come
before any disagreeing heath). Without confidence rasters ``c`` is taken as 1
and the score ranks by disagreement and size only. The score lies in [0, 1).

A **candidate** is a polygon with a BVM class, at least one counted pixel and a
predicted majority class other than its BVM class (a tie with the BVM class is
not a disagreement). Candidates are ranked by score (ties: more pixels first,
then file order); ``rank`` 1 is the strongest.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Never

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.warp
import rasterio.windows
import shapely
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.windows import Window
from shapely import STRtree
from tqdm import tqdm

from ..bvm.layer import BVMLayer
from ..bvm.units import UnitMapping
from ..checks import MAX_CANDIDATES, check_count
from ..classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from ..errors import BVMValueError
from ..fileio import atomic_paths
from ..plot import class_legend, save_figure, show_classes
from ..spatial.geometry import repair_polygons, reproject_geometry
from ..spatial.pixelgrid import Grid
from ..spatial.scanline import pixel_runs, run_pixels
from .files import CONFIDENCE_SCALE, ClassMap, check_maps_disjoint, find_class_maps

__all__ = [
    'OUTPUT_NAMES',
    'SIZE_HALF_PIXELS',
    'Comparison',
    'ZonalCounts',
    'class_summary',
    'compare_with_bvm',
    'plot_candidates',
    'polygon_table',
    'ranking_score',
    'summary_markdown',
    'zonal_counts',
]

#: Pixel count at which the score's size factor is one half.
SIZE_HALF_PIXELS = 10
#: The files :func:`compare_with_bvm` writes into its output folder, by kind.
OUTPUT_NAMES = {
    'geopackage': 'disagreement.gpkg',
    'summary_csv': 'class_agreement.csv',
    'summary_markdown': 'class_agreement.md',
    'candidates': 'candidates.png',
}
#: Layer name inside the GeoPackage.
LAYER_NAME = 'disagreement'
#: Fields the output takes from the BVM layer to identify polygons.
ID_FIELDS = ('TAG', 'UIDN')


# -- zonal statistics ---------------------------------------------------------------


@dataclass
class ZonalCounts:
    """Pixel counts per polygon and predicted class, and confidence sums.

    Args:
        counts: ``[polygons, NUM_CLASSES]`` int64, pixels per predicted class.
        confidence_sum: per polygon, the sum of the confidences (0..1) of its
            counted pixels that have one.
        confidence_pixels: per polygon, how many counted pixels have one.
        covered: per polygon, whether it meets the extent of some map.
        main_map: per polygon, the index of the map giving it most pixels
            (-1 for none).
    """

    counts: NDArray[np.int64]
    confidence_sum: NDArray[np.float64]
    confidence_pixels: NDArray[np.int64]
    covered: NDArray[np.bool_]
    main_map: NDArray[np.int64]

    @classmethod
    def zeros(cls, polygons: int) -> ZonalCounts:
        """Counts of nothing yet.

        Args:
            polygons: the number of polygons.

        Returns:
            All-zero counts.
        """
        return cls(
            np.zeros((polygons, NUM_CLASSES), dtype=np.int64),
            np.zeros(polygons, dtype=np.float64),
            np.zeros(polygons, dtype=np.int64),
            np.zeros(polygons, dtype=bool),
            np.full(polygons, -1, dtype=np.int64),
        )

    @property
    def pixels(self) -> NDArray[np.int64]:
        """Counted pixels per polygon."""
        total: NDArray[np.int64] = self.counts.sum(axis=1)
        return total


def zonal_counts(
    geometries: NDArray[np.object_],
    crs: CRS,
    maps: Sequence[ClassMap],
    block_size: int = 2048,
    progress: bool = True,
) -> ZonalCounts:
    """Count, per polygon, the map's pixels of each class inside it.

    Each map is read block by block; a block's pixels are given to every polygon
    holding their centre (:func:`~torchgeo_bvm.spatial.scanline.pixel_runs` on the
    block's grid), so memory is bounded by the block and the per-polygon counts.

    Args:
        geometries: valid shapely polygons (None or empty ones get nothing).
        crs: their CRS.
        maps: the maps (see :func:`check_maps_disjoint`).
        block_size: pixels per block side.
        progress: show a progress bar.

    Returns:
        The counts, one row per geometry.

    Raises:
        BVMValueError: if a class map holds a value other than 0..13 and 255, or
            a confidence raster one in 251..254.
    """
    result = ZonalCounts.zeros(len(geometries))
    present = np.flatnonzero(
        ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    )
    best = np.zeros(len(geometries), dtype=np.int64)
    blocks = sum(_block_count(m.grid, block_size) for m in maps)
    by_crs: dict[CRS, list[int]] = {}
    for index, item in enumerate(maps):
        by_crs.setdefault(item.grid.crs or crs, []).append(index)
    with tqdm(
        total=blocks, desc='zonal statistics', unit='block', disable=not progress
    ) as bar:
        for map_crs, indices in by_crs.items():
            projected = reproject_geometry(geometries[present], crs, map_crs, 0.0)
            tree = STRtree(projected)
            for index in indices:
                item = maps[index]
                rows = present[tree.query(shapely.box(*item.grid.bounds))]
                result.covered[rows] = True
                before = result.counts[rows].sum(axis=1)
                _count_map(item, projected, present, tree, result, block_size, bar)
                gained = result.counts[rows].sum(axis=1) - before
                better = gained > best[rows]
                best[rows[better]] = gained[better]
                result.main_map[rows[better]] = index
    return result


def _block_count(grid: Grid, block_size: int) -> int:
    height, width = grid.shape
    return math.ceil(height / block_size) * math.ceil(width / block_size)


def _count_map(
    item: ClassMap,
    projected: NDArray[np.object_],
    present: NDArray[np.int64],
    tree: STRtree,
    result: ZonalCounts,
    block_size: int,
    bar: tqdm[Never],
) -> None:
    with rasterio.open(item.path) as src:
        confidence = rasterio.open(item.confidence) if item.confidence else None
        try:
            for window in item.grid.windows(block_size):
                bar.update()
                transform = rasterio.windows.transform(window, item.grid.transform)
                shape = (int(window.height), int(window.width))
                box = shapely.box(*rasterio.windows.bounds(window, item.grid.transform))
                hits = np.sort(tree.query(box))
                if not hits.size:
                    continue
                owner, row, start, stop = pixel_runs(projected[hits], transform, shape)
                if not owner.size:
                    continue
                pixel = run_pixels(row, start, stop, shape[1])
                owner = np.repeat(owner, stop - start)
                classes = src.read(1, window=window).ravel()
                _check_values(classes, NUM_CLASSES - 1, item.path, window)
                value = classes[pixel]
                valid = value != IGNORE_INDEX
                owner, pixel, value = owner[valid], pixel[valid], value[valid]
                local = np.bincount(
                    owner * NUM_CLASSES + value, minlength=len(hits) * NUM_CLASSES
                )
                rows = present[hits]
                result.counts[rows] += local.reshape(len(hits), NUM_CLASSES)
                if confidence is not None:
                    scores = confidence.read(1, window=window).ravel()[pixel]
                    _check_values(scores, CONFIDENCE_SCALE, item.confidence, window)
                    known = scores != IGNORE_INDEX
                    result.confidence_sum[rows] += np.bincount(
                        owner[known],
                        weights=scores[known] / CONFIDENCE_SCALE,
                        minlength=len(hits),
                    )
                    result.confidence_pixels[rows] += np.bincount(
                        owner[known], minlength=len(hits)
                    )
        finally:
            if confidence is not None:
                confidence.close()


def _check_values(
    values: NDArray[np.uint8], largest: int, path: Path | None, window: Window
) -> None:
    """Refuse values above ``largest`` other than 255 (no class, no data)."""
    bad = values[(values > largest) & (values != IGNORE_INDEX)]
    if bad.size:
        found = ', '.join(str(v) for v in np.unique(bad)[:10])
        what = 'not a class map: values' if largest < NUM_CLASSES else 'values'
        raise BVMValueError(
            f'{path}: {what} {found} in the block at row {int(window.row_off)}, '
            f'column {int(window.col_off)}; expected 0..{largest} and {IGNORE_INDEX}'
        )


# -- per polygon and per class ------------------------------------------------------


def ranking_score(
    agreement: NDArray[np.float64],
    confidence: NDArray[np.float64],
    pixels: NDArray[np.int64],
    half_pixels: float = SIZE_HALF_PIXELS,
) -> NDArray[np.float64]:
    """The ranking score ``(1 - agreement) x confidence x n / (n + half_pixels)``.

    See the module's description for why each factor is there.

    Args:
        agreement: share of each polygon's pixels predicted as its BVM class.
        confidence: mean confidence, 0..1 (NaN: taken as 1).
        pixels: counted pixels ``n``.
        half_pixels: pixel count at which the size factor is one half.

    Returns:
        The scores, NaN where the agreement is NaN (no pixel, no BVM class).
    """
    sure = np.where(np.isnan(confidence), 1.0, confidence)
    size = pixels / (pixels + half_pixels)
    score: NDArray[np.float64] = (1.0 - agreement) * sure * size
    return score


def polygon_table(
    counts: ZonalCounts,
    bvm_class: NDArray[np.uint8],
    half_pixels: float = SIZE_HALF_PIXELS,
) -> pd.DataFrame:
    """Per polygon: pixels, agreement, predicted majority, confidence, score, rank.

    Args:
        counts: the zonal counts.
        bvm_class: the BVM class of each polygon (IGNORE_INDEX: none).
        half_pixels: see :func:`ranking_score`.

    Returns:
        One row per polygon, in input order, with columns ``bvm_class``,
        ``pixels``, ``agreement``, ``pred_class``, ``pred_share``,
        ``confidence``, ``score``, ``candidate`` and ``rank`` (1 = strongest,
        <NA> for polygons that are no candidate).
    """
    pixels = counts.pixels
    n = len(pixels)
    labelled = bvm_class < NUM_CLASSES
    safe_class = np.where(labelled, bvm_class, 0).astype(np.int64)
    agreeing = np.where(labelled, counts.counts[np.arange(n), safe_class], 0)
    majority = counts.counts.argmax(axis=1)
    top = counts.counts[np.arange(n), majority]
    # A tie with the BVM class is agreement, not a disagreement.
    majority = np.where(labelled & (agreeing == top), safe_class, majority)
    with np.errstate(invalid='ignore', divide='ignore'):
        counted = pixels > 0
        agreement = np.where(counted & labelled, agreeing / pixels, np.nan)
        share = np.where(counted, top / pixels, np.nan)
        confidence = np.where(
            counts.confidence_pixels > 0,
            counts.confidence_sum / counts.confidence_pixels,
            np.nan,
        )
    score = ranking_score(agreement, confidence, pixels, half_pixels)
    candidate = counted & labelled & (majority != safe_class)
    order = np.lexsort((np.arange(n), -pixels, -np.nan_to_num(score, nan=-1.0)))
    order = order[candidate[order]]
    rank = np.zeros(n, dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    return pd.DataFrame(
        {
            'bvm_class': bvm_class.astype(np.int16),
            'pixels': pixels,
            'agreement': agreement,
            'pred_class': _nullable(majority, counted),
            'pred_share': share,
            'confidence': confidence,
            'score': score,
            'candidate': candidate,
            'rank': _nullable(rank, candidate, wide=True),
        }
    )


def _nullable(
    values: NDArray[np.integer], known: NDArray[np.bool_], wide: bool = False
) -> pd.Series[int]:
    """An integer column that is empty (NULL in the GeoPackage) where not known."""
    column = pd.Series(values).astype('Int32' if wide else 'Int16')
    return column.where(known)


def class_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Agreement per BVM class, over the polygons with at least one pixel.

    Args:
        table: from :func:`polygon_table`.

    Returns:
        One row per class (index ``class``, in class order) and a last row
        ``All``, with ``class_id``, ``polygons`` (with at least one pixel),
        ``pixels``, ``majority_agreement`` (share of those polygons whose
        predicted majority is their BVM class), ``pixel_agreement`` (share of
        their pixels predicted as their BVM class), ``candidates`` and
        ``mean_confidence``; shares are NaN for a class without polygons.
    """
    counted = table[(table['pixels'] > 0) & (table['bvm_class'] < NUM_CLASSES)]
    rows = []
    for class_id, name in [*enumerate(CLASS_NAMES), (None, 'All')]:
        part = (
            counted if class_id is None else counted[counted['bvm_class'] == class_id]
        )
        pixels = int(part['pixels'].sum())
        agreeing = float((part['agreement'] * part['pixels']).sum())
        weights = part['confidence'].notna()
        rows.append(
            {
                'class': name,
                'class_id': class_id if class_id is not None else pd.NA,
                'polygons': len(part),
                'pixels': pixels,
                'majority_agreement': (
                    float((~part['candidate']).mean()) if len(part) else np.nan
                ),
                'pixel_agreement': agreeing / pixels if pixels else np.nan,
                'candidates': int(part['candidate'].sum()),
                'mean_confidence': (
                    float(
                        np.average(
                            part['confidence'][weights],
                            weights=part['pixels'][weights],
                        )
                    )
                    if weights.any()
                    else np.nan
                ),
            }
        )
    summary = pd.DataFrame(rows).set_index('class')
    summary['class_id'] = summary['class_id'].astype('Int64')
    return summary


def summary_markdown(summary: pd.DataFrame) -> str:
    """The per-class summary as a Markdown table.

    Args:
        summary: from :func:`class_summary`.

    Returns:
        The Markdown text.
    """
    header = [
        'Class',
        'Polygons',
        'Pixels',
        'Agree by majority (%)',
        'Pixel agreement (%)',
        'Candidates',
        'Mean confidence',
    ]
    lines = ['| ' + ' | '.join(header) + ' |', '|---|' + '---:|' * (len(header) - 1)]

    def share(value: float) -> str:
        return '-' if pd.isna(value) else f'{100 * value:.1f}'

    for name, row in summary.iterrows():
        cells = [
            str(name),
            f'{int(row["polygons"]):,}',
            f'{int(row["pixels"]):,}',
            share(row['majority_agreement']),
            share(row['pixel_agreement']),
            f'{int(row["candidates"]):,}',
            '-' if pd.isna(row['mean_confidence']) else f'{row["mean_confidence"]:.2f}',
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


# -- the picture of the strongest candidates ---------------------------------------


def plot_candidates(
    frame: gpd.GeoDataFrame, maps: Sequence[ClassMap], top: int = 12
) -> Figure:
    """The strongest candidates, each over the class map around it.

    Args:
        frame: the comparison (see :func:`compare_with_bvm`), with ``rank``,
            ``main_map`` and the names of the classes.
        maps: the maps ``main_map`` indexes.
        top: how many candidates to show.

    Returns:
        The figure (one panel per candidate, a legend of the classes shown).
    """
    import matplotlib.pyplot as plt

    chosen = frame[frame['rank'].notna()].sort_values('rank').head(top)
    columns = min(4, max(1, len(chosen)))
    rows = max(1, math.ceil(len(chosen) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.8 * columns, 4.0 * rows + 1.2), squeeze=False
    )
    present: set[int] = set()
    for ax in axes.ravel():
        ax.axis('off')
    for ax, (_, polygon) in zip(axes.ravel(), chosen.iterrows(), strict=False):
        item = maps[int(polygon['main_map'])]
        present |= _draw_candidate(ax, polygon, frame.crs, item)
    if chosen.empty:
        axes[0, 0].text(0.5, 0.5, 'no candidates', ha='center', va='center')
    handles = class_legend(present)
    if handles:
        fig.legend(
            handles=handles,
            loc='lower center',
            ncol=min(4, len(handles)),
            fontsize='small',
            frameon=False,
        )
    fig.suptitle('Strongest candidates: where the map disagrees with the BVM')
    fig.tight_layout(rect=(0, 1.2 / (4.0 * rows + 1.2), 1, 0.97))
    return fig


def _draw_candidate(
    ax: object, polygon: pd.Series, crs: CRS, item: ClassMap
) -> set[int]:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    grid = item.grid
    outline = reproject_geometry(polygon.geometry, crs, grid.crs or crs, 0.0)
    xmin, ymin, xmax, ymax = outline.bounds
    margin = max(xmax - xmin, ymax - ymin) * 0.3 + 8 * max(grid.res)
    window = grid.covering((xmin - margin, ymin - margin, xmax + margin, ymax + margin))
    with rasterio.open(item.path) as src:
        classes = src.read(1, window=window, boundless=True, fill_value=IGNORE_INDEX)
    left, bottom, right, top = rasterio.windows.bounds(window, grid.transform)
    show_classes(ax, classes, (left, right, bottom, top), interpolation='none')
    for part in shapely.get_parts(outline):
        for ring in [part.exterior, *part.interiors]:
            x, y = ring.xy
            ax.plot(x, y, color='white', linewidth=2.2)
            ax.plot(x, y, color='black', linewidth=1.0)
    if grid.crs is not None and grid.crs.is_geographic:
        ax.set_aspect(1 / math.cos(math.radians((bottom + top) / 2)))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    confidence = polygon['confidence']
    sure = '' if pd.isna(confidence) else f', confidence {confidence:.2f}'
    ax.set_title(
        f'#{int(polygon["rank"])} {polygon["TAG"]}, score {polygon["score"]:.2f}\n'
        f'BVM: {_short(polygon["bvm_name"])}\n'
        f'map: {_short(polygon["pred_name"])} ({polygon["pred_share"]:.0%})\n'
        f'{int(polygon["pixels"])} px{sure}',
        fontsize='small',
    )
    return {int(v) for v in np.unique(classes) if v < NUM_CLASSES}


def _short(name: str, length: int = 28) -> str:
    return name if len(name) <= length else name[: length - 1] + '…'


# -- the whole comparison ---------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_with_bvm` wrote and found.

    Args:
        paths: the written files by kind (the keys of :data:`OUTPUT_NAMES`).
        polygons: the compared polygons (those meeting a map's extent), in the
            order written: candidates by rank, then the others by score.
        summary: the per-class summary (:func:`class_summary`).
    """

    paths: dict[str, Path]
    polygons: gpd.GeoDataFrame
    summary: pd.DataFrame

    def top(self, count: int = 10) -> pd.DataFrame:
        """The strongest candidates, without geometry.

        Args:
            count: how many.

        Returns:
            Up to ``count`` rows, by rank.
        """
        ranked = self.polygons[self.polygons['rank'].notna()].head(count)
        return pd.DataFrame(ranked.drop(columns='geometry'))

    def describe(self, count: int = 10) -> list[str]:
        """Lines for a terminal: overall agreement, then the strongest candidates.

        Args:
            count: how many candidates to list.

        Returns:
            The lines.
        """
        overall = self.summary.to_dict('index')['All']
        agree = float(overall['majority_agreement'])
        lines = [
            f'{int(overall["polygons"]):,} polygons with pixels, '
            + ('' if math.isnan(agree) else f'{agree:.1%} agree by majority, ')
            + f'{int(overall["candidates"]):,} candidates'
        ]
        top = self.top(count)
        if len(top):
            lines.append(f'strongest {len(top)} candidates:')
        for row in top.to_dict('records'):
            sure = float(row['confidence'])
            confidence = '' if math.isnan(sure) else f' confidence {sure:.2f},'
            lines.append(
                f'  {int(row["rank"]):>3} {row["TAG"]} (UIDN {row["UIDN"]}): '
                f'BVM {row["bvm_name"]} -> map {row["pred_name"]} '
                f'{float(row["pred_share"]):.0%} of {int(row["pixels"])} px,'
                f'{confidence} score {float(row["score"]):.3f}'
            )
        return lines


def output_paths(out: str | os.PathLike[str]) -> dict[str, Path]:
    """The files :func:`compare_with_bvm` writes into a folder.

    Args:
        out: the output folder.

    Returns:
        Paths by kind (see :data:`OUTPUT_NAMES`).
    """
    return {kind: Path(out) / name for kind, name in OUTPUT_NAMES.items()}


def compare_with_bvm(
    bvm: str | os.PathLike[str],
    maps: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    layer: str | None = None,
    label_field: str = 'EENH1',
    mapping: str | os.PathLike[str] | pd.DataFrame | UnitMapping | None = None,
    confidence: bool = True,
    top: int = 12,
    block_size: int = 2048,
    progress: bool = True,
) -> Comparison:
    """Compare class maps with the BVM and write the candidates for an update.

    Writes into ``out`` (see :data:`OUTPUT_NAMES`), each file atomically:

    * ``disagreement.gpkg``, layer ``disagreement``: the BVM polygons that meet
      a map's extent, with their geometry in the layer's CRS and the fields
      ``TAG``, ``UIDN``, the label field (e.g. ``EENH1``), ``bvm_class`` and
      ``bvm_name``, ``pixels``, ``agreement``, ``pred_class``, ``pred_name``,
      ``pred_share``, ``confidence``, ``score`` and ``rank`` (see
      :func:`polygon_table`; empty where undefined), candidates first, by rank;
    * ``class_agreement.csv`` and ``class_agreement.md``: :func:`class_summary`;
    * ``candidates.png``: :func:`plot_candidates`.

    Args:
        bvm: the BVM layer (any input of :class:`~torchgeo_bvm.bvm.layer.BVMLayer`).
        maps: class rasters or folders of them (see :func:`find_class_maps`).
        out: the output folder (created if missing); existing files are replaced.
        layer: layer name (GeoPackage) or shapefile in a ``.zip``.
        label_field: unit field (default ``EENH1``) or an integer label field such
            as ``Label``, as in :class:`~torchgeo_bvm.datasets.BVMDataset`.
        mapping: the unit -> class table (default the shipped one).
        confidence: read each map's ``_confidence`` raster (required then).
        top: candidates shown in the picture (at most
            :data:`~torchgeo_bvm.checks.MAX_CANDIDATES`).
        block_size: pixels per block side when reading the maps.
        progress: show a progress bar.

    Returns:
        The written files, the compared polygons and the summary.

    Raises:
        BVMFileError: for a missing BVM layer, map or confidence raster.
        BVMValueError: for a missing layer or field, a raster that is not a class
            map, overlapping maps, or maps that do not overlap the BVM.
    """
    check_count(top, 'top', minimum=0, maximum=MAX_CANDIDATES)
    source = BVMLayer.open(bvm, layer)
    source.require_fields(ID_FIELDS, why='the comparison names polygons by them')
    labels = source.read_labels(label_field, mapping)
    labels.result.warn(source.source, label_field)
    found = find_class_maps(maps, confidence)
    check_maps_disjoint(found, block_size)
    originals = source.read_geometries()
    repaired, _ = repair_polygons(originals)
    counts = zonal_counts(repaired, source.info.crs, found, block_size, progress)
    if not counts.covered.any():
        raise BVMValueError(_no_overlap_message(found, source))
    table = polygon_table(counts, labels.result.ids)
    table['main_map'] = counts.main_map
    fields = list(dict.fromkeys([*ID_FIELDS, label_field]))
    attributes = source.read_columns(fields)[fields]
    frame = _output_frame(attributes, table, originals, source.info.crs, counts.covered)
    summary = class_summary(table[counts.covered])
    paths = output_paths(out)
    # All four appear together: each is written under a temporary name, read
    # back, and renamed only once every one of them is complete.
    with atomic_paths(list(paths.values())) as temporaries:
        staged = dict(zip(paths, temporaries, strict=True))
        _write_geopackage(frame, staged['geopackage'])
        summary.to_csv(staged['summary_csv'], float_format='%.6g')
        staged['summary_markdown'].write_text(summary_markdown(summary))
        figure = plot_candidates(frame, found, top)
        save_figure(figure, staged['candidates'], dpi=110)
    return Comparison(paths, frame, summary)


def _no_overlap_message(maps: Sequence[ClassMap], source: BVMLayer) -> str:
    names = ', '.join(m.path.name for m in maps[:5]) + (' ...' if len(maps) > 5 else '')
    extents = [m.bounds_in(source.info.crs) for m in maps]
    west, south = min(e[0] for e in extents), min(e[1] for e in extents)
    east, north = max(e[2] for e in extents), max(e[3] for e in extents)
    crs = source.info.crs.to_string()
    return (
        f'the maps ({names}) do not overlap the BVM layer {source.source}: the maps '
        f'cover ({west:.0f}, {south:.0f}, {east:.0f}, {north:.0f}) and the layer '
        f'{tuple(round(v) for v in source.info.bounds)} in {crs}'
    )


def _output_frame(
    attributes: pd.DataFrame,
    table: pd.DataFrame,
    geometries: NDArray[np.object_],
    crs: CRS,
    covered: NDArray[np.bool_],
) -> gpd.GeoDataFrame:
    bvm = table['bvm_class'].to_numpy()
    labelled = bvm < NUM_CLASSES
    names = np.array([*CLASS_NAMES, None], dtype=object)
    predicted = table['pred_class']
    columns = attributes.reset_index(drop=True).copy()
    columns['bvm_class'] = _nullable(bvm, labelled)
    columns['bvm_name'] = names[np.where(labelled, bvm, NUM_CLASSES)]
    columns['pixels'] = table['pixels'].to_numpy().astype(np.int32)
    columns['agreement'] = table['agreement']
    columns['pred_class'] = predicted
    columns['pred_name'] = names[predicted.fillna(NUM_CLASSES).to_numpy(dtype=int)]
    for name in ('pred_share', 'confidence', 'score', 'rank', 'main_map'):
        columns[name] = table[name]
    frame = gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs)[covered]
    order = np.lexsort(
        (
            np.arange(len(frame)),
            -np.nan_to_num(frame['score'].to_numpy(dtype=float), nan=-1.0),
            frame['rank'].fillna(np.iinfo(np.int32).max).to_numpy(dtype=np.int64),
        )
    )
    return frame.iloc[order].reset_index(drop=True)


def _write_geopackage(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame.drop(columns='main_map').to_file(
        path, layer=LAYER_NAME, driver='GPKG', engine='pyogrio', promote_to_multi=True
    )
