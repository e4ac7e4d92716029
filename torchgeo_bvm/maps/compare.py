r"""Where a class map disagrees with the BVM: the records most probably out of date.

A land-cover map predicted by a model (the fused map of a year) is compared with
the Biological Valuation Map polygon by polygon: for every BVM polygon the map
covers, how many of its pixels the map puts in each class, how sure the model
was, and a score that ranks the polygons where the BVM is most probably out of
date. :func:`compare_with_bvm` writes the result as a GeoPackage, a per-class
summary (CSV and Markdown) and a picture of the strongest candidates;
``torchgeo-bvm compare`` is its command line. The maps follow the contract of
:mod:`torchgeo_bvm.maps.files` (class raster, ``_confidence`` sibling, 255 where
there is no class), one per sheet or one mosaic, in any CRS; every polygon's
pixels are counted by :mod:`~torchgeo_bvm.maps.zonal` (the labels' pixel rule,
overlapping polygons each with all of theirs, several maps each once).

**Score.** Every polygon with a BVM class and a counted pixel is ranked by
how strongly the evidence says its record no longer holds
(:mod:`~torchgeo_bvm.maps.ranking`): the map's probability of the polygon's
BVM class against how the map usually sees that class, shrunk by the
polygon's pixels and clear observations, times the years since the polygon
was mapped (its ``TAG``'s version year, against the map's ``year``); ``rank``
1 is the strongest (ties: more pixels first, then file order). The map's
probabilities come from the maps' ``_probabilities`` rasters where they lie
beside them, its clear observations from ``_count``; without them the share
of pixels the map puts in the BVM class stands in.

A **candidate** is a polygon whose predicted majority class is not its BVM
class (a tie with the BVM class is not a disagreement); the per-class summary
counts them. :mod:`~torchgeo_bvm.maps.candidates` draws the strongest, and
with a truth (``changes.csv`` of the mini-Flanders,
:mod:`~torchgeo_bvm.maps.truth`) the ranking is scored: precision at 10, 20
and 50, average precision and the share of the changes found in the top 5 %.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import CRS

from ..bvm.layer import BVMLayer
from ..bvm.tags import mapping_years
from ..bvm.units import UnitMapping
from ..checks import MAX_CANDIDATES, check_count
from ..classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from ..errors import BVMValueError
from ..evaluation.accuracy import AccuracyReport
from ..evaluation.units import EvaluationUnits
from ..fileio import atomic_paths
from ..plot import save_figure
from ..spatial.geometry import repair_polygons
from .candidates import find_images, plot_candidates
from .files import ClassMap, check_maps_disjoint, find_class_maps
from .polygonaccuracy import polygon_accuracy
from .ranking import (
    class_typical,
    disagreement_extent,
    evidence_weight,
    excess_disagreement,
    ranking_score,
    years_since_mapping,
)
from .truth import TRUTH_NAME, describe_scores, read_changes, score_ranking
from .zonal import ZonalCounts, zonal_counts

__all__ = [
    'OUTPUT_NAMES',
    'Comparison',
    'class_summary',
    'compare_with_bvm',
    'map_year',
    'output_paths',
    'polygon_table',
    'summary_markdown',
]

#: The files :func:`compare_with_bvm` writes into its output folder, by kind.
OUTPUT_NAMES = {
    'geopackage': 'disagreement.gpkg',
    'summary_csv': 'class_agreement.csv',
    'summary_markdown': 'class_agreement.md',
    'accuracy_csv': 'accuracy.csv',
    'accuracy_by_sheet': 'accuracy_by_sheet.csv',
    'accuracy_markdown': 'accuracy.md',
    'candidates': 'candidates.png',
}
#: Layer name inside the GeoPackage.
LAYER_NAME = 'disagreement'
#: Fields the output takes from the BVM layer to identify polygons.
ID_FIELDS = ('TAG', 'UIDN')
#: The columns of the polygon table written after the predicted class's name.
_EVIDENCE_COLUMNS = (
    'pred_share',
    'confidence',
    'bvm_probability',
    'class_typical',
    'observations',
    'years_since_mapping',
    'excess_disagreement',
    'disagreement_extent',
    'score',
)


# -- per polygon and per class ------------------------------------------------------


def polygon_table(
    counts: ZonalCounts,
    bvm_class: NDArray[np.uint8],
    mapped: NDArray[np.float64] | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Per polygon: pixels, agreement, predicted majority, the evidence, score, rank.

    Args:
        counts: the zonal counts.
        bvm_class: the BVM class of each polygon (IGNORE_INDEX: none).
        mapped: the year each polygon was mapped (its ``TAG``'s version; NaN:
            unknown; None: all unknown).
        year: the year the maps show (None: unknown; the score then leaves the
            years since mapping out).

    Returns:
        One row per polygon, in input order, with columns ``bvm_class``,
        ``pixels``, ``agreement``, ``pred_class``, ``pred_share``,
        ``confidence``, ``bvm_probability``, ``class_typical``,
        ``observations``, ``years_since_mapping``, ``excess_disagreement``,
        ``disagreement_extent``,
        ``score`` (see :mod:`~torchgeo_bvm.maps.ranking`), ``candidate`` (the
        map's majority is another class) and ``rank`` (1 = strongest, <NA>
        for polygons without a BVM class or a counted pixel).
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
    counted = pixels > 0
    agreement = _mean(agreeing, np.where(labelled, pixels, 0))
    share = _mean(top, pixels)
    confidence = _mean(counts.confidence_sum, counts.confidence_pixels)
    probability = np.where(
        counts.probability_pixels > 0,
        _mean(counts.probability_sum, counts.probability_pixels),
        agreement,
    )
    observations = _mean(counts.observation_sum, counts.observation_pixels)
    typical = class_typical(probability, np.where(labelled, bvm_class, IGNORE_INDEX))
    weight = evidence_weight(pixels.astype(np.float64), observations)
    excess = excess_disagreement(probability, typical, weight)
    classes = np.where(labelled, bvm_class, IGNORE_INDEX)
    extent = disagreement_extent(agreement, class_typical(agreement, classes), weight)
    years = years_since_mapping(np.full(n, np.nan) if mapped is None else mapped, year)
    score = np.where(counted & labelled, ranking_score(excess, extent, years), np.nan)
    candidate = counted & labelled & (majority != safe_class)
    ranked = counted & labelled & ~np.isnan(score)
    order = np.lexsort((np.arange(n), -pixels, -np.nan_to_num(score, nan=-1.0)))
    order = order[ranked[order]]
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
            'bvm_probability': np.where(counted & labelled, probability, np.nan),
            'class_typical': np.where(counted & labelled, typical, np.nan),
            'observations': observations,
            'years_since_mapping': years,
            'excess_disagreement': np.where(counted & labelled, excess, np.nan),
            'disagreement_extent': np.where(counted & labelled, extent, np.nan),
            'score': score,
            'candidate': candidate,
            'rank': _nullable(rank, ranked, wide=True),
        }
    )


def _mean(
    sums: NDArray[np.floating | np.integer], counts: NDArray[np.integer]
) -> NDArray[np.float64]:
    """``sums / counts``, NaN where nothing was counted."""
    with np.errstate(invalid='ignore', divide='ignore'):
        result: NDArray[np.float64] = np.where(counts > 0, sums / counts, np.nan)
    return result


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


# -- the whole comparison ---------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_with_bvm` wrote and found.

    Args:
        paths: the written files by kind (the keys of :data:`OUTPUT_NAMES`, and
            ``truth`` when scored against a truth).
        polygons: the compared polygons (those meeting a map's extent), in the
            order written: by rank, then the polygons not ranked.
        summary: the per-class summary (:func:`class_summary`).
        accuracy: the map against the BVM per sheet, with intervals
            (:func:`~torchgeo_bvm.maps.polygonaccuracy.polygon_accuracy`).
        year: the year the maps show (None: unknown).
        truth: the ranking's scores against the truth
            (:func:`~torchgeo_bvm.maps.truth.score_ranking`), when one was given.
        truth_name: the truth file's name.
    """

    paths: dict[str, Path]
    polygons: gpd.GeoDataFrame
    summary: pd.DataFrame
    accuracy: AccuracyReport
    year: int | None = None
    truth: dict[str, float] | None = None
    truth_name: str = ''

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
        """Lines for a terminal: agreement, the strongest candidates, the truth.

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
        if len(self.accuracy.units):
            lines.append(
                'pixel agreement with the BVM ' + self.accuracy.describe_overall()
            )
        top = self.top(count)
        if len(top):
            when = '' if self.year is None else f' (map of {self.year})'
            lines.append(f'{len(top)} polygons most probably out of date{when}:')
        for row in top.to_dict('records'):
            years = float(row['years_since_mapping'])
            aged = '' if math.isnan(years) else f'{years:g} years x '
            lines.append(
                f'  {int(row["rank"]):>3} {row["TAG"]} (UIDN {row["UIDN"]}): '
                f'BVM {row["bvm_name"]} -> map {row["pred_name"]} '
                f'{float(row["pred_share"]):.0%} of {int(row["pixels"])} px, '
                f'p(BVM) {float(row["bvm_probability"]):.2f} (typical '
                f'{float(row["class_typical"]):.2f}), score {aged}excess '
                f'{float(row["excess_disagreement"]):.2f} x extent '
                f'{float(row["disagreement_extent"]):.2f} = {float(row["score"]):.3g}'
            )
        if self.truth is not None:
            lines += describe_scores(self.truth, self.truth_name)
        return lines


def output_paths(out: str | os.PathLike[str], truth: bool = False) -> dict[str, Path]:
    """The files :func:`compare_with_bvm` writes into a folder.

    Args:
        out: the output folder.
        truth: whether a truth is scored (``truth_scores.csv``).

    Returns:
        Paths by kind (see :data:`OUTPUT_NAMES`; ``truth`` too).
    """
    paths = {kind: Path(out) / name for kind, name in OUTPUT_NAMES.items()}
    if truth:
        paths['truth'] = Path(out) / TRUTH_NAME
    return paths


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
    year: int | None = None,
    truth: str | os.PathLike[str] | None = None,
    images: Sequence[str | os.PathLike[str]] = (),
    units: EvaluationUnits | None = None,
) -> Comparison:
    """Compare class maps with the BVM and write the candidates for an update.

    Writes into ``out`` (see :data:`OUTPUT_NAMES`), each file atomically:

    * ``disagreement.gpkg``, layer ``disagreement``: the BVM polygons that meet
      a map's extent, with their geometry in the layer's CRS and the fields
      ``TAG``, ``UIDN``, the label field (e.g. ``EENH1``), ``bvm_class`` and
      ``bvm_name``, ``pixels``, ``agreement``, ``pred_class``, ``pred_name``,
      ``pred_share``, ``confidence``, the evidence (``bvm_probability``,
      ``class_typical``, ``observations``, ``years_since_mapping``,
      ``excess_disagreement``, ``disagreement_extent``), ``score``,
      ``candidate`` and ``rank`` (see
      :func:`polygon_table`; empty where undefined), by rank;
    * ``class_agreement.csv`` and ``class_agreement.md``: :func:`class_summary`;
    * ``accuracy.csv``, ``accuracy_by_sheet.csv`` and ``accuracy.md``: the
      map against the BVM as accuracies per sheet with 95 % intervals from a
      bootstrap over whole sheets
      (:func:`~torchgeo_bvm.maps.polygonaccuracy.polygon_accuracy`,
      :class:`~torchgeo_bvm.evaluation.accuracy.AccuracyReport`);
    * ``candidates.png``:
      :func:`~torchgeo_bvm.maps.candidates.plot_candidates`;
    * with ``truth``, ``truth_scores.csv``: the ranking scored against it
      (:func:`~torchgeo_bvm.maps.truth.score_ranking`; columns ``metric`` and
      ``value``).

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
        year: the year the maps show, for the years since each polygon's
            mapping and for the truth (default: the period in the
            ``prediction.json`` beside the maps, when it is one year).
        truth: a list of changed polygons (``changes.csv``) to score the
            ranking against.
        images: true-colour images for the picture (Terrascope product folders
            or GeoTIFFs with bands B02, B03, B04;
            :func:`~torchgeo_bvm.maps.candidates.find_images`).
        units: the sheets (or blocks) the accuracy is bootstrapped over
            (default: ``kbl16`` sheets).

    Returns:
        The written files, the compared polygons, the summary and the scores.

    Raises:
        BVMFileError: for a missing BVM layer, map, confidence raster, image or
            truth file.
        BVMValueError: for a missing layer or field, a raster that is not a class
            map, overlapping maps, maps that do not overlap the BVM, or a truth
            file without its columns.
    """
    check_count(top, 'top', minimum=0, maximum=MAX_CANDIDATES)
    source = BVMLayer.open(bvm, layer)
    source.require_fields(ID_FIELDS, why='the comparison names polygons by them')
    labels = source.read_labels(label_field, mapping)
    labels.result.warn(source.source, label_field)
    found = find_class_maps(maps, confidence)
    check_maps_disjoint(found, block_size)
    changes = None if truth is None else read_changes(truth)
    pictures = find_images(images)
    if year is None:
        year = map_year(found)
    originals = source.read_geometries()
    repaired, _ = repair_polygons(originals)
    ids = labels.result.ids
    counts = zonal_counts(
        repaired, source.info.crs, found, block_size, progress, bvm_class=ids
    )
    if not counts.covered.any():
        raise BVMValueError(_no_overlap_message(found, source))
    fields = list(dict.fromkeys([*ID_FIELDS, label_field]))
    attributes = source.read_columns(fields)[fields]
    table = polygon_table(counts, ids, mapping_years(attributes['TAG']), year)
    table['main_map'] = counts.main_map
    frame = _output_frame(attributes, table, originals, source.info.crs, counts.covered)
    summary = class_summary(table[counts.covered])
    accuracy = polygon_accuracy(
        counts.counts, ids, repaired, source.info.crs, units or EvaluationUnits()
    )
    scores = None if changes is None else score_ranking(frame, changes, year)
    paths = output_paths(out, truth=scores is not None)
    # All appear together: each is written under a temporary name, read back,
    # and renamed only once every one of them is complete; a score of an
    # earlier run against a truth does not stay beside this run's outputs.
    owned = output_paths(out, truth=True).values()
    with atomic_paths(list(paths.values()), owned) as temporaries:
        staged = dict(zip(paths, temporaries, strict=True))
        _write_geopackage(frame, staged['geopackage'])
        summary.to_csv(staged['summary_csv'], float_format='%.6g')
        staged['summary_markdown'].write_text(summary_markdown(summary))
        accuracy.summary().to_csv(
            staged['accuracy_csv'], index=False, float_format='%.6g'
        )
        accuracy.by_unit().to_csv(
            staged['accuracy_by_sheet'], index=False, float_format='%.6g'
        )
        staged['accuracy_markdown'].write_text(
            accuracy.markdown('Agreement of the map with the BVM')
        )
        figure = plot_candidates(frame, found, top, pictures)
        save_figure(figure, staged['candidates'], dpi=100)
        if scores is not None:
            pd.DataFrame(
                {'metric': list(scores), 'value': list(scores.values())}
            ).to_csv(staged['truth'], index=False, float_format='%.6g')
    name = '' if truth is None else Path(truth).name
    return Comparison(paths, frame, summary, accuracy, year, scores, name)


def map_year(maps: Sequence[ClassMap]) -> int | None:
    """The year the maps show, from the ``prediction.json`` beside them.

    Args:
        maps: the maps.

    Returns:
        The year, when every map's folder names the same single year as its
        period; None otherwise.
    """
    years = set()
    for item in maps:
        manifest = item.path.parent / 'prediction.json'
        try:
            period = str(json.loads(manifest.read_text())['period'])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not period.isdigit() or len(period) != 4:
            return None
        years.add(int(period))
    return years.pop() if len(years) == 1 else None


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
    for name in (*_EVIDENCE_COLUMNS, 'candidate', 'rank', 'main_map'):
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
