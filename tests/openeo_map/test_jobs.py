"""``openeo-map`` against the local openEO backend: jobs started, polled, failed,
retried, interrupted, resumed and downloaded.

The backend (:class:`tests.openeo_backend.LocalOpenEO`) runs each map graph as
a backend would (:func:`tests.openeo_backend.map_files`): it unpacks the
model's zip named by ``udf-dependency-archives``, runs the graph's own UDF on
the chunks of its ``apply_neighborhood`` over the quick demo's composites, and
reports credits and usage in the job's metadata.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import rasterio

from tests.openeo_backend import Faults, LocalOpenEO, map_files, spec_problems
from torchgeo_bvm.cli import main

SHEET = '22/7-8'


def _backend(demo: Path, **options: object) -> LocalOpenEO:
    imagery = demo / 'data' / 'season' / 'openeo'
    return LocalOpenEO(
        mapper=partial(map_files, imagery=imagery), lifetime=600, **options
    )


def _argv(demo: Path, model: Path, out: Path, url: str, sheets: str) -> list[str]:
    argv = ['openeo-map', '--model', str(model / 'year'), '--sheets', sheets]
    argv += ['--years', '2022', '--out', str(out), '--backend', url, '--poll', '1']
    argv += ['--model-url', (model / 'year.zip').as_uri()]
    argv += ['--boundary', str(demo / 'data' / 'boundary' / 'Refgew.shp')]
    return argv


@pytest.mark.slow
def test_a_failed_job_is_retried_and_its_results_downloaded(
    quick_demo: tuple[Path, dict[str, str]],
    exported_demo_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = quick_demo[0] / 'demo-output'
    out = tmp_path / 'maps'
    with _backend(demo, faults=Faults(failing_jobs=1)) as backend:
        argv = _argv(demo, exported_demo_models, out, backend.url, SHEET)
        assert main(argv) == 0
        assert backend.count('POST /jobs') == 2
        assert backend.count('POST /jobs/{id}/results') == 2
        # Each job polled until it ended (two polls each), then the results listed.
        assert backend.count('GET /jobs/{id}') >= 4
        assert backend.downloads['j-0002/openEO.tif'] == 1
        assert all(spec_problems(graph) == [] for graph in backend.graphs)
    printed = capsys.readouterr().out.splitlines()
    rows = pd.read_csv(out / 'jobs.csv')
    assert list(rows['id']) == ['j-0002']
    assert list(rows['status']) == ['finished']
    assert list(rows['attempts']) == [1]
    assert rows['costs'][0] > 0.5
    assert rows['duration'][0].endswith(' seconds')
    assert printed[0] == (
        f'{SHEET} 2022: job j-0002 finished after 2 attempt(s), '
        f'{rows["costs"][0]:g} credits, cpu {rows["cpu"][0]}, '
        f'duration {rows["duration"][0]}'
    )
    assert printed[1] == f'2022: 8 files in {out / "2022"}'
    errors = out / '.jobs' / 'job_j-0001' / 'job_j-0001_errors.json'
    assert json.loads(errors.read_text())[0]['message'] == (
        'OpenEOApiException: no data in extent for the period'
    )
    # The map is torchgeo predict's.
    name = SHEET.replace('/', '_')
    predicted = demo / 'predictions-year' / '2022' / f'{name}.tif'
    with (
        rasterio.open(predicted) as theirs,
        rasterio.open(out / '2022' / f'{name}.tif') as ours,
    ):
        assert ours.transform == theirs.transform
        expected, mapped = theirs.read(1), ours.read(1)
    classed = expected != 255
    assert (mapped[classed] == expected[classed]).mean() >= 0.999


@pytest.mark.slow
def test_jobs_that_keep_failing_stop_in_one_line(
    quick_demo: tuple[Path, dict[str, str]],
    exported_demo_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = quick_demo[0] / 'demo-output'
    out = tmp_path / 'maps'
    with _backend(demo, faults=Faults(failing_jobs=5)) as backend:
        argv = _argv(demo, exported_demo_models, out, backend.url, SHEET)
        assert main([*argv, '--retries', '1']) == 2
        assert backend.count('POST /jobs') == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        f'torchgeo-bvm openeo-map: error: 1 of 1 map jobs did not finish after 2 '
        f'attempts: {SHEET} 2022 (error, job j-0002); their error logs are in '
        f'{out / ".jobs"}; run the command again to retry them'
    )
    rows = pd.read_csv(out / 'jobs.csv')
    assert (list(rows['status']), list(rows['attempts'])) == (['error'], [2])
    assert not (out / '2022').exists()


def _finished(database: Path) -> list[str]:
    """The ids of the finished jobs, read while another process may write."""
    try:
        rows = pd.read_csv(database)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, FileNotFoundError):
        return []
    return [
        str(i)
        for i, s in zip(rows['id'], rows['status'], strict=True)
        if s == 'finished'
    ]


@pytest.mark.slow
def test_an_interrupted_run_resumes_without_resubmitting(
    quick_demo: tuple[Path, dict[str, str]],
    exported_demo_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = quick_demo[0] / 'demo-output'
    out = tmp_path / 'maps'
    # The second job runs until the first run is killed.
    with _backend(demo, slow_jobs={'j-0002': 10**6}) as backend:
        argv = _argv(demo, exported_demo_models, out, backend.url, f'{SHEET},22/3-4')
        command = [sys.executable, '-m', 'torchgeo_bvm.cli', *argv]
        log = tmp_path / 'first-run.log'
        with log.open('w') as sink:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
            try:
                deadline = time.monotonic() + 180
                while _finished(out / 'jobs.csv') != ['j-0001']:
                    assert process.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, 'no job finished in 180 s'
                    time.sleep(0.5)
            finally:
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                process.wait()
        assert backend.count('POST /jobs') == 2
        assert not (out / '2022').exists()
        backend.slow_jobs.clear()
        assert main(argv) == 0
        # Nothing submitted again: the finished job is read back, the running
        # one polled to its end.
        assert backend.count('POST /jobs') == 2
        assert backend.count('POST /jobs/{id}/results') == 2
    rows = pd.read_csv(out / 'jobs.csv')
    assert list(rows['id']) == ['j-0001', 'j-0002']
    assert list(rows['status']) == ['finished', 'finished']
    printed = capsys.readouterr().out.splitlines()
    assert printed[2] == f'2022: 12 files in {out / "2022"}'
    run = json.loads((out / '2022' / 'prediction.json').read_text())
    assert run['sheets'] == ['22/3-4', SHEET]
    assert run['complete'] is True
