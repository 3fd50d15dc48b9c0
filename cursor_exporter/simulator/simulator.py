"""The simulator: a synthetic team on a simulated clock behind a fake Cursor Admin API.

Conventions where the reference leaves room (all deterministic):

* Visibility: an event is served once ``now >= timestamp + arrival delay``
  (delay mostly 0-10 min, ~5 % 10-60 min); nothing is ever in the clock's future.
  With ``retention_days`` set, events older than ``now - retention_days`` are not
  served by the events and daily-usage routes (spend and groups still count them).
* Revisions: ~2 % of charged events have their cost revised once by a factor in
  [0.8, 1.2]; the revised value is served when ``now >= timestamp + 6 h``.
* Spend (``/teams/spend``), per non-removed member, current 30-day cycle up to now,
  over events visible now: ``spendCents`` = sum of ``chargedCents`` of kind
  ``Usage-based`` (on-demand); ``overallSpendCents`` = sum of ``chargedCents`` over
  all kinds. Sums are exact decimals, served as the nearest float. Service
  accounts are not members and appear in no spend row.
* Billing groups: each member's group ``spendCents`` is their on-demand spend in
  that cycle (same rule as ``spendCents`` above).
* Daily usage rows cover whole UTC days overlapping the requested range and are
  derived from the visible events of the day (provisional until it is over).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from .clock import SimClock
from .config import SimulatorConfig
from .faults import FaultInjector, RateLimiter
from .team import DAY_MS, KIND_INCLUDED, KIND_USAGE_BASED, KIND_USER_API_KEY, Member, Team, UsageEvent
from .truth import decimal_string, exact, request_counts, spend_rows, usage_and_users

if TYPE_CHECKING:
    from .codetracking import CodeTracker
    from .server import SimServer

CYCLE_MS = 30 * DAY_MS
GROUP_NAMES = ("Engineering", "Data Platform", "Design")


def served_number(value: Decimal) -> float | int:
    """A decimal sum as the API serves it: 0 stays an int, anything else the nearest float."""
    return 0 if value == 0 else float(value)


class Simulator:
    """A seeded synthetic Cursor team and the fake Admin API that serves it."""

    def __init__(self, config: SimulatorConfig | None = None, clock: SimClock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SimClock()
        start_day_ms = self.clock.now_ms() // DAY_MS * DAY_MS
        self.first_cycle_start_ms = start_day_ms - self.config.cycle_start_days_ago * DAY_MS
        self.team = Team(
            seed=self.config.seed,
            users=self.config.users,
            events_per_user_per_day=self.config.events_per_user_per_day,
            epoch_ms=start_day_ms,
            late_arrivals=self.config.late_arrivals,
            revisions=self.config.revisions,
        )
        self._org_teams: dict[int, Team] | None = None
        self._org_lock = threading.Lock()
        self._code_trackers: dict[int, object] = {}
        self.faults = FaultInjector()
        self.rate_limiter = RateLimiter(self.config.rate_limit_period_s, self.config.rate_limit_scale)
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, int]] = []
        self.shutdown_event = threading.Event()

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def request_log(self) -> list[tuple[str, int]]:
        """``(path, status)`` of every API request so far, including errors and 429s (a copy)."""
        with self._log_lock:
            return list(self._request_log)

    def record_request(self, path: str, status: int) -> None:
        with self._log_lock:
            self._request_log.append((path, status))

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SimServer:
        """Start the HTTP server on a daemon thread; returns it (``.url``, ``.port``, ``.stop()``)."""
        from .server import SimServer

        return SimServer.start(self, host, port)

    # -- time -------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def cycle_bounds(self, at_ms: int) -> tuple[int, int]:
        """``(start, end)`` of the 30-day billing cycle containing ``at_ms``; end is exclusive."""
        index = (at_ms - self.first_cycle_start_ms) // CYCLE_MS
        start = self.first_cycle_start_ms + index * CYCLE_MS
        return start, start + CYCLE_MS

    def retention_horizon_ms(self, now_ms: int) -> int | None:
        days = self.config.retention_days
        return None if days is None else now_ms - days * DAY_MS

    # -- events -----------------------------------------------------------------------------------

    def visible_events(
        self, start_ms: int, end_ms: int, now_ms: int, apply_retention: bool = True, team: Team | None = None
    ) -> list[UsageEvent]:
        """Events served at ``now_ms`` with ``start_ms <= timestamp <= end_ms``, oldest first.

        ``team`` defaults to the simulator's own team (org routes pass the other org teams).
        """
        horizon = self.retention_horizon_ms(now_ms) if apply_retention else None
        if horizon is not None:
            start_ms = max(start_ms, horizon)
        end_ms = min(end_ms, now_ms)
        source = self.team if team is None else team
        return [e for e in source.events_between(start_ms, end_ms) if e.visible_at_ms <= now_ms]

    # -- organization -------------------------------------------------------------------------------

    @property
    def org_teams(self) -> dict[int, Team]:
        """The organization's teams by id, in ``org_team_ids`` order; the first is ``self.team``."""
        with self._org_lock:
            if self._org_teams is None:
                teams: dict[int, Team] = {}
                for position, team_id in enumerate(self.config.org_team_ids):
                    if position == 0:
                        teams[team_id] = self.team
                        continue
                    teams[team_id] = Team(
                        seed=org_team_seed(self.config.seed, team_id),
                        users=self.config.org_team_users or self.config.users,
                        events_per_user_per_day=self.config.events_per_user_per_day,
                        epoch_ms=self.first_cycle_start_ms + self.config.cycle_start_days_ago * DAY_MS,
                        late_arrivals=self.config.late_arrivals,
                        revisions=self.config.revisions,
                    )
                self._org_teams = teams
            return self._org_teams

    def contract_bounds(self) -> tuple[int, int]:
        """``(start, end)`` of the org contract, both inclusive epoch ms (365 days)."""
        days_ago = self.config.org_contract_start_days_ago
        if days_ago is None:
            days_ago = self.config.cycle_start_days_ago
        start = self.first_cycle_start_ms + (self.config.cycle_start_days_ago - days_ago) * DAY_MS
        return start, start + 365 * DAY_MS - 1

    # -- members and spend ------------------------------------------------------------------------

    def member_id(self, member: Member) -> str | int:
        return member.int_id if self.config.user_id_style == "int" else member.string_id

    def spend_rows(self, now_ms: int) -> list[dict]:
        """Current-cycle spend rows for every non-removed member (unsorted, unpaged)."""
        cycle_start, _ = self.cycle_bounds(now_ms)
        on_demand: dict[str, Decimal] = {}
        overall: dict[str, Decimal] = {}
        premium: Counter[str] = Counter()
        for event in self.visible_events(cycle_start, now_ms, now_ms, apply_retention=False):
            charged = exact(event.charged_cents_at(now_ms))
            overall[event.email] = overall.get(event.email, Decimal(0)) + charged
            if event.kind == KIND_USAGE_BASED:
                on_demand[event.email] = on_demand.get(event.email, Decimal(0)) + charged
                premium[event.email] += 1
        rows = []
        for member in self.team.members:
            if member.is_removed:
                continue
            rows.append(
                {
                    "userId": self.member_id(member),
                    "spendCents": served_number(on_demand.get(member.email, Decimal(0))),
                    "overallSpendCents": served_number(overall.get(member.email, Decimal(0))),
                    "fastPremiumRequests": premium[member.email],
                    "name": member.name,
                    "email": member.email,
                    "role": member.role,
                    "hardLimitOverrideDollars": member.hard_limit_override_dollars,
                    "monthlyLimitDollars": member.monthly_limit_dollars,
                    "effectivePerUserLimitDollars": member.effective_limit_dollars,
                }
            )
        return rows

    # -- daily usage ------------------------------------------------------------------------------

    def daily_activity(self, start_ms: int, end_ms: int, now_ms: int) -> dict[tuple[int, int], list[UsageEvent]]:
        """Visible member events per ``(utc_day_start_ms, member_index)`` over whole days."""
        first_day = start_ms // DAY_MS * DAY_MS
        last_day_end = end_ms // DAY_MS * DAY_MS + DAY_MS - 1
        activity: dict[tuple[int, int], list[UsageEvent]] = {}
        for event in self.visible_events(first_day, last_day_end, now_ms):
            if event.member_index is not None:
                key = (event.timestamp_ms // DAY_MS * DAY_MS, event.member_index)
                activity.setdefault(key, []).append(event)
        return activity

    # -- groups -----------------------------------------------------------------------------------

    def group_index(self, member: Member) -> int | None:
        """Billing group of a member; ``None`` means the reserved Unassigned group."""
        slot = member.index % (len(GROUP_NAMES) + 1)
        return None if slot == len(GROUP_NAMES) else slot

    def on_demand_by_email_and_day(self, start_ms: int, end_ms: int, now_ms: int) -> dict[str, dict[int, Decimal]]:
        """Exact on-demand cents per member email and UTC day, for visible events in the range."""
        totals: dict[str, dict[int, Decimal]] = {}
        for event in self.visible_events(start_ms, end_ms, now_ms, apply_retention=False):
            if event.kind == KIND_USAGE_BASED and event.member_index is not None:
                days = totals.setdefault(event.email, {})
                day = event.timestamp_ms // DAY_MS * DAY_MS
                days[day] = days.get(day, Decimal(0)) + exact(event.charged_cents_at(now_ms))
        return totals

    # -- truth ------------------------------------------------------------------------------------

    def truth(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """Exact aggregates of what the API serves now (same JSON as ``GET /_sim/truth``)."""
        now = self.now_ms()
        cycle_start, cycle_end = self.cycle_bounds(now)
        start = cycle_start if start_ms is None else int(start_ms)
        end = now if end_ms is None else int(end_ms)
        usage, users = usage_and_users(self.visible_events(start, end, now), now)
        members = [m for m in self.team.members if not m.is_removed]
        by_role = Counter({"owner": 0, "member": 0, "free-owner": 0})
        by_role.update(m.role for m in members)
        return {
            "now": now,
            "cycleStart": cycle_start,
            "cycleEnd": cycle_end,
            "startDate": start,
            "endDate": end,
            "usage": usage,
            "users": users,
            "spend": spend_rows(self.spend_rows(now)),
            "members": {"byRole": dict(by_role), "removed": sum(m.is_removed for m in self.team.members)},
            "requests": request_counts(self.request_log),
        }

    def truth_daily(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """Exact sums of the active rows ``/teams/daily-usage-data`` serves now.

        Whole UTC days overlapping ``[start_ms, end_ms]`` (default: cycle start to now), days
        after today left out. Same JSON as ``GET /_sim/truth/daily``::

            {"now", "startDate", "endDate",
             "days": [{"day": "YYYY-MM-DD", "date": ms, "team": {<17 counters summed>},
                       "activeUsers": [emails, sorted]}],          # every day, even if empty
             "users": {email: {<17 counters summed over the range>}},  # active users only
             "latest": {email: {"day", "clientVersion", "mostUsedModel"}}}  # last active day
        """
        from .daily import truth_daily

        now = self.now_ms()
        start = self.cycle_bounds(now)[0] if start_ms is None else int(start_ms)
        end = now if end_ms is None else int(end_ms)
        return truth_daily(self, start, end)

    def truth_groups(self, at_ms: int | None = None) -> dict:
        """``/teams/groups`` as served now for the cycle containing ``at_ms`` (default now).

        Same JSON as ``GET /_sim/truth/groups``::

            {"now", "cycleStart", "cycleEnd",
             "groups": {group_id: {"name", "spendCents" (decimal string of the served number),
                                   "memberCount", "members": [current member emails, sorted],
                                   "formerMembers": [emails, sorted]}}}

        ``groups`` includes the reserved ``group_unassigned``.
        """
        from .groups import groups_payload

        now = self.now_ms()
        at = now if at_ms is None else int(at_ms)
        payload = groups_payload(self, at, now)
        cycle_start, cycle_end = self.cycle_bounds(at)
        groups = {}
        for group in [*payload["groups"], payload["unassignedGroup"]]:
            groups[group["id"]] = {
                "name": group["name"],
                "spendCents": decimal_string(exact(group["spendCents"])),
                "memberCount": group["memberCount"],
                "members": sorted(m["email"] for m in group["currentMembers"]),
                "formerMembers": sorted(m["email"] for m in group["formerMembers"]),
            }
        return {"now": now, "cycleStart": cycle_start, "cycleEnd": cycle_end, "groups": groups}

    def code_tracker(self) -> CodeTracker:
        """AI Code Tracking data of the simulator's own team (memoised)."""
        from .codetracking import CodeTracker

        with self._org_lock:
            tracker = self._code_trackers.get(0)
            if tracker is None:
                tracker = self._code_trackers[0] = CodeTracker(self.team)
        return tracker  # type: ignore[return-value]

    def truth_org(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """The Organization API as served now (same JSON as ``GET /_sim/truth/org``)::

            {"now", "organizationId", "contractStart", "contractEnd" (ms, inclusive),
             "startDate", "endDate",
             "pool": {/organizations/pooled-usage "pool" with limitCents, usedCents and
                      remainingCents as exact decimal strings of the served numbers},
             "teams": [{"teamId", "usedCents" (decimal string, as served),
                        "budgetLimitCents" (int or null), "chargedCents" (exact unrounded sum),
                        "events"}],
             "usage": [truth()["usage"] rows plus "teamId", over [startDate, endDate]],
             "users": [truth()["users"] rows plus "teamId"]}

        ``startDate``/``endDate`` (for ``usage``/``users`` only) default to contract start / now;
        the pool always covers contract start to now.
        """
        from .org import truth_org

        now = self.now_ms()
        start = self.contract_bounds()[0] if start_ms is None else int(start_ms)
        end = now if end_ms is None else int(end_ms)
        return truth_org(self, start, end)

    def truth_ai_code(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """AI Code Tracking as served now, items with ``start <= createdAt <= end`` (default
        the last 7 days). Same JSON as ``GET /_sim/truth/ai-code``::

            {"now", "startDate", "endDate", "unknownRepo": "unknown", "totalCommits",
             "commits": [{"repo", "source", "commits", "aiLinesAdded" (tab+composer),
                          "aiLinesDeleted", "nonAiLinesAdded", "nonAiLinesDeleted"}],
             "users": [{"email", "repo", "commits", "aiLinesAdded"}],
             "changes": [{"email", "source", "changes", "linesAdded", "linesDeleted"}]}

        ``repoName: null`` is reported as repo ``"unknown"``; null nonAi lines count as 0;
        amend duplicates (same ``commitHash``) count once per served item.
        """
        from .codetracking import truth_ai_code

        now = self.now_ms()
        start = now - 7 * DAY_MS if start_ms is None else int(start_ms)
        end = now if end_ms is None else int(end_ms)
        return truth_ai_code(self, start, end)


def org_team_seed(seed: int, team_id: int) -> int:
    """Deterministic seed of an org team other than the simulator's own."""
    return (seed * 1_000_003 + team_id * 7_919 + 17) % 2**31


def count_kinds(events: Iterable[UsageEvent]) -> tuple[int, int, int]:
    """(included, usage-based, user-API-key) request counts."""
    kinds = Counter(event.kind for event in events)
    return kinds[KIND_INCLUDED], kinds[KIND_USAGE_BASED], kinds[KIND_USER_API_KEY]
