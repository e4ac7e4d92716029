import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from pyproj import CRS

from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX
from torchgeo_bvm.plot import (
    class_colormap,
    class_legend,
    display_bands,
    map_axes,
    save_figure,
    stretch,
)


def test_class_colormap_paints_classes_and_hides_ignore() -> None:
    cmap = class_colormap()
    assert cmap.N == 256
    for cls in CLASSES:
        rgba = cmap(cls.id / 255)  # what imshow with vmin=0, vmax=255 looks up
        assert tuple(round(255 * v) for v in rgba[:3]) == cls.rgb
        assert rgba[3] == 1.0
    assert cmap(IGNORE_INDEX / 255)[3] == 0.0


def test_class_legend_in_class_order() -> None:
    plain = class_legend([11, 2, 2, IGNORE_INDEX])
    assert [h.get_label() for h in plain] == ['Grasslands', 'Urban areas']
    numbered = class_legend(np.array([13, 0]).tolist(), numbered=True)
    assert [h.get_label() for h in numbered] == [
        '0 Coastal dune habitats',
        '13 Woodland and shrub',
    ]
    assert numbered[0].get_edgecolor()[:3] == (0.0, 0.0, 0.0)
    # The ignored pixels' entry comes last, only when asked for and present.
    with_ignored = class_legend([11, 2, IGNORE_INDEX], ignored='white: no data')
    assert [h.get_label() for h in with_ignored] == [
        'Grasslands',
        'Urban areas',
        'white: no data',
    ]
    assert with_ignored[-1].get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert len(class_legend([11, 2], ignored='white: no data')) == 2


def test_display_bands_prefer_true_then_false_colour() -> None:
    true, false = ('B04', 'B03', 'B02'), ('B08', 'B04', 'B03')
    all_bands = ['B02', 'B03', 'B04', 'B08']
    assert display_bands(all_bands, true, false) == (
        ['B04', 'B03', 'B02'],
        'true colour (B04 B03 B02)',
    )
    assert display_bands(['B03', 'B04', 'B08'], true, false)[1] == (
        'false colour (B08 B04 B03)'
    )
    assert display_bands(['B11', 'B12', 'B01', 'B05'], true, false) == (
        ['B11', 'B12', 'B01'],
        'B11 B12 B01',
    )
    assert display_bands(['B11', 'B12'], true, false) == (['B11'], 'B11')


def test_stretch_between_percentiles() -> None:
    image = np.arange(100, dtype=np.float32).reshape(10, 10, 1)
    grey = stretch(image)
    assert grey.shape == (10, 10)
    low, high = np.percentile(np.arange(100), [2, 98])
    assert grey[0, 0] == 0.0
    assert grey[9, 9] == 1.0
    assert grey[5, 0] == pytest.approx((50 - low) / (high - low))
    colour = stretch(np.ones((2, 2, 3), np.float32), np.zeros((4, 3), np.float32))
    assert colour.shape == (2, 2, 3)
    assert (colour == 1.0).all()


def test_save_figure_is_atomic_and_closes(tmp_path: Path) -> None:
    figure, _ = plt.subplots()
    path = tmp_path / 'sub' / 'figure.png'
    save_figure(figure, path, dpi=50)
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert list(path.parent.iterdir()) == [path]
    assert not plt.fignum_exists(figure.number)


def test_unknown_is_not_drawn_like_no_data() -> None:
    # No data is black in the imagery and left out of class maps; every class,
    # Unknown included, has a colour of its own.
    colours = [c.rgb for c in CLASSES]
    assert len(set(colours)) == len(colours)
    assert (0, 0, 0) not in colours
    assert (255, 255, 255) not in colours


@pytest.mark.parametrize(
    ('crs', 'bounds', 'ticks'),
    [
        # A map sheet's corner in degrees: hundredths of a degree across.
        ('EPSG:4326', (3.70, 3.73, 50.99, 51.01), re.compile(r'^(3|50|51)\.\d+$')),
        # The same in Lambert 72, labelled in kilometres.
        (
            'EPSG:31370',
            (104_000, 106_000, 192_000, 194_000),
            re.compile(r'^\d{3}(\.\d+)?$'),
        ),
    ],
)
def test_map_axes_write_coordinates_in_full(crs, bounds, ticks) -> None:
    figure, axes = plt.subplots()
    axes.set_xlim(*bounds[:2])
    axes.set_ylim(*bounds[2:])
    map_axes(axes, CRS.from_user_input(crs))
    figure.canvas.draw()
    for axis in (axes.xaxis, axes.yaxis):
        # No offset ('+5.099e1') beside the axis, and every tick in full.
        assert axis.get_offset_text().get_text() == ''
        labels = [
            t.get_text().replace('\N{MINUS SIGN}', '-') for t in axis.get_ticklabels()
        ]
        assert labels
        assert all(ticks.match(label) for label in labels if label), labels
    plt.close(figure)
