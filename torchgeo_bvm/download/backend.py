"""The openEO backend of a download: its connection, login, retries and errors.

See :mod:`torchgeo_bvm.download` for the faults it survives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from openeo.rest import OpenEoApiPlainError, OpenEoClientException
from openeo.rest.connection import Connection, connect
from urllib3.util import Retry

from ..checks import check_count, check_seconds
from ..errors import BVMError
from . import DEFAULT_BACKEND

__all__ = [
    'CONNECT_ATTEMPTS',
    'MAX_BACKOFF_SECONDS',
    'MAX_CONNECT_TIMEOUT',
    'TRANSIENT_STATUS',
    'Backend',
    'DownloadError',
    'first_line',
    'request_failure',
]

_log = logging.getLogger(__name__)

#: HTTP answers worth retrying: rate limiting and server-side trouble.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
#: How often the backend is tried at start-up before the run gives up.
CONNECT_ATTEMPTS = 3
#: The longest ``connect_timeout``: an unreachable backend is given up on
#: within about 15 minutes at most.
MAX_CONNECT_TIMEOUT = 300.0
#: The longest delay between two attempts of a request (the backoff doubles up
#: to it), as urllib3's retries cap theirs.
MAX_BACKOFF_SECONDS = 120.0

_T = TypeVar('_T')


class DownloadError(BVMError, RuntimeError):
    """A download failed for good (after its retries), or delivered a bad file.

    Also what an unreachable backend, a refused login (HTTP 401, a failed OpenID
    Connect flow) or an asset the backend does not have (HTTP 404) end in: one
    line naming the backend, the request and its answer.
    """


class Backend:
    """An openEO backend, connected (and logged in) on first use.

    Args:
        url: the backend URL (``https://`` is added if no scheme is given).
        auth: True to authenticate with the client's ``authenticate_oidc()``,
            False for none, None to authenticate only if the backend offers
            OpenID Connect (``GET /credentials/oidc``).
        retries: attempts after the first for transient HTTP errors and dropped
            connections.
        backoff: the first backoff delay in seconds, doubled at every retry up
            to :data:`MAX_BACKOFF_SECONDS` (which it may not exceed).
        connect_timeout: seconds to wait for the backend's first answer (at
            most :data:`MAX_CONNECT_TIMEOUT`), tried :data:`CONNECT_ATTEMPTS`
            times, 1 s and 2 s apart.

    Raises:
        ValueError: for a retry count or delay that is negative, not finite or
            above its limit.
    """

    def __init__(
        self,
        url: str = DEFAULT_BACKEND,
        *,
        auth: bool | None = None,
        retries: int = 5,
        backoff: float = 2.0,
        connect_timeout: float = 10.0,
    ) -> None:
        check_count(retries, 'retries', minimum=0, maximum=100)
        check_seconds(connect_timeout, 'connect_timeout', MAX_CONNECT_TIMEOUT)
        if backoff != 0:
            check_seconds(backoff, 'backoff', MAX_BACKOFF_SECONDS)
        self.address = url
        self.auth = auth
        self.retries = retries
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self._connection: Connection | None = None

    @property
    def url(self) -> str:
        """The backend's URL, with its scheme."""
        return self.address if '://' in self.address else f'https://{self.address}'

    @property
    def connection(self) -> Connection:
        """The connection, opened (and authenticated) on first use."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def failure(self, error: Exception) -> str:
        """One line for an answer or a failure of the backend.

        Args:
            error: the client's error or the failed request's.

        Returns:
            The line, naming the backend and its answer.
        """
        if isinstance(error, OpenEoApiPlainError):
            status = error.http_status_code
            code = getattr(error, 'code', None)
            what = f'HTTP {status}' + (f' {code}' if code else '')
            text = f'{self.url} answered {what}: {first_line(error.message)}'
            if status in (401, 403):
                text += (
                    ' (the login was refused or has expired: authenticate again, '
                    "see the openeo client's authentication docs)"
                )
            return text
        return f'{self.url}: {request_failure(error)}'

    def retrying(self, call: Callable[[], _T], what: str) -> _T:
        """Call, again after a dropped connection or a truncated body.

        Status retries live in the client's adapter; this covers what it cannot
        see: connections dropped while a body streams, and truncated bodies.

        Args:
            call: the request.
            what: the request in words, for the log and the error.

        Returns:
            What the call returned.

        Raises:
            DownloadError: if the last attempt failed too.
        """
        for attempt in range(self.retries + 1):
            try:
                return call()
            except requests.exceptions.ChunkedEncodingError as error:
                if attempt == self.retries:
                    raise DownloadError(
                        f'{what}: gave up after {attempt + 1} attempts: {error}'
                    ) from error
                delay = min(self.backoff * 2**attempt, MAX_BACKOFF_SECONDS)
                _log.warning('%s: %s; retrying in %.1f s', what, error, delay)
                time.sleep(delay)
        raise AssertionError('unreachable')

    def _connect(self) -> Connection:
        self._reach()
        # The client's own urllib3 retry adapter retries refused or reset
        # connections and HTTP 429/5xx answers (honouring Retry-After); it is
        # widened to every method and to 500, and hands the last answer back so
        # the client raises the backend's own error message.
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff / 2,
            status_forcelist=TRANSIENT_STATUS,
            allowed_methods=None,
            raise_on_status=False,
        )
        connection = connect(self.address, retry=retry)
        if self._wants_auth(connection):
            try:
                connection.authenticate_oidc()
            except (
                OpenEoClientException,
                requests.exceptions.RequestException,
            ) as error:
                raise DownloadError(
                    f'{self.url}: the OpenID Connect login failed: '
                    f'{first_line(str(error))}'
                ) from error
        return connection

    def _reach(self) -> None:
        """Fail within a bounded time if nothing answers at the backend's URL.

        The client's first requests would otherwise go through its retries
        twice (version discovery, then capabilities), a minute and more of
        silence before a traceback.
        """
        start = time.monotonic()
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                requests.get(self.url, timeout=self.connect_timeout).close()
                return
            except requests.exceptions.RequestException as error:
                if attempt + 1 == CONNECT_ATTEMPTS:
                    seconds = time.monotonic() - start
                    raise DownloadError(
                        f'cannot reach the openEO backend {self.url}: '
                        f'{request_failure(error)} (gave up after '
                        f'{CONNECT_ATTEMPTS} attempts in {seconds:.0f} s); check '
                        'the network or --backend, or print the process graphs '
                        'with --dry-run'
                    ) from error
                time.sleep(2.0**attempt)

    def _wants_auth(self, connection: Connection) -> bool:
        if self.auth is not None:
            return self.auth
        offers_oidc: bool = connection.capabilities().supports_endpoint(
            '/credentials/oidc', method='GET'
        )
        return offers_oidc


def first_line(text: str) -> str:
    """The first line of a text that is not blank, stripped.

    Args:
        text: a message, perhaps of many lines.

    Returns:
        The line, or ``''``.
    """
    return next((line.strip() for line in text.splitlines() if line.strip()), '')


def request_failure(error: Exception) -> str:
    """Why a request failed, in words, without urllib3's nested reprs.

    Args:
        error: the failed request's error.

    Returns:
        The reason in a few words.
    """
    text = str(error)
    if isinstance(error, requests.exceptions.Timeout):
        return 'no answer in time'
    if 'NameResolutionError' in text or 'Failed to resolve' in text:
        return 'its host name does not resolve (no network or DNS?)'
    if 'Connection refused' in text:
        return 'connection refused (nothing listens there)'
    if isinstance(error, requests.exceptions.ConnectionError):
        return 'the connection failed'
    return first_line(text) or type(error).__name__
