import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from torchgeo_bvm.sheets.codes import (
    KBL_NAMES,
    LEVELS,
    Sheet,
    iter_codes,
    kbl_numbers,
    sheets,
)
from torchgeo_bvm.sheets.official import compare_official, grid, read_official
from torchgeo_bvm.sheets.scheme import PAPER_SPLIT, SplitScheme
from torchgeo_bvm.synth.kbl import LAMBERT72_ESRI_WKT, write_official_sheets

# The sheet table of formats.md section 2: code -> (x-start km, y-start km, name).
FORMATS_TABLE = {
    1: (130, 238, 'Essen'),
    2: (162, 238, 'Meerle'),
    3: (194, 238, 'Maarle'),
    4: (34, 218, 'Blankenberge'),
    5: (66, 218, 'Westkapelle'),
    6: (98, 218, 'Watervliet'),
    7: (130, 218, 'Kapellen'),
    8: (162, 218, 'Turnhout'),
    9: (194, 218, 'Arendonk'),
    10: (226, 218, 'Beverbeek'),
    11: (2, 198, 'Oostduinkerke'),
    12: (34, 198, 'Oostende'),
    13: (66, 198, 'Brugge'),
    14: (98, 198, 'Lokeren'),
    15: (130, 198, 'Antwerpen'),
    16: (162, 198, 'Lier'),
    17: (194, 198, 'Mol'),
    18: (226, 198, 'Maaseik'),
    19: (2, 178, 'Veurne'),
    20: (34, 178, 'Roeselare'),
    21: (66, 178, 'Tielt'),
    22: (98, 178, 'Gent'),
    23: (130, 178, 'Mechelen'),
    24: (162, 178, 'Aarschot'),
    25: (194, 178, 'Hasselt'),
    26: (226, 178, 'Rekem'),
    27: (2, 158, 'Proven'),
    28: (34, 158, 'Ieper'),
    29: (66, 158, 'Kortrijk'),
    30: (98, 158, 'Geraardsbergen'),
    31: (130, 158, 'Brussel-Bruxelles'),
    32: (162, 158, 'Leuven'),
    33: (194, 158, 'Sint-Truiden'),
    34: (226, 158, 'Tongeren'),
    35: (258, 158, 'Gemmenich'),
    36: (34, 138, 'Ploegsteert'),
    37: (66, 138, 'Tournai'),
    38: (98, 138, 'Ath'),
    39: (130, 138, 'Nivelles'),
    40: (162, 138, 'Wavre'),
    41: (194, 138, 'Waremme'),
    42: (226, 138, 'Liège'),
    43: (258, 138, 'Limbourg'),
}


