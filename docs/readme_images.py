"""Make the README's pictures (``docs/_static/readme/*.png``) with the package's code.

Run it after ``make demo``::

    .venv/bin/python docs/readme_images.py --demo demo-output

* ``split_map.png``: the paper's split of the 172 ``kbl4`` sheets
  (:func:`torchgeo_bvm.plot.plot_grid`);
* ``overview.png``: the demo's mini-Flanders, as ``torchgeo-bvm synth`` drew it
  (``<demo>/data/overview.png``);
* ``prediction.png``: the demo's fused map of its test sheet (2020), as
  ``torchgeo predict`` drew it (``<demo>/predictions/2020/22_7-8.png``).
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

#: Where the README finds its pictures.
README_IMAGES = Path(__file__).parent / '_static' / 'readme'


def make_readme_images(demo: Path, out: Path = README_IMAGES) -> list[Path]:
    """Draw the split map and copy the demo's overview and predicted map.

    Args:
        demo: the output folder of ``make demo``.
        out: where the pictures go.

    Returns:
        The pictures written.
    """
    from torchgeo_bvm.plot import plot_grid
    from torchgeo_bvm.sheets.official import grid
    from torchgeo_bvm.sheets.scheme import SplitScheme

    out.mkdir(parents=True, exist_ok=True)
    split_map = out / 'split_map.png'
    plot_grid(grid('kbl4', scheme=SplitScheme()), split_map)
    copies = {
        'overview.png': demo / 'data' / 'overview.png',
        'prediction.png': demo / 'predictions' / '2020' / '22_7-8.png',
    }
    for name, source in copies.items():
        shutil.copyfile(source, out / name)
    return [split_map, *(out / name for name in copies)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demo', type=Path, default=Path('demo-output'))
    parser.add_argument('--out', type=Path, default=README_IMAGES)
    args = parser.parse_args(argv)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    for path in make_readme_images(args.demo, args.out):
        print(path)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
