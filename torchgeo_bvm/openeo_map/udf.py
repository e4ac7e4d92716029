# /// script
# dependencies = [
#     "numpy",
#     "xarray",
#     "onnxruntime",
# ]
# ///
"""The openEO UDF that maps a chunk of a data cube with an exported model.

This file travels as it is: :func:`torchgeo_bvm.openeo_map.graph.udf_code`
puts its text into the ``run_udf`` of the map's process graph, and the backend
(or openeo's local UDF runner) executes it. It has no ``from __future__ import
annotations``: openeo's UDF runner finds :func:`apply_datacube` by its
annotations. So it imports numpy, xarray and
onnxruntime only (declared in the inline script metadata above, which openEO
backends read), never torchgeo_bvm.

:func:`apply_datacube` takes one chunk of ``apply_neighborhood``: the sheet's
cube ``(t, bands, y, x)`` of the model's bands, its core and ``overlap`` pixels
on every side, NaN where a pixel has no clear observation. It does what
``torchgeo predict`` does to a sheet, restricted to the chunk:

* the model's tiles lie on the sheet's **tile lattice** (``context['lattice']``:
  the left and top edge of tile ``(0, 0)``, the pixel size and the number of
  tile columns and rows: the tiling of
  :meth:`~torchgeo_bvm.sheets.layout.SplitRegion.tiles`); every tile wholly in
  the chunk is predicted;
* each tile is read as the data module reads it: a step's pixel is valid where
  every band holds a number, invalid pixels hold the fill value 0, and the bands
  are normalised as ``model.json`` says (``(x - mean) / std``); the months of a
  monthly series go where ``model.json``'s ``months`` put them (a month the
  cube lacks is a step of fill values);
* tiles are fused per pixel as :class:`~torchgeo_bvm.maps.fusion.SheetFusion`
  fuses them: the probabilities of every tile that covers the pixel, weighted
  by the ``sin²`` taper where the pixel has a valid step.

With an overlap of at least the tile size less one pixel, every tile that
covers a pixel of the core lies in the chunk, so the core is what the local
fusion gives. The result has the chunk's ``x`` and ``y``, one ``t`` label (the
first of the chunk) and the bands ``probability_<class id>`` (NaN where no
tile saw a valid step) and ``clear``, the valid steps at the pixel.

``context['model']`` is the exported model folder (``model.onnx`` and
``model.json``), as the backend sees it: a local path, or the folder a
dependency archive is unpacked into.
"""

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import xarray
from numpy.typing import NDArray

#: The name of the valid-steps band of the UDF's result.
CLEAR_BAND = 'clear'
#: The prefix of the probability bands of the UDF's result.
PROBABILITY_PREFIX = 'probability_'
#: Tiles run through the graph at once, where its batch axis is free.
BATCH = 32


class _Model:
    """An exported model: its onnxruntime session and what its card says."""

    def __init__(self, folder: str) -> None:
        path = Path(folder)
        self.card: dict[str, Any] = json.loads((path / 'model.json').read_text())
        self.session = onnxruntime.InferenceSession(
            str(path / self.card['onnx']['file']),
            providers=['CPUExecutionProvider'],
        )
        normalisation = self.card['normalisation']
        self.mean = np.asarray(normalisation['mean'], np.float32)[:, None, None]
        self.std = np.asarray(normalisation['std'], np.float32)[:, None, None]
        self.bands: list[str] = list(self.card['bands'])
        temporal = self.card['temporal']
        self.layout: str = temporal['layout']
        self.steps: int = int(temporal['steps'])
        self.months: list[int] | None = temporal['months']
        self.stack: str | None = temporal['stack']
        self.size: int = int(self.card['patch_size'])
        self.stride: int = int(self.card['fusion']['stride'])
        self.classes = len(self.card['classes'])
        inputs = self.card['onnx']['inputs']
        self.names: list[str] = [spec['name'] for spec in inputs]
        batch = inputs[0]['shape'][0]
        #: Whether the graph takes exactly :attr:`batch` tiles (U-TAE: one).
        self.fixed = not isinstance(batch, str)
        self.batch = int(batch) if self.fixed else BATCH


