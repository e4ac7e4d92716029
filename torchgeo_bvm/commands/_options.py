"""The options the subcommands share: the BVM layer, sheets, years, months, CRS, res.

Every subcommand reads these options through the functions here, so one option
means one thing everywhere and bad values get the same one-line error, naming
the option, the value and what was expected (:func:`torchgeo_bvm.cli.main`
prints it and exits with status 2). Nothing is widened: a ``kbl4`` code where
whole 1:50,000 sheets are expected is an error, never its whole sheet.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BVMValueError

if TYPE_CHECKING:
    from pyproj import CRS

    from ..sheets.codes import Sheet

# The parsers import what they need when called: a subcommand module imports
# this one at start-up, and --help must not wait for pyproj or geopandas.

__all__ = [
    'add_bvm_options',
    'add_output_options',
    'parse_crs',
    'parse_integers',
    'parse_kbl_numbers',
    'parse_res',
    'parse_sheets',
]


def add_bvm_options(parser: argparse.ArgumentParser) -> None:
    """Add the options naming the BVM layer and its classes.

    ``--bvm`` (required), ``--layer``, ``--label-field`` and ``--mapping``, with
    the meaning of :class:`~torchgeo_bvm.datasets.BVMDataset`'s arguments.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        '--bvm',
        type=Path,
        required=True,
        help='the BVM layer: .shp, .zip of it, .gpkg or GeoParquet',
    )
    parser.add_argument('--layer', help='layer name (GeoPackage) or shapefile in a zip')
    parser.add_argument(
        '--label-field',
        default='EENH1',
        help='unit field (default EENH1) or an integer label field such as Label',
    )
    parser.add_argument(
        '--mapping', type=Path, help='your own unit -> class table (CSV: code,class)'
    )


def add_output_options(
    parser: argparse.ArgumentParser, what: str, *, required: bool = True
) -> None:
    """Add ``--out``, what the subcommand writes, and ``--overwrite``.

    Without ``--overwrite`` an existing ``--out`` is an error, never replaced.

    Args:
        parser: the subcommand's parser.
        what: ``--out``'s help: what is written there.
        required: whether ``--out`` must be given.
    """
    parser.add_argument('--out', type=Path, required=required, help=what)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing --out'
    )


def parse_sheets(text: str) -> list[Sheet]:
    """Map sheets of any level from ``--sheets``, a comma-separated list of codes.

    Args:
        text: e.g. ``'22/1-2,22_3-4,15'``.

    Returns:
        The sheets, in the order given.

    Raises:
        ValueError: for an invalid code (naming it and the expected forms) or a
            list that names no sheet.
    """
    from ..sheets.codes import iter_codes

    return _some(text, lambda codes: list(iter_codes(codes)))


def parse_kbl_numbers(text: str) -> list[int]:
    """Whole 1:50,000 sheet numbers from ``--sheets``, a comma-separated list.

    Args:
        text: e.g. ``'15,22'``.

    Returns:
        The sheet numbers, sorted, each once.

    Raises:
        ValueError: for an invalid code, a code of a finer level such as
            ``'22/1-2'`` (see :func:`~torchgeo_bvm.sheets.codes.kbl_numbers`), or a list
            that names no sheet.
    """
    from ..sheets.codes import kbl_numbers

    return _some(text, kbl_numbers)


def _some[T](text: str, parse: Callable[[str], list[T]]) -> list[T]:
    """``parse(text)``, its errors naming ``--sheets``; no sheet is an error."""
    try:
        parsed = parse(text)
    except ValueError as error:
        raise BVMValueError(f'--sheets: {error}') from None
    if not parsed:
        raise BVMValueError(f'--sheets {text!r} names no sheet')
    return parsed


def parse_integers(text: str, option: str) -> list[int]:
    """Whole numbers from a comma-separated list (years, months).

    Args:
        text: e.g. ``'2021,2022'``.
        option: the option's name, for messages.

    Returns:
        The numbers, in the order given.

    Raises:
        ValueError: if an item is not a whole number.
    """
    try:
        values = [int(item) for item in text.split(',') if item.strip()]
    except ValueError:
        raise BVMValueError(
            f'{option}: expected comma-separated whole numbers, got {text!r}'
        ) from None
    if not values:
        raise BVMValueError(f'{option}: no value given ({text!r})')
    return values


def parse_crs(text: str) -> CRS:
    """The CRS of ``--crs``: anything pyproj reads (``EPSG:31370``, ``31370``, WKT).

    Args:
        text: the value.

    Returns:
        The CRS.

    Raises:
        ValueError: if pyproj does not know it.
    """
    from ..checks import check_crs

    return check_crs(text, '--crs')


def parse_res(values: list[float] | None) -> tuple[float, float] | None:
    """The resolution of ``--res``: one value (x and y) or two (x, then y).

    Args:
        values: the values given, or None.

    Returns:
        ``(x, y)``, or None when nothing was given.

    Raises:
        ValueError: for more than two values or a value that is not a finite
            number greater than 0.
    """
    if values is None:
        return None
    from ..checks import check_resolution

    return check_resolution(values, '--res')
