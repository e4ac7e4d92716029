"""The commands and Python code shown in README.md and docs/*.rst, and how to run them.

:func:`documented_blocks` extracts the code blocks of the documents in reading
order (Markdown fences, reStructuredText ``::`` literal blocks and
``.. code-block::`` directives); :func:`shell_commands` splits a shell block into
commands (continuation lines joined, comments dropped). A literal block whose
first line is no known command (printed output, a file listing) is not code.

:class:`Reader` runs them as a reader would: in a folder of its own outside the
repository, each command in a process of its own through ``bash`` (so quoting,
globbing and comments are the shell's), with the environment's programs first
on ``PATH`` and nothing else: the repository is neither the working folder nor
added to the import path. What the package needs is its installation (in CI
``pip install -e .``; in a work tree, ``PYTHONPATH``, inherited as a user's
shell would pass it).

:func:`copy_folder` copies a folder that ``tests/conftest.py`` built once per
run (``built_once``: the mini-Flanders and the demo's folder that several
pages start from) for one test to change.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The documents, in the order a reader meets them (README, then the toctree).
DOCUMENTS = (
    'README.md',
    'docs/installation.rst',
    'docs/quickstart.rst',
    'docs/examples.rst',
    'docs/guide.rst',
    'docs/sentinel1.rst',
    'docs/mapping.rst',
    'docs/openeo.rst',
    'docs/compare.rst',
    'docs/updates.rst',
    'docs/troubleshooting.rst',
    'docs/split.rst',
    'docs/classes.rst',
    'docs/architecture.rst',
    'docs/api.rst',
    'docs/index.rst',
)
#: The programs the documents may show.
PROGRAMS = (
    'torchgeo-bvm',
    'torchgeo',
    'python',
    'python3.12',
    'make',
)
#: What a documented command must not print: Lightning's advertising tips,
#: Lightning's own deprecation warning, TorchGeo's conversion of a dataset it
#: was given on another grid, PyTorch's warning about more DataLoader workers
#: than CPUs, and any traceback.
NOISE = (
    'Tip:',
    'LeafSpec',
    'Converting ',
    'worker processes in total',
    'Traceback (most recent call last)',
)


@dataclass(frozen=True)
class Block:
    """A code block of a document.

    Args:
        document: the document, relative to the repository.
        line: the block's first line (1-based).
        language: ``'sh'``, ``'python'`` or ``'text'``.
        text: the code, dedented.
    """

    document: str
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        """``document:line``."""
        return f'{self.document}:{self.line}'

    def commands(self) -> list[str]:
        """The commands of a shell block as written, continuation lines joined.

        Quotes and trailing comments are kept (the shell reads them); lines
        that hold only a comment are left out.
        """
        joined = re.sub(r'\\\n\s*', ' ', self.text)
        return [
            line.strip()
            for line in joined.splitlines()
            if shlex.split(line, comments=True)
        ]


def documented_blocks(documents: Iterable[str] = DOCUMENTS) -> list[Block]:
    """Every code block of some documents, in order.

    Args:
        documents: the documents (default: all, in reading order).

    Returns:
        The blocks.
    """
    blocks = []
    for name in documents:
        text = (ROOT / name).read_text()
        found = _markdown(name, text) if name.endswith('.md') else _rst(name, text)
        blocks += found
    return blocks


def _markdown(name: str, text: str) -> list[Block]:
    blocks = []
    pattern = re.compile(r'^```(\w*)\n(.*?)^```', re.MULTILINE | re.DOTALL)
    for match in pattern.finditer(text):
        language = {'sh': 'sh', 'bash': 'sh', 'python': 'python'}.get(
            match.group(1), 'text'
        )
        line = text[: match.start()].count('\n') + 2
        blocks.append(Block(name, line, language, match.group(2)))
    return blocks


def _rst(name: str, text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = re.match(r'^(\s*)\.\. code-block::\s*(\w+)', line)
        literal = line.rstrip().endswith('::') and not line.lstrip().startswith('..')
        if not (directive or literal):
            index += 1
            continue
        indent = len(line) - len(line.lstrip())
        start = index + 1
        while start < len(lines) and (
            not lines[start].strip() or lines[start].lstrip().startswith(':')
        ):
            start += 1
        end = start
        while end < len(lines) and (
            not lines[end].strip()
            or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            end += 1
        body = lines[start:end]
        if body:
            margin = min(len(b) - len(b.lstrip()) for b in body if b.strip())
            code = '\n'.join(b[margin:] for b in body).strip('\n') + '\n'
            if directive:
                language = {'python': 'python', 'sh': 'sh', 'bash': 'sh'}.get(
                    directive.group(2), 'text'
                )
            else:
                language = 'sh' if _is_shell(code) else 'text'
            blocks.append(Block(name, start + 1, language, code))
        index = max(end, index + 1)
    return blocks


def _is_shell(code: str) -> bool:
    commands = shell_commands(code)
    return bool(commands) and commands[0][0] in PROGRAMS


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuations joined, comments dropped.

    Args:
        code: the block.

    Returns:
        One argument list per command.
    """
    joined = re.sub(r'\\\n\s*', ' ', code)
    return [
        words
        for line in joined.splitlines()
        if (words := shlex.split(line, comments=True))
    ]


