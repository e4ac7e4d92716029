"""The equivalents of TorchGeo internals give TorchGeo's answers."""

import pandas as pd
import pytest
from torchgeo.datasets import RasterDataset

from tests.joint_scene import RES, Scene, write_scene
from torchgeo_bvm.datasets import CachedBounds, IndexArrays, Sentinel2TOC
from torchgeo_bvm.datasets._fastpath import torchgeo_lookup
from torchgeo_bvm.spatial.crs import resolution_for


@pytest.fixture(scope='module')
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp('scene'))


def day(index: int, scene: Scene) -> slice:
    from tests.joint_scene import DATES

    start = pd.Timestamp(DATES[index])
    return slice(start, start + pd.Timedelta(hours=23))


def test_torchgeo_lookup_is_rasterdataset_getitem() -> None:
    import inspect

    source = inspect.getsource(RasterDataset.__getitem__)
    # The three selections torchgeo_lookup reproduces verbatim (torchgeo 0.10.1).
    assert 'df = self.index.iloc[self.index.index.overlaps(interval)]' in source
    assert 'df = df.iloc[:: t.step]' in source
    assert 'df = df.cx[x.start : x.stop, y.start : y.stop]' in source


def test_index_lookups_match_torchgeo(scene: Scene) -> None:
    image = Sentinel2TOC(
        scene.imagery, crs='EPSG:4326', res=resolution_for('EPSG:4326', RES)
    )
    arrays = IndexArrays.of(image)
    assert IndexArrays.of(image) is arrays  # cached per index
    bx, by, bt = image.bounds
    xmin, xmax, ymin, ymax, tmin, tmax = (
        bx.start,
        bx.stop,
        by.start,
        by.stop,
        bt.start,
        bt.stop,
    )
    dx, dy = (xmax - xmin) / 4, (ymax - ymin) / 4
    times = [
        slice(tmin, tmax, 1),
        day(0, scene),
        day(1, scene),
        slice(pd.Timestamp('2000-01-01'), pd.Timestamp('2000-01-02'), 1),
        slice(tmin, tmin, 1),  # an empty right-closed interval at the first date
        slice(tmax, tmax + pd.Timedelta(days=1), 1),
        slice(tmin, tmax, 2),
    ]
    for x0 in (xmin - 2 * dx, xmin, xmin + dx, xmax - dx, xmax, xmax + dx):
        for y0 in (ymin - 2 * dy, ymin + dy, ymax - dy, ymax):
            x, y = slice(x0, x0 + dx), slice(y0, y0 + dy)
            for t in times:
                df = torchgeo_lookup(image.index, x, y, slice(t.start, t.stop, t.step))
                rows = arrays.lookup(x, y, slice(t.start, t.stop, t.step or 1))
                assert rows is not None
                assert list(arrays.column('filepath')[rows]) == list(df['filepath'])


def test_cached_bounds_are_torchgeo_bounds(scene: Scene) -> None:
    from torchgeo.datasets import GeoDataset

    image = Sentinel2TOC(scene.imagery, crs='EPSG:31370', res=RES)
    assert isinstance(image, CachedBounds)
    assert image.bounds == GeoDataset.bounds.fget(image)
    assert image.bounds is image.bounds  # cached
    image.res = (2 * RES, 2 * RES)
    assert image.bounds == GeoDataset.bounds.fget(image)
    assert image.bounds[0].step == 2 * RES
