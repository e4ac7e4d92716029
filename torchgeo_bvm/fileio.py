"""Writing files atomically.

Everything the package writes appears under its final name only once it is
complete: it is written under a temporary name in the same folder and then
renamed, so an interrupted run never leaves a half-written file behind and a
re-run simply redoes it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ['atomic_path']


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
