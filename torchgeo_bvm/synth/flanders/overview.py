"""The overview plot of a mini-Flanders folder: class map beside true colour.

Drawn on its own :class:`~matplotlib.figure.Figure` with the Agg canvas, so
it neither needs nor changes pyplot's backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ...classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from ...crs import LAMBERT72, UTM31N
from ...datasets.bands import ALL_BANDS
from ...fileio import atomic_path
from ...plot import map_axes
from ...sheets import sheets
from ..sentinel2 import TERRASCOPE_NODATA
from .region import MiniFlandersSize

__all__ = ['plot_overview']

#: Flanders' border: black dashes, unlike any class colour (Urban areas is red).
BORDER_COLOUR = 'black'
#: The map sheets' edges, which are also where the paper's split changes.
SHEET_COLOUR = '#555555'


def plot_overview(
    path: Path,
    size: MiniFlandersSize,
    *,
    classes: NDArray[np.uint8],
    flanders: BaseGeometry,
    reflectance: NDArray[np.int16],
    bounds: tuple[float, float, float, float],
    date: str,
) -> None:
    """Write a PNG of the class map beside one date in true colour.

    Args:
        path: the PNG to write.
        size: the region.
        classes: its class map at 10 m (EPSG:31370).
        flanders: the Flanders boundary, drawn dashed.
        reflectance: one date's reflectance ``(bands, rows, cols)`` in the
            order of :data:`~torchgeo_bvm.datasets.sentinel2.ALL_BANDS`.
        bounds: its bounds in EPSG:32631.
        date: its date.
    """
    figure = Figure(figsize=(14, 5.2), layout='constrained')
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _draw_classes(left, classes, size, flanders)
    _draw_true_colour(right, reflectance, bounds, date)
    with atomic_path(path) as temporary:
        figure.savefig(
            temporary,
            dpi=110,
            format='png',
            metadata={'Software': None},
            bbox_inches='tight',
            pad_inches=0.15,
        )


def _draw_classes(
    axes: Axes,
    classes: NDArray[np.uint8],
    size: MiniFlandersSize,
    flanders: BaseGeometry,
) -> None:
    """The class map with the 1:10,000 sheets and Flanders' border as lines."""
    xmin, ymin, xmax, ymax = size.bounds
    colours = ListedColormap([c.colour for c in CLASSES])
    shown = np.ma.masked_equal(classes, IGNORE_INDEX)
    axes.imshow(
        shown,
        cmap=colours,
        vmin=-0.5,
        vmax=NUM_CLASSES - 0.5,
        extent=(xmin, xmax, ymin, ymax),
        interpolation='nearest',
    )
    numbers = sorted({s.number for s in size.kbl_sheets()})
    for sheet in sheets('kbl16', numbers):
        sx0, sy0, sx1, sy1 = sheet.bounds
        axes.plot(
            [sx0, sx1, sx1, sx0, sx0],
            [sy0, sy0, sy1, sy1, sy0],
            color=SHEET_COLOUR,
            lw=0.8,
        )
        label_x, label_y = max(sx0, xmin), min(sy1, ymax)
        if xmin <= label_x < xmax and ymin < label_y <= ymax:
            axes.annotate(
                sheet.code,
                (label_x, label_y),
                xytext=(3, -3),
                textcoords='offset points',
                ha='left',
                va='top',
                fontsize=7,
                color=SHEET_COLOUR,
                bbox={'facecolor': 'white', 'alpha': 0.7, 'pad': 1, 'lw': 0},
            )
    for part in getattr(flanders, 'geoms', [flanders]):
        bx, by = part.exterior.xy
        axes.plot(bx, by, color=BORDER_COLOUR, lw=1.8, ls=(0, (5, 2)))
    axes.set_xlim(xmin, xmax)
    axes.set_ylim(ymin, ymax)
    map_axes(axes, LAMBERT72)
    axes.set_title(f'BVM classes, mini-Flanders {size.name!r}')
    present = [c for c in CLASSES if (classes == c.id).any()]
    handles: list[Artist] = [Patch(color=c.colour, label=c.name) for c in present]
    handles += [
        Line2D(
            [], [], color=BORDER_COLOUR, lw=1.8, ls=(0, (5, 2)), label='Flanders border'
        ),
        Line2D([], [], color=SHEET_COLOUR, lw=0.8, label='1:10,000 map sheets (kbl16)'),
        Patch(facecolor='white', edgecolor='grey', label='no BVM polygon'),
    ]
    axes.legend(
        handles=handles,
        loc='upper left',
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        frameon=False,
    )


def _draw_true_colour(
    axes: Axes,
    reflectance: NDArray[np.int16],
    bounds: tuple[float, float, float, float],
    date: str,
) -> None:
    """Bands 4, 3 and 2 stretched from 0 to 2000, no data black."""
    bands = [ALL_BANDS.index(b) for b in ('B04', 'B03', 'B02')]
    picture = np.clip(reflectance[bands].astype(np.float64) / 2000.0, 0, 1)
    picture[:, reflectance[bands[0]] == TERRASCOPE_NODATA] = 0
    gx0, gy0, gx1, gy1 = bounds
    axes.imshow(np.moveaxis(picture, 0, -1), extent=(gx0, gx1, gy0, gy1))
    map_axes(axes, UTM31N)
    axes.set_title(f'Sentinel-2 TOC true colour, {date} (clouds white, no data black)')
