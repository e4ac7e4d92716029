"""The openEO downloader, run by the real openeo client against a local backend."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from openeo.rest import OpenEoApiError
from pyproj import CRS

from tests.openeo_backend import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    NODATA,
    Faults,
    LocalOpenEO,
    acquisition_dates,
    cloud_cover,
    parse_graph,
    render_tiff,
)
from torchgeo_bvm.download import (
    MANIFEST_NAME,
    Downloader,
    DownloadError,
    DownloadOptions,
    JobFailedError,
    build_process_graph,
    output_path,
    sheet_extent,
)
from torchgeo_bvm.download.files import check_length, label_bands
from torchgeo_bvm.sheets.codes import Sheet

SHEET = Sheet.parse('22/1-2')
APRIL_MAY = ['2022-04-01', '2022-06-01']


def make(out: Path, server: LocalOpenEO, options: DownloadOptions | None = None, **kw):
    kw.setdefault('auth', False)
    return Downloader(
        out,
        options or DownloadOptions(bands='rgb'),
        backend=server.url,
        poll_interval=0.001,
        max_poll_interval=0.01,
        backoff=0.0,
        progress=False,
        **kw,
    )


def run(downloader: Downloader, sheets=('22/1-2',), months=(4, 5)) -> list[Path]:
    return downloader.run(downloader.plan(sheets, [2022], months))


def expected_days(start: str = '2022-04-01', end: str = '2022-06-01') -> list[date]:
    return acquisition_dates(date.fromisoformat(start), date.fromisoformat(end))


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob('*') if '.tmp-' in p.name or p.suffix == '.xml']


def test_sync_needs_a_composite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='synchronous requests need a composite'):
        Downloader(tmp_path, DownloadOptions(), sync=True)


# -- end to end -------------------------------------------------------------------


def test_batch_download_end_to_end(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server))
        received = server.graphs
    days = expected_days()
    assert files == [output_path(tmp_path, SHEET, d, False) for d in days]
    assert len(received) == 1
    request = parse_graph(received[0])
    assert received[0] == build_process_graph(
        SHEET, APRIL_MAY, DownloadOptions(bands='rgb')
    )
    extent = sheet_extent(SHEET)
    for path, day in zip(files, days, strict=True):
        with rasterio.open(path) as src:
            assert src.descriptions == ('B02', 'B03', 'B04', 'SCL')
            assert src.dtypes == ('int16',) * 4
            assert CRS.from_user_input(src.crs) == CRS.from_epsg(4326)
            assert src.nodata == NODATA
            assert src.bounds.left == pytest.approx(extent['west'])
            assert src.bounds.top == pytest.approx(extent['north'])
            expected = render_tiff(request, day, 12, 8, describe=False)
            with rasterio.MemoryFile(expected) as memory, memory.open() as ref:
                np.testing.assert_array_equal(src.read(), ref.read())
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    (record,) = manifest['tasks'].values()
    assert record['complete'] is True
    assert record['job_id'] == 'j-0001'
    assert record['files'] == [p.relative_to(tmp_path).as_posix() for p in files]
    assert leftovers(tmp_path) == []


def test_rerun_skips_finished_tasks_without_connecting(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        first = run(make(tmp_path, server))
        before = list(server.requests)
        second = run(make(tmp_path, server))
        assert server.requests == before
    assert first == second


def test_deleted_file_is_fetched_again_from_the_same_job(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server))
        files[3].unlink()
        run(make(tmp_path, server))
        assert server.count('POST /jobs') == 1
        assert sum(server.downloads.values()) == len(files) + 1
    assert files[3].is_file()


def test_composite_batch_download(tmp_path: Path) -> None:
    options = DownloadOptions(bands=('B08', 'B04'), composite='monthly')
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server, options))
    assert [f.name for f in files] == [
        '22_1-2_openEO_2022-04_median.tif',
        '22_1-2_openEO_2022-05_median.tif',
    ]
    for path in files:
        with rasterio.open(path) as src:
            assert src.descriptions == ('B08', 'B04')
            assert src.dtypes == ('int16', 'int16')


def test_max_cloud_cover_reaches_the_backend(tmp_path: Path) -> None:
    options = DownloadOptions(bands='rgb', max_cloud_cover=50)
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server, options))
    days = [d for d in expected_days() if cloud_cover(d) <= 50]
    assert 0 < len(days) < len(expected_days())
    assert files == [output_path(tmp_path, SHEET, d, False) for d in days]


def test_native_crs(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server, DownloadOptions(bands='rgb', crs=None)))
    with rasterio.open(files[0]) as src:
        assert src.crs.to_epsg() == 32631


def test_backend_band_names_are_checked(tmp_path: Path) -> None:
    with LocalOpenEO(describe_bands=True) as server:
        files = run(make(tmp_path, server))
    with rasterio.open(files[0]) as src:
        assert src.descriptions == ('B02', 'B03', 'B04', 'SCL')
    wrong = Faults(band_names=['B04', 'B03', 'B02', 'SCL'])
    out = tmp_path / 'wrong'
    with LocalOpenEO(wrong) as server, pytest.raises(DownloadError) as info:
        run(make(out, server))
    assert "22_1-2_openEO_2022-04-05Z.tif: the backend named the bands ['B04'" in str(
        info.value
    )
    assert not list(out.rglob('*.tif'))
    assert leftovers(out) == []


def test_other_settings_in_the_same_folder_are_refused(tmp_path: Path) -> None:
    with LocalOpenEO() as server:
        run(make(tmp_path, server))
        with pytest.raises(ValueError, match=r"bands: \['B02', 'B03', 'B04', 'SCL'\]"):
            run(make(tmp_path, server, DownloadOptions(bands='rgnir')))


def test_float_results_become_int16(tmp_path: Path) -> None:
    path = tmp_path / 'median.tif'
    data = np.array([[[1.4, np.nan], [2.6, -3.5]]], dtype='float32')
    profile = {
        'driver': 'GTiff', 'width': 2, 'height': 2, 'count': 1, 'dtype': 'float32',
        'crs': 'EPSG:4326', 'transform': rasterio.transform.from_origin(3, 51, 1, 1),
        'nodata': np.nan,
    }  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
    label_bands(path, ['B04'], path.name)
    with rasterio.open(path) as src:
        assert src.dtypes == ('int16',)
        assert src.nodata == -32768
        assert src.descriptions == ('B04',)
        np.testing.assert_array_equal(src.read(1), [[1, -32768], [3, -4]])


# -- faults ---------------------------------------------------------------------


def test_http_500_then_success(tmp_path: Path) -> None:
    faults = Faults(
        http_500={
            'POST /jobs': 1,
            'POST /jobs/{id}/results': 1,
            'GET /jobs/{id}': 2,
            'GET /jobs/{id}/results': 1,
            'GET /assets': 1,
        }
    )
    with LocalOpenEO(faults) as server:
        files = run(make(tmp_path, server))
        assert server.count('POST /jobs') == 2
        assert len(server.jobs) == 1
        assert server.count('GET /assets') == len(files) + 1
        assert not any(faults.http_500.values())
    assert [f.name for f in files] == [
        f'22_1-2_openEO_{d.isoformat()}Z.tif' for d in expected_days()
    ]


def test_http_500_forever_gives_the_backend_error(tmp_path: Path) -> None:
    with LocalOpenEO(Faults(http_500={'POST /jobs': 99})) as server:
        with pytest.raises(
            DownloadError, match=r'answered HTTP 500 Internal: Injected server error'
        ) as info:
            run(make(tmp_path, server, retries=2))
        assert isinstance(info.value.__cause__, OpenEoApiError)
        assert server.count('POST /jobs') == 3


def test_failed_job_raises_with_id_and_logs(tmp_path: Path) -> None:
    with (
        LocalOpenEO(Faults(error_jobs=True)) as server,
        pytest.raises(JobFailedError) as info,
    ):
        run(make(tmp_path, server))
    error = info.value
    assert error.job_id == 'j-0001'
    assert error.status == 'error'
    assert error.logs == [
        '[info] Loading TERRASCOPE_S2_TOC_V2',
        '[error] OpenEOApiException: no data in extent for the period',
    ]
    assert "'j-0001'" in str(error)
    assert 'no data in extent' in str(error)
    assert not list(tmp_path.rglob('*.tif'))
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    (record,) = manifest['tasks'].values()
    assert (record['complete'], record['files']) == (False, [])


def test_failed_job_is_replaced_on_rerun(tmp_path: Path) -> None:
    faults = Faults(error_jobs=True)
    with LocalOpenEO(faults) as server:
        with pytest.raises(JobFailedError):
            run(make(tmp_path, server))
        faults.error_jobs = False
        files = run(make(tmp_path, server))
        assert sorted(server.jobs) == ['j-0001', 'j-0002']
    assert len(files) == len(expected_days())


def test_dropped_connection_mid_download_is_retried(tmp_path: Path) -> None:
    with LocalOpenEO(Faults(drop_downloads=2)) as server:
        files = run(make(tmp_path, server))
        assert server.downloads['j-0001/openEO_2022-04-05Z.tif'] == 3
        assert sum(server.downloads.values()) == len(files) + 2
    for path in files:
        with rasterio.open(path) as src:
            assert src.read().shape == (4, 8, 12)
    assert leftovers(tmp_path) == []


def test_connection_dropped_for_good_leaves_no_file(tmp_path: Path) -> None:
    with (
        LocalOpenEO(Faults(drop_downloads=99)) as server,
        pytest.raises(DownloadError, match='gave up after 3 attempts'),
    ):
        run(make(tmp_path, server, retries=2))
    assert not list(tmp_path.rglob('*.tif'))
    assert leftovers(tmp_path) == []


class KilledError(Exception):
    pass


def test_interrupted_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    reference = tmp_path / 'reference'
    out = tmp_path / 'resumed'
    seen: list[Path] = []

    def kill_after_three(path: Path) -> None:
        seen.append(path)
        if len(seen) == 3:
            raise KilledError

    sheets = ('22/1-2', '22/3-4')
    with LocalOpenEO() as server:
        expected = run(make(reference, server), sheets)
    with LocalOpenEO() as server:
        with pytest.raises(KilledError):
            run(make(out, server, on_file=kill_after_three), sheets)
        assert len(list(out.rglob('*.tif'))) == 3
        files = run(make(out, server), sheets)
        assert server.count('POST /jobs') == 2  # the first job was reused
        assert set(server.downloads.values()) == {1}
        assert sum(server.downloads.values()) == len(expected)
    assert [f.relative_to(out) for f in files] == [
        f.relative_to(reference) for f in expected
    ]
    for mine, theirs in zip(files, expected, strict=True):
        assert mine.read_bytes() == theirs.read_bytes()
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    reference_manifest = json.loads((reference / MANIFEST_NAME).read_text())
    assert manifest == reference_manifest
    assert leftovers(out) == []


def test_sync_composites(tmp_path: Path) -> None:
    options = DownloadOptions(bands='rgb', composite='monthly')
    with LocalOpenEO(Faults(drop_downloads=1)) as server:
        files = run(make(tmp_path, server, options, sync=True))
        assert server.count('POST /result') == 3  # two months, one dropped
        assert server.jobs == {}
    assert [f.name for f in files] == [
        '22_1-2_openEO_2022-04_median.tif',
        '22_1-2_openEO_2022-05_median.tif',
    ]
    for path in files:
        with rasterio.open(path) as src:
            assert src.descriptions == ('B02', 'B03', 'B04')
            assert src.dtypes == ('int16',) * 3
    assert leftovers(tmp_path) == []


# -- authentication -----------------------------------------------------------


@pytest.fixture
def client_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / 'home'
    for variable in ('HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'OPENEO_CONFIG_HOME'):
        monkeypatch.setenv(variable, str(home / variable.lower()))
    monkeypatch.setenv('OPENEO_AUTH_METHOD', 'client_credentials')
    monkeypatch.setenv('OPENEO_AUTH_CLIENT_ID', CLIENT_ID)
    monkeypatch.setenv('OPENEO_AUTH_CLIENT_SECRET', CLIENT_SECRET)
    return home


def test_oidc_auth_and_no_token_on_disk_or_in_logs(
    tmp_path: Path,
    client_credentials: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / 'out'
    caplog.set_level(logging.DEBUG)
    with LocalOpenEO(require_auth=True) as server:
        files = run(make(out, server, auth=None))
        assert f'Bearer oidc/local/{ACCESS_TOKEN}' in server.authorizations
    assert len(files) == len(expected_days())
    captured = capsys.readouterr()
    assert ACCESS_TOKEN not in caplog.text
    assert ACCESS_TOKEN not in captured.out + captured.err
    written = [p for p in tmp_path.rglob('*') if p.is_file()]
    assert any(p.name == MANIFEST_NAME for p in written)
    for path in written:
        assert ACCESS_TOKEN.encode() not in path.read_bytes(), path


def test_no_auth_is_refused_by_a_protected_backend(
    tmp_path: Path, client_credentials: Path
) -> None:
    with (
        LocalOpenEO(require_auth=True) as server,
        pytest.raises(
            DownloadError,
            match=r'answered HTTP 401 AuthenticationRequired: Unauthorized\. \(the '
            'login was refused or has expired',
        ),
    ):
        run(make(tmp_path, server, auth=False))


def test_short_body_is_detected(tmp_path: Path) -> None:
    path = tmp_path / 'part.tif'
    path.write_bytes(b'abc')
    check_length(path, {'Content-Length': '3'})
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match='got 3 of 5'):
        check_length(path, {'Content-Length': '5'})


def test_downloads_are_read_by_sentinel2toc(tmp_path: Path) -> None:
    sentinel2 = pytest.importorskip('torchgeo_bvm.datasets.sentinel2')
    pd = pytest.importorskip('pandas')
    with LocalOpenEO() as server:
        files = run(make(tmp_path, server), months=(4,))
    dataset = sentinel2.Sentinel2TOC(tmp_path, bands=['B04', 'B02'])
    assert len(dataset) == len(files) == 6
    x, y = dataset.bounds[0], dataset.bounds[1]
    day = pd.Timestamp('2022-04-10')
    sample = dataset[x, y, day : pd.Timestamp('2022-04-10 23:00')]
    with rasterio.open(files[1]) as src:
        assert files[1].name == '22_1-2_openEO_2022-04-10Z.tif'
        expected = src.read([3, 1])
    image = sample['image'].numpy()
    assert image.shape == expected.shape == (2, 8, 12)
    valid = expected != NODATA
    np.testing.assert_array_equal(image[valid], expected[valid])
