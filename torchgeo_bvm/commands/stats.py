"""Statistics of the dataset splits.

With --labels: class pixel counts and percentages per split (the paper's
Tables 1 and 2), the chi-squared distances between the splits, written as CSV,
a Markdown table and a bar chart.

Examples:
  torchgeo-bvm stats --labels labels.tif --out stats/
  torchgeo-bvm stats --labels labels.tif --split my.json --sheets 15,22 --out s/ --log
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..kaartblad import SplitScheme, iter_codes
from ..statistics import split_class_counts

HELP = 'class distributions and chi-squared distances of the splits'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        '--labels',
        type=Path,
        required=True,
        help='label raster (torchgeo-bvm rasterize)',
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
    if value == 'paper':
        return SplitScheme()
    path = Path(value)
    if not path.exists():
        raise FileNotFoundError(f"split scheme file not found: {path} (or use 'paper')")
    try:
        assignment = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON: {error}') from None
    if not isinstance(assignment, dict):
        raise ValueError(
            f'{path}: expected a JSON object mapping sheet parts to splits'
        )
    try:
        return SplitScheme(assignment)
    except ValueError as error:
        raise ValueError(f'{path}: {error}') from None


def run(args: argparse.Namespace) -> int:
    """Compute and write the statistics.

    Args:
        args: the parsed arguments.

    Returns:
        0 on success.
    """
    scheme = load_scheme(args.split)
    numbers = [s.number for s in iter_codes(args.sheets)] if args.sheets else None
    statistics = split_class_counts(args.labels, scheme, numbers)
    paths = statistics.write(args.out, log_scale=args.log)
    print(statistics.to_markdown())
    for kind, path in paths.items():
        print(f'{kind}: {path}')
    return 0
