"""Fixtures shared across the test suite."""

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The library never chooses a matplotlib backend; the tests draw into files.
os.environ.setdefault('MPLBACKEND', 'Agg')
# Nothing is ever downloaded in tests: the Hugging Face hub (where smp keeps the
# ImageNet weights) is offline and its cache starts empty; tests that need
# weights seed it (tests/weights.py).
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['HF_HOME'] = tempfile.mkdtemp(prefix='torchgeo-bvm-tests-hf-')

# What the package caches between runs (prepared polygons, imagery index,
# Flanders boundary) goes to a folder of this run, never to the user's cache.
os.environ['TORCHGEO_BVM_CACHE'] = tempfile.mkdtemp(prefix='torchgeo-bvm-tests-')

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from torchgeo_bvm.classes import IGNORE_INDEX
from torchgeo_bvm.fileio import file_lock
from torchgeo_bvm.sheets.codes import Sheet


def built_once(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    build: Callable[[Path], Any],
) -> tuple[Path, Any]:
    """A folder built once per test run and shared by every pytest-xdist worker.

    A session fixture is built once per worker process; what ``build`` makes is
    built by the first worker that asks, under a lock in the run's temporary
    folder, and read by the others (read-only: tests copy what they change).

    Args:
        tmp_path_factory: pytest's factory.
        name: the folder's name, unique in the run.
        build: writes the folder's content into the folder it is given and
            returns something JSON can store (or None).

    Returns:
        The folder and what ``build`` returned.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        root = root.parent
    folder = root / f'shared-{name}'
    done = root / f'shared-{name}.json'
    with file_lock(root / f'shared-{name}.lock'):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            done.write_text(json.dumps({'value': build(folder)}))
    return folder, json.loads(done.read_text())['value']


def write_labels(path, array, transform, crs='EPSG:31370') -> None:
    profile = {
        'driver': 'GTiff',
        'height': array.shape[0],
        'width': array.shape[1],
        'count': 1,
        'dtype': 'uint8',
        'crs': crs,
        'transform': transform,
        'nodata': IGNORE_INDEX,
    }
    with rasterio.open(path, 'w', **profile) as sink:
        sink.write(array, 1)


@pytest.fixture
def sheet22_labels(tmp_path):
    """Sheet 22 at 1 km with one pixel ring of margin outside the sheet.

    kbl4 quadrants are 16 x 10 pixels: NW (train) all class 1; SW (train) left half
    class 2, right half unlabelled; NE (val) 100 pixels class 1 then 60 class 11;
    SE (test) all class 12. The margin is class 5, outside every sheet counted.
    """
    x0, _, _, y1 = Sheet.parse(22).bounds
    array = np.full((22, 34), 5, dtype=np.uint8)
    inner = array[1:-1, 1:-1]
    inner[:10, :16] = 1
    inner[10:, :8] = 2
    inner[10:, 8:16] = IGNORE_INDEX
    inner[:10, 16:] = np.where(np.arange(160).reshape(10, 16) < 100, 1, 11)
    inner[10:, 16:] = 12
    path = tmp_path / 'labels.tif'
    write_labels(path, array, from_origin(x0 - 1000, y1 + 1000, 1000, 1000))
    return path


@pytest.fixture(scope='session')
def mini_flanders(tmp_path_factory):
    """The embedded mini-Flanders at its tiny size, generated once per session.

    With its season (``season/``: a year of products and monthly composites)
    and its radar (``radar/``: a year of Sentinel-1 products and monthly
    means), which leave every other file as it is without them.

    Returns (folder, manifest); the manifest's paths are relative to the folder.
    """
    from torchgeo_bvm.synth.flanders import write_mini_flanders

    return built_once(
        tmp_path_factory,
        'mini-flanders',
        lambda folder: write_mini_flanders(
            folder, 'tiny', 0, plot=False, season=True, radar=True
        ),
    )


@pytest.fixture(scope='session')
def mini_labels(mini_flanders, tmp_path_factory):
    """Label raster of the tiny mini-Flanders on the products' UTM 10 m grid."""
    import warnings

    from torchgeo_bvm.bvm.labels import rasterize_bvm

    folder, manifest = mini_flanders

    def build(out: Path) -> None:
        with warnings.catch_warnings():
            # The generator's 'ng' polygons are reported as unmapped codes.
            warnings.simplefilter('ignore', UserWarning)
            rasterize_bvm(
                folder / manifest['bvm'],
                out / 'labels.tif',
                crs='EPSG:32631',
                res=10.0,
                progress=False,
            )

    return built_once(tmp_path_factory, 'mini-labels', build)[0] / 'labels.tif'


#: What the suite's largest test (the documented commands, with their
#: checkpoints) holds on disk at once; passed tests' folders are removed.
DISK_NEEDED_GB = 5


# The hostile-input tests' tally per family (tests/hostile/test_<family>.py):
# cases tried and handled as the contract says (passed). It lives in the root
# conftest because the xdist controller, which writes the summary, loads only
# this one.
_TRIED: Counter[str] = Counter()
_HANDLED: Counter[str] = Counter()


