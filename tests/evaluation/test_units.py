import numpy as np
import pytest
from pyproj import Transformer

from torchgeo_bvm.errors import BVMValueError
from torchgeo_bvm.evaluation.units import NO_UNIT, EvaluationUnits
from torchgeo_bvm.sheets.codes import Sheet


def _centre(code: str) -> tuple[float, float]:
    xmin, ymin, xmax, ymax = Sheet.parse(code).bounds
    return (xmin + xmax) / 2, (ymin + ymax) / 2


@pytest.mark.parametrize('code', ['22/7N', '22/8Z', '1/1N', '43/8Z', '22/3Z'])
def test_a_point_belongs_to_the_kbl16_sheet_holding_it(code: str) -> None:
    units = EvaluationUnits()
    x, y = _centre(code)
    unit = units.of_points(np.array([x]), np.array([y]), 'EPSG:31370')
    assert units.name(int(unit[0])) == code.upper()


def test_units_of_other_levels_and_of_points_in_other_crs() -> None:
    x, y = _centre('22/7N')
    to_utm = Transformer.from_crs(31370, 32631, always_xy=True)
    ux, uy = to_utm.transform(x, y)
    for level, code in (('kbl', '22'), ('kbl4', '22/7-8'), ('kbl8', '22/7')):
        units = EvaluationUnits(level)
        (unit,) = units.of_points(np.array([ux]), np.array([uy]), 'EPSG:32631')
        assert units.name(int(unit)) == code
    assert EvaluationUnits('kbl4').describe() == 'kbl4 sheets'


def test_blocks_cut_a_sheet_into_squares_named_from_its_north_west_corner() -> None:
    units = EvaluationUnits('kbl16', block=1000)
    xmin, _, _, ymax = Sheet.parse('22/7N').bounds
    # The centres of all 8 x 5 blocks of the sheet.
    x = xmin + 500 + 1000 * np.arange(8)
    y = ymax - 500 - 1000 * np.arange(5)
    xx, yy = np.meshgrid(x, y)
    found = units.of_points(xx.ravel(), yy.ravel(), 31370)
    assert len(set(found.tolist())) == 40
    names = [units.name(int(u)) for u in found]
    assert names[0] == '22/7N r1 c1'
    assert names[7] == '22/7N r1 c8'
    assert names[-1] == '22/7N r5 c8'
    assert units.describe() == '1000 m blocks of the kbl16 sheets'


def test_a_point_outside_every_sheet_has_no_unit() -> None:
    units = EvaluationUnits()
    found = units.of_points(np.array([0.0, 1.0e6]), np.array([0.0, 1.0e6]), 31370)
    assert found.tolist() == [NO_UNIT, NO_UNIT]
    with pytest.raises(BVMValueError, match='evaluation unit -1 lies in no kbl16'):
        units.name(NO_UNIT)


def test_bad_levels_and_blocks_are_refused() -> None:
    with pytest.raises(BVMValueError, match="unknown sheet level 'kbl32'"):
        EvaluationUnits('kbl32')
    with pytest.raises(BVMValueError, match=r'blocks of 3000 m do not tile the kbl16'):
        EvaluationUnits('kbl16', block=3000)
