"""The overview plots of a mini-Flanders folder.

:func:`plot_overview` draws the class map beside one date in true colour,
:func:`plot_season` the season's monthly composites and NDVI profiles,
:func:`plot_radar` the radar's monthly means and VH courses. Each is
drawn on its own :class:`~matplotlib.figure.Figure` with the Agg canvas, so
it neither needs nor changes pyplot's backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import LegendLocType
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ...classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from ...datasets.bands import ALL_BANDS
from ...fileio import atomic_path
from ...plot import map_axes
from ...sheets.codes import sheets
from ...spatial.crs import LAMBERT72, UTM31N
from ..sentinel2 import TERRASCOPE_NODATA
from .region import MiniFlandersSize

__all__ = ['plot_overview', 'plot_radar', 'plot_season']

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
            order of :data:`~torchgeo_bvm.datasets.bands.ALL_BANDS`.
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


def plot_season(
    path: Path,
    months: Sequence[str],
    pictures: Sequence[NDArray[np.float64]],
    profiles: Mapping[str, NDArray[np.float64]],
) -> None:
    """Write a PNG of the season: the monthly composites and NDVI profiles.

    Args:
        path: the PNG to write.
        months: the months, ``'YYYY-MM'``.
        pictures: each month's composite in false colour (near infrared, red,
            green) ``(rows, cols, 3)`` in 0..1, NaN where it has no data.
        profiles: a label -> ``(months, 3)``: the 10th, 50th and 90th
            percentiles of the NDVI of that land cover's pixels each month.
    """
    columns = (len(pictures) + 1) // 2
    rows, cols = pictures[0].shape[:2]
    height = 2 * 2.6 * rows / cols + 2.8
    figure = Figure(figsize=(2.6 * columns, height + 0.6), layout='constrained')
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        3, columns, height_ratios=(rows / cols, rows / cols, 1.0)
    )
    for index, (month, picture) in enumerate(zip(months, pictures, strict=True)):
        axes = figure.add_subplot(grid[index // columns, index % columns])
        shown = np.where(np.isnan(picture), 1.0, picture)
        axes.imshow(shown, interpolation='nearest')
        axes.set_title(month, fontsize=9)
        axes.set_axis_off()
    axes = figure.add_subplot(grid[2, :])
    ticks = np.arange(len(months))
    for (label, profile), colour in zip(
        profiles.items(), ('tab:orange', 'tab:green', 'tab:blue'), strict=False
    ):
        axes.fill_between(ticks, profile[:, 0], profile[:, 2], color=colour, alpha=0.2)
        axes.plot(ticks, profile[:, 1], color=colour, marker='o', label=label)
    axes.set_xticks(ticks, [m[5:] for m in months])
    axes.set_xlabel(f'month of {months[0][:4]}')
    axes.set_ylabel('NDVI of the monthly composite')
    axes.set_ylim(-0.1, 1.0)
    _write_season_figure(
        path,
        figure,
        axes,
        'lower center',
        'Monthly median composites (false colour: B08, B04, B03; white: no clear '
        'observation) and NDVI, median and 10-90 % of the pixels',
    )


def _write_season_figure(
    path: Path, figure: Figure, courses: Axes, legend: LegendLocType, title: str
) -> None:
    """Finish a season's figure (its courses gridded, with a legend) and write it."""
    courses.grid(alpha=0.3)
    courses.legend(loc=legend, fontsize=8)
    figure.suptitle(title)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=80, format='png', metadata={'Software': None})


def _radar_colours(mean: NDArray[np.float32], step: int) -> NDArray[np.float64]:
    """Monthly mean sigma0 ``(2, rows, cols)`` as RGB: VV, VH, VV/VH in dB."""
    vv, vh = (np.log10(np.maximum(band[::step, ::step], 1e-6)) * 10 for band in mean)
    layers = ((vv, -20.0, 0.0), (vh, -27.0, -7.0), (vv - vh, 3.0, 12.0))
    return np.stack(
        [np.clip((v - low) / (high - low), 0, 1) for v, low, high in layers], axis=-1
    )


def plot_radar(
    path: Path,
    means: Sequence[NDArray[np.float32]],
    days: Sequence[datetime],
    courses: Mapping[str, Sequence[float]],
) -> None:
    """Write a PNG of the radar season: monthly means and VH courses.

    Args:
        path: the PNG to write.
        means: each month's mean of the ascending passes ``(2, rows, cols)``
            (VV, VH in linear power).
        days: the ascending passes.
        courses: a label -> the median VH (dB) of that land cover's pixels on
            each pass.
    """
    columns = (len(means) + 1) // 2
    rows, cols = means[0].shape[1:]
    step = max(1, -(-max(rows, cols) // 400))
    height = 2 * 2.6 * rows / cols + 2.8
    figure = Figure(figsize=(2.6 * columns, height + 0.6), layout='constrained')
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        3, columns, height_ratios=(rows / cols, rows / cols, 1.0)
    )
    for index, mean in enumerate(means):
        axes = figure.add_subplot(grid[index // columns, index % columns])
        axes.imshow(_radar_colours(mean, step), interpolation='nearest')
        axes.set_title(f'{days[0].year}-{index + 1:02d}', fontsize=9)
        axes.set_axis_off()
    axes = figure.add_subplot(grid[2, :])
    for (label, values), colour in zip(
        courses.items(), ('tab:orange', 'tab:green', 'tab:purple'), strict=False
    ):
        axes.plot(
            np.array(days, dtype='datetime64[s]'),
            np.asarray(values, dtype=float),
            color=colour,
            marker='o',
            label=label,
        )
    axes.set_ylabel('VH, median of the pixels (dB)')
    _write_season_figure(
        path,
        figure,
        axes,
        'upper left',
        'Sentinel-1 monthly means of the ascending passes (red VV -20..0 dB, '
        'green VH -27..-7 dB, blue VV/VH 3..12 dB) and VH on every pass',
    )
