"""Read-only HTTP client of the Cursor Admin API.

Basic auth with the key as username, one sliding-window limiter per endpoint, Retry-After on 429,
capped exponential backoff with jitter on 5xx and timeouts, and an allow-list that refuses every
write endpoint before a byte leaves the process. Every request has a wall-clock deadline and a cap on
its body, and any text the server sent is redacted of the key before it reaches an error or a log.
It knows nothing of metrics: it counts what it did in :class:`ApiStats` and the exporter renders that.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from cursor_exporter import __version__
from cursor_exporter.api.deadline import Deadline
from cursor_exporter.api.endpoints import Endpoint, WriteEndpointRefused
from cursor_exporter.api.ratelimit import SlidingWindowLimiter, limit_for
from cursor_exporter.api.records import OUTSIDE_WINDOW, Record, malformed_reason, parse_many

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)

DEFAULT_RETRY_AFTER = 60.0
# Statuses a retry can cure (429 has its own path through Retry-After); any other error fails at once,
# e.g. a 501 from a server that is not Cursor's.
TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a page of 1,000 usage events is about 1 MB
REDACTED = "[REDACTED]"
MAX_MESSAGE_CHARS = 300


class ApiError(Exception):
    """A request that failed for good. ``status`` is the HTTP status, or 0 when none was received."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        super().__init__(f"{endpoint}: {status or 'no response'}: {message}")
        self.endpoint = endpoint
        self.status = status
        self.message = message


class Cancelled(Exception):
    """The exporter is shutting down: a request was not sent, or a wait for the rate limit was cut short."""


class AuthError(ApiError):
    """401: the key is wrong, revoked, or of the wrong type (team vs organization)."""


class FeatureUnavailable(ApiError):
    """403: the plan or the key's scope lacks this feature. Not transient."""


