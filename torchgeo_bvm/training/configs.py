"""The training configurations shipped with the package, and their laptop scale.

The YAML files in ``torchgeo_bvm/configs/`` are TorchGeo command-line
configurations (``torchgeo fit --config FILE``): the paper's three experiments
(``bvm_rgb``, ``bvm_rgnir``, ``bvm_all``), two ways to handle the class
imbalance (``bvm_all_weighted``, ``bvm_all_focal``), five models of a year of
months (``bvm_monthly_unet``, ``bvm_monthly_convlstm``, ``bvm_monthly_utae``,
``bvm_monthly_late``, ``bvm_monthly_pixel``), two with Sentinel-1 beside
Sentinel-2 (``bvm_monthly_s1s2_unet``, ``bvm_monthly_s1s2_convlstm``) and the
demo's CPU run (``demo``). They are installed with the package, so
``torchgeo-bvm config NAME`` (:mod:`torchgeo_bvm.commands.config`) writes them
wherever a user works.

The paper's setting (20,000 steps of 256 x 256 crops, 8 DataLoader workers) is
days of work on a CPU. :func:`laptop_settings` is the same configuration at
laptop scale (:data:`LAPTOP_STEPS` steps of :data:`LAPTOP_PATCH_SIZE` px crops,
one epoch, one DataLoader worker per CPU but one); :func:`config_text` writes
it into the YAML with the values as shipped in a comment beside each changed
line, so the file shows both.

This module reads text only: the command line imports it without torch.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from ..errors import BVMNotFoundError, BVMValueError

__all__ = [
    'LAPTOP_BATCH_SIZE',
    'LAPTOP_PATCH_SIZE',
    'LAPTOP_STEPS',
    'MAX_WORKERS',
    'Setting',
    'available_cpus',
    'config_file',
    'config_names',
    'config_summary',
    'config_text',
    'laptop_settings',
    'laptop_workers',
]

#: Training steps at laptop scale: enough to run every stage, not to learn.
LAPTOP_STEPS = 5
#: Crop size at laptop scale (pixels); a multiple of 32, as the U-Nets need.
LAPTOP_PATCH_SIZE = 64
#: Crops per batch at laptop scale.
LAPTOP_BATCH_SIZE = 4
#: The most DataLoader workers the laptop scale asks for (the paper's 8).
MAX_WORKERS = 8


@dataclass(frozen=True)
class Setting:
    """One value of a configuration that the laptop scale changes.

    Args:
        section: the top-level section holding it (``'trainer'`` or ``'data'``).
        key: its name, once among the section's own options (the trainer's, or
            the data module's ``init_args``; not inside a group of options).
        value: the laptop-scale value.
        why: what the value is, for the comment beside it.
    """

    section: str
    key: str
    value: int
    why: str

    @property
    def path(self) -> tuple[str, ...]:
        """The keys down to the mapping that holds the value."""
        return ('data', 'init_args') if self.section == 'data' else (self.section,)


def config_names() -> list[str]:
    """The names of the shipped configurations, sorted.

    Returns:
        Names without ``.yaml`` (``'bvm_all'``, ``'demo'``, ...).
    """
    folder = resources.files('torchgeo_bvm').joinpath('configs')
    names = (entry.name for entry in folder.iterdir() if entry.is_file())
    stems = (name.removesuffix('.yaml') for name in names if name.endswith('.yaml'))
    return sorted(stems)


def config_file(name: str) -> Traversable:
    """The installed file of a shipped configuration.

    Args:
        name: its name, with or without ``.yaml``.

    Returns:
        The file (a path on disk for an ordinary installation).

    Raises:
        BVMNotFoundError: if no configuration has that name.
    """
    stem = name.removesuffix('.yaml')
    names = config_names()
    if stem not in names:
        raise BVMNotFoundError(
            f'no configuration named {name!r}; the package ships {", ".join(names)}'
        )
    return resources.files('torchgeo_bvm').joinpath('configs', f'{stem}.yaml')


def config_summary(name: str) -> str:
    """What a configuration is, from its leading comment.

    Args:
        name: a shipped configuration.

    Returns:
        The first paragraph of the comment at the top of the file, up to its
        first colon or full stop (``''`` if the file starts with no comment).
    """
    paragraph: list[str] = []
    for line in config_file(name).read_text().splitlines():
        text = line.lstrip('#').strip() if line.startswith('#') else None
        if not text:
            if paragraph or text is None:
                break
            continue
        paragraph.append(text)
    summary = ' '.join(paragraph)
    end = re.search(r'(?<!\.)[.:](\s|$)', summary)
    return summary if end is None else summary[: end.start()]


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where known).

    Returns:
        At least 1.
    """
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def laptop_workers(cpus: int) -> int:
    """DataLoader workers for a machine: one per CPU but one, at most 8.

    The training loop keeps one CPU busy; the workers read and decompress
    on the others (PyTorch warns when asked for more workers than CPUs).

    Args:
        cpus: the CPUs available.

    Returns:
        0 (read in the training process) on one CPU, else ``cpus - 1`` up to
        :data:`MAX_WORKERS`.
    """
    return min(MAX_WORKERS, max(0, cpus - 1))


