"""The sync engine: polls Cursor on the exporter's own schedule and feeds the ledger and the snapshot.

Jobs run one at a time (the scheduler has a single worker), so the ledger's SQLite connection is
never used by two threads at once. Scrapes never reach this module: they read rendered bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from cursor_exporter import __version__
from cursor_exporter.activity import (
    ACTIVE_WINDOWS_DAYS,
    DAY_MS,
    ActivityView,
    build_view,
    chunk_days,
    due_days,
    floor_day,
)
from cursor_exporter.aicode import AiCodeView
from cursor_exporter.aicode import build_view as build_ai_code_view
from cursor_exporter.client import (
    ORG_EVENTS_ENDPOINT,
    ApiError,
    CursorClient,
    FeatureUnavailable,
    GroupsReport,
    SpendReport,
)
from cursor_exporter.ledger import Ledger
from cursor_exporter.records import BillingGroup, Member, MemberSpend, PooledUsage
from cursor_exporter.scan import InconsistentWindow, WindowScanner
from cursor_exporter.snapshot import BillingSettings, CollectorStatus, Snapshot
from cursor_exporter.store import Store
from cursor_exporter.windows import first_unsettled_hour, plan_windows

log = logging.getLogger(__name__)

BILLING_GROUPS = "billing_groups"
AI_CODE_TRACKING = "ai_code_tracking"
ORGANIZATION = "organization"
T = TypeVar("T")
FEATURE_RECHECK_MS = 3_600_000
CONTRACT_START = "contract_start_ms"  # state key of the last contract start the pool reported
TRACKED_USERS = "tracked_users"  # state key of the top-N cap's sticky membership, in each ledger's store
# A first organization backfill reaches back to the contract start, possibly months: it advances at most
# this many windows (days) per sync, the newest always among them, so the single scheduler worker gets
# back to the other collectors between them.
ORG_WINDOWS_PER_SYNC = 7


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, from the system clock."""
    return int(time.time() * 1000)


