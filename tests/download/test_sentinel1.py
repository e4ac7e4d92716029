"""Sentinel-1 downloads: the graphs against the official processes, and the real
openeo client against the local backend."""

from __future__ import annotations

import inspect
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import openeo.processes
import pandas as pd
import pytest
import rasterio
from openeo.rest.datacube import DataCube
from pyproj import CRS

from tests.openeo_backend import (
    LocalOpenEO,
    parse_graph,
    radar_dates,
    radar_value,
)
from torchgeo_bvm.datasets import Sentinel1Sigma0
from torchgeo_bvm.datasets.radar import (
    openeo_s1_acquisition_path,
    openeo_s1_composite_path,
)
from torchgeo_bvm.download import (
    MANIFEST_NAME,
    S1_MANIFEST_NAME,
    Downloader,
    DownloadOptions,
    DownloadTask,
    Sentinel1Options,
    build_process_graph,
    build_s1_process_graph,
    sheet_extent,
)
from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.crs import resolution_for

SHEET = Sheet.parse('22/1-2')
APRIL_MAY = ['2022-04-01', '2022-06-01']


def nodes_of(process: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = process['process_graph']
    return nodes


def by_process(process: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n['process_id']: n['arguments'] for n in nodes_of(process).values()}


def child_graphs(value: Any) -> list[dict[str, Any]]:
    """The child process graphs in an argument (reducers, property filters)."""
    if isinstance(value, dict):
        if 'process_graph' in value:
            return [value]
        return [g for v in value.values() for g in child_graphs(v)]
    if isinstance(value, list):
        return [g for v in value for g in child_graphs(v)]
    return []


def assert_official(process: dict[str, Any]) -> int:
    """Every node is a process of the official specification (as the openeo
    client generates ``openeo.processes`` from it) and its arguments bind to
    that process's parameters; returns how many nodes were checked."""
    checked = 0
    for node in nodes_of(process).values():
        # Python keywords get a trailing underscore (``or_``, ``not_``).
        name = node['process_id']
        function = getattr(openeo.processes, name, None) or getattr(
            openeo.processes, f'{name}_', None
        )
        assert callable(function), f'{node["process_id"]} is no official process'
        inspect.signature(function).bind(**node['arguments'])
        checked += 1
        for child in child_graphs(node['arguments']):
            checked += assert_official(child)
    return checked


# -- process graphs ---------------------------------------------------------


def test_the_graph_of_monthly_means() -> None:
    options = Sentinel1Options(composite='monthly', orbits=('descending',))
    graph = build_s1_process_graph(SHEET, APRIL_MAY, 'descending', options)
    nodes = by_process(graph)
    assert list(nodes) == [
        'load_collection',
        'sar_backscatter',
        'aggregate_temporal_period',
        'resample_spatial',
        'save_result',
    ]
    load = nodes['load_collection']
    assert load['id'] == 'SENTINEL1_GRD'
    assert load['bands'] == ['VV', 'VH']
    assert load['spatial_extent'] == sheet_extent(SHEET)
    assert load['temporal_extent'] == APRIL_MAY
    properties = {
        name: next(iter(value['process_graph'].values()))
        for name, value in load['properties'].items()
    }
    assert properties['sat:orbit_state']['process_id'] == 'eq'
    assert properties['sat:orbit_state']['arguments']['y'] == 'DESCENDING'
    assert properties['polarisation']['arguments']['y'] == 'VV&VH'
    assert nodes['sar_backscatter']['coefficient'] == 'sigma0-ellipsoid'
    period = nodes['aggregate_temporal_period']
    assert period['period'] == 'month'
    (reducer,) = period['reducer']['process_graph'].values()
    assert reducer['process_id'] == 'mean'
    resample = nodes['resample_spatial']
    assert (resample['projection'], resample['method']) == (4326, 'bilinear')
    assert tuple(resample['resolution']) == resolution_for('EPSG:4326')
    assert nodes['save_result']['format'] == 'GTiff'
    # The local backend (which checks sar_backscatter against the official
    # process) understands it.
    request = parse_graph(graph)
    assert (request.orbit, request.composite) == ('DESCENDING', True)


def test_sar_backscatter_is_what_the_client_sends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    graph = build_s1_process_graph(
        SHEET, APRIL_MAY, 'ascending', Sentinel1Options(crs=None)
    )
    nodes = by_process(graph)
    assert 'resample_spatial' not in nodes
    assert 'aggregate_temporal_period' not in nodes
    cube = DataCube.load_collection('SENTINEL1_GRD', bands=['VV', 'VH'])
    # Without a connection the client warns that it cannot ask for the
    # coefficients, then sends the same arguments.
    with caplog.at_level(logging.CRITICAL, logger='openeo'):
        client = cube.sar_backscatter(coefficient='sigma0-ellipsoid')
    expected = by_process({'process_graph': client.flat_graph()})['sar_backscatter']
    assert nodes['sar_backscatter'] == expected


def test_graphs_follow_the_official_processes() -> None:
    for composite in (None, 'monthly'):
        for crs in ('EPSG:4326', 'EPSG:32631', None):
            options = Sentinel1Options(composite=composite, crs=crs)  # type: ignore[arg-type]
            graph = build_s1_process_graph(SHEET, APRIL_MAY, 'ascending', options)
            # load, its two property filters, sar_backscatter, save_result; the
            # monthly mean and its reducer; the resampling.
            expected = 5 + 2 * (composite is not None) + (crs is not None)
            assert assert_official(graph) == expected
            optical = DownloadOptions(composite=composite, crs=crs)  # type: ignore[arg-type]
            assert assert_official(build_process_graph(SHEET, APRIL_MAY, optical)) >= 2
    # The check catches an argument the process does not have.
    graph = build_s1_process_graph(SHEET, APRIL_MAY, 'ascending', Sentinel1Options())
    node = next(
        n for n in nodes_of(graph).values() if n['process_id'] == 'sar_backscatter'
    )
    node['arguments']['speckle_filter'] = True
    with pytest.raises(TypeError, match='speckle_filter'):
        assert_official(graph)


def test_options_and_tasks() -> None:
    options = Sentinel1Options(bands=('vh',), orbits=('both',), composite='monthly')
    assert options.bands == ('VH',)
    assert options.orbits == ('ascending', 'descending')
    assert options.settings() == {
        'collection': 'SENTINEL1_GRD',
        'coefficient': 'sigma0-ellipsoid',
        'bands': ['VH'],
        'composite': 'monthly',
        'crs': 'EPSG:4326',
    }
    tasks = options.expand([DownloadTask(SHEET, date(2022, 4, 1), date(2022, 6, 1))])
    assert [t.key for t in tasks] == [
        '22_1-2 2022-04-01/2022-06-01 ascending',
        '22_1-2 2022-04-01/2022-06-01 descending',
    ]
    assert options.output_path('/s1', tasks[1], date(2022, 5, 3)) == (
        openeo_s1_composite_path('/s1', SHEET, 'descending', '2022-05')
    )
    with pytest.raises(BVMValueError, match=r"download bands \['VV', 'angle'\]"):
        Sentinel1Options(bands=('VV', 'angle'))
    with pytest.raises(BVMValueError, match=r"^unknown orbit 'west'"):
        Sentinel1Options(orbits=('west',))  # type: ignore[arg-type]
    with pytest.raises(BVMValueError, match="unknown composite 'weekly'"):
        Sentinel1Options(composite='weekly')  # type: ignore[arg-type]
    with pytest.raises(BVMValueError, match='names no orbit direction'):
        options.graph(DownloadTask(SHEET, date(2022, 4, 1), date(2022, 6, 1)))


# -- against the local backend ---------------------------------------------


def make(out: Path, server: LocalOpenEO, options: Sentinel1Options, **kw: Any):
    return Downloader(
        out,
        options,
        backend=server.url,
        auth=False,
        poll_interval=0.001,
        max_poll_interval=0.01,
        backoff=0.0,
        progress=False,
        **kw,
    )


def test_acquisitions_of_both_orbits_end_to_end(tmp_path: Path) -> None:
    options = Sentinel1Options(orbits=('ascending', 'descending'), crs=None)
    with LocalOpenEO() as server:
        downloader = make(tmp_path, server, options)
        tasks = downloader.plan(['22/1-2'], [2022], [4])
        files = downloader.run(tasks)
        received = list(server.graphs)
        before = list(server.requests)
        # A second run finds everything done and asks the backend nothing.
        assert downloader.run(tasks) == files
        assert server.requests == before
    assert len(received) == 2
    april = (date(2022, 4, 1), date(2022, 5, 1))
    expected = [
        openeo_s1_acquisition_path(tmp_path, SHEET, orbit, day)
        for orbit in ('ascending', 'descending')
        for day in radar_dates(*april, orbit.upper())
    ]
    assert files == expected
    for path in files:
        with rasterio.open(path) as src:
            assert src.descriptions == ('VV', 'VH')
            assert src.dtypes == ('float32', 'float32')
            assert CRS.from_user_input(src.crs) == CRS.from_epsg(32631)
    manifest = json.loads((tmp_path / S1_MANIFEST_NAME).read_text())
    assert sorted(r['orbit'] for r in manifest['tasks'].values()) == [
        'ascending',
        'descending',
    ]
    # The dataset reads what was downloaded, each direction as asked.
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', orbit='descending')
    first = radar_dates(*april, 'DESCENDING')[0]
    assert ds.index['period'].iloc[0] == first.isoformat()
    bounds = ds.index.geometry.iloc[0].bounds
    day = pd.Timestamp(first)
    sample = ds[
        bounds[0] : bounds[2],
        bounds[1] : bounds[3],
        day : day + pd.Timedelta(hours=23),
    ]
    rows, cols = np.mgrid[0:8, 0:12]
    vv = radar_value('VV', first, rows, cols)
    valid = sample['valid'].numpy()
    assert not valid[0, 0]
    assert valid.sum() == 8 * 12 - 1
    np.testing.assert_allclose(sample['image'][0].numpy()[valid], vv[valid], rtol=1e-6)


def test_monthly_means_synchronously_beside_sentinel2(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        optical = Downloader(
            tmp_path,
            DownloadOptions(bands='rgb', composite='monthly', crs=None),
            backend=server.url,
            auth=False,
            sync=True,
            progress=False,
        )
        optical.run(optical.plan(['22/1-2'], [2022], [4]))
        radar = make(
            tmp_path, server, Sentinel1Options(composite='monthly', crs=None), sync=True
        )
        files = radar.run(radar.plan(['22/1-2'], [2022], [4, 5]))
    assert [p.name for p in files] == [
        '22_1-2_openEO_S1-ASCENDING_2022-04_mean.tif',
        '22_1-2_openEO_S1-ASCENDING_2022-05_mean.tif',
    ]
    # Each sensor keeps its own manifest in the shared folder.
    assert (tmp_path / MANIFEST_NAME).is_file()
    assert (tmp_path / S1_MANIFEST_NAME).is_file()
    ds = Sentinel1Sigma0(tmp_path, cache_dir=tmp_path / 'cache', time_series=True)
    assert list(ds.index['layout']) == ['composite', 'composite']


def test_years_before_sentinel1(tmp_path: Path) -> None:
    downloader = Downloader(tmp_path, Sentinel1Options(), progress=False)
    with pytest.raises(
        BVMValueError, match=r'years must lie in 2014\.\.2100 \(Sentinel-1 era\)'
    ):
        downloader.plan(['22/1-2'], [2013])
    assert len(downloader.plan(['22/1-2'], [2014], [10])) == 1