def environment() -> dict[str, str]:
    """The environment of a documented command: this one, its programs first.

    The console scripts (``torchgeo-bvm``, ``torchgeo``) and ``python`` of the
    environment running the tests come first on ``PATH``, as in a shell where
    that environment is active.

    Returns:
        The variables.
    """
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env['PATH']])
    return env


@dataclass
class Run:
    """What one documented command did.

    Args:
        where: the block it comes from.
        command: the command, as the shell reads it.
        status: its exit status (0 for a command not run).
        output: what it printed (stdout, then stderr).
        seconds: how long it took.
        note: why it was not run as written, if it was not.
        cpu: the CPU seconds it used (user and system, its child processes
            included): what it costs whatever else the machine runs.
    """

    where: str
    command: str
    status: int
    output: str
    seconds: float
    note: str = ''
    cpu: float = 0.0


@dataclass
class Reader:
    """Runs a document's blocks in a folder, each command a process of its own.

    Args:
        folder: the working folder (outside the repository).
        not_run: a function saying why a command is not run (``''``: run it).
        replacements: command prefix -> what runs instead (a function of the
            command's words), for commands that need the network.
        runs: what ran, in order.
    """

    folder: Path
    not_run: Callable[[str, str], str] = lambda document, command: ''
    replacements: dict[str, Callable[[list[str]], None]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def read(self, blocks: Iterable[Block], timeout: float = 600) -> list[Run]:
        """Run blocks in order; fail at the first command that fails.

        Args:
            blocks: the blocks (``'text'`` blocks are skipped).
            timeout: seconds a command may take.

        Returns:
            What ran.
        """
        for block in blocks:
            if block.language == 'python':
                self.python(block, timeout)
            elif block.language == 'sh':
                for command in block.commands():
                    self.shell(block, command, timeout)
        return self.runs

    def shell(self, block: Block, command: str, timeout: float) -> Run:
        """Run one command of a shell block (or say why not)."""
        reason = self.not_run(block.document, command)
        if reason:
            return self._record(Run(block.where, command, 0, '', 0.0, reason))
        for prefix, replacement in self.replacements.items():
            if command.startswith(prefix) and '--dry-run' not in command:
                start = time.perf_counter()
                replacement(shlex.split(command))
                seconds = time.perf_counter() - start
                note = 'replaced by what it would write'
                return self._record(Run(block.where, command, 0, '', seconds, note))
        return self._record(
            self._process(block.where, ['bash', '-c', command], None, timeout)
        )

    def python(self, block: Block, timeout: float) -> Run:
        """Run a Python block as a reader pasting it into ``python``."""
        return self._record(
            self._process(block.where, ['python', '-'], block.text, timeout)
        )

    def _process(
        self, where: str, argv: list[str], stdin: str | None, timeout: float
    ) -> Run:
        command = argv[-1] if stdin is None else f'python - < {where}'
        start, used = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            argv,
            cwd=self.folder,
            env=environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.perf_counter() - start
        output = done.stdout + done.stderr
        cpu = _children_cpu() - used
        run = Run(where, command, done.returncode, output, seconds, cpu=cpu)
        assert done.returncode == 0, (
            f'{where}: `{command}` exited {done.returncode}:\n'
            + '\n'.join(output.splitlines()[-40:])
        )
        return run

    def _record(self, run: Run) -> Run:
        self.runs.append(run)
        shown = f' ({run.note})' if run.note else ''
        line = f'{run.seconds:6.1f} s {run.cpu:6.1f} s CPU  {run.command}{shown}'
        print(line, file=sys.__stderr__, flush=True)
        return run

    def log(self) -> str:
        """What ran, one line each: wall and CPU seconds, the command."""
        lines = [
            f'{run.seconds:6.1f} s {run.cpu:6.1f} s CPU  {run.command}'
            + (f' (not run: {run.note})' if run.note else '')
            for run in self.runs
        ]
        total = sum(run.cpu for run in self.runs)
        return '\n'.join([*lines, f'{total:.0f} s CPU in all'])

    def noise(self) -> list[str]:
        """The lines of what ran that print something :data:`NOISE` names."""
        return [
            f'{run.where}: {line.strip()}'
            for run in self.runs
            for line in run.output.replace('\r', '\n').splitlines()
            if any(word in line for word in NOISE)
        ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def copy_folder(source: Path, target: Path) -> None:
    """Copy a shared folder for a test to use; checkpoints are linked, not copied.

    Nothing rewrites a checkpoint in place (a new run writes ``best-v1.ckpt``),
    so the copies share the shared folder's checkpoint files.

    Args:
        source: the shared folder.
        target: the copy (must not exist).
    """

    def copy(src: str, dst: str) -> str:
        if src.endswith('.ckpt'):
            os.link(src, dst)
            return dst
        return str(shutil.copy2(src, dst))

    shutil.copytree(source, target, copy_function=copy, symlinks=True)


def quick_demo_block() -> Block:
    """The quick start's quicker demo run (``torchgeo-bvm demo ... --size tiny``).

    Returns:
        Its block, as documented.
    """
    (block,) = [
        b
        for b in documented_blocks(['docs/quickstart.rst'])
        if b.language == 'sh' and b.commands()[0].startswith('torchgeo-bvm demo ')
    ]
    return block
