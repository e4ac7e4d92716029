"""What the package's figures share: class colours, legends, band display, saving.

* :func:`class_colormap` and :func:`class_legend`: the class colours of
  :data:`~torchgeo_bvm.classes.CLASSES` for class-id images, with
  :data:`~torchgeo_bvm.classes.IGNORE_INDEX` transparent;
* :func:`display_bands` and :func:`stretch`: which bands of an image to show and
  how to scale them for display;
* :func:`save_figure`: write a figure atomically and release it;
* :func:`plot_image_and_valid`: an image beside its validity mask, the
  figure of an imagery sample;
* :func:`plot_labelled`: an image (one date, or each step of a time series)
  beside its class maps (labels, prediction), the figure of a joint sample;
* :func:`plot_grid`: the map sheets coloured by split;
* :func:`plot_class_map` and :func:`map_axes`: a class raster as a map, with
  coordinates, a scale bar and a legend.

The library never chooses a matplotlib backend: scripts, tests and the command
line do (``MPLBACKEND=Agg``), so figures also show in notebooks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch
from numpy.typing import NDArray
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from .classes import CLASSES, IGNORE_INDEX
from .errors import BVMValueError
from .fileio import atomic_path

if TYPE_CHECKING:  # the command lines that draw maps do not import torch
    from torch import Tensor

    from .spatial.pixelgrid import Grid

__all__ = [
    'IGNORED_LABEL',
    'SPLIT_COLOURS',
    'class_colormap',
    'class_legend',
    'display_bands',
    'ignored_patch',
    'map_axes',
    'plot_class_map',
    'plot_grid',
    'plot_image_and_valid',
    'plot_labelled',
    'sample_date',
    'save_figure',
    'show_classes',
    'stretch',
]

#: Colours of the splits in plots.
SPLIT_COLOURS = {'train': '#4c72b0', 'val': '#dd8452', 'test': '#55a868'}


def class_colormap() -> ListedColormap:
    """A colormap for class ids 0..255: class colours, IGNORE_INDEX transparent.

    Returns:
        The colormap (use with ``vmin=0, vmax=255``).
    """
    colours = np.zeros((256, 4))
    for cls in CLASSES:
        colours[cls.id, :3] = np.array(cls.rgb) / 255
        colours[cls.id, 3] = 1.0
    return ListedColormap(colours)


def show_classes(
    axes: Axes,
    classes: NDArray[np.integer[Any]],
    extent: tuple[float, float, float, float] | None = None,
    interpolation: str = 'nearest',
) -> AxesImage:
    """Draw class ids in the class colours, IGNORE_INDEX transparent.

    Args:
        axes: where to draw.
        classes: class ids ``[H, W]``.
        extent: ``(left, right, bottom, top)`` in map units (default: pixels).
        interpolation: matplotlib's interpolation.

    Returns:
        The image.
    """
    return axes.imshow(
        classes,
        cmap=class_colormap(),
        vmin=0,
        vmax=255,
        interpolation=interpolation,
        extent=extent,
    )


def class_legend(
    present: Iterable[int], numbered: bool = False, ignored: str | None = None
) -> list[Patch]:
    """Legend entries for the classes present in an image, in class order.

    Args:
        present: class ids that occur (other values are ignored).
        numbered: label each entry ``'<id> <name>'`` on a black-edged patch
            (else the name on a plain patch).
        ignored: when given and IGNORE_INDEX is present, a last entry
            (:func:`ignored_patch`) saying what its white pixels mean.

    Returns:
        One patch per class present, and the ignored pixels' patch.
    """
    ids = set(present)
    if numbered:
        patches = [
            Patch(facecolor=c.colour, edgecolor='black', label=f'{c.id} {c.name}')
            for c in CLASSES
            if c.id in ids
        ]
    else:
        patches = [Patch(color=c.colour, label=c.name) for c in CLASSES if c.id in ids]
    if ignored is not None and IGNORE_INDEX in ids:
        patches.append(ignored_patch(ignored))
    return patches


#: What white (IGNORE_INDEX) means in a label panel of a training sample.
IGNORED_LABEL = (
    'no label (ignored): cloud or shadow, no data,\noutside Flanders, no BVM '
    'polygon, or mirrored\npast the sheet edge'
)


def ignored_patch(label: str = IGNORED_LABEL) -> Patch:
    """The legend entry of IGNORE_INDEX pixels, which class plots leave white.

    Args:
        label: what white means in the plot.

    Returns:
        A white patch with a grey edge.
    """
    return Patch(facecolor='white', edgecolor='grey', label=label)


def sample_date(bounds: Iterable[float] | Tensor) -> str | None:
    """The acquisition date of a TorchGeo sample, from its ``bounds``.

    Args:
        bounds: the sample's 9 ``bounds`` values (x, y and time slices; the
            time as POSIX seconds).

    Returns:
        ``YYYY-MM-DD`` of the middle of the time slice, or None when the slice
        spans more than a few days (several dates) or is missing.
    """
    import pandas as pd

    values = [float(v) for v in bounds]
    if len(values) < 8 or not all(np.isfinite(values[6:8])):
        return None
    start, stop = values[6], values[7]
    if stop - start > 3 * 86400:
        return None
    return str(pd.Timestamp((start + stop) / 2, unit='s').date())


def display_bands(
    bands: Sequence[str], true_colour: Sequence[str], false_colour: Sequence[str]
) -> tuple[list[str], str]:
    """The bands a plot shows, and its title.

    True colour when those bands are loaded, else false colour, else the first
    three bands (the first one if there are fewer than three); an empty choice
    (a dataset that names no colour bands) is skipped.

    Args:
        bands: the bands of the image, in order.
        true_colour: the red, green and blue bands of a true-colour picture.
        false_colour: the bands of a false-colour picture.

    Returns:
        The band names to show, and a title naming them.
    """
    for names, kind in ((true_colour, 'true colour'), (false_colour, 'false colour')):
        if names and set(names) <= set(bands):
            return list(names), f'{kind} ({" ".join(names)})'
    first = list(bands[:3]) if len(bands) >= 3 else list(bands[:1])
    return first, ' '.join(first)


def stretch(
    shown: NDArray[np.float32], pixels: NDArray[np.float32] | None = None
) -> NDArray[np.float64]:
    """Scale ``[H, W, C]`` to 0..1 between the 2nd and 98th percentile of ``pixels``.

    One low and one high value for all channels, so a true-colour picture keeps
    its colour balance (stretching each band on its own turns grey roads purple).

    Args:
        shown: the image, channels last.
        pixels: ``[N, C]``, the pixels the percentiles come from (default every
            pixel of ``shown``); leave out clouds and pixels without data, or
            they set the scale.

    Returns:
        The scaled image; a single channel comes back as ``[H, W]`` (grey).
    """
    if pixels is None:
        pixels = shown.reshape(-1, shown.shape[-1])
    low, high = np.percentile(pixels, [2, 98])
    scaled: NDArray[np.float64] = np.clip((shown - low) / max(high - low, 1e-6), 0, 1)
    return scaled[..., 0] if scaled.shape[-1] == 1 else scaled


def plot_image_and_valid(
    image: NDArray[np.floating[Any]],
    valid: NDArray[np.bool_],
    bands: Sequence[str],
    colour_bands: tuple[Sequence[str], Sequence[str]],
    show_titles: bool = True,
    suptitle: str | None = None,
) -> Figure:
    """An image (true or false colour) beside its validity mask.

    The bands of :func:`display_bands`, stretched between the 2nd and 98th
    percentile of the valid pixels.

    Args:
        image: ``[C, H, W]``.
        valid: ``[H, W]``, the usable pixels.
        bands: the names of the image's channels.
        colour_bands: the true-colour and false-colour bands of the imagery.
        show_titles: whether to title the panels.
        suptitle: a title for the figure.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    names, title = display_bands(bands, *colour_bands)
    shown = np.moveaxis(image[[list(bands).index(b) for b in names]], 0, -1)
    shown = stretch(shown, shown[valid] if valid.any() else None)
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    axes[0].imshow(shown, cmap='gray' if shown.ndim == 2 else None)
    axes[1].imshow(valid, cmap='gray', vmin=0, vmax=1, interpolation='nearest')
    for axis in axes:
        axis.axis('off')
    if show_titles:
        axes[0].set_title(title)
        axes[1].set_title(f'valid ({valid.mean():.0%} usable)')
    if suptitle is not None:
        figure.suptitle(suptitle)
    return figure


