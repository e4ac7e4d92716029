"""How far the demo's outputs can be trusted: its ranking and its confidence, step by step.

Reads a finished demo folder (``torchgeo-bvm demo --out DIR``) and measures,
against the mini-Flanders' truth (``DIR/data/truth``):

* **the ranking table**: every step of the score
  (:data:`torchgeo_bvm.maps.ranking.EVIDENCE_STEPS`, recomputed from the
  columns of ``DIR/comparison/disagreement.gpkg``) scored as
  ``compare --truth`` scores it: precision at 10, 20 and 50, average
  precision and the share of the changes in the top 5 %; against the changes
  the map's year can see (``change_year`` up to it) and against every listed
  change;
* **agreement among dates** (with ``--date-maps``): maps of single dates of
  the same year (``torchgeo predict`` with ``prediction.months``, one folder
  each); the share of dates whose own excess disagreement is positive,
  multiplied into the score before the years since mapping;
* **the map's confidence**: the expected calibration error (15 bins) of the
  test map against ``truth/landcover_YYYY.tif``, before the confidence table
  (the fused probabilities' maximum) and after, overall and by the number of
  clear observations.

Usage::

    python benchmarks/bench_trust.py --demo demo-output
    python benchmarks/bench_trust.py --demo demo-output \\
        --date-maps demo-output/predictions-month4 demo-output/predictions-month7 \\
        demo-output/predictions-month10
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from torchgeo_bvm.bvm.layer import BVMLayer
from torchgeo_bvm.evaluation.calibration import Reliability
from torchgeo_bvm.evaluation.retrieval import ranking_metrics
from torchgeo_bvm.maps.files import find_class_maps
from torchgeo_bvm.maps.ranking import class_typical, step_scores
from torchgeo_bvm.maps.reliability import map_outcomes
from torchgeo_bvm.maps.zonal import zonal_counts
from torchgeo_bvm.spatial.geometry import repair_polygons
from torchgeo_bvm.synth.flanders import load_manifest


def _order(frame: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Positions by score, ties by more pixels then file order (as compare ranks)."""
    pixels = frame['pixels'].to_numpy()
    return np.lexsort((np.arange(len(frame)), -pixels, -np.nan_to_num(score, nan=-1.0)))


def ranking_table(demo: Path, date_maps: list[Path]) -> tuple[pd.DataFrame, int]:
    """Every step's scores against the visible and against all changes."""
    manifest = load_manifest(demo / 'data')
    frame = pyogrio.read_dataframe(demo / 'comparison' / 'disagreement.gpkg')
    changes = pd.read_csv(demo / 'data' / manifest['truth']['changes'])
    year = _year(demo)
    visible = set(changes['TAG'][changes['change_year'] <= year])
    every = set(changes['TAG'])
    ranked = frame[frame['rank'].notna()].reset_index(drop=True)
    steps = step_scores(ranked)
    if date_maps:
        share = _date_agreement(demo, ranked, date_maps)
        names = list(steps)
        extent, aged = names[-2], names[-1]
        steps = {
            **{k: v for k, v in steps.items() if k != aged},
            '+ agreement among dates (not kept)': steps[extent] * share,
            aged: steps[aged],
        }
    rows = []
    for name, score in steps.items():
        order = _order(ranked, score)
        row: dict[str, object] = {'step': name}
        for label, positives in (('visible', visible), ('all', every)):
            relevant = ranked['TAG'].isin(positives).to_numpy()[order]
            total = int(frame['TAG'].isin(positives).sum())
            metrics = ranking_metrics(relevant, total_relevant=total)
            for key in ('average precision', 'P@10', 'P@20', 'P@50'):
                row[f'{label} {key}'] = metrics[key]
            row[f'{label} top 5 %'] = metrics['found in the top 5 %']
            row[f'{label} changes'] = total
        rows.append(row)
    return pd.DataFrame(rows), year


def _maps(demo: Path) -> Path:
    """The demo's test map: ``predictions/<period>`` (or ``predictions`` itself)."""
    folder = demo / 'predictions'
    if (folder / 'prediction.json').exists():
        return folder
    (found,) = [p.parent for p in folder.glob('*/prediction.json')]
    return found


def _year(demo: Path) -> int:
    """The year of the demo's map (its prediction manifest's period)."""
    manifest = json.loads((_maps(demo) / 'prediction.json').read_text())
    return int(manifest['period'])


