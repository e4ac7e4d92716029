import gc
import json
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from torchgeo.main import main as torchgeo_main

from tests.joint_scene import RES, Scene, write_scene
from torchgeo_bvm.bvm.labels import rasterize_bvm
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX
from torchgeo_bvm.datasets.bands import (
    ALL_BANDS,
    PAPER_CLOUD_RULE,
    REFLECTANCE_SCALE,
    CloudRule,
)
from torchgeo_bvm.datasets.bvm import BVMDataset
from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.errors import BVMError, BVMValueError
from torchgeo_bvm.samplers.prediction import SheetObservationSampler
from torchgeo_bvm.spatial.crs import resolution_for
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.normalization import compute_band_stats
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
    RadarOptions,
    SamplingOptions,
    TimeSeriesOptions,
    cloud_rule_from,
)

pytestmark = pytest.mark.filterwarnings('ignore:.*Unknown.*:UserWarning')


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def module(scene: Scene, **kwargs: Any) -> BVMDataModule:
    arguments: dict[str, Any] = {
        'sentinel2_paths': str(scene.imagery),
        'bvm_paths': str(scene.bvm),
        'sheets': [22],
        'imagery': ImageryOptions(crs='EPSG:31370', res=RES),
        'labels': LabelOptions(boundary=str(scene.boundary)),
        'patch_size': 32,
        'batch_size': 4,
        'length': 8,
    }
    arguments.update(kwargs)
    return BVMDataModule(**arguments)


def imagery(**kwargs: Any) -> ImageryOptions:
    """The scene's imagery options, changed."""
    return ImageryOptions(**{'crs': 'EPSG:31370', 'res': RES, **kwargs})


def test_arguments_are_few_and_grouped() -> None:
    import inspect

    parameters = inspect.signature(BVMDataModule.__init__).parameters
    assert len(parameters) - 1 <= 15
    assert parameters['radar'].annotation == 'RadarOptions'
    assert parameters['time_series'].annotation == 'bool'


def test_nothing_is_checked_or_read_before_a_stage_starts(scene: Scene) -> None:
    dm = module(scene, patch_size=48, sentinel2_paths='nowhere')
    assert dm.settings is None
    with pytest.raises(BVMValueError, match='multiple of 32'):
        dm.setup('fit')
    with pytest.raises(BVMValueError, match='multiple of 32'):
        dm.prepare_data()
    good = module(scene)
    assert good.check() is good.check() is good.settings
    assert good.bands == ALL_BANDS


@pytest.mark.parametrize('patch_size', [48, 0, 100])
def test_patch_size_must_be_a_multiple_of_32(scene: Scene, patch_size: int) -> None:
    with pytest.raises(ValueError, match=f'multiple of 32.*got {patch_size}'):
        module(scene, patch_size=patch_size).check()


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'sheets': [44]}, 'unknown map sheet number 44'),
        ({'sheets': ['22/1-2']}, r'1:50,000 sheet numbers \(1..43\), got 22/1-2'),
        (
            {
                'sampling': SamplingOptions(
                    split_scheme={
                        '1-2': 'train',
                        '3-4': 'train',
                        '5-6': 'train',
                        '7-8': 'test',
                    }
                )
            },
            "sampling.split_scheme has no split 'val'",
        ),
        ({'imagery': imagery(cloud_rule='foggy')}, "unknown cloud_rule 'foggy'"),
        (
            {'imagery': imagery(normalization='minmax')},
            "unknown normalization 'minmax'",
        ),
        ({'imagery': imagery(bands=['B02', 'B10'])}, "unknown band 'B10'"),
        (
            {'radar': RadarOptions(stats='None'), 'sentinel1_paths': 'nowhere'},
            "^radar.stats is the text 'None' and no such file exists: to set it to "
            'null on the command line, give the group in one piece, e.g. '
            '--data.init_args.radar=\'{"stats": null}\'$',
        ),
        (
            {'imagery': imagery(res=[1.0, 2.0, 3.0])},
            r'imagery.res takes one or two values \(x, then y\), got 3',
        ),
        (
            {'series': TimeSeriesOptions(stack='channels')},
            r'^series \(stack\) applies to time series: set time_series to true$',
        ),
        (
            {'labels': LabelOptions(boundary='nowhere.shp')},
            '^labels.boundary: nowhere.shp not found$',
        ),
    ],
)
def test_bad_arguments(scene: Scene, kwargs: dict[str, Any], message: str) -> None:
    dm = module(scene, **kwargs)
    with pytest.raises(BVMError, match=message) as error:
        dm.check()
    assert '\n' not in str(error.value)