def plot_labelled(
    image: NDArray[np.floating[Any]],
    bands: Sequence[str],
    panels: Sequence[tuple[str, NDArray[np.integer[Any]]]],
    colour_bands: tuple[Sequence[str], Sequence[str]],
    date: str | None = None,
    dates: Sequence[int] | None = None,
    show_titles: bool = True,
    suptitle: str | None = None,
) -> Figure:
    """An image beside its class maps (labels, prediction), with a class legend.

    One date (``[C, H, W]``): true colour when those bands are loaded, else
    false colour, else the first three bands (:func:`display_bands`),
    stretched together between the 2nd and 98th percentile of the pixels
    labelled in the first panel (clouds and missing data do not set the
    scale), titled with ``date``. A time series (``[T, C, H, W]``, or
    ``[T * C, H, W]`` as a batch stacks it on the channels) is shown step by
    step, six to a row, each step titled with its date and all stretched alike
    (so that the months compare); the last row holds the class maps. Class
    maps use the class colours, with a legend of the classes shown; ignored
    pixels are white and the legend says why.

    Args:
        image: ``[C, H, W]``, ``[T, C, H, W]`` or ``[T * C, H, W]``.
        bands: the names of the channels of one step.
        panels: ``(title, class ids [H, W])`` of each class map, the labels first.
        colour_bands: the true-colour and false-colour bands of the imagery.
        date: the acquisition date of one date, added to the image's title.
        dates: each step's date as days since 1970-01-01 (negative: padding).
        show_titles: whether to title the panels.
        suptitle: a title for the figure (a series: default the steps and
            bands shown).

    Returns:
        The figure.
    """
    figure = _LabelledFigure(panels, colour_bands, show_titles, suptitle)
    steps = _series_steps(image, len(bands))
    if steps is not None:
        return _plot_labelled_series(steps, bands, dates, figure)
    named = list(bands) or [f'band {i + 1}' for i in range(image.shape[0])]
    return _plot_labelled_image(image, named, date, figure)


