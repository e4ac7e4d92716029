"""Write mini-Flanders: a small region around Gent in the real data formats.

Writes a BVM layer (BwkHab.shp), the official map-sheet files (Kbl*.shp), a
Flanders boundary (Refgew.shp), Terrascope Sentinel-2 TOC products for four
dates, an overview plot and manifest.json; with --season also a year (2022)
of products, three a month with Flanders-like cloudiness (--sunshine scales
it; 0.56 is a very cloudy year), and the monthly median composites of the
openEO downloader, under season/; with --radar a year of Sentinel-1 sigma0
products (every pass of two orbits) and their monthly means, under radar/.
About 3 % of the BVM's polygons (--change-share) changed after their mapping
(grassland ploughed and sown, land built on, scrub encroachment, woodland
cleared; older records more often): the imagery shows the new cover from the
change year on, the BVM the old record, and truth/ holds the truth
(changes.csv: TAG, UIDN, bvm_class, true_class, change_year;
landcover_YYYY.tif: the true class of every pixel in each year of imagery, on
the label grid of `torchgeo-bvm rasterize --crs EPSG:32631 --res 10`). Same
seed and size, same bytes; an up-to-date folder is reused.

Examples:
  torchgeo-bvm synth --out data/mini-flanders
  torchgeo-bvm synth --out /tmp/tiny --size tiny --seed 3 --no-plot
  torchgeo-bvm synth --out data/mini-flanders --season
  torchgeo-bvm synth --out data/mini-flanders --season --radar --sunshine 0.56
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..synth.flanders import DEFAULT_SIZE, SIZES

    parser.add_argument('--out', type=Path, required=True, help='output folder')
    sizes = ', '.join(f'{s.name}: {s.description}' for s in SIZES.values())
    parser.add_argument(
        '--size',
        choices=list(SIZES),
        default=DEFAULT_SIZE,
        help=f'region size (default {DEFAULT_SIZE}; {sizes})',
    )
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument(
        '--change-share',
        type=float,
        default=None,
        help='share of the BVM polygons whose land cover changed after their '
        'mapping, 0 to 0.5 (default 0.03)',
    )
    parser.add_argument(
        '--force', action='store_true', help='regenerate even if up to date'
    )
    parser.add_argument(
        '--no-plot', action='store_true', help='do not write overview.png'
    )
    parser.add_argument(
        '--season',
        action='store_true',
        help='also write the season: 36 products of 2022 under season/TOC_V2 and '
        'the monthly median composites of each kbl4 sheet under season/openeo',
    )
    parser.add_argument(
        '--radar',
        action='store_true',
        help='also write the radar season: the 61 Sentinel-1 sigma0 products of '
        '2022 under radar/CGS_S1_GRD_SIGMA0_L1 and the monthly means of each '
        'kbl4 sheet under radar/openeo',
    )
    parser.add_argument(
        '--sunshine',
        type=float,
        default=1.0,
        help="the season's sunshine as a share of the normal year (default 1; "
        "0.56: a very cloudy year, Uccle's dullest spring on record all year)",
    )


def _run(args: argparse.Namespace) -> int:
    """Write mini-Flanders and print what was written."""
    from ..checks import check_seed
    from ..errors import BVMValueError
    from ..fileio import check_writable_folder
    from ..synth.flanders import CHANGE_SHARE, write_mini_flanders

    check_seed(args.seed, '--seed')
    share = CHANGE_SHARE if args.change_share is None else args.change_share
    if not 0.0 <= share <= 0.5:
        raise BVMValueError(f'--change-share {share}: expected 0 to 0.5')
    check_writable_folder(args.out)
    manifest = write_mini_flanders(
        args.out,
        args.size,
        args.seed,
        plot=not args.no_plot,
        force=args.force,
        progress=True,
        season=args.season,
        radar=args.radar,
        sunshine=args.sunshine,
        change_share=share,
    )
    state = (
        'up to date, reused'
        if manifest['reused']
        else f'written in {manifest["seconds"]:.1f} s'
    )
    print(f'mini-Flanders ({args.size}, seed {args.seed}) in {args.out}: {state}')
    print(f'  BVM:       {manifest["bvm"]} ({manifest["polygons"]} polygons)')
    print(f'  sheets:    {", ".join(manifest["kbl_files"].values())}')
    print(f'  boundary:  {manifest["boundary"]}')
    print(
        f'  imagery:   {manifest["imagery"]["root"]} ({", ".join(manifest["dates"])})'
    )
    season = manifest['season']
    if season:
        print(
            f'  season:    {season["products_root"]} ({len(season["products"])} '
            f'dates of {season["year"]}), {season["composites_root"]} '
            f'({len(season["composites"])} monthly composites)'
        )
    radar = manifest.get('radar')
    if radar:
        print(
            f'  radar:     {radar["products_root"]} ({len(radar["products"])} '
            f'passes of {radar["year"]}), {radar["composites_root"]} '
            f'({len(radar["composites"])} monthly means)'
        )
    truth = manifest['truth']
    print(
        f'  truth:     {truth["changes"]} ({truth["changed_polygons"]} polygons '
        f'changed after their mapping), '
        f'{", ".join(truth["landcover"].values())}'
    )
    if manifest['overview']:
        print(f'  overview:  {manifest["overview"]}')
    total = manifest['labelled_pixels']
    print(f'  classes at 10 m ({total} labelled pixels):')
    for name, count in manifest['pixels'].items():
        print(f'    {name:<42} {count:>10} {100 * count / total:6.2f} %')
    return 0


COMMAND = Command(
    help='write the embedded mini-Flanders (BVM, sheets, boundary, Sentinel-2, '
    'Sentinel-1)',
    add_arguments=_add_arguments,
    run=_run,
)
