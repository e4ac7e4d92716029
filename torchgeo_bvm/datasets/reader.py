"""Reading imagery files onto a query's pixel grid, whatever the sensor.

:class:`OpenFiles` holds the files a process has open and what each holds;
:class:`FileReader` reads bands of one file onto a query grid by the fastest
path that gives TorchGeo's values:

* a window on the file's own pixel grid (in the dataset's CRS at the file's
  resolution) is one plain windowed read, clipped to the file, NaN outside it
  and at nodata (:func:`~torchgeo_bvm.datasets.windows.read_window`);
* a window whose pixels split the file's (a 20 m band read at 10 m) with
  nearest-neighbour resampling is a windowed read and a gather
  (:func:`~torchgeo_bvm.datasets.windows.read_subdivided`);
* anything else is ``rasterio.merge.merge`` (TorchGeo's path) in the file's
  CRS, or a warp straight onto the query grid in another CRS.

The plain windowed reads are in :mod:`~torchgeo_bvm.datasets.windows`. The
products of a date are read and merged by
:class:`~torchgeo_bvm.datasets.mosaic.ProductReader`.
"""

from __future__ import annotations

import atexit
import os
import resource
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np
import rasterio
import rasterio.merge
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT

from ..spatial.pixelgrid import Grid
from .headers import FileInfo, Header, corrupt_file_error, open_checked, open_file
from .windows import read_subdivided, read_window

__all__ = ['FileReader', 'OpenFiles', 'open_files_capacity']

#: The most files a process keeps open by default (see :func:`open_files_capacity`).
_MAX_OPEN_FILES = 16_384


