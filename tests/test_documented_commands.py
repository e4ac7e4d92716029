"""Every command and Python block of README.md and docs/*.rst runs as written.

Each page runs in a fresh folder outside the repository, in reading order,
every command in a process of its own through ``bash`` and every Python block
in ``python -`` (:class:`tests.docs_commands.Reader`), with the installed
package only. The command text is never changed and no configuration is
rewritten: the pages are written to run on a laptop, offline (the README's tour
trains the paper's configuration at laptop scale, from random weights).

A page starts where the reader of the page stands:

* the README's tour, the split page and the Sentinel-1 page: an empty folder;
* the quick start and the updates page: a folder after the demo (the quick start's own quicker run,
  which the suite runs as written once per run: the ``quick_demo`` fixture);
  its steps by hand and TorchGeo's commands after them are two tests, since
  the steps only make again what the demo made;
* the user guide: a folder holding the real data's files under their real
  names (``BwkHab.shp``, ``Refgew.shp``, ``Kbl.shp``): those of the
  mini-Flanders.

``torchgeo-bvm synth --size tiny`` finds the run's shared mini-Flanders
already in its output folder (``shared_flanders``, generated once per run with
the same size and seed) and reuses it, as it does for a reader running it
twice. What cannot run here is listed in :data:`NOT_RUN` with the reason, and
``torchgeo-bvm download`` without ``--dry-run``, which needs an openEO account
and the network, is replaced by what it would write
(:func:`~torchgeo_bvm.synth.flanders.write_openeo_downloads`). The examples
page is run by ``tests/test_examples.py``, which also checks what each example
prints and writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import rasterio
import yaml

from tests.docs_commands import (
    DOCUMENTS,
    PROGRAMS,
    ROOT,
    Block,
    Reader,
    Run,
    copy_folder,
    documented_blocks,
)

#: Commands the suite does not run, by document and the command's start, with
#: the reason. Each must name a command of its document.
NOT_RUN: dict[tuple[str, str], str] = {
    ('README.md', 'make test'): (
        'it is this test suite (lint, type check, pytest, docs build)'
    ),
    ('README.md', 'make demo'): (
        "a clone's Makefile, and the full demo (2 models x 200 steps on the "
        '16 x 10 km region: 3.5 min on 2 idle cores); the quick start runs its '
        'quicker run on the tiny region as written'
    ),
    ('README.md', 'python3.12 -m pip install .'): (
        'installs from the package index: needs the network (the suite runs in '
        'the environment it makes)'
    ),
    ('docs/installation.rst', 'make test'): 'it is this test suite',
    ('docs/installation.rst', 'python3.12 -m pip install .'): (
        'installs from the package index: needs the network'
    ),
    ('docs/quickstart.rst', 'make demo'): (
        "a clone's Makefile, and the full demo (3.5 min on 2 idle cores); the "
        "page's quicker run (the quick_demo fixture, as written) makes the "
        'same folder, which the rest of the page uses'
    ),
    ('docs/guide.rst', 'torchgeo fit --config bvm_all.yaml'): (
        "the paper's setting starts from the ImageNet weights, which need the "
        "network (and trains for days on a CPU); the README's tour runs the "
        'same configuration at laptop scale from random weights'
    ),
    ('docs/guide.rst', 'torchgeo test --config bvm_all.yaml'): (
        'needs checkpoints/bvm_all/best.ckpt of that fit'
    ),
    ('docs/guide.rst', 'torchgeo fit --config bvm_monthly_unet.yaml'): (
        'starts from the ImageNet weights, which need the network'
    ),
    ('docs/guide.rst', 'torchgeo test --config bvm_monthly_unet.yaml'): (
        'needs checkpoints/bvm_monthly_unet/best.ckpt of that fit'
    ),
    ('docs/guide.rst', 'torchgeo-bvm export --ckpt'): (
        "needs checkpoints/bvm_all/best.ckpt of the guide's fit; "
        'tests/export/test_export.py exports each kind of model'
    ),
    ('docs/openeo.rst', 'torchgeo-bvm openeo-map --model models/year --sheets 22 '): (
        'an openEO account, the network and a URL the backend can fetch the '
        'model from; tests/openeo_map/test_jobs.py runs it against the local '
        'openEO backend'
    ),
    ('docs/mapping.rst', 'torchgeo predict --config bvm_all.yaml'): (
        "needs checkpoints/bvm_all/best.ckpt of the guide's fit (the README's "
        'tour predicts and compares with its own checkpoint)'
    ),
    ('docs/mapping.rst', 'torchgeo-bvm compare --bvm BwkHab.shp'): (
        'compares the maps of that predict'
    ),
}
#: Documents whose commands no page test runs, with the reason.
NOT_RUN_DOCUMENTS = {
    'docs/examples.rst': 'tests/test_examples.py runs them as written and checks them',
    'docs/compare.rst': (
        'its commands read fused maps of 2022 (fused/2022/) that no documented '
        'command before them writes'
    ),
}
#: The command that needs an openEO account and the network.
DOWNLOAD = 'torchgeo-bvm download'
#: The real data the user guide names, by name: the mini-Flanders file standing in.
REAL_DATA = {
    'BwkHab.shp': 'bvm/BwkHab.shp',
    'Refgew.shp': 'boundary/Refgew.shp',
    'Kbl.shp': 'kbl/Kbl.shp',
}


def not_run(document: str, command: str) -> str:
    """Why a command of a document is not run ('' if it is)."""
    for (where, start), reason in NOT_RUN.items():
        if document == where and command.startswith(start):
            return reason
    return ''


def blocks_of(document: str) -> list[Block]:
    return [b for b in documented_blocks([document]) if b.language != 'text']


def download(source: Path, folder: Path) -> Callable[[list[str]], None]:
    """What ``torchgeo-bvm download`` would write, from the mini-Flanders."""

    def replacement(words: list[str]) -> None:
        from torchgeo_bvm.cli import build_parser
        from torchgeo_bvm.sheets.scheme import SplitScheme
        from torchgeo_bvm.synth.flanders import write_openeo_downloads

        args = build_parser(only='download').parse_args(words[1:])
        if args.split:
            sheets = [s.code for s in SplitScheme().sheets(args.split)]
        else:
            sheets = args.sheets.split(',')
        months = None if args.months is None else map(int, args.months.split(','))
        written = write_openeo_downloads(
            source,
            folder / args.out,
            sheets,
            map(int, args.years.split(',')),
            months,
            composite=args.composite == 'monthly',
        )
        assert written, f'the mini-Flanders has no imagery for {words}'

    return replacement


def show(reader: Reader, capsys: pytest.CaptureFixture[str]) -> None:
    """Print what ran and what it cost, also when the test passes."""
    with capsys.disabled():
        print('\n' + reader.log())


def test_every_block_is_known_code() -> None:
    blocks = documented_blocks()
    assert {b.document for b in blocks} >= {
        'README.md',
        'docs/quickstart.rst',
        'docs/guide.rst',
        'docs/examples.rst',
        'docs/split.rst',
    }
    for block in blocks:
        if block.language != 'sh':
            continue
        for command in block.commands():
            assert command.split()[0] in PROGRAMS, f'{block.where}: {command}'
    python = [b for b in blocks if b.language == 'python']
    assert [b.document for b in python] == [
        'README.md',
        'docs/guide.rst',
        'docs/sentinel1.rst',
        'docs/openeo.rst',
        'docs/split.rst',
    ]
    assert 'dataset[next(iter(sampler))]' in python[0].text
    # Every page of the docs is read, in the order of the table of contents.
    index = (ROOT / 'docs' / 'index.rst').read_text()
    toctree = [
        f'docs/{name.strip()}.rst'
        for name in index.split(':maxdepth: 2')[1].split('\n\n')[1].splitlines()
    ]
    assert [
        d for d in DOCUMENTS if d.startswith('docs/') and d != 'docs/index.rst'
    ] == toctree
    assert sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / 'docs').glob('*.rst')
    ) == sorted(d for d in DOCUMENTS if d.startswith('docs/'))


def test_what_is_not_run_is_listed_with_its_reason() -> None:
    commands = [
        (block.document, command)
        for block in documented_blocks()
        if block.language == 'sh'
        for command in block.commands()
    ]
    for (document, start), reason in NOT_RUN.items():
        assert reason
        assert [c for d, c in commands if d == document and c.startswith(start)], (
            f'NOT_RUN names no command of {document}: {start}'
        )
    downloads = [c for _, c in commands if c.startswith(DOWNLOAD)]
    assert len([c for c in downloads if '--dry-run' not in c]) == 5
    assert set(NOT_RUN_DOCUMENTS) <= set(DOCUMENTS)
    # The pages the tests below run, with the documents not run by them.
    ran = {'README.md', 'docs/installation.rst', 'docs/quickstart.rst'}
    ran |= {'docs/guide.rst', 'docs/mapping.rst', 'docs/split.rst'}
    ran |= {'docs/updates.rst', 'docs/sentinel1.rst', 'docs/openeo.rst'}
    with_code = {b.document for b in documented_blocks() if b.language != 'text'}
    assert with_code == ran | set(NOT_RUN_DOCUMENTS)


def test_installation_page_runs_nothing_here() -> None:
    commands = [c for b in blocks_of('docs/installation.rst') for c in b.commands()]
    assert commands == ['make test', 'python3.12 -m pip install .']
    assert all(not_run('docs/installation.rst', c) for c in commands)


def readme_blocks() -> tuple[list[Block], list[Block]]:
    """The README's blocks up to its tour, and those after it."""
    blocks = blocks_of('README.md')
    (tour,) = [
        i for i, b in enumerate(blocks) if b.text.startswith('torchgeo-bvm synth')
    ]
    return blocks[: tour + 1], blocks[tour + 1 :]


