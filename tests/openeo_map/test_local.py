"""``openeo-map --backend local``: the graph's UDF, run here, against ``torchgeo predict``.

The quick demo's year model (its U-Net on the 12 monthly composites of the
season's year, tests/conftest.py: ``exported_demo_models``) maps the demo's test
sheet with openeo's own UDF runner on the chunks the graph would send; the
demo mapped the same sheet and year with ``torchgeo predict``
(``predictions-year``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray
from openeo.rest.datacube import UDF
from openeo.udf.run_code import execute_local_udf
from rio_cogeo.cogeo import cog_validate

from torchgeo_bvm.cli import main
from torchgeo_bvm.maps.files import find_class_maps
from torchgeo_bvm.maps.folder import check_map_folder, read_manifest
from torchgeo_bvm.openeo_map.graph import udf_code
from torchgeo_bvm.openeo_map.local import classify

SHEET = '22/7-8'
YEAR = '2022'


def _demo(quick_demo: tuple[Path, dict[str, str]]) -> Path:
    return quick_demo[0] / 'demo-output'


def _local_map(
    demo: Path,
    model: Path,
    out: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    year: str = YEAR,
    imagery: str = 'season/openeo',
) -> Path:
    argv = ['openeo-map', '--model', str(model), '--sheets', SHEET, '--years', year]
    argv += ['--out', str(out), '--backend', 'local']
    argv += ['--sentinel2', str(demo / 'data' / imagery)]
    argv += ['--boundary', str(demo / 'data' / 'boundary' / 'Refgew.shp'), *extra]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f'{year}: 8 files in {out / year}'
    return out / year


@pytest.mark.slow
def test_local_backend_agrees_with_torchgeo_predict(
    quick_demo: tuple[Path, dict[str, str]],
    exported_demo_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = _demo(quick_demo)
    folder = _local_map(demo, exported_demo_models / 'year', tmp_path / 'a', capsys)
    expected = demo / 'predictions-year' / YEAR
    name = SHEET.replace('/', '_')
    with (
        rasterio.open(expected / f'{name}.tif') as theirs,
        rasterio.open(folder / f'{name}.tif') as ours,
    ):
        assert (ours.crs, ours.transform, ours.shape) == (
            theirs.crs,
            theirs.transform,
            theirs.shape,
        )
        assert ours.colormap(1) == theirs.colormap(1)
        predicted, mapped = theirs.read(1), ours.read(1)
    classed = predicted != 255
    agreement = float((mapped[classed] == predicted[classed]).mean())
    with capsys.disabled():
        print(f'agreement with torchgeo predict: {agreement:.5f} of {classed.sum()} px')
    assert classed.sum() > 10_000
    assert agreement >= 0.999
    # The confidence of the pixels both classed: the same codes.
    with (
        rasterio.open(expected / f'{name}_confidence.tif') as theirs,
        rasterio.open(folder / f'{name}_confidence.tif') as ours,
    ):
        difference = np.abs(
            ours.read(1)[classed].astype(int) - theirs.read(1)[classed].astype(int)
        )
    assert np.quantile(difference, 0.999) <= 1
    for path in sorted(folder.glob('*.tif')):
        assert cog_validate(path, quiet=True)[0], path
    run = read_manifest(folder)
    assert run is not None
    assert (run.period, run.sheets) == (YEAR, (SHEET,))
    assert check_map_folder(folder) == run
    # torchgeo-bvm compare finds the map as it finds torchgeo predict's.
    (found,) = find_class_maps([folder])
    assert found.path == folder / f'{name}.tif'
    # The chunking does not change the map: the tiles are those of the sheet.
    smaller = _local_map(
        demo, exported_demo_models / 'year', tmp_path / 'b', capsys, '--chunk', '128'
    )
    for suffix in ('', '_confidence', '_count'):
        with (
            rasterio.open(folder / f'{name}{suffix}.tif') as one,
            rasterio.open(smaller / f'{name}{suffix}.tif') as other,
        ):
            np.testing.assert_array_equal(one.read(), other.read())


@pytest.mark.slow
def test_a_single_date_model_fuses_every_clear_date_as_predict_does(
    quick_demo: tuple[Path, dict[str, str]],
    exported_demo_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The demo's calibrated single-date U-Net mapped 2020 from the Terrascope
    # products: each clear date is an observation, the confidence calibrated.
    demo = _demo(quick_demo)
    model = exported_demo_models / 'single'
    mapped = _local_map(
        demo, model, tmp_path / 'maps', capsys, year='2020', imagery='TOC_V2'
    )
    name = SHEET.replace('/', '_')
    rasters = {}
    for kind, folder in (
        ('predict', demo / 'predictions' / '2020'),
        ('openeo', mapped),
    ):
        for suffix in ('', '_count', '_confidence'):
            with rasterio.open(folder / f'{name}{suffix}.tif') as src:
                rasters[kind, suffix] = src.read(1)
    classed = rasters['predict', ''] != 255
    assert classed.sum() > 10_000
    assert (
        rasters['openeo', ''][classed] == rasters['predict', ''][classed]
    ).mean() >= 0.999
    np.testing.assert_array_equal(
        rasters['openeo', '_count'][classed], rasters['predict', '_count'][classed]
    )
    assert rasters['predict', '_count'][classed].max() > 1
    confidence = [
        rasters[kind, '_confidence'][classed].astype(int)
        for kind in ('openeo', 'predict')
    ]
    # Through the calibration table a probability one code apart may land on
    # another step of the table: almost every pixel has the same code.
    assert (confidence[0] == confidence[1]).mean() >= 0.99


def _chunk(bands: list[str], months: list[int], size: int) -> xarray.DataArray:
    rng = np.random.default_rng(0)
    values = rng.uniform(200, 3000, (len(months), len(bands), size, size))
    values[:, :, :5, :7] = np.nan
    return xarray.DataArray(
        values.astype(np.float32),
        dims=('t', 'bands', 'y', 'x'),
        coords={
            't': [np.datetime64(f'2022-{m:02d}-01', 'ns') for m in months],
            'bands': bands,
            'y': 5_000_000 - 10 * (np.arange(size) + 0.5),
            'x': 600_000 + 10 * (np.arange(size) + 0.5),
        },
    )


def test_the_udf_places_months_by_their_date(exported_demo_models: Path) -> None:
    import json

    model = exported_demo_models / 'year'
    card = json.loads((model / 'model.json').read_text())
    bands = card['bands']
    lattice = {'left': 600_000.0, 'top': 5_000_000.0, 'xres': 10.0, 'yres': 10.0}
    context = {'model': str(model), 'lattice': {**lattice, 'columns': 2, 'rows': 2}}
    udf = UDF(udf_code(), runtime='Python', context=context)
    months = list(range(1, 13))
    cube = _chunk(bands, months, 112)
    result = execute_local_udf(udf, cube).get_datacube_list()[0].get_array()
    assert list(result.dims) == ['t', 'bands', 'y', 'x']
    assert [str(b) for b in result['bands'].values] == [
        *(f'probability_{k}' for k in range(len(card['classes']))),
        'clear',
    ]
    assert result.shape == (1, len(card['classes']) + 1, 112, 112)
    assert result['t'].values[0] == cube['t'].values[0]
    clear = result.sel(bands='clear').values[0]
    assert clear[0, 0] == 0
    assert clear[50, 50] == 12
    probabilities = result.values[0, :-1]
    # No tile saw the NaN corner: no probability there; elsewhere they sum to 1.
    assert np.isnan(probabilities[:, 0, 0]).all()
    np.testing.assert_allclose(probabilities[:, 50, 50].sum(), 1, atol=1e-5)
    # The same months in another order and with the bands shuffled: the same map.
    order = [11, 0, 5, 3, 2, 1, 4, 6, 7, 8, 9, 10]
    shuffled = cube.isel(t=order, bands=list(range(len(bands)))[::-1])
    again = execute_local_udf(udf, shuffled).get_datacube_list()[0].get_array()
    again = again.assign_coords(t=result['t'].values)
    np.testing.assert_allclose(again.values, result.values, rtol=0, atol=1e-6)
    # A month missing altogether is a step of fill values, as in training.
    fewer = cube.isel(t=list(range(11)))
    partial = execute_local_udf(udf, fewer).get_datacube_list()[0].get_array()
    assert partial.sel(bands='clear').values[0, 50, 50] == 11
    labels, confidence, counts = classify(probabilities, clear)
    assert labels[50, 50] == probabilities[:, 50, 50].argmax()
    assert confidence[50, 50] == probabilities[:, 50, 50].max()
    assert np.isnan(labels[0, 0])
    assert counts[50, 50] == 12


def test_the_udf_names_a_missing_band(exported_demo_models: Path) -> None:
    import json

    model = exported_demo_models / 'year'
    bands = json.loads((model / 'model.json').read_text())['bands']
    lattice = {'left': 600_000.0, 'top': 5_000_000.0, 'xres': 10.0, 'yres': 10.0}
    context = {'model': str(model), 'lattice': {**lattice, 'columns': 1, 'rows': 1}}
    udf = UDF(udf_code(), runtime='Python', context=context)
    cube = _chunk(bands, [1, 2], 64).drop_sel(bands=['B05'])
    with pytest.raises(ValueError, match=r'^the cube has no band B05 of the model'):
        execute_local_udf(udf, cube)


def test_the_udf_weighs_tiles_as_the_fusion_does() -> None:
    # The UDF travels without the package, so it keeps its own copy of the
    # taper: the two must stay the same.
    from torchgeo_bvm.maps.fusion import edge_taper
    from torchgeo_bvm.openeo_map import udf

    for size in (64, 96, 256):
        np.testing.assert_array_equal(udf.edge_taper(size), edge_taper(size))
