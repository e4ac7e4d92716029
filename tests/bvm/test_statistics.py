import math

import numpy as np
import pandas as pd
import pytest
from rasterio.transform import from_origin

from tests.conftest import write_labels
from torchgeo_bvm.bvm.statistics import chi_squared_distance, split_class_counts
from torchgeo_bvm.classes import CLASS_NAMES
from torchgeo_bvm.sheets.codes import Sheet
from torchgeo_bvm.sheets.scheme import SplitScheme

# The paper's Table 2 (class % per split), in class id order.
TABLE2_TRAIN = [
    0.10,
    34.27,
    23.07,
    0.54,
    0.24,
    0.26,
    0.69,
    0.05,
    0.14,
    0.63,
    0.01,
    26.27,
    2.08,
    11.65,
]
TABLE2_VAL = [
    0.06,
    33.92,
    22.92,
    1.08,
    0.23,
    0.04,
    0.65,
    0.06,
    0.13,
    0.58,
    0.007,
    27.05,
    2.05,
    11.22,
]
TABLE2_TEST = [
    0.25,
    32.85,
    22.14,
    0.95,
    0.22,
    0.34,
    0.56,
    0.07,
    0.12,
    0.73,
    0.006,
    28.56,
    1.74,
    11.47,
]


def test_chi_squared_reproduces_the_paper() -> None:
    # The paper reports 0.0038, 0.00392 and 0.0048 from the same table.
    assert round(chi_squared_distance(TABLE2_TRAIN, TABLE2_VAL), 4) == 0.0038
    assert round(chi_squared_distance(TABLE2_TRAIN, TABLE2_TEST), 5) == 0.00392
    assert round(chi_squared_distance(TABLE2_VAL, TABLE2_TEST), 4) == 0.0049


def test_chi_squared_properties() -> None:
    assert chi_squared_distance([1, 2, 3], [2, 4, 6]) == 0.0
    assert chi_squared_distance([1, 0], [0, 1]) == 2.0
    assert chi_squared_distance([1, 0, 0], [1, 0, 0]) == 0.0
    with pytest.raises(ValueError, match='different lengths: 2 and 3'):
        chi_squared_distance([1, 2], [1, 2, 3])
    with pytest.raises(
        ValueError, match='second distribution must be non-negative and non-zero'
    ):
        chi_squared_distance([1, 2], [0, 0])


def test_counts_by_split(sheet22_labels) -> None:
    stats = split_class_counts(sheet22_labels, numbers=[22], progress=False)
    assert stats.splits == ['train', 'val', 'test']
    assert list(stats.counts.index) == list(CLASS_NAMES)
    counts = stats.counts
    assert counts['train'][counts['train'] > 0].to_dict() == {
        'Cultivated land': 160,
        'Grasslands': 80,
    }
    assert counts['val'][counts['val'] > 0].to_dict() == {
        'Cultivated land': 100,
        'Urban areas': 60,
    }
    assert counts['test'][counts['test'] > 0].to_dict() == {'Water bodies': 160}
    assert stats.unlabelled.to_dict() == {'train': 80, 'val': 0, 'test': 0}
    assert counts.loc['Marine habitats'].sum() == 0
    percent = stats.percentages()
    assert percent.at['Grasslands', 'train'] == pytest.approx(100 / 3)
    assert percent['val'].sum() == pytest.approx(100)
    chi = stats.chi_squared().set_index(['split_a', 'split_b'])['distance']
    assert chi[('train', 'val')] == pytest.approx(528 / 744)
    assert chi[('train', 'test')] == pytest.approx(2.0)
    assert chi[('val', 'test')] == pytest.approx(2.0)


def test_small_blocks_give_the_same_counts(sheet22_labels) -> None:
    whole = split_class_counts(sheet22_labels, numbers=[22], progress=False)
    blocked = split_class_counts(
        sheet22_labels, numbers=[22], block_size=5, progress=False
    )
    pd.testing.assert_frame_equal(whole.counts, blocked.counts)


