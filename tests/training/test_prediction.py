"""Fused maps from ``Trainer.predict`` against a computation in plain numpy.

The exact scene (``tests/joint_scene.py``: sheet 22 at 100 m in EPSG:31370,
``B02`` = column, ``B03`` = row, every other band a constant per band and date)
is predicted on three dates whose clouds overlap, by a model that looks at one
pixel at a time (a fixed 1 x 1 convolution and a softmax). Whatever tiles cover
a pixel, its fused probabilities must then be the mean of the model's
probabilities over the dates on which the pixel is clear, computed here from
the band values alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor
from torchgeo.main import main as torchgeo_main

from tests.joint_scene import (
    FLANDERS_EAST,
    HEIGHT,
    LEFT,
    MISSING,
    RES,
    TOP,
    WIDTH,
    Scene,
    band_value,
    write_scene,
)
from tests.rasters import assert_class_palette, assert_valid_cog
from torchgeo_bvm.classes import IGNORE_INDEX, NUM_CLASSES
from torchgeo_bvm.cli import main as bvm_main
from torchgeo_bvm.datasets.bands import ALL_BANDS, REFLECTANCE_SCALE
from torchgeo_bvm.datasets.series import calendar_year
from torchgeo_bvm.errors import BVMExistsError, BVMValueError
from torchgeo_bvm.maps.files import CONFIDENCE_SCALE
from torchgeo_bvm.maps.folder import MANIFEST
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.training.datamodule import BVMDataModule
from torchgeo_bvm.training.options import (
    ImageryOptions,
    LabelOptions,
    PredictionOptions,
)
from torchgeo_bvm.training.prediction import SheetPredictionWriter

pytestmark = pytest.mark.filterwarnings('ignore:.*Unknown.*:UserWarning')

DATES = ('2021-05-01', '2021-06-10', '2021-07-20')
#: Clouds per date: rows 125-129, columns 35-39 are cloudy on all three.
CLOUDS = {
    0: (slice(120, 130), slice(20, 40)),
    1: (slice(125, 135), slice(30, 50)),
    2: (slice(120, 130), slice(35, 45)),
}
SHEETS = ('22/1-2', '22/5-6', '22/3-4', '22/7-8')


class PixelModel(LightningModule):
    """A fixed 1 x 1 convolution and a softmax: each pixel on its own."""

    def __init__(self, bands: int = len(ALL_BANDS)) -> None:
        super().__init__()
        weight, bias = pixel_weights(bands)
        self.conv = torch.nn.Conv2d(bands, NUM_CLASSES, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(weight)[:, :, None, None])
            self.conv.bias.copy_(torch.from_numpy(bias))

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> Any:
        logits = self.conv(batch['image'])
        return {'probabilities': logits.softmax(dim=1), 'transform': batch['transform']}


def pixel_weights(bands: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    # B02 and B03 (column and row / 10000) vary across the sheet, the other
    # bands by 1e-4 from date to date: weights that make both matter.
    varying = [ALL_BANDS.index('B02'), ALL_BANDS.index('B03')]
    scale = np.full(bands, 3000.0)
    scale[varying] = 300.0
    weight = rng.normal(size=(NUM_CLASSES, bands)) * scale
    # The constant bands of the first date cancel: what is left of them is the
    # change from date to date.
    first = np.array([band_value(b, 0) for b in ALL_BANDS]) / REFLECTANCE_SCALE
    first[varying] = 0.0
    bias = rng.normal(size=NUM_CLASSES) - weight @ first
    return weight.astype(np.float32), bias.astype(np.float32)


def expected_maps() -> dict[str, np.ndarray]:
    """Classes, probabilities and counts of the whole scene, in numpy."""
    weight, bias = pixel_weights(len(ALL_BANDS))
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    total = np.zeros((NUM_CLASSES, HEIGHT, WIDTH))
    count = np.zeros((HEIGHT, WIDTH), dtype=np.int64)
    for k in range(len(DATES)):
        bands = np.stack(
            [
                columns if b == 'B02' else rows if b == 'B03' else
                np.full((HEIGHT, WIDTH), band_value(b, k))
                for b in ALL_BANDS
            ]
        ).astype(np.float64) / REFLECTANCE_SCALE  # fmt: skip
        logits = np.einsum('cb,bhw->chw', weight.astype(np.float64), bands)
        logits += bias[:, None, None]
        p = np.exp(logits - logits.max(axis=0))
        p /= p.sum(axis=0)
        clear = np.ones((HEIGHT, WIDTH), bool)
        if k in CLOUDS:
            clear[CLOUDS[k]] = False
        total += p * clear
        count += clear
    with np.errstate(invalid='ignore'):
        fused = total / count
    inside = columns * RES + LEFT + RES / 2 < FLANDERS_EAST
    classes = np.where(count > 0, fused.argmax(axis=0), IGNORE_INDEX)
    classes[~inside] = IGNORE_INDEX
    counts = np.where(inside, count, IGNORE_INDEX)
    return {'classes': classes, 'probabilities': fused, 'count': counts}


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('fusion-scene'), DATES, CLOUDS)


def data_arguments(scene: Scene, **prediction: Any) -> dict[str, Any]:
    """The data module's arguments for the scene, as YAML init_args."""
    return {
        'sentinel2_paths': str(scene.imagery),
        'bvm_paths': str(scene.bvm),
        'sheets': [22],
        'patch_size': 64,
        'batch_size': 8,
        'imagery': {'crs': 'EPSG:31370', 'res': RES},
        'labels': {'boundary': str(scene.boundary)},
        'prediction': prediction,
    }


