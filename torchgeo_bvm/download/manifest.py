"""The manifest of a download folder: settings, job ids and finished files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BVMValueError
from ..fileio import atomic_path
from .tasks import DownloadTask

__all__ = ['MANIFEST_NAME', 'Manifest', 'graph_digest']

#: File name of the manifest in the output folder (Sentinel-2's; each sensor
#: keeps its own, so that one folder holds the downloads of both).
MANIFEST_NAME = 'openeo-manifest.json'


def graph_digest(graph: dict[str, Any]) -> str:
    """A short digest of a process graph, to notice when a task's graph changed.

    Args:
        graph: the openEO process object.

    Returns:
        16 hex digits of the SHA-256 of its canonical JSON.
    """
    text = json.dumps(graph, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Manifest:
    """What an output folder holds: settings, job ids and finished files.

    Stored as JSON next to the sheet folders and rewritten atomically after
    every change, so it never lags more than one file behind the disk.

    Args:
        path: the manifest file.
        settings: :meth:`DownloadOptions.settings` of the folder.
        tasks: task key -> record (``sheet``, ``temporal_extent``, ``graph``,
            ``job_id``, ``files`` relative to the folder, ``complete``).
    """

    path: Path
    settings: dict[str, Any]
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(
        cls, out: str | Path, settings: dict[str, Any], name: str = MANIFEST_NAME
    ) -> Manifest:
        """Read the manifest of a folder, or start one.

        Args:
            out: the output folder.
            settings: the settings of this run.
            name: the manifest's file name (the sensor's).

        Returns:
            The manifest.

        Raises:
            ValueError: if the manifest is unreadable, or records other settings
                (mixing bands or grids in one folder would mislabel files).
        """
        path = Path(out) / name
        if not path.exists():
            return cls(path, settings)
        try:
            data = json.loads(path.read_text())
            stored, tasks = data['settings'], data['tasks']
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise BVMValueError(f'{path}: not a download manifest ({error})') from None
        if stored != settings:
            changed = sorted(
                k for k in {*stored, *settings} if stored.get(k) != settings.get(k)
            )
            details = ', '.join(
                f'{k}: {stored.get(k)!r} there, {settings.get(k)!r} now'
                for k in changed
            )
            raise BVMValueError(
                f'{path.parent} holds a download with other settings ({details}); '
                'use another output folder'
            )
        return cls(path, settings, tasks)

    def save(self) -> None:
        """Write the manifest atomically."""
        data = {'settings': self.settings, 'tasks': self.tasks}
        with atomic_path(self.path) as temporary:
            temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')

    def record(self, task: DownloadTask, graph: str) -> dict[str, Any]:
        """The record of a task, created (or reset, if its graph changed).

        Args:
            task: the task.
            graph: the digest of its process graph.

        Returns:
            The mutable record.
        """
        record = self.tasks.get(task.key)
        if record is None or record.get('graph') != graph:
            record = {
                'sheet': task.sheet.code,
                **({} if task.orbit is None else {'orbit': task.orbit}),
                'temporal_extent': task.temporal_extent,
                'graph': graph,
                'job_id': None,
                'files': [],
                'complete': False,
            }
            self.tasks[task.key] = record
        return record

    def is_complete(self, task: DownloadTask, graph: str) -> bool:
        """Whether a task finished with this graph and all its files exist.

        Args:
            task: the task.
            graph: the digest of its process graph.

        Returns:
            True if nothing is left to do.
        """
        record = self.tasks.get(task.key)
        return bool(
            record
            and record['complete']
            and record['graph'] == graph
            and all((self.path.parent / f).is_file() for f in record['files'])
        )
