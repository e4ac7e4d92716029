"""What the package's figures share: class colours, legends, band display, saving.

* :func:`class_colormap` and :func:`class_legend`: the class colours of
  :data:`~torchgeo_bvm.classes.CLASSES` for class-id images, with
  :data:`~torchgeo_bvm.classes.IGNORE_INDEX` transparent;
* :func:`display_bands` and :func:`stretch`: which bands of an image to show and
  how to scale them for display;
* :func:`save_figure`: write a figure atomically and release it;
* :func:`plot_grid`: the map sheets coloured by split.

The library never chooses a matplotlib backend: scripts, tests and the command
line do (``MPLBACKEND=Agg``), so figures also show in notebooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from numpy.typing import NDArray

from .classes import CLASSES
from .errors import BVMValueError
from .fileio import atomic_path

__all__ = [
    'SPLIT_COLOURS',
    'class_colormap',
    'class_legend',
    'display_bands',
    'plot_grid',
    'save_figure',
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


def class_legend(present: Iterable[int], numbered: bool = False) -> list[Patch]:
    """Legend entries for the classes present in an image, in class order.

    Args:
        present: class ids that occur (other values are ignored).
        numbered: label each entry ``'<id> <name>'`` on a black-edged patch
            (else the name on a plain patch).

    Returns:
        One patch per class present.
    """
    ids = set(present)
    if numbered:
        return [
            Patch(facecolor=c.colour, edgecolor='black', label=f'{c.id} {c.name}')
            for c in CLASSES
            if c.id in ids
        ]
    return [Patch(color=c.colour, label=c.name) for c in CLASSES if c.id in ids]


def display_bands(
    bands: Sequence[str], true_colour: Sequence[str], false_colour: Sequence[str]
) -> tuple[list[str], str]:
    """The bands a plot shows, and its title.

    True colour when those bands are loaded, else false colour, else the first
    three bands (the first one if there are fewer than three).

    Args:
        bands: the bands of the image, in order.
        true_colour: the red, green and blue bands of a true-colour picture.
        false_colour: the bands of a false-colour picture.

    Returns:
        The band names to show, and a title naming them.
    """
    for names, kind in ((true_colour, 'true colour'), (false_colour, 'false colour')):
        if set(names) <= set(bands):
            return list(names), f'{kind} ({" ".join(names)})'
    first = list(bands[:3]) if len(bands) >= 3 else list(bands[:1])
    return first, ' '.join(first)


def stretch(
    shown: NDArray[np.float32], pixels: NDArray[np.float32] | None = None
) -> NDArray[np.float64]:
    """Scale ``[H, W, C]`` to 0..1 between the 2nd and 98th percentile of ``pixels``.

    Args:
        shown: the image, channels last.
        pixels: ``[N, C]``, the pixels the percentiles come from (default every
            pixel of ``shown``).

    Returns:
        The scaled image; a single channel comes back as ``[H, W]`` (grey).
    """
    if pixels is None:
        pixels = shown.reshape(-1, shown.shape[-1])
    low, high = np.percentile(pixels, [2, 98], axis=0)
    scaled: NDArray[np.float64] = np.clip(
        (shown - low) / np.maximum(high - low, 1e-6), 0, 1
    )
    return scaled[..., 0] if scaled.shape[-1] == 1 else scaled


def save_figure(figure: Figure, path: str | Path, dpi: int) -> None:
    """Write a figure atomically (format from the suffix, PNG without one), close it.

    Args:
        figure: the figure.
        path: the image file.
        dpi: its resolution.
    """
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(
            temporary, dpi=dpi, format=Path(path).suffix.lstrip('.') or 'png'
        )
    plt.close(figure)


def plot_grid(
    frame: gpd.GeoDataFrame, path: str | Path, title: str | None = None
) -> None:
    """Draw sheets coloured by split with their codes, and save it as an image.

    Args:
        frame: a :func:`~torchgeo_bvm.sheets.grid` frame with a ``split`` column.
        path: the image file to write (PNG).
        title: the figure title (default: a summary of the split shares).

    Raises:
        ValueError: if ``frame`` has no ``split`` column.
    """
    import matplotlib.pyplot as plt

    if 'split' not in frame.columns:
        raise BVMValueError("plot_grid needs a 'split' column: pass scheme= to grid()")
    figure, axes = plt.subplots(figsize=(14, 7), layout='constrained')
    palette = dict(SPLIT_COLOURS)
    extra = [s for s in dict.fromkeys(frame['split']) if s not in palette]
    cmap = plt.get_cmap('tab10')
    palette.update({s: cmap(i) for i, s in enumerate(extra)})
    colours = [palette[s] for s in frame['split']]
    frame.plot(ax=axes, color=colours, edgecolor='white', linewidth=0.4)
    kbl = frame.dissolve(by=frame['CODE'].str.split('/').str[0])
    kbl.boundary.plot(ax=axes, color='black', linewidth=0.8)
    fontsize = 7 if len(frame) <= 50 else 4 if len(frame) <= 200 else 2.5
    for code, geometry in zip(frame['CODE'], frame.geometry, strict=True):
        point = geometry.representative_point()
        axes.annotate(
            code, (point.x, point.y), ha='center', va='center', fontsize=fontsize
        )
    areas = frame.geometry.area.groupby(frame['split']).sum()
    shares = ', '.join(f'{s} {100 * a / areas.sum():.0f} %' for s, a in areas.items())
    axes.set_title(title or f'Map sheets by split ({shares} of the area)')
    axes.set_axis_off()
    handles = [Patch(color=palette[s], label=s) for s in dict.fromkeys(frame['split'])]
    axes.legend(handles=handles, loc='lower left')
    save_figure(figure, path, dpi=150)
