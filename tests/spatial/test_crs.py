import math

import pytest
from pyproj import Geod

from torchgeo_bvm.spatial.crs import FLANDERS_CENTRE, resolution_for


def test_projected_resolution_is_metres() -> None:
    assert resolution_for('EPSG:31370') == (10.0, 10.0)
    assert resolution_for(32631, 20) == (20.0, 20.0)


def test_degrees_are_10_m_at_flanders_centre() -> None:
    xres, yres = resolution_for('EPSG:4326')
    lon, lat = FLANDERS_CENTRE
    geod = Geod(ellps='WGS84')
    _, _, east = geod.inv(lon, lat, lon + xres, lat)
    _, _, north = geod.inv(lon, lat, lon, lat + yres)
    assert math.isclose(east, 10.0, rel_tol=1e-6)
    assert math.isclose(north, 10.0, rel_tol=1e-6)
    assert xres > yres


def test_unsupported_units() -> None:
    with pytest.raises(
        ValueError, match=r"cannot express 10\.0 m in the units 'US survey foot'"
    ):
        resolution_for('EPSG:2263')


def test_is_lambert72() -> None:
    from pyproj import CRS

    from torchgeo_bvm.spatial.crs import is_lambert72
    from torchgeo_bvm.synth.kbl import LAMBERT72_ESRI_WKT

    esri = CRS.from_wkt(LAMBERT72_ESRI_WKT)
    assert esri.to_epsg() is None
    assert is_lambert72(esri)
    assert is_lambert72(None)
    assert is_lambert72(CRS.from_epsg(31370))
    assert not is_lambert72(CRS.from_epsg(4326))
    assert not is_lambert72(CRS.from_epsg(3812))