class TestSheet:
    def test_sheet_1(self) -> None:
        assert Sheet.parse('1').bounds == (130000, 238000, 162000, 258000)

    def test_all_43_sheets_match_the_official_table(self) -> None:
        kbl = sheets('kbl')
        assert [s.number for s in kbl] == list(range(1, 44))
        for sheet in kbl:
            x, y, name = FORMATS_TABLE[sheet.number]
            assert sheet.bounds == (
                x * 1000,
                y * 1000,
                x * 1000 + 32000,
                y * 1000 + 20000,
            )
            assert sheet.name == name
        assert {n: v[2] for n, v in FORMATS_TABLE.items()} == KBL_NAMES

    @pytest.mark.parametrize(
        ('level', 'count', 'area_km2'),
        [('kbl', 43, 640), ('kbl4', 172, 160), ('kbl8', 344, 80), ('kbl16', 688, 40)],
    )
    def test_levels_sizes(self, level: str, count: int, area_km2: float) -> None:
        level_sheets = sheets(level)
        assert len(level_sheets) == count
        assert {s.area for s in level_sheets} == {area_km2 * 1e6}
        assert {s.level for s in level_sheets} == {level}

    @pytest.mark.parametrize('fine', ['kbl4', 'kbl8', 'kbl16'])
    def test_every_level_tiles_its_parent_exactly(self, fine: str) -> None:
        for parent in sheets('kbl'):
            children = parent.children(fine)
            union = shapely.union_all([box(*c.bounds) for c in children])
            assert union.equals(box(*parent.bounds))
            assert sum(c.area for c in children) == parent.area
            for a in children:
                for b in children:
                    if a != b:
                        assert box(*a.bounds).intersection(box(*b.bounds)).area == 0

    def test_kbl16_tiles_kbl8_and_kbl8_tiles_kbl4(self) -> None:
        kbl8 = Sheet.parse('15/3')
        assert [c.code for c in kbl8.children('kbl16')] == ['15/3N', '15/3Z']
        assert [c.code for c in Sheet.parse('15/3-4').children('kbl8')] == [
            '15/3',
            '15/4',
        ]
        assert [c.code for c in Sheet.parse('15/7-8').children('kbl16')] == [
            '15/7N',
            '15/7Z',
            '15/8N',
            '15/8Z',
        ]

    def test_layout_inside_a_sheet(self) -> None:
        x0, y0, x1, y1 = Sheet.parse(22).bounds
        assert Sheet.parse('22/1-2').bounds == (x0, y0 + 10000, x0 + 16000, y1)
        assert Sheet.parse('22/3-4').bounds == (x0 + 16000, y0 + 10000, x1, y1)
        assert Sheet.parse('22/5-6').bounds == (x0, y0, x0 + 16000, y0 + 10000)
        assert Sheet.parse('22/7-8').bounds == (x0 + 16000, y0, x1, y0 + 10000)
        assert Sheet.parse('22/1').bounds == (x0, y0 + 10000, x0 + 8000, y1)
        assert Sheet.parse('22/4').bounds == (x0 + 24000, y0 + 10000, x1, y1)
        assert Sheet.parse('22/5').bounds == (x0, y0, x0 + 8000, y0 + 10000)
        north, south = Sheet.parse('22/6N').bounds, Sheet.parse('22/6Z').bounds
        assert north[1] == south[3]
        assert north == (x0 + 8000, y0 + 5000, x0 + 16000, y0 + 10000)
        assert south == (x0 + 8000, y0, x0 + 16000, y0 + 5000)

    def test_parents(self) -> None:
        assert Sheet.parse('15/1N').parent == Sheet.parse('15/1')
        assert Sheet.parse('15/1').parent == Sheet.parse(15)
        assert Sheet.parse('15/1-2').parent == Sheet.parse(15)
        assert Sheet.parse('15').parent is None
        assert Sheet.parse('15/6Z').kbl4() == Sheet.parse('15/5-6')
        assert Sheet.parse('15/3').kbl4() == Sheet.parse('15/3-4')
        assert Sheet.parse('15').kbl4() is None
        assert Sheet.parse('15/5-6').contains('15/6Z')
        assert not Sheet.parse('15/5-6').contains('15/7Z')

    @pytest.mark.parametrize(
        ('code', 'expected'),
        [
            ('15/1n', '15/1N'),
            ('15/1N', '15/1N'),
            ('15_1N', '15/1N'),
            ('2/5z', '2/5Z'),
            (' 22 / 3-4 ', '22/3-4'),
            ('22_3-4', '22/3-4'),
            ('07', '7'),
            (43, '43'),
            ('43/8', '43/8'),
        ],
    )
    def test_parse_normalises(self, code: str | int, expected: str) -> None:
        sheet = Sheet.parse(code)
        assert sheet.code == expected
        assert Sheet.parse(sheet.file_safe) == sheet
        assert '/' not in sheet.file_safe

    def test_file_safe(self) -> None:
        assert Sheet.parse('15/1-2').file_safe == '15_1-2'
        assert Sheet.parse('15/1n').file_safe == '15_1N'

    @pytest.mark.parametrize('code', ['0', '44', '99', '0/1-2', '44/3N'])
    def test_unknown_sheet_numbers(self, code: str) -> None:
        with pytest.raises(
            ValueError, match=rf"invalid map sheet code '{code}'.*1\.\.43"
        ):
            Sheet.parse(code)

    @pytest.mark.parametrize(
        'code', ['', 'abc', '15/9', '15/2-3', '15/1X', '15/', '15/1-2N']
    )
    def test_bad_codes(self, code: str) -> None:
        with pytest.raises(
            ValueError, match=rf"invalid map sheet code '{code}'"
        ) as info:
            Sheet.parse(code)
        assert "'X/1-2'" in str(info.value)
        assert "'X/1N'" in str(info.value)

    def test_bad_level(self) -> None:
        with pytest.raises(ValueError, match=r"unknown sheet level 'kbl32'.*kbl16"):
            sheets('kbl32')
        with pytest.raises(
            ValueError, match=r"sheet 15/1 \(kbl8\) has no children at level 'kbl4'"
        ):
            Sheet.parse('15/1').children('kbl4')

    def test_iter_codes(self) -> None:
        assert [s.code for s in iter_codes('22/1-2, 22_3-4,,15')] == [
            '22/1-2',
            '22/3-4',
            '15',
        ]
        assert [s.code for s in iter_codes(['1', 2])] == ['1', '2']

    def test_kbl_numbers_are_strict(self) -> None:
        assert kbl_numbers('22, 15,,22') == [15, 22]
        assert kbl_numbers([23, '1']) == [1, 23]
        assert kbl_numbers('') == []
        # A sub-sheet is never widened to its whole sheet.
        with pytest.raises(
            ValueError,
            match=r'expected 1:50,000 sheet numbers \(1\.\.43\), got 22/1-2, 15/3N: a '
            r'kbl4, kbl16 sheet code names only part of a sheet; give whole sheets '
            r'such as 22$',
        ):
            kbl_numbers('22/1-2,15,15/3N')
        with pytest.raises(ValueError, match=r"invalid map sheet code '44'.*1\.\.43"):
            kbl_numbers('15,44')
        with pytest.raises(ValueError, match='got 22_5-6: a kbl4 sheet code'):
            sheets('kbl4', ['22_5-6'])


