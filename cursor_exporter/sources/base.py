"""What a source is, what it is given, and the snapshot every source renders from.

A source is one Cursor data source (or a family set derived from others) in one module: a subclass
of :class:`Source` that declares its name, help, default, interval, endpoints, Enterprise feature and
families, fetches and persists its state, and renders its families as a pure function of a
:class:`Snapshot`. The registry (:mod:`cursor_exporter.sources`) lists the classes; the engine
(:mod:`cursor_exporter.sources.engine`) runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

from prometheus_client.core import Metric

from cursor_exporter.api.client import CursorClient
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.ledger.scan import ScanCounts
from cursor_exporter.ledger.store import Store
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import HOUR_MS, Clock

_EMPTY: Mapping = MappingProxyType({})
BILLING_CYCLE_START = "billing_cycle_start_ms"  # state key of the shared billing-cycle start
TRACKED_USERS = "tracked_users"  # state key of a top-N cap's sticky membership, in its ledger's store


class SourceWaiting(Exception):
    """A source cannot fetch yet: a value it needs from another source is not known."""


@dataclass(frozen=True)
class BillingSettings:
    """Prices and budgets from the configuration (US dollars)."""

    seat_price_usd: Decimal | None = None
    team_budget_usd: Decimal | None = None
    user_default_budget_usd: Decimal | None = None
    group_budgets_usd: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class SourceOptions:
    """The configuration sources read, as plain values (the command layer builds it from the settings)."""

    settle_lookback_ms: int = 48 * HOUR_MS
    end_delay_ms: int = 60_000
    retention_ms: int = 400 * 24 * HOUR_MS  # usage hours older than this leave the ledger
    top_users: int = 0
    org_id: str | None = None
    mode: str = "live"  # or "demo": simulated data
    billing: BillingSettings = field(default_factory=BillingSettings)
    user_mapping: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)


class UserCap:
    """The top-N cap of one ledger: the users given their own series, kept for good and persisted.

    Picks are the biggest spenders of the whole (caught-up) ledger while the cap has room; once a
    user is in they stay, so per-user counters never fall. Everyone else folds into ``__other__``.
    """

    def __init__(self, store: Store, top_users: int) -> None:
        self._store = store
        self.top_users = top_users
        self._picked = store.get_json(TRACKED_USERS, frozenset) or frozenset()

    @property
    def tracked(self) -> frozenset[str] | None:
        """The picked users; None without a cap."""
        return self._picked if self.top_users else None

    def pick(self, spend_by_user: Mapping[str, Decimal]) -> None:
        """Admit the biggest spenders not yet in while there is room."""
        if not self.top_users or len(self._picked) >= self.top_users:
            return
        newcomers = sorted((u for u in spend_by_user if u not in self._picked), key=lambda u: (-spend_by_user[u], u))
        picked = newcomers[: self.top_users - len(self._picked)]
        if picked:
            self._picked |= frozenset(picked)
            self._store.set_json(TRACKED_USERS, sorted(self._picked))


class Shared:
    """Values several sources of a team read, each written by the one source that owns it.

    * the billing-cycle start, written by ``spend`` (``subscriptionCycleStart``), persisted;
    * the team's size, written by ``spend`` (``totalMembers``), so that other sources can size requests;
    * the team's top-N user cap, picked by ``usage`` and used by every per-user family.
    """

    def __init__(self, store: Store, top_users: int) -> None:
        self._store = store
        self.cap = UserCap(store, top_users)
        self._cycle_listeners: list[Callable[[int], None]] = []
        # A ledger from before the shared key kept the start only as the usage ledger's period.
        stored = store.get_state(BILLING_CYCLE_START) or store.get_state("cycle_start_ms")
        self.cycle_start_ms: int | None = int(stored) if stored else None
        self.team_size: int | None = None

    def set_cycle_start(self, start_ms: int) -> None:
        """Record the billing-cycle start Cursor reports."""
        if start_ms != self.cycle_start_ms:
            self._store.set_state(BILLING_CYCLE_START, str(start_ms))
            self.cycle_start_ms = start_ms
            for listener in self._cycle_listeners:
                listener(start_ms)

    def on_cycle_start(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(start_ms)`` whenever a new billing-cycle start is recorded (a rollover)."""
        self._cycle_listeners.append(listener)

    def require_cycle_start(self, source: str) -> int:
        """The billing-cycle start, or :class:`SourceWaiting` until ``spend`` has reported one."""
        if self.cycle_start_ms is None:
            raise SourceWaiting(f"{source} waits for the billing-cycle start, which the spend source reports")
        return self.cycle_start_ms


