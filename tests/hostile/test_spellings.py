"""Inputs overwritten through another spelling: a folder that resolves to the file.

``--bvm FOLDER`` reads the one vector file in the folder. When an output would
be that very file (``compare`` run on the output of an earlier ``compare``, a
``rasterize`` output named like the layer), the command refuses, however the
folder or the file is spelled, with ``--overwrite`` too, and the layer stays
byte for byte as it was.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

from tests.hostile.hostile import assert_refused, assert_untouched, run_cli, snapshot

COMPARE = ('compare', '--no-confidence', '--quiet', '--overwrite')


def _folder(folder: Path, spelling: str) -> Path:
    """``folder`` spelled another way."""
    if spelling == 'plain':
        return folder
    if spelling == 'trailing_dot':
        return folder / '.'
    if spelling == 'dotdot':
        return folder / 'sub' / '..'
    if spelling == 'link':
        link = folder.parent / 'link'
        if not link.is_symlink():
            link.symlink_to(folder, target_is_directory=True)
        return link
    if spelling == 'relative':
        return Path(os.path.relpath(folder))
    raise ValueError(spelling)


SPELLINGS = ['plain', 'trailing_dot', 'dotdot', 'link', 'relative']


@pytest.mark.parametrize(
    ('spelling', 'out_spelling'),
    [(s, 'plain') for s in SPELLINGS] + [('link', 'link'), ('plain', 'link')],
)
def test_compare_on_its_own_output_folder(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str, out_spelling: str
) -> None:
    # An earlier comparison's GeoPackage is a BVM layer (TAG, UIDN, EENH1).
    folder = tmp_path / 'compared'
    folder.mkdir()
    (folder / 'sub').mkdir()
    shutil.copy(hostile_data / 'layers/gpkg/BwkHab.gpkg', folder / 'disagreement.gpkg')
    before = snapshot(folder)
    bvm, out = _folder(folder, spelling), _folder(folder, out_spelling)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        outcome = run_cli(
            capsys, *COMPARE, '--bvm', bvm, '--maps', hostile_data / 'labels.tif',
            '--out', out,
        )  # fmt: skip
    assert_refused(outcome, 'would write over the input', 'disagreement.gpkg')
    assert_untouched(before, folder)


@pytest.mark.parametrize('spelling', SPELLINGS)
def test_rasterize_named_like_its_layer(
    hostile_data: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    # A GeoPackage layer and a GeoTIFF of the same name.
    folder = tmp_path / 'bvm'
    folder.mkdir()
    (folder / 'sub').mkdir()
    shutil.copy(hostile_data / 'layers/gpkg/BwkHab.gpkg', folder / 'labels.gpkg')
    before = snapshot(folder)
    out = _folder(folder, spelling) / 'labels.gpkg'
    outcome = run_cli(
        capsys, 'rasterize', '--quiet', '--crs', 'EPSG:32631', '--res', '10',
        '--bvm', _folder(folder, spelling), '--out', out, '--overwrite',
    )  # fmt: skip
    assert_refused(outcome, 'would write over the input', 'labels.gpkg')
    assert_untouched(before, folder)
