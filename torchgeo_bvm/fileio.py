"""Files: what the package reads by suffix, and writing atomically.

Label files are recognised by suffix in one place (:data:`RASTER_SUFFIXES`,
:data:`VECTOR_SUFFIXES`, :func:`find_files`).

Everything the package writes appears under its final name only once it is
complete: it is written under a temporary name in the same folder and then
renamed (:func:`atomic_path`), so an interrupted run never leaves a
half-written file behind and a re-run simply redoes it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ['RASTER_SUFFIXES', 'VECTOR_SUFFIXES', 'atomic_path', 'find_files']

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
