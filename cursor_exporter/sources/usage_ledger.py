"""What the two usage-event sources share: syncing due windows into a ledger, and rendering it.

The team's events (source ``usage``) and the organization's (source ``org_usage``) go through the same
window plan, scanner, ledger and top-N cap, and render through :func:`render_ledger` into their own
family set; the organization's carries a ``team`` label and a contract period instead of a cycle.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client.core import Metric

from cursor_exporter.api.client import ApiError
from cursor_exporter.ledger.rollup import UsageRollup
from cursor_exporter.ledger.scan import InconsistentWindow, WindowScanner
from cursor_exporter.ledger.tally import EMPTY, Tally, UsageKey, add
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.ledger.windows import MAX_WINDOW_HOURS, Window, first_unsettled_hour, plan_windows
from cursor_exporter.money import cents_by_user, dollars
from cursor_exporter.sources.base import Snapshot, Source, UserCap
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy

log = logging.getLogger(__name__)

USAGE_LABELS = ("model", "kind", "max_mode", "source")
TOKEN_TYPES = ("input", "output", "cache_write", "cache_read")
# A window's events are folded in memory until it is written, so a window holds about this many at most:
# a 10,000-seat team's day (300,000 events) is fetched an hour at a time, and its transient memory stays
# near 40 MB (50,000 events took about 120). A shorter window costs at most one part-filled page more, a
# few percent of a window this full.
MAX_EVENTS_PER_WINDOW = 20_000
PEAK_EVENTS_PER_SEAT_HOUR = 2  # before a window was measured; Cursor's heaviest users make about 30 a day


@dataclass(frozen=True)
class LedgerPart:
    """A usage source's snapshot part: the ledger's roll-up and its cap's picks (None without a cap)."""

    view: UsageRollup
    tracked: frozenset[str] | None
    top_users: int


@dataclass(frozen=True)
class LedgerFamilies:
    """The families one ledger is rendered into; ``period`` is the ledger's cycle (or contract)."""

    events: Family
    tokens: Family
    charged: Family
    token_fee: Family
    request_units: Family
    revised: Family
    period: Family
    user_charged: Family
    user_period: Family
    user_events: Family | None = None
    user_tokens: Family | None = None
    by_team: bool = False

    @property
    def all(self) -> tuple[Family, ...]:
        """Every family, team-wide first, in exposition order."""
        team_wide = (self.events, self.tokens, self.charged, self.token_fee, self.request_units, self.revised)
        per_user = (self.user_events, self.user_tokens, self.user_charged, self.user_period)
        return (*team_wide, self.period, *(family for family in per_user if family is not None))


