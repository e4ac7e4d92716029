"""Files: what the package reads by suffix, writing atomically, and its cache.

Label files are recognised by suffix in one place (:data:`RASTER_SUFFIXES`,
:data:`VECTOR_SUFFIXES`, :func:`find_files`).

Everything the package writes appears under its final name only once it is
complete: it is written under a temporary name in the same folder and then
renamed (:func:`atomic_path`), so an interrupted run never leaves a
half-written file behind and a re-run simply redoes it.

What the package derives from its inputs and keeps between runs (the Flanders
boundary, the prepared BVM polygons, the imagery index) lives in one cache
folder (:func:`default_cache_dir`); each entry records the
:func:`fingerprint` of the files it was derived from, so a changed input is
derived again, and is built under a :func:`file_lock` so that processes
needing it at the same time build it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

__all__ = [
    'RASTER_SUFFIXES',
    'VECTOR_SUFFIXES',
    'atomic_path',
    'default_cache_dir',
    'file_lock',
    'find_files',
    'fingerprint',
]

#: How much of the start of a file :func:`fingerprint` hashes.
HEADER_BYTES = 65_536

#: Suffixes of the rasters read as labels (GeoTIFF, and GDAL virtual rasters).
RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt')
#: Suffixes of the vector files read as the BVM layer: shapefile (also zipped),
#: GeoPackage, GeoParquet and FlatGeobuf.
VECTOR_SUFFIXES = ('.shp', '.zip', '.gpkg', '.parquet', '.geoparquet', '.fgb')


def find_files(folder: str | Path, suffixes: Sequence[str]) -> list[Path]:
    """The files under a folder, at any depth, with one of the suffixes.

    Args:
        folder: the folder.
        suffixes: lower-case suffixes with their dot, e.g. ``('.tif',)``;
            matched case-insensitively.

    Returns:
        The files, sorted.
    """
    return sorted(p for p in Path(folder).rglob('*') if p.suffix.lower() in suffixes)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; rename it to ``path`` on success.

    Formats made of several files (a shapefile's ``.shp``, ``.dbf``, ``.shx``,
    ``.prj``, ``.cpg``) are renamed together, the main file last. On an exception
    every temporary file is removed and ``path`` is left as it was.

    Args:
        path: the final path.

    Yields:
        The temporary path, with the same suffix as ``path``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    stem = f'.{final.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    temporary = final.with_name(stem + final.suffix)
    try:
        yield temporary
    except BaseException:
        for leftover in final.parent.glob(stem + '.*'):
            leftover.unlink(missing_ok=True)
        raise
    sidecars = [p for p in final.parent.glob(stem + '.*') if p != temporary]
    for sidecar in sidecars:
        os.replace(sidecar, final.with_name(final.stem + sidecar.name[len(stem) :]))
    if temporary.is_dir():
        if final.is_dir():
            import shutil

            shutil.rmtree(final)
        os.replace(temporary, final)
    elif temporary.exists():
        os.replace(temporary, final)


def default_cache_dir() -> Path:
    """The folder where the package caches what it derives from its inputs.

    ``$TORCHGEO_BVM_CACHE`` if set, else ``$XDG_CACHE_HOME/torchgeo-bvm`` (by default
    ``~/.cache/torchgeo-bvm``). Everything in it can be deleted at any time; it
    is derived again when needed.

    Returns:
        The cache folder (not created here).
    """
    if 'TORCHGEO_BVM_CACHE' in os.environ:
        return Path(os.environ['TORCHGEO_BVM_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'torchgeo-bvm'


def fingerprint(paths: Iterable[str | Path]) -> list[list[object]]:
    """What identifies the content of some files, cheaply.

    For each file: its absolute path, size, modification time (ns) and the
    SHA-256 of its first 64 KiB (a shapefile's or GeoPackage's header and first
    records), so that a file rewritten in place with the same size and time is
    also noticed.

    Args:
        paths: the files.

    Returns:
        ``[path, size, mtime_ns, sha256]`` per file, JSON-serialisable.

    Raises:
        FileNotFoundError: if a file does not exist.
    """
    entries: list[list[object]] = []
    for path in map(Path, paths):
        with path.open('rb') as file:
            stat = os.fstat(file.fileno())
            digest = hashlib.sha256(file.read(HEADER_BYTES)).hexdigest()
        entries.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns, digest])
    return entries


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing).

    Processes that need the same cache entry at the same time (DataLoader
    workers) take the lock, and the first one builds the entry while the others
    wait and then find it built. Where the platform has no ``fcntl`` (Windows),
    nothing is locked.

    Args:
        path: the lock file.

    Yields:
        Nothing; the lock is held inside the ``with`` block.
    """
    lock = Path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open('a') as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
