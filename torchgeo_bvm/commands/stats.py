"""Statistics of the dataset splits.

With --labels: class pixel counts and percentages per split (the paper's
Tables 1 and 2), the chi-squared distances between the splits, written as CSV,
a Markdown table and a bar chart, and loss weights (class_weights.json).

With --bands: per-band mean, standard deviation and percentiles over the train
split's valid, cloud-free pixels, written to OUT/band-stats.json for the data
module's `stats` argument (with --sentinel1: the radar's, in dB unless
--linear, for its `radar.stats`). Use the CRS and resolution of the training
run.

Examples:
  torchgeo-bvm stats --labels labels.tif --out stats/
  torchgeo-bvm stats --bands all --sentinel2 s2/ --boundary Refgew.shp --out stats/
  torchgeo-bvm stats --bands dual --sentinel1 s1/ --out radar-stats/
  torchgeo-bvm stats --labels labels.tif --split my.json --sheets 15,22 --out s/ --log
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import Command
from ._options import parse_crs, parse_integers, parse_kbl_numbers, parse_res

if TYPE_CHECKING:
    from torchgeo.datasets import GeoDataset

    from ..sheets.scheme import SplitScheme


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        '--labels', type=Path, help='label raster (torchgeo-bvm rasterize)'
    )
    source.add_argument(
        '--bands',
        help='band statistics: a mode (rgb, rgnir, all; Sentinel-1: dual, ratio) '
        'or comma-separated names',
    )
    parser.add_argument('--out', type=Path, required=True, help='output folder')
    parser.add_argument(
        '--split',
        default='paper',
        help="'paper' (default) or a JSON file mapping sheet parts to splits",
    )
    parser.add_argument('--sheets', help='comma-separated 1:50,000 sheet numbers')
    parser.add_argument(
        '--log', action='store_true', help='log scale in the bar chart (rare classes)'
    )
    imagery = parser.add_argument_group('band statistics (--bands)')
    sensors = imagery.add_mutually_exclusive_group()
    sensors.add_argument(
        '--sentinel2', nargs='+', type=Path, help='Sentinel-2 folders or files'
    )
    sensors.add_argument(
        '--sentinel1', nargs='+', type=Path, help='Sentinel-1 folders or files'
    )
    imagery.add_argument(
        '--orbit',
        default='ascending',
        choices=['ascending', 'descending', 'both'],
        help='Sentinel-1 orbit direction (default ascending)',
    )
    imagery.add_argument(
        '--linear',
        action='store_true',
        help='Sentinel-1 backscatter in linear power instead of dB',
    )
    imagery.add_argument('--crs', default='EPSG:4326', help='CRS (default EPSG:4326)')
    imagery.add_argument(
        '--res', type=float, nargs='+', help='resolution x [y] (default: 10 m)'
    )
    imagery.add_argument('--years', help='comma-separated years')
    imagery.add_argument('--months', help='comma-separated months 1..12')
    imagery.add_argument(
        '--cloud-rule',
        default='default',
        help="'default', 'paper' (400 m dilation) or 'none'",
    )
    imagery.add_argument('--boundary', type=Path, help='Flanders boundary file')


def load_scheme(value: str) -> SplitScheme:
    """The split scheme named on the command line.

    Args:
        value: ``'paper'`` or the path of a JSON object such as
            ``{"1-2": "train", "3-4": "val", "5-6": "train", "7-8": "test"}``.

    Returns:
        The scheme.

    Raises:
        FileNotFoundError: if the JSON file does not exist.
        ValueError: if it is not a JSON object of strings or not a valid scheme.
    """
    from ..errors import BVMNotFoundError, BVMValueError
    from ..fileio import read_json
    from ..sheets.scheme import SplitScheme

    if value == 'paper':
        return SplitScheme()
    path = Path(value)
    if not path.is_file():
        raise BVMNotFoundError(f"split scheme file not found: {path} (or use 'paper')")
    assignment = read_json(path)
    if not isinstance(assignment, dict):
        raise BVMValueError(
            f'{path}: expected a JSON object mapping sheet parts to splits'
        )
    try:
        return SplitScheme(assignment)
    except ValueError as error:
        raise BVMValueError(f'{path}: {error}') from None


def _run(args: argparse.Namespace) -> int:
    """Compute and write the statistics."""
    from ..bvm.statistics import STATISTICS_FILES, split_class_counts
    from ..errors import BVMNotFoundError
    from ..fileio import check_output, check_writable_folder

    scheme = load_scheme(args.split)
    check_writable_folder(args.out)
    numbers = None if args.sheets is None else parse_kbl_numbers(args.sheets)
    if args.bands is not None:
        return _band_statistics(args, scheme, numbers)
    if not args.labels.is_file():
        raise BVMNotFoundError(f'--labels: {args.labels} not found')
    # The folder is the command's own: its files are replaced, never an input.
    for name in STATISTICS_FILES.values():
        check_output(args.out / name, [args.labels, args.split], overwrite=True)
    statistics = split_class_counts(args.labels, scheme, numbers)
    paths = statistics.write(args.out, log_scale=args.log)
    print(statistics.to_markdown())
    for kind, path in paths.items():
        print(f'{kind}: {path}')
    return 0


def _band_statistics(
    args: argparse.Namespace, scheme: SplitScheme, numbers: list[int] | None
) -> int:
    from ..errors import BVMNotFoundError, BVMValueError

    # Checked before torch and torchgeo are imported (half a minute on a slow
    # machine), so that a mistyped path fails at once.
    option = '--sentinel1' if args.sentinel1 else '--sentinel2'
    paths: list[Path] | None = args.sentinel1 or args.sentinel2
    if not paths:
        raise BVMValueError(
            '--bands needs --sentinel2 or --sentinel1 with the imagery folders or files'
        )
    for path in paths:
        if not path.exists():
            raise BVMNotFoundError(f'{option}: {path} not found')

    # Imported here: they pull in torch and torchgeo, which --labels never needs.
    from ..fileio import check_output, check_outside_scans, check_writable_folder
    from ..sheets.boundary import read_boundary
    from ..spatial.crs import resolution_for
    from ..training.normalization import compute_band_stats

    if args.sentinel2 and (args.orbit != 'ascending' or args.linear):
        raise BVMValueError('--orbit and --linear apply to --sentinel1')
    if args.sentinel1 and args.cloud_rule != 'default':
        raise BVMValueError(
            '--cloud-rule applies to --sentinel2 (its SCL layer): radar sees '
            'through clouds'
        )
    crs = parse_crs(args.crs)
    common: dict[str, Any] = {
        'crs': crs,
        'res': parse_res(args.res) or resolution_for(crs),
        'years': None if args.years is None else parse_integers(args.years, '--years'),
        'months': None
        if args.months is None
        else parse_integers(args.months, '--months'),
        **_sensor_arguments(args),
    }
    check_output(args.out / 'band-stats.json', [args.split], overwrite=True)
    check_writable_folder(args.out)
    image = _imagery(option, paths, common)
    # After the values (the dataset checks years and months): a bad value is
    # named first, whatever the output folder.
    check_outside_scans([args.out], {option: paths})
    flanders = read_boundary(args.boundary) if args.boundary else None
    statistics = compute_band_stats(image, scheme, 'train', numbers, flanders)
    path = statistics.write(args.out / 'band-stats.json')
    print(f'{statistics.pixels:,} usable pixels of the train split')
    for i, band in enumerate(statistics.bands):
        print(f'{band}: mean {statistics.mean[i]:.1f}, std {statistics.std[i]:.1f}')
    print(f'band statistics: {path}')
    return 0


def _sensor_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The bands and the sensor's own arguments, checked."""
    from ..datasets.bands import resolve_bands
    from ..datasets.radar import check_orbit
    from ..datasets.radar import resolve_bands as resolve_radar_bands
    from ..training.options import cloud_rule_from

    if args.sentinel1:
        check_orbit(args.orbit)
        return {
            'bands': resolve_radar_bands(args.bands),
            'orbit': args.orbit,
            'decibels': not args.linear,
        }
    return {
        'bands': resolve_bands(args.bands),
        'cloud_rule': cloud_rule_from(args.cloud_rule),
    }


def _imagery(option: str, paths: list[Path], arguments: dict[str, Any]) -> GeoDataset:
    """The imagery whose bands are described, as the data module reads it."""
    from torchgeo.datasets import DatasetNotFoundError

    from ..datasets.sentinel1 import Sentinel1Sigma0
    from ..datasets.sentinel2 import Sentinel2TOC
    from ..errors import BVMNotFoundError

    sensor = Sentinel1Sigma0 if option == '--sentinel1' else Sentinel2TOC
    try:
        return sensor([str(p) for p in paths], **arguments)
    except DatasetNotFoundError:
        raise BVMNotFoundError(
            f'{option}: no {sensor.sensor} imagery in {", ".join(map(str, paths))} '
            '(expected Terrascope products or openEO downloads)'
        ) from None


COMMAND = Command(
    help='class distributions and chi-squared distances of the splits',
    add_arguments=_add_arguments,
    run=_run,
)