@dataclass(frozen=True)
class _LabelledFigure:
    """What :func:`plot_labelled` draws beside the imagery, and its titles."""

    panels: Sequence[tuple[str, NDArray[np.integer[Any]]]]
    colour_bands: tuple[Sequence[str], Sequence[str]]
    show_titles: bool
    suptitle: str | None


def _series_steps(
    image: NDArray[np.floating[Any]], bands: int
) -> NDArray[np.floating[Any]] | None:
    """The steps ``[T, C, H, W]`` of a time-series image, or None for one date."""
    if image.ndim == 4:
        return image
    channels = image.shape[0]
    if bands and image.ndim == 3 and channels > bands and channels % bands == 0:
        return image.reshape(-1, bands, *image.shape[1:])
    return None


def _plot_labelled_image(
    image: NDArray[np.floating[Any]],
    bands: Sequence[str],
    date: str | None,
    labelled_figure: _LabelledFigure,
) -> Figure:
    """One date ``[C, H, W]`` of :func:`plot_labelled`, beside its class maps."""
    import matplotlib.pyplot as plt

    panels, show_titles = labelled_figure.panels, labelled_figure.show_titles
    names, title = display_bands(bands, *labelled_figure.colour_bands)
    picture = np.moveaxis(image[[list(bands).index(n) for n in names]], 0, -1)
    labelled = panels[0][1] != IGNORE_INDEX
    shown = stretch(picture, picture[labelled] if labelled.any() else None)
    figure, axes = plt.subplots(
        1,
        1 + len(panels),
        figsize=(3.6 * (1 + len(panels)) + 3.4, 4),
        layout='constrained',
    )
    axes[0].imshow(shown, cmap='gray' if shown.ndim == 2 else None)
    if show_titles:
        axes[0].set_title(f'{title}, {date}' if date else title, fontsize=9)
    present: set[int] = set()
    for axis, (name, classes) in zip(axes[1:], panels, strict=True):
        present |= set(np.unique(classes).tolist())
        show_classes(axis, classes)
        if show_titles:
            axis.set_title(name, fontsize=9)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    handles = class_legend(present, ignored=IGNORED_LABEL)
    figure.legend(handles=handles, loc='outside right upper', fontsize=7)
    if labelled_figure.suptitle is not None:
        figure.suptitle(labelled_figure.suptitle)
    return figure


