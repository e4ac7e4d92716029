"""The manifest of a mini-Flanders folder: what was written, and is it whole.

``manifest.json`` lists every file written (paths relative to the folder) with
its size, the region, sheets, dates, seed, size and the class pixel counts. It
is written twice: first with ``complete`` false, last with everything, so its
``complete`` flag says the folder is whole. A complete manifest of the same
generator version, size and seed whose files all exist with their recorded
sizes lets a re-run reuse the folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import BVMNotFoundError, BVMValueError
from ...fileio import atomic_path, is_hidden

__all__ = [
    'GENERATOR_VERSION',
    'MANIFEST_NAME',
    'existing_manifest',
    'file_sizes',
    'is_reusable',
    'load_manifest',
    'write_manifest',
]

#: Bumped whenever the generated content changes (a re-run then regenerates).
GENERATOR_VERSION = 3
#: Name of the manifest inside the output folder.
MANIFEST_NAME = 'manifest.json'

_SHAPEFILE_PARTS = ('.shp', '.shx', '.dbf', '.prj', '.cpg')


def load_manifest(out: str | Path) -> dict[str, Any]:
    """Read the manifest of a mini-Flanders folder.

    Args:
        out: the folder :func:`~torchgeo_bvm.synth.flanders.write_mini_flanders`
            wrote.

    Returns:
        The manifest (paths in it are relative to ``out``).

    Raises:
        FileNotFoundError: if the folder has no manifest.
        ValueError: if the manifest is unreadable or marks an unfinished run.
    """
    path = Path(out) / MANIFEST_NAME
    if not path.exists():
        raise BVMNotFoundError(f'no mini-Flanders manifest in {out} ({MANIFEST_NAME})')
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError) as error:
        raise BVMValueError(f'{path}: unreadable manifest: {error}') from None
    if not manifest.get('complete'):
        raise BVMValueError(
            f'{path}: the generation of this folder did not finish; run '
            '`torchgeo-bvm synth` again'
        )
    return manifest


def existing_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a folder about to be written, if any.

    Args:
        out: the output folder.

    Returns:
        ``None`` for a missing or empty folder, the manifest otherwise (empty
        if unreadable).

    Raises:
        ValueError: if the folder holds files but no manifest: mini-Flanders
            did not write it, and nothing may be written over it.
    """
    path = out / MANIFEST_NAME
    if not out.exists() or not any(out.iterdir()):
        return None
    if not path.exists():
        raise BVMValueError(
            f'{out} is not empty and holds no {MANIFEST_NAME}: refusing to write '
            'mini-Flanders over files it did not make; choose a new or empty folder'
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError):
        return {}
    return manifest


def is_reusable(
    out: Path,
    manifest: dict[str, Any] | None,
    size: str,
    seed: int,
    plot: bool,
    season: bool = False,
    radar: bool = False,
    sunshine: float = 1.0,
    change_share: float | None = None,
) -> bool:
    """Whether a folder already holds what a run would write.

    Args:
        out: the output folder.
        manifest: its manifest (:func:`existing_manifest`).
        size: the size to write.
        seed: the seed to write with.
        plot: whether the run writes the overview.
        season: whether the run writes the season.
        radar: whether the run writes the radar season.
        sunshine: the season's sunshine (checked when the season is wanted).
        change_share: the share of changed polygons the run writes (None:
            any).

    Returns:
        True if the manifest is complete, of this generator version, size,
        seed and change share (with an overview, the season of this sunshine
        and the radar if they are wanted), and every file it lists exists with
        its recorded size.
    """
    if manifest is None or not manifest.get('complete'):
        return False
    same = (
        manifest.get('version') == GENERATOR_VERSION
        and manifest.get('size') == size
        and manifest.get('seed') == seed
        and (manifest.get('overview') is not None or not plot)
        and (manifest.get('season') is not None or not season)
        and (manifest.get('radar') is not None or not radar)
        and (
            not season
            or (manifest.get('season') or {}).get('sunshine', 1.0) == sunshine
        )
        and (change_share is None or manifest.get('change_share') == change_share)
    )
    if not same:
        return False
    sizes: dict[str, int] = manifest.get('sizes', {})
    return all(
        (out / name).is_file() and (out / name).stat().st_size == length
        for name, length in sizes.items()
    )


def file_sizes(
    out: Path, shapefiles: Iterable[Path], folders: Iterable[Path], *others: Path
) -> dict[str, int]:
    """The size of every file written, by its path relative to the folder.

    Args:
        out: the output folder.
        shapefiles: the ``.shp`` files written; their sidecars count too.
        folders: folders written whole (every file below them counts).
        *others: single files.

    Returns:
        Relative path -> size in bytes, shapefiles first, then the folders'
        files in sorted order, then the others.
    """
    files = [
        shp.with_suffix(suffix).relative_to(out)
        for shp in shapefiles
        for suffix in _SHAPEFILE_PARTS
        if shp.with_suffix(suffix).exists()
    ]
    for folder in folders:
        # Hidden names are staging files of a write in progress or killed.
        files += [
            p.relative_to(out)
            for p in sorted(folder.rglob('*'))
            if p.is_file() and not is_hidden(p, folder)
        ]
    files += [p.relative_to(out) for p in others]
    return {str(p): (out / p).stat().st_size for p in files}


def write_manifest(out: Path, content: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically, keys sorted.

    Args:
        out: the output folder.
        content: the manifest.
    """
    with atomic_path(out / MANIFEST_NAME) as temporary:
        temporary.write_text(
            json.dumps(content, indent=2, sort_keys=True) + '\n', encoding='utf-8'
        )
