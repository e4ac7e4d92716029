import json
from datetime import date
from pathlib import Path

import pytest
import rasterio

from tests.openeo_backend import Faults, LocalOpenEO, radar_dates
from torchgeo_bvm.cli import main
from torchgeo_bvm.download import MANIFEST_NAME
from torchgeo_bvm.sheets.scheme import SplitScheme

DATA = Path(__file__).parents[1] / 'data' / 'openeo'
# Nothing listens on the discard port: a dry run that connected would fail.
UNREACHABLE = 'http://127.0.0.1:9'


def dry_run(capsys, *args: str) -> list[dict]:
    argv = ['download', '--backend', UNREACHABLE, '--dry-run', *args]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_prints_the_default_graph(tmp_path, capsys) -> None:
    out = tmp_path / 'out'
    graphs = dry_run(
        capsys, '--out', str(out), '--sheets', '22/1-2', '--years', '2022',
        '--months', '4,5',
    )  # fmt: skip
    expected = json.loads((DATA / 'graph_22_1-2_2022-04_2022-05.json').read_text())
    assert graphs == [
        {
            'sheet': '22/1-2',
            'temporal_extent': ['2022-04-01', '2022-06-01'],
            'process': expected,
        }
    ]
    assert not out.exists()


def test_dry_run_prints_the_composite_graph(tmp_path, capsys) -> None:
    graphs = dry_run(
        capsys, '--out', str(tmp_path), '--sheets', '22_1-2', '--years', '2022',
        '--months', '4,5', '--composite', 'monthly', '--max-cloud-cover', '80',
    )  # fmt: skip
    expected = json.loads(
        (DATA / 'graph_22_1-2_2022-04_2022-05_monthly_cc80.json').read_text()
    )
    assert [g['process'] for g in graphs] == [expected]


def test_dry_run_sheets_of_any_level_and_years(tmp_path, capsys) -> None:
    graphs = dry_run(
        capsys, '--out', str(tmp_path), '--sheets', '22/1-2,15/1n,15',
        '--years', '2021,2022', '--months', '4,7', '--bands', 'rgb',
    )  # fmt: skip
    assert [(g['sheet'], *g['temporal_extent']) for g in graphs] == [
        (sheet, f'{year}-{a:02d}-01', f'{year}-{a + 1:02d}-01')
        for sheet in ('15', '15/1N', '22/1-2')
        for year in (2021, 2022)
        for a in (4, 7)
    ]
    bands = graphs[0]['process']['process_graph']['loadcollection1']['arguments']
    assert bands['bands'] == ['B02', 'B03', 'B04', 'SCL']


def test_dry_run_split_takes_every_sheet_of_the_split(tmp_path, capsys) -> None:
    graphs = dry_run(
        capsys, '--out', str(tmp_path), '--split', 'val', '--years', '2022',
        '--months', '5,6', '--composite', 'monthly', '--sync',
    )  # fmt: skip
    sheets = SplitScheme().sheets('val')
    assert len(sheets) == 43
    assert [g['sheet'] for g in graphs] == [s.code for s in sheets for _ in range(2)]
    assert all(g['sheet'].endswith('/3-4') for g in graphs)


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--months', '13'], 'months must lie in 1..12'),
        (['--bands', 'B02,B10'], "unknown band 'B10': available bands are B01"),
        (['--sync'], 'synchronous requests need a composite'),
        (['--max-cloud-cover', '101'], 'max_cloud_cover must lie in 0..100'),
    ],
)
def test_bad_input(tmp_path, capsys, args, message) -> None:
    argv = ['download', '--out', str(tmp_path), '--sheets', '22/1-2']
    assert main([*argv, '--years', '2022', '--dry-run', *args]) == 2
    assert message in capsys.readouterr().err


