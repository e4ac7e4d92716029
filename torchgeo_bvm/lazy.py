"""Public names of a package, imported from their modules on first use (:pep:`562`).

The command line must start without torch, and the commands that need no deep
learning must never import it; a package ``__init__`` that imports every module
would import torch for all of them. With :func:`exports` a package lists where
each public name lives and imports that module only when the name is used;
``from package import name``, ``package.name``, :func:`dir` and ``__all__``
work as before.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ['exports']


def exports(
    package: str, homes: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package with lazy public names.

    Use as ``__getattr__, __dir__ = exports(__name__, HOMES, __all__)``.

    Args:
        package: the package's ``__name__``.
        homes: public name -> the module that defines it, relative to the
            package (e.g. ``{'BVMDataset': 'bvm'}``, or ``'..crs'`` for a
            module of the parent package).
        names: the package's ``__all__``.

    Returns:
        ``(__getattr__, __dir__)``: the first imports a name's module, keeps the
        value in the package and returns it (``AttributeError`` for names not in
        ``homes``); the second lists the public names, loaded or not.
    """
    public = sorted(set(names))

    def __getattr__(name: str) -> Any:  # noqa: ANN401, N807
        home = homes.get(name)
        if home is None:
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        module = home if home.startswith('.') else f'.{home}'
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
