"""Read-only HTTP client of the Cursor Admin API.

Basic auth with the key as username, one sliding-window limiter per endpoint, Retry-After on 429,
capped exponential backoff with jitter on 5xx and timeouts, and an allow-list that refuses every
write endpoint before a byte leaves the process. It knows nothing of metrics: it counts what it did
in :class:`ApiStats` and the exporter renders that.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError

from cursor_exporter import __version__
from cursor_exporter.activity import DailyRow
from cursor_exporter.ratelimit import SlidingWindowLimiter, limit_for
from cursor_exporter.records import (
    AiCommit,
    BillingGroup,
    EventsPage,
    Member,
    MemberSpend,
    PooledUsage,
    UsageEvent,
    iso_ms,
    parse_many,
)

log = logging.getLogger(__name__)

# Some reads are POST, so the guard is a list of (method, path) reads, never "GET is safe".
READ_ENDPOINTS = frozenset(
    {
        ("GET", "/teams/members"),
        ("POST", "/teams/spend"),
        ("POST", "/teams/daily-usage-data"),
        ("POST", "/teams/filtered-usage-events"),
        ("GET", "/teams/groups"),
        ("GET", "/analytics/ai-code/commits"),
        ("POST", "/organizations/pooled-usage"),
        ("POST", "/organizations/filtered-usage-events"),
    }
)
# Routes that answer If-None-Match with a 304 that does not count against the rate limit.
ETAG_ROUTES = frozenset({"/analytics/ai-code/commits"})
AI_CODE_PAGE_SIZE = 1000
EVENTS_PAGE_SIZE = 1000
TEAM_EVENTS_ENDPOINT = "/teams/filtered-usage-events"
ORG_EVENTS_ENDPOINT = "/organizations/filtered-usage-events"
SPEND_PAGE_SIZE = 100
DEFAULT_RETRY_AFTER = 60.0


class WriteEndpointRefused(RuntimeError):
    """Raised, without any network traffic, when code asks for a path that is not a known read."""


class ApiError(Exception):
    """A request that failed for good. ``status`` is the HTTP status, or 0 when none was received."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        super().__init__(f"{endpoint}: {status or 'no response'}: {message}")
        self.endpoint = endpoint
        self.status = status
        self.message = message


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
        self.malformed_records: Counter[str] = Counter()
        self._logged_malformed: set[tuple[str, str]] = set()

    def count_request(self, endpoint: str, code: str) -> None:
        with self._lock:
            self.requests[(endpoint, code)] += 1

    def count_wait(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            self.rate_limit_wait_seconds[endpoint] += seconds

    def count_malformed(self, endpoint: str, errors: list[Exception]) -> None:
        """Count unparseable records and log each distinct kind of problem once per process."""
        with self._lock:
            self.malformed_records[endpoint] += len(errors)
            for error in errors:
                if isinstance(error, ValidationError):
                    first = error.errors()[0]
                    signature = f"{'.'.join(map(str, first['loc']))}: {first['type']}"
                else:
                    signature = str(error)
                if (endpoint, signature) not in self._logged_malformed:
                    self._logged_malformed.add((endpoint, signature))
                    log.warning("malformed record from %s skipped and counted: %s", endpoint, signature)

    def total_requests(self) -> int:
        """Requests sent so far, whatever their outcome."""
        with self._lock:
            return sum(self.requests.values())

    def copy(self) -> tuple[dict, dict, dict]:
        """A consistent copy of (requests, waits, malformed)."""
        with self._lock:
            return dict(self.requests), dict(self.rate_limit_wait_seconds), dict(self.malformed_records)


@dataclass(frozen=True)
class SpendReport:
    """/teams/spend for the current cycle, all pages."""

    cycle_start_ms: int
    members: tuple[MemberSpend, ...]


@dataclass(frozen=True)
class GroupsReport:
    """/teams/groups for the current billing cycle."""

    cycle_start_ms: int | None
    cycle_end_ms: int | None
    groups: tuple[BillingGroup, ...]


def _error_message(response: httpx.Response) -> str:
    """The message of any of Cursor's error shapes, or a short note for a non-JSON body."""
    try:
        body = response.json()
    except ValueError:
        return f"non-JSON body ({response.headers.get('content-type', 'unknown type')})"
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("error", "code", "outcome", "message") if body.get(key)]
        if parts:
            return ": ".join(dict.fromkeys(parts))
    return "unrecognised error body"


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
        rate_limit_share: float = 0.5,
        rate_limit_period: float = 60.0,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        stats: ApiStats | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(api_key, ""),
            timeout=timeout,
            headers={"User-Agent": f"cursor-exporter/{__version__}", "Accept": "application/json"},
        )
        self._share = rate_limit_share
        self._period = rate_limit_period
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._monotonic = monotonic
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._etag_cache: dict[tuple, tuple[str, Any]] = {}
        self._limiters_lock = threading.Lock()
        self.stats = stats or ApiStats()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _limiter(self, path: str) -> SlidingWindowLimiter:
        with self._limiters_lock:
            if path not in self._limiters:
                self._limiters[path] = SlidingWindowLimiter(
                    limit_for(path, self._share), self._period, clock=self._monotonic, sleep=self._sleep
                )
            return self._limiters[path]

    def request(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> Any:
        """Send one read request, with rate limiting and retries, and return the decoded JSON.

        Floats are decoded as :class:`Decimal` so that money stays exact.
        """
        if (method, path) not in READ_ENDPOINTS:
            raise WriteEndpointRefused(f"{method} {path} is not an allowed read endpoint; refusing to call it")
        limiter = self._limiter(path)
        attempt = 0
        while True:
            slot, waited = limiter.acquire()
            if waited:
                self.stats.count_wait(path, waited)
            try:
                try:
                    return self._send_once(method, path, body, params)
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

    def _send_once(self, method: str, path: str, body: dict | None, params: dict | None) -> Any:
        cache_key = (path, tuple(sorted((params or {}).items())))
        cached = self._etag_cache.get(cache_key) if path in ETAG_ROUTES else None
        headers = {"If-None-Match": cached[0]} if cached else {}
        try:
            response = self._http.request(method, path, json=body, params=params, headers=headers)
        except httpx.TimeoutException:
            self.stats.count_request(path, "timeout")
            raise _Retryable(0, "timed out") from None
        except httpx.TransportError as error:
            self.stats.count_request(path, "network")
            raise _Retryable(0, type(error).__name__) from None
        status = response.status_code
        self.stats.count_request(path, str(status))
        if status == 304 and cached:
            return cached[1]
        if status == 429:
            raise _Retryable(status, "rate limited", retry_after=_retry_after(response))
        if status >= 500:
            raise _Retryable(status, _error_message(response))
        if status == 401:
            raise AuthError(path, status, _error_message(response))
        if status == 403:
            raise FeatureUnavailable(path, status, _error_message(response))
        if status >= 400:
            raise ApiError(path, status, _error_message(response))
        try:
            decoded = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            # A truncated body is a transport fault in disguise: the same request will likely succeed.
            raise _Retryable(status, "response body is not complete JSON") from None
        if path in ETAG_ROUTES and response.headers.get("etag"):
            self._etag_cache[cache_key] = (response.headers["etag"], decoded)
        return decoded

    def members(self) -> list[Member]:
        """Every row of /teams/members, removed members included."""
        body = self.request("GET", "/teams/members")
        members, errors = parse_many(Member, body.get("teamMembers") if isinstance(body, dict) else None)
        if errors:
            self.stats.count_malformed("/teams/members", errors)
        return members

    def spend(self) -> SpendReport:
        """/teams/spend, every page, for the current billing cycle."""
        rows: list[MemberSpend] = []
        page = 1
        cycle_start = None
        while True:
            body = self.request("POST", "/teams/spend", {"page": page, "pageSize": SPEND_PAGE_SIZE})
            if not isinstance(body, dict):
                raise ApiError("/teams/spend", 200, "response is not a JSON object")
            parsed, errors = parse_many(MemberSpend, body.get("teamMemberSpend"))
            if errors:
                self.stats.count_malformed("/teams/spend", errors)
            rows.extend(parsed)
            if cycle_start is None and body.get("subscriptionCycleStart") is not None:
                cycle_start = int(body["subscriptionCycleStart"])
            total_pages = int(body.get("totalPages") or 1)
            if page >= total_pages or not body.get("teamMemberSpend"):
                break
            page += 1
        if cycle_start is None:
            raise ApiError("/teams/spend", 200, "response has no subscriptionCycleStart")
        return SpendReport(cycle_start, tuple(rows))

    def groups(self) -> GroupsReport:
        """/teams/groups (Enterprise): billing groups with their cycle spend and current members."""
        body = self.request("GET", "/teams/groups")
        if not isinstance(body, dict):
            raise ApiError("/teams/groups", 200, "response is not a JSON object")
        rows = list(body.get("groups") or [])
        if isinstance(body.get("unassignedGroup"), dict):
            rows.append(body["unassignedGroup"])
        groups, errors = parse_many(BillingGroup, rows)
        if errors:
            self.stats.count_malformed("/teams/groups", errors)
        cycle = body.get("billingCycle") or {}
        return GroupsReport(iso_ms(cycle.get("cycleStart")), iso_ms(cycle.get("cycleEnd")), tuple(groups))

    def daily_usage(self, start_ms: int, end_ms: int) -> list[DailyRow]:
        """/teams/daily-usage-data rows of users active in [start_ms, end_ms] (at most 30 days)."""
        endpoint = "/teams/daily-usage-data"
        body = self.request("POST", endpoint, {"startDate": start_ms, "endDate": end_ms})
        rows = body.get("data") if isinstance(body, dict) else None
        parsed, errors = [], []
        for row in rows if isinstance(rows, list) else []:
            try:
                parsed.append(DailyRow.from_api(row))
            except (ValidationError, ValueError, TypeError) as error:
                errors.append(error)
        if errors:
            self.stats.count_malformed(endpoint, errors)
        return parsed

    def ai_code_commits(self, start_date: str, end_date: str) -> list[AiCommit]:
        """Every commit of /analytics/ai-code/commits in the range (flat paging; unchanged pages cost a 304)."""
        endpoint = "/analytics/ai-code/commits"
        commits: list[AiCommit] = []
        page = 1
        while True:
            params = {"startDate": start_date, "endDate": end_date, "page": page, "pageSize": AI_CODE_PAGE_SIZE}
            body = self.request("GET", endpoint, params=params)
            items = body.get("items") if isinstance(body, dict) else None
            parsed, errors = parse_many(AiCommit, items)
            if errors:
                self.stats.count_malformed(endpoint, errors)
            commits.extend(parsed)
            total = int(body.get("totalCount") or 0) if isinstance(body, dict) else 0
            if not items or page * AI_CODE_PAGE_SIZE >= total:
                return commits
            page += 1

    def pooled_usage(self, organization_id: str) -> PooledUsage:
        """/organizations/pooled-usage (organization key): pool limit, use, and each team's share."""
        endpoint = "/organizations/pooled-usage"
        body = self.request("POST", endpoint, {"organizationId": organization_id})
        if not isinstance(body, dict):
            raise ApiError(endpoint, 200, "response is not a JSON object")
        try:
            return PooledUsage.from_api(body)
        except ValidationError as error:
            self.stats.count_malformed(endpoint, [error])
            raise ApiError(endpoint, 200, "pooled usage could not be parsed") from None

    def usage_events_page(self, start_ms: int, end_ms: int, page: int) -> EventsPage:
        """One page of /teams/filtered-usage-events for the inclusive range [start_ms, end_ms]."""
        return self._events_page(TEAM_EVENTS_ENDPOINT, {}, start_ms, end_ms, page)

    def org_usage_events_page(self, organization_id: str, start_ms: int, end_ms: int, page: int) -> EventsPage:
        """One page of /organizations/filtered-usage-events (organization key, every team, ``teamId`` per event)."""
        return self._events_page(ORG_EVENTS_ENDPOINT, {"organizationId": organization_id}, start_ms, end_ms, page)

    def _events_page(self, endpoint: str, scope: dict, start_ms: int, end_ms: int, page: int) -> EventsPage:
        # pageSize is always sent: the default is 100 on the team route and 10 on the organization route.
        body = self.request(
            "POST",
            endpoint,
            {**scope, "startDate": start_ms, "endDate": end_ms, "page": page, "pageSize": EVENTS_PAGE_SIZE},
        )
        if not isinstance(body, dict):
            raise ApiError(endpoint, 200, "response is not a JSON object")
        rows = body.get("usageEvents") or []
        events, errors = parse_many(UsageEvent, rows)
        if errors:
            self.stats.count_malformed(endpoint, errors)
        pagination = body.get("pagination") or {}
        return EventsPage(
            total=int(body.get("totalUsageEventsCount") or 0),
            has_next_page=bool(pagination.get("hasNextPage")),
            events=tuple(events),
            received=len(rows) if isinstance(rows, list) else 0,
            malformed=len(errors),
        )
