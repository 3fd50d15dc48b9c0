"""Request semantics of the fake API: auth, routing, limits, validation and response shapes.

Transport-free: ``handle_api`` and ``handle_control`` take the parsed request and
return a ``Response``; ``server.py`` moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from .simulator import GROUP_NAMES, Simulator, count_kinds, served_number
from .team import DAY_MS, EXTENSIONS, HOSTING_TYPES, UsageEvent

MAX_EVENTS_PAGE_SIZE = 1000
DEFAULT_EVENTS_PAGE_SIZE = 100
DEFAULT_SPEND_PAGE_SIZE = 100
DEFAULT_DAILY_PAGE_SIZE = 1000
MAX_DAILY_RANGE_MS = 30 * DAY_MS
DAILY_SPEND_DAYS = 2
GROUP_ID_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


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


def iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day_string(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%d")


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


def _daily_row(sim: Simulator, member_index: int, day_ms: int, events: list[UsageEvent]) -> dict:
    member = sim.team.members[member_index]
    user_id = member.int_id if sim.config.daily_user_id_style == "int" else member.string_id
    row: dict = {"userId": user_id, "day": day_string(day_ms), "date": day_ms, "isActive": bool(events)}
    if not events:
        row.update(dict.fromkeys(DAILY_COUNTERS, 0))
        row.update(dict.fromkeys(DAILY_STRINGS))
        row["email"] = member.email
        return row
    rng = random.Random(f"{sim.config.seed}:daily:{day_ms}:{member_index}")
    count = len(events)
    agent = sum(1 for e in events if e.is_headless)
    composer = (count - agent) // 4
    chat = count - agent - composer
    applies = int(count * rng.uniform(0.3, 0.9))
    accepts = int(applies * rng.uniform(0.6, 0.95))
    tabs_shown = int(count * rng.uniform(3, 9))
    accepted_added = int(count * rng.uniform(5, 40))
    accepted_deleted = int(accepted_added * rng.uniform(0.2, 0.7))
    included, usage_based, api_key = count_kinds(events)
    models = Counter(e.model for e in events)
    most_used = min(models, key=lambda model: (-models[model], model))
    row.update(
        totalLinesAdded=accepted_added + int(count * rng.uniform(5, 30)),
        totalLinesDeleted=accepted_deleted + int(count * rng.uniform(2, 15)),
        acceptedLinesAdded=accepted_added,
        acceptedLinesDeleted=accepted_deleted,
        totalApplies=applies,
        totalAccepts=accepts,
        totalRejects=applies - accepts,
        totalTabsShown=tabs_shown,
        totalTabsAccepted=int(tabs_shown * rng.uniform(0.2, 0.6)),
        composerRequests=composer,
        chatRequests=chat,
        agentRequests=agent,
        cmdkUsages=rng.randint(0, count // 3),
        subscriptionIncludedReqs=included,
        apiKeyReqs=api_key,
        usageBasedReqs=usage_based,
        bugbotUsages=rng.choice((0, 0, 0, 1, 2)),
        mostUsedModel=most_used,
        applyMostUsedExtension=rng.choice(EXTENSIONS),
        tabMostUsedExtension=rng.choice(EXTENSIONS),
        clientVersion=member.client_version,
        email=member.email,
    )
    return row


DAILY_COUNTERS = (
    "totalLinesAdded", "totalLinesDeleted", "acceptedLinesAdded", "acceptedLinesDeleted",
    "totalApplies", "totalAccepts", "totalRejects", "totalTabsShown", "totalTabsAccepted",
    "composerRequests", "chatRequests", "agentRequests", "cmdkUsages",
    "subscriptionIncludedReqs", "apiKeyReqs", "usageBasedReqs", "bugbotUsages",
)  # fmt: skip
DAILY_STRINGS = ("mostUsedModel", "applyMostUsedExtension", "tabMostUsedExtension", "clientVersion")


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
            _daily_row(sim, index, day, activity[(day, index)])
            for day in days
            for index in range(len(sim.team.members))
            if (day, index) in activity
        ]
        return result
    members = [m for m in sim.team.members if m.joined_ms <= end and (m.removed_ms is None or m.removed_ms >= start)]
    total_pages = math.ceil(len(members) / page_size)
    selected = {m.index for m in members[(page - 1) * page_size : page * page_size]}
    result["data"] = [
        _daily_row(sim, index, day, activity.get((day, index), [])) for day in days for index in sorted(selected)
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


def _matches(value: str | None, wanted: object) -> bool:
    if wanted == "*":
        return bool(value)
    return value is not None and value == str(wanted)


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
    events = [e for e in events if _event_matches(sim, e, body, hosting)]
    events.reverse()  # newest first
    num_pages = math.ceil(len(events) / page_size)
    selected = events[(page - 1) * page_size : page * page_size]
    return {
        "totalUsageEventsCount": len(events),
        "pagination": {
            "numPages": num_pages,
            "currentPage": page,
            "pageSize": page_size,
            "hasNextPage": page < num_pages,
            "hasPreviousPage": page > 1,
        },
        "usageEvents": [e.payload(now, sim.config.legacy_2025) for e in selected],
        "period": {"startDate": start, "endDate": end},
    }


def _event_matches(sim: Simulator, event: UsageEvent, body: dict, hosting: str | None) -> bool:
    email = body.get("email")
    if email is not None and not (email == "*" or str(email).lower() == event.email):
        return False
    user_id = body.get("userId")
    if user_id is not None:
        if event.member_index is None:
            return False
        member = sim.team.members[event.member_index]
        if user_id != "*" and str(user_id) not in (str(member.int_id), member.string_id):
            return False
    for key, value in (
        ("serviceAccountId", event.service_account_id),
        ("cloudAgentId", event.cloud_agent_id),
        ("automationId", event.automation_id),
    ):
        if body.get(key) is not None and not _matches(value, body[key]):
            return False
    return hosting is None or event.hosting_type == hosting


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
    cycle_start, cycle_end = sim.cycle_bounds(at)
    spent = sim.on_demand_by_email_and_day(cycle_start, cycle_end - 1, now)
    last_day = min(now, cycle_end - 1) // DAY_MS * DAY_MS
    recent_days = [last_day - offset * DAY_MS for offset in reversed(range(DAILY_SPEND_DAYS))]
    created = iso(sim.first_cycle_start_ms - 90 * DAY_MS + 10 * 3_600_000)

    def member_entry(member, left: bool) -> dict:
        return {
            "userId": sim.member_id(member),
            "name": member.name,
            "email": member.email,
            "joinedAt": iso(max(member.joined_ms, sim.first_cycle_start_ms - 90 * DAY_MS)),
            "leftAt": iso(member.removed_ms) if left and member.removed_ms is not None else None,
            "spendCents": served_number(sum(spent.get(member.email, {}).values(), Decimal(0))),
        }

    def group(group_id: str, name: str, members: list, updated: str) -> dict:
        current = [m for m in members if not m.is_removed]
        former = [m for m in members if m.is_removed]
        total = sum((sum(spent.get(m.email, {}).values(), Decimal(0)) for m in members), Decimal(0))
        daily = [
            {
                "date": day_string(day),
                "spendCents": served_number(
                    sum((spent.get(m.email, {}).get(day, Decimal(0)) for m in members), Decimal(0))
                ),
            }
            for day in recent_days
            if cycle_start <= day < cycle_end
        ]
        return {
            "id": group_id,
            "name": name,
            "type": "BILLING",
            "directoryGroupId": None,
            "memberCount": len(current),
            "createdAt": created,
            "updatedAt": updated,
            "spendCents": served_number(total),
            "currentMembers": [member_entry(m, left=False) for m in current],
            "formerMembers": [member_entry(m, left=True) for m in former],
            "dailySpend": daily,
        }

    rng = random.Random(f"{sim.config.seed}:groups")
    groups = []
    for index, name in enumerate(GROUP_NAMES):
        members = [m for m in sim.team.members if sim.group_index(m) == index]
        group_id = "group_" + "".join(rng.choice(GROUP_ID_ALPHABET) for _ in range(26))
        directory = f"okta-{name.lower().replace(' ', '-')}" if index == 0 else None
        entry = group(group_id, name, members, iso(sim.first_cycle_start_ms - 3 * DAY_MS))
        entry["directoryGroupId"] = directory
        groups.append(entry)
    unassigned = group(
        "group_unassigned",
        "Unassigned",
        [m for m in sim.team.members if sim.group_index(m) is None],
        created,
    )
    unassigned["dailySpend"] = []
    return {
        "groups": groups,
        "unassignedGroup": unassigned,
        "billingCycle": {"cycleStart": iso(cycle_start), "cycleEnd": iso(cycle_end)},
    }


Route = Callable[[Simulator, dict[str, str], dict], dict]

READ_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/teams/members"): members_route,
    ("POST", "/teams/spend"): spend_route,
    ("POST", "/teams/daily-usage-data"): daily_usage_route,
    ("POST", "/teams/filtered-usage-events"): events_route,
    ("GET", "/teams/groups"): groups_route,
}
ENTERPRISE_ROUTES = frozenset({"/teams/groups"})


def authorized(sim: Simulator, authorization: str | None) -> bool:
    """Basic auth with the team key as username and an empty password; Bearer only by option."""
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return sim.config.accept_bearer and hmac.compare_digest(credentials, sim.config.api_key)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, separator, password = decoded.partition(":")
    return bool(separator) and password == "" and hmac.compare_digest(username, sim.config.api_key)


def handle_api(
    sim: Simulator, method: str, path: str, query: dict[str, str], authorization: str | None, raw_body: bytes
) -> Response:
    """Answer one API request (auth → routing → rate limit → plan → validation → data)."""
    try:
        if not authorized(sim, authorization):
            raise ApiError(401, UNAUTHORIZED)
        route = READ_ROUTES.get((method, path))
        if route is None:
            raise ApiError(404, NOT_FOUND)
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