def test_custom_scheme_and_unselected_sheets(sheet22_labels) -> None:
    scheme = SplitScheme({'1-2': 'a', '3-4': 'a', '5-6': 'b', '7-8': 'b'})
    stats = split_class_counts(sheet22_labels, scheme, numbers=[22], progress=False)
    assert stats.counts['a'].sum() == 320
    assert stats.counts['b'].sum() == 240
    # Sheet 22 is not among the counted sheets: the raster misses them all,
    # which is an error rather than a table of zeros.
    with pytest.raises(
        ValueError,
        match=r'labels\.tif: no pixel of the raster lies in the sheets \[1\]',
    ):
        split_class_counts(sheet22_labels, numbers=[1], progress=False)


def test_geographic_raster_by_pixel_centre(tmp_path) -> None:
    # A 4326 raster over sheet 22 and its surroundings, all Grasslands: the
    # split shares follow the sheets' areas (2 : 1 : 1).
    transform = from_origin(3.55, 51.16, 0.0025, 0.0016)
    array = np.full((200, 400), 2, dtype=np.uint8)
    path = tmp_path / 'labels4326.tif'
    write_labels(path, array, transform, crs='EPSG:4326')
    stats = split_class_counts(path, numbers=[22], progress=False)
    train, val, test = (stats.counts[s].sum() for s in ('train', 'val', 'test'))
    assert math.isclose(train / val, 2, rel_tol=0.03)
    assert math.isclose(val / test, 1, rel_tol=0.03)
    # 640 km2 of sheet at about 175 m x 178 m a pixel.
    assert 18_000 < train + val + test < 23_000
    assert train + val + test < array.size


def test_bad_values_and_files(tmp_path) -> None:
    x0, _, _, y1 = Sheet.parse(22).bounds
    path = tmp_path / 'bad.tif'
    write_labels(
        path, np.full((4, 4), 14, dtype=np.uint8), from_origin(x0, y1, 1000, 1000)
    )
    with pytest.raises(
        ValueError,
        match=r'bad\.tif: value 14 is neither a class id \(0\.\.13\) nor the nodata value 255',
    ):
        split_class_counts(path, numbers=[22], progress=False)
    with pytest.raises(FileNotFoundError, match='label raster not found'):
        split_class_counts(tmp_path / 'missing.tif')


def test_write_outputs(sheet22_labels, tmp_path) -> None:
    stats = split_class_counts(sheet22_labels, numbers=[22], progress=False)
    paths = stats.write(tmp_path / 'out', log_scale=True)
    table = pd.read_csv(paths['counts'], index_col='class')
    assert table.loc['Water bodies', 'test'] == 160
    assert table.loc['Water bodies', 'class_id'] == 12
    assert table.loc['Grasslands', 'train_percent'] == pytest.approx(33.3333)
    chi = pd.read_csv(paths['chi_squared'])
    assert chi.columns.tolist() == ['split_a', 'split_b', 'distance']
    markdown = paths['markdown'].read_text()
    assert '| Cultivated land | 160 | 100 | 0 | 66.67 | 62.50 | 0.00 |' in markdown
    assert '| train - val | 0.70968 |' in markdown
    assert paths['chart'].read_bytes()[:4] == b'\x89PNG'


def test_median_frequency_weights() -> None:
    from torchgeo_bvm.bvm.statistics import median_frequency_weights

    # Frequencies 0.5, 0.25, 0.25 and an absent class: median 0.25.
    assert median_frequency_weights([2, 1, 1, 0]) == [0.5, 1.0, 1.0, 0.0]
    assert median_frequency_weights([1000, 1], max_weight=10) == [0.5005, 10.0]
    with pytest.raises(ValueError, match='at least one pixel'):
        median_frequency_weights([0, 0])


def test_class_weights_file(sheet22_labels, tmp_path) -> None:
    import json

    stats = split_class_counts(sheet22_labels, numbers=[22], progress=False)
    paths = stats.write(tmp_path)
    weights = json.loads(paths['class_weights'].read_text())
    # Train has Cultivated land 160 and Grasslands 80: median frequency 1/2.
    expected = [0.0] * 14
    expected[1], expected[2] = 0.75, 1.5
    assert weights == {'split': 'train', 'class_weights': expected}
    assert stats.class_weights() == expected
