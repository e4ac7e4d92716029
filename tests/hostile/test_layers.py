"""Vector layers: CRS, geometries, fields and label columns that are not the BVM's.

Each variant of the mini-Flanders layer goes through ``torchgeo-bvm rasterize``
and through :class:`~torchgeo_bvm.datasets.BVMDataset`; either it is read as
the same labels, or it is refused in one line naming the file and the problem.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.hostile.hostile import assert_refused, run_cli
from torchgeo_bvm.datasets import BVMDataset
from torchgeo_bvm.errors import BVMError

RASTERIZE = ('rasterize', '--crs', 'EPSG:32631', '--res', '10', '--quiet')

REFUSED = [
    ('prj_4326/BwkHab.shp', [], ['are not degrees', 'WGS 84', "is its .prj wrong"]),
    ('prj_utm/BwkHab.shp', [], ['outside Flanders', 'UTM zone 31N']),
    ('outside/BwkHab.shp', [], ['outside Flanders', 'EPSG:31370']),
    ('points/BwkHab.shp', [], ['Point geometries', 'a layer of polygons']),
    ('lines/BwkHab.shp', [], ['LineString geometries', 'a layer of polygons']),
    ('all_empty/BwkHab.gpkg', [], ['none of its 925 geometries has an extent']),
    ('specks/BwkHab.shp', [], ['no polygon of the layer covers a pixel centre']),
    ('no_eenh1/BwkHab.shp', [], ["no field 'EENH1'", 'EENH2']),
    ('good/BwkHab.shp', ['--label-field', 'Nope'], ["no field 'Nope'"]),
    ('labels/BwkHab.shp', ['--label-field', 'LabelF'], ["'LabelF' holds decimal numbers", 'float64']),
    ('labels/BwkHab.shp', ['--label-field', 'LabelT'], ["'LabelT' is text but holds only numbers", "'1'"]),
    ('labels/BwkHab.shp', ['--label-field', 'LabelX'], ["none of the 925 values of the label field 'LabelX'", 'class numbers 0..14']),
    ('labels/BwkHab.shp', ['--label-field', 'OPPERVL'], ["'OPPERVL' holds decimal numbers"]),
    ('unknown_codes/BwkHab.shp', [], ["none of the 925 values of the label field 'EENH1'", "'xyz'"]),
    ('empty_codes/BwkHab.shp', [], ["none of the 925 values of the label field 'EENH1'"]),
    ('good/BwkHab.shp', ['--layer', 'Other'], ["no layer 'Other'"]),
    ('gpkg/BwkHab.gpkg', ['--layer', 'Other'], ["no layer 'Other'", 'BwkHab']),
    ('zipped.zip', ['--layer', 'Other'], ["no shapefile 'Other' inside", 'BwkHab.shp']),
    ('good/BwkHab.shp', ['--mapping', 'nope.csv'], ['nope.csv']),
]  # fmt: skip


@pytest.mark.parametrize(('layer', 'extra', 'words'), REFUSED)
def test_rasterize_refuses_a_layer_it_cannot_label(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    layer: str,
    extra: list[str],
    words: list[str],
) -> None:
    extra = [str(tmp_path / e) if e.endswith('.csv') else e for e in extra]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        outcome = run_cli(
            capsys, *RASTERIZE, '--bvm', hostile_data / 'layers' / layer,
            '--out', tmp_path / 'labels.tif', *extra,
        )  # fmt: skip
    assert_refused(outcome, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ('layer', 'extra', 'words'),
    [case for case in REFUSED if not case[1] or case[1][0] == '--label-field'],
)
def test_dataset_refuses_the_same_layers(
    hostile_data: Path, layer: str, extra: list[str], words: list[str]
) -> None:
    if 'no polygon of the layer covers' in words[0]:
        pytest.skip('a dataset has no grid of its own: specks are a rasterize matter')
    field = extra[1] if extra else 'EENH1'

    def open_and_load() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            BVMDataset(hostile_data / 'layers' / layer, label_field=field).load()

    with pytest.raises(BVMError) as info:
        open_and_load()
    assert '\n' not in str(info.value)
    for word in words:
        assert word in str(info.value)


def _same_labels(out: Path, reference: Path) -> np.ndarray:
    with rasterio.open(out) as got, rasterio.open(reference) as want:
        assert got.crs == want.crs
        return got.read(1), want.read(1)


@pytest.mark.parametrize(
    ('layer', 'extra', 'warning'),
    [
        ('no_prj/BwkHab.shp', [], None),
        ('null_empty/BwkHab.shp', [], 'skipped 265 empty, unrepairable or non-polygon'),
        ('bowtie/BwkHab.shp', [], 'repaired 925 invalid geometries'),
        ('labels/BwkHab.shp', ['--label-field', 'Label'], None),
    ],
)
def test_rasterize_reads_what_it_can_and_says_so(
    hostile_data: Path,
    tmp_path: Path,
    capsys,
    layer: str,
    extra: list[str],
    warning: str | None,
) -> None:
    out = tmp_path / 'labels.tif'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        outcome = run_cli(
            capsys, *RASTERIZE, '--bvm', hostile_data / 'layers' / layer, '--out', out,
            *extra,
        )  # fmt: skip
    assert outcome.code == 0, outcome.err
    messages = [str(w.message) for w in caught]
    if warning is not None:
        assert any(warning in m for m in messages), messages
    got, want = _same_labels(out, hostile_data / 'labels.tif')
    if layer.startswith('no_prj'):
        assert (got == want).all()  # a missing .prj is Lambert 72, as INBO's files
    else:
        assert got.shape[0] > 0
        assert (got != 255).any()


def test_integer_label_column_gives_its_classes(
    hostile_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / 'labels.tif'
    outcome = run_cli(
        capsys, *RASTERIZE, '--bvm', hostile_data / 'layers/labels/BwkHab.shp',
        '--label-field', 'Label', '--out', out,
    )  # fmt: skip
    assert outcome.code == 0
    with rasterio.open(out) as src:
        values = set(np.unique(src.read(1)).tolist())
    assert values <= set(range(14)) | {255}
    assert len(values) >= 10  # Label 1..14 -> class ids 0..13
