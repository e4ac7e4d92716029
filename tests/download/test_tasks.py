"""Planning download tasks and naming their files."""

from datetime import date
from pathlib import Path

import pytest

from torchgeo_bvm.download.tasks import DownloadTask, output_path, plan_tasks
from torchgeo_bvm.sheets.codes import Sheet

SHEET = Sheet.parse('22/1-2')


def test_plan_tasks_groups_consecutive_months() -> None:
    tasks = plan_tasks(['22/3-4', '22/1-2'], [2022, 2021], [12, 4, 5, 7])
    assert [t.key for t in tasks] == [
        '22_1-2 2021-04-01/2021-06-01',
        '22_1-2 2021-07-01/2021-08-01',
        '22_1-2 2021-12-01/2022-01-01',
        '22_1-2 2022-04-01/2022-06-01',
        '22_1-2 2022-07-01/2022-08-01',
        '22_1-2 2022-12-01/2023-01-01',
        '22_3-4 2021-04-01/2021-06-01',
        '22_3-4 2021-07-01/2021-08-01',
        '22_3-4 2021-12-01/2022-01-01',
        '22_3-4 2022-04-01/2022-06-01',
        '22_3-4 2022-07-01/2022-08-01',
        '22_3-4 2022-12-01/2023-01-01',
    ]
    whole = plan_tasks(['15'], [2020])
    assert [t.temporal_extent for t in whole] == [['2020-01-01', '2021-01-01']]
    assert whole[0].months == [(2020, m) for m in range(1, 13)]
    monthly = plan_tasks(['15/1N'], [2020], [4, 5], per_month=True)
    assert [t.temporal_extent for t in monthly] == [
        ['2020-04-01', '2020-05-01'],
        ['2020-05-01', '2020-06-01'],
    ]


def test_plan_tasks_errors() -> None:
    with pytest.raises(ValueError, match=r'months must lie in 1..12, got \[13\]'):
        plan_tasks(['22/1-2'], [2022], [13])
    with pytest.raises(ValueError, match=r'2015\.\.2100'):
        plan_tasks(['22/1-2'], [2010])
    with pytest.raises(ValueError, match='invalid map sheet code'):
        plan_tasks(['22/9-9'], [2022])


def test_output_path() -> None:
    day = date(2022, 4, 5)
    assert output_path('o', '22/1-2', day, False) == Path(
        'o/22_1-2/22_1-2_openEO_2022-04-05Z.tif'
    )
    assert output_path('o', '15/1n', day, True) == Path(
        'o/15_1N/15_1N_openEO_2022-04_median.tif'
    )


def test_task_months() -> None:
    task = DownloadTask(SHEET, date(2022, 11, 1), date(2023, 2, 1))
    assert task.months == [(2022, 11), (2022, 12), (2023, 1)]