def test_cloud_rules_from_yaml_values() -> None:
    assert cloud_rule_from('default') == CloudRule()
    assert cloud_rule_from('paper') == PAPER_CLOUD_RULE
    assert cloud_rule_from('none') is None
    assert cloud_rule_from(None) is None
    assert cloud_rule_from({'valid': [4, 5], 'dilation_m': 50}) == CloudRule(
        valid=(4, 5), dilation_m=50.0
    )
    with pytest.raises(ValueError, match=r"unknown cloud_rule keys \['radius'\]"):
        cloud_rule_from({'radius': 3})


@pytest.mark.parametrize(
    ('bands', 'channels'), [('rgb', 3), ('rgnir', 3), ('all', 11), (['B08', 'B11'], 2)]
)
def test_batches_have_the_right_shapes(scene: Scene, bands: Any, channels: int) -> None:
    dm = module(scene, imagery=imagery(bands=bands))
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (4, channels, 32, 32)
    assert batch['mask'].shape == (4, 32, 32)
    assert batch['mask'].dtype == torch.int64
    assert ((batch['mask'] != IGNORE_INDEX).flatten(1).any(1)).all()
    val = next(iter(dm.val_dataloader()))
    assert val['image'].shape == (4, channels, 32, 32)
    assert len(dm.val_sampler) == 20  # 22/3-4: 160 x 100 pixels in 5 x 4 tiles

    augmented = dm.train_aug({k: v.clone() for k, v in batch.items()})
    assert augmented['image'].shape == batch['image'].shape
    assert augmented['mask'].dtype == torch.int64
    for i in range(4):  # flips and rotations move pixels, they never change them
        assert sorted(augmented['mask'][i].flatten().tolist()) == sorted(
            batch['mask'][i].flatten().tolist()
        )
        original = np.sort(batch['image'][i].numpy() / REFLECTANCE_SCALE, axis=None)
        moved = np.sort(augmented['image'][i].numpy(), axis=None)
        assert np.allclose(moved, original, atol=1e-6)


def test_statistics_file_normalises_on_the_device(scene: Scene, tmp_path: Path) -> None:
    image = Sentinel2TOC(scene.imagery, crs='EPSG:31370')
    stats = compute_band_stats(image, numbers=[22], progress=False)
    path = stats.write(tmp_path / 'stats.json')
    dm = module(scene, imagery=imagery(bands='rgnir', stats=str(path)))
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    out = dm.aug({k: v.clone() for k, v in batch.items()})
    picked = [ALL_BANDS.index(b) for b in ('B03', 'B04', 'B08')]
    mean = torch.tensor([stats.mean[i] for i in picked]).view(1, 3, 1, 1)
    std = torch.tensor([stats.std[i] for i in picked]).view(1, 3, 1, 1)
    assert torch.allclose(out['image'], (batch['image'] - mean) / std, atol=1e-5)
    assert torch.equal(out['mask'], batch['mask'])

    paper = module(
        scene,
        imagery=imagery(bands='rgb', stats=str(path), normalization='percentile'),
    )
    paper.check()
    low = torch.tensor([stats.percentile(1)[ALL_BANDS.index(b)] for b in ('B02',)])
    assert paper.aug[0].flags['mean'][0] == pytest.approx(float(low[0]))


