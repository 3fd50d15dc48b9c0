"""GET routes with query-string parameters: AI Code Tracking and audit logs."""

from __future__ import annotations

import math

from .audit import DEFAULT_AUDIT_RANGE_MS, select_audit_events
from .codetracking import served_change, served_commit
from .timefmt import parse_query_date
from .units import DAY_MS
from .wire import Route, bad_request, query_int
from .world import World

MAX_AI_CODE_PAGE_SIZE = 1000
DEFAULT_AI_CODE_PAGE_SIZE = 100
MAX_AUDIT_PAGE_SIZE = 500
DEFAULT_AUDIT_PAGE_SIZE = 100
MAX_AUDIT_RANGE_MS = 30 * DAY_MS


def ai_code_route(kind: str) -> Route:
    def route(sim: World, query: dict[str, str], body: dict) -> dict:
        now = sim.now_ms()
        try:
            start = parse_query_date(query.get("startDate") or "7d", now, end_of_day=False)
            end = parse_query_date(query.get("endDate") or "now", now, end_of_day=True)
        except ValueError:
            raise bad_request("startDate/endDate must be an ISO date, 'now' or '<n>d'") from None
        if start > end:
            raise bad_request("startDate must be before endDate")
        page = query_int(query, "page", 1)
        page_size = query_int(query, "pageSize", DEFAULT_AI_CODE_PAGE_SIZE)
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


def _audit_time(query: dict[str, str], key: str, now_ms: int) -> int | None:
    text = query.get(key)
    if not text:
        return None
    try:
        return parse_query_date(text, now_ms, relative_units="dhs", unix_seconds=True)
    except ValueError:
        raise bad_request(
            f"{key} must be now, today, yesterday, <n>d, <n>h, <n>s, an ISO 8601 date or a Unix timestamp"
        ) from None


def _csv(query: dict[str, str], key: str) -> set[str] | None:
    text = query.get(key)
    if text is None:
        return None
    return {item.strip() for item in text.split(",") if item.strip()} or None


def audit_logs_route(sim: World, query: dict[str, str], body: dict) -> dict:
    """``GET /teams/audit-logs``: ``endTime`` defaults to now, ``startTime`` to 7 days before
    ``endTime``; bounds inclusive, at most 30 days; events oldest first."""
    now = sim.now_ms()
    end = _audit_time(query, "endTime", now)
    end = now if end is None else end
    start = _audit_time(query, "startTime", now)
    start = end - DEFAULT_AUDIT_RANGE_MS if start is None else start
    if start > end:
        raise bad_request("startTime must be before endTime")
    if end - start > MAX_AUDIT_RANGE_MS:
        raise bad_request("Date range cannot exceed 30 days")
    page = query_int(query, "page", 1)
    page_size = query_int(query, "pageSize", DEFAULT_AUDIT_PAGE_SIZE)
    if page_size > MAX_AUDIT_PAGE_SIZE:
        raise bad_request(f"pageSize must be between 1 and {MAX_AUDIT_PAGE_SIZE}")
    users = _csv(query, "users")
    if users is not None and len(users) > page_size:
        raise bad_request("users cannot list more entries than pageSize")
    events = select_audit_events(sim, start, end, now, _csv(query, "eventTypes"), users, query.get("search"))
    total_pages = math.ceil(len(events) / page_size)
    return {
        "events": [event.served() for event in events[(page - 1) * page_size : page * page_size]],
        "pagination": {
            "page": page,
            "pageSize": page_size,
            "totalCount": len(events),
            "totalPages": total_pages,
            "hasNextPage": page < total_pages,
            "hasPreviousPage": page > 1,
        },
        "params": {"teamId": sim.team_id, "startDate": start, "endDate": end},
    }