def datamodule(scene: Scene, **prediction: Any) -> BVMDataModule:
    arguments = data_arguments(scene, **prediction)
    return BVMDataModule(
        **{k: arguments[k] for k in ('sentinel2_paths', 'bvm_paths', 'sheets')},
        patch_size=64,
        batch_size=8,
        imagery=ImageryOptions(**arguments['imagery']),
        labels=LabelOptions(**arguments['labels']),
        prediction=PredictionOptions(**prediction),
    )


def predict(
    dm: BVMDataModule, out: Path | None, **kwargs: Any
) -> SheetPredictionWriter:
    writer = SheetPredictionWriter(out, **kwargs)
    trainer = Trainer(
        accelerator='cpu',
        devices=1,
        logger=False,
        enable_progress_bar=False,
        callbacks=[writer],
    )
    trainer.predict(PixelModel(), datamodule=dm)
    return writer


@pytest.fixture(scope='module')
def fused(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('fused')
    writer = predict(datamodule(scene, years=2021), out, probabilities=True)
    assert writer.folder == out / '2021'
    return out / '2021'


def scene_window(path: Path) -> tuple[slice, slice]:
    with rasterio.open(path) as src:
        column = round((src.transform.c - LEFT) / RES)
        row = round((TOP - src.transform.f) / RES)
        return slice(row, row + src.height), slice(column, column + src.width)


def test_fusion_is_the_mean_over_clear_dates(fused: Path) -> None:
    expected = expected_maps()
    probabilities = expected['probabilities']
    # Leave out pixels whose two best classes nearly tie: float32 may swap them.
    top_two = np.sort(np.nan_to_num(probabilities), axis=0)[-2:]
    decided = top_two[1] - top_two[0] > 1e-4
    for code in SHEETS:
        path = fused / f'{Sheet.parse(code).file_safe}.tif'
        window = scene_window(path)
        with rasterio.open(path) as src:
            classes = src.read(1)
        want = expected['classes'][window]
        sure = decided[window] | (want == IGNORE_INDEX)
        assert np.array_equal(classes[sure], want[sure]), code
        assert sure.mean() > 0.99
        with rasterio.open(path.with_name(path.stem + '_count.tif')) as src:
            assert np.array_equal(src.read(1), expected['count'][window])
        with rasterio.open(path.with_name(path.stem + '_probabilities.tif')) as src:
            stored = src.read().astype(float) * src.scales[0]
        has = want != IGNORE_INDEX
        assert np.abs(stored[:, has] - probabilities[:, *window][:, has]).max() <= (
            0.5 / CONFIDENCE_SCALE + 1e-4
        )
        with rasterio.open(path.with_name(path.stem + '_confidence.tif')) as src:
            confidence = src.read(1)
        best = probabilities[:, *window].max(axis=0)
        assert (
            np.abs(confidence[has] - best[has] * CONFIDENCE_SCALE).max() <= 0.5 + 0.03
        )
        assert (confidence[~has] == IGNORE_INDEX).all()
    # Cloudy on every date: no class, count 0.
    nowhere = fused / '22_5-6.tif'
    with rasterio.open(nowhere) as src:
        assert (src.read(1)[25:30, 35:40] == IGNORE_INDEX).all()
    with rasterio.open(fused / '22_5-6_count.tif') as src:
        counts = src.read(1)
    assert (counts[25:30, 35:40] == 0).all()
    assert counts[25, 30] == 1
    assert counts[20, 20] == 2
    assert counts[50, 50] == 3


def test_every_output_is_a_cog_on_its_sheet_grid(fused: Path) -> None:
    for code in SHEETS:
        sheet = Sheet.parse(code)
        xmin, ymin, xmax, ymax = sheet.bounds
        stem = sheet.file_safe
        for suffix in ('', '_confidence', '_count', '_probabilities'):
            path = fused / f'{stem}{suffix}.tif'
            assert_valid_cog(path)
            with rasterio.open(path) as src:
                assert src.crs == 'EPSG:31370'
                assert src.transform == rasterio.Affine(RES, 0, xmin, 0, -RES, ymax)
                assert (src.height, src.width) == (
                    round((ymax - ymin) / RES),
                    round((xmax - xmin) / RES),
                )
                assert src.nodata == IGNORE_INDEX
        assert_class_palette(fused / f'{stem}.tif')
        assert (fused / f'{stem}.png').is_file()
    with rasterio.open(fused / 'mosaic.vrt') as src:
        assert (src.height, src.width) == (HEIGHT, WIDTH)
        assert src.transform == rasterio.Affine(RES, 0, LEFT, 0, -RES, TOP)
        mosaic = src.read(1)
    assert np.array_equal(mosaic[100:, 160:], read(fused / '22_7-8.tif'))
    assert np.array_equal(mosaic[:100, :160], read(fused / '22_1-2.tif'))
    manifest = json.loads((fused / MANIFEST).read_text())
    assert manifest['format'] == 'torchgeo-bvm prediction'
    assert (manifest['period'], manifest['name']) == ('2021', '2021')
    assert manifest['complete'] is True
    assert manifest['sheets'] == list(SHEETS)
    assert 'mosaic.png' in manifest['files']
    assert sorted(p.name for p in fused.iterdir()) == sorted(
        [*manifest['files'], MANIFEST]
        + [f'{Sheet.parse(c).file_safe}.tif.aux.xml' for c in SHEETS]
    )
    # Nothing of the run is left beside the folder.
    assert sorted(p.name for p in fused.parent.iterdir()) == ['2021']


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def test_compare_reads_the_fused_maps(
    scene: Scene, fused: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / 'comparison'
    assert bvm_main(['compare', '--bvm', str(scene.bvm), '--maps', str(fused),
                     '--out', str(out), '--quiet'])  == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert 'candidates' in printed
    table = gpd.read_file(out / 'disagreement.gpkg')
    # Every 1 km square holds 10 x 10 pixels: its pixels with a class.
    classes = expected_maps()['classes']
    squares = [(i, j) for i in range(32) for j in range(20) if (i, j) not in MISSING]
    expected = sum(
        int((classes[10 * j : 10 * j + 10, 10 * i : 10 * i + 10] != IGNORE_INDEX).sum())
        for i, j in squares
    )
    assert int(table['pixels'].sum()) == expected


def test_a_rerun_replaces_its_period_and_keeps_the_users_files(
    scene: Scene, tmp_path: Path
) -> None:
    out = tmp_path / 'maps'
    first = predict(datamodule(scene, months=[5, 6]), out, preview=False)
    assert first.folder == out / 'all-years_m05-06'
    manifest = json.loads((first.folder / MANIFEST).read_text())
    assert manifest['period'] == 'every year, months 5, 6'
    (first.folder / 'notes.txt').write_text('mine')
    rerun = datamodule(scene, months=[5, 6], sheets='test')
    writer = predict(rerun, out, preview=False, mosaic=False)
    assert sorted(p.name for p in first.folder.iterdir()) == sorted(
        [
            '22_7-8.tif',
            '22_7-8.tif.aux.xml',
            '22_7-8_confidence.tif',
            '22_7-8_count.tif',
            MANIFEST,
            'notes.txt',
        ]
    )
    assert (first.folder / 'notes.txt').read_text() == 'mine'
    assert writer.written == [
        first.folder / '22_7-8_count.tif',
        first.folder / '22_7-8_confidence.tif',
        first.folder / '22_7-8.tif',
    ]
    assert sorted(p.name for p in out.iterdir()) == ['all-years_m05-06']


def test_another_period_is_kept_beside_or_refused(scene: Scene, tmp_path: Path) -> None:
    out = tmp_path / 'maps'
    predict(datamodule(scene, years=2021, months=[5], sheets='test'), out)
    predict(datamodule(scene, years=2021, months=[6], sheets='test'), out)
    assert sorted(p.name for p in out.iterdir()) == ['2021_m05', '2021_m06']
    for name, month in (('2021_m05', 5), ('2021_m06', 6)):
        manifest = json.loads((out / name / MANIFEST).read_text())
        assert manifest['period'] == f'2021, months {month}'
    # Into one folder, without the period subfolder: the first period's maps
    # are kept and the second run refused before it predicts.
    one = tmp_path / 'one'
    may = datamodule(scene, years=2021, months=[5], sheets='test', period_folder=False)
    predict(may, one)
    before = {p.name: p.read_bytes() for p in one.iterdir()}
    june = datamodule(scene, years=2021, months=[6], sheets='test', period_folder=False)
    with pytest.raises(
        BVMExistsError,
        match=rf'^{one} holds the maps of 2021, months 5 \(prediction.json\), this '
        r'run maps 2021, months 6: they are kept; predict into another folder',
    ):
        predict(june, one)
    assert {p.name: p.read_bytes() for p in one.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['maps', 'one']


def test_tiles_in_any_order_make_the_same_maps(
    scene: Scene, fused: Path, tmp_path: Path
) -> None:
    class Shuffled:
        """The plan's queries in a random order (a sampler Lightning iterates)."""

        def __init__(self, sampler: Any) -> None:
            self.plan = sampler.plan
            self.queries = list(sampler)
            self.order = np.random.default_rng(0).permutation(len(self.queries))

        def __iter__(self) -> Any:
            return (self.queries[i] for i in self.order)

        def __len__(self) -> int:
            return len(self.queries)

    class ShuffledModule(BVMDataModule):
        def setup(self, stage: str) -> None:
            super().setup(stage)
            self.predict_sampler = Shuffled(self.predict_sampler)  # type: ignore[assignment]

    base = datamodule(scene, years=2021)
    dm = ShuffledModule(
        sentinel2_paths=base.options['sentinel2_paths'],
        bvm_paths=base.options['bvm_paths'],
        sheets=[22],
        patch_size=64,
        batch_size=8,
        imagery=base.imagery,
        labels=base.labels,
        prediction=base.prediction,
    )
    writer = predict(dm, tmp_path, probabilities=True)
    expected = expected_maps()
    for code in SHEETS:
        name = Sheet.parse(code).file_safe
        window = scene_window(fused / f'{name}.tif')
        for suffix in ('_count', '_confidence'):
            shuffled = read(writer.folder / f'{name}{suffix}.tif')
            in_order = read(fused / f'{name}{suffix}.tif')
            assert np.abs(shuffled.astype(int) - in_order).max() <= 1, suffix
        assert np.array_equal(
            read(writer.folder / f'{name}_count.tif'), expected['count'][window]
        )
        classes = read(writer.folder / f'{name}.tif')
        # Sums in another order differ in the last bits: ties may swap.
        assert (classes == read(fused / f'{name}.tif')).mean() > 0.999


@pytest.mark.parametrize(
    ('prediction', 'message'),
    [
        (
            {'years': [2019]},
            r'^no imagery in the period \(2019\): the imagery has dates in '
            r'2021-05, 2021-06, 2021-07$',
        ),
        (
            {'years': [2021], 'months': [8]},
            r'^no imagery in the period \(2021, months 8\)',
        ),
        (
            {'sheets': '22/7'},
            r'^sheet 22/7 is part of sheet 22/7-8: maps are made per sheet',
        ),
    ],
)
def test_bad_periods_and_sheets_are_one_line_errors(
    scene: Scene, prediction: dict[str, Any], message: str
) -> None:
    dm = datamodule(scene, **prediction)
    with pytest.raises(BVMValueError, match=message):
        dm.setup('predict')


def test_a_named_sheet_outside_the_data_is_an_error(scene: Scene) -> None:
    dm = datamodule(scene, sheets=['22/7-8', '23/1-2'])
    dm.options['sheets'] = [22, 23]
    with pytest.raises(
        BVMValueError,
        match=r'^sheet 23/1-2 outside the data: no pixel where imagery, labels and '
        r'Flanders meet; the data cover 22/7-8$',
    ):
        dm.setup('predict')


@pytest.mark.parametrize(
    ('prediction', 'message'),
    [
        ({'stride': 0}, 'prediction.stride must be between 1 and 64, got 0'),
        ({'stride': 65}, 'prediction.stride must be between 1 and 64, got 65'),
        ({'years': [1990]}, 'prediction.years must be between 2015 and 2100'),
        (
            {'batch_size': 0},
            'prediction.batch_size must be between 1 and 4096, got 0',
        ),
        ({'months': 'May'}, 'prediction.months must be a list of whole numbers'),
        (
            {'sheets': '15'},
            r'^prediction.sheets: sheet 15 is not among the sheets \[22\]; add 15',
        ),
        (
            {'sheets': 'test,22/9'},
            "^prediction.sheets: invalid map sheet code '22/9': expected 'X' \\(kbl\\)",
        ),
        ({'sheets': ','}, '^prediction.sheets: no sheet named'),
    ],
)
def test_bad_predict_options_stop_the_data_module(
    scene: Scene, prediction: dict[str, Any], message: str
) -> None:
    dm = datamodule(scene, **prediction)
    with pytest.raises(BVMValueError, match=message):
        dm.setup('predict')
    assert dm.joint is None  # refused before anything was read


def test_outputs_where_the_datasets_read_are_refused(scene: Scene) -> None:
    inside = scene.imagery / 'maps'
    with pytest.raises(
        BVMExistsError,
        match=rf'^prediction.output_dir {inside} lies inside the folder '
        rf'{scene.imagery} that sentinel2_paths reads',
    ):
        predict(datamodule(scene, sheets='22/7-8'), inside)
    assert not inside.exists()


def predict_config(scene: Scene, folder: Path, devices: int) -> Path:
    trainer: dict[str, Any] = {
        'accelerator': 'cpu',
        'devices': devices,
        'logger': False,
        'enable_progress_bar': False,
        'default_root_dir': str(folder / f'run{devices}'),
        'callbacks': [
            {'class_path': 'torchgeo_bvm.training.prediction.SheetPredictionWriter'}
        ],
    }
    if devices > 1:
        trainer['strategy'] = 'ddp'
    config = {
        'model': {
            'class_path': 'torchgeo_bvm.training.tasks.BVMSemanticSegmentation',
            'init_args': {
                'model': 'fcn',
                'num_filters': 8,
                'in_channels': len(ALL_BANDS),
                'num_classes': NUM_CLASSES,
                'weights': None,
            },
        },
        'data': {
            'class_path': 'torchgeo_bvm.training.datamodule.BVMDataModule',
            'init_args': data_arguments(
                scene, years=[2021], output_dir=str(folder / f'maps{devices}')
            ),
        },
        'trainer': trainer,
    }
    path = folder / f'predict{devices}.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


def test_torchgeo_predict_of_a_second_period_keeps_the_first(
    scene: Scene, tmp_path: Path
) -> None:
    """Two periods into one ``prediction.output_dir``: each its own folder."""
    config = yaml.safe_load(predict_config(scene, tmp_path, 1).read_text())
    config['data']['init_args']['prediction'] = {
        'sheets': 'test',
        'output_dir': str(tmp_path / 'maps'),
    }
    path = tmp_path / 'periods.yaml'
    path.write_text(yaml.safe_dump(config))
    first = ['predict', '--config', str(path), '--data.init_args.prediction.months=[5]']
    torchgeo_main(first)
    may = tmp_path / 'maps' / 'all-years_m05'
    before = {p.name: p.read_bytes() for p in may.iterdir()}
    torchgeo_main(
        ['predict', '--config', str(path), '--data.init_args.prediction.months=[6]']
    )
    assert sorted(p.name for p in (tmp_path / 'maps').iterdir()) == [
        'all-years_m05',
        'all-years_m06',
    ]
    assert {p.name: p.read_bytes() for p in may.iterdir()} == before
    june = json.loads((tmp_path / 'maps' / 'all-years_m06' / MANIFEST).read_text())
    assert june['period'] == 'every year, months 6'


@pytest.mark.slow
def test_two_processes_write_what_one_writes(scene: Scene, tmp_path: Path) -> None:
    """``torchgeo predict`` under DDP (gloo, two CPU processes) and on one device."""
    torchgeo_main(['predict', '--config', str(predict_config(scene, tmp_path, 1))])
    # DDP starts the second process as a copy of the command line: a real one.
    torchgeo = str(Path(sys.executable).with_name('torchgeo'))
    env = {k: v for k, v in os.environ.items() if k != 'TORCHGEO_BVM_DEBUG'}
    config = predict_config(scene, tmp_path, 2)
    done = subprocess.run(
        [torchgeo, 'predict', '--config', str(config)],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'MEMBER: 2/2' in done.stdout + done.stderr
    one, two = tmp_path / 'maps1' / '2021', tmp_path / 'maps2' / '2021'
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert len([n for n in names if n.endswith('.tif')]) == 12
    for name in names:
        if name.endswith(('.tif', '.json', '.xml')):
            assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_a_cut_short_run_maps_what_it_predicted(scene: Scene, tmp_path: Path) -> None:
    writer = SheetPredictionWriter(tmp_path / 'maps', preview=False)
    trainer = Trainer(
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        callbacks=[writer],
        limit_predict_batches=2,
    )
    trainer.predict(PixelModel(), datamodule=datamodule(scene, years=2021))
    maps = tmp_path / 'maps' / '2021'
    manifest = json.loads((maps / MANIFEST).read_text())
    assert manifest['sheets'] == ['22/1-2']
    assert manifest['complete'] is True
    assert (maps / 'mosaic.vrt').is_file()
    assert not (maps / '22_7-8.tif').exists()


def test_the_writer_needs_the_observation_sampler(tmp_path: Path) -> None:
    trainer = Trainer(
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        callbacks=[SheetPredictionWriter(tmp_path)],
    )
    data = torch.utils.data.DataLoader([{'image': torch.zeros(11, 32, 32)}])
    with pytest.raises(
        BVMValueError,
        match='needs a data module whose predict_sampler holds a PredictionPlan',
    ):
        trainer.predict(PixelModel(), data)


# -- time series: one observation a year, its clear months counted ---------------


@pytest.mark.parametrize('stack', ['time', 'channels'])
def test_a_series_model_counts_the_clear_months_of_every_pixel(
    mini_flanders, mini_labels, tmp_path: Path, stack: str
) -> None:
    from torchgeo.tasks import SemanticSegmentation, SpatioTemporalSegmentation

    from torchgeo_bvm.training.options import TimeSeriesOptions

    folder, manifest = mini_flanders
    dm = BVMDataModule(
        sentinel2_paths=str(folder / 'season/openeo'),
        bvm_paths=str(mini_labels),
        sheets=[22],
        patch_size=32,
        batch_size=8,
        time_series=True,
        imagery=ImageryOptions(bands='rgb', crs='EPSG:32631', res=10.0),
        labels=LabelOptions(boundary=str(folder / manifest['boundary'])),
        series=TimeSeriesOptions(stack=stack),
        prediction=PredictionOptions(sheets='test', output_dir=str(tmp_path)),
    )
    torch.manual_seed(0)
    model = (
        SpatioTemporalSegmentation(
            in_channels=3, num_classes=NUM_CLASSES, hidden_dim=4, num_layers=1
        )
        if stack == 'time'
        else SemanticSegmentation(
            model='fcn', in_channels=36, num_classes=NUM_CLASSES, num_filters=4
        )
    )
    writer = SheetPredictionWriter(preview=False, mosaic=False)
    trainer = Trainer(
        accelerator='cpu', logger=False, enable_progress_bar=False, callbacks=[writer]
    )
    trainer.predict(model, datamodule=dm)
    # The evaluation year, the latest of the imagery, and its folder.
    assert writer.folder == tmp_path / '2022'
    assert json.loads((writer.folder / MANIFEST).read_text())['period'] == '2022'
    (sheet,) = dm.predict_sampler.plan.sheets
    counted = read(writer.folder / f'{sheet.sheet.file_safe}_count.tif')
    # The imagery's own valid masks of the whole sheet, month by month.
    xmin, ymin, xmax, ymax = sheet.grid.bounds
    imagery = dm.predict_dataset.datasets[0]
    year = imagery[slice(xmin, xmax), slice(ymin, ymax), calendar_year(2022)]
    assert year['valid'].shape == (12, *sheet.grid.shape)
    months = year['valid'].sum(dim=0).numpy()
    mask = sheet.mask()
    assert np.array_equal(counted[mask], months[mask])
    assert (counted[~mask] == IGNORE_INDEX).all()
    # The tiny mini-Flanders' months: clear 4 to 12 times at a pixel.
    assert counted[mask].min() >= 4
    assert counted[mask].max() == 12
