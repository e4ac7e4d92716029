from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchgeo_bvm.bvm.units import (
    MAPPING_FILE,
    MAPPING_VERSION,
    UnitMapping,
    classify_habitat,
    load_mapping_table,
    map_integer_labels,
    normalise_code,
)
from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX, class_by_name

# Real unit codes as they occur in EENH1, with the class the rules of
# bwk-units.md give them (the rule that decides in the comment).
REAL_CODES = [
    ('hp', 'Grasslands'),  # exact
    ('hp+', 'Grasslands'),  # exact, well developed
    ('hp*', 'Grasslands'),  # printed * -> +
    ('Hp°', 'Grasslands'),  # printed ° -> -, upper case
    ('hpr+', 'Grasslands'),  # exact
    ('hpr+b', 'Grasslands'),  # strip +, then b -> hpr
    ('cgb', 'Heathland'),  # strip b -> cg
    ('cg+b', 'Heathland'),  # strip +, b -> cg
    ('ku', 'Pioneer vegetation'),  # exact, k splits across classes
    ('kc', 'Pioneer vegetation'),
    ('dm', 'Pioneer vegetation'),
    ('da', 'Marine habitats'),
    ('ds', 'Marine habitats'),
    ('dla', 'Marine habitats'),
    ('dd', 'Coastal dune habitats'),
    ('dl+', 'Coastal dune habitats'),
    ('hd', 'Coastal dune habitats'),
    ('mp', 'Coastal dune habitats'),
    ('sd', 'Coastal dune habitats'),
    ('kp', 'Urban areas'),
    ('kpk+', 'Urban areas'),
    ('kpz', 'Urban areas'),  # not in the table: kp* prefix
    ('ki', 'Urban areas'),
    ('spoor', 'Urban areas'),
    ('weg', 'Urban areas'),
    ('kl', 'Cultivated land'),
    ('k(hp+)', 'Small Non-woody Landscape Features'),  # bracket, non-woody x
    ('k(mr)', 'Small Non-woody Landscape Features'),
    ('kt(ae)', 'Small Non-woody Landscape Features'),
    ('kh(qs)', 'Small Woody Landscape Features'),  # wrapper kh
    ('kb(hp)', 'Small Woody Landscape Features'),  # wrapper kb
    ('k(sz)', 'Small Woody Landscape Features'),  # woody x (s)
    ('kt(qa)', 'Small Woody Landscape Features'),  # woody x (q)
    ('k(pop)', 'Small Woody Landscape Features'),  # tree code in brackets
    ('k(aln)', 'Small Woody Landscape Features'),  # tree code starting with a
    ('kbs', 'Small Woody Landscape Features'),  # kb* prefix
    ('khw+', 'Small Woody Landscape Features'),
    ('kj', 'Small Woody Landscape Features'),
    ('kj+', 'Small Woody Landscape Features'),  # strip + -> kj
    ('bet', 'Small Woody Landscape Features'),  # a tree code alone
    ('kn', 'Small Non-woody Landscape Features'),
    ('kn+', 'Small Non-woody Landscape Features'),
    ('km', 'Small Non-woody Landscape Features'),
    ('kt', 'Small Landscape Features - not Specified'),
    ('kw', 'Small Landscape Features - not Specified'),
    ('kf-', 'Small Landscape Features - not Specified'),
    ('kx', 'Small Landscape Features - not Specified'),  # other k
    ('kj/hp*', 'Small Woody Landscape Features'),  # A/B: classify on A
    ('hp/kj', 'Grasslands'),
    ('sz-', 'Woodland and shrub'),
    ('n-', 'Woodland and shrub'),
    ('qb', 'Woodland and shrub'),
    ('ppmh', 'Woodland and shrub'),
    ('lhb', 'Woodland and shrub'),  # exact: the trailing b is part of the code
    ('vx', 'Woodland and shrub'),  # first letter v
    ('rx', 'Woodland and shrub'),
    ('ae', 'Water bodies'),
    ('aer', 'Water bodies'),
    ('app-', 'Water bodies'),
    ('wat', 'Water bodies'),
    ('ax', 'Water bodies'),  # first letter a
    ('bx', 'Cultivated land'),
    ('mr', 'Inland marshes'),
    ('tx', 'Inland marshes'),  # first letter t
    ('ud', 'Urban areas'),
    ('ux', 'Urban areas'),
    ('hx+', 'Grasslands'),
    ('', 'Unknown'),
    ('ng', 'Unknown'),
    ('dx', 'Unknown'),  # d is not a fallback letter
    ('x', 'Unknown'),
    (' Hp * ', 'Grasslands'),  # spaces
]


@pytest.mark.parametrize(('code', 'expected'), REAL_CODES)
def test_real_codes(code: str, expected: str) -> None:
    assert UnitMapping().classify(code) == class_by_name(expected).id