@dataclass
class SourceContext:
    """Everything a source instance of one team is given."""

    client: CursorClient
    store: Store
    shared: Shared
    options: SourceOptions
    clock_ms: Clock
    scans: ScanCounts = field(default_factory=ScanCounts)
    org_client: CursorClient | None = None  # the organization key's client (first team only)
    org_store: Store | None = None  # the organization ledger's store
    show_progress: Callable[[], None] = lambda: None  # a long sync publishes after each window


@dataclass(frozen=True)
class SourceStatus:
    """How a source's syncs have gone; ``success`` is None until its first sync ends."""

    name: str
    success: bool | None = None
    last_success_s: float | None = None
    last_attempt_s: float | None = None
    last_error: str | None = None
    last_duration_s: float | None = None
    last_api_requests: int | None = None
    next_run_s: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything one exposition shows, built after every sync and never mutated.

    ``parts`` holds each source's immutable state by source name (absent or None: nothing to show).
    """

    version: str
    as_of_ms: int = 0  # the instant the data describes: the end of the last usage window
    mode: str = "live"  # or "demo": simulated data under the real family names
    parts: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    statuses: tuple[SourceStatus, ...] = ()
    features: Mapping[str, bool] = field(default_factory=lambda: _EMPTY)
    top_users: int = 0  # the --metrics.top-users cap; 0: none
    tracked_users: frozenset[str] | None = None  # the team cap's picks; None: no cap
    api_requests: Mapping[tuple[str, str], int] = field(default_factory=lambda: _EMPTY)
    rate_limit_waits: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    malformed_records: Mapping[tuple[str, str], int] = field(default_factory=lambda: _EMPTY)  # (endpoint, reason)
    windows_fetched: int = 0
    windows_inconsistent: int = 0

    def part(self, name: str) -> Any:
        """The state source ``name`` published, or None."""
        return self.parts.get(name)


@dataclass(frozen=True)
class TeamOverview:
    """Where a team's data comes from and how far its ledgers reach."""

    team: str | None
    api_url: str
    storage: str
    # ledger source -> (first hour stored, hour up to which everything is settled), epoch ms
    coverage: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    cycle_start_ms: int | None = None  # the billing cycle's start as Cursor reports it, to the millisecond


class Source:
    """Base of every source. Subclasses set the class attributes and override what they do."""

    name: ClassVar[str]
    order: ClassVar[int]  # place of its families in the exposition and the docs
    help: ClassVar[str]
    families: ClassVar[tuple[Family, ...]]
    default_enabled: ClassVar[bool] = True
    switchable: ClassVar[bool] = True  # has a --[no-]collector.<name> flag
    per_team: ClassVar[bool] = True  # rendered for every team, with a team label when there are several
    interval_s: ClassVar[float | None] = None  # default sync interval; None: never fetches
    # The shortest interval allowed, and why: syncing more often only spends the shared rate limit.
    min_interval: ClassVar[tuple[float, str]] = (10.0, "more often only spends the team's shared rate limit")
    endpoints: ClassVar[tuple[Endpoint, ...]] = ()
    feature: ClassVar[str | None] = None  # the Enterprise feature a 403 marks unavailable
    needs: ClassVar[tuple[str, ...]] = ()  # sources synced first when a value this one needs is missing
    # Sources whose sync can change what this one renders (it is rendered again after theirs).
    reads: ClassVar[tuple[str, ...]] = ()
    # Sources whose sync can leave this one stale (see ``stale``): it is synced, and rendered, right after.
    follows: ClassVar[tuple[str, ...]] = ()
    organization: ClassVar[bool] = False  # reads through the organization key (first team only)
    backfills: ClassVar[bool] = False  # a first sync may take minutes: started after the quick ones
    # A 403 on its feature hides its families; a source whose state is durable keeps showing it.
    hidden_when_unavailable: ClassVar[bool] = True

    def __init__(self, context: SourceContext) -> None:
        self.context = context

    @property
    def restored(self) -> bool:
        """True when a previous run left state to serve at once."""
        return False

    @property
    def stale(self) -> bool:
        """True when a sync of a source this one ``follows`` left this one needing a sync of its own at once
        (a new billing cycle whose boundary hour must be fetched again)."""
        return False

    def fetch(self) -> None:
        """One sync: read the API, persist what must survive a restart, keep the new state."""

    def state(self) -> Any:
        """The immutable value the next snapshot holds for this source (None: nothing to show)."""
        return None

    def coverage(self) -> tuple[int | None, int | None] | None:
        """For a source with a ledger: its first stored hour and the hour up to which all is settled."""
        return None

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterable[Metric]:
        """This source's families for ``snapshot``: a pure function, no I/O."""
        return ()
