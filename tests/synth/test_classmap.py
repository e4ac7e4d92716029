from pathlib import Path

import numpy as np
import rasterio

from tests.rasters import assert_valid_cog
from torchgeo_bvm.classes import CLASS_NAMES, IGNORE_INDEX
from torchgeo_bvm.maps.files import ClassMap
from torchgeo_bvm.spatial.pixelgrid import Grid
from torchgeo_bvm.synth.classmap import write_class_map


def test_writes_the_contract(tmp_path: Path) -> None:
    grid = Grid.from_bounds((100_000, 190_000, 100_600, 190_400), 'EPSG:31370', 20)
    classes = (np.arange(600).reshape(20, 30) % 15).astype(np.uint8)
    classes[classes == 14] = IGNORE_INDEX
    confidence = np.full(grid.shape, 200, dtype=np.uint8)
    written = write_class_map(
        tmp_path / '22_1-2.tif',
        classes,
        grid,
        confidence,
        lambda w: np.ones((int(w.height), int(w.width)), dtype=np.uint8),
    )
    assert written == {
        'classes': tmp_path / '22_1-2.tif',
        'confidence': tmp_path / '22_1-2_confidence.tif',
        'count': tmp_path / '22_1-2_count.tif',
    }
    for kind, path in written.items():
        assert_valid_cog(path)
        with rasterio.open(path) as src:
            assert src.dtypes == ('uint8',)
            assert src.nodata == IGNORE_INDEX
            assert (src.crs.to_epsg(), src.transform, src.shape) == (
                31370,
                grid.transform,
                grid.shape,
            )
            expected = {'classes': classes, 'confidence': confidence}.get(
                kind, np.ones(grid.shape)
            )
            np.testing.assert_array_equal(src.read(1), expected)
            assert src.descriptions == ({'classes': 'class'}.get(kind, kind),)
    with rasterio.open(written['classes']) as src:
        assert src.colormap(1)[2][:3] == (0x9F, 0xD3, 0x6B)
    assert CLASS_NAMES[0] in (tmp_path / '22_1-2.tif.aux.xml').read_text()
    assert ClassMap.open(written['classes']).confidence == written['confidence']