@cache
def _load(folder: str) -> _Model:
    # One session per worker process and model, however many chunks it maps.
    return _Model(folder)


def apply_datacube(cube: xarray.DataArray, context: dict) -> xarray.DataArray:  # type: ignore[type-arg]
    """Map one chunk: fused class probabilities and valid steps per pixel.

    Args:
        cube: the chunk, dimensions ``t``, ``bands``, ``y``, ``x``.
        context: ``model`` (the model folder) and ``lattice`` (``left``,
            ``top``, ``xres``, ``yres``, ``columns``, ``rows``: the sheet's
            tiles).

    Returns:
        The chunk's ``probability_<id>`` bands and ``clear``, one ``t`` label.

    Raises:
        ValueError: if the cube lacks a band of the model, its time steps do
            not fit the model's layout, or its pixels are not on one grid.
    """
    model = _load(str(context['model']))
    lattice = context['lattice']
    columns = _pixel_index(cube['x'].values, lattice['left'], lattice['xres'])
    rows = _pixel_index(cube['y'].values, lattice['top'], -lattice['yres'])
    height, width = len(rows), len(columns)
    sums = np.zeros((model.classes, height, width), np.float32)
    weights = np.zeros((height, width), np.float32)
    clear = np.zeros((height, width), np.float32)
    for values, valid in _observations(cube, model):
        _fuse(model, values, valid, (rows, columns), lattice, (sums, weights))
        clear += valid.sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        probabilities = np.where(weights > 0, sums / weights, np.nan)
    bands = [f'{PROBABILITY_PREFIX}{k}' for k in range(model.classes)]
    result = np.concatenate([probabilities, clear[None]], axis=0)[None]
    return xarray.DataArray(
        result.astype(np.float32),
        dims=('t', 'bands', 'y', 'x'),
        coords={
            't': cube['t'].values[:1],
            'bands': [*bands, CLEAR_BAND],
            'y': cube['y'].values,
            'x': cube['x'].values,
        },
    )


def _observations(
    cube: xarray.DataArray, model: _Model
) -> list[tuple[NDArray[np.float32], NDArray[np.bool_]]]:
    """The chunk's observations as the model takes them, with their validity.

    A monthly series is one observation ``[months, C, h, w]`` (0 where a pixel
    is invalid) with its validity ``[months, h, w]``; a single-date model has
    one observation per date.
    """
    labels = [str(b) for b in cube['bands'].values]
    missing = [b for b in model.bands if b not in labels]
    if missing:
        raise ValueError(
            f'the cube has no band {", ".join(missing)} of the model (it has '
            f'{", ".join(labels)})'
        )
    data = cube.transpose('t', 'bands', 'y', 'x').sel(bands=model.bands)
    raw = np.asarray(data.values, dtype=np.float32)
    valid = np.isfinite(raw).all(axis=1)
    values = np.where(valid[:, None], raw, np.float32(0.0))
    if model.layout == 'single':
        return [(values[i : i + 1], valid[i : i + 1]) for i in range(len(raw))]
    if model.layout != 'monthly' or model.months is None:
        raise ValueError(
            f'the UDF maps single-date and monthly models, not {model.layout!r}'
        )
    months = [int(str(np.datetime64(t, 'M'))[5:7]) for t in data['t'].values]
    if len(set(months)) != len(months):
        raise ValueError(
            f'the cube has {len(months)} steps in {len(set(months))} months: a '
            'monthly model takes one composite per month'
        )
    series = np.zeros((model.steps, *raw.shape[1:]), np.float32)
    clear = np.zeros((model.steps, *raw.shape[2:]), bool)
    for source, month in enumerate(months):
        if month in model.months:
            step = model.months.index(month)
            series[step], clear[step] = values[source], valid[source]
    return [(series, clear)]


