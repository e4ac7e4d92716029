"""Sphinx configuration for torchgeo-bvm."""

from pathlib import Path

import torchgeo_bvm

project = 'torchgeo-bvm'
author = 'torchgeo-bvm developers'
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
html_theme = 'alabaster'
html_static_path = ['_static']
exclude_patterns = ['_build']

GENERATED = Path(__file__).parent / '_static' / 'generated'


def _split_map() -> None:
    """Draw the paper's split over all 43 sheets for the split-scheme page."""
    from torchgeo_bvm.kaartblad import SplitScheme, grid, plot_grid

    target = GENERATED / 'split_map.png'
    if not target.exists():
        plot_grid(grid('kbl4', scheme=SplitScheme()), target)


def setup(app: object) -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    _split_map()
