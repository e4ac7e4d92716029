"""The map graph run here: the exported UDF through openeo's own UDF runner.

``torchgeo-bvm openeo-map --backend local --sentinel2 DIR`` makes, from local
imagery, what a backend makes from the graph of
:func:`~torchgeo_bvm.openeo_map.graph.build_map_graph`, step by step:

1. **the cube** (``load_collection``, the SCL rule, the monthly composites,
   ``resample_spatial``): read by :class:`~torchgeo_bvm.datasets.Sentinel2TOC`
   from the folder, a calendar year as a series (``temporal='monthly'`` for a
   monthly model, every date for a single-date one), the pixels the imagery
   marks invalid as NaN, as openEO masks them;
2. **apply_neighborhood**: the sheet's tile extent cut into cores of
   ``chunk`` pixels from its upper-left corner, each sent with ``overlap``
   pixels on every side (NaN beyond the imagery), to
   :func:`openeo.udf.run_code.execute_local_udf`, which runs the UDF's code as
   a backend does; each result's core is kept;
3. **apply_dimension** over the bands (:func:`classify`): the first most
   probable class, its probability and the clear steps, in numpy, as the
   graph's ``array_find``/``max``/``array_element`` compute them.

openeo-processes-dask does not run this graph here: its ``load_collection``
and ``save_result`` are left to the backend, it has no ``apply_neighborhood``
(only a rolling-window variant that reduces each window), and its
``apply_dimension`` fails on callbacks that build arrays
(``array_create``). The docs say so ("Mapping in openEO").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
import xarray
from numpy.typing import NDArray
from openeo.rest.datacube import UDF  # type: ignore[attr-defined]  # unmarked re-export
from openeo.udf.run_code import execute_local_udf

from ..checks import MAX_ACCUMULATOR_BYTES, check_bytes
from ..datasets.series import DATE_PAD, calendar_year
from ..errors import BVMValueError
from ..spatial.pixelgrid import Grid
from .udf import CLEAR_BAND, PROBABILITY_PREFIX

if TYPE_CHECKING:
    from torchgeo.datasets import GeoDataset

__all__ = ['LocalMap', 'classify', 'map_lattice']


@dataclass(frozen=True)
class LocalMap:
    """What the graph's last step gives, on a lattice's grid.

    Args:
        grid: the lattice's grid.
        classes: the first most probable class, float NaN where no tile saw a
            clear step.
        confidence: its fused probability (NaN likewise).
        clear: the clear steps of each pixel.
    """

    grid: Grid
    classes: NDArray[np.float32]
    confidence: NDArray[np.float32]
    clear: NDArray[np.float32]


def classify(
    probabilities: NDArray[np.float32], clear: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """The graph's ``apply_dimension`` over the bands, in numpy.

    ``array_find(p, max(p))`` is the first class of the highest probability
    (numpy's ``argmax``); ``max`` skips no-data, so a pixel whose
    probabilities are all NaN has no class.

    Args:
        probabilities: ``[classes, H, W]``, NaN where no tile saw a clear step.
        clear: ``[H, W]`` clear steps.

    Returns:
        ``class``, ``confidence`` and ``clear``, NaN where there is no class.
    """
    known = np.isfinite(probabilities).all(axis=0)
    filled = np.where(known[None], probabilities, -np.inf)
    classes = np.where(known, filled.argmax(axis=0), np.nan).astype(np.float32)
    confidence = np.where(known, filled.max(axis=0), np.nan).astype(np.float32)
    return classes, confidence, clear.astype(np.float32)


def map_lattice(
    udf: UDF,
    imagery: GeoDataset,
    grid: Grid,
    year: int,
    chunk: int,
    overlap: int,
    progress: Callable[[], None] | None = None,
) -> LocalMap:
    """Run a map graph's last steps here on a sheet's tile extent (see the module).

    Args:
        udf: the graph's ``run_udf``: its code and context.
        imagery: the local imagery as a yearly series of the model's bands.
        grid: the extent of the sheet's tiles (the lattice's grid).
        year: the calendar year.
        chunk: ``apply_neighborhood``'s size in pixels.
        overlap: its overlap in pixels.
        progress: called after each chunk.

    Returns:
        The last step's bands on ``grid``.

    Raises:
        BVMValueError: if the accumulators would not fit in memory, or the UDF
            gives no ``clear`` band.
    """
    height, width = grid.shape
    probabilities = clear = None
    for row in range(0, height, chunk):
        for column in range(0, width, chunk):
            cube = read_chunk(imagery, grid, column, row, chunk, overlap, year)
            result = execute_local_udf(udf, cube).get_datacube_list()[0].get_array()
            core = result.isel(
                y=slice(overlap, overlap + min(chunk, height - row)),
                x=slice(overlap, overlap + min(chunk, width - column)),
            )
            bands = [str(b) for b in core['bands'].values]
            if probabilities is None or clear is None:
                # The classes are known once the UDF has answered.
                probabilities, clear = _accumulators(bands, height, width)
            values = np.asarray(core.values[0], np.float32)
            down = slice(row, row + values.shape[-2])
            across = slice(column, column + values.shape[-1])
            probabilities[:, down, across] = values[_probability_bands(bands)]
            clear[down, across] = values[bands.index(CLEAR_BAND)]
            if progress is not None:
                progress()
    assert probabilities is not None
    assert clear is not None
    labels, confidence, counts = classify(probabilities, clear)
    return LocalMap(grid, labels, confidence, counts)


def _probability_bands(bands: list[str]) -> list[int]:
    return [i for i, b in enumerate(bands) if b.startswith(PROBABILITY_PREFIX)]


def _accumulators(
    bands: list[str], height: int, width: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The sheet's probabilities (NaN) and clear steps (0), sized before allocated."""
    if CLEAR_BAND not in bands:
        raise BVMValueError(f'the UDF gave the bands {bands}, no {CLEAR_BAND!r}')
    classes = len(_probability_bands(bands))
    check_bytes(
        4.0 * (classes + 1) * width * height,
        MAX_ACCUMULATOR_BYTES,
        f'mapping a sheet of {width} x {height} pixels and {classes} classes',
        'map smaller sheets',
    )
    probabilities = np.full((classes, height, width), np.nan, np.float32)
    return probabilities, np.zeros((height, width), np.float32)


