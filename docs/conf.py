"""Sphinx configuration for torchgeo-bvm."""

import os
from pathlib import Path

import torchgeo_bvm

# The library never chooses a matplotlib backend; the docs draw into files.
os.environ.setdefault('MPLBACKEND', 'Agg')

project = 'torchgeo-bvm'
author = 'torchgeo-bvm developers'
copyright = 'torchgeo-bvm developers'
release = version = torchgeo_bvm.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
autodoc_typehints = 'description'
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'show-inheritance': True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
# Members inherited from TorchGeo keep its docstrings, which refer to terms of
# TorchGeo's own glossary.
suppress_warnings = ['ref.term']
html_theme = 'alabaster'
# Wide enough for the commands; longer lines scroll inside their block
# (_static/custom.css) instead of being cut.
html_theme_options = {
    'page_width': '1240px',
    'sidebar_width': '230px',
    'body_max_width': 'none',
}
html_static_path = ['_static']
exclude_patterns = ['_build']

GENERATED = Path(__file__).parent / '_static' / 'generated'


def _split_map() -> None:
    """Draw the paper's split over all 43 sheets for the split-scheme page."""
    from torchgeo_bvm.plot import plot_grid
    from torchgeo_bvm.sheets.official import grid
    from torchgeo_bvm.sheets.scheme import SplitScheme

    target = GENERATED / 'split_map.png'
    if not target.exists():
        plot_grid(grid('kbl4', scheme=SplitScheme()), target)


def _class_table() -> None:
    """An RST table of the 14 classes with a colour swatch each."""
    from torchgeo_bvm.classes import CLASSES

    lines = [
        '.. list-table::',
        '   :header-rows: 1',
        '',
        '   * - id',
        '     - class',
        '     - colour',
    ]
    for cls in CLASSES:
        swatch = (
            f'<span style="display:inline-block;width:3em;height:1em;'
            f'background:{cls.colour};border:1px solid #444"></span> {cls.colour}'
        )
        lines += [
            f'   * - {cls.id}',
            f'     - {cls.name}',
            '     - .. raw:: html',
            '',
            f'          {swatch}',
            '',
        ]
    (GENERATED / 'classes.rst').write_text('\n'.join(lines) + '\n')


def setup(app: object) -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    _split_map()
    _class_table()