def test_no_imagery_for_the_chosen_dates(scene: Scene) -> None:
    dm = module(scene, imagery=imagery(years=[2019]))
    with pytest.raises(ValueError, match='no Sentinel-2 date in years'):
        dm.setup('fit')


def test_no_imagery_at_all(scene: Scene, tmp_path: Path) -> None:
    (tmp_path / 'empty').mkdir()
    dm = module(scene, sentinel2_paths=str(tmp_path / 'empty'))
    with pytest.raises(ValueError, match='no Sentinel-2 imagery found in'):
        dm.setup('fit')


def test_a_split_without_data(scene: Scene) -> None:
    dm = module(scene, sheets=[22, 23])
    dm.setup('fit')  # sheet 23 has no imagery, sheet 22 has
    only_23 = module(scene, sheets=[23])
    with pytest.raises(ValueError, match="split 'train' has no data"):
        only_23.setup('fit')


def test_label_rasters_and_flanders_from_the_labels(
    scene: Scene, tmp_path: Path
) -> None:
    reference = next(scene.imagery.rglob('*.tif'))
    labels = rasterize_bvm(
        scene.bvm, tmp_path / 'labels.tif', like=reference, progress=False
    )
    dm = module(
        scene,
        bvm_paths=str(labels),
        labels=LabelOptions(),
        imagery=imagery(cache_dir=str(tmp_path / 'c')),
    )
    dm.setup('fit')
    assert dm.joint is not None
    assert type(dm.joint.datasets[1]).__name__ == 'BVMRaster'
    assert list((tmp_path / 'c').glob('flanders-*.gpkg'))
    batch = next(iter(dm.train_dataloader()))
    assert batch['mask'].shape == (4, 32, 32)
    vector = module(scene)
    vector.setup('validate')
    raster = module(scene, bvm_paths=str(labels))
    raster.setup('validate')
    for q in list(vector.val_sampler)[:5]:
        assert torch.equal(vector.val_dataset[q]['mask'], raster.val_dataset[q]['mask'])


def test_predict_reads_every_date_of_the_chosen_sheets(scene: Scene) -> None:
    dm = module(
        scene, prediction=PredictionOptions(sheets='test', stride=32, batch_size=3)
    )
    dm.setup('test')
    dm.setup('predict')
    assert dm.test_dataset.split == 'test'
    sampler = dm.predict_sampler
    assert isinstance(sampler, SheetObservationSampler)
    # The test tiles, each on both dates.
    tiles = [(x, y) for x, y, _ in dm.test_sampler]
    assert sorted(map(repr, ((x, y) for x, y, _ in sampler))) == sorted(
        map(repr, tiles * 2)
    )
    batch = next(iter(dm.predict_dataloader()))
    assert set(batch) == {
        'image',
        'valid',
        'bounds',
        'transform',
        'sheet',
        'observation',
        'tile',
    }
    assert batch['image'].shape == (3, 11, 32, 32)
    assert batch['valid'].shape == (3, 32, 32)


def test_geographic_default_crs_with_workers(scene: Scene) -> None:
    dm = module(
        scene,
        imagery=ImageryOptions(crs='EPSG:4326', res=list(resolution_for(4326, RES))),
        num_workers=2,
    )
    dm.setup('fit')
    assert dm.joint is not None
    assert dm.joint.crs.to_epsg() == 4326
    batches = iter(dm.train_dataloader())
    batch = next(batches)
    del batches
    gc.collect()  # the iterator sits in a reference cycle: stop its workers now
    assert batch['image'].shape == (4, 11, 32, 32)


