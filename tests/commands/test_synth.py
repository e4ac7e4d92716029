from pathlib import Path

import pytest

from torchgeo_bvm.classes import CLASS_NAMES
from torchgeo_bvm.cli import main
from torchgeo_bvm.synth.flanders import load_manifest


def test_synth_writes_then_reuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'mini'
    assert (
        main(['synth', '--out', str(out), '--size', 'tiny', '--seed', '4', '--no-plot'])
        == 0
    )
    printed = capsys.readouterr().out
    assert f'mini-Flanders (tiny, seed 4) in {out}: written in' in printed
    assert 'bvm/BwkHab.shp' in printed
    assert '2020-04-18, 2020-07-27, 2020-10-05, 2021-06-14' in printed
    assert all(name in printed for name in CLASS_NAMES)
    manifest = load_manifest(out)
    assert (manifest['size'], manifest['seed'], manifest['overview']) == (
        'tiny',
        4,
        None,
    )
    assert (
        main(['synth', '--out', str(out), '--size', 'tiny', '--seed', '4', '--no-plot'])
        == 0
    )
    assert 'up to date, reused' in capsys.readouterr().out


def test_synth_refuses_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / 'keep.txt').write_text('mine')
    assert main(['synth', '--out', str(tmp_path), '--size', 'tiny']) == 2
    error = capsys.readouterr().err
    assert error.startswith('torchgeo-bvm synth: error: ')
    assert 'holds no manifest.json' in error
    assert [p.name for p in tmp_path.iterdir()] == ['keep.txt']


def test_synth_rejects_an_unknown_size(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        main(['synth', '--out', str(tmp_path), '--size', 'huge'])
    assert raised.value.code == 2


@pytest.mark.slow
def test_synth_writes_the_season(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'mini'
    arguments = ['synth', '--out', str(out), '--size', 'tiny', '--no-plot', '--season']
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert (
        '  season:    season/TOC_V2 (36 dates of 2022), season/openeo '
        '(48 monthly composites)\n'
    ) in printed
    season = load_manifest(out)['season']
    assert len(list((out / season['products_root']).glob('2022/*/*/*_TOC_V210'))) == 36
    assert len(list((out / season['composites_root']).glob('*/*_median.tif'))) == 48


@pytest.mark.slow
def test_synth_writes_the_radar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'mini'
    arguments = ['synth', '--out', str(out), '--size', 'tiny', '--no-plot', '--radar']
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert (
        '  radar:     radar/CGS_S1_GRD_SIGMA0_L1 (61 passes of 2022), radar/openeo '
        '(48 monthly means)\n'
    ) in printed
    radar = load_manifest(out)['radar']
    products = list((out / radar['products_root']).glob('2022/*/*/S1A_*_V110'))
    assert len(products) == 61
    assert len(list((out / radar['composites_root']).glob('*/*_mean.tif'))) == 48
    assert load_manifest(out)['season'] is None
    # The same command again reuses the folder.
    assert main(arguments) == 0
    assert 'up to date, reused' in capsys.readouterr().out


def test_synth_sunshine_is_for_the_season(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'mini'
    arguments = ['synth', '--out', str(out), '--size', 'tiny', '--sunshine', '0.56']
    assert main(arguments) == 2
    assert 'pass season=True (--season) too' in capsys.readouterr().err
    assert main([*arguments, '--season', '--sunshine', '2']) == 2
    assert 'sunshine must lie in (0, 1.13]' in capsys.readouterr().err
    assert not out.exists()