def read_chunk(
    imagery: GeoDataset,
    grid: Grid,
    column: int,
    row: int,
    chunk: int,
    overlap: int,
    year: int,
) -> xarray.DataArray:
    """One chunk as ``apply_neighborhood`` sends it: core and overlap.

    Args:
        imagery: the yearly series of the model's bands.
        grid: the grid the chunks are cut from.
        column: the core's first column on ``grid``.
        row: its first row.
        chunk: the core's side.
        overlap: pixels added on every side.
        year: the calendar year.

    Returns:
        ``(t, bands, y, x)`` float32, NaN where a pixel is not clear or lies
        beyond the imagery; ``t`` the steps' first days (one NaN step when the
        chunk holds no imagery of the year).
    """
    side = chunk + 2 * overlap
    x, y = grid.window(column - overlap, row - overlap, side, side)
    time = calendar_year(year)
    bands = list(getattr(imagery, 'bands', ()))
    transform = grid.window_transform(column - overlap, row - overlap)
    xs = transform.c + transform.a * (np.arange(side) + 0.5)
    ys = transform.f + transform.e * (np.arange(side) + 0.5)
    if not _holds_data(imagery, x, y, time):
        values = np.full((1, len(bands), side, side), np.nan, np.float32)
        days = np.array([np.datetime64(f'{year}-01-01', 'ns')])
    else:
        sample = imagery[x, y, time]
        image = sample['image'].numpy()
        valid = sample['valid'].numpy().astype(bool)
        steps = sample['dates'].numpy() != DATE_PAD
        values = np.where(valid[:, None], image, np.nan)[steps].astype(np.float32)
        epoch = np.datetime64('1970-01-01', 'ns')
        days = epoch + sample['dates'].numpy()[steps].astype('timedelta64[D]')
    return xarray.DataArray(
        values,
        dims=('t', 'bands', 'y', 'x'),
        coords={'t': days, 'bands': bands, 'y': ys, 'x': xs},
    )


def _holds_data(imagery: GeoDataset, x: slice, y: slice, time: slice) -> bool:
    """Whether any item of the imagery's index meets the window in the period."""
    index = imagery.index
    window = shapely.box(x.start, y.start, x.stop, y.stop)
    hits = index[index.geometry.intersects(window)]
    if hits.empty:
        return False
    period = pd.Interval(pd.Timestamp(time.start), pd.Timestamp(time.stop), 'both')
    return bool(hits.index.overlaps(period).any())