def test_setup_prepares_the_polygons_and_indexes_once(
    scene: Scene, tmp_path: Path
) -> None:
    cache = tmp_path / 'cache'
    dm = module(scene, imagery=imagery(cache_dir=str(cache)))
    dm.setup('fit')
    assert dm.joint is not None
    labels = dm.joint.datasets[1]
    assert isinstance(labels, BVMDataset)
    # Prepared in this (the main) process, before any worker starts: workers
    # map the file instead of preparing their own polygons.
    assert labels.bvm.loaded
    assert labels._polygons().mapped
    assert not labels.load().cached
    assert len(list(cache.glob('bvm-polygons-*.bin'))) == 1
    assert len(list(cache.glob('sentinel2-index-*.json'))) == 1
    again = module(scene, imagery=imagery(cache_dir=str(cache)))
    again.setup('fit')
    assert again.joint is not None
    assert again.joint.datasets[1].load().cached  # type: ignore[attr-defined]


def test_plot(scene: Scene) -> None:
    dm = module(scene, imagery=imagery(bands='rgnir'))
    assert dm.plot() is None
    dm.setup('validate')
    sample = dm.val_dataset[next(iter(dm.val_sampler))]
    sample['prediction'] = sample['mask']
    figure = dm.plot(sample)
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_title().startswith('false colour (B08 B04 B03), 20')


@pytest.mark.slow
def test_torchgeo_fit_from_a_yaml_config(scene: Scene, tmp_path: Path) -> None:
    config = tmp_path / 'config.yaml'
    config.write_text(
        f"""
model:
  class_path: torchgeo.tasks.SemanticSegmentation
  init_args:
    model: unet
    backbone: resnet18
    in_channels: 3
    num_classes: 14
    ignore_index: {IGNORE_INDEX}
data:
  class_path: torchgeo_bvm.training.datamodule.BVMDataModule
  init_args:
    sentinel2_paths: {scene.imagery}
    bvm_paths: {scene.bvm}
    sheets: [22]
    patch_size: 32
    batch_size: 2
    length: 4
    imagery:
      bands: rgb
      crs: EPSG:31370
      res: {RES}
      cloud_rule: {{valid: [4, 5, 6, 7], dilation_m: 0}}
    labels:
      boundary: {scene.boundary}
trainer:
  accelerator: cpu
  max_epochs: 1
  default_root_dir: {tmp_path}
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
"""
    )
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torchgeo_main(
            ['fit', '--config', str(config), '--trainer.fast_dev_run', 'True']
        )


# ------------------------------------------------------------------ time series

UTM = 'EPSG:32631'


def series_module(mini_flanders, mini_labels, **kwargs: Any) -> BVMDataModule:
    """A monthly series of the mini-Flanders; ``series`` options, ``months``,
    ``bands`` and ``stats`` are keywords too."""
    folder, manifest = mini_flanders
    series = {
        k: kwargs.pop(k) for k in ('temporal', 'max_dates', 'min_clear', 'stack',
                                   'eval_year') if k in kwargs
    }  # fmt: skip
    time_series = kwargs.pop('time_series', True)
    arguments: dict[str, Any] = {
        'sentinel2_paths': str(folder / 'season/openeo'),
        'bvm_paths': str(mini_labels),
        'labels': LabelOptions(boundary=str(folder / manifest['boundary'])),
        'sheets': [22],
        'imagery': ImageryOptions(
            crs=UTM,
            res=10.0,
            **{k: kwargs.pop(k) for k in ('months', 'bands', 'stats') if k in kwargs},
        ),
        'patch_size': 32,
        'batch_size': 4,
        'length': 8,
        'time_series': time_series,
        'series': TimeSeriesOptions(**series) if series else None,
    }
    arguments.update(kwargs)
    return BVMDataModule(**arguments)


def on_device(dm: BVMDataModule, batch: dict[str, Any], stage: str) -> dict[str, Any]:
    """What Lightning does to a batch after moving it to the device."""
    states = ('training', 'validating', 'sanity_checking', 'testing', 'predicting')
    dm.trainer = SimpleNamespace(**{s: s == stage for s in states})  # type: ignore[assignment]
    try:
        return dm.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)
    finally:
        dm.trainer = None