def laptop_settings(cpus: int | None = None) -> tuple[Setting, ...]:
    """What the laptop scale changes in a configuration.

    Args:
        cpus: the CPUs of the machine (default: :func:`available_cpus`).

    Returns:
        The training steps, one epoch of crops (validation runs once, at the
        end), the crop and batch size, the logging interval and the
        DataLoader workers.
    """
    cpus = available_cpus() if cpus is None else cpus
    workers = laptop_workers(cpus)
    return (
        Setting('trainer', 'max_steps', LAPTOP_STEPS, 'training steps'),
        Setting('trainer', 'log_every_n_steps', 5, 'metrics logged every 5 steps'),
        Setting('data', 'patch_size', LAPTOP_PATCH_SIZE, 'crop size (px)'),
        Setting('data', 'batch_size', LAPTOP_BATCH_SIZE, 'crops per batch'),
        Setting(
            'data',
            'length',
            LAPTOP_STEPS * LAPTOP_BATCH_SIZE,
            'crops per epoch: one epoch, validated at its end',
        ),
        Setting(
            'data',
            'num_workers',
            workers,
            f'DataLoader workers: {cpus} CPU{"s" if cpus != 1 else ""} less one',
        ),
    )


def config_text(name: str, laptop: bool = False, cpus: int | None = None) -> str:
    """A shipped configuration as YAML, as shipped or at laptop scale.

    At laptop scale each changed line keeps its key and gets the laptop value,
    with the value as shipped in a comment beside it, and a comment at the top
    says what changed; everything else, comments included, is as shipped.

    Args:
        name: a shipped configuration.
        laptop: apply :func:`laptop_settings`.
        cpus: the CPUs the workers are chosen for (default: this machine's).

    Returns:
        The YAML text.

    Raises:
        BVMNotFoundError: if no configuration has that name.
        BVMValueError: if the configuration lacks a value the laptop scale
            sets, or holds it more than once.
    """
    text = config_file(name).read_text()
    if not laptop:
        return text
    settings = laptop_settings(cpus)
    lines = text.splitlines()
    for setting in settings:
        index = _line_of(lines, setting, name)
        match = _VALUE.match(lines[index])
        assert match is not None  # _line_of found it with the same pattern
        shipped = match.group('value')
        lines[index] = (
            f'{match.group("key")}: {setting.value}  # laptop scale, '
            f'{setting.why}; as shipped: {shipped}'
        )
    result = _laptop_header(name, settings) + '\n'.join(lines) + '\n'
    _check_values(yaml.safe_load(result), settings, name)
    return result


#: A ``key: value`` line of a block mapping, with an optional comment.
_VALUE = re.compile(r'^(?P<key>\s+[A-Za-z_][\w]*):\s*(?P<value>[^\s#][^#]*?)\s*(#.*)?$')


def _line_of(lines: list[str], setting: Setting, name: str) -> int:
    """The one line of ``setting.key`` where :attr:`Setting.path` leads."""
    # Two spaces per level, as every shipped configuration is written.
    indent = ' ' * (2 * len(setting.path))
    inside, found = False, []
    for index, line in enumerate(lines):
        if line and not line[0].isspace() and not line.startswith('#'):
            inside = line.rstrip() == f'{setting.section}:'
            continue
        match = _VALUE.match(line)
        if inside and match and match.group('key') == indent + setting.key:
            found.append(index)
    if len(found) != 1:
        where = 'no' if not found else f'{len(found)} lines with'
        raise BVMValueError(
            f'configuration {name!r}: {where} {setting.section} value '
            f'{setting.key!r}; the laptop scale needs it exactly once'
        )
    return found[0]


def _laptop_header(name: str, settings: tuple[Setting, ...]) -> str:
    values = {s.key: s.value for s in settings}
    size = values['patch_size']
    text = (
        f'Laptop scale (torchgeo-bvm config {name} --laptop): '
        f'{values["max_steps"]} steps of {size} x {size} crops, batch '
        f'{values["batch_size"]}, {_workers(values["num_workers"])}. Enough to '
        'run every stage (fit, validation, test, predict) in minutes on a CPU, '
        'not to learn a useful model; each changed line says the value as shipped.'
    )
    lines = textwrap.wrap(text, 78)
    return ''.join(f'# {line}\n' for line in lines) + '#\n'


def _workers(count: int) -> str:
    if count == 0:
        return 'no DataLoader workers (data read in the training process)'
    return f'{count} DataLoader worker{"s" if count > 1 else ""}'


def _check_values(config: Any, settings: tuple[Setting, ...], name: str) -> None:  # noqa: ANN401
    for setting in settings:
        node = config
        for key in setting.path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        value = node.get(setting.key) if isinstance(node, dict) else None
        if value != setting.value:
            raise BVMValueError(
                f'configuration {name!r}: {setting.section} value {setting.key!r} '
                f'reads {value} after the laptop scale, not {setting.value}'
            )
