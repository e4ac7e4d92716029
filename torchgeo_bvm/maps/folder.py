"""A folder of fused maps: one period of one run, whole or refused.

``torchgeo predict`` writes the maps of a run
(:class:`~torchgeo_bvm.training.prediction.SheetPredictionWriter`) into a
hidden staging folder beside the output folder (:func:`start_map_run`) and,
once every sheet, the mosaic and the manifest are written, swaps it in
(:func:`finish_map_run`): the output folder always holds the whole of one run,
never two runs or two periods side by side; an interrupted run leaves the
previous maps as they were (and its hidden staging folder, which the next run
removes).

``prediction.json`` (:data:`MANIFEST`) says what the folder holds: the period,
the sheets and every file, and that the run completed. A run refuses a folder
that holds another period's maps, a damaged manifest, or files but no
manifest: maps of another period are kept, never deleted. Readers of maps
(``torchgeo-bvm compare``, through
:func:`~torchgeo_bvm.maps.files.find_class_maps`) check a folder with a
manifest (:func:`check_map_folders`): complete, its files all there, no class
map it does not list, and one period under any folder given.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import BVMExistsError, BVMValueError
from ..fileio import atomic_path, is_hidden, staging_folder

__all__ = [
    'MANIFEST',
    'MANIFEST_FORMAT',
    'MapRun',
    'check_map_folder',
    'check_map_folders',
    'check_run_folder',
    'finish_map_run',
    'read_manifest',
    'start_map_run',
    'write_manifest',
]

#: The manifest of a folder of maps: what one run wrote.
MANIFEST = 'prediction.json'
#: What the manifest names as its format.
MANIFEST_FORMAT = 'torchgeo-bvm prediction'
#: Suffixes of the rasters a reader takes from a folder.
_RASTER_SUFFIXES = ('.tif', '.tiff')


@dataclass(frozen=True)
class MapRun:
    """What one run of ``torchgeo predict`` wrote: its manifest.

    Args:
        period: the period in words (``'2020'``, ``'2021, months 5, 6'``).
        name: the period as a folder name (``'2020'``, ``'2021_m05-06'``).
        sheets: the sheet codes mapped.
        files: the names of the files written, in the folder.
        complete: whether the run wrote all of them.
    """

    period: str
    name: str
    sheets: tuple[str, ...]
    files: tuple[str, ...]
    complete: bool = True


def read_manifest(folder: str | os.PathLike[str]) -> MapRun | None:
    """The manifest of a folder of maps.

    Args:
        folder: the folder.

    Returns:
        The run, or None if the folder holds no manifest.

    Raises:
        BVMValueError: if the manifest is damaged or of another format.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
        if content.get('format') != MANIFEST_FORMAT:
            raise ValueError(f'its format is not {MANIFEST_FORMAT!r}')
        files = tuple(content['files'])
        if not all(isinstance(f, str) and f == Path(f).name for f in files):
            raise ValueError('its files are not names in the folder')
        return MapRun(
            str(content['period']),
            str(content['name']),
            tuple(map(str, content['sheets'])),
            files,
            content['complete'] is True,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise BVMValueError(
            f'{path}: a damaged manifest ({error}): it no longer says which files '
            'are the maps of one run; remove the folder or predict into another'
        ) from None


def write_manifest(folder: str | os.PathLike[str], run: MapRun) -> Path:
    """Write a folder's manifest, atomically.

    Args:
        folder: the folder.
        run: what the run wrote.

    Returns:
        The manifest's path.
    """
    path = Path(folder) / MANIFEST
    content = {'format': MANIFEST_FORMAT, **asdict(run)}
    content['sheets'], content['files'] = list(run.sheets), list(run.files)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=2) + '\n', encoding='utf-8')
    return path


