"""openEO failures through the real ``openeo`` client: each ends in one line.

An unreachable backend (refused, not resolving, silent) fails within the stated
bound; a refused login (HTTP 401, a failed OpenID Connect flow), an asset that
is gone (404), a failed job and a backend that keeps failing (500) are one line
naming the backend and its answer, with exit status 2; nothing partial stays.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.hostile import assert_refused, run_cli, staging_left
from tests.openeo_backend import CLIENT_ID, Faults, LocalOpenEO
from torchgeo_bvm.download.backend import CONNECT_ATTEMPTS

TIMEOUT = 0.5
#: What the command states: attempts x timeout, and 1 s + 2 s between them.
BOUND = CONNECT_ATTEMPTS * TIMEOUT + 3


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def download(out: Path, backend: str, *extra: str) -> list[str]:
    return [
        'download', '--out', str(out), '--sheets', '22/1-2', '--years', '2022',
        '--months', '4', '--backend', backend, '--connect-timeout', str(TIMEOUT),
        '--poll-interval', '0.01', '--retries', '1', '--quiet', *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ('backend', 'reason'),
    [
        ('http://127.0.0.1:9', 'connection refused (nothing listens there)'),
        ('http://no-such-host.invalid', 'its host name does not resolve'),
        ('silent', 'no answer in time'),
    ],
)
def test_unreachable_backend_fails_within_the_stated_time(
    tmp_path: Path, capsys, silent_port: int, backend: str, reason: str
) -> None:
    if backend == 'silent':
        backend = f'http://127.0.0.1:{silent_port}'
    start = time.monotonic()
    outcome = run_cli(capsys, *download(tmp_path / 's2', backend))
    seconds = time.monotonic() - start
    assert_refused(
        outcome,
        f'cannot reach the openEO backend {backend}: {reason}',
        f'gave up after {CONNECT_ATTEMPTS} attempts',
        '--dry-run',
    )
    assert seconds < BOUND + 2
    assert not (tmp_path / 's2').exists()


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ('HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'OPENEO_CONFIG_HOME'):
        monkeypatch.setenv(variable, str(tmp_path / 'home' / variable.lower()))
    monkeypatch.setenv('OPENEO_AUTH_METHOD', 'client_credentials')
    monkeypatch.setenv('OPENEO_AUTH_CLIENT_ID', CLIENT_ID)
    monkeypatch.setenv('OPENEO_AUTH_CLIENT_SECRET', 'a-wrong-secret')


def test_login_refused_by_the_provider(
    tmp_path: Path, capsys, credentials: None
) -> None:
    with LocalOpenEO(require_auth=True) as server:
        url = server.url
        outcome = run_cli(capsys, *download(tmp_path / 's2', url))
    assert_refused(outcome, f'{url}: the OpenID Connect login failed')
    assert list((tmp_path / 's2').rglob('*.tif')) == []


def test_no_login_at_a_protected_backend(tmp_path: Path, capsys) -> None:
    with LocalOpenEO(require_auth=True) as server:
        url = server.url
        outcome = run_cli(capsys, *download(tmp_path / 's2', url, '--no-auth'))
    assert_refused(outcome, f'{url} answered HTTP 401 AuthenticationRequired', 'login')


@pytest.mark.parametrize(
    ('faults', 'words'),
    [
        (Faults(missing_assets=True), ['download of openEO_2022-04-0', 'answered HTTP 404 AssetNotFound']),
        (Faults(error_jobs=True), ["openEO batch job 'j-0001' ended with status 'error'", 'no data in extent']),
        (Faults(http_500={'POST /jobs': 99}), ['answered HTTP 500 Internal: Injected server error']),
        (Faults(band_names=['X', 'Y', 'Z', 'W']), ['the backend named the bands', "'X'"]),
        (Faults(drop_downloads=99), ['gave up after 2 attempts']),
    ],
)  # fmt: skip
def test_backend_failures_are_one_line(
    tmp_path: Path, capsys, faults: Faults, words: list[str]
) -> None:
    out = tmp_path / 's2'
    with LocalOpenEO(faults, describe_bands=True) as server:
        argv = download(out, server.url, '--no-auth', '--bands', 'rgb')
        outcome = run_cli(capsys, *argv)
    assert_refused(outcome, *words)
    assert list(out.rglob('*.tif')) == []
    assert staging_left(out) == [] if out.exists() else True
