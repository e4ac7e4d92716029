"""The scripts in ``examples/`` run on the embedded mini-Flanders at its tiny size."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import rasterio

from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.synth.flanders import write_mini_flanders

EXAMPLES = Path(__file__).resolve().parents[1] / 'examples'
SCRIPTS = ['bvm_in_torchgeo', 'custom_split', 'predict_map']


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'examples_{name}', EXAMPLES / f'{name}.py'
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def mini_flanders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny mini-Flanders shared by every example test."""
    folder = tmp_path_factory.mktemp('examples') / 'mini-flanders'
    write_mini_flanders(folder, 'tiny')
    return folder


def run(name: str, data: Path, out: Path, *extra: str) -> None:
    """Run an example's ``main`` as its command line would."""
    argv = ['--data', str(data), '--size', 'tiny', '--out', str(out), *extra]
    assert load_example(name).main(argv) == 0


@pytest.mark.parametrize('name', SCRIPTS)
def test_documented_and_runnable(name: str) -> None:
    module = load_example(name)
    assert module.__doc__ is not None
    assert f'python examples/{name}.py --data' in module.__doc__
    parser_args = module.parse_args(['--data', 'x'])
    assert parser_args.size == 'demo'
    assert parser_args.data == Path('x')


def test_bvm_in_torchgeo(
    mini_flanders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run('bvm_in_torchgeo', mini_flanders, tmp_path, '--batches', '2')
    printed = capsys.readouterr().out
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
    plot = tmp_path / 'bvm_in_torchgeo.png'
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_custom_split(
    mini_flanders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run('custom_split', mini_flanders, tmp_path)
    printed = capsys.readouterr().out
    out = tmp_path / 'custom_split'
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
        transform = source.transform
    # The counts are the label raster's pixels, split at x/y of the kbl8 edges
    # (the tiny region lies in 22/2, 22/3, 22/6 and 22/7, which meet at
    # x = 114,000, y = 188,000 in Lambert 72).
    counts = pd.read_csv(out / 'class_counts.csv', index_col='class')
    assert list(counts.index) == list(CLASS_NAMES)
    per_split = counts[['train', 'val', 'test']].sum()
    labelled = int((labels != IGNORE_INDEX).sum())
    assert int(per_split.sum()) == labelled
    assert per_split['train'] > per_split['val'] > 0
    assert per_split['test'] > 0
    expected = np.bincount(labels[labels != IGNORE_INDEX], minlength=NUM_CLASSES)
    assert counts[['train', 'val', 'test']].sum(axis=1).tolist() == expected.tolist()
    assert transform.a == 10.0


@pytest.mark.slow
def test_predict_map(
    mini_flanders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ['--steps', '2', '--batch-size', '4']
    run('predict_map', mini_flanders, tmp_path, *extra)
    printed = capsys.readouterr().out
    out = tmp_path / 'predict_map'
    checkpoint = out / 'model.ckpt'
    assert checkpoint.is_file()
    assert f'trained 2 steps, checkpoint: {checkpoint}' in printed
    # The paper's split: the test sheet of the tiny region is 22/7-8.
    tif = out / 'predictions' / '22_7-8.tif'
    assert sorted(p.name for p in (out / 'predictions').glob('*.tif')) == [
        tif.name,
        '22_7-8_confidence.tif',
        '22_7-8_count.tif',
    ]
    assert (out / 'predictions' / '22_7-8.png').is_file()
    assert (out / 'predictions' / 'mosaic.png').is_file()
    with rasterio.open(tif) as source:
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

    # A checkpoint for other bands is refused before predicting (the data
    # module checks the model against its batches).
    with pytest.raises(
        ValueError,
        match=r'^the model \(SemanticSegmentation\) takes 11 input channels '
        r'\(in_channels\), and the data module gives 3: single dates of the bands '
        r'B02, B03, B04',
    ):
        run(
            'predict_map',
            mini_flanders,
            tmp_path,
            '--checkpoint',
            str(checkpoint),
            '--bands',
            'rgb',
        )