@pytest.mark.parametrize(
    ('kwargs', 'image', 'extra'),
    [
        ({}, (4, 12, 11, 32, 32), {'dates': (4, 12)}),
        ({'stack': 'channels'}, (4, 132, 32, 32), {'dates': (4, 12)}),
        ({'months': [4, 5, 6, 7], 'bands': 'rgb'}, (4, 4, 3, 32, 32), {}),
        (
            {'temporal': 'dates', 'max_dates': 16, 'sentinel2_paths': 'products'},
            (4, 16, 11, 32, 32),
            {'dates': (4, 16), 'length': (4,)},
        ),
    ],
)
def test_time_series_batches(
    mini_flanders, mini_labels, kwargs: dict[str, Any], image: tuple, extra: dict
) -> None:
    if kwargs.get('sentinel2_paths') == 'products':
        kwargs['sentinel2_paths'] = str(mini_flanders[0] / 'season/TOC_V2')
    dm = series_module(mini_flanders, mini_labels, **kwargs)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert dm.series is not None
    steps, bands = dm.check().steps, len(dm.bands)
    assert batch['image'].shape == (4, steps, bands, 32, 32)
    assert batch['mask'].shape == (4, 32, 32)
    assert batch['mask'].dtype == torch.int64
    for key, shape in extra.items():
        assert batch[key].shape == shape
    if 'length' in extra:
        assert (batch['length'] == 16).all()  # 36 dates a year, at most 16 kept
    observed = (batch['image'] != 0).flatten(2).any(dim=-1)
    for stage in ('training', 'validating'):
        out = on_device(dm, batch, stage)
        assert out['image'].shape == image
        for key in extra:
            assert torch.equal(out[key], batch[key])
        # Which steps hold data, read before normalisation moved the fill value.
        assert torch.equal(out['valid_steps'], observed)
    val = next(iter(dm.val_dataloader()))
    assert val['image'].shape == (4, steps, bands, 32, 32)
    assert set(val) == set(batch)


def test_one_augmentation_for_every_step_and_the_mask(
    mini_flanders, mini_labels
) -> None:
    dm = series_module(mini_flanders, mini_labels, bands='rgb')
    # Every step and band a multiple of one pattern, and the mask the same
    # pattern: a step moved otherwise than the mask would break the ratio.
    pattern = torch.arange(32 * 32, dtype=torch.float32).reshape(32, 32) + 1
    scale = torch.arange(1, 12 * 3 + 1, dtype=torch.float32).reshape(1, 12, 3, 1, 1)
    batch = {
        'image': pattern.expand(8, 12, 3, 32, 32) * scale,
        'mask': (pattern.long() % 200).expand(8, 32, 32).clone(),
        'dates': torch.arange(12).expand(8, 12).clone(),
    }
    torch.manual_seed(0)
    out = on_device(dm, batch, 'training')
    moved = out['image'] * REFLECTANCE_SCALE / scale
    for sample in range(8):
        first = moved[sample, 0, 0]
        assert torch.allclose(moved[sample], first.expand(12, 3, 32, 32), rtol=1e-5)
        assert torch.equal(first.round().long() % 200, out['mask'][sample])
    changed = [not torch.equal(out['mask'][s], batch['mask'][s]) for s in range(8)]
    assert sum(changed) >= 5  # flips and rotations did happen
    assert torch.equal(out['dates'], batch['dates'])


