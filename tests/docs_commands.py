"""The commands and Python code shown in README.md and docs/*.rst, as written.

:func:`documented_blocks` extracts the code blocks of the documents in reading
order (Markdown fences, reStructuredText ``::`` literal blocks and
``.. code-block::`` directives); :func:`shell_commands` splits a shell block into
commands (continuation lines joined, comments dropped). A literal block whose
first line is no known command (printed output, a file listing) is not code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
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
    'docs/updates.rst',
    'docs/split.rst',
    'docs/classes.rst',
    'docs/architecture.rst',
    'docs/api.rst',
    'docs/index.rst',
)
#: The programs the documents may show.
PROGRAMS = (
    'torchgeo-bvm',
    '.venv/bin/torchgeo-bvm',
    'torchgeo',
    'python',
    'python3.12',
    'make',
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


def documented_blocks() -> list[Block]:
    """Every code block of :data:`DOCUMENTS`, in order."""
    blocks = []
    for name in DOCUMENTS:
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
