"""Files: reading by suffix, writing without losing anything, and the cache.

Label files are recognised by suffix in one place (:data:`RASTER_SUFFIXES`,
:data:`VECTOR_SUFFIXES`, :func:`find_files`).

Everything the package writes appears under its final name only once it is
complete: it is written under a temporary name in the same folder and then
renamed (:func:`atomic_path`, :func:`atomic_paths` for a set of files that
belong together), so an interrupted run never leaves a half-written file
behind and a re-run simply redoes it. Temporary and staging names
(:func:`staging_folder`) are hidden (``.NAME.tmp-PID-XXXXXXXX...``): no dataset
scan of the package reads a hidden file or folder (:func:`find_files`,
TorchGeo's own ``glob``), and the next write beside them removes those left by
a process that no longer runs.

Before writing, :func:`check_output` refuses an output that is one of the
command's inputs or their sidecars, or that exists when it may not be replaced,
and :func:`check_outside_scans` one that lies in a folder an input scans.
Every file GDAL wrote is read back before it takes its name
(:func:`~torchgeo_bvm.readback.read_back`): a write that failed (a full disk)
leaves the previous file as it was and names the disk.

What the package derives from its inputs and keeps between runs (the Flanders
boundary, the prepared BVM polygons, the imagery index) lives in one cache
folder (:func:`default_cache_dir`); each entry records the
:func:`fingerprint` of the files it was derived from, so a changed input is
derived again, and is built under a :func:`file_lock` so that processes
needing it at the same time build it once.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import logging
import os
import shutil
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

from .errors import BVMExistsError, BVMFileError, BVMValueError, underlying_message
from .readback import read_back

if TYPE_CHECKING:
    pass

__all__ = [
    'RASTER_SUFFIXES',
    'STAGING_MARK',
    'VECTOR_SUFFIXES',
    'atomic_path',
    'atomic_paths',
    'check_output',
    'check_output_folder',
    'check_outside_scans',
    'check_writable_folder',
    'companion_files',
    'default_cache_dir',
    'file_lock',
    'find_files',
    'fingerprint',
    'header_fingerprint',
    'is_hidden',
    'read_cache_entry',
    'read_json',
    'remove_stale_staging',
    'staging_folder',
]

#: Suffixes of the rasters read as labels (GeoTIFF, and GDAL virtual rasters).
RASTER_SUFFIXES = ('.tif', '.tiff', '.vrt')
#: Suffixes of the vector files read as the BVM layer: shapefile (also zipped),
#: GeoPackage, GeoParquet and FlatGeobuf.
VECTOR_SUFFIXES = ('.shp', '.zip', '.gpkg', '.parquet', '.geoparquet', '.fgb')
#: What every temporary or staging name holds after its hidden stem.
STAGING_MARK = '.tmp-'
#: The files of a shapefile besides its ``.shp``.
_SHAPEFILE_PARTS = ('.shx', '.dbf', '.prj', '.cpg', '.qix', '.sbn', '.sbx', '.qmd')
#: What GDAL and QGIS keep beside any file.
_SIDECARS = ('.aux.xml', '.ovr', '.msk', '.xml')


def is_hidden(path: str | Path, root: str | Path | None = None) -> bool:
    """Whether a path, or a folder on its way from ``root``, is hidden (``.name``).

    Args:
        path: the path.
        root: the folder the search started in (its own parts do not count).

    Returns:
        True for hidden names, which include every temporary and staging name.
    """
    parts = Path(path).parts
    if root is not None:
        with contextlib.suppress(ValueError):
            parts = Path(path).relative_to(root).parts
    return any(part.startswith('.') and part not in ('.', '..') for part in parts)


def find_files(folder: str | Path, suffixes: Sequence[str]) -> list[Path]:
    """The files under a folder, at any depth, with one of the suffixes.

    Hidden files and folders (among them the staging files of a write in
    progress or killed) are skipped, as TorchGeo's own file search does.

    Args:
        folder: the folder.
        suffixes: lower-case suffixes with their dot, e.g. ``('.tif',)``;
            matched case-insensitively.

    Returns:
        The files, sorted.
    """
    return sorted(
        p
        for p in Path(folder).rglob('*')
        if p.suffix.lower() in suffixes and not is_hidden(p, folder)
    )


def companion_files(path: str | os.PathLike[str]) -> list[Path]:
    """A file and the files that belong to it (shapefile parts, GDAL sidecars).

    Args:
        path: the file.

    Returns:
        ``path`` first, then its possible companions, existing or not.
    """
    path = Path(path)
    files = [path]
    if path.suffix.lower() == '.shp':
        files += [path.with_suffix(part) for part in _SHAPEFILE_PARTS]
        files += [path.with_suffix(part.upper()) for part in _SHAPEFILE_PARTS]
    files += [path.with_name(path.name + sidecar) for sidecar in _SIDECARS]
    return files


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(
        os.path.realpath(b)
    )


def check_output(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    overwrite: bool = False,
    option: str = '--out',
) -> Path:
    """Refuse an output that is an input, a folder, or exists without overwrite.

    Paths are compared after resolving links and ``..`` (and by inode when both
    exist), so no spelling of an input's path gets past, and the companions of
    both (a shapefile's ``.dbf``, a raster's ``.aux.xml``) count as the file.

    Args:
        path: the output file.
        inputs: the files the command reads (None entries are skipped).
        overwrite: whether an existing output may be replaced.
        option: how the output was given, for messages.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        BVMExistsError: if ``path`` or a companion is an input or a companion
            of one, is a folder, or exists and ``overwrite`` is False.
    """
    out = Path(path)
    outputs = companion_files(out)
    for source in inputs:
        if source is None:
            continue
        for read in companion_files(source):
            for written in outputs:
                if _same(read, written):
                    raise BVMExistsError(
                        f'{option} {out} would write over the input {read}; '
                        'choose another output name'
                    )
    if out.is_dir():
        raise BVMExistsError(f'{option} {out} is a folder; give a file name')
    if out.exists() and not overwrite:
        raise BVMExistsError(f'{out} exists, use --overwrite to replace it')
    return out


def check_outside_scans(
    outputs: Iterable[str | os.PathLike[str]],
    scans: Mapping[str, Iterable[str | os.PathLike[str] | None]],
    option: str = '--out',
) -> None:
    """Refuse outputs inside a folder that one of the command's inputs scans.

    A dataset given as a folder reads what lies under it, at any depth; an
    output written there would be read as input by the next run (or by the
    same command's own scan). Folders are compared by identity (device and
    inode) along every output's existing parents, so no spelling gets past:
    links, ``..``, relative paths, a bind mount.

    Args:
        outputs: the files or folders the command writes.
        scans: the folders each input scans, by the option that names them
            (files and None entries are skipped).
        option: how the outputs were given, for messages.

    Raises:
        BVMExistsError: naming the output, the folder and the option that
            scans it.
    """
    folders = [
        (name, Path(folder))
        for name, given in scans.items()
        for folder in given
        if folder is not None and Path(folder).is_dir()
    ]
    for output in map(Path, outputs):
        parents = [p for p in (output, *output.absolute().parents) if p.exists()]
        for name, folder in folders:
            if any(os.path.samefile(parent, folder) for parent in parents):
                raise BVMExistsError(
                    f'{option} {output} lies in {folder}, which {name} scans for '
                    'its input (what is written there is read as input next '
                    'time); write it outside that folder'
                )


def _inside(path: str, folder: str) -> bool:
    """Whether a resolved path is a folder or lies inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_folder(
    folder: str | os.PathLike[str],
    scanned: Mapping[str, Iterable[str | os.PathLike[str] | None]],
    read: Mapping[str, Iterable[str | os.PathLike[str] | None]] | None = None,
    option: str = '--out',
) -> Path:
    """Refuse an output folder where a dataset of the same command would read.

    A dataset scans a folder it is given at any depth, and a file it is given
    invites the next run to give its folder. So the outputs may not go into,
    or under, a folder a dataset input names, nor into the very folder of a
    dataset input file; and no folder of outputs may hold any input (its files
    are the command's). Paths are compared after resolving links and ``..``,
    so no spelling gets past.

    Args:
        folder: the output folder.
        scanned: option name -> the paths (files or folders) it gives a dataset.
        read: option name -> other files the command reads (a boundary, band
            statistics): only these may not lie in the folder.
        option: how the output folder was given, for messages.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        BVMExistsError: naming the option, the input and the folder.
    """
    out = Path(folder)
    resolved = os.path.realpath(out)
    for name, paths in scanned.items():
        for path in paths:
            if path is None:
                continue
            source = os.path.realpath(path)
            if os.path.isdir(source) and _inside(resolved, source):
                raise BVMExistsError(
                    f'{option} {out} lies inside the folder {path} that {name} '
                    'reads: the outputs would be read as its data; choose another '
                    'folder'
                )
            if not os.path.isdir(source) and resolved == os.path.dirname(source):
                raise BVMExistsError(
                    f'{option} {out} is the folder of {path} ({name}): the outputs '
                    'would be read as its data when the folder is given; choose '
                    'another folder'
                )
    for name, paths in {**scanned, **(read or {})}.items():
        for path in paths:
            if path is not None and _inside(os.path.realpath(path), resolved):
                raise BVMExistsError(
                    f'{option} {out} holds {path} ({name}), an input; choose '
                    'another folder'
                )
    return out