def test_each_band_is_normalised_alike_at_every_step(
    mini_flanders, mini_labels, tmp_path: Path
) -> None:
    folder, _ = mini_flanders
    image = Sentinel2TOC(folder / 'TOC_V2', crs=UTM, res=10.0)
    stats = compute_band_stats(image, numbers=[22], progress=False)
    path = stats.write(tmp_path / 'stats.json')
    dm = series_module(mini_flanders, mini_labels, bands='rgnir', stats=str(path))
    dm.setup('validate')
    batch = next(iter(dm.val_dataloader()))
    picked = [ALL_BANDS.index(b) for b in ('B03', 'B04', 'B08')]
    mean = torch.tensor([stats.mean[i] for i in picked]).view(1, 1, 3, 1, 1)
    std = torch.tensor([stats.std[i] for i in picked]).view(1, 1, 3, 1, 1)
    out = on_device(dm, batch, 'validating')
    assert torch.allclose(out['image'], (batch['image'] - mean) / std, atol=1e-5)
    assert torch.equal(out['mask'], batch['mask'])


@pytest.mark.slow
def test_min_clear_masks_pixels_seldom_clear(mini_flanders, mini_labels) -> None:
    products = str(mini_flanders[0] / 'season/TOC_V2')
    options = {'sentinel2_paths': products, 'temporal': 'dates', 'max_dates': 36}
    once = series_module(mini_flanders, mini_labels, **options)
    often = series_module(mini_flanders, mini_labels, min_clear=12, **options)
    never = series_module(mini_flanders, mini_labels, min_clear=36, **options)
    for dm in (once, often, never):
        dm.setup('validate')
    checked = 0
    for query in list(once.val_sampler):
        a, b, c = (dm.val_dataset[query] for dm in (once, often, never))
        assert torch.equal(a['image'], b['image'])
        x, y, t = query
        clear = once.val_dataset.datasets[0][x, y, t]['valid'].sum(dim=0)
        if not bool((a['mask'] != IGNORE_INDEX).all()):
            continue  # mirrored or outside Flanders: compare where labelled
        assert torch.equal(b['mask'], torch.where(clear >= 12, a['mask'], IGNORE_INDEX))
        assert 0 < int((b['mask'] != IGNORE_INDEX).sum()) < a['mask'].numel()
        checked += 1
        # No pixel is clear on all 36 dates (two are overcast).
        assert bool((c['mask'] == IGNORE_INDEX).all())
    assert checked >= 1


def test_mirrored_series_tiles_are_the_single_dates_mirrored(
    mini_flanders, mini_labels
) -> None:
    series = series_module(mini_flanders, mini_labels)
    single = series_module(mini_flanders, mini_labels, time_series=False)
    series.setup('validate')
    single.setup('validate')
    assert series.eval_period == 2022
    queries = list(series.val_sampler)
    assert {q[2].start for q in queries} == {pd.Timestamp('2022-01-01')}
    mirrored = 0
    for x, y, _ in queries:
        sample = series.val_dataset[x, y, calendar_year(2022)]
        for step in range(12):
            month = pd.Timestamp(2022, step + 1, 1)
            one = single.val_dataset[x, y, slice(month, month + pd.offsets.MonthEnd())]
            assert torch.equal(sample['image'][step], one['image'])
        mirrored += int(bool((sample['mask'] == IGNORE_INDEX).any()))
    assert mirrored >= 1


