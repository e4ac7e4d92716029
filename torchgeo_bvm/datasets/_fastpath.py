"""Faster equivalents of TorchGeo internals, kept in one place.

TorchGeo's ``GeoDataset`` does per-query bookkeeping in pandas and geopandas that
costs more than reading a 256 x 256 window. The datasets of this package replace
it with numpy equivalents that give exactly the same result; each one names the
TorchGeo code it reproduces, as of **torchgeo 0.10.1**. When upgrading TorchGeo,
check that code again: ``tests/datasets/test_fastpath.py`` compares every
equivalent with the TorchGeo code it replaces.

* :class:`IndexArrays` reproduces the file lookup of
  ``torchgeo.datasets.RasterDataset.__getitem__`` (also in ``VectorDataset``):
  ``index.iloc[index.index.overlaps(interval)].iloc[::t.step].cx[x, y]``, kept
  verbatim in :func:`torchgeo_lookup`, which is used where the shortcut does not
  apply; and ``TemporalSampler._init_subset``'s ``index.cx[x, y]``
  (:meth:`IndexArrays.intersecting`).
* :class:`CachedBounds` caches ``torchgeo.datasets.GeoDataset.bounds``.

The one other equivalent is the draw order of
:class:`~torchgeo_bvm.samplers.temporal.CentreTimestampSampler` (it reproduces
``RandomTimestampSampler._iter_subset``'s ``to_series().sample``): it stays with
the sampler, since datasets never import samplers.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from numpy.typing import NDArray
from shapely.geometry import box
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GeoSampler

__all__ = ['CachedBounds', 'IndexArrays', 'torchgeo_lookup']


def torchgeo_lookup(index: GeoDataFrame, x: slice, y: slice, t: slice) -> GeoDataFrame:
    """The rows of a dataset index that a query touches, as TorchGeo finds them.

    ``torchgeo.datasets.RasterDataset.__getitem__`` (torchgeo 0.10.1), verbatim.

    Args:
        index: the dataset's index.
        x: the x slice of the query.
        y: the y slice.
        t: the time slice.

    Returns:
        The selected rows.
    """
    interval = pd.Interval(t.start, t.stop)
    df = index.iloc[index.index.overlaps(interval)]
    df = df.iloc[:: t.step]
    return cast(GeoDataFrame, df.cx[x.start : x.stop, y.start : y.stop])


class IndexArrays:
    """A GeoDataset index as numpy arrays, for the lookup every sample makes.

    TorchGeo finds the files of a query with :func:`torchgeo_lookup`
    (``index.iloc[index.index.overlaps(interval)].iloc[::step].cx[x, y]``): three
    pandas/geopandas selections that build new frames, about a millisecond per
    query, more than reading a 256 x 256 window. The same rows come from two
    vectorised comparisons here: ``IntervalIndex.overlaps`` of the index's closed
    intervals with TorchGeo's right-closed query interval is
    ``left <= stop and right > start``, and ``.cx`` (shapely ``intersects`` with
    the query box) is a bounding-box overlap for rectangular footprints (every
    footprint of a file in the dataset's CRS); other footprints are tested with
    shapely, so the rows are always those of TorchGeo's lookup, in its order.

    Args:
        index: the dataset's index (an ``IntervalIndex`` closed on both sides).
    """

    def __init__(self, index: GeoDataFrame) -> None:
        self.index = index
        geometries = index.geometry.to_numpy()
        self.bounds: NDArray[np.float64] = shapely.bounds(geometries)
        self.geometries = geometries
        self.rectangular: NDArray[np.bool_] = np.asarray(
            shapely.equals(geometries, shapely.envelope(geometries)), dtype=bool
        )
        intervals = index.index
        self.usable = (
            isinstance(intervals, pd.IntervalIndex)
            and intervals.closed == 'both'
            and intervals.left.dtype == np.dtype('datetime64[ns]')
        )
        # Nanoseconds as int64: numpy refuses to compare datetime64 values near
        # pd.Timestamp.min/max (TorchGeo's unbounded dates) across units.
        self.left = intervals.left.asi8 if self.usable else None
        self.right = intervals.right.asi8 if self.usable else None
        self._columns: dict[str, NDArray[np.object_]] = {}

    @classmethod
    def of(cls, owner: GeoDataset | GeoSampler) -> IndexArrays:
        """The arrays of a dataset's or sampler's current index, built once.

        Args:
            owner: the dataset or sampler (its ``_index_arrays`` attribute holds
                the cache, rebuilt when ``owner.index`` is another object).

        Returns:
            The arrays.
        """
        index = owner.index  # type: ignore[union-attr]
        cached = owner.__dict__.get('_index_arrays')
        if cached is None or cached.index is not index:
            cached = cls(index)
            owner.__dict__['_index_arrays'] = cached
        return cast(IndexArrays, cached)

    def column(self, name: str) -> NDArray[np.object_]:
        """A column of the index as a numpy array (cached).

        Args:
            name: the column.

        Returns:
            Its values, one per row.
        """
        if name not in self._columns:
            self._columns[name] = self.index[name].to_numpy(dtype=object)
        return self._columns[name]

    def lookup(self, x: slice, y: slice, t: slice) -> NDArray[np.intp] | None:
        """Positions of the rows TorchGeo's lookup would select for a query.

        Args:
            x: the x slice (start and stop set).
            y: the y slice (start and stop set).
            t: the time slice (start and stop set).

        Returns:
            Row positions, in index order, or None when the query is outside
            what this shortcut handles (then use TorchGeo's lookup).
        """
        step = 1 if t.step is None else t.step
        if not self.usable or not isinstance(step, int) or step <= 0:
            return None
        try:
            first, last = pd.Timestamp(t.start), pd.Timestamp(t.stop)
            start, stop = first.as_unit('ns').value, last.as_unit('ns').value
        except (TypeError, ValueError, OverflowError):
            return None
        if first.tzinfo is not None or last.tzinfo is not None or stop < start:
            return None  # TorchGeo's lookup raises or converts; leave it to it
        assert self.left is not None
        assert self.right is not None
        in_time = np.flatnonzero((self.left <= stop) & (self.right > start))[::step]
        if in_time.size == 0:
            return in_time
        return self.intersecting(x, y, in_time)

    def intersecting(
        self, x: slice, y: slice, rows: NDArray[np.intp] | None = None
    ) -> NDArray[np.intp]:
        """Positions of the rows whose footprint ``.cx[x, y]`` would select.

        Args:
            x: the x slice (start and stop set).
            y: the y slice (start and stop set).
            rows: only consider these positions (default: all).

        Returns:
            Row positions, in index order.
        """
        if rows is None:
            rows = np.arange(len(self.bounds))
        xmin, xmax = min(x.start, x.stop), max(x.start, x.stop)
        ymin, ymax = min(y.start, y.stop), max(y.start, y.stop)
        b = self.bounds[rows]
        hit = (b[:, 0] <= xmax) & (b[:, 2] >= xmin) & (b[:, 1] <= ymax)
        hit &= b[:, 3] >= ymin
        irregular = hit & ~self.rectangular[rows]
        if irregular.any():
            query = box(x.start, y.start, x.stop, y.stop)
            hit[irregular] = shapely.intersects(self.geometries[rows[irregular]], query)
        result: NDArray[np.intp] = rows[hit]
        return result


class CachedBounds:
    """Mixin caching ``GeoDataset.bounds`` per index object and resolution.

    TorchGeo recomputes the bounds (``total_bounds`` of the index and the
    min/max of its intervals, about 0.2 ms) on every ``_disambiguate_slice``,
    several times per sample; they only change with the index or ``res``.
    Mirrors ``torchgeo.datasets.GeoDataset.bounds`` (torchgeo 0.10.1), which
    depends on nothing else.
    """

    @property
    def bounds(self) -> tuple[slice, slice, slice]:
        """Bounds of the index (cached).

        Returns:
            Bounding x, y and t slices.
        """
        index, res = self.index, self.res  # type: ignore[attr-defined]
        cached = self.__dict__.get('_bounds_cached')
        if cached is None or cached[0] is not index or cached[1] != res:
            value = super().bounds  # type: ignore[misc]
            cached = (index, res, value)
            self.__dict__['_bounds_cached'] = cached
        bounds: tuple[slice, slice, slice] = cached[2]
        return bounds
