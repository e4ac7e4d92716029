"""The scripts in ``examples/`` run as ``docs/examples.rst`` shows them.

The page's commands run as written, each in a process of its own
(:class:`tests.docs_commands.Reader`) and a test of its own (so that
pytest-xdist spreads them), in a folder that holds what the page starts from:
a clone's ``examples/`` and the folder the quick start's demo made. The
prediction example needs the demo's checkpoint and band statistics: it starts
from the ``quick_demo`` fixture's folder. The two others read only the
demo's ``demo-output/data``, the tiny mini-Flanders the demo generates (seed
0), which is what the ``shared_flanders`` fixture holds: they start from it
and need not wait for the demo. A process of its own matters: a test that
imported the package first hid that ``predict_map.py`` could not load the
demo's checkpoint.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import rasterio

from tests.docs_commands import (
    ROOT,
    Reader,
    Run,
    copy_folder,
    documented_blocks,
    environment,
)
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES

EXAMPLES = ROOT / 'examples'
SCRIPTS = ['bvm_in_torchgeo', 'custom_split', 'predict_map']


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'examples_{name}', EXAMPLES / f'{name}.py'
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_section(folder: Path, name: str) -> Run:
    """Run the command of the page's section on ``examples/<name>.py`` as written.

    Args:
        folder: the reader's folder, holding ``demo-output``; the clone's
            ``examples/`` is copied into it.
        name: the script.

    Returns:
        The run.
    """
    (folder / 'examples').mkdir()
    for script in SCRIPTS:
        shutil.copy(EXAMPLES / f'{script}.py', folder / 'examples')
    blocks = [
        b
        for b in documented_blocks(['docs/examples.rst'])
        if b.language == 'sh' and f'examples/{name}.py' in b.text
    ]
    reader = Reader(folder)
    (run,) = reader.read(blocks)
    assert not reader.noise()
    return run


def after_the_demo_data(tmp_path: Path, shared_flanders: Path) -> Path:
    """A folder whose ``demo-output/data`` is the demo's tiny mini-Flanders."""
    folder = tmp_path / 'clone'
    copy_folder(shared_flanders, folder / 'demo-output' / 'data')
    return folder


@pytest.mark.parametrize('name', SCRIPTS)
def test_documented_and_runnable(name: str) -> None:
    module = load_example(name)
    assert module.__doc__ is not None
    assert f'python examples/{name}.py --data' in module.__doc__
    parser_args = module.parse_args(['--data', 'x'])
    assert parser_args.size is None  # the folder's size, else demo
    assert parser_args.data == Path('x')
    documented = [
        c for b in documented_blocks(['docs/examples.rst']) for c in b.commands()
    ]
    assert [c for c in documented if f'examples/{name}.py' in c], name