def check_writable_folder(folder: str | Path, option: str = '--out') -> Path:
    """Create a folder if needed and check that files can be written in it.

    Called before long work (a download, a training run), so that a read-only
    or misnamed output folder fails at once rather than after the work. Folders
    it had to create to check are removed again.

    Args:
        folder: the folder.
        option: how it was given, for messages.

    Returns:
        The folder.

    Raises:
        BVMFileError: if it is a file, or cannot be created or written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BVMFileError(f'{option} {folder} is a file; give a folder')
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    probe = folder / f'.probe{STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}'
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b'')
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):
            reason = 'a part of the path is a file'
        raise BVMFileError(
            f'{option} {folder}: cannot write there ({reason})'
        ) from None
    finally:
        # The check leaves no trace: the command creates what it writes into.
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()
    return folder


#: Libraries whose errors, raised while a file is written, are about that file.
_WRITER_LIBRARIES = ('rasterio', 'pyogrio', 'fiona', 'sqlite3')
#: Free bytes below which a failed write is put down to a full disk: GDAL
#: writes a whole tile (up to tens of MB) at once, and when that write fails
#: the space it would have taken is still free.
_NEARLY_FULL = 64 * 2**20


def _write_error(final: Path, error: Exception) -> Exception:
    """The error to raise for a failed write: one naming the file and the cause.

    Errors of the package, and errors that are no I/O problem, pass unchanged.
    """
    library = type(error).__module__.split('.')[0] in _WRITER_LIBRARIES
    if isinstance(error, BVMExistsError | BVMValueError) or not (
        library or isinstance(error, OSError)
    ):
        return error
    if isinstance(error, BVMFileError):
        return error
    reason = underlying_message(error)
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror
    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        free = None
    if (isinstance(error, OSError) and error.errno == errno.ENOSPC) or (
        free is not None and free < _NEARLY_FULL
    ):
        shown = 'unknown' if free is None else f'{free:,}'
        reason += (
            f'; the disk is full ({shown} bytes free on {_mount_point(final.parent)})'
        )
    return BVMFileError(f'{final}: could not be written ({reason})')


def _mount_point(folder: Path) -> Path:
    """The mount point of the file system (the disk) that holds a folder."""
    path = Path(os.path.realpath(folder))
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _staging_stem(final: Path) -> str:
    return f'.{final.stem}{STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(final: str | Path) -> list[Path]:
    """Remove the temporary and staging files of ``final`` left by dead processes.

    A process that was killed (``SIGKILL``, power loss) could not clean up; its
    staging names hold its process id, so the next write of the same file
    removes them when that process no longer runs.

    Args:
        final: the final path whose staging files to look for.

    Returns:
        What was removed.
    """
    final = Path(final)
    pattern = f'.{glob.escape(final.stem)}{STAGING_MARK}*'
    removed = []
    for leftover in final.parent.glob(pattern):
        pid = leftover.name[len(final.stem) + 1 + len(STAGING_MARK) :].split('-')[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BVMFileError(f'{folder}: is a file, expected a folder') from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; rename it to ``path`` on success.

    Formats made of several files (a shapefile's ``.shp``, ``.dbf``, ``.shx``,
    ``.prj``, ``.cpg``) are renamed together, the main file last. On an exception
    (including Ctrl-C) every temporary file is removed and ``path`` is left as
    it was. Staging files of ``path`` left by a killed process are removed first
    (:func:`remove_stale_staging`).

    Args:
        path: the final path.

    Yields:
        The temporary path, with the same suffix as ``path`` and a hidden name.
    """
    final = Path(path)
    _make_folder(final.parent)
    remove_stale_staging(final)
    stem = _staging_stem(final)
    temporary = final.with_name(stem + final.suffix)
    try:
        try:
            yield temporary
            _read_back_staged(final, stem)
        except Exception as error:
            raise _write_error(final, error) from error
        sidecars = [
            p for p in final.parent.glob(glob.escape(stem) + '.*') if p != temporary
        ]
        for sidecar in sidecars:
            os.replace(sidecar, final.with_name(final.stem + sidecar.name[len(stem) :]))
        if temporary.is_dir():
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(temporary, final)
        elif temporary.exists():
            os.replace(temporary, final)
    finally:
        # A folder without a suffix is staged under the bare stem.
        staged = [temporary] if temporary.exists() else []
        for leftover in [*staged, *final.parent.glob(glob.escape(stem) + '.*')]:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _read_back_staged(final: Path, stem: str) -> None:
    """Read back every file staged for ``final`` (:func:`~.readback.read_back`)."""
    for staged in sorted(final.parent.glob(glob.escape(stem) + '.*')):
        read_back(staged)


