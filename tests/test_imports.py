"""The package's import rules, checked on its source with ``ast``.

* Imports point one way: no module under ``torchgeo_bvm/datasets`` imports
  ``torchgeo_bvm.samplers`` (samplers depend on datasets, as in TorchGeo).
* No module uses another module's private names: no ``from X import _name``, no
  ``X._name`` on an imported module, and no ``obj._name`` on anything but
  ``self``, ``cls`` and ``super()`` (dunder names such as ``__version__`` are
  not private).
* A private module (``_fastpath.py``, ``_options.py``) is imported only by the
  modules of the package folder that holds it; nothing imports a private module
  of another project (``openeo.rest._datacube``).
* The library never chooses a matplotlib backend (no ``matplotlib.use``).

Old import paths (``torchgeo_bvm.kaartblad``, ``torchgeo_bvm.labels.Grid``, ...)
keep working as thin aliases of the new homes.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / 'torchgeo_bvm'


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

    def check_module(name: str, node: ast.AST) -> None:
        parts = name.split('.')
        if module.startswith('torchgeo_bvm.datasets') and name.startswith(
            'torchgeo_bvm.samplers'
        ):
            found.append(f'{where(node)}: a dataset module imports {name}')
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
        'from ..pixelgrid import _ALIGNED\n'
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
        'a dataset module imports torchgeo_bvm.samplers',
        'imports the private name _ALIGNED from torchgeo_bvm.spatial.pixelgrid',
        'imports the private module torchgeo_bvm.commands._options',
        'imports the private module openeo.rest._datacube',
        'uses a private name of a module: sentinel2._ONE_DAY',
        'uses a private name of a module: grid._ALIGNED',
        'uses a private attribute of another object: image._items',
        'chooses a matplotlib backend',
    ]


@pytest.mark.parametrize(
    ('old', 'new'),
    [
        ('torchgeo_bvm.kaartblad.Sheet', 'torchgeo_bvm.sheets.codes.Sheet'),
        (
            'torchgeo_bvm.kaartblad.SplitScheme',
            'torchgeo_bvm.sheets.scheme.SplitScheme',
        ),
        ('torchgeo_bvm.kaartblad.grid', 'torchgeo_bvm.sheets.official.grid'),
        ('torchgeo_bvm.kaartblad.sheets', 'torchgeo_bvm.sheets.codes.sheets'),
        ('torchgeo_bvm.kaartblad.KBL_WIDTH', 'torchgeo_bvm.sheets.codes.KBL_WIDTH'),
        ('torchgeo_bvm.kaartblad.plot_grid', 'torchgeo_bvm.plot.plot_grid'),
        (
            'torchgeo_bvm.kaartblad.reproject_geometry',
            'torchgeo_bvm.spatial.geometry.reproject_geometry',
        ),
        ('torchgeo_bvm.labels.Grid', 'torchgeo_bvm.spatial.pixelgrid.Grid'),
        ('torchgeo_bvm.Grid', 'torchgeo_bvm.spatial.pixelgrid.Grid'),
        ('torchgeo_bvm.samplers.SheetLayout', 'torchgeo_bvm.sheets.layout.SheetLayout'),
        ('torchgeo_bvm.samplers.SplitRegion', 'torchgeo_bvm.sheets.layout.SplitRegion'),
        (
            'torchgeo_bvm.samplers.reflect_index',
            'torchgeo_bvm.sheets.layout.reflect_index',
        ),
        (
            'torchgeo_bvm.samplers.mirror_sources_from_extent',
            'torchgeo_bvm.sheets.layout.mirror_sources_from_extent',
        ),
        ('torchgeo_bvm.samplers.IndexArrays', 'torchgeo_bvm.datasets.IndexArrays'),
        ('torchgeo_bvm.samplers.CachedBounds', 'torchgeo_bvm.datasets.CachedBounds'),
        (
            'torchgeo_bvm.datasets.bands.ALL_BANDS',
            'torchgeo_bvm.datasets.bands.ALL_BANDS',
        ),
        (
            'torchgeo_bvm.datasets.bands.CloudRule',
            'torchgeo_bvm.datasets.bands.CloudRule',
        ),
        (
            'torchgeo_bvm.datasets.bands.openeo_acquisition_path',
            'torchgeo_bvm.datasets.bands.openeo_acquisition_path',
        ),
        (
            'torchgeo_bvm.datasets.bvm.class_colormap',
            'torchgeo_bvm.plot.class_colormap',
        ),
        (
            'torchgeo_bvm.download.Downloader',
            'torchgeo_bvm.download.downloader.Downloader',
        ),
        (
            'torchgeo_bvm.download.resolve_bands',
            'torchgeo_bvm.datasets.bands.resolve_bands',
        ),
    ],
)
def test_old_import_paths_are_aliases(old: str, new: str) -> None:
    def load(dotted: str) -> object:
        module, _, name = dotted.rpartition('.')
        return getattr(importlib.import_module(module), name)

    assert load(old) is load(new)


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
