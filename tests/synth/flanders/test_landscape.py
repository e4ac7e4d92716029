from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from shapely.geometry import box

from tests.synth.flanders.reading import TINY, region_classes
from torchgeo_bvm.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, class_by_name
from torchgeo_bvm.sheets.boundary import read_boundary
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.sheets.official import read_official
from torchgeo_bvm.sheets.scheme import SplitScheme
from torchgeo_bvm.synth.flanders import (
    TARGET_SHARES,
)


def test_every_class_present_with_the_manifest_counts(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = tiny
    counts = np.bincount(region_classes(out).ravel(), minlength=IGNORE_INDEX + 1)
    assert {c.name: int(counts[c.id]) for c in CLASSES} == manifest['pixels']
    assert (counts[:NUM_CLASSES] > 0).all()
    shares = counts[:NUM_CLASSES] / counts[:NUM_CLASSES].sum()
    # The large classes come in the paper's order of size.
    large = ['Cultivated land', 'Urban areas', 'Grasslands', 'Woodland and shrub']
    assert shares[class_by_name('Cultivated land').id] > 0.25
    assert all(shares[class_by_name(n).id] > 0.05 for n in large)
    rare = [c.id for c in CLASSES if TARGET_SHARES[c.name] < 0.01]
    assert (shares[rare] < 0.01).all()


def test_every_split_holds_every_class(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, _ = tiny
    classes = region_classes(out)
    rows, cols = TINY.pixels
    xmin, _, _, ymax = TINY.bounds
    scheme = SplitScheme()
    # The region's centre is the corner of the four kbl4 sheets of sheet 22.
    quarters = {
        '22/1-2': classes[: rows // 2, : cols // 2],
        '22/3-4': classes[: rows // 2, cols // 2 :],
        '22/5-6': classes[rows // 2 :, : cols // 2],
        '22/7-8': classes[rows // 2 :, cols // 2 :],
    }
    corner = Sheet.parse('22/1-2').bounds[2], Sheet.parse('22/1-2').bounds[1]
    assert corner == (xmin + cols * 5, ymax - rows * 5)
    by_split: dict[str, set[int]] = {}
    for code, part in quarters.items():
        by_split.setdefault(scheme.split_of(code), set()).update(
            np.unique(part).tolist()
        )
    assert set(by_split) == {'train', 'val', 'test'}
    for found in by_split.values():
        assert found - {IGNORE_INDEX} == set(range(NUM_CLASSES))


def test_bvm_has_holes_overlaps_and_narrow_features(
    tiny: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = tiny
    frame = pyogrio.read_dataframe(out / 'bvm' / 'BwkHab.shp')
    geometries = frame.geometry.to_numpy()
    assert shapely.get_num_interior_rings(shapely.get_parts(geometries)).max() > 0
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate='overlaps')
    assert (left != right).any()
    woody = frame['EENH1'].str.match(r'^k[hb]')
    widths = 2 * frame.geometry[woody].area / frame.geometry[woody].length
    assert 5.0 <= widths.median() <= 12.0
    assert frame['EENH1'].str.endswith('+').any()
    assert set(frame['HABLEGENDE']) == {'gh', 'hab', 'phab'}
    assert frame['UIDN'].is_unique


def test_boundary_cuts_through_the_region(tiny: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = tiny
    path = out / manifest['boundary']
    assert path.name == 'Refgew.shp'
    frame = pyogrio.read_dataframe(path)
    assert list(frame.columns[:-1]) == [
        'UIDN', 'OIDN', 'TERRID', 'NAAM', 'NISCODE', 'NUTS1', 'LENGTE', 'OPPERVL'
    ]  # fmt: skip
    assert (frame['NAAM'][0], frame['NISCODE'][0], frame['NUTS1'][0]) == (
        'Vlaams Gewest',
        '02000',
        'BE2',
    )
    flanders = read_boundary(path)
    region = box(*TINY.bounds)
    outside = region.difference(flanders).area / region.area
    assert 0.02 < outside < 0.3
    assert flanders.within(box(*Sheet.parse(22).bounds).buffer(1e-6))
    bvm = shapely.union_all(pyogrio.read_dataframe(out / 'bvm' / 'BwkHab.shp').geometry)
    assert bvm.difference(flanders.buffer(0.01)).area < 1.0
    # Imagery goes on beyond the border.
    assert box(*read_official(out / 'kbl' / 'Kbl16.shp').total_bounds).contains(region)
