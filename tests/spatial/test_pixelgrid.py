from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.transform import from_origin
from rasterio.windows import Window

from torchgeo_bvm.spatial.pixelgrid import (
    Grid,
    location_seed,
    merge_fill,
    nodata_is_the_only_mask,
)


def write(
    path: Path, dtype: str = 'uint8', nodata: float | None = 255, **extra
) -> Path:
    profile = {
        'driver': 'GTiff',
        'width': 4,
        'height': 3,
        'count': 1,
        'dtype': dtype,
        'crs': 'EPSG:31370',
        'transform': from_origin(100.0, 200.0, 10.0, 10.0),
        'nodata': nodata,
        **extra,
    }
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(np.arange(12, dtype=dtype).reshape(1, 3, 4))
    return path


def test_grid_from_bounds_snaps_outward() -> None:
    grid = Grid.from_bounds((12.5, 3.0, 47.0, 29.9), 'EPSG:31370', 10)
    assert grid.bounds == (10.0, 0.0, 50.0, 30.0)
    assert (grid.width, grid.height) == (4, 3)
    with pytest.raises(ValueError, match='res must be a finite number greater than 0'):
        Grid.from_bounds((0, 0, 1, 1), 'EPSG:31370', 0)
    assert [w for w in grid.windows(2)] == [
        Window(0, 0, 2, 2), Window(2, 0, 2, 2), Window(0, 2, 2, 1), Window(2, 2, 2, 1),
    ]  # fmt: skip


def test_lattice_windows_snap_and_transform() -> None:
    grid = Grid.lattice(100.0, 200.0, 10.0, 5.0)
    assert (grid.left, grid.top, grid.xres, grid.yres) == (100.0, 200.0, 10.0, 5.0)
    assert grid.res == (10.0, 5.0)
    assert grid.north_up
    assert grid.column(np.array([100.0, 109.9, 99.9])).tolist() == [0, 0, -1]
    assert grid.row(np.array([200.0, 195.1, 200.1])).tolist() == [0, 0, -1]
    x, y = grid.centre(2, 3)
    assert (float(x), float(y)) == (125.0, 182.5)
    assert grid.window(-1, 2, 3, 4) == (
        slice(90.0, 120.0, 10.0), slice(170.0, 190.0, 5.0)
    )  # fmt: skip
    assert grid.locate(*grid.window(-1, 2, 3, 4)) == (-1, 2, 3, 4)
    # a query a little off the lattice snaps to the nearest window
    assert grid.locate(slice(91.0, 119.0), slice(171.0, 189.0)) == (-1, 2, 3, 4)
    assert grid.window_transform(-1, 2) == Affine(10.0, 0.0, 90.0, 0.0, -5.0, 190.0)
    with pytest.raises(ValueError, match='unbounded grid has no size'):
        _ = grid.bounds


def test_aligned_windows_are_on_the_pixels() -> None:
    grid = Grid(None, from_origin(100.0, 200.0, 10.0, 10.0), 4, 3)
    assert grid.shape == (3, 4)
    assert grid.aligned((90.0, 160.0, 130.0, 210.0), (10.0, 10.0), (5, 4)) == (-1, -1)
    # within 1e-6 pixel of the pixels
    assert grid.aligned((120.000001, 0.0, 0.0, 180.0), (10.0, 10.0), (2, 2)) == (2, 2)
    assert grid.aligned((120.5, 0.0, 0.0, 180.0), (10.0, 10.0), (2, 2)) is None
    assert grid.aligned((120.0, 0.0, 0.0, 180.0), (10.1, 10.0), (2, 2)) is None
    flipped = Grid(None, Affine(10.0, 0.0, 100.0, 0.0, 10.0, 200.0), 4, 3)
    assert not flipped.north_up
    assert flipped.aligned((100.0, 0.0, 0.0, 200.0), (10.0, 10.0), (1, 1)) is None


def test_subdivided_windows_split_the_pixels_evenly() -> None:
    grid = Grid(None, from_origin(100.0, 200.0, 20.0, 60.0), 4, 3)
    # 10 m pixels, half a 20 m pixel and a third of a 60 m pixel from the origin
    assert grid.subdivided((90.0, 0.0, 0.0, 180.0), (10.0, 20.0), (3, 5)) == (
        -1,
        1,
        2,
        3,
    )
    assert grid.subdivided((135.0, 0.0, 0.0, 200.0), (5.0, 5.0), (2, 2)) == (
        7,
        0,
        4,
        12,
    )
    # the same pixels (aligned, not subdivided), a factor that is not whole,
    # a window off the window-sized lattice
    assert grid.subdivided((100.0, 0.0, 0.0, 200.0), (20.0, 60.0), (1, 1)) is None
    assert grid.subdivided((100.0, 0.0, 0.0, 200.0), (8.0, 20.0), (1, 1)) is None
    assert grid.subdivided((104.0, 0.0, 0.0, 200.0), (10.0, 20.0), (1, 1)) is None
    flipped = Grid(None, Affine(20.0, 0.0, 100.0, 0.0, 20.0, 200.0), 4, 3)
    assert flipped.subdivided((100.0, 0.0, 0.0, 200.0), (10.0, 10.0), (1, 1)) is None