@contextlib.contextmanager
def atomic_paths(
    paths: Sequence[str | Path], owned: Iterable[str | Path] = ()
) -> Iterator[list[Path]]:
    """Write a set of files that belong together: all of them or none.

    Every file is written to a temporary path; once the block succeeds they
    are renamed to their final names together, and the ``owned`` files not in
    ``paths`` (a previous run's outputs that this run does not produce) are
    removed, so no stale file stays beside fresh ones. On an exception nothing
    is renamed or removed and every temporary file is deleted.

    Args:
        paths: the final paths.
        owned: other files of the same set that may exist from an earlier run.

    Yields:
        The temporary paths, in the order of ``paths``.
    """
    with contextlib.ExitStack() as stack:
        temporaries = [stack.enter_context(_Deferred(Path(p))) for p in paths]
        try:
            yield [t.temporary for t in temporaries]
        except Exception as error:
            raise _write_error(_being_written(temporaries), error) from error
        # Every file is read back before the first is renamed: all or none.
        for deferred in temporaries:
            try:
                _read_back_staged(deferred.final, deferred.temporary.stem)
            except Exception as error:
                raise _write_error(deferred.final, error) from error
        for deferred in temporaries:
            deferred.commit()
    finals = {os.path.realpath(p) for p in paths}
    for stale in owned:
        if os.path.realpath(stale) not in finals:
            Path(stale).unlink(missing_ok=True)


