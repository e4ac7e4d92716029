"""OpticalRadarSeries: Sentinel-2 and Sentinel-1 months of the mini-Flanders,
stacked per step, each sensor with its own validity."""

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
import torch

from torchgeo_bvm.datasets import OpticalRadarSeries, Sentinel1Sigma0, Sentinel2TOC
from torchgeo_bvm.datasets.imagery import imagery_grid
from torchgeo_bvm.errors import BVMValueError

UTM = 'EPSG:32631'
YEAR = slice(pd.Timestamp('2022-01-01'), pd.Timestamp('2022-12-31 23:59:59'))


def sensors(
    mini_flanders: tuple[Path, dict[str, Any]], **radar: Any
) -> tuple[Sentinel2TOC, Sentinel1Sigma0]:
    folder, manifest = mini_flanders
    grid = {'crs': UTM, 'res': 10.0, 'time_series': True}
    optical = Sentinel2TOC(folder / manifest['season']['composites_root'], **grid)
    arguments = {'decibels': True, **grid, **radar}
    return optical, Sentinel1Sigma0(
        folder / manifest['radar']['composites_root'], **arguments
    )


def window(dataset: Any, pixels: int = 32) -> tuple[slice, slice, slice]:
    x, y, _ = dataset.bounds
    return (
        slice(x.start, x.start + 10 * pixels, 10.0),
        slice(y.start, y.start + 10 * pixels, 10.0),
        YEAR,
    )


def test_the_months_of_both_sensors_stacked_per_step(mini_flanders) -> None:
    optical, radar = sensors(mini_flanders)
    fused = OpticalRadarSeries(optical, radar)
    assert fused.bands == (*optical.bands, 'VV', 'VH')
    assert fused.crs == optical.crs
    assert fused.res == optical.res
    assert imagery_grid(fused) == optical.native_grid
    query = window(fused)
    sample = fused[query]
    alone, backscatter = optical[query], radar[query]
    assert sample['image'].shape == (12, 13, 32, 32)
    assert torch.equal(sample['image'][:, :11], alone['image'])
    assert torch.equal(sample['image'][:, 11:], backscatter['image'])
    assert torch.equal(sample['dates'], alone['dates'])
    assert torch.equal(sample['valid_optical'], alone['valid'])
    assert torch.equal(sample['valid_radar'], backscatter['valid'])
    assert torch.equal(sample['valid'], alone['valid'] | backscatter['valid'])


def test_a_cloudy_month_keeps_its_radar(mini_flanders) -> None:
    optical, radar = sensors(mini_flanders)
    sample = OpticalRadarSeries(optical, radar)[window(optical)]
    clear = sample['valid_optical'].float().mean(dim=(1, 2))
    # The season's clouds hide some months of Sentinel-2 over this window...
    cloudy = int(clear.argmin())
    assert clear[cloudy] < 0.5
    # ...and none of the radar's.
    assert bool(sample['valid_radar'][cloudy].all())
    assert bool(sample['valid'][cloudy].all())
    # Backscatter in dB of land: VV above VH.
    vv, vh = sample['image'][cloudy, 11], sample['image'][cloudy, 12]
    assert -25 < float(vv.mean()) < 0
    assert float(vh.mean()) < float(vv.mean())


def test_a_window_without_radar_is_invalid_radar(mini_flanders) -> None:
    folder, manifest = mini_flanders
    optical, _ = sensors(mini_flanders)
    # The radar of one sheet only; a window of the sheet's neighbour has none.
    radar = Sentinel1Sigma0(
        folder / manifest['radar']['composites_root'] / '22_1-2',
        crs=UTM,
        res=10.0,
        time_series=True,
    )
    covered = radar.index.geometry.union_all()
    elsewhere = optical.index.geometry.union_all().difference(covered.buffer(500))
    x, y = elsewhere.representative_point().coords[0]
    x, y = x - x % 10, y - y % 10
    query = (slice(x, x + 80, 10.0), slice(y, y + 80, 10.0), YEAR)
    assert not shapely.box(x, y, x + 80, y + 80).intersects(covered)
    sample = OpticalRadarSeries(optical, radar)[query]
    assert sample['image'].shape == (12, 13, 8, 8)
    assert not bool(sample['valid_radar'].any())
    assert bool((sample['image'][:, 11:] == 0).all())
    assert torch.equal(sample['valid'], sample['valid_optical'])


def test_only_monthly_series_of_one_grid_and_months(mini_flanders) -> None:
    folder, manifest = mini_flanders
    optical, _ = sensors(mini_flanders)
    single = Sentinel1Sigma0(folder / manifest['radar']['composites_root'], crs=UTM)
    with pytest.raises(BVMValueError, match=r'radar imagery \(Sentinel-1\) must be'):
        OpticalRadarSeries(optical, single)
    _, spring = sensors(mini_flanders, months=[3, 4, 5])
    with pytest.raises(BVMValueError, match='differ in months'):
        OpticalRadarSeries(optical, spring)
    _, coarse = sensors(mini_flanders, res=20.0)
    with pytest.raises(BVMValueError, match='differ in grid'):
        OpticalRadarSeries(optical, coarse)
