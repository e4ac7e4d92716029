import numpy as np

from torchgeo_bvm.bvm.tags import mapping_year, mapping_years


def test_the_mapping_year_ends_the_tag() -> None:
    assert mapping_year('569340_v2014') == 2014
    assert mapping_year(' 12_v1997 ') == 1997
    for bad in ('569340', '569340_v14', 'v2014', '', None, 2014):
        assert mapping_year(bad) is None
    years = mapping_years(['1_v2003', 'x', '2_v2020'])
    np.testing.assert_array_equal(years[[0, 2]], [2003, 2020])
    assert np.isnan(years[1])