class LedgerSource(Source):
    """Base of the two usage-event sources: a ledger, the scanner that fills it and its top-N cap."""

    ledger_families: ClassVar[LedgerFamilies]
    backfills = True
    ledger: Ledger | None = None
    cap: UserCap | None = None

    def coverage(self) -> tuple[int | None, int | None] | None:
        if self.ledger is None:
            return None
        return self.ledger.first_hour(), self.ledger.planning_start()

    synced_start_ms: int | None = None  # the period start the last sync left applied
    events_per_hour: float | None = None  # measured on the busiest window fetched so far

    def window_hours(self) -> int:
        """The longest window to plan: short enough to hold ``MAX_EVENTS_PER_WINDOW``, by the busiest window
        measured so far or, before one was, by the team's size."""
        rate = self.events_per_hour or (self.context.shared.team_size or 0) * PEAK_EVENTS_PER_SEAT_HOUR
        return max(1, min(MAX_WINDOW_HOURS, int(MAX_EVENTS_PER_WINDOW // rate))) if rate else MAX_WINDOW_HOURS

    def measured(self, window: Window, events: int) -> None:
        """Note a fetched window's event rate, if it is the busiest yet."""
        rate = events / len(window.hours)
        if rate > (self.events_per_hour or 0):
            self.events_per_hour = rate

    @property
    def stale(self) -> bool:
        """A new period start since the last sync (a rollover): the sums of the new period are due at once."""
        ledger = self.ledger
        if ledger is None or self.synced_start_ms is None:
            return False
        return ledger.pending_start_ms is not None or ledger.cycle_start_ms != self.synced_start_ms

    def state(self) -> LedgerPart | None:
        if self.ledger is None or self.cap is None:
            return None
        return LedgerPart(self.ledger.rollup(), self.cap.tracked, self.cap.top_users)

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        return render_ledger(snapshot.part(cls.name), labels, cls.ledger_families)


def sync_windows(source: LedgerSource, scanner: WindowScanner, max_hours: int | None = None) -> None:
    """Fetch the source's due windows (as many as cover ``max_hours``, oldest first, but always the newest),
    each in its own transaction, then let the top-N cap pick its users once the ledger is caught up."""
    context, ledger, cap = source.context, source.ledger, source.cap
    assert ledger is not None and cap is not None, "a ledger source syncs once it has its ledger"
    options = context.options
    sync_end = context.clock_ms() - options.end_delay_ms
    ledger.drop_hours_before(sync_end - options.retention_ms)
    if (future := ledger.forget_fetches_after(sync_end)) is not None:
        log.warning("%s: hours from %d on were fetched by a clock ahead of now; fetching again", source.name, future)
    planning_start = ledger.planning_start()
    lookback = options.settle_lookback_ms
    window_hours = source.window_hours()
    due = plan_windows(planning_start, sync_end, ledger.bucket_states(planning_start), lookback, window_hours)
    max_windows = None if max_hours is None else -(-max_hours // window_hours)
    windows = due if max_windows is None or len(due) <= max_windows else [*due[: max_windows - 1], due[-1]]
    log.debug("%s sync up to %d: %d of %d due windows", scanner.endpoint.path, sync_end, len(windows), len(due))
    skipped = 0
    queue = list(windows)
    while queue:
        window = queue.pop(0)
        try:
            events = scanner.scan_consistently(window, ledger.new_aggregate)
        except InconsistentWindow:
            # Late events kept landing while it was paged: its halves page faster, the older one calmer.
            halves = window.halves()
            if halves is None:
                skipped += 1
            else:
                queue[:0] = halves
            continue
        ledger.replace_window(window, events, fetched_at_ms=sync_end)
        source.measured(window, events.events)
        context.scans.fetched += 1
        if len(windows) > 1:  # a backfill shows its progress instead of nothing for minutes
            context.show_progress()
    ledger.set_planning_start(
        first_unsettled_hour(planning_start, sync_end, ledger.bucket_states(planning_start), lookback)
    )
    source.synced_start_ms = ledger.cycle_start_ms
    if len(windows) == len(due):  # caught up (a window that kept changing must not block picks for good)
        # Picked from a backfill's first windows the cap would keep early spenders for good.
        users = ledger.rollup().user_counters
        cap.pick(cents_by_user((key.user, tally.charged_cents) for key, tally in users.items()))
    if skipped:
        raise ApiError(scanner.endpoint.path, 200, f"{skipped} windows kept changing while paged; retried next sync")


def roll_up(series: Mapping[UsageKey, Tally], grain: Callable[[UsageKey], Hashable]) -> dict:
    """Sum tallies of the series that share ``grain(key)``."""
    sums: dict = defaultdict(lambda: EMPTY)
    for key, tally in series.items():
        group = grain(key)
        sums[group] = add(sums[group], tally)
    return sums


def _tokens(tally: Tally) -> zip:
    return zip(
        TOKEN_TYPES,
        (tally.input_tokens, tally.output_tokens, tally.cache_write_tokens, tally.cache_read_tokens),
        strict=True,
    )


def render_ledger(part: LedgerPart | None, labels: LabelPolicy, names: LedgerFamilies) -> Iterator[Metric]:
    """The families of one ledger view, team-wide and (unless switched off) per user.

    Under the top-N cap (``part.tracked`` not None) users the cap has not picked fold into ``__other__``
    once it is full. While it has room they are left out until the caught-up ledger lets the cap pick
    them: folded meanwhile, ``__other__`` would fall when they leave it, and it is a counter.
    """
    if part is None:
        return
    view, tracked = part.view, part.tracked

    def team(key: UsageKey) -> tuple[str, ...]:
        return (key.team,) if names.by_team else ()

    def usage_grain(key: UsageKey) -> tuple[str, ...]:
        return (*team(key), labels.model(key.model), key.kind, "true" if key.max_mode else "false", key.source)

    events, tokens, charged, fee, units, revised, period = (
        family.new()
        for family in (
            names.events,
            names.tokens,
            names.charged,
            names.token_fee,
            names.request_units,
            names.revised,
            names.period,
        )
    )
    for group, tally in sorted(roll_up(view.counters, usage_grain).items()):
        events.add_metric(group, tally.events)
        for token_type, count in _tokens(tally):
            tokens.add_metric((*group, token_type), count)
        charged.add_metric(group, dollars(tally.charged_cents))
        fee.add_metric(group, dollars(tally.token_fee_cents))
        units.add_metric(group, float(tally.request_units))
    for group, tally in sorted(roll_up(view.revised, usage_grain).items()):
        if tally.charged_cents:
            revised.add_metric(group, dollars(tally.charged_cents))
    for group, tally in sorted(roll_up(view.cycle, usage_grain).items()):
        period.add_metric(group, dollars(tally.charged_cents))
    yield from (events, tokens, charged, fee, units, revised, period)

    if not labels.per_user:
        return
    counters, period_sums = view.user_counters, view.user_cycle
    if tracked is not None and len(tracked) < part.top_users:  # the cap has room: unpicked users wait
        counters = {key: tally for key, tally in counters.items() if key.user in tracked}
        period_sums = {key: tally for key, tally in period_sums.items() if key.user in tracked}

    def user_grain(key: UsageKey) -> tuple[str, ...]:
        return (*team(key), labels.user(key.user, tracked))

    # One family built at a time, each given away before the next: at 10,000 users they hold 70,000 samples.
    user_sums = sorted(roll_up(counters, user_grain).items())
    if names.user_events is not None:
        yield filled(names.user_events, ((group, tally.events) for group, tally in user_sums))
    if names.user_tokens is not None:
        yield filled(
            names.user_tokens,
            (((*group, token_type), count) for group, tally in user_sums for token_type, count in _tokens(tally)),
        )
    yield filled(names.user_charged, ((group, dollars(tally.charged_cents)) for group, tally in user_sums))
    period_user_sums = sorted(roll_up(period_sums, user_grain).items())
    yield filled(names.user_period, ((group, dollars(tally.charged_cents)) for group, tally in period_user_sums))


def filled(family: Family, samples: Iterable[tuple[tuple[str, ...], float]]) -> Metric:
    """A new metric of ``family`` holding these (label values, value) samples."""
    metric = family.new()
    for values, value in samples:
        metric.add_metric(values, value)
    return metric