@pytest.mark.parametrize(
    ('code', 'hab1', 'expected'),
    [
        ('kx', '1330_da', 'Marine habitats'),
        ('kx', '1310_zk', 'Marine habitats'),
        ('', '1110', 'Marine habitats'),
        ('ng', '1140', 'Marine habitats'),
        ('xx', '2130_had', 'Coastal dune habitats'),
        ('', '2120', 'Coastal dune habitats'),
        ('kt', '2330_bu', 'Pioneer vegetation'),
        ('', '6120', 'Pioneer vegetation'),
        ('', '2190_mp,2170', 'Coastal dune habitats'),  # first of an uncertain list
        ('kx', '1330_hpr', 'Small Landscape Features - not Specified'),
        ('kx', '9130_end', 'Small Landscape Features - not Specified'),
        ('', 'gh', 'Unknown'),
        ('hp', '1330_da', 'Grasslands'),  # only a tie-breaker
        ('kj', '2130', 'Small Woody Landscape Features'),
    ],
)
def test_hab1_tie_break(code: str, hab1: str, expected: str) -> None:
    assert UnitMapping().classify(code, hab1) == class_by_name(expected).id


def test_classify_habitat() -> None:
    assert classify_habitat(None) is None
    assert classify_habitat('1330_da') == class_by_name('Marine habitats').id
    assert classify_habitat('21x0') is None


def test_normalise_code() -> None:
    assert normalise_code(' Kj* / Hp° ') == 'kj+'
    assert normalise_code('k(hp/hr)/ku') == 'k(hp/hr)'
    assert normalise_code(None) == ''
    assert normalise_code(float('nan')) == ''


def test_shipped_table() -> None:
    table = load_mapping_table()
    assert MAPPING_VERSION == 'v1'
    assert MAPPING_FILE == 'bwk_units_v1.csv'
    assert list(table.columns[:3]) == ['code', 'dutch', 'class']
    assert len(table) == 165
    assert table['code'].is_unique
    assert set(table['class_id']) == {c.id for c in CLASSES}
    reference = Path(__file__).parents[2] / 'torchgeo_bvm' / 'data' / MAPPING_FILE
    assert reference.exists()


def test_map_codes_equals_classify_and_counts() -> None:
    mapping = UnitMapping()
    codes = ['hp', 'kx', '', None, 'xq', 'xq', 'kx', 'bl', 'vx']
    hab1 = ['gh', '1330_da', 'gh', '2130', None, 'gh', 'gh', 'gh', 'gh']
    result = mapping.map_codes(codes, hab1)
    expected = [mapping.classify(c, h) for c, h in zip(codes, hab1, strict=True)]
    assert result.ids.dtype == np.uint8
    assert result.ids.tolist() == expected
    assert result.unmapped == {'': 1, 'xq': 2}
    assert result.fallback == {'kx': 2, 'vx': 1}
    message = result.message('BwkHab.shp', 'EENH1')
    assert message is not None
    assert message.startswith('BwkHab.shp: 3 of 9 features have an empty or unmapped')
    assert "'xq' x 2, '<empty>' x 1" in message
    assert 'class 10 (Unknown)' in message


def test_map_codes_without_unmapped_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = UnitMapping().map_codes(pd.Series(['hp', 'bl']))
    assert result.message('f', 'EENH1') is None
    with caplog.at_level('DEBUG', logger='torchgeo_bvm'):
        result.warn('f', 'EENH1')
    assert caplog.records == []


def test_message_lists_the_most_frequent_only() -> None:
    codes = [f'x{i}' for i in range(15) for _ in range(i + 1)]
    message = UnitMapping().map_codes(codes).message('f', 'EENH1', top=3)
    assert message is not None
    assert "'x14' x 15, 'x13' x 14, 'x12' x 13 and 12 more" in message


def test_integer_labels() -> None:
    result = map_integer_labels(pd.Series([0, 1, 14, 7, 15, -1, None, 2.5]))
    n = IGNORE_INDEX
    assert result.ids.tolist() == [n, 0, 13, 6, n, n, n, n]
    assert result.unmapped == {'15.0': 1, '-1.0': 1, '': 1, '2.5': 1}
    assert result.unmapped_id == IGNORE_INDEX
    message = result.message('f', 'Label')
    assert message is not None
    assert 'IGNORE_INDEX (255)' in message


def test_own_table_dataframe_and_csv(tmp_path: Path) -> None:
    table = pd.DataFrame({'code': ['HP*', 'zz'], 'class': ['Heathland', '12']})
    mapping = UnitMapping(table)
    assert mapping.version == 'user'
    assert mapping.classify('hp+') == class_by_name('Heathland').id
    assert mapping.classify('zz') == 12
    assert mapping.classify('bl') == class_by_name('Cultivated land').id  # fallback
    path = tmp_path / 'mine.csv'
    pd.DataFrame({'code': ['hp'], 'proposed_class': ['Urban areas']}).to_csv(path)
    assert UnitMapping(path).classify('hp') == class_by_name('Urban areas').id


def test_bad_tables(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='mapping table not found'):
        UnitMapping(tmp_path / 'missing.csv')
    with pytest.raises(ValueError, match=r'missing column\(s\) class'):
        UnitMapping(pd.DataFrame({'code': ['hp']}))
    with pytest.raises(ValueError, match="unknown class 'Meadow'"):
        UnitMapping(pd.DataFrame({'code': ['hp'], 'class': ['Meadow']}))
    clash = pd.DataFrame({'code': ['hp', 'HP'], 'class': ['Grasslands', 'Heathland']})
    with pytest.raises(ValueError, match='conflicting classes: hp'):
        UnitMapping(clash)