def _pixel_index(centres: NDArray[Any], edge: float, step: float) -> NDArray[np.int64]:
    """Pixel numbers from pixel centres, counted from a lattice edge."""
    index = np.rint((np.asarray(centres, np.float64) - edge) / step - 0.5)
    numbers = index.astype(np.int64)
    if len(numbers) and not np.array_equal(
        numbers, np.arange(numbers[0], numbers[0] + len(numbers))
    ):
        raise ValueError('the chunk is not on one pixel grid: its x or y skip pixels')
    return numbers


def _fuse(
    model: _Model,
    values: NDArray[np.float32],
    valid: NDArray[np.bool_],
    pixels: tuple[NDArray[np.int64], NDArray[np.int64]],
    lattice: dict[str, Any],
    into: tuple[NDArray[np.float32], NDArray[np.float32]],
) -> None:
    """Add one observation's tiles that lie wholly in the chunk, weighted."""
    size, stride = model.size, model.stride
    rows, columns = pixels
    sums, weights = into
    taper = edge_taper(size)
    top, left = int(rows[0]), int(columns[0])
    every = [
        (
            slice(r * stride - top, r * stride - top + size),
            slice(c * stride - left, c * stride - left + size),
        )
        for r in _tiles_within(rows, size, stride, int(lattice['rows']))
        for c in _tiles_within(columns, size, stride, int(lattice['columns']))
    ]
    # A tile without a clear step anywhere has no weight: it is not run.
    tiles = [(down, across) for down, across in every if valid[:, down, across].any()]
    for first in range(0, len(tiles), model.batch):
        windows = tiles[first : first + model.batch]
        probabilities = _predict(model, values, windows)
        for (down, across), tile in zip(windows, probabilities, strict=True):
            weight = taper * valid[:, down, across].any(axis=0)
            sums[:, down, across] += tile * weight
            weights[down, across] += weight


def _tiles_within(
    pixels: NDArray[np.int64], size: int, stride: int, count: int
) -> list[int]:
    """The lattice's tiles (``count`` of them) that lie wholly on these pixels."""
    first, last = int(pixels[0]), int(pixels[-1])
    lowest = max(0, math.ceil(first / stride))
    return [k for k in range(lowest, count) if k * stride + size - 1 <= last]


def _predict(
    model: _Model, values: NDArray[np.float32], windows: list[tuple[slice, slice]]
) -> NDArray[np.float32]:
    """The class probabilities of tiles, ``[n, classes, size, size]``."""
    count = len(windows)
    tiles: NDArray[np.float32] = np.stack(
        [values[:, :, down, across] for down, across in windows]
    )
    # The steps holding data, read before normalisation as the data module does.
    observed = (tiles != 0).reshape(count, model.steps, -1).any(axis=-1)
    tiles = ((tiles - model.mean) / model.std).astype(np.float32)
    if model.stack != 'time':
        tiles = tiles.reshape(count, -1, model.size, model.size)
    padded = -count % model.batch if model.fixed else 0
    if padded:
        tiles = np.concatenate(
            [tiles, np.zeros((padded, *tiles.shape[1:]), np.float32)]
        )
        observed = np.concatenate([observed, np.ones((padded, model.steps), bool)])
    outputs = []
    for start in range(0, len(tiles), model.batch):
        feeds: dict[str, NDArray[Any]] = {
            model.names[0]: np.ascontiguousarray(tiles[start : start + model.batch])
        }
        if len(model.names) > 1:
            feeds[model.names[1]] = observed[start : start + model.batch]
        outputs.append(model.session.run(None, feeds)[0])
    return np.concatenate(outputs)[:count].astype(np.float32)


def edge_taper(size: int) -> NDArray[np.float32]:
    """``sin²(π (i + ½) / size)`` down times across: the fusion's tile weights.

    :func:`torchgeo_bvm.maps.fusion.edge_taper`, which this file cannot import
    (it travels without the package; a test keeps the two equal).

    Args:
        size: the tile's side in pixels.

    Returns:
        ``[size, size]`` float32 weights.
    """
    ramp = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(ramp, ramp).astype(np.float32)
