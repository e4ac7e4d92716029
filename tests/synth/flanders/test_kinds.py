from pathlib import Path
from typing import Any

import pyogrio
import pytest
from pyproj import CRS

from tests.synth.flanders.reading import bvm_dataset
from torchgeo_bvm.bvm.units import UnitMapping
from torchgeo_bvm.classes import class_by_name
from torchgeo_bvm.synth.bvm import BWKHAB_FIELDS
from torchgeo_bvm.synth.flanders.kinds import KINDS


@pytest.mark.parametrize('kind', list(KINDS))
def test_every_unit_code_maps_to_its_intended_class(kind: str) -> None:
    name, codes = KINDS[kind]
    mapping = UnitMapping()
    assert {mapping.classify(code) for code in codes} == {class_by_name(name).id}


def test_bvm_reads_through_bvmdataset(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    dataset = bvm_dataset(out)
    assert dataset.source.endswith('bvm/BwkHab.shp')
    assert dataset.source_crs == CRS.from_epsg(31370)
    report = dataset.load()
    assert (report.polygons, report.repaired, report.skipped) == (
        manifest['polygons'],
        0,
        0,
    )
    info = pyogrio.read_info(out / 'bvm' / 'BwkHab.shp')
    assert list(info['fields']) == list(BWKHAB_FIELDS)
    # A shapefile does not tell polygons from multipolygons; GDAL says Polygon.
    assert info['geometry_type'] == 'Polygon'
    prj = (out / 'bvm' / 'BwkHab.prj').read_text()
    assert prj.startswith('PROJCS["Belge_Lambert_1972"')