def _plot_labelled_series(
    steps: NDArray[np.floating[Any]],
    bands: Sequence[str],
    dates: Sequence[int] | None,
    labelled_figure: _LabelledFigure,
) -> Figure:
    """The steps ``[T, C, H, W]`` of :func:`plot_labelled`, then its class maps.

    Six steps to a row; the last row holds the class maps and the legend.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    panels, show_titles = labelled_figure.panels, labelled_figure.show_titles
    names, title = display_bands(bands, *labelled_figure.colour_bands)
    picked = np.moveaxis(steps[:, [list(bands).index(n) for n in names]], 1, -1)
    count, height = picked.shape[:2]
    # One stretch for every step, so that the months compare.
    shown = stretch(picked.reshape(count * height, *picked.shape[2:]))
    shown = shown.reshape(count, height, *shown.shape[1:])
    # The last row holds the labels, the prediction and the legend.
    columns = max(min(len(steps), 6), len(panels) + 1)
    rows = -(-len(steps) // columns) + 1
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False
    )
    for step, axis in enumerate(axes[:-1].flat):
        if step >= len(steps):
            axis.set_axis_off()
            continue
        axis.imshow(shown[step], cmap='gray' if shown.ndim == 3 else None)
        if show_titles and dates is not None and int(dates[step]) >= 0:
            day = pd.Timestamp('1970-01-01') + int(dates[step]) * pd.Timedelta(
                1, unit='D'
            )
            axis.set_title(f'{day:%Y-%m-%d}', fontsize=9)
        axis.set_axis_off()
    present: set[int] = set()
    for column, axis in enumerate(axes[-1]):
        axis.set_axis_off()
        if column >= len(panels):
            continue
        name, classes = panels[column]
        present |= set(np.unique(classes).tolist())
        show_classes(axis, classes)
        if show_titles:
            axis.set_title(name, fontsize=9)
    handles = class_legend(present, ignored=IGNORED_LABEL)
    axes[-1, len(panels)].legend(
        handles=handles, loc='upper left', fontsize=7, frameon=False
    )
    figure.suptitle(
        labelled_figure.suptitle or f'{len(steps)} steps, {title}', fontsize=10
    )
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int) -> None:
    """Write a figure atomically (format from the suffix, PNG without one), close it.

    The image is cut to what the figure draws (``bbox_inches='tight'``), so
    neither blank margins nor labels pushed past the edge end up in it.

    Args:
        figure: the figure.
        path: the image file.
        dpi: its resolution.
    """
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(
            temporary,
            dpi=dpi,
            format=Path(path).suffix.lstrip('.') or 'png',
            bbox_inches='tight',
            pad_inches=0.15,
        )
    plt.close(figure)


def plot_grid(
    frame: gpd.GeoDataFrame,
    path: str | Path,
    title: str | None = None,
    data: BaseGeometry | None = None,
) -> None:
    """Draw sheets coloured by split with their codes, and save it as an image.

    The legend sits outside the map and lists the splits in the order of the
    title's shares; sheet codes are sized to fit their sheets.

    Args:
        frame: a :func:`~torchgeo_bvm.sheets.official.grid` frame with a
            ``split`` column.
        path: the image file to write (PNG).
        title: the figure title (default: a summary of the split shares).
        data: where the data lie (in the frame's CRS), drawn hatched over the
            sheets; None draws nothing.

    Raises:
        ValueError: if ``frame`` has no ``split`` column.
    """
    import matplotlib.pyplot as plt

    if 'split' not in frame.columns:
        raise BVMValueError("plot_grid needs a 'split' column: pass scheme= to grid()")
    splits = [s for s in SPLIT_COLOURS if s in set(frame['split'])]
    splits += [s for s in dict.fromkeys(frame['split']) if s not in SPLIT_COLOURS]
    palette: dict[str, str | tuple[float, float, float, float]] = dict(SPLIT_COLOURS)
    cmap = plt.get_cmap('tab10')
    extra = [s for s in splits if s not in palette]
    palette.update({s: cmap(i) for i, s in enumerate(extra)})

    xmin, ymin, xmax, ymax = frame.total_bounds
    width = 14.0 if len(frame) > 16 else 8.0
    height = min(max(width * (ymax - ymin) / (xmax - xmin), 3.0), 9.0)
    figure, axes = plt.subplots(
        figsize=(width + 2.2, height + 0.8), layout='constrained'
    )
    frame.plot(
        ax=axes,
        color=[palette[s] for s in frame['split']],
        edgecolor='white',
        linewidth=0.6,
    )
    kbl = frame.dissolve(by=frame['CODE'].str.split('/').str[0])
    kbl.boundary.plot(ax=axes, color='black', linewidth=0.9)
    handles: list[Artist] = [Patch(color=palette[s], label=s) for s in splits]
    if data is not None and not data.is_empty:
        gpd.GeoSeries([data], crs=frame.crs).plot(
            ax=axes, facecolor='none', edgecolor='black', hatch='///', linewidth=1.2
        )
        handles.append(
            Patch(facecolor='none', edgecolor='black', hatch='///', label='data')
        )
    # Codes sized to the narrowest sheet: its width in points over the code's
    # length in characters (about 0.6 em each).
    points_per_unit = 72 * width / (xmax - xmin)
    widths = frame.geometry.bounds['maxx'] - frame.geometry.bounds['minx']
    longest = max(len(str(c)) for c in frame['CODE'])
    fontsize = float(
        np.clip(0.9 * widths.min() * points_per_unit / (0.6 * longest), 3, 11)
    )
    for code, geometry in zip(frame['CODE'], frame.geometry, strict=True):
        point = geometry.representative_point()
        axes.annotate(
            code,
            (point.x, point.y),
            ha='center',
            va='center',
            fontsize=fontsize,
            color='white',
            fontweight='bold',
        )
    areas = frame.geometry.area.groupby(frame['split']).sum()
    shares = ', '.join(f'{s} {100 * areas[s] / areas.sum():.0f} %' for s in splits)
    axes.set_title(title or f'Map sheets by split ({shares} of the area)')
    axes.set_axis_off()
    figure.legend(handles=handles, loc='outside right upper')
    save_figure(figure, path, dpi=150)


def plot_class_map(
    classes: NDArray[np.uint8],
    grid: Grid,
    path: str | Path,
    title: str,
    dpi: int = 120,
    ignored: str = 'no class (no clear observation, outside the sheet or Flanders)',
) -> None:
    """Draw a class-id raster as a map and save it as an image.

    The figure is cut to the pixels that hold a class and sized to them: the
    map keeps its aspect, framed, with coordinates in kilometres (or degrees)
    and a scale bar; the legend of the classes shown sits in columns below a
    wide map and beside a tall one. IGNORE_INDEX pixels are left white.

    Args:
        classes: ``[height, width]`` class ids.
        grid: the raster's grid (CRS, transform).
        path: the image file to write (PNG).
        title: the figure title.
        dpi: its resolution.
        ignored: the legend's entry for IGNORE_INDEX pixels, when there are any.
    """
    import matplotlib.pyplot as plt

    rows, cols = np.nonzero(classes != IGNORE_INDEX)
    if rows.size:
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    else:
        r0, r1, c0, c1 = 0, classes.shape[0], 0, classes.shape[1]
    shown = classes[r0:r1, c0:c1]
    left, top = grid.left + c0 * grid.xres, grid.top - r0 * grid.yres
    right, bottom = left + shown.shape[1] * grid.xres, top - shown.shape[0] * grid.yres
    aspect = (top - bottom) / max(right - left, 1e-12)
    if grid.crs is not None and grid.crs.is_geographic:
        aspect /= np.cos(np.radians((top + bottom) / 2))
    # The map's own aspect within 8 x 8 inches: a wide map fills the width with
    # the legend below it, a tall one the height with the legend beside it, and
    # the figure is only as large as the map and its legend.
    map_width = min(8.0, 8.0 / max(aspect, 1e-12))
    map_height = map_width * aspect
    handles = class_legend(np.unique(shown).tolist(), ignored=ignored)
    tall = aspect > 1.2
    columns = 1 if tall else (3 if map_width >= 6 else 2)
    entries = math.ceil(len(handles) / columns)
    # About an inch around the map holds its title, ticks and axis labels.
    if tall:
        size = (map_width + 1.0 + 3.6, max(map_height, 0.2 * entries) + 0.7)
    else:
        size = (max(map_width, 5.0) + 1.0, map_height + 0.2 * entries + 0.85)
    figure, axes = plt.subplots(figsize=size, layout='constrained')
    show_classes(axes, shown, (left, right, bottom, top))
    map_axes(axes, grid.crs)
    figure.legend(
        handles=handles,
        loc='outside right upper' if tall else 'outside lower center',
        ncols=columns,
        fontsize=8,
        frameon=False,
    )
    axes.set_title(title)
    save_figure(figure, path, dpi=dpi)


def map_axes(axes: Axes, crs: CRS | None) -> None:
    """Coordinates and a scale bar for a map drawn in ``crs`` units.

    Projected coordinates are labelled in kilometres, geographic ones in
    decimal degrees, both written out in full (no offset such as ``+5.1e1``
    beside the axis); the scale bar is a round number of metres or
    kilometres, about a fifth of the map's width.

    Args:
        axes: the map's axes, its limits set.
        crs: the CRS of the coordinates (None: unlabelled map units).
    """
    from matplotlib.ticker import FuncFormatter, ScalarFormatter
    from mpl_toolkits.axes_grid1.anchored_artists import (  # type: ignore[import-untyped]
        AnchoredSizeBar,
    )

    geographic = crs is not None and crs.is_geographic
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    if geographic:
        unit = 'degrees'
        metres_per_unit = 111_320 * float(np.cos(np.radians((y0 + y1) / 2)))
        axes.set_aspect(1 / np.cos(np.radians((y0 + y1) / 2)))
        # A map a few km wide spans hundredths of a degree: matplotlib would
        # write 51.0 as an offset and the ticks as -0.01 .. 0.01.
        for axis in (axes.xaxis, axes.yaxis):
            degrees = ScalarFormatter(useOffset=False)
            degrees.set_scientific(False)
            axis.set_major_formatter(degrees)
    else:
        unit = 'km'
        metres_per_unit = 1.0
        kilometres = FuncFormatter(lambda value, _: f'{value / 1000:g}')
        axes.xaxis.set_major_formatter(kilometres)
        axes.yaxis.set_major_formatter(kilometres)
    name = crs.to_string() if crs is not None else 'map units'
    axes.set_xlabel(f'x ({name}, {unit})', fontsize=8)
    axes.set_ylabel(f'y ({name}, {unit})', fontsize=8)
    axes.tick_params(labelsize=7)
    width_m = abs(x1 - x0) * metres_per_unit
    length_m = _round_length(width_m / 5)
    label = f'{length_m / 1000:g} km' if length_m >= 1000 else f'{length_m:g} m'
    axes.add_artist(
        AnchoredSizeBar(
            axes.transData,
            length_m / metres_per_unit,
            label,
            loc='lower right',
            pad=0.4,
            borderpad=0.6,
            sep=3,
            size_vertical=abs(y1 - y0) / 150,
            frameon=True,
            fontproperties={'size': 8},
        )
    )


def _round_length(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^n metres not above ``metres``."""
    power = 10 ** np.floor(np.log10(max(metres, 1e-9)))
    return float(max(m for m in (1, 2, 5) if m * power <= metres) * power)
