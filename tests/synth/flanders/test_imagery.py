from pathlib import Path
from typing import Any

import rasterio
from pyproj import CRS

from torchgeo_bvm.datasets.sentinel2 import Sentinel2TOC
from torchgeo_bvm.synth.sentinel2 import TERRASCOPE_NODATA


def test_products_read_through_sentinel2toc(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    dataset = Sentinel2TOC(out)
    assert list(dataset.index['period']) == manifest['dates']
    assert CRS.from_user_input(dataset.crs) == CRS.from_epsg(32631)
    assert dataset.res == (10.0, 10.0)
    xmin, ymin, xmax, ymax = manifest['imagery']['bounds']
    assert (dataset.bounds[0].start, dataset.bounds[0].stop) == (xmin, xmax)
    assert (dataset.bounds[1].start, dataset.bounds[1].stop) == (ymin, ymax)
    product = out / manifest['imagery']['products'][0]['path']
    assert product.name == 'S2A_20200418T105031_31UES_TOC_V210'
    for band, metres in (('B02', 10), ('B05', 20), ('B01', 60)):
        with rasterio.open(
            product / f'S2A_20200418T105031_31UES_TOC-{band}_{metres}M_V210.tif'
        ) as src:
            assert src.dtypes[0] == 'int16'
            assert src.nodata == TERRASCOPE_NODATA
            assert src.res == (metres, metres)