def _family(nodeid: str) -> str | None:
    path = nodeid.split('::')[0]
    if '/hostile/test_' not in '/' + path:
        return None
    return Path(path).stem.removeprefix('test_')


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    family = _family(report.nodeid)
    if family is None:
        return
    if report.skipped:
        return
    if report.when == 'call' or (report.when == 'setup' and report.failed):
        _TRIED[family] += 1
        _HANDLED[family] += report.passed


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TRIED:
        return
    write = terminalreporter.write_line
    write('')
    write('hostile inputs per family: tried / handled as the contract says')
    for family in sorted(_TRIED):
        write(f'  {family:<16} {_TRIED[family]:>4} / {_HANDLED[family]:<4}')
    total, handled = sum(_TRIED.values()), sum(_HANDLED.values())
    write(f'  {"total":<16} {total:>4} / {handled:<4}')


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    """Run the tests marked slow first, in their order, then the others.

    With ``--dist worksteal`` (``make test``) the first worker starts on the
    long pipelines while the second runs the short tests, then takes the
    first worker's last tests: the run ends with short tests on both workers
    instead of one worker alone on a long one.
    """
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)


def pytest_report_header(config):
    """Say how much room the temporary folder has, so a full disk reads as such."""
    folder = Path(config.option.basetemp or tempfile.gettempdir()).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free / 1e9
    line = f'temporary folder: {folder} ({free:.1f} GB free'
    if free < DISK_NEEDED_GB:
        line += f'; the suite needs about {DISK_NEEDED_GB} GB: tests will fail with'
        line += ' "No space left on device"'
    return line + ')'


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the process's cache folders (set above) when it ends.

    Every process that loads this file makes its own: each xdist worker, and
    the controller, which runs no test and no fixture.
    """
    for key in ('TORCHGEO_BVM_CACHE', 'HF_HOME'):
        shutil.rmtree(os.environ[key], ignore_errors=True)


@pytest.fixture(autouse=True)
def _gdal_environment_restored(monkeypatch):
    """Undo the GDAL settings ``torchgeo.main.main`` writes into ``os.environ``.

    TorchGeo's command line sets them for the whole process; run in-process by
    a test, ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` would hide every
    ``.aux.xml`` (colour tables, class names) from the tests that follow.
    rasterio copies variables it finds in the environment into GDAL's own
    configuration when an outermost ``rasterio.Env`` closes, so that copy is
    cleared as well.
    """
    from rasterio.env import set_gdal_config

    for key in (
        'GDAL_DISABLE_READDIR_ON_OPEN',
        'AWS_NO_SIGN_REQUEST',
        'GDAL_MAX_RAW_BLOCK_CACHE_SIZE',
        'GDAL_SWATH_SIZE',
        'VSI_CURL_CACHE_SIZE',
    ):
        monkeypatch.delenv(key, raising=False)
        set_gdal_config(key, None)


@pytest.fixture(scope='session')
def shared_flanders(tmp_path_factory):
    """The tiny mini-Flanders with its season and overview, built once per run.

    Shared by every pytest-xdist worker (:func:`built_once`): the documented
    commands start from it (``torchgeo-bvm synth --size tiny`` finds it up to
    date where a page generates one). Copy it before writing.
    """
    from torchgeo_bvm.synth.flanders import write_mini_flanders

    def build(folder):
        write_mini_flanders(folder, 'tiny', 0, plot=True, season=True)

    return built_once(tmp_path_factory, 'documented-flanders', build)[0]


@pytest.fixture(scope='session')
def quick_demo(tmp_path_factory, shared_flanders):
    """A folder after the quick start's quicker demo run, built once per run.

    The command is taken from ``docs/quickstart.rst`` and run as written, in
    a process of its own, in a folder whose ``demo-output/data`` already holds
    the shared tiny mini-Flanders (the demo finds it up to date). Returns the
    folder holding ``demo-output``; copy it before writing
    (:func:`tests.docs_commands.copy_folder`); the fixture's value is the
    folder and a dict: ``log``, what the run cost (which tests print), and
    ``output``, what the demo printed.
    """
    from tests.docs_commands import Reader, copy_folder, quick_demo_block

    def build(folder):
        copy_folder(shared_flanders, folder / 'demo-output' / 'data')
        reader = Reader(folder)
        (run,) = reader.read([quick_demo_block()])
        return {'log': reader.log(), 'output': run.output}

    return built_once(tmp_path_factory, 'quick-demo', build)


@pytest.fixture(scope='session')
def exported_demo_models(tmp_path_factory, quick_demo):
    """The quick demo's two models, exported once per run, with zips of them.

    ``torchgeo-bvm export`` of the checkpoints the demo mapped with and their
    configurations, run in the demo's folder as the configurations' relative
    paths want: ``year/`` (the U-Net on a year of monthly composites, which
    mapped ``predictions-year``) and ``single/`` (the single-date U-Net with
    its calibration, which mapped ``predictions``), each ``model.json`` and
    ``model.onnx``, and ``year.zip`` (the year model's files, as a backend
    fetches them). The value is their folder; read-only.
    """
    import contextlib
    import zipfile

    from torchgeo_bvm.demo import evaluated_checkpoint
    from torchgeo_bvm.export.exporter import export_model

    demo, _ = quick_demo
    output = demo / 'demo-output'

    def build(folder):
        year, _ = evaluated_checkpoint(output / 'training-year' / 'checkpoints')
        single = output / 'training' / 'checkpoints' / 'best-calibrated.ckpt'
        with contextlib.chdir(demo):
            export_model(year, 'demo-output/demo_year.yaml', folder / 'year')
            export_model(single, 'demo-output/demo.yaml', folder / 'single')
        with zipfile.ZipFile(folder / 'year.zip', 'w') as archive:
            for path in sorted((folder / 'year').iterdir()):
                archive.write(path, path.name)

    return built_once(tmp_path_factory, 'demo-models', build)[0]
