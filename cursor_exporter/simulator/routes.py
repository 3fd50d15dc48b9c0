"""Request semantics of the fake API: auth, routing, limits, validation and response shapes.

Transport-free: ``handle_api`` and ``handle_control`` take the parsed request and
return a ``Response``; ``server.py`` moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .codetracking import served_change, served_commit
from .daily import daily_row
from .filters import event_matches, events_page
from .groups import groups_payload
from .org import DEFAULT_ORG_EVENTS_PAGE_SIZE, org_events, pooled_usage_payload
from .simulator import Simulator
from .team import DAY_MS, HOSTING_TYPES
from .timefmt import parse_query_date

MAX_EVENTS_PAGE_SIZE = 1000
DEFAULT_EVENTS_PAGE_SIZE = 100
DEFAULT_SPEND_PAGE_SIZE = 100
DEFAULT_DAILY_PAGE_SIZE = 1000
MAX_DAILY_RANGE_MS = 30 * DAY_MS


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class ApiError(Exception):
    """An error answered with a JSON body."""

    def __init__(self, status: int, payload: dict) -> None:
        super().__init__(payload.get("message", ""))
        self.status = status
        self.payload = payload


def generic_error(status: int, message: str) -> ApiError:
    reasons = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        500: "Internal Server Error",
    }
    return ApiError(status, {"error": reasons[status], "message": message})


def bad_request(message: str) -> ApiError:
    return generic_error(400, message)


UNAUTHORIZED = {"error": "Unauthorized", "message": "Invalid API key"}
NOT_FOUND = {"error": "Not Found", "message": "Resource not found"}
INTERNAL_ERROR = {"error": "Internal Server Error", "message": "An unexpected error occurred"}
ENTERPRISE_REQUIRED = {"error": "Forbidden", "message": "Enterprise access required"}
RATE_LIMIT_BODIES = {
    "code": {"code": "error", "message": "Rate limit exceeded"},
    "error": {"error": "Too Many Requests", "message": "Rate limit exceeded. Please try again later."},
}


def rate_limited(sim: Simulator) -> Response:
    return json_response(
        429,
        RATE_LIMIT_BODIES[sim.config.rate_limit_body],
        {"Retry-After": str(sim.rate_limiter.retry_after_s)},
    )


def proxy_error_page(status: int) -> Response:
    """What a load balancer in front of the API returns: HTML, not JSON."""
    reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, html.encode(), {"Content-Type": "text/html"})


# -- parameters -------------------------------------------------------------------------------------


def parse_json_body(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid JSON body") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def date_param(sim: Simulator, body: dict, key: str, required: bool) -> int | None:
    """An epoch-ms date from a JSON body; strings are the observed 500 (or 400 by option)."""
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is required")
        return None
    if not _is_number(value):
        if sim.config.string_date_status == 500:
            raise ApiError(500, INTERNAL_ERROR)
        raise bad_request(f"{key} must be a number (epoch milliseconds)")
    return int(value)


def positive_int_param(body: dict, key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not _is_number(value) or value != int(value) or value < 1:
        raise bad_request(f"{key} must be a positive integer")
    return int(value)


def page_size_param(sim: Simulator, body: dict, default: int, maximum: int) -> int:
    size = positive_int_param(body, "pageSize", default)
    if size > maximum:
        if sim.config.oversize_page_size == "clamp":
            return maximum
        raise bad_request(f"pageSize cannot exceed {maximum}")
    return size


# -- routes -----------------------------------------------------------------------------------------


def members_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    rows = []
    for member in sim.team.members:
        row: dict = {}
        if sim.config.user_id_style != "absent":
            row["id"] = sim.member_id(member)
        row.update(name=member.name, email=member.email, role=member.role, isRemoved=member.is_removed)
        rows.append(row)
    return {"teamMembers": rows}


SPEND_SORT_KEYS: dict[str, Callable[[dict, dict], object]] = {
    "amount": lambda row, joined: (row["spendCents"], row["email"]),
    "date": lambda row, joined: (joined[row["email"]], row["email"]),
    "user": lambda row, joined: ((row["name"] or row["email"]).lower(), row["email"]),
}


def spend_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    now = sim.now_ms()
    sort_by = body.get("sortBy") or "date"
    direction = body.get("sortDirection") or "desc"
    if sort_by not in SPEND_SORT_KEYS:
        raise bad_request("sortBy must be one of amount, date, user")
    if direction not in ("asc", "desc"):
        raise bad_request("sortDirection must be asc or desc")
    page = positive_int_param(body, "page", 1)
    page_size = positive_int_param(body, "pageSize", DEFAULT_SPEND_PAGE_SIZE)
    rows = sim.spend_rows(now)
    search = body.get("searchTerm")
    if search:
        needle = str(search).lower()
        rows = [r for r in rows if needle in r["email"] or needle in (r["name"] or "").lower()]
    joined = {m.email: m.joined_ms for m in sim.team.members}
    rows.sort(key=lambda row: SPEND_SORT_KEYS[sort_by](row, joined), reverse=direction == "desc")
    total_pages = math.ceil(len(rows) / page_size)
    cycle_start, _ = sim.cycle_bounds(now)
    return {
        "teamMemberSpend": rows[(page - 1) * page_size : page * page_size],
        "subscriptionCycleStart": cycle_start,
        "totalMembers": len(rows),
        "totalPages": total_pages,
    }


def _date_range(sim: Simulator, body: dict, required: bool, max_range_ms: int | None) -> tuple[int, int]:
    start = date_param(sim, body, "startDate", required)
    end = date_param(sim, body, "endDate", required)
    if end is None:
        end = sim.now_ms()
    if start is None:
        start = end - (max_range_ms or MAX_DAILY_RANGE_MS)
    if start > end:
        raise bad_request("startDate must be before endDate")
    if max_range_ms is not None and end - start > max_range_ms:
        raise bad_request("Date range cannot exceed 30 days")
    return start, end


def daily_usage_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    start, end = _date_range(sim, body, required=True, max_range_ms=MAX_DAILY_RANGE_MS)
    paged = "page" in body or "pageSize" in body
    page = positive_int_param(body, "page", 1)
    page_size = page_size_param(sim, body, DEFAULT_DAILY_PAGE_SIZE, 1000)
    now = sim.now_ms()
    activity = sim.daily_activity(start, end, now)
    days = range(start // DAY_MS * DAY_MS, end // DAY_MS * DAY_MS + 1, DAY_MS)
    result: dict = {"data": [], "period": {"startDate": start, "endDate": end}}
    if not paged:
        result["data"] = [
            daily_row(sim, index, day, activity[(day, index)], now)
            for day in days
            for index in range(len(sim.team.members))
            if (day, index) in activity
        ]
        return result
    members = [m for m in sim.team.members if m.joined_ms <= end and (m.removed_ms is None or m.removed_ms >= start)]
    total_pages = math.ceil(len(members) / page_size)
    selected = {m.index for m in members[(page - 1) * page_size : page * page_size]}
    result["data"] = [
        daily_row(sim, index, day, activity.get((day, index), []), now) for day in days for index in sorted(selected)
    ]
    result["pagination"] = {
        "page": page,
        "pageSize": page_size,
        "totalUsers": len(members),
        "totalPages": total_pages,
        "hasNextPage": page < total_pages,
        "hasPreviousPage": page > 1,
    }
    return result


def events_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    max_range = None if sim.config.events_max_range_days is None else sim.config.events_max_range_days * DAY_MS
    start, end = _date_range(sim, body, required=False, max_range_ms=max_range)
    hosting = body.get("hostingType")
    if hosting is not None and hosting not in HOSTING_TYPES:
        raise bad_request(f"Invalid hostingType; expected one of {', '.join(HOSTING_TYPES)}")
    page = positive_int_param(body, "page", 1)
    page_size = page_size_param(sim, body, DEFAULT_EVENTS_PAGE_SIZE, MAX_EVENTS_PAGE_SIZE)
    now = sim.now_ms()
    events = sim.visible_events(start, end, now)
    events = [e for e in events if event_matches(sim.team, e, body, hosting)]
    events.reverse()  # newest first
    selected = events[(page - 1) * page_size : page * page_size]
    rows = [e.payload(now, sim.config.legacy_2025) for e in selected]
    return {**events_page(len(events), page, page_size, rows), "period": {"startDate": start, "endDate": end}}


_BILLING_CYCLE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def groups_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    now = sim.now_ms()
    at = now
    if query.get("billingCycle"):
        text = query["billingCycle"]
        try:
            if not _BILLING_CYCLE_DATE.match(text):
                raise ValueError(text)
            date = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise bad_request("billingCycle must be a date (YYYY-MM-DD)") from None
        at = int(date.timestamp() * 1000)
    return groups_payload(sim, at, now)


# -- Organization API ---------------------------------------------------------------------------

ORG_UNAUTHORIZED = {"code": "error", "message": "Invalid Organization API Key"}
ORG_FORBIDDEN = {"code": "error", "message": "Not authorized"}


def _check_organization(sim: Simulator, body: dict) -> None:
    organization = body.get("organizationId")
    if organization is None or organization == "":
        raise ApiError(400, {"code": "error", "message": "organizationId is required"})
    if str(organization) != sim.config.organization_id:
        raise ApiError(403, ORG_FORBIDDEN)


def pooled_usage_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    _check_organization(sim, body)
    payload, _ = pooled_usage_payload(sim, sim.now_ms())
    return payload


def org_events_route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
    _check_organization(sim, body)
    team_ids = body.get("teamIds")
    if team_ids is not None:
        if not isinstance(team_ids, list) or not all(_is_number(t) or isinstance(t, str) for t in team_ids):
            raise bad_request("teamIds must be an array of team ids")
        try:
            team_ids = [int(t) for t in team_ids]
        except ValueError:
            raise bad_request("teamIds must be an array of team ids") from None
    max_range = None if sim.config.events_max_range_days is None else sim.config.events_max_range_days * DAY_MS
    start, end = _date_range(sim, body, required=False, max_range_ms=max_range)
    page = positive_int_param(body, "page", 1)
    page_size = page_size_param(sim, body, DEFAULT_ORG_EVENTS_PAGE_SIZE, MAX_EVENTS_PAGE_SIZE)
    now = sim.now_ms()
    try:
        events = org_events(sim, start, end, now, team_ids, body)
    except ValueError as error:
        raise bad_request(str(error)) from None
    rows = []
    for team_id, event in events[(page - 1) * page_size : page * page_size]:
        payload = event.payload(now, sim.config.legacy_2025)
        for key in ("cloudAgentId", "automationId", "conversationId"):
            payload.pop(key, None)
        rows.append({**payload, "teamId": team_id})
    return {**events_page(len(events), page, page_size, rows), "period": {"startDate": start, "endDate": end}}


# -- AI Code Tracking -------------------------------------------------------------------------------

MAX_AI_CODE_PAGE_SIZE = 1000
DEFAULT_AI_CODE_PAGE_SIZE = 100
CACHE_CONTROL = "public, max-age=900"


def _query_int(query: dict[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{key} must be a positive integer") from None
    if value < 1:
        raise bad_request(f"{key} must be a positive integer")
    return value


def _ai_code_route(kind: str) -> Route:
    def route(sim: Simulator, query: dict[str, str], body: dict) -> dict:
        now = sim.now_ms()
        try:
            start = parse_query_date(query.get("startDate") or "7d", now, end_of_day=False)
            end = parse_query_date(query.get("endDate") or "now", now, end_of_day=True)
        except ValueError:
            raise bad_request("startDate/endDate must be an ISO date, 'now' or '<n>d'") from None
        if start > end:
            raise bad_request("startDate must be before endDate")
        page = _query_int(query, "page", 1)
        page_size = _query_int(query, "pageSize", DEFAULT_AI_CODE_PAGE_SIZE)
        if page_size > MAX_AI_CODE_PAGE_SIZE:
            if sim.config.oversize_page_size != "clamp":
                raise bad_request(f"pageSize cannot exceed {MAX_AI_CODE_PAGE_SIZE}")
            page_size = MAX_AI_CODE_PAGE_SIZE
        items = sim.code_tracker().items(kind, start, end, now, user=query.get("user") or None)
        serve = served_commit if kind == "commits" else served_change
        return {
            "items": [serve(item) for item in items[(page - 1) * page_size : page * page_size]],
            "totalCount": len(items),
            "page": page,
            "pageSize": page_size,
        }

    return route


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


Route = Callable[[Simulator, dict[str, str], dict], dict]

READ_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/teams/members"): members_route,
    ("POST", "/teams/spend"): spend_route,
    ("POST", "/teams/daily-usage-data"): daily_usage_route,
    ("POST", "/teams/filtered-usage-events"): events_route,
    ("GET", "/teams/groups"): groups_route,
    ("GET", "/analytics/ai-code/commits"): _ai_code_route("commits"),
    ("GET", "/analytics/ai-code/changes"): _ai_code_route("changes"),
}
ORG_ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/organizations/pooled-usage"): pooled_usage_route,
    ("POST", "/organizations/filtered-usage-events"): org_events_route,
}
ENTERPRISE_ROUTES = frozenset({"/teams/groups", "/analytics/ai-code/commits", "/analytics/ai-code/changes"})
CACHED_ROUTES = frozenset({"/analytics/ai-code/commits", "/analytics/ai-code/changes"})


def authorized(sim: Simulator, authorization: str | None, key: str | None = None) -> bool:
    """Basic auth with the key (default: the team key) as username and an empty password;
    Bearer only by option."""
    key = sim.config.api_key if key is None else key
    if not authorization or not key:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return sim.config.accept_bearer and hmac.compare_digest(credentials, key)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, separator, password = decoded.partition(":")
    return bool(separator) and password == "" and hmac.compare_digest(username, key)


def _handle_org(sim: Simulator, method: str, path: str, authorization: str | None, raw_body: bytes) -> Response:
    org_key = sim.config.org_api_key
    if org_key is None or not authorized(sim, authorization, org_key):
        raise ApiError(401, ORG_UNAUTHORIZED)
    route = ORG_ROUTES.get((method, path))
    if route is None:
        raise ApiError(404, NOT_FOUND)
    if sim.config.rate_limits and not sim.rate_limiter.allow(path):
        return rate_limited(sim)
    body = parse_json_body(raw_body) if method == "POST" else {}
    return json_response(200, route(sim, {}, body))


def handle_api(
    sim: Simulator,
    method: str,
    path: str,
    query: dict[str, str],
    authorization: str | None,
    raw_body: bytes,
    if_none_match: str | None = None,
) -> Response:
    """Answer one API request (auth → routing → rate limit → plan → validation → data).

    ``/organizations/*`` take the org key only; every other route the team key only.
    AI Code Tracking answers ``If-None-Match`` hits with 304 before rate limiting, so
    revalidations are not counted.
    """
    try:
        if path.startswith("/organizations/"):
            return _handle_org(sim, method, path, authorization, raw_body)
        if not authorized(sim, authorization):
            raise ApiError(401, UNAUTHORIZED)
        route = READ_ROUTES.get((method, path))
        if route is None:
            raise ApiError(404, NOT_FOUND)
        if path in CACHED_ROUTES:
            if not sim.config.enterprise:
                raise ApiError(403, ENTERPRISE_REQUIRED)
            response = json_response(200, route(sim, query, {}))
            etag = etag_for(response.body)
            cache_headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
            if etag_matches(if_none_match, etag):
                return Response(304, b"", cache_headers)
            if sim.config.rate_limits and not sim.rate_limiter.allow(path):
                return rate_limited(sim)
            response.headers.update(cache_headers)
            return response
        if sim.config.rate_limits and not sim.rate_limiter.allow(path):
            return rate_limited(sim)
        if path in ENTERPRISE_ROUTES and not sim.config.enterprise:
            raise ApiError(403, ENTERPRISE_REQUIRED)
        body = parse_json_body(raw_body) if method == "POST" else {}
        return json_response(200, route(sim, query, body))
    except ApiError as error:
        return json_response(error.status, error.payload)


def handle_control(sim: Simulator, method: str, path: str, query: dict[str, str], raw_body: bytes) -> Response:
    """The ``/_sim`` test-control routes (no auth, no limits, no faults, not logged)."""
    try:
        if (method, path) == ("GET", "/_sim/truth"):
            start = int(query["startDate"]) if query.get("startDate") else None
            end = int(query["endDate"]) if query.get("endDate") else None
            return json_response(200, sim.truth(start, end))
        truth_routes = {
            "/_sim/truth/daily": sim.truth_daily,
            "/_sim/truth/org": sim.truth_org,
            "/_sim/truth/ai-code": sim.truth_ai_code,
        }
        if method == "GET" and path in truth_routes:
            start = int(query["startDate"]) if query.get("startDate") else None
            end = int(query["endDate"]) if query.get("endDate") else None
            return json_response(200, truth_routes[path](start, end))
        if (method, path) == ("GET", "/_sim/truth/groups"):
            at = int(query["at"]) if query.get("at") else None
            return json_response(200, sim.truth_groups(at))
        if (method, path) == ("POST", "/_sim/faults"):
            body = parse_json_body(raw_body)
            try:
                sim.faults.inject(str(body.get("kind")), int(body.get("count", 1)))
            except (TypeError, ValueError) as error:
                raise bad_request(str(error)) from None
            return json_response(200, {"pending": sim.faults.pending})
        if path == "/_sim/clock" and method in ("GET", "POST"):
            body = parse_json_body(raw_body) if method == "POST" else {}
            if body.get("setMs") is not None:
                sim.clock.set(int(body["setMs"]))
            if body.get("advanceMs") is not None:
                sim.clock.advance(int(body["advanceMs"]))
            return json_response(200, {"now": sim.now_ms()})
        raise ApiError(404, NOT_FOUND)
    except ValueError:
        return json_response(400, {"error": "Bad Request", "message": "Invalid parameter"})
    except ApiError as error:
        return json_response(error.status, error.payload)
