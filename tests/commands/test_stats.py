import json

import pandas as pd

from torchgeo_bvm.cli import main


def test_stats_cli(sheet22_labels, tmp_path, capsys) -> None:
    out = tmp_path / 'stats'
    assert (
        main(
            [
                'stats',
                '--labels',
                str(sheet22_labels),
                '--sheets',
                '22',
                '--out',
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert '| train - val | 0.70968 |' in printed
    assert sorted(p.name for p in out.iterdir()) == [
        'chi_squared.csv',
        'class_counts.csv',
        'class_distribution.png',
        'class_weights.json',
        'split_statistics.md',
    ]


def test_stats_cli_custom_split(sheet22_labels, tmp_path) -> None:
    scheme = tmp_path / 'split.json'
    scheme.write_text(
        json.dumps({'1-2': 'train', '5-6': 'train', '3-4': 'test', '7-8': 'test'})
    )
    out = tmp_path / 'stats'
    assert (
        main(
            [
                'stats',
                '--labels',
                str(sheet22_labels),
                '--split',
                str(scheme),
                '--sheets',
                '22',
                '--out',
                str(out),
            ]
        )
        == 0
    )
    counts = pd.read_csv(out / 'class_counts.csv', index_col='class')
    assert counts['test'].sum() == 320


def test_stats_cli_errors(sheet22_labels, tmp_path, capsys) -> None:
    bad = tmp_path / 'split.json'
    bad.write_text('{"1-2": "train"}')
    assert (
        main(
            [
                'stats',
                '--labels',
                str(sheet22_labels),
                '--split',
                str(bad),
                '--out',
                str(tmp_path),
            ]
        )
        == 2
    )
    assert (
        'split.json: split scheme assigns no split to sheet 1/3N'
        in capsys.readouterr().err
    )
    assert (
        main(['stats', '--labels', str(tmp_path / 'no.tif'), '--out', str(tmp_path)])
        == 2
    )
    assert 'no.tif not found' in capsys.readouterr().err


def test_stats_bands_cli(mini_flanders, tmp_path, capsys) -> None:
    folder, manifest = mini_flanders
    out = tmp_path / 'stats'
    arguments = [
        'stats',
        '--bands',
        'rgb',
        '--sentinel2',
        str(folder / 'TOC_V2'),
        '--crs',
        'EPSG:32631',
        '--res',
        '10',
    ]
    arguments += [
        '--boundary',
        str(folder / manifest['boundary']),
        '--sheets',
        '22',
        '--out',
        str(out),
    ]
    assert main(arguments) == 0
    stats = json.loads((out / 'band-stats.json').read_text())
    assert stats['bands'] == ['B02', 'B03', 'B04']
    assert len(stats['mean']) == len(stats['std']) == 3
    assert all(100 < m < 3000 for m in stats['mean'])  # reflectance x 10000 of land
    printed = capsys.readouterr().out
    assert 'usable pixels of the train split' in printed
    assert main(['stats', '--bands', 'rgb', '--out', str(out)]) == 2
    assert '--bands needs --sentinel2' in capsys.readouterr().err


def test_stats_bands_sentinel1_refusals(mini_flanders, tmp_path, capsys) -> None:
    folder, manifest = mini_flanders
    radar = str(folder / manifest['radar']['composites_root'])
    optical = str(folder / 'TOC_V2')
    out = ['--out', str(tmp_path / 'stats')]
    for arguments, message in [
        (
            ['--bands', 'dual', '--sentinel1', radar, '--cloud-rule', 'paper'],
            '--cloud-rule applies to --sentinel2 (its SCL layer): radar sees '
            'through clouds',
        ),
        (
            ['--bands', 'rgb', '--sentinel2', optical, '--linear'],
            '--orbit and --linear apply to --sentinel1',
        ),
        (['--bands', 'VV,HH', '--sentinel1', radar], "unknown Sentinel-1 band 'HH'"),
        (
            ['--bands', 'dual', '--sentinel1', str(tmp_path / 'none')],
            f'--sentinel1: {tmp_path / "none"} not found',
        ),
    ]:
        assert main(['stats', *arguments, *out]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / 'stats').exists()