def test_each_command_of_the_page_is_one_scripts_section() -> None:
    # The tests below run the page section by section: together, every command.
    blocks = [
        b for b in documented_blocks(['docs/examples.rst']) if b.language != 'text'
    ]
    assert [b.language for b in blocks] == ['sh'] * len(SCRIPTS)
    for block, name in zip(blocks, SCRIPTS, strict=True):
        (command,) = block.commands()
        assert command.startswith(f'python examples/{name}.py --data demo-output/data')


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bvm_in_torchgeo(tmp_path: Path, shared_flanders: Path) -> None:
    folder = after_the_demo_data(tmp_path, shared_flanders)
    printed = run_section(folder, 'bvm_in_torchgeo').output
    # The demo's folder is the tiny region: its size is kept, nothing generated.
    assert 'mini-Flanders:' not in printed
    assert 'CRS EPSG:32631, resolution (10.0, 10.0)' in printed
    # merge_joint_samples: one image, one mask, 9-value bounds, no SCL 'valid'.
    for index in (0, 1):
        assert (
            f'batch {index}: image (4, 11, 64, 64), bounds (4, 9), transform (4, 9), '
            'mask (4, 64, 64)'
        ) in printed
    assert 'batch 2' not in printed
    counts = {
        name: int(count)
        for name, count in re.findall(r'^  (\S.*?)\s+(\d+)$', printed, re.MULTILINE)
    }
    assert set(counts) <= set(CLASS_NAMES)
    assert {'Cultivated land', 'Urban areas'} <= set(counts)
    assert 0 < sum(counts.values()) <= 2 * 4 * 64 * 64
    plot = folder / 'example-output' / 'bvm_in_torchgeo.png'
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_custom_split(tmp_path: Path, shared_flanders: Path) -> None:
    folder = after_the_demo_data(tmp_path, shared_flanders)
    printed = run_section(folder, 'custom_split').output
    out = folder / 'example-output' / 'custom_split'
    assert 'train 22/1, 22/4, 22/6, 22/7' in printed
    assert 'val   22/3, 22/5' in printed
    assert 'test  22/2, 22/8' in printed
    assert 'train batch: image (4, 11, 64, 64), mask (4, 64, 64)' in printed
    for name in ('split_map.png', 'class_distribution.png'):
        assert (out / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    with rasterio.open(out / 'labels.tif') as source:
        assert source.crs.to_epsg() == 32631
        assert source.res == (10.0, 10.0)
        assert source.nodata == IGNORE_INDEX
        labels = source.read(1)
    # The counts are the label raster's pixels, split at x/y of the kbl8 edges
    # (the tiny region lies in 22/2, 22/3, 22/6 and 22/7).
    counts = pd.read_csv(out / 'class_counts.csv', index_col='class')
    assert list(counts.index) == list(CLASS_NAMES)
    per_split = counts[['train', 'val', 'test']].sum()
    labelled = int((labels != IGNORE_INDEX).sum())
    assert int(per_split.sum()) == labelled
    assert per_split['train'] > per_split['val'] > 0
    assert per_split['test'] > 0
    expected = np.bincount(labels[labels != IGNORE_INDEX], minlength=NUM_CLASSES)
    assert counts[['train', 'val', 'test']].sum(axis=1).tolist() == expected.tolist()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_predict_map_with_the_demo_checkpoint(
    tmp_path: Path,
    quick_demo: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / 'clone'
    copy_folder(quick_demo[0], folder)
    printed = run_section(folder, 'predict_map').output
    checkpoint = 'demo-output/training/checkpoints/best.ckpt'
    assert (
        f'model: unet (resnet18 encoder), 11 input channels, {checkpoint}\n' in printed
    )
    out = folder / 'example-output' / 'predict_map' / 'predictions'
    # The paper's split: the test sheet of the tiny region is 22/7-8.
    assert sorted(p.name for p in out.glob('*.tif')) == [
        '22_7-8.tif',
        '22_7-8_confidence.tif',
        '22_7-8_count.tif',
    ]
    assert (out / '22_7-8.png').is_file()
    assert (out / 'mosaic.png').is_file()
    with rasterio.open(out / '22_7-8.tif') as source:
        assert source.crs.to_epsg() == 32631
        assert source.res == (10.0, 10.0)
        assert source.dtypes == ('uint8',)
        assert source.nodata == IGNORE_INDEX
        classes = source.read(1)
    predicted = classes[classes != IGNORE_INDEX]
    assert predicted.size > 0
    assert predicted.max() < NUM_CLASSES
    assert f'CRS EPSG:32631, shape {classes.shape}, pixel (10.0, 10.0) m' in printed
    assert f'predicted pixels {predicted.size}, no data' in printed
    top = CLASS_NAMES[int(np.bincount(predicted).argmax())]
    assert re.search(
        rf'^    {re.escape(top)}\s+{np.bincount(predicted).max()} ', printed, re.M
    )

    # A checkpoint for other bands is refused in one line before predicting
    # (the data module checks the model against its batches).
    arguments = ['--data', str(folder / 'demo-output' / 'data'), '--bands', 'rgb']
    arguments += ['--checkpoint', str(folder / checkpoint), '--out', str(folder / 'x')]
    assert load_example('predict_map').main(arguments) == 2
    assert re.match(
        r'predict_map.py: error: the model \((BVM)?SemanticSegmentation\) takes 11 input '
        r'channels \(in_channels\), and the data module gives 3: single dates of '
        r'the bands B02, B03, B04',
        capsys.readouterr().err.splitlines()[-1],
    )
    assert not (folder / 'x' / 'predict_map' / 'predictions').exists()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_predict_map_trains_a_model_without_a_checkpoint(
    tmp_path: Path, shared_flanders: Path
) -> None:
    copy_folder(shared_flanders, tmp_path / 'mini-flanders')
    command = (
        f'python {EXAMPLES / "predict_map.py"} --data mini-flanders '
        '--out example-output --steps 2 --batch-size 4'
    )
    done = subprocess.run(
        ['bash', '-c', command], cwd=tmp_path, env=environment(),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = Path('example-output/predict_map/model.ckpt')
    assert f'trained 2 steps, checkpoint: {checkpoint}' in done.stdout
    assert f'model: fcn, 11 input channels, {checkpoint}\n' in done.stdout
    assert (tmp_path / 'example-output/predict_map/predictions/22_7-8.tif').is_file()