class TestGeometry:
    def test_reprojected_sheet_is_densified_and_true(self) -> None:
        sheet = Sheet.parse('22')
        polygon = sheet.geometry('EPSG:4326')
        # A 100 m spacing gives 2 * (320 + 200) edge segments.
        assert len(polygon.exterior.coords) == 2 * (320 + 200) + 1
        to_4326 = Transformer.from_crs(31370, 4326, always_xy=True)
        # The midpoint of the northern edge lies on the reprojected edge.
        x0, _, x1, y1 = sheet.bounds
        lon, lat = to_4326.transform((x0 + x1) / 2, y1)
        assert polygon.exterior.distance(shapely.Point(lon, lat)) < 1e-9
        corners = sheet.geometry('EPSG:4326', densify=0)
        assert len(corners.exterior.coords) == 5

    def test_geometry_in_lambert_is_the_box(self) -> None:
        assert (
            Sheet.parse('1/1N').geometry().equals(box(130000, 253000, 138000, 258000))
        )

    def test_grid_frame(self) -> None:
        frame = grid('kbl4', numbers=[15, 22], scheme=SplitScheme())
        assert list(frame.columns) == ['CODE', 'NAAM', 'split', 'geometry']
        assert frame['CODE'].tolist()[:4] == ['15/1-2', '15/3-4', '15/5-6', '15/7-8']
        assert frame['split'].tolist()[:4] == ['train', 'val', 'train', 'test']
        assert frame.crs.to_epsg() == 31370
        assert math.isclose(frame.geometry.area.sum(), 2 * 640e6)
        in_4326 = grid('kbl', crs='EPSG:4326', numbers=[1])
        assert in_4326.crs.to_epsg() == 4326
        to_4326 = Transformer.from_crs(31370, 4326, always_xy=True)
        for corner in [
            (130000, 238000),
            (162000, 238000),
            (130000, 258000),
            (162000, 258000),
        ]:
            point = shapely.Point(to_4326.transform(*corner))
            assert in_4326.geometry.iloc[0].exterior.distance(point) < 1e-9


