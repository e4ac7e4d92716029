"""The paper's configs run by TorchGeo's own CLI, and the stitched prediction maps."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from lightning.pytorch import Trainer
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import SemanticSegmentation

from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import ImageryOptions, LabelOptions

CONFIGS = Path(__file__).parents[2] / 'torchgeo_bvm' / 'configs'
UTM = 'EPSG:32631'


def datamodule(
    mini_flanders, mini_labels, bands: str = 'rgb', **kwargs
) -> BVMDataModule:
    folder, manifest = mini_flanders
    options = {
        'sentinel2_paths': str(folder / 'TOC_V2'),
        'bvm_paths': str(mini_labels),
        'labels': LabelOptions(boundary=str(folder / manifest['boundary'])),
        'sheets': [22],
        'imagery': ImageryOptions(bands=bands, crs=UTM, res=10.0),
        'patch_size': 32,
        'batch_size': 4,
        'length': 8,
    }
    options.update(kwargs)
    return BVMDataModule(**options)


def cli_overrides(mini_flanders, mini_labels, tmp_path) -> list[str]:
    folder, manifest = mini_flanders
    return [
        f'--data.init_args.sentinel2_paths={folder / "TOC_V2"}',
        f'--data.init_args.bvm_paths={mini_labels}',
        f'--data.init_args.labels.boundary={folder / manifest["boundary"]}',
        '--data.init_args.imagery={"stats": null}',
        '--data.init_args.sheets=[22]',
        f'--data.init_args.imagery.crs={UTM}',
        '--data.init_args.imagery.res=10',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=2',
        '--data.init_args.length=4',
        '--data.init_args.num_workers=0',
        '--trainer.accelerator=cpu',
        '--trainer.fast_dev_run=True',
        f'--trainer.default_root_dir={tmp_path}',
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ('config', 'channels'), [('bvm_rgb', 3), ('bvm_rgnir', 3), ('bvm_all', 11)]
)
def test_paper_configs_run_with_the_torchgeo_cli(
    config: str, channels: int, mini_flanders, mini_labels, tmp_path, monkeypatch
) -> None:
    # The configs' prediction writer writes relative to the working directory.
    monkeypatch.chdir(tmp_path)
    path = CONFIGS / f'{config}.yaml'
    overrides = cli_overrides(mini_flanders, mini_labels, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        # The hub is offline and its cache empty: fit trains from random
        # weights; validate, test and predict take the configs' `weights: true`
        # as written and never need them.
        torchgeo_main(
            ['fit', '--config', str(path), *overrides, '--model.init_args.weights=null']
        )
        for command in ('validate', 'test'):
            torchgeo_main([command, '--config', str(path), *overrides])
        predict = ['--config', str(path), *overrides]
        torchgeo_main(['predict', *predict, '--data.init_args.prediction.sheets=test'])
    confusion = tmp_path / 'evaluation' / config / 'confusion_matrix.csv'
    assert confusion.exists()
    # Beside it, the accuracy of each test sheet (the tiles' CRS places them).
    by_sheet = pd.read_csv(confusion.with_name('accuracy_by_sheet.csv'))
    assert len(by_sheet) > 0
    assert by_sheet['unit'].str.startswith('22/').all()
    assert confusion.with_name('accuracy.md').is_file()
    # Every date of the imagery: the period's folder is all-dates.
    folder = tmp_path / 'predictions' / config / 'all-dates'
    maps = sorted(folder.glob('*.tif'))
    assert [m.name for m in maps] == [
        '22_7-8.tif',
        '22_7-8_confidence.tif',
        '22_7-8_count.tif',
        '22_7-8_probabilities.tif',
    ]
    with rasterio.open(folder / '22_7-8_probabilities.tif') as source:
        assert source.count == NUM_CLASSES
        assert list(source.descriptions) == list(CLASS_NAMES)
    assert f'in_channels: {channels}' in path.read_text()


def test_configs_are_the_paper_setting() -> None:
    import yaml

    for name, bands, channels in [
        ('bvm_rgb', 'rgb', 3),
        ('bvm_rgnir', 'rgnir', 3),
        ('bvm_all', 'all', 11),
    ]:
        config = yaml.safe_load((CONFIGS / f'{name}.yaml').read_text())
        model = config['model']['init_args']
        assert (
            config['model']['class_path']
            == 'torchgeo_bvm.training.tasks.BVMSemanticSegmentation'
        )
        assert (model['model'], model['backbone'], model['weights']) == (
            'unet',
            'vgg16',
            True,
        )
        assert model['in_channels'] == channels
        assert model['num_classes'] == 14
        assert model['labels'] == list(CLASS_NAMES)
        assert model['ignore_index'] == IGNORE_INDEX
        data = config['data']['init_args']
        assert (
            config['data']['class_path']
            == 'torchgeo_bvm.training.datamodule.BVMDataModule'
        )
        assert (data['imagery']['bands'], data['batch_size'], data['patch_size']) == (
            bands,
            8,
            256,
        )
        assert config['trainer']['max_steps'] == 20000
        checkpoint = config['trainer']['callbacks'][0]
        assert checkpoint['init_args']['monitor'] == 'val_OverallAccuracy'
        assert checkpoint['init_args']['mode'] == 'max'
        # Paths the docs name: checkpoints/<config>/best.ckpt and last.ckpt.
        assert checkpoint['init_args']['dirpath'] == f'checkpoints/{name}'
        assert checkpoint['init_args']['filename'] == 'best'
        assert config['trainer']['logger']['class_path'].endswith('CSVLogger')


def test_every_config_is_complete_and_writes_its_own_folders() -> None:
    import yaml

    for path in sorted(CONFIGS.glob('*.yaml')):
        config = yaml.safe_load(path.read_text())
        assert {'model', 'data', 'trainer'} <= set(config), path.name
        callbacks = {
            c['class_path'].rsplit('.', 1)[-1]: c.get('init_args', {})
            for c in config['trainer']['callbacks']
        }
        assert 'MetricTable' in callbacks
        assert 'output_dir' not in callbacks['SheetPredictionWriter']
        data = config['data']['init_args']
        # The paper's configurations write beside each other, one folder each;
        # the demo's writes into the demo's own folder, as `make demo` does.
        root = 'demo-output/' if path.stem == 'demo' else ''
        name = '' if path.stem == 'demo' else f'/{path.stem}'
        assert data['prediction']['output_dir'] == f'{root}predictions{name}'
        assert callbacks['ConfusionMatrixWriter']['dirpath'] == (
            f'{root}evaluation{name}'
        )


def test_weighted_config_matches_table1() -> None:
    import yaml

    from torchgeo_bvm.bvm.statistics import median_frequency_weights
    from torchgeo_bvm.classes import PAPER_PIXELS

    table1 = [PAPER_PIXELS[name] for name in CLASS_NAMES]
    config = yaml.safe_load((CONFIGS / 'bvm_all_weighted.yaml').read_text())
    assert config['model']['init_args']['class_weights'] == median_frequency_weights(
        table1
    )
    focal = yaml.safe_load((CONFIGS / 'bvm_all_focal.yaml').read_text())
    assert focal['model']['init_args']['loss'] == 'focal'


def test_logged_metric_names(mini_flanders, mini_labels, tmp_path) -> None:
    dm = datamodule(mini_flanders, mini_labels)
    model = SemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        labels=list(CLASS_NAMES),
        ignore_index=IGNORE_INDEX,
    )
    trainer = Trainer(
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        limit_test_batches=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        metrics = trainer.test(model, datamodule=dm, verbose=False)[0]
    for name in (
        'test_loss',
        'test_OverallAccuracy',
        'test_AverageJaccardIndex',
        'test_ClasswiseJaccardIndex_Grasslands',
        'test_ClasswiseF1Score_Woodland and shrub',
        'test_ClasswisePrecision_Urban areas',
        'test_ClasswiseRecall_Water bodies',
    ):
        assert name in metrics, sorted(metrics)


def test_ddp_ranks_draw_different_crops(mini_flanders, mini_labels) -> None:
    # What Lightning does to the data module's training sampler under DDP: every
    # rank builds its own data module (same seed) and wraps its sampler.
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    crops = []
    for rank in (0, 1):
        dm = datamodule(mini_flanders, mini_labels, length=16)
        dm.setup('fit')
        assert dm.train_sampler is not None
        wrapper = DistributedSamplerWrapper(
            dm.train_sampler, num_replicas=2, rank=rank, shuffle=True, seed=0
        )
        crops.append([(q[0].start, q[1].start, q[2].start) for q in wrapper])
    reference = datamodule(mini_flanders, mini_labels, length=16)
    reference.setup('fit')
    epoch = {(q[0].start, q[1].start, q[2].start) for q in reference.train_sampler}
    assert len(crops[0]) == len(crops[1]) == 8
    assert not set(crops[0]) & set(crops[1])
    assert set(crops[0]) | set(crops[1]) == epoch


@pytest.mark.slow
def test_fit_runs_unchanged_under_ddp(mini_flanders, mini_labels, tmp_path) -> None:
    # Two CPU processes with the gloo backend stand in for two GPUs.
    dm = datamodule(mini_flanders, mini_labels, length=8)
    model = SemanticSegmentation(
        model='fcn',
        in_channels=3,
        num_classes=NUM_CLASSES,
        num_filters=4,
        ignore_index=IGNORE_INDEX,
    )
    trainer = Trainer(
        accelerator='cpu',
        devices=2,
        strategy='ddp_spawn',
        max_steps=2,
        limit_val_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        trainer.fit(model, datamodule=dm)
    assert trainer.world_size == 2
    assert trainer.state.finished
    assert 'val_OverallAccuracy' in trainer.callback_metrics


@pytest.mark.slow
@pytest.mark.parametrize(
    ('config', 'task', 'source'),
    [
        (
            'bvm_monthly_convlstm',
            'torchgeo.tasks.SpatioTemporalSegmentation',
            'season/openeo',
        ),
        (
            'bvm_monthly_unet',
            'torchgeo_bvm.training.tasks.BVMSemanticSegmentation',
            'season/TOC_V2',
        ),
        *(
            (
                f'bvm_monthly_{model}',
                'torchgeo_bvm.training.temporal.BVMTemporalSegmentation',
                'season/openeo',
            )
            for model in ('utae', 'late', 'pixel')
        ),
    ],
)
def test_temporal_configs_run_with_the_torchgeo_cli(
    config: str,
    task: str,
    source: str,
    mini_flanders,
    mini_labels,
    tmp_path,
    monkeypatch,
) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    path = CONFIGS / f'{config}.yaml'
    settings = yaml.safe_load(path.read_text())
    assert settings['model']['class_path'] == task
    data = settings['data']['init_args']
    assert data['time_series'] is True
    assert data['series']['temporal'] == 'monthly'
    overrides = cli_overrides(mini_flanders, mini_labels, tmp_path)
    folder, _ = mini_flanders
    overrides.append(f'--data.init_args.sentinel2_paths={folder / source}')
    # The hub is offline: the U-Nets train from random weights; the ConvLSTM
    # and the pixel encoder have none to load.
    model = settings['model']['init_args']
    weights = ['--model.init_args.weights=null'] if 'weights' in model else []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        # fit validates too (fast_dev_run: one batch); `torchgeo validate` on
        # its own runs with the paper's configs above.
        torchgeo_main(['fit', '--config', str(path), *overrides, *weights])
        torchgeo_main(['test', '--config', str(path), *overrides])
        predict = ['--config', str(path), *overrides]
        torchgeo_main(['predict', *predict, '--data.init_args.prediction.sheets=test'])
    assert (tmp_path / 'evaluation' / config / 'confusion_matrix.csv').exists()
    # The evaluation year, the latest of the imagery: its own folder.
    predicted = tmp_path / 'predictions' / config / '2022' / '22_7-8.tif'
    with rasterio.open(predicted) as source_map:
        classes = source_map.read(1)
        assert source_map.crs.to_epsg() == 32631
    assert set(np.unique(classes).tolist()) <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
    assert (classes != IGNORE_INDEX).any()


@pytest.mark.slow
@pytest.mark.parametrize(
    ('config', 'channels', 'radar_alone'),
    [
        ('bvm_monthly_s1s2_convlstm', 13, False),
        ('bvm_monthly_s1s2_unet', 12 * 13, False),
        ('bvm_monthly_s1s2_unet', 12 * 13, True),
    ],
)
def test_radar_configs_run_with_the_torchgeo_cli(
    config: str,
    channels: int,
    radar_alone: bool,
    mini_flanders,
    mini_labels,
    tmp_path,
    monkeypatch,
) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    path = CONFIGS / f'{config}.yaml'
    settings = yaml.safe_load(path.read_text())
    assert settings['model']['init_args']['in_channels'] == channels
    data = settings['data']['init_args']
    assert data['sentinel1_paths'] == 'data/sentinel1-monthly'
    assert data['radar'] == {
        'bands': 'dual',
        'orbit': 'ascending',
        'decibels': True,
        'stats': 'data/radar-stats/band-stats.json',
    }
    folder, manifest = mini_flanders
    overrides = [
        *cli_overrides(mini_flanders, mini_labels, tmp_path),
        f'--data.init_args.sentinel2_paths={folder / manifest["season"]["composites_root"]}',
        f'--data.init_args.sentinel1_paths={folder / manifest["radar"]["composites_root"]}',
        # A group's field set to null in one piece: jsonargparse reads
        # `--data.init_args.radar.stats=null` as the string 'None'.
        '--data.init_args.radar={"stats": null}',
    ]
    # The hub is offline: the U-Net trains from random weights; the ConvLSTM
    # has none to load.
    if 'weights' in settings['model']['init_args']:
        overrides.append('--model.init_args.weights=null')
    if radar_alone:
        # Sentinel-1 alone: VV and VH of 12 months.
        overrides += [
            '--data.init_args.sentinel2_paths=null',
            '--model.init_args.in_channels=24',
        ]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torchgeo_main(['fit', '--config', str(path), *overrides])
        torchgeo_main(
            [
                'predict',
                '--config',
                str(path),
                *overrides,
                '--data.init_args.prediction.sheets=test',
            ]
        )
    predicted = tmp_path / 'predictions' / config / '2022' / '22_7-8.tif'
    with rasterio.open(predicted) as source_map:
        classes = source_map.read(1)
        assert source_map.crs.to_epsg() == 32631
    assert set(np.unique(classes).tolist()) <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
    assert (classes != IGNORE_INDEX).any()
