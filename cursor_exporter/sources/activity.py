"""Source ``activity``: /teams/daily-usage-data, per-user-day rows settled like usage windows.

Rows keep changing for about two days, so every day younger than the settle lookback is fetched
again on each sync and its rows replace the stored ones. Team figures are exact integer sums over the
current billing cycle (gauges that follow revisions), and active-user counts look back 1, 7 and 28
days from the newest day fetched. Needs the billing-cycle start (from ``spend``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from prometheus_client.core import Metric
from pydantic import Field, model_validator

from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Count, Email, EpochMs, Record
from cursor_exporter.sources.base import Snapshot, Source, SourceContext
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import DAY_MS, floor_day

DAILY_USAGE = Endpoint("POST", "/teams/daily-usage-data")
MAX_RANGE_DAYS = 30
# User-days one request may ask for: a row is about 1 kB of JSON and several in memory, so a 10,000-seat
# team asks a day at a time instead of 28 days (280 MB of JSON) at once.
MAX_ROWS_PER_REQUEST = 5_000
PARSE_BATCH_ROWS = 500
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
    date: EpochMs
    is_active: bool = Field(True, alias="isActive")
    client_version: str | None = Field(None, alias="clientVersion")
    most_used_model: str | None = Field(None, alias="mostUsedModel")
    counters: tuple[Count, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _collect_counters(cls, row: Any) -> Any:
        """The API's counter fields as one tuple in ``COUNTERS`` order, each validated as a count."""
        if not isinstance(row, dict):
            return row  # rejected by validation, and so counted as malformed
        return {**row, "counters": tuple(row.get(field) or 0 for field in COUNTERS)}


def due_days(first_day: int, today: int, fetched_at: Mapping[int, int], lookback_ms: int) -> list[int]:
    """Days not yet fetched after they settled (fetched at least ``lookback_ms`` after they ended)."""
    return [
        day
        for day in range(first_day, today + 1, DAY_MS)
        if day not in fetched_at or fetched_at[day] < day + DAY_MS + lookback_ms
    ]