class TestSplit:
    def test_paper_split_is_default(self) -> None:
        scheme = SplitScheme()
        assert scheme.assignment == PAPER_SPLIT
        assert scheme.splits == ['train', 'val', 'test']
        assert [s.code for s in scheme.sheets('train', [15])] == ['15/1-2', '15/5-6']
        assert [s.code for s in scheme.sheets('val', [15])] == ['15/3-4']
        assert [s.code for s in scheme.sheets('test', [15])] == ['15/7-8']
        assert len(scheme.sheets('train')) == 86

    def test_paper_split_kbl16_membership(self) -> None:
        scheme = SplitScheme()
        train = {'1N', '2N', '1Z', '2Z', '5N', '6N', '5Z', '6Z'}
        val = {'3N', '4N', '3Z', '4Z'}
        for leaf in Sheet.parse(30).children('kbl16'):
            expected = (
                'train' if leaf.part in train else 'val' if leaf.part in val else 'test'
            )
            assert scheme.split_of(leaf) == expected

    def test_50_25_25_of_every_sheet_and_disjoint(self) -> None:
        scheme = SplitScheme()
        for number in KBL_NAMES:
            areas = {
                split: scheme.geometry(split, [number], crs=31370).area
                for split in scheme.splits
            }
            assert areas == {'train': 320e6, 'val': 160e6, 'test': 160e6}
        geometries = [scheme.geometry(s, crs=31370) for s in scheme.splits]
        for i, a in enumerate(geometries):
            for b in geometries[i + 1 :]:
                assert a.intersection(b).area == 0
        union = shapely.union_all(geometries)
        whole = shapely.union_all([box(*s.bounds) for s in sheets('kbl')])
        assert union.symmetric_difference(whole).area < 1e-3

    def test_geometry_is_a_torchgeo_roi_in_4326(self) -> None:
        roi = SplitScheme().geometry('val', [22])
        assert roi.geom_type == 'Polygon'
        sheet = Sheet.parse('22/3-4').geometry('EPSG:4326')
        assert shapely.hausdorff_distance(roi, sheet) < 1e-9
        assert roi.geom_type in ('Polygon', 'MultiPolygon')
        assert SplitScheme().geometry('train', [22]).geom_type == 'Polygon'
        assert SplitScheme().geometry('train', [1, 43]).geom_type == 'MultiPolygon'

    def test_custom_scheme_mixed_levels_and_override(self) -> None:
        scheme = SplitScheme(
            {
                '1-2': 'train',
                '3-4': 'train',
                '5': 'train',
                '6N': 'val',
                '6Z': 'test',
                '7-8': 'val',
                '22/1-2': 'test',
                '22/3-4': 'test',
                '22/5-6': 'test',
                '22/7-8': 'test',
            }
        )
        assert scheme.split_of('15/6N') == 'val'
        assert scheme.split_of('15/6Z') == 'test'
        assert scheme.split_of('22/1N') == 'test'
        assert [s.code for s in scheme.sheets('test', [15, 22])] == [
            '15/6Z',
            '22/1-2',
            '22/3-4',
            '22/5-6',
            '22/7-8',
        ]
        area = scheme.geometry('val', [15], crs=31370).area
        assert area == 160e6 + 40e6

    def test_scheme_errors(self) -> None:
        with pytest.raises(ValueError, match='assigns no split to sheet 1/7N'):
            SplitScheme({'1-2': 'train', '3-4': 'val', '5-6': 'train'})
        with pytest.raises(ValueError, match='overlap at 1/1N'):
            SplitScheme({**PAPER_SPLIT, '1': 'val'})
        with pytest.raises(ValueError, match="invalid map sheet code '9-9'"):
            SplitScheme({'9-9': 'train'})
        with pytest.raises(ValueError, match="unknown split 'dev'"):
            SplitScheme().sheets('dev')
        with pytest.raises(
            ValueError,
            match=r"sheet 15 straddles the splits \['test', 'train', 'val'\]",
        ):
            SplitScheme().split_of('15')