def test_evaluation_period(mini_flanders, mini_labels) -> None:
    folder, _ = mini_flanders
    both = [str(folder / 'TOC_V2'), str(folder / 'season/TOC_V2')]
    dm = series_module(mini_flanders, mini_labels, sentinel2_paths=both, eval_year=2021)
    dm.setup('test')
    assert dm.eval_period == 2021
    assert {q[2] for q in dm.test_sampler} == {calendar_year(2021)}
    latest = series_module(mini_flanders, mini_labels, sentinel2_paths=both)
    latest.setup('predict')
    assert latest.eval_period == 2022
    missing = series_module(mini_flanders, mini_labels, eval_year=2019)
    with pytest.raises(
        BVMValueError, match=r'^eval_year 2019: the imagery has no date in 2019, only '
    ):
        missing.setup('validate')


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'temporal': 'weekly'}, "unknown temporal layout 'weekly'"),
        ({'temporal': 'dates'}, "series.temporal 'dates' needs series.max_dates"),
        (
            {'temporal': 'dates', 'max_dates': 0},
            'max_dates must be between 1 and 1000',
        ),
        ({'max_dates': 12}, "series.max_dates applies to series.temporal 'dates'"),
        ({'min_clear': 13}, 'min_clear 13 is more than the 12 steps'),
        ({'min_clear': 0}, 'min_clear must be at least 1'),
        ({'stack': 'depth'}, "unknown stack 'depth'"),
        (
            {'time_series': False, 'stack': 'channels'},
            r'^series \(stack\) applies to time series: set time_series to true$',
        ),
        ({'eval_year': '2022'}, "eval_year must be a year, got '2022'"),
        (
            {'prediction': PredictionOptions(months=[7])},
            '^prediction.months applies to single-date models: a series model maps',
        ),
    ],
)
def test_bad_time_series_arguments(
    mini_flanders, mini_labels, kwargs: dict[str, Any], message: str
) -> None:
    dm = series_module(mini_flanders, mini_labels, **kwargs)
    with pytest.raises(BVMValueError, match=message) as error:
        dm.check()
    assert '\n' not in str(error.value)


def test_plot_of_a_series(mini_flanders, mini_labels) -> None:
    dm = series_module(mini_flanders, mini_labels, bands='rgnir', stack='channels')
    dm.setup('validate')
    sample = dm.val_dataset[next(iter(dm.val_sampler))]
    for image in (sample['image'], sample['image'].reshape(36, 32, 32)):
        figure = dm.plot({**sample, 'image': image, 'prediction': sample['mask']})
        assert isinstance(figure, Figure)
        titles = [axis.get_title() for axis in figure.axes]
        assert titles[:2] == ['2022-01-01', '2022-02-01']
        assert titles[12:14] == ['labels', 'prediction']
        assert figure.texts[0].get_text() == '12 steps, false colour (B08 B04 B03)'
        # The legend beside them names the classes of the labels, and the
        # ignored pixels when there are any.
        (legend,) = [axis.get_legend() for axis in figure.axes if axis.get_legend()]
        present = set(sample['mask'].unique().tolist())
        expected = [CLASS_NAMES[c] for c in sorted(present - {IGNORE_INDEX})]
        entries = [text.get_text() for text in legend.get_texts()]
        assert entries[: len(expected)] == expected
        assert len(entries) == len(expected) + (IGNORE_INDEX in present)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        (
            {},
            '^sentinel1_paths beside sentinel2_paths stacks the two sensors month '
            'by month: set time_series: true with series.temporal: monthly$',
        ),
        (
            {
                'time_series': True,
                'series': TimeSeriesOptions(temporal='dates', max_dates=4),
            },
            'sentinel1_paths beside sentinel2_paths stacks',
        ),
        (
            {'sentinel2_paths': None, 'imagery': imagery(bands='rgb')},
            '^imagery.bands applies to Sentinel-2, and sentinel2_paths is null: set '
            'radar.bands for the Sentinel-1 bands$',
        ),
        (
            {'sentinel2_paths': None, 'imagery': imagery(stats='x.json')},
            '^imagery.stats applies to Sentinel-2',
        ),
        (
            {'sentinel2_paths': None, 'imagery': imagery(cloud_rule='paper')},
            '^imagery.cloud_rule applies to Sentinel-2',
        ),
        (
            {'sentinel2_paths': None, 'radar': RadarOptions(bands='VV,HH')},
            "^radar: unknown Sentinel-1 band 'HH'",
        ),
        (
            {'sentinel2_paths': None, 'radar': RadarOptions(orbit='west')},
            "^radar: unknown orbit 'west'",
        ),
        (
            {'sentinel2_paths': None, 'radar': RadarOptions(stats='nowhere.json')},
            '^radar.stats: nowhere.json not found$',
        ),
        (
            {'sentinel1_paths': None, 'radar': RadarOptions(decibels=False)},
            '^radar.decibels applies to Sentinel-1: give sentinel1_paths$',
        ),
        ({'bvm_paths': None}, '^bvm_paths is required'),
        (
            {'sentinel2_paths': None, 'sentinel1_paths': None},
            '^no imagery: give sentinel2_paths, sentinel1_paths or both$',
        ),
        (
            {'sentinel1_paths': 'nowhere', 'sentinel2_paths': None},
            '^sentinel1_paths: nowhere not found$',
        ),
    ],
)
def test_bad_radar_arguments(
    scene: Scene, kwargs: dict[str, Any], message: str
) -> None:
    # Checked before anything is read: the scene's folder stands for the radar.
    dm = module(scene, **{'sentinel1_paths': str(scene.imagery), **kwargs})
    with pytest.raises(BVMError, match=message) as error:
        dm.check()
    assert '\n' not in str(error.value)


