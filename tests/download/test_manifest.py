"""The manifest of a download folder."""

import json
from datetime import date
from pathlib import Path

import pytest

from torchgeo_bvm.download.manifest import MANIFEST_NAME, Manifest, graph_digest
from torchgeo_bvm.download.tasks import DownloadTask
from torchgeo_bvm.sheets.codes import Sheet

TASK = DownloadTask(Sheet.parse('22/1-2'), date(2022, 4, 1), date(2022, 6, 1))
SETTINGS = {'collection': 'TERRASCOPE_S2_TOC_V2', 'bands': ['B02', 'SCL']}


def test_graph_digest_ignores_key_order() -> None:
    one = graph_digest({'process_graph': {'a': 1, 'b': [1, 2]}})
    assert one == graph_digest({'process_graph': {'b': [1, 2], 'a': 1}})
    assert one != graph_digest({'process_graph': {'a': 2, 'b': [1, 2]}})
    assert len(one) == 16


def test_records_survive_a_reopen_and_a_changed_graph_resets_them(
    tmp_path: Path,
) -> None:
    manifest = Manifest.open(tmp_path, SETTINGS)
    record = manifest.record(TASK, 'g1')
    assert record == {
        'sheet': '22/1-2',
        'temporal_extent': ['2022-04-01', '2022-06-01'],
        'graph': 'g1',
        'job_id': None,
        'files': [],
        'complete': False,
    }
    (tmp_path / 'f.tif').write_bytes(b'x')
    record.update(job_id='j-1', files=['f.tif'], complete=True)
    manifest.save()
    again = Manifest.open(tmp_path, SETTINGS)
    assert again.is_complete(TASK, 'g1')
    assert not again.is_complete(TASK, 'g2')
    (tmp_path / 'f.tif').unlink()
    assert not again.is_complete(TASK, 'g1')  # a file went missing
    assert again.record(TASK, 'g2')['job_id'] is None
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())['settings'] == SETTINGS


def test_other_settings_and_bad_files_are_refused(tmp_path: Path) -> None:
    Manifest.open(tmp_path, SETTINGS).save()
    with pytest.raises(
        ValueError, match=r"bands: \['B02', 'SCL'\] there, \['B02'\] now"
    ):
        Manifest.open(tmp_path, {**SETTINGS, 'bands': ['B02']})
    (tmp_path / MANIFEST_NAME).write_text('[1]')
    with pytest.raises(ValueError, match='not a download manifest'):
        Manifest.open(tmp_path, SETTINGS)