def _date_agreement(
    demo: Path, ranked: pd.DataFrame, date_maps: list[Path]
) -> np.ndarray:
    """Per ranked polygon: the share of single dates whose own excess is positive."""
    manifest = load_manifest(demo / 'data')
    layer = BVMLayer.open(demo / 'data' / manifest['bvm'])
    ids = layer.read_labels('EENH1', None).result.ids
    tags = layer.read_columns(['TAG'])['TAG'].to_numpy()
    geometries, _ = repair_polygons(layer.read_geometries())
    labelled = ids < 14
    positive = []
    for folder in date_maps:
        counts = zonal_counts(
            geometries,
            layer.info.crs,
            find_class_maps(folder),
            progress=False,
            bvm_class=ids,
        )
        with np.errstate(invalid='ignore', divide='ignore'):
            probability = np.where(
                counts.probability_pixels > 0,
                counts.probability_sum / counts.probability_pixels,
                np.nan,
            )
        typical = class_typical(
            np.where(labelled, probability, np.nan), np.where(labelled, ids, 255)
        )
        positive.append(typical - probability > 0)
    share = np.nanmean(np.stack(positive).astype(float), axis=0)
    by_tag = dict(zip(tags, share, strict=True))
    return ranked['TAG'].map(by_tag).to_numpy(dtype=float)


def calibration_table(demo: Path, year: int) -> pd.DataFrame:
    """ECE of the test map against the truth, before and after, by clear count."""
    manifest = load_manifest(demo / 'data')
    truth = demo / 'data' / manifest['truth']['landcover'][str(year)]
    predictions = _maps(demo)
    rows = []
    counts = _counts(predictions, truth)
    for state, raw in (
        ('before (fused probabilities)', True),
        ('after (table)', False),
    ):
        codes, correct, _ = map_outcomes(predictions, truth, raw=raw)
        for label, keep in [('all', np.ones(len(codes), bool))] + [
            (f'{k} clear', counts == k) for k in np.unique(counts)
        ]:
            bins = Reliability()
            bins.add(codes[keep] / 250, correct[keep])
            rows.append(
                {
                    'state': state,
                    'pixels': label,
                    'count': bins.total,
                    'ECE': bins.ece(),
                    'accuracy': bins.accuracy(),
                    'mean confidence': bins.mean_confidence(),
                }
            )
    return pd.DataFrame(rows)


def _counts(predictions: Path, truth: Path) -> np.ndarray:
    """Each counted pixel's clear observations, in map_outcomes' order."""
    import rasterio
    from rasterio.vrt import WarpedVRT

    found = []
    for item in find_class_maps(predictions):
        with rasterio.open(item.path) as source:
            classes = source.read(1)
        with rasterio.open(item.path.with_name(item.path.stem + '_count.tif')) as s:
            count = s.read(1)
        with rasterio.open(item.confidence) as source:
            confidence = source.read(1)
        grid = item.grid
        with (
            rasterio.open(truth) as source,
            WarpedVRT(
                source,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.shape[1],
                height=grid.shape[0],
                nodata=255,
            ) as warped,
        ):
            true = warped.read(1)
        counted = (classes != 255) & (confidence != 255) & (true != 255)
        found.append(count[counted])
    return np.concatenate(found)


def _markdown(table: pd.DataFrame) -> str:
    """A Markdown table, numbers to three decimals."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return f'{value:.3f}'
        return str(value)

    lines = ['| ' + ' | '.join(table.columns) + ' |']
    lines.append('|' + '---|' * len(table.columns))
    for row in table.itertuples(index=False):
        lines.append('| ' + ' | '.join(cell(v) for v in row) + ' |')
    return '\n'.join(lines)


def main() -> None:
    """Measure and print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demo', type=Path, default=Path('demo-output'))
    parser.add_argument('--date-maps', type=Path, nargs='*', default=[])
    args = parser.parse_args()
    table, year = ranking_table(args.demo, args.date_maps)
    pd.set_option('display.width', 200)
    print(f'The ranking of {args.demo}/comparison against the truth (map of {year}):')
    print(_markdown(table))
    print()
    print("The test map's confidence against the truth:")
    print(_markdown(calibration_table(args.demo, year)))


if __name__ == '__main__':
    main()
