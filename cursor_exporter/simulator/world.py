"""The simulated world: a synthetic team on a simulated clock, and the API's own state.

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
* Audit logs: see ``auditlog``; served once visible, never subject to ``retention_days``.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from .auditlog import AuditEvent, AuditLog
from .clock import SimClock
from .codetracking import CodeTracker
from .config import SimulatorConfig
from .events import KIND_USAGE_BASED, UsageEvent
from .faults import FaultInjector, RateLimiter
from .hours import EventJson, Run
from .money import exact, served_number
from .roster import Member, billing_group_index
from .spend import NO_SPEND, SpendBook
from .team import Team
from .units import CYCLE_MS, DAY_MS, HOUR_MS

JSON_KEPT_HOURS = 72  # a few days: re-read recent windows cost a join, a whole cycle's JSON is not kept


class World:
    """Everything the routes and the truth read: team, clock, generators, faults, limits, log."""

    def __init__(self, config: SimulatorConfig | None = None, clock: SimClock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SimClock()
        self.start_day_ms = self.clock.now_ms() // DAY_MS * DAY_MS
        self.first_cycle_start_ms = (
            self.start_day_ms - self.config.cycle_start_days_ago * DAY_MS + self.config.cycle_start_offset_ms
        )
        self.team = Team(
            seed=self.config.seed,
            users=self.config.users,
            events_per_user_per_day=self.config.events_per_user_per_day,
            epoch_ms=self.start_day_ms,
            late_arrivals=self.config.late_arrivals,
            revisions=self.config.revisions,
            pinned=self.boundary_timestamps if self.config.boundary_events else None,
        )
        self.audit_log = AuditLog(self.team, self.config.audit_events_per_day, self.config.late_arrivals)
        self._spend = SpendBook(self.team)
        self.event_json = EventJson(JSON_KEPT_HOURS)
        self._org_teams: dict[int, Team] | None = None
        self._code_tracker: CodeTracker | None = None
        self._lazy_lock = threading.Lock()
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

    # -- time -------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def cycle_bounds(self, at_ms: int) -> tuple[int, int]:
        """``(start, end)`` of the 30-day billing cycle containing ``at_ms``; end is exclusive."""
        index = (at_ms - self.first_cycle_start_ms) // CYCLE_MS
        start = self.first_cycle_start_ms + index * CYCLE_MS
        return start, start + CYCLE_MS

    def boundary_timestamps(self, hour: int) -> list[int]:
        """Timestamps of the events pinned around the cycle and contract starts in UTC hour number ``hour``."""
        first, last = hour * HOUR_MS, (hour + 1) * HOUR_MS - 1
        cycle_start = self.cycle_bounds(first)[0]
        starts = {cycle_start, cycle_start + CYCLE_MS, self.contract_bounds()[0]}
        pinned = (offset for start in sorted(starts) for offset in (start - 1, start - 1, start, start, start + 1))
        return [ts for ts in pinned if first <= ts <= last]

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
        start_ms, end_ms = self._served_range(start_ms, end_ms, now_ms, apply_retention)
        source = self.team if team is None else team
        return [e for e in source.events_between(start_ms, end_ms) if e.visible_at_ms <= now_ms]

    def visible_runs(self, start_ms: int, end_ms: int, now_ms: int) -> list[Run]:
        """The own team's ``visible_events`` as ``(hour, indices of its events)``, both oldest first.

        Only the hours not yet all visible at ``now_ms`` are read event by event, so a page of a long
        range costs its own events, not the range's.
        """
        start_ms, end_ms = self._served_range(start_ms, end_ms, now_ms, apply_retention=True)
        if end_ms < start_ms:
            return []
        hours = self.team.hours_between(start_ms, end_ms)
        return [(hour, hour.visible_indices(start_ms, end_ms, now_ms)) for hour in hours]

    def _served_range(self, start_ms: int, end_ms: int, now_ms: int, apply_retention: bool) -> tuple[int, int]:
        """``[start_ms, end_ms]`` narrowed to what can be served at ``now_ms``: not beyond now, not before retention."""
        horizon = self.retention_horizon_ms(now_ms) if apply_retention else None
        if horizon is not None:
            start_ms = max(start_ms, horizon)
        return start_ms, min(end_ms, now_ms)

    def visible_audit_events(self, start_ms: int, end_ms: int, now_ms: int) -> list[AuditEvent]:
        """Audit events served at ``now_ms`` with ``start_ms <= timestamp <= end_ms``, oldest first."""
        end_ms = min(end_ms, now_ms)
        return [e for e in self.audit_log.events_between(start_ms, end_ms) if e.visible_at_ms <= now_ms]

    # -- organization -------------------------------------------------------------------------------

    @property
    def org_teams(self) -> dict[int, Team]:
        """The organization's teams by id, in ``org_team_ids`` order; the first is ``self.team``."""
        with self._lazy_lock:
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
                        epoch_ms=self.start_day_ms,
                        late_arrivals=self.config.late_arrivals,
                        revisions=self.config.revisions,
                        pinned=self.boundary_timestamps if self.config.boundary_events else None,
                    )
                self._org_teams = teams
            return self._org_teams

    @property
    def team_id(self) -> int:
        """The simulator's own team id (the first of ``org_team_ids``)."""
        return self.config.org_team_ids[0]

    def org_period_bounds(self, now_ms: int) -> tuple[int, int]:
        """``(start, end)``, both inclusive, of the pool's period: its contract, or without contract dates
        the billing cycle containing ``now_ms``."""
        if self.config.org_contract_dates:
            return self.contract_bounds()
        start, end = self.cycle_bounds(now_ms)
        return start, end - 1

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
        sums = self._spend.sums(cycle_start, now_ms)  # what visible_events(cycle_start, now) add up to, per email
        rows = []
        for member in self.team.members:
            if member.is_removed:
                continue
            overall, on_demand, premium = sums.get(member.email, NO_SPEND)
            rows.append(
                {
                    "userId": self.member_id(member),
                    "spendCents": served_number(on_demand),
                    "overallSpendCents": served_number(overall),
                    "fastPremiumRequests": premium,
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
        return billing_group_index(member)

    def on_demand_by_email_and_day(self, start_ms: int, end_ms: int, now_ms: int) -> dict[str, dict[int, Decimal]]:
        """Exact on-demand cents per member email and UTC day, for visible events in the range."""
        totals: dict[str, dict[int, Decimal]] = {}
        for event in self.visible_events(start_ms, end_ms, now_ms, apply_retention=False):
            if event.kind == KIND_USAGE_BASED and event.member_index is not None:
                days = totals.setdefault(event.email, {})
                day = event.timestamp_ms // DAY_MS * DAY_MS
                days[day] = days.get(day, Decimal(0)) + exact(event.charged_cents_at(now_ms))
        return totals

    # -- AI Code Tracking -------------------------------------------------------------------------

    def code_tracker(self) -> CodeTracker:
        """AI Code Tracking data of the simulator's own team (memoised)."""
        with self._lazy_lock:
            if self._code_tracker is None:
                self._code_tracker = CodeTracker(self.team)
            return self._code_tracker


def org_team_seed(seed: int, team_id: int) -> int:
    """Deterministic seed of an org team other than the simulator's own."""
    return (seed * 1_000_003 + team_id * 7_919 + 17) % 2**31