class TestOfficialFiles:
    @pytest.mark.parametrize('level', LEVELS)
    def test_official_file_matches_grid(self, tmp_path, level: str) -> None:
        numbers = None if level == 'kbl' else [15, 22]
        path = write_official_sheets(tmp_path / f'{level}.shp', level, numbers)
        assert (tmp_path / f'{level}.prj').read_text() == LAMBERT72_ESRI_WKT
        assert compare_official(path, numbers=numbers) == []
        frame = read_official(path)
        assert frame.crs.to_epsg() == 31370
        expected_fields = ['UIDN', 'OIDN', 'CODE', 'NAAM', 'OPPERVL', 'LENGTE']
        if level != 'kbl':
            expected_fields.remove('NAAM')
        assert [
            c for c in frame.columns if c not in ('geometry', 'sheet')
        ] == expected_fields
        noisy = [y for g in frame.geometry for _, y in g.exterior.coords if y % 1]
        assert noisy
        assert all(abs(y - round(y)) <= 0.001 + 1e-9 for y in noisy)

    def test_wrong_sheets_are_reported(self, tmp_path) -> None:
        path = write_official_sheets(
            tmp_path / 'Kbl.shp',
            names={'22': 'Ghent'},
            offsets={'15': (0.0, 2.5), '16': (0.5, 0.0)},
            drop=['43'],
        )
        differences = compare_official(path)
        found = {(d.code, d.kind) for d in differences}
        assert found == {('22', 'name'), ('15', 'geometry'), ('43', 'missing')}
        by_code = {d.code: d for d in differences}
        assert "'Ghent', expected 'Gent'" in by_code['22'].detail
        assert by_code['15'].detail.startswith('2.50 m')
        assert str(by_code['43']) == '43: missing: kbl sheet absent from Kbl.shp'

    def test_kbl16_lower_case_codes(self, tmp_path) -> None:
        path = write_official_sheets(tmp_path / 'Kbl16.shp', 'kbl16', [2])
        import fiona

        with fiona.open(path) as source:
            records = [(f['properties']['CODE'], f['geometry']) for f in source]
            schema, crs_wkt = source.schema, source.crs_wkt
        lower = tmp_path / 'lower' / 'Kbl16.shp'
        lower.parent.mkdir()
        with fiona.open(
            lower, 'w', driver='ESRI Shapefile', schema=schema, crs_wkt=crs_wkt
        ) as sink:
            for i, (code, geometry) in enumerate(records):
                properties = {
                    'UIDN': i,
                    'OIDN': i,
                    'CODE': code.lower(),
                    'OPPERVL': 4e7,
                    'LENGTE': 26000.0,
                }
                sink.write({'geometry': geometry, 'properties': properties})
        assert compare_official(lower, numbers=[2]) == []
        assert '2/5Z' in set(read_official(lower)['CODE'].str.upper())

    def test_missing_file_and_field(self, tmp_path) -> None:
        with pytest.raises(FileNotFoundError, match='map sheet file not found'):
            read_official(tmp_path / 'nope.shp')
        frame = grid('kbl', numbers=[1]).rename(columns={'CODE': 'KODE'})
        frame.to_file(tmp_path / 'bad.gpkg')
        with pytest.raises(
            ValueError, match="no field 'CODE'; the file has the fields KODE, NAAM"
        ):
            read_official(tmp_path / 'bad.gpkg')

    def test_bad_code_in_file(self, tmp_path) -> None:
        frame = grid('kbl', numbers=[1])
        frame.loc[0, 'CODE'] = '44'
        frame.to_file(tmp_path / 'bad.gpkg')
        with pytest.raises(
            ValueError, match=r"bad\.gpkg: field CODE: invalid map sheet code '44'"
        ):
            read_official(tmp_path / 'bad.gpkg')

    def test_other_crs_is_reprojected(self, tmp_path) -> None:
        grid('kbl', crs='EPSG:4326', numbers=[1, 2], densify=10).to_file(
            tmp_path / 'k.gpkg'
        )
        differences = compare_official(tmp_path / 'k.gpkg', numbers=[1, 2])
        assert differences == []
        assert np.allclose(
            read_official(tmp_path / 'k.gpkg').total_bounds,
            (130000, 238000, 194000, 258000),
            atol=0.01,
        )