def reader_after_synth(tmp_path: Path, shared_flanders: Path) -> Path:
    """An empty folder, but for the mini-Flanders ``synth`` finds up to date."""
    folder = tmp_path / 'reader'
    folder.mkdir()
    copy_folder(shared_flanders, folder / 'mini-flanders')
    return folder


def test_readme_tour_is_followed_by_the_dry_run_and_python() -> None:
    tour, after = readme_blocks()
    assert tour[-1].commands()[-1].startswith('torchgeo-bvm compare')
    assert [b.language for b in after] == ['sh', 'python']
    assert after[0].commands() == [
        'torchgeo-bvm download --out s2 --sheets 22 --years 2020 --months 4,7 --dry-run'
    ]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_tour_runs_as_written(
    tmp_path: Path, shared_flanders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = reader_after_synth(tmp_path, shared_flanders)
    reader = Reader(folder, not_run)
    runs = reader.read(readme_blocks()[0])
    show(reader, capsys)
    assert not reader.noise()

    ran = {run.command.split(' --')[0]: run for run in runs}
    assert ran['torchgeo-bvm synth'].output.startswith(
        'mini-Flanders (tiny, seed 0) in mini-flanders: up to date, reused'
    )
    # The configuration at laptop scale, the paper's values beside.
    config = (folder / 'bvm_all.yaml').read_text()
    settings = yaml.safe_load(config)
    assert settings['trainer']['max_steps'] == 5
    assert settings['data']['init_args']['patch_size'] == 64
    assert 'max_steps: 5  # laptop scale, training steps; as shipped: 20000' in config
    fit = ran['torchgeo fit']
    assert 'checkpoints: best checkpoints/bvm_all/best.ckpt' in fit.output
    test = ran['torchgeo test'].output
    assert 'test: loss ' in test
    assert 'overall accuracy' in test
    for path in (
        'split.png',
        'labels.tif',
        'stats/band-stats.json',
        'checkpoints/bvm_all/best.ckpt',
        'evaluation/bvm_all/confusion_matrix.csv',
        'evaluation/bvm_all/confusion_matrix.png',
        'candidates/disagreement.gpkg',
    ):
        assert (folder / path).is_file(), path
    with rasterio.open(
        folder / 'predictions' / 'bvm_all' / '2020' / '22_7-8.tif'
    ) as source:
        assert source.crs.to_epsg() == 4326
        assert source.count == 1


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_after_the_tour_runs_as_written(
    tmp_path: Path, shared_flanders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What follows the tour reads only the mini-Flanders: it starts after
    # `synth`, in a test of its own (another pytest-xdist worker).
    folder = reader_after_synth(tmp_path, shared_flanders)
    reader = Reader(folder, not_run)
    after = readme_blocks()[1]
    dry, python = reader.read(after)
    show(reader, capsys)
    assert not reader.noise()

    # The dry run of the real download connects to nothing and says so.
    assert dry.command.startswith(DOWNLOAD)
    assert dry.status == 0
    assert not (folder / 's2').exists()
    # The Python block prints what its last comment says it prints.
    expected = after[1].text.strip().splitlines()[-1].lstrip('# ')
    assert expected in python.output.splitlines()


def quickstart_blocks() -> tuple[list[Block], list[Block]]:
    """The quick start's blocks before ``torchgeo fit``, and from it on."""
    blocks = blocks_of('docs/quickstart.rst')
    (fit,) = [i for i, b in enumerate(blocks) if b.text.startswith('torchgeo fit')]
    return blocks[:fit], blocks[fit:]


def reader_after_the_demo(
    tmp_path: Path, quick_demo: tuple[Path, dict[str, str]]
) -> Path:
    """A copy of the folder the quick start's quicker run made."""
    folder = tmp_path / 'reader'
    copy_folder(quick_demo[0], folder)
    return folder


def page_after_the_demo(
    page: str,
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> tuple[Path, list[Run]]:
    """Run a page that reads the demo's folder, in a copy of it, as written."""
    folder = reader_after_the_demo(tmp_path, quick_demo)
    reader = Reader(folder, not_run)
    runs = reader.read(blocks_of(page))
    show(reader, capsys)
    assert not reader.noise()
    return folder, runs


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quickstart_demo_and_steps_run_as_written(
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = reader_after_the_demo(tmp_path, quick_demo)
    reader = Reader(folder, not_run)
    runs = reader.read(quickstart_blocks()[0])
    with capsys.disabled():
        print('\nthe quick_demo fixture:\n' + quick_demo[1]['log'])
    show(reader, capsys)
    assert not reader.noise()

    ran = {run.command.split(' --')[0]: run for run in runs}
    # The quicker run finds its folder made and only reports.
    again = ran['torchgeo-bvm demo'].output
    assert 'torchgeo-bvm demo: test sheets of the mini-Flanders' in again
    assert '$ torchgeo fit' not in again
    # The steps by hand make again what the demo made, from the same inputs.
    printed = '\n'.join(run.output for run in runs)
    assert '| train - val |' in printed  # the split statistics, chi-squared
    assert 'band statistics: demo-output/band-stats.json' in printed


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quickstart_torchgeo_runs_as_written(
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # TorchGeo's commands read what the demo made (the steps by hand before
    # them make the same files again): a test of their own, on another
    # pytest-xdist worker.
    folder = reader_after_the_demo(tmp_path, quick_demo)
    checkpoints = folder / 'demo-output' / 'training' / 'checkpoints'
    demo_best = (checkpoints / 'best.ckpt').stat().st_ino
    reader = Reader(folder, not_run)
    runs = reader.read(quickstart_blocks()[1])
    show(reader, capsys)
    assert not reader.noise()

    ran = {run.command.split(' --')[0]: run for run in runs}
    # By hand, the demo's configuration: fit keeps the demo's checkpoints,
    # says which names it writes, and the documented test takes those.
    fit = ran['torchgeo fit'].output
    assert (
        'checkpoints: demo-output/training/checkpoints holds best.ckpt and '
        'last.ckpt of an earlier run; this run writes best-v1.ckpt and '
        'last-v1.ckpt'
    ) in fit
    assert 'checkpoints: best demo-output/training/checkpoints/best-v1.ckpt' in fit
    assert (checkpoints / 'best.ckpt').stat().st_ino == demo_best
    assert (checkpoints / 'best-v1.ckpt').is_file()
    assert 'test: loss ' in ran['torchgeo test'].output
    assert 'demo-output/predictions/2020/22_7-8.tif' in ran['torchgeo predict'].output


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_updates_page_runs_as_written(
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The page reads the demo's folder: the quick start's quicker run made it.
    folder, runs = page_after_the_demo('docs/updates.rst', tmp_path, quick_demo, capsys)
    assert [r.command.split()[1] for r in runs] == ['compare', 'calibrate']
    check = folder / 'demo-output' / 'comparison-check'
    assert (check / 'truth_scores.csv').is_file()
    recalibrated = 'demo-output/training/checkpoints/best-recalibrated.ckpt'
    assert (folder / recalibrated).is_file()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_openeo_page_runs_as_written(
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The page reads the demo's folder: the quick start's quicker run made it.
    folder, runs = page_after_the_demo('docs/openeo.rst', tmp_path, quick_demo, capsys)
    assert [r.status for r in runs] == [0] * len(runs)
    assert [r.command.split()[:2] for r in runs if not r.note] == [
        ['torchgeo-bvm', 'export'],
        ['torchgeo-bvm', 'openeo-map'],
        ['torchgeo-bvm', 'openeo-map'],
        ['python', '-'],
    ]
    assert (folder / 'openeo-maps' / 'graphs' / '22_7-8_2022.json').is_file()
    assert (folder / 'local-maps' / '2022' / 'prediction.json').is_file()
    agreement = runs[3].output.strip()
    assert agreement.startswith(('100.00% of ', '99.9')), agreement
    assert agreement.endswith(' pixels agree')


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_guide_and_mapping_run_as_written(
    tmp_path: Path, shared_flanders: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / 'reader'
    folder.mkdir()
    for name, path in REAL_DATA.items():
        source = shared_flanders / path
        for part in source.parent.glob(source.stem + '.*'):
            shutil.copy(part, (folder / name).with_suffix(part.suffix))
    copy_folder(shared_flanders, folder / 'data' / 'mini-flanders')
    reader = Reader(
        folder, not_run, replacements={DOWNLOAD: download(shared_flanders, folder)}
    )
    runs = reader.read(blocks_of('docs/guide.rst') + blocks_of('docs/mapping.rst'))
    show(reader, capsys)
    assert not reader.noise()

    assert "'Kbl.shp'" in runs[0].command
    for path in (
        'data/labels.tif',
        'data/labels_22.tif',
        'data/band-stats.json',
        'data/stats/class_weights.json',
        'data/sentinel2-monthly/22_7-8/22_7-8_openEO_2022-12_median.tif',
        'data/monthly/band-stats.json',
        'data/mini-monthly/band-stats.json',
        'bvm_monthly_convlstm.yaml',
        'bvm_monthly_utae.yaml',
    ):
        assert (folder / path).is_file(), path
    with (
        rasterio.open(folder / 'data' / 'labels_22.tif') as labels,
        rasterio.open(
            folder / 'data' / 'sentinel2' / '22' / '22_openEO_2020-04-18Z.tif'
        ) as imagery,
    ):
        assert labels.transform == imagery.transform
        assert labels.crs == imagery.crs
    skipped = [r.command for r in runs if r.note and 'replaced' not in r.note]
    assert len(skipped) == 7


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sentinel1_page_runs_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # From an empty folder: the page generates its own mini-Flanders with radar.
    reader = Reader(tmp_path, not_run)
    runs = reader.read(blocks_of('docs/sentinel1.rst'))
    show(reader, capsys)
    assert not reader.noise()
    assert [r.status for r in runs] == [0] * len(runs)
    assert not (tmp_path / 'data' / 'sentinel1').exists()  # the dry run
    assert (tmp_path / 'data' / 'mini-radar').is_dir()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_split_page_runs_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = Reader(tmp_path, not_run)
    runs = reader.read(blocks_of('docs/split.rst'))
    show(reader, capsys)
    assert not reader.noise()
    assert [r.status for r in runs] == [0, 0]
    assert (tmp_path / 'split.png').is_file()
    assert (tmp_path / 'kbl4.gpkg').is_file()
