"""The picture of the strongest candidates and the images it shows them on."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from matplotlib.figure import Figure
from PIL import Image

from tests.compare_scene import scene_grid, write_scene_bvm, write_scene_map
from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.errors import BVMFileError, BVMValueError
from torchgeo_bvm.maps.candidates import TRUE_COLOUR, find_images, plot_candidates
from torchgeo_bvm.maps.compare import compare_with_bvm
from torchgeo_bvm.maps.files import find_class_maps
from torchgeo_bvm.synth.sentinel2 import (
    write_openeo_sheet,
    write_terrascope_product,
)

UTM = 'EPSG:32631'


def _products(folder: Path, grid_bounds: tuple[float, ...]) -> list[Path]:
    """Two products over the scene: one all cloud, one all clear."""
    xmin, ymin, xmax, ymax = grid_bounds
    snapped = (
        np.floor(xmin / 60) * 60,
        np.floor(ymin / 60) * 60,
        np.ceil(xmax / 60) * 60,
        np.ceil(ymax / 60) * 60,
    )
    shape = (
        round((snapped[3] - snapped[1]) / 20),
        round((snapped[2] - snapped[0]) / 20),
    )
    paths = []
    for day, scl in (('05', 9), ('15', 4)):
        paths.append(
            write_terrascope_product(
                folder,
                sensing=f'2020-07-{day}T10:46:19',
                tile='31UES',
                bounds=snapped,
                crs=UTM,
                scl=np.full(shape, scl, dtype=np.uint8),
            )
        )
    return paths


def test_images_are_terrascope_products_and_described_geotiffs(tmp_path: Path) -> None:
    grid = scene_grid(UTM, 10.0)
    products = _products(tmp_path / 'archive', grid.bounds)
    images = find_images([tmp_path / 'archive'])
    assert [i.name for i in images] == ['2020-07-05', '2020-07-15']
    assert [p.name.split('_TOC-')[1][:3] for p, _ in images[0].bands] == list(
        TRUE_COLOUR
    )
    assert images[0].scl is not None
    assert images[0].scl.parent == products[0]
    # The first is cloud (SCL 9) everywhere, the second clear.
    window = rasterio.windows.Window(10, 10, 20, 20)
    picture, clear = images[0].read(grid, window)
    assert picture.shape == (20, 20, 3)
    assert not clear.any()
    _, clear = images[1].read(grid, window)
    assert clear.all()
    rng = np.random.default_rng(0)
    bands = {b: rng.integers(100, 3000, (40, 40)).astype(np.int16) for b in ALL_BANDS}
    composite = write_openeo_sheet(
        tmp_path / 'openeo',
        '22/1-2',
        '2020-07',
        bands,
        bounds=(550_000.0, 5_650_000.0, 550_400.0, 5_650_400.0),
        crs=UTM,
        composite=True,
    )
    (image,) = find_images([composite])
    assert image.bands == tuple(
        (composite, ALL_BANDS.index(b) + 1) for b in TRUE_COLOUR
    )
    assert image.scl is None


def test_bad_images_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BVMFileError, match='image not found'):
        find_images([tmp_path / 'none.tif'])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(BVMFileError, match='no Terrascope product'):
        find_images([empty])
    grid = scene_grid(UTM, 10.0)
    path = write_scene_map(tmp_path / 'map.tif', grid)
    with pytest.raises(BVMValueError, match='no band named B04, B03, B02'):
        find_images([path])


def test_each_candidate_is_shown_on_the_clearest_image(tmp_path: Path) -> None:
    grid = scene_grid(UTM, 10.0)
    _products(tmp_path / 'archive', grid.bounds)
    bvm = write_scene_bvm(tmp_path / 'BwkHab.shp')
    write_scene_map(tmp_path / 'maps' / 'map.tif', grid)
    result = compare_with_bvm(
        bvm,
        tmp_path / 'maps',
        tmp_path / 'out',
        images=[tmp_path / 'archive'],
        top=4,
        progress=False,
    )
    figure = plot_candidates(
        result.polygons,
        find_class_maps(tmp_path / 'maps'),
        4,
        find_images([tmp_path / 'archive']),
    )
    assert isinstance(figure, Figure)
    rows = figure.subfigs
    assert len(rows) == 4
    titles = [[a.get_title() for a in row.axes] for row in rows]
    # The clear product of 15 July, never the cloudy one of the 5th.
    assert [t[0] for t in titles] == ['2020-07-15, 100% clear'] * 4
    assert all(t[1:] == ['BVM', 'map'] for t in titles)
    # Every panel is square and of one size.
    figure.draw_without_rendering()
    widths = {round(a.get_window_extent().width) for r in rows for a in r.axes}
    heights = {round(a.get_window_extent().height) for r in rows for a in r.axes}
    assert widths == heights
    assert len(widths) == 1
    first = rows[0]._suptitle.get_text()
    assert first.startswith('#1 ')
    assert 'score' in first
    assert '(typical ' in first
    with Image.open(tmp_path / 'out' / 'candidates.png') as png:
        assert png.size[0] > 1000
