"""What the samplers share: a checked seed and a dataset's sheet context."""

from __future__ import annotations

from collections.abc import Sequence

from numpy.random import BitGenerator, Generator, RandomState, SeedSequence
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import GeoDataset

from ..checks import check_seed
from ..sheets.layout import (
    SheetDataset,
    SheetLayout,
)
from ..sheets.scheme import SplitScheme
from ..spatial.pixelgrid import Grid

Seed = int | BitGenerator | Generator | RandomState | SeedSequence | None

__all__ = [
    'Seed',
    'seed_or_generator',
    'sheet_context',
]


def seed_or_generator(generator: Seed) -> Seed:
    """A seed checked as a seed (not negative, not a bool), or the generator."""
    if isinstance(generator, int | float | str):
        return check_seed(generator, 'generator')
    return generator


def sheet_context(
    dataset: GeoDataset,
    scheme: SplitScheme | None,
    numbers: Sequence[int | str] | None,
) -> tuple[Grid, SheetLayout, BaseGeometry | None]:
    """The grid, sheet layout and Flanders region a sampler uses for a dataset."""
    if not isinstance(dataset, SheetDataset):
        return (
            Grid.of(dataset),
            SheetLayout(scheme or SplitScheme(), dataset.crs, numbers),
            None,
        )
    if isinstance(dataset.layout, SheetLayout) and scheme is None and numbers is None:
        layout = dataset.layout
    else:
        layout = SheetLayout(
            scheme or dataset.scheme or SplitScheme(),
            dataset.crs,
            dataset.numbers if numbers is None else numbers,
        )
    return Grid.of(dataset), layout, dataset.flanders_region
