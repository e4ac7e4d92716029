"""The process graphs of ``torchgeo-bvm openeo-map``: the official specs, the UDF.

Dry runs write the graphs without connecting (the backend named is a port
where nothing listens); every graph passes the openeo-processes definitions
(:func:`tests.openeo_backend.spec_problems`) and maps with
``apply_neighborhood`` + ``run_udf``, its overlap smaller than its chunk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openeo.udf.run_code import extract_udf_dependencies

from tests.openeo_backend import spec_problems
from torchgeo_bvm.cli import main
from torchgeo_bvm.export.card import ModelCard
from torchgeo_bvm.openeo_map.graph import (
    MAP_BANDS,
    Lattice,
    MapSettings,
    build_map_graph,
    graph_processes,
    udf_code,
)
from torchgeo_bvm.sheets.layout import SheetLayout
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.spatial.pixelgrid import Grid

NOWHERE = 'http://127.0.0.1:9'


def _nodes(graph: dict, process_id: str) -> list[dict]:
    return [
        node['arguments']
        for node in graph['process_graph'].values()
        if node['process_id'] == process_id
    ]


@pytest.mark.slow
def test_dry_run_writes_graphs_that_pass_the_specs(
    exported_demo_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = exported_demo_models / 'year'
    out = tmp_path / 'maps'
    argv = ['openeo-map', '--model', str(model), '--sheets', '22/7-8,22/5-6']
    argv += ['--years', '2022,2021', '--out', str(out), '--backend', NOWHERE]
    assert main([*argv, '--dry-run']) == 0
    printed = capsys.readouterr().out.splitlines()
    names = ['22_5-6_2021', '22_7-8_2021', '22_5-6_2022', '22_7-8_2022']
    assert printed[0] == f'4 process graphs and jobs.csv in {out} (dry run)'
    assert sorted(printed[1:]) == sorted(f'  {out}/graphs/{n}.json' for n in names)
    rows = pd.read_csv(out / 'jobs.csv')
    assert list(rows['graph']) == [f'graphs/{n}.json' for n in names]
    assert list(rows['status']) == ['not_started'] * 4
    assert list(rows['attempts']) == [0] * 4
    card = ModelCard.read(model / 'model.json')
    layout = SheetLayout(SplitScheme(), 'EPSG:32631')
    grid = Grid.lattice(0.0, 0.0, 10.0, 10.0, layout.crs)
    for name in names:
        graph = json.loads((out / 'graphs' / f'{name}.json').read_text())
        assert spec_problems(graph) == []
        assert graph_processes(graph) == [
            'load_collection', 'filter_bands', 'reduce_dimension', 'array_element',
            'eq', 'or', 'not', 'mask', 'aggregate_temporal_period', 'median',
            'resample_spatial', 'apply_neighborhood', 'run_udf', 'first',
            'apply_dimension', 'array_create', 'max', 'array_find', 'rename_labels',
            'save_result',
        ]  # fmt: skip
        (load,) = _nodes(graph, 'load_collection')
        assert load['bands'] == [*card.bands, 'SCL']
        year = name[-4:]
        assert load['temporal_extent'] == [f'{year}-01-01', f'{int(year) + 1}-01-01']
        (neighbourhood,) = _nodes(graph, 'apply_neighborhood')
        assert neighbourhood['size'] == [
            {'dimension': 'x', 'value': 256, 'unit': 'px'},
            {'dimension': 'y', 'value': 256, 'unit': 'px'},
        ]
        overlap = neighbourhood['overlap']
        assert [o['value'] for o in overlap] == [card.patch_size] * 2
        assert all(o['value'] < 256 for o in overlap)
        (udf,) = neighbourhood['process']['process_graph'].values()
        assert udf['process_id'] == 'run_udf'
        arguments = udf['arguments']
        assert arguments['udf'] == udf_code()
        assert arguments['runtime'] == 'Python'
        # The backend's copy of the model: --model-url unpacks it there.
        assert arguments['context']['model'] == 'model'
        # The lattice: the tiles of the sheet's pixel box, and the extent.
        code = name[:-5].replace('_', '/')
        index = [s.code for s in layout.sheets].index(code)
        box = layout.pixel_box(index, grid)
        lattice = Lattice.of_box(grid, box, card.patch_size, card.stride)
        assert arguments['context']['lattice'] == lattice.context()
        west, south, east, north = lattice.grid.bounds
        assert load['spatial_extent'] == {
            'west': west, 'south': south, 'east': east, 'north': north, 'crs': 32631
        }  # fmt: skip
        assert west <= box[0] * 10
        assert north >= -box[1] * 10
        (rename,) = _nodes(graph, 'rename_labels')
        assert rename['target'] == list(MAP_BANDS)
        (save,) = _nodes(graph, 'save_result')
        assert save['format'] == 'GTiff'


def test_the_udf_declares_its_dependencies() -> None:
    assert extract_udf_dependencies(udf_code()) == ['numpy', 'xarray', 'onnxruntime']
    # It travels alone: nothing of the package is imported.
    assert 'torchgeo_bvm' not in ''.join(
        line for line in udf_code().splitlines() if line.startswith(('import', 'from'))
    )


def test_a_broken_graph_fails_the_spec_check(exported_demo_models: Path) -> None:
    card = ModelCard.read(exported_demo_models / 'year' / 'model.json')
    grid = Grid.lattice(0.0, 0.0, 10.0, 10.0, 'EPSG:32631')
    lattice = Lattice.of_box(grid, (0, 0, 100, 80), card.patch_size, card.stride)
    graph = build_map_graph(card, lattice, 2022, MapSettings())
    nodes = graph['process_graph']
    nodes['applyneighborhood1']['arguments']['overlap'][0]['unit'] = 'km'
    del nodes['saveresult1']['arguments']['format']
    assert spec_problems(graph) == [
        "applyneighborhood1: apply_neighborhood.overlap: 'km' is not one of "
        "['px', 'm']",
        'saveresult1: save_result needs format',
    ]


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(['openeo-map', *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_refusals_in_one_line(
    exported_demo_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = exported_demo_models / 'year'
    base = ['--model', str(model), '--sheets', '22/7-8', '--years', '2022']
    out = tmp_path / 'maps'
    prefix = 'torchgeo-bvm openeo-map: error: '
    assert _refusal(
        [*base, '--out', str(out), '--chunk', '64', '--dry-run'], capsys
    ) == (
        prefix + '--chunk 64: openEO needs the overlap (64 px, the patch size) '
        'smaller than the chunk; use --chunk 128 or more'
    )
    assert _refusal([*base, '--out', str(out), '--backend', 'local'], capsys) == (
        prefix + '--backend local needs --sentinel2, the local imagery'
    )
    imagery = tmp_path / 'imagery'
    imagery.mkdir()
    inside = imagery / 'maps'
    local = ['--backend', 'local', '--sentinel2', str(imagery)]
    assert _refusal([*base, '--out', str(inside), *local], capsys) == (
        prefix + f'--out {inside} lies inside the folder {imagery} that --sentinel2 '
        'reads: the outputs would be read as its data; choose another folder'
    )
    assert main(['openeo-map', *base, '--out', str(out), '--dry-run']) == 0
    capsys.readouterr()
    other = ['--model', str(model), '--sheets', '22/5-6', '--years', '2022']
    assert _refusal([*other, '--out', str(out), '--dry-run'], capsys) == (
        prefix + f'{out / "jobs.csv"} lists the jobs of another run; use another '
        '--out, or --overwrite to start this one afresh'
    )
    assert (
        main(['openeo-map', *other, '--out', str(out), '--dry-run', '--overwrite']) == 0
    )
    assert list(pd.read_csv(out / 'jobs.csv')['sheet']) == ['22/5-6']
    assert _refusal(
        [*base, '--out', str(out), '--years', '2014', '--dry-run'], capsys
    ).startswith(prefix + 'years')
    assert _refusal(
        [
            '--model',
            str(tmp_path),
            '--sheets',
            '22',
            '--years',
            '2022',
            '--out',
            str(out),
        ],
        capsys,
    ) == (
        prefix + f'--model: {tmp_path} has no model.json; export the model with '
        'torchgeo-bvm export'
    )
