"""Daily activity (/teams/daily-usage-data): per-user-day rows settled like usage windows, and the view
the activity collector renders.

Rows keep changing for about two days, so every day younger than the settle lookback is fetched
again on each activity sync and its rows replace the stored ones. Team figures are exact integer sums
over the current billing cycle (gauges that follow revisions), and active-user counts look back 1, 7
and 28 days from the newest day fetched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import Field

from cursor_exporter.records import Email, Record

DAY_MS = 86_400_000
MAX_RANGE_DAYS = 30
ACTIVE_WINDOWS_DAYS = (1, 7, 28)
RECENT_DAYS = 7  # client versions and most-used models count users active in this many days

# API field -> ledger column, in a fixed order.
COUNTERS = {
    "totalLinesAdded": "total_lines_added",
    "totalLinesDeleted": "total_lines_deleted",
    "acceptedLinesAdded": "accepted_lines_added",
    "acceptedLinesDeleted": "accepted_lines_deleted",
    "totalApplies": "applies",
    "totalAccepts": "accepts",
    "totalRejects": "rejects",
    "totalTabsShown": "tabs_shown",
    "totalTabsAccepted": "tabs_accepted",
    "composerRequests": "composer_requests",
    "chatRequests": "chat_requests",
    "agentRequests": "agent_requests",
    "cmdkUsages": "cmdk_requests",
    "bugbotUsages": "bugbot_requests",
    "subscriptionIncludedReqs": "included_requests",
    "apiKeyReqs": "api_key_requests",
    "usageBasedReqs": "usage_based_requests",
}


class DailyRow(Record):
    """One user-day of /teams/daily-usage-data; counters missing or null count as 0."""

    email: Email = ""
    date: int
    is_active: bool = Field(True, alias="isActive")
    client_version: str | None = Field(None, alias="clientVersion")
    most_used_model: str | None = Field(None, alias="mostUsedModel")
    counters: tuple[int, ...] = ()

    @classmethod
    def from_api(cls, row: dict) -> DailyRow:
        """Parse one API row (counters are collected into a tuple in ``COUNTERS`` order)."""
        counters = tuple(int(row.get(field) or 0) for field in COUNTERS)
        return cls.model_validate({**row, "counters": counters})


def floor_day(ms: int) -> int:
    """Start of the UTC day containing ``ms``."""
    return ms - ms % DAY_MS


def due_days(first_day: int, today: int, fetched_at: Mapping[int, int], lookback_ms: int) -> list[int]:
    """Days not yet fetched after they settled (fetched at least ``lookback_ms`` after they ended)."""
    return [
        day
        for day in range(first_day, today + 1, DAY_MS)
        if day not in fetched_at or fetched_at[day] < day + DAY_MS + lookback_ms
    ]


def chunk_days(days: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of days as (first, last) pairs of at most ``MAX_RANGE_DAYS`` days."""
    runs: list[tuple[int, int]] = []
    for day in days:
        if runs and day == runs[-1][1] + DAY_MS and (day - runs[-1][0]) // DAY_MS < MAX_RANGE_DAYS:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@dataclass(frozen=True)
class ActivityView:
    """What the activity collector renders."""

    cycle_totals: Mapping[str, int]
    active_users: Mapping[int, int]
    users_by_client_version: Mapping[str, int]
    users_by_model: Mapping[str, int]
    per_user: Mapping[str, Mapping[str, int]]


def build_view(
    rows: list[tuple[int, str, bool, str | None, str | None, tuple[int, ...]]], cycle_start_ms: int, newest_day: int
) -> ActivityView:
    """The view from stored rows (day, email, active, client version, model, counters)."""
    columns = list(COUNTERS.values())
    totals = dict.fromkeys(columns, 0)
    per_user: dict[str, dict[str, int]] = {}
    active: dict[int, set[str]] = {days: set() for days in ACTIVE_WINDOWS_DAYS}
    latest: dict[str, tuple[int, str | None, str | None]] = {}
    for day, email, is_active, version, model, counters in rows:
        if day >= floor_day(cycle_start_ms):
            user = per_user.setdefault(email, dict.fromkeys(columns, 0))
            for column, value in zip(columns, counters, strict=True):
                totals[column] += value
                user[column] += value
        if not is_active:
            continue
        for days in ACTIVE_WINDOWS_DAYS:
            if day > newest_day - days * DAY_MS:
                active[days].add(email)
        if day > newest_day - RECENT_DAYS * DAY_MS and (email not in latest or latest[email][0] < day):
            latest[email] = (day, version, model)
    versions = Counter(version or "unknown" for _, version, _ in latest.values())
    models = Counter(model or "unknown" for _, _, model in latest.values())
    return ActivityView(
        cycle_totals=MappingProxyType(totals),
        active_users=MappingProxyType({days: len(users) for days, users in active.items()}),
        users_by_client_version=MappingProxyType(dict(versions)),
        users_by_model=MappingProxyType(dict(models)),
        per_user=MappingProxyType({email: MappingProxyType(sums) for email, sums in per_user.items()}),
    )