class SyncEngine:
    """Runs the collectors' syncs and publishes a fresh :class:`Snapshot` after each."""

    def __init__(
        self,
        client: CursorClient,
        store: Store,
        *,
        collectors: tuple[str, ...],
        settle_lookback_s: float,
        end_delay_s: float,
        clock_ms: Callable[[], int] = wall_clock_ms,
        publish: Callable[[Snapshot], None] = lambda snapshot: None,
        next_run: Callable[[str], float | None] = lambda name: None,
        top_users: int = 0,
        billing: BillingSettings | None = None,
        user_mapping: Mapping[str, Mapping[str, str]] | None = None,
        org_client: CursorClient | None = None,
        org_id: str | None = None,
        org_store: Store | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self.ledger = Ledger(store)
        self.collectors = collectors
        self._lookback_ms = int(settle_lookback_s * 1000)
        self._end_delay_ms = int(end_delay_s * 1000)
        self._clock_ms = clock_ms
        self._publish = publish
        self._next_run = next_run
        self._status = {name: CollectorStatus(name) for name in collectors}
        self._windows_fetched = 0
        self._scanner = WindowScanner(client)
        self._top_users = top_users
        self._billing = billing or BillingSettings()
        self._user_mapping = MappingProxyType(dict(user_mapping or {}))
        self._features: dict[str, bool] = {}
        self._feature_recheck_ms: dict[str, int] = {}
        self._spend = self._restore_spend()
        self._members = self._restore_members()
        self._groups = self._restore_groups()
        self._activity = self._build_activity_view()
        self._ai_code: AiCodeView | None = None
        self._org_client = org_client
        self._org_id = org_id
        self._org_pool: PooledUsage | None = None
        self.org_ledger = Ledger(org_store, by_team=True) if org_store is not None else None
        self._org_store = org_store
        self._org_scanner = WindowScanner(org_client, org_id) if org_client is not None and org_id else None
        # Per usage collector: its ledger's store, and the users the top-N cap gave their own series.
        self._cap_stores = {"usage": store, **({"org_usage": org_store} if org_store is not None else {})}
        self._tracked_users = {
            name: frozenset(cap_store.get_json(TRACKED_USERS) or ()) for name, cap_store in self._cap_stores.items()
        }
        self.restored = self.ledger.has_data or self._spend is not None or self._members is not None

    def _restore_spend(self) -> SpendReport | None:
        saved = self._store.get_json("spend")
        if saved is None:
            return None
        rows = tuple(MemberSpend.model_validate(row) for row in saved["members"])
        return SpendReport(saved["cycle_start_ms"], rows)

    def _restore_members(self) -> tuple[Member, ...] | None:
        saved = self._store.get_json("members")
        return None if saved is None else tuple(Member.model_validate(row) for row in saved)

    def _restore_groups(self) -> GroupsReport | None:
        saved = self._store.get_json("groups")
        if saved is None:
            return None
        groups = tuple(BillingGroup.model_validate(row) for row in saved["groups"])
        return GroupsReport(saved["cycle_start_ms"], saved["cycle_end_ms"], groups)

    @property
    def ready(self) -> bool:
        """True once state was restored or every collector has finished a first sync."""
        return self.restored or all(status.success is not None for status in self._status.values())

    def run(self, name: str) -> bool:
        """Run one collector's sync, record how it went, publish a snapshot; True on success."""
        sync = {
            "usage": self.sync_usage,
            "spend": self.sync_spend,
            "members": self.sync_members,
            "groups": self.sync_groups,
            "activity": self.sync_activity,
            "ai_code": self.sync_ai_code,
            "org": self.sync_org,
            "org_usage": self.sync_org_usage,
        }[name]
        started = time.monotonic()
        requests_before = self._total_requests()
        error: str | None = None
        try:
            sync()
        except ApiError as failure:
            error = str(failure)
            log.warning("%s sync failed: %s", name, error)
        except Exception as failure:  # the daemon must outlive any single bad sync
            error = f"{type(failure).__name__}: {failure}"
            log.exception("%s sync failed unexpectedly", name)
        now = time.time()
        previous = self._status[name]
        self._status[name] = replace(
            previous,
            success=error is None,
            last_success_s=now if error is None else previous.last_success_s,
            last_attempt_s=now,
            last_error=error,
            last_duration_s=time.monotonic() - started,
            last_api_requests=self._total_requests() - requests_before,
        )
        log.info(
            "%s sync %s: %d API requests in %.1fs",
            name,
            "done" if error is None else "failed",
            self._status[name].last_api_requests,
            self._status[name].last_duration_s,
        )
        self._publish(self.snapshot())
        return error is None

    def _total_requests(self) -> int:
        clients = (self._client, self._org_client) if self._org_client is not None else (self._client,)
        return sum(client.stats.total_requests() for client in clients)

    def sync_spend(self) -> None:
        """Poll /teams/spend (all pages): per-user cycle spend and the cycle start."""
        report = self._client.spend()
        self.ledger.set_cycle_start(report.cycle_start_ms)
        self._store.set_json(
            "spend",
            {
                "cycle_start_ms": report.cycle_start_ms,
                "members": [row.model_dump(mode="json", by_alias=True) for row in report.members],
            },
        )
        self._spend = report

    def sync_members(self) -> None:
        """Poll /teams/members: the roster and roles."""
        members = tuple(self._client.members())
        self._store.set_json("members", [member.model_dump(mode="json", by_alias=True) for member in members])
        self._members = members

    def _fetch_gated(self, feature: str, fetch: Callable[[], T]) -> T | None:
        """``fetch()`` for an Enterprise feature; a 403 marks it unavailable, logs once, re-checks hourly."""
        if self._clock_ms() < self._feature_recheck_ms.get(feature, 0):
            return None
        try:
            result = fetch()
        except FeatureUnavailable as error:
            if self._features.get(feature) is not False:
                log.warning("%s unavailable on this plan or key (%s); re-checking hourly", feature, error.message)
            self._features[feature] = False
            self._feature_recheck_ms[feature] = self._clock_ms() + FEATURE_RECHECK_MS
            return None
        self._features[feature] = True
        return result

    def sync_ai_code(self) -> None:
        """Poll AI Code Tracking commits of the current cycle (Enterprise, alpha; ETag-cached)."""
        if self.ledger.cycle_start_ms is None:
            self.sync_spend()
        start = datetime.fromtimestamp(self.ledger.cycle_start_ms / 1000, UTC).strftime("%Y-%m-%d")
        commits = self._fetch_gated(AI_CODE_TRACKING, lambda: self._client.ai_code_commits(start, "now"))
        if commits is not None:
            self._ai_code = build_ai_code_view(commits)

    def sync_org(self) -> None:
        """Poll /organizations/pooled-usage with the organization key (a 403 is gated like an Enterprise feature)."""
        if self._org_client is None or self._org_id is None:
            raise ApiError("/organizations/pooled-usage", 0, "no organization key and id configured")
        pool = self._fetch_gated(ORGANIZATION, self._fetch_pool)
        if pool is not None:
            self._org_pool = pool

    def _fetch_pool(self) -> PooledUsage:
        return self._org_client.pooled_usage(self._org_id)

    def sync_groups(self) -> None:
        """Poll /teams/groups (Enterprise). A 403 marks the feature unavailable and is re-checked hourly."""
        report = self._fetch_gated(BILLING_GROUPS, self._client.groups)
        if report is None:
            return
        self._store.set_json(
            "groups",
            {
                "cycle_start_ms": report.cycle_start_ms,
                "cycle_end_ms": report.cycle_end_ms,
                "groups": [group.model_dump(mode="json", by_alias=True) for group in report.groups],
            },
        )
        self._groups = report

    def sync_activity(self) -> None:
        """Fetch every unsettled day of /teams/daily-usage-data (30-day chunks) and replace its rows."""
        if self.ledger.cycle_start_ms is None:
            self.sync_spend()
        now = self._clock_ms()
        today = floor_day(now)
        first_day = min(floor_day(self.ledger.cycle_start_ms), today - (max(ACTIVE_WINDOWS_DAYS) - 1) * DAY_MS)
        due = due_days(first_day, today, self._store.activity_fetched(), self._lookback_ms)
        for first, last in chunk_days(due):
            rows = self._client.daily_usage(first, min(last + DAY_MS - 1, now))
            days = list(range(first, last + 1, DAY_MS))
            kept = [
                (floor_day(row.date), row.email, row.is_active, row.client_version, row.most_used_model, row.counters)
                for row in rows
                if first <= floor_day(row.date) <= last
            ]
            self._store.replace_activity(days, kept, fetched_at=now)
        self._activity = self._build_activity_view()

    def _build_activity_view(self) -> ActivityView | None:
        fetched = self._store.activity_fetched()
        if not fetched or self.ledger.cycle_start_ms is None:
            return None
        newest = max(fetched)
        first = min(floor_day(self.ledger.cycle_start_ms), newest - (max(ACTIVE_WINDOWS_DAYS) - 1) * DAY_MS)
        return build_view(self._store.activity_rows(first), self.ledger.cycle_start_ms, newest)

    def sync_usage(self) -> None:
        """Fetch every due window of the team's usage events, oldest first, each in its own transaction."""
        if self.ledger.cycle_start_ms is None:
            self.sync_spend()
        self._sync_windows("usage", self.ledger, self._scanner)

    def sync_org_usage(self) -> None:
        """Fetch due windows of the organization's usage events (every team's) into the org ledger.

        The organization ledger's period is the pool's contract, so its sums per team reconcile with
        ``teams[].usedCents``. A reply without contract dates keeps the last known contract start;
        with none ever known the period falls back to the team's billing cycle.
        """
        if self.org_ledger is None or self._org_scanner is None or self._org_store is None:
            raise ApiError(ORG_EVENTS_ENDPOINT, 0, "no organization key, id and storage configured")
        pool = self._fetch_gated(ORGANIZATION, self._fetch_pool)  # fresh dates: a renewal moves the period
        if pool is None:
            return
        self._org_pool = pool
        if pool.contract_start_ms is not None:
            self._org_store.set_state(CONTRACT_START, str(pool.contract_start_ms))
        contract_start = self._org_store.get_state(CONTRACT_START)
        if contract_start is None and self.ledger.cycle_start_ms is None:
            self.sync_spend()
        self.org_ledger.set_cycle_start(int(contract_start) if contract_start else self.ledger.cycle_start_ms)
        self._fetch_gated(
            ORGANIZATION,
            lambda: self._sync_windows("org_usage", self.org_ledger, self._org_scanner, ORG_WINDOWS_PER_SYNC),
        )

    def _sync_windows(
        self, collector: str, ledger: Ledger, scanner: WindowScanner, max_windows: int | None = None
    ) -> None:
        """Fetch the due windows (at most ``max_windows``, oldest first, but always the newest), then let the
        top-N cap pick its users once the ledger is caught up."""
        planning_start = ledger.planning_start()
        sync_end = self._clock_ms() - self._end_delay_ms
        due = plan_windows(planning_start, sync_end, ledger.bucket_states(planning_start), self._lookback_ms)
        windows = due if max_windows is None or len(due) <= max_windows else [*due[: max_windows - 1], due[-1]]
        log.debug("%s sync up to %d: %d of %d due windows", scanner.endpoint, sync_end, len(windows), len(due))
        skipped = 0
        for window in windows:
            try:
                events = scanner.scan_consistently(window)
            except InconsistentWindow:
                skipped += 1
                continue
            ledger.replace_window(window, events, fetched_at_ms=sync_end)
            self._windows_fetched += 1
            if len(windows) > 1:  # a backfill shows its progress instead of nothing for minutes
                self._publish(self.snapshot())
        ledger.set_planning_start(
            first_unsettled_hour(planning_start, sync_end, ledger.bucket_states(planning_start), self._lookback_ms)
        )
        if len(windows) == len(due):  # caught up (a window that kept changing must not block picks for good)
            self._pick_top_users(collector, ledger)
        if skipped:
            raise ApiError(scanner.endpoint, 200, f"{skipped} windows kept changing while paged; retried next sync")

    def _pick_top_users(self, collector: str, ledger: Ledger) -> None:
        """Give the biggest spenders their own series while the top-N cap has room; once in, a user stays.

        Picks happen only when the ledger is caught up: picked from a backfill's first windows the cap
        would keep early spenders for good. Once the cap is full the rest fold into ``__other__`` for good.
        """
        tracked = self._tracked_users[collector]
        if not self._top_users or len(tracked) >= self._top_users:
            return
        spend: dict[str, Decimal] = {}
        for key, tally in ledger.view().counters.items():
            spend[key.user] = spend.get(key.user, Decimal(0)) + tally.charged_cents
        newcomers = sorted((u for u in spend if u not in tracked), key=lambda u: (-spend[u], u))
        picked = newcomers[: self._top_users - len(tracked)]
        if picked:
            self._tracked_users[collector] = tracked | frozenset(picked)
            self._cap_stores[collector].set_json(TRACKED_USERS, sorted(self._tracked_users[collector]))

    def snapshot(self) -> Snapshot:
        """An immutable picture of everything the collectors render."""
        requests, waits, malformed = self._client.stats.copy()
        if self._org_client is not None:
            org_requests, org_waits, org_malformed = self._org_client.stats.copy()
            requests, waits, malformed = requests | org_requests, waits | org_waits, malformed | org_malformed
        usage = self.ledger.view() if "usage" in self.collectors else None
        org_usage = self.org_ledger.view() if self.org_ledger is not None and "org_usage" in self.collectors else None
        statuses = tuple(replace(status, next_run_s=self._next_run(status.name)) for status in self._status.values())
        return Snapshot(
            version=__version__,
            as_of_ms=self._clock_ms() - self._end_delay_ms,
            usage=usage,
            spend=self._spend if "spend" in self.collectors else None,
            members=self._members if "members" in self.collectors else None,
            activity=self._activity if "activity" in self.collectors else None,
            groups=self._groups if self._features.get(BILLING_GROUPS, self._groups is not None) else None,
            org_pool=self._org_pool,
            org_usage=org_usage,
            ai_code=self._ai_code if self._features.get(AI_CODE_TRACKING) else None,
            features=MappingProxyType(dict(self._features)),
            top_users=self._top_users,
            tracked_users=self._tracked_users["usage"] if self._top_users else None,
            org_tracked_users=self._tracked_users.get("org_usage") if self._top_users else None,
            billing=self._billing,
            user_mapping=self._user_mapping,
            collectors=statuses,
            api_requests=MappingProxyType(requests),
            rate_limit_waits=MappingProxyType(waits),
            malformed_records=MappingProxyType(malformed),
            windows_fetched=self._windows_fetched,
            windows_inconsistent=self._scanner.inconsistent
            + (self._org_scanner.inconsistent if self._org_scanner is not None else 0),
        )