class OpenFiles:
    """The files one process has open, and what each holds, noted once.

    A least-recently-used set of open handles, at most ``capacity`` of them,
    and each file's :class:`FileInfo`, read when the file is first opened (or
    given from the index) and kept while the process lives, so a file opened
    again after its handle was closed is not described again. Handles inherited
    through ``fork`` are dropped in the child (they share file offsets with the
    parent); nothing of this is pickled.

    Args:
        capacity: the most handles kept open.
        keep_open: keep handles open between reads (else each read opens and
            closes its file).
    """

    def __init__(self, capacity: int, keep_open: bool = True) -> None:
        self.capacity = capacity
        self.keep_open = keep_open
        self.handles: OrderedDict[str, DatasetReader] = OrderedDict()
        self.info: dict[str, FileInfo] = {}
        self._crs: dict[str, CRS] = {}
        self._pid = os.getpid()
        _KEPT.add(self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle empty: a new process opens and notes its own files.

        Returns:
            The state.
        """
        return {'capacity': self.capacity, 'keep_open': self.keep_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Start empty in the new process.

        Args:
            state: from :meth:`__getstate__`.
        """
        self.__init__(state['capacity'], state['keep_open'])  # type: ignore[misc]

    def crs(self, wkt: str) -> CRS:
        """A parsed CRS, shared by every file that has it.

        Args:
            wkt: the CRS as WKT.

        Returns:
            The CRS.
        """
        if wkt not in self._crs:
            self._crs[wkt] = CRS.from_wkt(wkt)
        return self._crs[wkt]

    def note(self, path: str, header: Header) -> None:
        """Note a file's info from its header (read while indexing).

        Args:
            path: the file.
            header: its header.
        """
        self.info[path] = header.file_info(self.crs(header.crs))

    def file_info(self, path: str) -> FileInfo:
        """What a file holds, opening it the first time.

        Args:
            path: the file.

        Returns:
            Its info.

        Raises:
            BVMNotFoundError: if the file no longer exists.
            ValueError: if GDAL cannot read it or it has no CRS.
        """
        info = self.info.get(path)
        if info is None:
            src = self.open(path)
            self.release(src)
            info = self.info[path]
        return info

    def open(self, path: str) -> DatasetReader:
        """An open handle of a file (give it back with :meth:`release`).

        Args:
            path: the file.

        Returns:
            The open file.

        Raises:
            BVMNotFoundError: if the file no longer exists.
            ValueError: if GDAL cannot read it or it has no CRS.
        """
        pid = os.getpid()
        if pid != self._pid:
            # Handles inherited through fork share file offsets with the parent.
            self.handles = OrderedDict()
            self._pid = pid
        src = self.handles.get(path)
        if src is not None:
            self.handles.move_to_end(path)
            return src
        if path in self.info:
            src = open_file(path)
        else:
            src = open_checked(path)
            self.info[path] = FileInfo.of(src, self.crs(src.crs.to_wkt()))
        if self.keep_open:
            self.handles[path] = src
            # Every data set of the process draws on one file-descriptor budget:
            # two of them, each up to its own capacity, would run out of
            # descriptors, and GDAL then reports files it cannot open as unreadable.
            while len(self.handles) > self.capacity or (
                len(self.handles) > 1 and _kept_open() > _process_budget()
            ):
                _, oldest = self.handles.popitem(last=False)
                oldest.close()
        return src

    def held(self) -> int:
        """How many files this process keeps open here (inherited ones do not count).

        Returns:
            The number of handles kept open.
        """
        return len(self.handles) if self._pid == os.getpid() else 0

    def close(self) -> None:
        """Close every handle kept open (files are opened again when read)."""
        handles, self.handles = self.handles, OrderedDict()
        if self._pid == os.getpid():
            for src in handles.values():
                src.close()

    def release(self, src: DatasetReader) -> None:
        """Give back a handle from :meth:`open` (closed unless kept open).

        Args:
            src: the handle.
        """
        if not self.keep_open:
            src.close()


#: Every :class:`OpenFiles` of the process, closed at exit.
_KEPT: weakref.WeakSet[OpenFiles] = weakref.WeakSet()


def _kept_open() -> int:
    """How many files every :class:`OpenFiles` of this process keeps open."""
    return sum(files.held() for files in list(_KEPT))


def _process_budget() -> int:
    """The most files a process keeps open: ``ulimit -n`` less room for the rest."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _MAX_OPEN_FILES
    return min(_MAX_OPEN_FILES, max(256, soft - max(1024, soft // 8)))


@atexit.register
def _close_kept_files() -> None:
    # Files left open until the interpreter tears down are closed by GDAL when
    # Python can no longer report anything: "Error in sys.excepthook" once per
    # file. Closed here, before that.
    for files in list(_KEPT):
        files.close()


def open_files_capacity(files: int) -> int:
    """How many files a process keeps open: all the data set has, within limits.

    Opening a GeoTIFF again costs about as much as reading a 256 x 256 window
    from it (rasterio reads its CRS from the PROJ database on every open), and
    random dates touch every file of the archive, so a process keeps every file
    open that it can: the data set's files, within the process's file descriptor
    limit (``ulimit -n``) less an eighth of it (at least 1,024) for everything
    else, and within 16,384. An open file costs about 30 kB of memory.

    Args:
        files: the files the data set reads.

    Returns:
        The capacity, at least 256 (a twelve-date stack of one product's twelve
        files, plus a neighbouring tile's).
    """
    return max(256, min(files, _process_budget()))


class FileReader:
    """Reads bands of imagery files onto a query grid (see the module).

    The reads take a query's ``bounds`` ``(xmin, ymin, xmax, ymax)``, ``res``
    ``(x, y)`` and ``shape`` ``(height, width)`` in the CRS given to
    :meth:`follow`, and return float32 with NaN where a file has no data
    (outside it, or at its nodata), as ``rasterio.merge.merge`` would.

    Args:
        files: the open files of the process.
    """

    def __init__(self, files: OpenFiles) -> None:
        self.files = files
        #: The dataset's CRS (see :meth:`follow`).
        self.crs: CRS | None = None
        # Whether each file is in self.crs, and each file CRS equal to it.
        self._on_crs: dict[str, bool] = {}
        self._crs_equal: list[tuple[CRS | None, bool]] = []

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without what was noted of the files (a worker notes its own).

        Returns:
            The state.
        """
        return {'files': self.files}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled reader.

        Args:
            state: from :meth:`__getstate__`.
        """
        self.__init__(state['files'])  # type: ignore[misc]

    def follow(self, crs: CRS) -> None:
        """Read into ``crs`` from now on (what depends on the CRS is forgotten).

        Args:
            crs: the dataset's CRS.
        """
        if crs is not self.crs:
            self._on_crs, self._crs_equal = {}, []
            self.crs = crs

    def same_crs(self, path: str) -> bool:
        """Whether a file is in the dataset's CRS (noted per file and CRS).

        Args:
            path: the file.

        Returns:
            Whether its CRS is :attr:`crs`.
        """
        same = self._on_crs.get(path)
        if same is None:
            file_crs = self.files.file_info(path).grid.crs
            # pyproj's CRS comparison costs up to a millisecond: once per CRS,
            # since files share their CRS objects (OpenFiles.crs).
            same = next((v for c, v in self._crs_equal if c is file_crs), None)
            if same is None:
                same = file_crs == self.crs
                self._crs_equal.append((file_crs, same))
            self._on_crs[path] = same
        return same

    def _direct_file(self, path: str) -> FileInfo | None:
        """The file's header if its pixels can be read as they are, in our CRS."""
        file = self.files.file_info(path)
        return file if file.direct and self.same_crs(path) else None

    def aligned(
        self,
        path: str,
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        shape: tuple[int, int],
    ) -> tuple[FileInfo, int, int] | None:
        """The file and the window's (col, row) if the window is on its grid.

        Args:
            path: the file.
            bounds: the query's bounds.
            res: the query's resolution.
            shape: the query's shape.

        Returns:
            The file's info and the window's column and row in the file, or
            None when the window is not on the file's own pixels.
        """
        file = self._direct_file(path)
        if file is None:
            return None
        offset = file.grid.aligned(bounds, res, shape)
        return None if offset is None else (file, *offset)

    def read(
        self,
        path: str,
        indexes: list[int],
        bounds: tuple[float, float, float, float],
        res: tuple[float, float],
        resampling: Resampling,
        shape: tuple[int, int],
    ) -> NDArray[np.float32]:
        """Read bands of one file onto the query grid; NaN where there is no data.

        Args:
            path: the file.
            indexes: its 1-based bands to read.
            bounds: the query's bounds.
            res: the query's resolution.
            resampling: how values are resampled off the file's grid.
            shape: the query's shape.

        Returns:
            ``[len(indexes), height, width]`` float32.

        Raises:
            BVMNotFoundError: if the file no longer exists.
            ValueError: if GDAL cannot read it.
        """
        aligned = self.aligned(path, bounds, res, shape)
        if aligned is not None:
            return read_window(self.files, path, indexes, aligned, shape)
        if resampling == Resampling.nearest:
            # A window whose pixels split the file's (a 20 m band at 10 m).
            file = self._direct_file(path)
            split = None if file is None else file.grid.subdivided(bounds, res, shape)
            if file is not None and split is not None:
                return read_subdivided(self.files, path, indexes, file, *split, shape)
        src = self.files.open(path)
        try:
            if self.same_crs(path):
                data, _ = rasterio.merge.merge(
                    [src],
                    bounds=bounds,
                    res=res,
                    indexes=indexes,
                    resampling=resampling,
                    dtype='float32',
                    nodata=np.nan,
                )
            else:
                target = Grid(
                    self.crs,
                    rasterio.transform.from_origin(bounds[0], bounds[3], *res),
                    round((bounds[2] - bounds[0]) / res[0]),
                    round((bounds[3] - bounds[1]) / res[1]),
                )
                data = self._warp(src, indexes, target, resampling)
        except RasterioError as error:
            raise corrupt_file_error(path, error) from error
        finally:
            self.files.release(src)
        result: NDArray[np.float32] = data
        return result

    def _warp(
        self,
        src: DatasetReader,
        indexes: list[int],
        target: Grid,
        resampling: Resampling,
    ) -> NDArray[np.float32]:
        # Warped straight onto the query grid: unlike TorchGeo's cached VRT on a
        # default grid, read again with resampling, this resamples once, and a
        # pixel gets the same value whatever window it is read in. GDAL's default
        # tolerance of 0.125 px lets nearest pick another pixel from window to
        # window; 0.001 px costs no measurable time (rasterio refuses 0).
        # Warped in the file's own dtype and masked by its nodata (or an alpha
        # band where it has none): a float32 VRT with NaN as nodata does not mask
        # the source's integer nodata, and 32767 would come through as data.
        masking: dict[str, object] = (
            {'nodata': src.nodata} if src.nodata is not None else {'add_alpha': True}
        )
        assert self.crs is not None
        with WarpedVRT(
            src,
            crs=self.crs.to_wkt(),
            transform=target.transform,
            width=target.width,
            height=target.height,
            resampling=resampling,
            tolerance=0.001,
            **masking,
        ) as vrt:
            masked = vrt.read(indexes, masked=True)
        data: NDArray[np.float32] = masked.astype(np.float32).filled(np.nan)
        return data