def test_sheets_and_split_exclude_each_other(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(['download', '--out', str(tmp_path), '--sheets', '1', '--split', 'train',
              '--years', '2022'])  # fmt: skip
    assert 'not allowed with argument' in capsys.readouterr().err


def test_download_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / 's2'
    with LocalOpenEO() as server:
        argv = [
            'download', '--out', str(out), '--sheets', '22/1-2,22/3-4',
            '--years', '2022', '--months', '4', '--bands', 'B08,B04',
            '--backend', server.url, '--no-auth', '--poll-interval', '0.001',
            '--quiet',
        ]  # fmt: skip
        assert main(argv) == 0
        assert server.count('POST /jobs') == 2
    assert '12 files for 2 sheet periods' in capsys.readouterr().out
    for sheet in ('22_1-2', '22_3-4'):
        files = sorted((out / sheet).glob('*.tif'))
        assert [f.name for f in files] == [
            f'{sheet}_openEO_2022-04-{d:02d}Z.tif' for d in (5, 10, 15, 20, 25, 30)
        ]
        with rasterio.open(files[0]) as src:
            assert src.descriptions == ('B08', 'B04', 'SCL')
    assert (out / MANIFEST_NAME).is_file()


def test_failed_job_exits_with_2_in_one_line(tmp_path, capsys) -> None:
    with LocalOpenEO(Faults(error_jobs=True)) as server:
        argv = [
            'download', '--out', str(tmp_path), '--sheets', '22/1-2', '--years',
            '2022', '--months', '4', '--backend', server.url, '--no-auth',
            '--poll-interval', '0.001', '--quiet',
        ]  # fmt: skip
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    assert "torchgeo-bvm download: error: openEO batch job 'j-0001' ended" in err
    assert '[error] OpenEOApiException: no data in extent' in err


# -- Sentinel-1 -----------------------------------------------------------------


def test_dry_run_of_radar_for_both_orbits(tmp_path, capsys) -> None:
    graphs = dry_run(
        capsys, '--sensor', 's1', '--out', str(tmp_path), '--sheets', '22/1-2',
        '--years', '2022', '--months', '4,5', '--composite', 'monthly',
        '--orbit', 'both', '--crs', 'native',
    )  # fmt: skip
    assert [(g['sheet'], g['orbit']) for g in graphs] == [
        ('22/1-2', 'ascending'),
        ('22/1-2', 'descending'),
    ]
    nodes = {
        n['process_id']: n['arguments']
        for n in graphs[1]['process']['process_graph'].values()
    }
    assert nodes['load_collection']['id'] == 'SENTINEL1_GRD'
    assert nodes['sar_backscatter']['coefficient'] == 'sigma0-ellipsoid'
    assert 'resample_spatial' not in nodes
    assert not tmp_path.joinpath('openeo-manifest-sentinel1.json').exists()


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (
            ['--sensor', 's1', '--cloud-mask', 'scl'],
            '--cloud-mask: options of --sensor s2',
        ),
        (
            ['--sensor', 's1', '--max-cloud-cover', '20'],
            '--max-cloud-cover: options of --sensor s2; radar sees through clouds',
        ),
        (['--sensor', 's1', '--bands', 'VV,B02'], "download bands ['VV', 'B02']"),
        (['--orbit', 'both'], '--orbit is an option of --sensor s1'),
        (['--sensor', 's1', '--years', '2013'], '2014..2100 (Sentinel-1 era)'),
    ],
)
def test_bad_radar_input(tmp_path, capsys, args, message) -> None:
    argv = ['download', '--out', str(tmp_path), '--sheets', '22/1-2', '--dry-run']
    if '--years' not in args:
        argv += ['--years', '2022']
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count('\n') == 1


def test_radar_download_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / 'imagery'
    with LocalOpenEO() as server:
        argv = [
            'download', '--sensor', 's1', '--out', str(out), '--sheets', '22/1-2',
            '--years', '2022', '--months', '4', '--orbit', 'both', '--bands', 'vh',
            '--crs', 'native', '--backend', server.url, '--no-auth',
            '--poll-interval', '0.001', '--quiet',
        ]  # fmt: skip
        assert main(argv) == 0
        assert server.count('POST /jobs') == 2
    april = (date(2022, 4, 1), date(2022, 5, 1))
    days = {o: radar_dates(*april, o) for o in ('ASCENDING', 'DESCENDING')}
    count = sum(len(d) for d in days.values())
    assert f'{count} files for 1 sheet periods x 2 orbit directions' in (
        capsys.readouterr().out
    )
    names = sorted(p.name for p in (out / '22_1-2').glob('*.tif'))
    assert names == sorted(
        f'22_1-2_openEO_S1-{orbit}_{day.isoformat()}Z.tif'
        for orbit, dates in days.items()
        for day in dates
    )
    with rasterio.open(out / '22_1-2' / names[0]) as src:
        assert src.descriptions == ('VH',)
        assert src.dtypes == ('float32',)
    assert (out / 'openeo-manifest-sentinel1.json').is_file()
    assert not (out / MANIFEST_NAME).exists()