class _Retryable(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ApiStats:
    """Thread-safe tallies of what the client did, for the exporter's own health metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.rate_limit_wait_seconds: Counter[str] = Counter()
        self.malformed_records: Counter[tuple[str, str]] = Counter()
        self._logged_malformed: set[tuple[str, str, str]] = set()

    def count_request(self, endpoint: str, code: str) -> None:
        with self._lock:
            self.requests[(endpoint, code)] += 1

    def count_wait(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            self.rate_limit_wait_seconds[endpoint] += seconds

    def count_malformed(self, endpoint: str, errors: list[Exception], reason: str = OUTSIDE_WINDOW) -> None:
        """Count records left out by (endpoint, reason) and log each distinct (endpoint, reason, field) once.

        A ValidationError counts under the reason its first error maps to (:func:`malformed_reason`); any
        other exception under ``reason``, by default ``outside_window``: an event the scanner received for
        a window it did not ask for.
        """
        with self._lock:
            for error in errors:
                if isinstance(error, ValidationError):
                    first = error.errors(include_url=False, include_input=False)[0]
                    why = malformed_reason(first["type"])
                    field = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
                    detail = first["msg"]
                else:
                    why, field, detail = reason, "", str(error)
                self.malformed_records[(endpoint, why)] += 1
                if (endpoint, why, field) not in self._logged_malformed:
                    self._logged_malformed.add((endpoint, why, field))
                    log.warning(
                        "malformed record from %s skipped and counted (%s): %s%s",
                        endpoint,
                        why,
                        f"{field}: " if field else "",
                        detail,
                    )

    def copy(self) -> tuple[dict, dict, dict]:
        """A consistent copy of (requests by (endpoint, code), waits by endpoint, malformed by (endpoint, reason))."""
        with self._lock:
            return dict(self.requests), dict(self.rate_limit_wait_seconds), dict(self.malformed_records)


def secret_forms(api_key: str) -> tuple[str, ...]:
    """The key as a server or proxy may echo it: as is, URL-encoded, and in base64 with and without the
    Basic-auth colon (padding dropped, so a prefix matches too); longest first."""
    forms = {api_key, quote(api_key, safe="")}
    for credentials in (f"{api_key}:".encode(), api_key.encode()):
        forms |= {base64.b64encode(credentials).decode(), base64.urlsafe_b64encode(credentials).decode()}
    return tuple(sorted({form.rstrip("=") for form in forms} - {""}, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by ``[REDACTED]``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _error_message(response: httpx.Response, content: bytearray, secrets: Iterable[str]) -> str:
    """The message of any of Cursor's error shapes, or a short note for a non-JSON body: server text, so
    redacted of ``secrets`` and cut to one short line."""
    message = "unrecognised error body"
    try:
        body = json.loads(content)
    except ValueError:
        message = f"non-JSON body ({response.headers.get('content-type', 'unknown type')})"
    else:
        if isinstance(body, dict):
            parts = [str(body[key]) for key in ("error", "code", "outcome", "message") if body.get(key)]
            message = ": ".join(dict.fromkeys(parts)) or message
    return " ".join(redact(message, secrets).split())[:MAX_MESSAGE_CHARS]


def _redact_json(value: Any, secrets: Iterable[str]) -> Any:
    """Decoded JSON with every string (keys included) redacted of ``secrets``."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_redact_json(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(key, secrets): _redact_json(item, secrets) for key, item in value.items()}
    return value


def _read_capped(response: httpx.Response, cap: int) -> bytearray | None:
    """The decoded body, read as it streams in; None as soon as it (or its declared length) passes ``cap``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > cap:
            return None
    return body


def decode_exact(content: bytes | bytearray) -> Any:
    """JSON with every fraction decoded as :class:`Decimal`, so that money stays exact."""
    return json.loads(content, parse_float=Decimal)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", DEFAULT_RETRY_AFTER)))
    except ValueError:
        return DEFAULT_RETRY_AFTER


class CursorClient:
    """Read-only Cursor Admin API client with per-endpoint rate limits and retries."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        endpoints: Iterable[Endpoint] = (),
        rate_limit_share: float = 0.5,
        rate_limit_period: float = 60.0,
        timeout: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        stopping: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        stats: ApiStats | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(api_key, ""),
            timeout=timeout,
            # Each request opens its own connection, so that its Deadline sees the socket and can cut it.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": f"cursor-exporter/{__version__}", "Accept": "application/json"},
        )
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._secrets = secret_forms(api_key)
        self._share = rate_limit_share
        self._period = rate_limit_period
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._stopping = stopping or threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._monotonic = monotonic
        self._endpoints = {endpoint.route: endpoint for endpoint in endpoints}
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._etag_cache: dict[tuple, tuple[str, Any]] = {}
        self._limiters_lock = threading.Lock()
        self.stats = stats or ApiStats()
        self._sync = threading.local()  # the deadline of the sync this thread runs, if any

    @property
    def base_url(self) -> str:
        """The API's base URL, redacted of the key should one be written into it."""
        return self.redact(str(self._http.base_url))

    def redact(self, text: str) -> str:
        """``text`` (from the server, or about it) with this client's key in every echoed form removed."""
        return redact(text, self._secrets)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _interruptible_sleep(self, seconds: float) -> None:
        """Wait for a rate-limit slot, a Retry-After or a backoff, unless the exporter stops meanwhile."""
        if self._stopping.wait(seconds):
            raise Cancelled("shutting down")

    def _limiter(self, endpoint: Endpoint) -> SlidingWindowLimiter:
        with self._limiters_lock:
            if endpoint.path not in self._limiters:
                self._limiters[endpoint.path] = SlidingWindowLimiter(
                    limit_for(endpoint, self._share), self._period, clock=self._monotonic, sleep=self._sleep
                )
            return self._limiters[endpoint.path]

    @contextmanager
    def sync_deadline(self, seconds: float | None) -> Iterator[None]:
        """Within this block no request of this thread starts (or retries) more than ``seconds`` after it
        began: an endless answer (a next page for ever, a billion pages) fails its sync, not the exporter."""
        outer = getattr(self._sync, "deadline", None), getattr(self._sync, "seconds", None)
        self._sync.deadline = None if seconds is None else self._monotonic() + seconds
        self._sync.seconds = seconds
        try:
            yield
        finally:  # a needed source's sync nests inside the sync that needed it
            self._sync.deadline, self._sync.seconds = outer

    def _check_sync_deadline(self, path: str) -> None:
        deadline = getattr(self._sync, "deadline", None)
        if deadline is not None and self._monotonic() >= deadline:
            raise ApiError(path, 0, f"sync ran out of its {self._sync.seconds:.0f}s; the rest waits for the next sync")

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        params: dict | None = None,
        decode: Callable[[bytearray], Any] = decode_exact,
    ) -> Any:
        """Send one read request, with rate limiting and retries, and return the JSON as ``decode`` reads it
        (by default with fractions as :class:`Decimal`, so that money stays exact)."""
        endpoint = self._endpoints.get((method, path))
        if endpoint is None:
            raise WriteEndpointRefused(f"{method} {path} is not an allowed read endpoint; refusing to call it")
        limiter = self._limiter(endpoint)
        attempt = 0
        while True:
            if self._stopping.is_set():
                raise Cancelled("shutting down")
            self._check_sync_deadline(path)
            slot, waited = limiter.acquire()
            if waited:
                self.stats.count_wait(path, waited)
            try:
                try:
                    return self._send_once(endpoint, body, params, decode)
                finally:
                    limiter.complete(slot)
            except _Retryable as failure:
                attempt += 1
                if attempt > self._max_retries:
                    raise ApiError(path, failure.status, f"gave up after {attempt} attempts: {failure}") from None
                if failure.retry_after is not None:
                    limiter.block_for(failure.retry_after)
                    log.warning(
                        "%s rate limited by Cursor; waiting %.0fs as Retry-After asks", path, failure.retry_after
                    )
                else:
                    delay = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
                    delay *= random.uniform(0.5, 1.0)
                    log.info("%s failed (%s); retry %d in %.1fs", path, failure, attempt, delay)
                    self._sleep(delay)

    def _send_once(
        self, endpoint: Endpoint, body: dict | None, params: dict | None, decode: Callable[[bytearray], Any]
    ) -> Any:
        method, path = endpoint.route
        cache_key = (path, tuple(sorted((params or {}).items())))
        cached = self._etag_cache.get(cache_key) if endpoint.etag else None
        headers = {"If-None-Match": cached[0]} if cached else {}
        response, content = self._exchange(method, path, json=body, params=params, headers=headers)
        status = response.status_code
        self.stats.count_request(path, str(status))
        if content is None:
            raise ApiError(path, status, f"response larger than {self._max_response_bytes} bytes")
        if status == 304 and cached:
            return cached[1]
        if status == 429:
            raise _Retryable(status, "rate limited", retry_after=_retry_after(response))
        if status in TRANSIENT_STATUSES:
            raise _Retryable(status, _error_message(response, content, self._secrets))
        if status == 401:
            raise AuthError(path, status, _error_message(response, content, self._secrets))
        if status == 403:
            raise FeatureUnavailable(path, status, _error_message(response, content, self._secrets))
        if status >= 400:
            raise ApiError(path, status, _error_message(response, content, self._secrets))
        if status != 200:
            # A redirect is never followed (it would carry the key to wherever it points), and no other
            # status carries an answer: its body, even a well-formed page, must not replace stored data.
            raise ApiError(path, status, f"unexpected status {status}; only 200 carries an answer")
        try:
            decoded = decode(content)
        except ValueError:
            # A truncated body is a transport fault in disguise: the same request will likely succeed.
            raise _Retryable(status, "response body is not complete JSON") from None
        if any(secret.encode() in content for secret in self._secrets):
            # An echo of the key in an answer would reach the ledger, labels and error messages from there.
            decoded = _redact_json(decoded, self._secrets)
        if endpoint.etag and response.headers.get("etag"):
            self._etag_cache[cache_key] = (response.headers["etag"], decoded)
        return decoded

    def _exchange(self, method: str, path: str, **request: Any) -> tuple[httpx.Response, bytearray | None]:
        """One request and its body (None when over the cap), all within the deadline, or a retryable failure."""
        deadline = Deadline(self._timeout)
        try:
            with deadline, self._http.stream(method, path, **request, extensions={"trace": deadline.trace}) as response:
                content = _read_capped(response, self._max_response_bytes)
        except httpx.RequestError as error:
            if not (deadline.expired or isinstance(error, httpx.TimeoutException)):
                self.stats.count_request(path, "network")
                reason = self.redact(str(error) or type(error).__name__)
                raise _Retryable(0, f"{self._http.base_url.host}: {reason}") from None
        else:
            if not deadline.expired:  # a body that runs to the connection's close also "ends" when cut
                return response, content
        self.stats.count_request(path, "timeout")
        raise _Retryable(0, f"timed out: no complete answer within {self._timeout:g}s")

    def parse_rows(self, path: str, model: type[R], rows: Any) -> list[R]:
        """Every row of ``rows`` that parses as ``model``; the rest are counted as malformed and logged once."""
        parsed, errors = parse_many(model, rows)
        if errors:
            self.stats.count_malformed(path, errors)
        return parsed