def test_clip_is_the_part_of_a_window_on_the_grid() -> None:
    grid = Grid(None, from_origin(0.0, 0.0, 1.0, 1.0), 4, 3)
    assert grid.clip(1, 1, 2, 2) == (Window(1, 1, 2, 2), slice(0, 2), slice(0, 2))
    assert grid.clip(-2, -1, 4, 3) == (Window(0, 0, 2, 2), slice(1, 3), slice(2, 4))
    assert grid.clip(3, 2, 5, 5) == (Window(3, 2, 1, 1), slice(0, 1), slice(0, 1))
    assert grid.clip(4, 0, 2, 2) is None
    assert grid.clip(-3, 0, 3, 2) is None
    values = np.arange(12).reshape(3, 4)
    window, rows, columns = grid.clip(-2, -1, 4, 3)
    out = np.full((3, 4), -1)
    out[rows, columns] = values[window.toslices()]
    assert out.tolist() == [[-1, -1, -1, -1], [-1, -1, 0, 1], [-1, -1, 4, 5]]


def test_like_and_of_file(tmp_path: Path) -> None:
    path = write(tmp_path / 'a.tif')
    grid = Grid.like(path)
    assert grid.crs.to_epsg() == 31370
    assert (grid.width, grid.height) == (4, 3)
    assert grid.bounds == (100.0, 170.0, 140.0, 200.0)
    with pytest.raises(FileNotFoundError, match='reference raster not found'):
        Grid.like(tmp_path / 'missing.tif')
    flipped = write(
        tmp_path / 'b.tif', transform=Affine(10.0, 0.0, 100.0, 0.0, 10.0, 200.0)
    )
    with pytest.raises(ValueError, match='is not north up'):
        Grid.like(flipped)


def test_merge_fill_is_what_merge_puts_outside(tmp_path: Path) -> None:
    import rasterio.merge

    cases = {
        'nodata 255': (write(tmp_path / 'a.tif'), 255),
        'no nodata': (write(tmp_path / 'b.tif', nodata=None), 0),
        'float': (write(tmp_path / 'c.tif', dtype='float32', nodata=1.5), None),
        'fraction': (write(tmp_path / 'd.tif', dtype='int16', nodata=2.5), None),
    }
    for name, (path, fill) in cases.items():
        with rasterio.open(path) as src:
            assert nodata_is_the_only_mask(src), name
            assert merge_fill(src) == fill, name
            if fill is not None:
                merged, _ = rasterio.merge.merge([src], bounds=(80, 150, 160, 220))
                assert merged[0, 0, 0] == fill, name
    masked = write(tmp_path / 'e.tif')
    with rasterio.open(masked, 'r+') as dst:
        dst.write_mask(np.full((3, 4), 255, dtype=np.uint8))
    with rasterio.open(masked) as src:
        assert not nodata_is_the_only_mask(src)
        assert merge_fill(src) is None


def test_location_seed_depends_on_the_window_only() -> None:
    x, y = slice(1.0, 2.0), slice(3.0, 4.0)
    assert location_seed(5, x, y) == location_seed(5, slice(1, 2), slice(3, 4))
    assert location_seed(5, x, y)[0] == 5
    assert location_seed(5, x, y) != location_seed(5, slice(1.0, 2.5), y)
    assert location_seed(5, x, y)[1] == location_seed(6, x, y)[1]


def test_from_bounds_ignores_float_noise_unlike_aligned_target() -> None:
    from rasterio.warp import aligned_target

    # A right edge 1e-10 pixel past a grid line: float noise, not a pixel.
    bounds = (0.0, 0.0, 30.000000001, 20.0)
    grid = Grid.from_bounds(bounds, 'EPSG:31370', 10.0)
    assert (grid.width, grid.height) == (3, 2)
    source = from_origin(0.0, 20.0, bounds[2], 20.0)
    _, width, height = aligned_target(source, 1, 1, 10.0)
    assert (width, height) == (4, 2)  # why Grid.from_bounds keeps its own rule


def test_covering_window_holds_the_bounds() -> None:
    grid = Grid.lattice(100.0, 500.0, 10.0, 10.0)
    window = grid.covering((105.0, 455.0, 131.0, 500.0))
    assert (window.col_off, window.row_off, window.width, window.height) == (0, 0, 4, 5)
    window = grid.covering((80.0, 510.0, 90.0, 520.0))  # outside: negative offsets
    assert (window.col_off, window.row_off, window.width, window.height) == (
        -2,
        -2,
        1,
        1,
    )
    assert grid.covering((110.0, 490.0, 110.0, 490.0)).width == 0
