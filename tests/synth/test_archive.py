from pathlib import Path

import rasterio

from torchgeo_bvm.synth.archive import study_area, write_terrascope_archive
from torchgeo_bvm.synth.sentinel2 import FLANDERS_TILES, TERRASCOPE_NODATA


def test_archive_of_a_year_over_flanders(tmp_path: Path) -> None:
    tiles = {name: FLANDERS_TILES[name] for name in ('31UDS', '31UES')}
    folders = write_terrascope_archive(tmp_path, 5, tiles=tiles, data_size=12)
    assert [f.name for f in folders] == [
        'S2A_20210101T104619_31UDS_TOC_V210',
        'S2A_20210101T104619_31UES_TOC_V210',
        'S2B_20210502T104619_31UDS_TOC_V210',
        'S2B_20210502T104619_31UES_TOC_V210',
        'S2A_20210831T104619_31UDS_TOC_V210',
    ]
    assert folders[2].parent == tmp_path / 'TOC_V2' / '2021' / '05' / '02'
    assert all(len(list(f.iterdir())) == 19 for f in folders)
    study = study_area(FLANDERS_TILES['31UES'], 12)
    assert study == (554820.0, 5645040.0, 554940.0, 5645160.0)
    with rasterio.open(next(folders[1].glob('*_TOC-B04_10M_*.tif'))) as src:
        assert tuple(src.bounds) == (499980.0, 5590200.0, 609780.0, 5700000.0)
        inside = src.read(1, window=src.window(*study))
        assert inside.shape == (12, 12)
        assert (inside != TERRASCOPE_NODATA).all()
