"""What the openEO downloader would write, made from the tiny mini-Flanders."""

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from torchgeo_bvm.datasets.bands import ALL_BANDS
from torchgeo_bvm.synth.flanders import SEASON_DATES, write_openeo_downloads
from torchgeo_bvm.synth.flanders.composites import COMPOSITE_NODATA

Season = tuple[Path, dict[str, Any]]
#: Marks the pixels of a download the season's composite does not reach.
_OUTSIDE = -99999


def test_per_date_files_of_the_season_year(tiny_season: Season, tmp_path: Path) -> None:
    folder, _ = tiny_season
    written = write_openeo_downloads(folder, tmp_path, ['22_1-2'], [2022], [3])
    march = [s[:10] for s, _ in SEASON_DATES if s.startswith('2022-03')]
    assert [p.name for p in written] == [f'22_1-2_openEO_{d}Z.tif' for d in march]
    with rasterio.open(written[0]) as source:
        assert source.crs.to_epsg() == 4326
        assert source.descriptions == (*ALL_BANDS, 'SCL')
        assert source.dtypes[0] == 'int16'


def test_monthly_composites_are_the_seasons_medians(
    tiny_season: Season, tmp_path: Path
) -> None:
    folder, manifest = tiny_season
    written = write_openeo_downloads(
        folder, tmp_path, ['22_1-2'], [2022], [1, 7], composite=True
    )
    assert [p.name for p in written] == [
        '22_1-2_openEO_2022-01_median.tif',
        '22_1-2_openEO_2022-07_median.tif',
    ]
    (january,) = [
        c['path']
        for c in manifest['season']['composites']
        if c['path'].endswith('22_1-2_openEO_2022-01_median.tif')
    ]
    with rasterio.open(written[0]) as download:
        assert download.crs.to_epsg() == 4326
        assert download.nodata == COMPOSITE_NODATA
        assert download.descriptions == ALL_BANDS
        values = download.read()
        expected = np.full(values.shape, _OUTSIDE, dtype=np.int32)
        with rasterio.open(folder / january) as season:
            for band in range(season.count):
                reproject(
                    season.read(band + 1).astype(np.int32),
                    expected[band],
                    src_transform=season.transform,
                    src_crs=season.crs,
                    src_nodata=None,
                    dst_transform=download.transform,
                    dst_crs=download.crs,
                    dst_nodata=_OUTSIDE,
                    resampling=Resampling.nearest,
                )
    # The same median by the same rule, the nearest 10 m pixel of either grid.
    compared = expected != _OUTSIDE
    assert compared.mean() > 0.9
    np.testing.assert_array_equal(values[compared], expected[compared])
    # January has an overcast date and cloud: some pixels saw nothing clear.
    assert (values == COMPOSITE_NODATA).any()
