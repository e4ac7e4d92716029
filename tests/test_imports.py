"""The package's import rules, checked on its source with ``ast``.

* Imports point down the layers of ``docs/architecture.rst`` (:data:`LAYERS`):
  a module imports only modules of its own layer and of the layers below it
  (so no dataset imports a sampler: samplers depend on datasets, as in
  TorchGeo). Imports under ``if TYPE_CHECKING:`` count too.
* No module uses another module's private names: no ``from X import _name``, no
  ``X._name`` on an imported module, and no ``obj._name`` on anything but
  ``self``, ``cls`` and ``super()`` (dunder names such as ``__version__`` are
  not private).
* A private module (``_fastpath.py``, ``_options.py``) is imported only by the
  modules of the package folder that holds it; nothing imports a private module
  of another project (``openeo.rest._datacube``).
* The library never chooses a matplotlib backend (no ``matplotlib.use``).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / 'torchgeo_bvm'

#: The package's layers from the bottom up: a module or subpackage of
#: ``torchgeo_bvm`` per entry, those on one line sharing a layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ('errors', 'lazy'),
    ('checks', 'fileio', 'readback', 'classes'),
    ('spatial',),
    ('plot',),
    ('sheets',),
    ('bvm',),
    ('evaluation',),
    ('datasets',),
    ('samplers',),
    ('maps',),
    ('download',),
    ('models',),
    ('training',),
    ('export',),
    ('openeo_map',),
    ('synth',),
    ('demo', 'demo_truth'),
    ('commands',),
    ('cli',),
)


def _layer(module: str) -> int | None:
    """The layer of a ``torchgeo_bvm`` module, or None for the package itself."""
    parts = module.split('.')
    if parts[0] != 'torchgeo_bvm' or len(parts) == 1:
        return None
    for level, names in enumerate(LAYERS):
        if parts[1] in names:
            return level
    raise AssertionError(f'{module} is in no layer of LAYERS')


def _private(name: str) -> bool:
    return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _findings(path: Path) -> list[str]:
    module = _module_name(path)
    is_package = path.name == '__init__.py'
    package = module if is_package else module.rpartition('.')[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    aliases: set[str] = set()

    def where(node: ast.AST) -> str:
        return f'{path.relative_to(PACKAGE.parent)}:{getattr(node, "lineno", 0)}'

    own_layer = _layer(module)

    def check_module(name: str, node: ast.AST) -> None:
        parts = name.split('.')
        layer = _layer(name)
        if own_layer is not None and layer is not None and layer > own_layer:
            found.append(
                f'{where(node)}: {module} (layer {own_layer}) imports {name} '
                f'(layer {layer}, above it)'
            )
        for depth, part in enumerate(parts):
            if not _private(part):
                continue
            holder = '.'.join(parts[:depth])
            if holder != package:
                found.append(f'{where(node)}: imports the private module {name}')
            return

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node)
                aliases.add((alias.asname or alias.name).split('.')[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[: len(package.split('.')) - node.level + 1]
                source = '.'.join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ''
            if source == '__future__':
                continue
            check_module(source, node)
            for alias in node.names:
                if _private(alias.name):
                    found.append(
                        f'{where(node)}: imports the private name {alias.name} '
                        f'from {source}'
                    )
                aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ('self', 'cls'):
            continue
        if (
            isinstance(owner, ast.Call)
            and isinstance(owner.func, ast.Name)
            and owner.func.id == 'super'
        ):
            continue
        shown = ast.unparse(node)
        kind = (
            'a private name of a module'
            if isinstance(owner, ast.Name) and owner.id in aliases
            else 'a private attribute of another object'
        )
        found.append(f'{where(node)}: uses {kind}: {shown}')
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'use'
            and ast.unparse(node.func.value) == 'matplotlib'
        ):
            found.append(f'{where(node)}: chooses a matplotlib backend')
    return found


def test_imports_point_one_way_and_privates_stay_private() -> None:
    findings = [f for path in sorted(PACKAGE.rglob('*.py')) for f in _findings(path)]
    assert findings == []


def test_the_rules_catch_what_they_name(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / 'torchgeo_bvm' / 'datasets'
    folder.mkdir(parents=True)
    (folder / 'bad.py').write_text(
        'from ..samplers import SheetSampler\n'
        'from ..spatial.pixelgrid import _ALIGNED\n'
        'from ..commands._options import parse_sheets\n'
        'from openeo.rest._datacube import THIS\n'
        'from ._fastpath import IndexArrays\n'
        'from . import sentinel2\n'
        'import torchgeo_bvm.spatial.pixelgrid as grid\n'
        'x = sentinel2._ONE_DAY\n'
        'y = grid._ALIGNED\n'
        'def f(image):\n'
        '    return image._items, self._ok, super()._fine\n'
        'import matplotlib\n'
        "matplotlib.use('Agg')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], 'PACKAGE', tmp_path / 'torchgeo_bvm')
    found = [f.split(': ', 1)[1] for f in _findings(folder / 'bad.py')]
    assert found == [
        'torchgeo_bvm.datasets.bad (layer 7) imports torchgeo_bvm.samplers '
        '(layer 8, above it)',
        'imports the private name _ALIGNED from torchgeo_bvm.spatial.pixelgrid',
        'torchgeo_bvm.datasets.bad (layer 7) imports torchgeo_bvm.commands._options '
        '(layer 17, above it)',
        'imports the private module torchgeo_bvm.commands._options',
        'imports the private module openeo.rest._datacube',
        'uses a private name of a module: sentinel2._ONE_DAY',
        'uses a private name of a module: grid._ALIGNED',
        'uses a private attribute of another object: image._items',
        'chooses a matplotlib backend',
    ]


def test_every_module_is_in_a_layer() -> None:
    for path in sorted(PACKAGE.rglob('*.py')):
        _layer(_module_name(path))


def test_the_package_exports_resolve_to_their_homes() -> None:
    import torchgeo_bvm

    homes = vars(torchgeo_bvm)['_HOMES']
    assert sorted(torchgeo_bvm.__all__) == sorted([*homes, '__version__'])
    for name, home in homes.items():
        module = importlib.import_module(f'torchgeo_bvm.{home}')
        assert name in module.__all__, f'{name} is not public in {home}'
        assert getattr(torchgeo_bvm, name) is getattr(module, name), name
    # What a training configuration names is among them.
    assert {'BVMDataModule', 'SheetSampler', 'SheetPredictionWriter'} <= set(
        torchgeo_bvm.__all__
    )
