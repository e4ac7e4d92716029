"""Start-up of the command line: ``--help`` of every subcommand vs importing rasterio.

Runs, in fresh processes, ``torchgeo-bvm --help``, ``torchgeo-bvm COMMAND
--help`` for every subcommand, and the quick commands that must not load torch
(``grid`` and ``download --dry-run``), each five times, with the baseline
``python -c 'import rasterio'`` measured in the same run; prints the median
wall time, its ratio to the baseline, and whether torch was imported (the
command runs with ``-X importtime`` once to find out).

Usage::

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = ['compare', 'demo', 'download', 'grid', 'rasterize', 'stats', 'synth']


def timed(argv: list[str], repeat: int) -> float:
    """Median wall time of ``argv`` in seconds over ``repeat`` fresh processes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports_torch(argv: list[str]) -> bool:
    """Whether the process imports torch (from ``-X importtime``)."""
    done = subprocess.run(
        [argv[0], '-X', 'importtime', *argv[1:]], capture_output=True, text=True
    )
    return any(line.rstrip().endswith('| torch') for line in done.stderr.splitlines())


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    script = Path(python).with_name('torchgeo-bvm')
    cli = [str(script)] if script.exists() else [python, '-m', 'torchgeo_bvm.cli']
    out = Path(tempfile.mkdtemp())
    cases = {
        "python -c 'import rasterio' (baseline)": [python, '-c', 'import rasterio']
    }
    cases['torchgeo-bvm --help'] = [*cli, '--help']
    for command in COMMANDS:
        cases[f'torchgeo-bvm {command} --help'] = [*cli, command, '--help']
    cases['torchgeo-bvm grid --sheets 22 --out x.gpkg'] = [
        *cli, 'grid', '--sheets', '22', '--out', str(out / 'x.gpkg'), '--overwrite',
    ]  # fmt: skip
    cases['torchgeo-bvm download --dry-run (1 sheet, 1 month)'] = [
        *cli, 'download', '--out', str(out / 's2'), '--sheets', '22/1-2',
        '--years', '2022', '--months', '4', '--dry-run',
    ]  # fmt: skip
    baseline = timed(cases["python -c 'import rasterio' (baseline)"], args.repeat)
    print(f'median of {args.repeat} runs each; baseline {baseline:.3f} s')
    print('| command | median s | x baseline | imports torch |')
    print('|---|---|---|---|')
    for name, argv in cases.items():
        seconds = baseline if 'baseline' in name else timed(argv, args.repeat)
        torch = 'yes' if imports_torch(argv) else 'no'
        print(f'| `{name}` | {seconds:.3f} | {seconds / baseline:.2f} | {torch} |')


if __name__ == '__main__':
    main()
