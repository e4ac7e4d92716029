import json
from pathlib import Path
from typing import Any

import pytest

from torchgeo_bvm.synth.flanders import (
    MANIFEST_NAME,
    load_manifest,
    write_mini_flanders,
)
from torchgeo_bvm.synth.flanders.manifest import GENERATOR_VERSION, is_reusable


def test_rerun_reuses_an_up_to_date_folder(tmp_path: Path) -> None:
    first = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    bvm = tmp_path / first['bvm']
    stamp = bvm.stat().st_mtime_ns
    again = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    assert again['reused'] is True
    assert bvm.stat().st_mtime_ns == stamp
    # A damaged file makes the next run regenerate.
    (tmp_path / first['boundary']).unlink()
    repaired = write_mini_flanders(tmp_path, 'tiny', seed=2, plot=False)
    assert repaired['reused'] is False
    assert (tmp_path / first['boundary']).exists()
    assert repaired['sizes'] == first['sizes']


def test_rerun_with_another_seed_regenerates_and_drops_stale_files(
    tmp_path: Path,
) -> None:
    write_mini_flanders(tmp_path, 'tiny', seed=2, plot=True)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    # A file an older run listed that this run does not write goes away.
    (tmp_path / 'bvm' / 'old.txt').write_text('x')
    manifest['sizes']['bvm/old.txt'] = 1
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    (tmp_path / 'notes.txt').write_text('mine')
    result = write_mini_flanders(tmp_path, 'tiny', seed=3, plot=False)
    assert (result['reused'], result['seed'], result['overview']) == (False, 3, None)
    assert not (tmp_path / 'bvm' / 'old.txt').exists()
    assert not (tmp_path / 'overview.png').exists()
    assert (tmp_path / 'notes.txt').read_text() == 'mine'  # never listed, kept
    assert load_manifest(tmp_path)['seed'] == 3


def test_interrupted_run_is_redone(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({'complete': False}))
    (tmp_path / 'bvm').mkdir()
    with pytest.raises(ValueError, match='did not finish'):
        load_manifest(tmp_path)
    assert write_mini_flanders(tmp_path, 'tiny', plot=False)['reused'] is False
    assert load_manifest(tmp_path)['complete'] is True


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / 'data.csv').write_text('keep me')
    with pytest.raises(ValueError, match=r'holds no manifest\.json'):
        write_mini_flanders(tmp_path, 'tiny')
    assert [p.name for p in tmp_path.iterdir()] == ['data.csv']


def test_a_season_is_reused_only_where_it_was_written(tmp_path: Path) -> None:
    manifest = {
        'complete': True,
        'version': GENERATOR_VERSION,
        'size': 'tiny',
        'seed': 0,
        'overview': None,
        'season': None,
        'sizes': {},
    }
    assert is_reusable(tmp_path, manifest, 'tiny', 0, plot=False)
    assert not is_reusable(tmp_path, manifest, 'tiny', 0, plot=False, season=True)
    with_season = {**manifest, 'season': {'year': 2022}}
    assert is_reusable(tmp_path, with_season, 'tiny', 0, plot=False, season=True)
    assert is_reusable(tmp_path, with_season, 'tiny', 0, plot=False, season=False)
    # A folder of another generator version is never reused.
    older = {**with_season, 'version': GENERATOR_VERSION - 1}
    assert not is_reusable(tmp_path, older, 'tiny', 0, plot=False)
    assert GENERATOR_VERSION == 3
    # Nor one of another share of changed polygons.
    shared = {**with_season, 'change_share': 0.03}
    assert is_reusable(tmp_path, shared, 'tiny', 0, plot=False, change_share=0.03)
    assert not is_reusable(tmp_path, shared, 'tiny', 0, plot=False, change_share=0.0)


def test_a_rerun_without_the_season_reuses_a_folder_with_it(
    tiny_season: tuple[Path, dict[str, Any]],
) -> None:
    out, first = tiny_season
    again = write_mini_flanders(out, 'tiny', seed=0, plot=False)
    assert again['reused'] is True
    assert again['season'] == first['season']


def test_a_run_with_the_radar_or_another_sunshine_is_no_reuse(tmp_path: Path) -> None:
    manifest = {
        'complete': True,
        'version': GENERATOR_VERSION,
        'size': 'tiny',
        'seed': 0,
        'overview': None,
        'season': {'sunshine': 1.0},
        'radar': None,
        'sizes': {},
    }
    assert is_reusable(tmp_path, manifest, 'tiny', 0, plot=False, season=True)
    assert not is_reusable(tmp_path, manifest, 'tiny', 0, plot=False, radar=True)
    assert not is_reusable(
        tmp_path, manifest, 'tiny', 0, plot=False, season=True, sunshine=0.56
    )
    radar = {**manifest, 'radar': {}, 'season': {'sunshine': 0.56}}
    assert is_reusable(tmp_path, radar, 'tiny', 0, plot=False, radar=True)
    assert is_reusable(
        tmp_path, radar, 'tiny', 0, plot=False, season=True, sunshine=0.56
    )