def _being_written(files: Sequence[_Deferred]) -> Path:
    """The final name of the file written last (the one a failure was in)."""
    started = [f for f in files if f.temporary.exists()]
    if not started:
        return files[0].final
    return max(started, key=lambda f: f.temporary.stat().st_mtime_ns).final


class _Deferred:
    """One file of :func:`atomic_paths`: its temporary, renamed on commit."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self._context = atomic_path(final)
        self._committed = False

    def __enter__(self) -> _Deferred:
        self.temporary = self._context.__enter__()
        return self

    def commit(self) -> None:
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        if self._committed:
            self._context.__exit__(None, None, None)
        else:
            error = RuntimeError('not committed')
            with contextlib.suppress(RuntimeError):
                self._context.__exit__(RuntimeError, error, None)


@contextlib.contextmanager
def staging_folder(final: str | Path) -> Iterator[Path]:
    """A hidden folder beside ``final`` for intermediate files, removed at exit.

    It lies on the same file system as ``final`` (so large intermediates do
    not fill ``/tmp``) under a hidden staging name that dataset scans skip.

    Args:
        final: the file the intermediate files are for.

    Yields:
        The folder.
    """
    final = Path(final)
    _make_folder(final.parent)
    remove_stale_staging(final)
    folder = final.with_name(_staging_stem(final) + '.staging')
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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


def read_json(path: Path) -> Any:  # noqa: ANN401
    """The value a JSON file holds.

    Args:
        path: the file.

    Returns:
        The value, as :func:`json.loads` gives it.

    Raises:
        BVMValueError: if the file is not UTF-8 JSON (the message names the
            file and where it fails).
    """
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BVMValueError(f'{path}: not valid JSON: {error}') from None


def read_cache_entry[T](path: str | Path, read: Callable[[Path], T]) -> T | None:
    """Read a cache entry; a damaged one counts as missing, with one warning.

    A cache entry may be cut short (a full disk, a crash while it was written
    by an older version), overwritten by another program or not a file at all.
    It is then derived again and written over, and the ``torchgeo_bvm`` logger
    says so once, naming the file, rather than the run failing on it every time.

    Args:
        path: the entry's file.
        read: reads it; returns None for an entry that is fine but of no use
            (another format version), and raises if it is damaged.

    Returns:
        What ``read`` returned, or None if the entry is missing or damaged.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return None
    try:
        return read(path)
    except Exception as error:  # whatever a damaged file makes a reader raise
        reason = ' '.join(str(error).split()) or type(error).__name__
        logging.getLogger('torchgeo_bvm').warning(
            '%s: a damaged cache entry (%s: %s), derived again',
            path,
            type(error).__name__,
            reason,
        )
        return None


