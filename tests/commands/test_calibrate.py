"""``torchgeo-bvm calibrate``: a checkpoint copy whose map confidence is calibrated."""

from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader

from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.cli import main
from torchgeo_bvm.evaluation.calibration import confidence_table
from torchgeo_bvm.spatial.classraster import write_class_raster
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.classmap import write_class_map
from torchgeo_bvm.training.tasks import BVMSemanticSegmentation


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the task after one training step."""
    folder = tmp_path_factory.mktemp('model')
    torch.manual_seed(0)
    task = BVMSemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        ignore_index=IGNORE_INDEX,
    )
    sample = {
        'image': torch.rand(3, 16, 16),
        'mask': torch.zeros(16, 16, dtype=torch.long),
    }
    trainer = Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator='cpu',
        default_root_dir=folder,
        num_sanity_val_steps=0,
    )
    loader = DataLoader([sample], batch_size=1)
    trainer.fit(task, loader, loader)
    path = folder / 'model.ckpt'
    trainer.save_checkpoint(path)
    return path


def _maps(folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    grid = Grid.from_bounds(
        (500_000, 5_650_000, 501_000, 5_650_800), 'EPSG:32631', 10.0
    )
    classes = rng.choice([1, 2, 11], grid.shape).astype(np.uint8)
    probabilities = np.zeros((NUM_CLASSES, *grid.shape), dtype=np.uint8)
    raw = rng.integers(90, 251, grid.shape).astype(np.uint8)
    probabilities[classes, *np.indices(grid.shape)] = raw
    labels = np.where(rng.random(grid.shape) < raw / 250, classes, 0).astype(np.uint8)
    write_class_map(
        folder / 'val' / 'sheet.tif', classes, grid, raw, probabilities=probabilities
    )
    write_class_raster(folder / 'labels.tif', labels, grid, progress=False)
    return folder / 'val', folder / 'labels.tif', classes, raw, labels


def test_calibrate_writes_a_copy_with_the_confidence_tables(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maps, labels, classes, raw, reference = _maps(tmp_path)
    out = tmp_path / 'calibrated.ckpt'
    arguments = ['calibrate', '--maps', str(maps), '--labels', str(labels)]
    arguments += ['--checkpoint', str(checkpoint), '--out', str(out)]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert f'{classes.size:,} pixels of 1 maps against {labels}' in printed
    assert 'expected calibration error on them: ' in printed
    assert 'confidence tables of their own for 3 classes (Cultivated land, ' in printed
    assert f'wrote {out}' in printed
    expected = confidence_table(
        raw.ravel(), (classes == reference).ravel(), classes.ravel()
    )
    loaded = BVMSemanticSegmentation.load_from_checkpoint(out)
    np.testing.assert_allclose(loaded.confidence_table.numpy(), expected, atol=1e-6)
    assert loaded.map_confidence_table() is not None
    original = BVMSemanticSegmentation.load_from_checkpoint(checkpoint)
    np.testing.assert_allclose(
        original.confidence_table.numpy(),
        np.tile(np.arange(251) / 250, (NUM_CLASSES, 1)),
    )
    for name, value in original.state_dict().items():
        if name != 'confidence_table':
            assert torch.equal(value, loaded.state_dict()[name]), name
    # Again without --overwrite: refused; the checkpoint as its own output: refused.
    assert main(arguments) == 2
    assert 'exists' in capsys.readouterr().err
    same = [*arguments[:-1], str(checkpoint), '--overwrite']
    assert main(same) == 2
    assert 'torchgeo-bvm calibrate: error: ' in capsys.readouterr().err


def test_missing_inputs_are_one_line(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maps, labels, *_ = _maps(tmp_path)
    base = [
        'calibrate',
        '--maps',
        str(maps),
        '--labels',
        str(labels),
        '--out',
        str(tmp_path / 'c.ckpt'),
    ]
    assert main([*base, '--checkpoint', str(tmp_path / 'none.ckpt')]) == 2
    error = capsys.readouterr().err
    assert error.count('\n') == 1
    assert '--checkpoint not found' in error
    assert (
        main(
            [
                'calibrate',
                '--maps',
                str(maps),
                '--labels',
                str(tmp_path / 'none.tif'),
                '--checkpoint',
                str(checkpoint),
                '--out',
                str(tmp_path / 'd.ckpt'),
            ]
        )
        == 2
    )
    assert 'reference raster not found' in capsys.readouterr().err