def radar_module(mini_flanders, mini_labels, **kwargs: Any) -> BVMDataModule:
    folder, manifest = mini_flanders
    arguments: dict[str, Any] = {
        'sentinel2_paths': str(folder / manifest['season']['composites_root']),
        'sentinel1_paths': str(folder / manifest['radar']['composites_root']),
        'bvm_paths': str(mini_labels),
        'labels': LabelOptions(boundary=str(folder / manifest['boundary'])),
        'sheets': [22],
        'imagery': ImageryOptions(crs='EPSG:32631', res=10.0),
        'time_series': True,
        'patch_size': 32,
        'batch_size': 2,
        'length': 2,
    }
    arguments.update(kwargs)
    return BVMDataModule(**arguments)


def test_radar_beside_optical_batches(mini_flanders, mini_labels) -> None:
    dm = radar_module(
        mini_flanders,
        mini_labels,
        imagery=ImageryOptions(bands='rgb', crs='EPSG:32631', res=10.0),
    )
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (2, 12, 5, 32, 32)
    assert dm.input_layout.bands == ('B02', 'B03', 'B04', 'VV', 'VH')
    # Without statistics: reflectance / 10000, the radar's dB as they are.
    mean, std = dm.check().normalisation()
    assert torch.equal(mean, torch.zeros(60))
    assert torch.equal(std, torch.tensor([1e4, 1e4, 1e4, 1.0, 1.0] * 12))


def test_radar_alone(mini_flanders, mini_labels, tmp_path) -> None:
    from torchgeo_bvm.cli import main as bvm_main

    folder, manifest = mini_flanders
    radar = folder / manifest['radar']['composites_root']
    arguments = ['stats', '--bands', 'dual', '--sentinel1', str(radar)]
    arguments += ['--crs', 'EPSG:32631', '--res', '10', '--sheets', '22']
    assert bvm_main([*arguments, '--out', str(tmp_path)]) == 0
    stats = tmp_path / 'band-stats.json'
    dm = radar_module(
        mini_flanders,
        mini_labels,
        sentinel2_paths=None,
        radar=RadarOptions(stats=str(stats)),
    )
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (2, 12, 2, 32, 32)
    assert dm.input_layout.bands == ('VV', 'VH')
    written = json.loads(stats.read_text())
    assert written['bands'] == ['VV', 'VH']
    mean, std = dm.check().normalisation()
    assert mean.tolist() == pytest.approx(written['mean'] * 12)
    assert std.tolist() == pytest.approx(written['std'] * 12)
    # The backscatter of land in dB, VV above VH.
    assert -20 < written['mean'][1] < written['mean'][0] < 0
    single = radar_module(
        mini_flanders, mini_labels, sentinel2_paths=None, time_series=False
    )
    single.setup('fit')
    assert next(iter(single.train_dataloader()))['image'].shape == (2, 2, 32, 32)
