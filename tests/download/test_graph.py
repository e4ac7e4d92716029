"""The openEO process graphs, built without a backend."""

import json
from pathlib import Path

import pytest
from shapely.geometry import box

from torchgeo_bvm.download.graph import (
    DownloadOptions,
    build_process_graph,
    sheet_extent,
)
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.spatial.crs import resolution_for

DATA = Path(__file__).parents[1] / 'data' / 'openeo'
SHEET = Sheet.parse('22/1-2')
APRIL_MAY = ['2022-04-01', '2022-06-01']


# -- process graphs -----------------------------------------------------------


def test_default_graph_matches_expected_json() -> None:
    graph = build_process_graph(SHEET, APRIL_MAY, DownloadOptions())
    expected = json.loads((DATA / 'graph_22_1-2_2022-04_2022-05.json').read_text())
    assert graph == expected


def test_composite_graph_matches_expected_json() -> None:
    options = DownloadOptions(composite='monthly', max_cloud_cover=80)
    graph = build_process_graph(SHEET, APRIL_MAY, options)
    expected = json.loads(
        (DATA / 'graph_22_1-2_2022-04_2022-05_monthly_cc80.json').read_text()
    )
    assert graph == expected


def test_graph_band_order_and_resolution() -> None:
    graph = build_process_graph(SHEET, APRIL_MAY, DownloadOptions(bands='rgnir'))
    nodes = graph['process_graph']
    assert nodes['loadcollection1']['arguments']['bands'] == [
        'B03',
        'B04',
        'B08',
        'SCL',
    ]
    resample = nodes['resamplespatial1']['arguments']
    assert resample['projection'] == 4326
    assert resample['method'] == 'near'
    assert tuple(resample['resolution']) == resolution_for('EPSG:4326')


def test_graph_native_and_utm_crs() -> None:
    native = build_process_graph(SHEET, APRIL_MAY, DownloadOptions(crs=None))
    assert 'resample_spatial' not in {
        n['process_id'] for n in native['process_graph'].values()
    }
    utm = build_process_graph(SHEET, APRIL_MAY, DownloadOptions(crs='EPSG:32631'))
    resample = utm['process_graph']['resamplespatial1']['arguments']
    assert (resample['projection'], resample['resolution']) == (32631, 10.0)


def test_graph_dilation_mask() -> None:
    options = DownloadOptions(composite='monthly', cloud_mask='dilation')
    nodes = build_process_graph(SHEET, APRIL_MAY, options)['process_graph']
    dilation = next(
        n for n in nodes.values() if n['process_id'] == 'to_scl_dilation_mask'
    )
    source = nodes[dilation['arguments']['data']['from_node']]
    assert source['process_id'] == 'filter_bands'
    assert source['arguments']['bands'] == ['SCL']


def test_sheet_extent_covers_the_sheet_tightly() -> None:
    extent = sheet_extent(SHEET)
    bbox = box(extent['west'], extent['south'], extent['east'], extent['north'])
    sheet = SHEET.geometry('EPSG:4326', densify=100)
    assert bbox.contains(sheet)
    west, south, east, north = sheet.bounds
    assert 0 <= west - extent['west'] < 1e-7
    assert 0 <= south - extent['south'] < 1e-7
    assert 0 <= extent['east'] - east < 1e-7
    assert 0 <= extent['north'] - north < 1e-7
    assert extent['crs'] == 4326  # an integer EPSG code, as the schema asks


def test_options_errors() -> None:
    with pytest.raises(ValueError, match=r'0\.\.100'):
        DownloadOptions(max_cloud_cover=120)
    with pytest.raises(ValueError, match="unknown composite 'weekly'"):
        DownloadOptions(composite='weekly')  # type: ignore[arg-type]