def check_run_folder(final: str | os.PathLike[str], run: MapRun) -> Path:
    """Check that a run may write its maps into a folder.

    ``final`` may be missing, empty, or hold the complete maps of an earlier
    run of the same period (which the new run replaces when it finishes).

    Args:
        final: the output folder.
        run: the run about to be written (its period).

    Returns:
        ``final`` as a :class:`~pathlib.Path`.

    Raises:
        BVMExistsError: if ``final`` is a file, holds files but no manifest, or
            holds the maps of another period.
        BVMValueError: if its manifest is damaged.
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise BVMExistsError(f'{final} is a file; the maps go into a folder')
    if final.is_dir():
        earlier = read_manifest(final)
        if earlier is None and _visible(final):
            raise BVMExistsError(
                f'{final} holds files but no {MANIFEST}: not a folder of maps; '
                'predict into a new or empty folder'
            )
        if earlier is not None and earlier.period != run.period:
            raise BVMExistsError(
                f'{final} holds the maps of {earlier.period} ({MANIFEST}), this run '
                f'maps {run.period}: they are kept; predict into another folder '
                '(the default period subfolder) or remove it'
            )
    return final


def start_map_run(final: str | os.PathLike[str], run: MapRun, stack: ExitStack) -> Path:
    """Check the output folder of a run and make the folder it is written in.

    Args:
        final: the output folder (:func:`check_run_folder`).
        run: the run about to be written (its period).
        stack: holds the staging folder, removed when the stack closes unless
            :func:`finish_map_run` swapped it in.

    Returns:
        The staging folder: hidden, beside ``final``.

    Raises:
        BVMExistsError: see :func:`check_run_folder`.
        BVMValueError: see :func:`check_run_folder`.
    """
    return stack.enter_context(staging_folder(check_run_folder(final, run)))


def finish_map_run(staging: Path, final: str | os.PathLike[str]) -> None:
    """Swap the folder of a finished run in for the output folder.

    Files of the earlier run's folder that its manifest does not list (the
    user's own) move into the new folder; the earlier maps are removed only
    once the new ones are in place.

    Args:
        staging: the folder the run was written in (:func:`start_map_run`).
        final: the output folder.
    """
    final = Path(final)
    if not final.is_dir():
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        return
    earlier = read_manifest(final)
    listed = set(earlier.files) if earlier is not None else set()
    for path in _visible(final):
        if path.name in listed or path.name == MANIFEST or _sidecar_of(path, listed):
            continue
        if not (staging / path.name).exists():
            os.replace(path, staging / path.name)
    aside = staging.with_suffix('.old')
    os.replace(final, aside)
    os.replace(staging, final)
    shutil.rmtree(aside, ignore_errors=True)


def check_map_folder(folder: str | os.PathLike[str]) -> MapRun | None:
    """Check a folder of maps before it is read.

    Args:
        folder: the folder.

    Returns:
        Its run, or None if it holds no manifest (maps made elsewhere).

    Raises:
        BVMValueError: if the manifest is damaged or says the run did not
            finish, a file it lists is missing, or the folder holds a raster it
            does not list (two runs mixed).
    """
    folder = Path(folder)
    run = read_manifest(folder)
    if run is None:
        return None
    if not run.complete:
        raise BVMValueError(
            f'{folder}: the maps are incomplete ({MANIFEST} says the run did not '
            'finish); run torchgeo predict again'
        )
    missing = [name for name in run.files if not (folder / name).is_file()]
    if missing:
        raise BVMValueError(
            f'{folder}: {missing[0]}, listed in {MANIFEST}, is missing: the maps are '
            'incomplete; run torchgeo predict again'
        )
    listed = set(run.files)
    for path in _visible(folder):
        if path.suffix.lower() in _RASTER_SUFFIXES and path.name not in listed:
            raise BVMValueError(
                f'{folder}: {path.name} is not one of the maps of this run '
                f'({run.period}, {MANIFEST}): the folder mixes two runs; remove it '
                'or predict into a new folder'
            )
    return run


def check_map_folders(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Check every folder of maps a reader is given, and that they show one period.

    Args:
        paths: class maps and folders of them; a folder is searched at any
            depth for manifests, a file's own folder is checked.

    Raises:
        BVMValueError: if a folder fails :func:`check_map_folder`, or the
            folders hold maps of several periods.
    """
    periods: dict[str, Path] = {}
    for given in map(Path, paths):
        if given.is_dir():
            folders = sorted(
                {m.parent for m in given.rglob(MANIFEST) if not is_hidden(m, given)}
            )
        else:
            folders = [given.parent] if (given.parent / MANIFEST).is_file() else []
        for folder in folders:
            run = check_map_folder(folder)
            if run is not None:
                periods.setdefault(run.period, folder)
    if len(periods) > 1:
        shown = ', '.join(f'{p} in {f}' for p, f in periods.items())
        raise BVMValueError(
            f'the maps given are of several periods ({shown}): compare the maps of '
            'one period at a time'
        )


def _visible(folder: Path) -> list[Path]:
    """The entries of a folder that are not hidden (staging files are)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith('.'))


def _sidecar_of(path: Path, listed: set[str]) -> bool:
    """Whether a file is GDAL's sidecar of a listed file (``X.tif.aux.xml``)."""
    return any(path.name.startswith(name + '.') for name in listed)