def days_per_request(team_size: int | None) -> int:
    """How many days one request asks for: up to ``MAX_RANGE_DAYS``, fewer for a large team."""
    if not team_size:
        return MAX_RANGE_DAYS
    return max(1, min(MAX_RANGE_DAYS, MAX_ROWS_PER_REQUEST // team_size))


def chunk_days(days: list[int], max_days: int = MAX_RANGE_DAYS) -> list[tuple[int, int]]:
    """Consecutive runs of days as (first, last) pairs of at most ``max_days`` days."""
    runs: list[tuple[int, int]] = []
    for day in days:
        if runs and day == runs[-1][1] + DAY_MS and (day - runs[-1][0]) // DAY_MS < max_days:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def drained(rows: Any, size: int) -> Iterator[Any]:
    """A decoded list of rows in batches of ``size``, in order, each taken out of the list as it goes (so
    its rows can be freed once used); anything but a list, as it is."""
    if not isinstance(rows, list):
        yield rows
        return
    rows.reverse()
    while rows:
        batch = rows[-size:]
        del rows[-size:]
        batch.reverse()
        yield batch


@dataclass(frozen=True)
class ActivityView:
    """What the activity collector renders."""

    cycle_totals: Mapping[str, int]
    active_users: Mapping[int, int]
    users_by_client_version: Mapping[str, int]
    users_by_model: Mapping[str, int]
    per_user: Mapping[str, Mapping[str, int]]


def build_view(
    rows: Iterable[tuple[int, str, bool, str | None, str | None, tuple[int, ...]]], cycle_start_ms: int, newest_day: int
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


ACTIVITY_ACTIVE_USERS = Family(
    "cursor_activity_active_users",
    "gauge",
    ("window",),
    "Distinct users active in the last 1, 7 or 28 days (window 1d, 7d, 28d), counted back from the newest day fetched.",
    "/teams/daily-usage-data: isActive rows by day",
)

ACTIVITY_CYCLE_LINES = Family(
    "cursor_activity_cycle_lines",
    "gauge",
    ("change", "scope"),
    "Lines changed this billing cycle: change added or deleted; scope total (any edit) or accepted "
    "(accepted AI suggestions).",
    "/teams/daily-usage-data: *LinesAdded/Deleted",
)

ACTIVITY_CYCLE_EDITS = Family(
    "cursor_activity_cycle_edits",
    "gauge",
    ("action",),
    "AI edit outcomes this billing cycle: action apply, accept or reject.",
    "/teams/daily-usage-data: totalApplies, totalAccepts, totalRejects",
)

ACTIVITY_CYCLE_TABS = Family(
    "cursor_activity_cycle_tabs",
    "gauge",
    ("action",),
    "Tab completions this billing cycle: action shown or accepted.",
    "/teams/daily-usage-data: totalTabsShown, totalTabsAccepted",
)

ACTIVITY_CYCLE_REQUESTS = Family(
    "cursor_activity_cycle_requests",
    "gauge",
    ("feature",),
    "Requests this billing cycle by feature: composer, chat, agent, cmdk or bugbot.",
    "/teams/daily-usage-data: composerRequests, chatRequests, agentRequests, cmdkUsages, bugbotUsages",
)

ACTIVITY_CYCLE_REQUESTS_BY_BILLING = Family(
    "cursor_activity_cycle_requests_by_billing",
    "gauge",
    ("billing",),
    "Requests this billing cycle by how they were billed: included, api_key or usage_based (counts, not units).",
    "/teams/daily-usage-data: *Reqs",
)

ACTIVITY_USERS_BY_CLIENT_VERSION = Family(
    "cursor_activity_users_by_client_version",
    "gauge",
    ("version",),
    "Users active in the last 7 days by the Cursor version of their latest active day.",
    "/teams/daily-usage-data: clientVersion",
)

ACTIVITY_USERS_BY_MODEL = Family(
    "cursor_activity_users_by_model",
    "gauge",
    ("model",),
    "Users active in the last 7 days by the most-used model of their latest active day.",
    "/teams/daily-usage-data: mostUsedModel",
)

USER_ACTIVITY_CYCLE_ACCEPTED_LINES = Family(
    "cursor_user_activity_cycle_accepted_lines",
    "gauge",
    ("user",),
    "Accepted AI lines (added) per user this billing cycle; opt-in with --metrics.per-user-activity.",
    "/teams/daily-usage-data: acceptedLinesAdded",
    per_user=True,
)

USER_ACTIVITY_CYCLE_REQUESTS = Family(
    "cursor_user_activity_cycle_requests",
    "gauge",
    ("user",),
    "Requests per user this billing cycle (composer, chat, agent, cmdk, bugbot); opt-in.",
    "/teams/daily-usage-data: the five request counters",
    per_user=True,
)

USER_ACTIVITY_CYCLE_TABS_ACCEPTED = Family(
    "cursor_user_activity_cycle_tabs_accepted",
    "gauge",
    ("user",),
    "Tab completions accepted per user this billing cycle; opt-in.",
    "/teams/daily-usage-data: totalTabsAccepted",
    per_user=True,
)
# family -> ((label values), ledger column) pairs
CYCLE_FAMILIES = {
    ACTIVITY_CYCLE_LINES: (
        (("added", "total"), "total_lines_added"),
        (("deleted", "total"), "total_lines_deleted"),
        (("added", "accepted"), "accepted_lines_added"),
        (("deleted", "accepted"), "accepted_lines_deleted"),
    ),
    ACTIVITY_CYCLE_EDITS: ((("apply",), "applies"), (("accept",), "accepts"), (("reject",), "rejects")),
    ACTIVITY_CYCLE_TABS: ((("shown",), "tabs_shown"), (("accepted",), "tabs_accepted")),
    ACTIVITY_CYCLE_REQUESTS: (
        (("composer",), "composer_requests"),
        (("chat",), "chat_requests"),
        (("agent",), "agent_requests"),
        (("cmdk",), "cmdk_requests"),
        (("bugbot",), "bugbot_requests"),
    ),
    ACTIVITY_CYCLE_REQUESTS_BY_BILLING: (
        (("included",), "included_requests"),
        (("api_key",), "api_key_requests"),
        (("usage_based",), "usage_based_requests"),
    ),
}
REQUEST_COLUMNS = tuple(column for _, column in CYCLE_FAMILIES[ACTIVITY_CYCLE_REQUESTS])


class ActivitySource(Source):
    """Fetches every unsettled day of /teams/daily-usage-data (30-day chunks) and replaces its rows."""

    name = "activity"
    order = 40
    reads = ("usage",)  # the team cap's picks
    help = "/teams/daily-usage-data: active users, lines, tabs, requests by feature."
    interval_s = 3600.0
    endpoints = (DAILY_USAGE,)
    needs = ("spend",)
    families = (
        ACTIVITY_ACTIVE_USERS,
        *CYCLE_FAMILIES,
        ACTIVITY_USERS_BY_CLIENT_VERSION,
        ACTIVITY_USERS_BY_MODEL,
        USER_ACTIVITY_CYCLE_ACCEPTED_LINES,
        USER_ACTIVITY_CYCLE_REQUESTS,
        USER_ACTIVITY_CYCLE_TABS_ACCEPTED,
    )

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        self._view = self._build_view()

    def fetch(self) -> None:
        store, client = self.context.store, self.context.client
        cycle_start = self.context.shared.require_cycle_start(self.name)
        now = self.context.clock_ms()
        today = floor_day(now)
        first_day = min(floor_day(cycle_start), today - (max(ACTIVE_WINDOWS_DAYS) - 1) * DAY_MS)
        due = due_days(first_day, today, store.activity_fetched(), self.context.options.settle_lookback_ms)
        for first, last in chunk_days(due, days_per_request(self.context.shared.team_size)):
            body = client.request(
                DAILY_USAGE.method, DAILY_USAGE.path, {"startDate": first, "endDate": min(last + DAY_MS - 1, now)}
            )
            data = body.get("data") if isinstance(body, dict) else None
            del body  # each batch of rows is freed once parsed: a day of 10,000 seats is 13 MB decoded
            kept = [
                (floor_day(row.date), row.email, row.is_active, row.client_version, row.most_used_model, row.counters)
                for batch in drained(data, PARSE_BATCH_ROWS)
                for row in client.parse_rows(DAILY_USAGE.path, DailyRow, batch)
                if first <= floor_day(row.date) <= last
            ]
            days = list(range(first, last + 1, DAY_MS))
            store.replace_activity(days, kept, fetched_at=now)
        self._view = self._build_view()

    def _build_view(self) -> ActivityView | None:
        fetched = self.context.store.activity_fetched()
        cycle_start = self.context.shared.cycle_start_ms
        if not fetched or cycle_start is None:
            return None
        newest = max(fetched)
        first = min(floor_day(cycle_start), newest - (max(ACTIVE_WINDOWS_DAYS) - 1) * DAY_MS)
        return build_view(self.context.store.activity_rows(first), cycle_start, newest)

    def state(self) -> ActivityView | None:
        return self._view

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        view: ActivityView | None = snapshot.part(cls.name)
        if view is None:
            return
        active = ACTIVITY_ACTIVE_USERS.new()
        for days, count in sorted(view.active_users.items()):
            active.add_metric((f"{days}d",), count)
        yield active
        for definition, series in CYCLE_FAMILIES.items():
            family = definition.new()
            for label_values, column in series:
                family.add_metric(label_values, view.cycle_totals[column])
            yield family
        versions = ACTIVITY_USERS_BY_CLIENT_VERSION.new()
        for version, count in sorted(view.users_by_client_version.items()):
            versions.add_metric((version,), count)
        models = ACTIVITY_USERS_BY_MODEL.new()
        by_label = Counter()
        for model, count in view.users_by_model.items():  # raw names the model map folds into one are summed
            by_label[labels.model(model)] += count
        for model, count in sorted(by_label.items()):
            models.add_metric((model,), count)
        yield from (versions, models)
        if not labels.per_user_activity:
            return
        sums: dict[str, list[int]] = {}
        for email, row in view.per_user.items():
            user = labels.user(email, snapshot.tracked_users)
            totals = sums.setdefault(user, [0, 0, 0])
            totals[0] += row["accepted_lines_added"]
            totals[1] += sum(row[column] for column in REQUEST_COLUMNS)
            totals[2] += row["tabs_accepted"]
        lines, requests, tabs = (
            USER_ACTIVITY_CYCLE_ACCEPTED_LINES.new(),
            USER_ACTIVITY_CYCLE_REQUESTS.new(),
            USER_ACTIVITY_CYCLE_TABS_ACCEPTED.new(),
        )
        for user, (accepted, request_count, tabs_accepted) in sorted(sums.items()):
            lines.add_metric((user,), accepted)
            requests.add_metric((user,), request_count)
            tabs.add_metric((user,), tabs_accepted)
        yield from (lines, requests, tabs)