def fingerprint(paths: Iterable[str | Path]) -> list[list[object]]:
    """What identifies the content of some files: a hash of all their bytes.

    For each file: its absolute path, its size and the SHA-256 of its whole
    content. Sizes, times and the first bytes can all stay the same across an
    edit (a value changed in place, then ``cp -p``, ``rsync -t`` or a file
    system that keeps whole seconds), so nothing but the content decides; a
    file touched without a change keeps its fingerprint. SHA-256 runs at about
    0.6 GB/s on the development machines: 0.5 s for a shapefile of the real
    map's size (330 MB), 1 % of preparing its polygons
    (``benchmarks/bench_fingerprint.py``).

    Args:
        paths: the files.

    Returns:
        ``[path, size, sha256]`` per file, JSON-serialisable.

    Raises:
        FileNotFoundError: if a file does not exist.
    """
    entries: list[list[object]] = []
    for path in map(Path, paths):
        with path.open('rb') as file:
            size = os.fstat(file.fileno()).st_size
            digest = hashlib.file_digest(file, 'sha256').hexdigest()
        entries.append([str(path.resolve()), size, digest])
    return entries


def header_fingerprint(path: str | Path) -> str:
    """What identifies the header of a raster: a hash of every byte it is read from.

    For a TIFF (GeoTIFF, COG, BigTIFF): its image file directories, each entry
    and every value an entry points to (size, tiling, CRS, transform, nodata,
    band descriptions, tile offsets), following the chain of directories
    (overviews, masks). An edit that changes none of these leaves what GDAL
    reads as the header, and so any header kept from it, true; one that
    changes any of them changes the fingerprint, whatever the file's size and
    time. A few kilobytes are read, wherever in the file the directories lie.
    Another format is hashed whole.

    Args:
        path: the raster.

    Returns:
        The SHA-256, in hexadecimal.

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    with Path(path).open('rb') as file:
        start = file.read(16)
        layout = _TIFF_LAYOUTS.get(start[:4])
        if layout is None:
            file.seek(0)
            return hashlib.file_digest(file, 'sha256').hexdigest()
        return _tiff_directories_digest(file, start, *layout)


#: TIFF signatures: (byte order, BigTIFF).
_TIFF_LAYOUTS = {
    b'II*\x00': ('<', False),
    b'MM\x00*': ('>', False),
    b'II+\x00': ('<', True),
    b'MM\x00+': ('>', True),
}
#: Bytes per value of each TIFF field type (TIFF 6.0 and BigTIFF).
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8}
_TIFF_TYPE_SIZES |= {11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
#: The most directories followed and bytes of values hashed per directory.
_TIFF_MAX_DIRECTORIES = 1024
_TIFF_MAX_VALUE_BYTES = 64 * 2**20


def _tiff_directories_digest(
    file: BinaryIO, start: bytes, order: str, big: bool
) -> str:
    """SHA-256 of a TIFF's directory chain and the values its entries point to."""
    word = 8 if big else 4  # an offset, and the room for a value in an entry
    count, entry = ('Q', 8) if big else ('H', 2), 20 if big else 12
    offset_format = order + ('Q' if big else 'I')
    digest = hashlib.sha256(start[: 16 if big else 8])
    (offset,) = struct.unpack(offset_format, start[8:16] if big else start[4:8])
    size = os.fstat(file.fileno()).st_size
    seen: set[int] = set()
    while 0 < offset < size and offset not in seen:
        if len(seen) == _TIFF_MAX_DIRECTORIES:
            break  # a chain that long is no image's
        seen.add(offset)
        file.seek(offset)
        (entries,) = struct.unpack(
            order + count[0], file.read(count[1]).ljust(count[1])
        )
        table = file.read(min(entries, 2**16) * entry)
        following = file.read(word).ljust(word, b'\x00')
        digest.update(table + following)
        budget = _TIFF_MAX_VALUE_BYTES
        for first in range(0, len(table) - entry + 1, entry):
            fields = table[first : first + entry]
            (kind,) = struct.unpack(order + 'H', fields[2:4])
            (values,) = struct.unpack(offset_format, fields[4 : 4 + word])
            length = _TIFF_TYPE_SIZES.get(kind, 1) * values
            if length <= word or budget <= 0:
                continue  # the value lies in the entry itself
            (where,) = struct.unpack(offset_format, fields[entry - word :])
            if where < size:
                file.seek(where)
                digest.update(file.read(min(length, budget)))
            budget -= length
        (offset,) = struct.unpack(offset_format, following)
    return digest.hexdigest()


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
