"""The team Admin API routes: members, spend, daily usage, usage events and billing groups."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

from .daily import daily_row
from .events import HOSTING_TYPES
from .filters import MAX_EVENTS_PAGE_SIZE, event_matches, events_page, filters_anything
from .groups import groups_payload
from .hours import newest_first
from .jsonbody import EncodedArray
from .units import DAY_MS
from .wire import (
    MAX_DAILY_RANGE_MS,
    bad_request,
    date_range,
    page_size_param,
    positive_int_param,
)
from .world import World

DEFAULT_EVENTS_PAGE_SIZE = 100
DEFAULT_SPEND_PAGE_SIZE = 100
DEFAULT_DAILY_PAGE_SIZE = 1000


def members_route(sim: World, query: dict[str, str], body: dict) -> dict:
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


def spend_route(sim: World, query: dict[str, str], body: dict) -> dict:
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


def daily_usage_route(sim: World, query: dict[str, str], body: dict) -> dict:
    start, end = date_range(sim, body, required=True, max_range_ms=MAX_DAILY_RANGE_MS)
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


def events_route(sim: World, query: dict[str, str], body: dict) -> dict:
    max_range = None if sim.config.events_max_range_days is None else sim.config.events_max_range_days * DAY_MS
    start, end = date_range(sim, body, required=False, max_range_ms=max_range)
    hosting = body.get("hostingType")
    if hosting is not None and hosting not in HOSTING_TYPES:
        raise bad_request(f"Invalid hostingType; expected one of {', '.join(HOSTING_TYPES)}")
    page = positive_int_param(body, "page", 1)
    page_size = page_size_param(sim, body, DEFAULT_EVENTS_PAGE_SIZE, MAX_EVENTS_PAGE_SIZE)
    now = sim.now_ms()
    runs = sim.visible_runs(start, end, now)
    if filters_anything(body, hosting):
        team = sim.team
        runs = [(hour, [i for i in run if event_matches(team, hour.events[i], body, hosting)]) for hour, run in runs]
    selected = newest_first(runs, (page - 1) * page_size, page_size)
    rows = EncodedArray(sim.event_json.rows(selected, now, sim.config.legacy_2025))
    total = sum(len(run) for _, run in runs)
    return {**events_page(total, page, page_size, rows), "period": {"startDate": start, "endDate": end}}


_BILLING_CYCLE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def groups_route(sim: World, query: dict[str, str], body: dict) -> dict:
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
