"""The usage ledger: hourly aggregates of usage events, replaced window by window.

Each fetched window's aggregate replaces what was stored for its hours, so a re-fetch is idempotent
and events need no id. Per series the ledger keeps two running sums, persisted in the same
transaction as the window:

* ``total``: the sum of the stored hours, which follows Cursor's revisions up and down;
* ``revised``: the sum of every downward change ever applied.

A counter exported to Prometheus is ``total + revised``: it rises with every new event and upward
revision and never falls, across re-fetches and restarts. The current-cycle gauges are plain sums of
the stored hours since the cycle start, so they are exact and follow revisions both ways.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from cursor_exporter.api.records import UsageEvent
from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.windows import BucketState, Window
from cursor_exporter.money import ZERO, is_on_demand
from cursor_exporter.timegrid import floor_hour


class UsageKey(NamedTuple):
    """The finest grain the ledger keeps; every exported usage family is a roll-up of it.

    ``team`` is the event's ``teamId`` in the organization ledger and empty in a team's own.
    """

    user: str
    model: str
    kind: str
    max_mode: bool
    source: str
    team: str = ""


class Tally(NamedTuple):
    """Additive usage figures of one series. Money is in cents, exact."""

    events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    charged_cents: Decimal = ZERO
    token_fee_cents: Decimal = ZERO
    request_units: Decimal = ZERO


EMPTY = Tally()


def add(a: Tally, b: Tally) -> Tally:
    """Field-wise sum."""
    return Tally(*(x + y for x, y in zip(a, b, strict=True)))


def subtract(a: Tally, b: Tally) -> Tally:
    """Field-wise difference ``a - b``."""
    return Tally(*(x - y for x, y in zip(a, b, strict=True)))


def downward_part(delta: Tally) -> Tally:
    """The magnitude of each field that decreased in ``delta`` (zero where it did not)."""
    return Tally(*(-x if x < 0 else type(x)(0) for x in delta))


def tally_event(event: UsageEvent) -> Tally:
    """One event as a tally; request-based events add no tokens."""
    tokens = event.token_usage
    return Tally(
        events=1,
        input_tokens=tokens.input_tokens if tokens else 0,
        output_tokens=tokens.output_tokens if tokens else 0,
        cache_write_tokens=tokens.cache_write_tokens if tokens else 0,
        cache_read_tokens=tokens.cache_read_tokens if tokens else 0,
        charged_cents=event.charged,
        token_fee_cents=event.cursor_token_fee or ZERO,
        request_units=event.requests_costs,
    )


def aggregate(events: Iterable[UsageEvent], by_team: bool = False) -> dict[tuple[int, UsageKey], Tally]:
    """Sum events per (hour, series); ``by_team`` keeps each event's ``teamId`` (organization events)."""
    sums: dict[tuple[int, UsageKey], Tally] = defaultdict(lambda: EMPTY)
    for event in events:
        team = (event.team_id or "unknown") if by_team else ""
        key = UsageKey(event.user_email, event.model, event.kind, event.max_mode, event.source, team)
        slot = (floor_hour(event.timestamp), key)
        sums[slot] = add(sums[slot], tally_event(event))
    return dict(sums)


def _to_row(key: UsageKey, tally: Tally) -> tuple[tuple, tuple]:
    return (
        (key.user, key.model, key.kind, int(key.max_mode), key.source, key.team),
        tuple(str(v) if isinstance(v, Decimal) else v for v in tally),
    )


def _from_row(key: tuple, values: tuple) -> tuple[UsageKey, Tally]:
    user, model, kind, max_mode, source, team = key
    ints = [int(v) for v in values[:5]]
    money = [Decimal(v) for v in values[5:]]
    return UsageKey(user, model, kind, bool(max_mode), source, team), Tally(*ints, *money)


class HourCharge(NamedTuple):
    """Charged cents of one hour: everything, and the on-demand (invoiced) part."""

    all: Decimal = ZERO
    on_demand: Decimal = ZERO


def _hour_charge(key: UsageKey, tally: Tally) -> HourCharge:
    return HourCharge(tally.charged_cents, tally.charged_cents if is_on_demand(key.kind) else ZERO)


def _add_charge(a: HourCharge, b: HourCharge) -> HourCharge:
    return HourCharge(a.all + b.all, a.on_demand + b.on_demand)


@dataclass(frozen=True)
class UsageView:
    """An immutable view of the ledger for one snapshot."""

    counters: Mapping[UsageKey, Tally]
    revised: Mapping[UsageKey, Tally]
    cycle: Mapping[UsageKey, Tally]
    cycle_start_ms: int | None
    cycle_hourly: Mapping[int, HourCharge]


@dataclass(frozen=True)
class WindowResult:
    """What replacing one window changed."""

    events: int
    revised_down: bool


class Ledger:
    """The durable usage ledger and its in-memory running sums.

    ``by_team`` makes an organization ledger: its keys carry each event's ``teamId``, and its period
    (the "cycle" below) is the pool's contract.
    """

    def __init__(self, store: Store, by_team: bool = False) -> None:
        self._store = store
        self._by_team = by_team
        self._lock = threading.Lock()
        self._totals: dict[UsageKey, Tally] = {}
        self._revised: dict[UsageKey, Tally] = {}
        for key, values, revised in store.totals():
            usage_key, total = _from_row(key, values)
            self._totals[usage_key] = total
            self._revised[usage_key] = _from_row(key, revised)[1]
        stored_start = store.get_state("cycle_start_ms")
        self.cycle_start_ms: int | None = int(stored_start) if stored_start else None
        self._cycle, self._cycle_hourly = self._sum_hours_since(self.cycle_start_ms)

    @property
    def has_data(self) -> bool:
        """True when a previous run left usage in the ledger."""
        return self._store.first_bucket() is not None

    def _sum_hours_since(self, start_ms: int | None) -> tuple[dict[UsageKey, Tally], dict[int, HourCharge]]:
        sums: dict[UsageKey, Tally] = {}
        hourly: dict[int, HourCharge] = {}
        if start_ms is None:
            return sums, hourly
        for hour, key, values in self._store.hour_rows(floor_hour(start_ms)):
            usage_key, tally = _from_row(key, values)
            sums[usage_key] = add(sums.get(usage_key, EMPTY), tally)
            hourly[hour] = _add_charge(hourly.get(hour, HourCharge()), _hour_charge(usage_key, tally))
        return sums, hourly

    def set_cycle_start(self, start_ms: int) -> None:
        """Record the period start (the billing cycle, or the organization's contract); a new one re-sums
        the period gauges. A start earlier than the planning start moves planning back to fetch it."""
        if start_ms == self.cycle_start_ms:
            return
        planning = self.planning_start()
        if planning is not None and floor_hour(start_ms) < planning:
            self.set_planning_start(floor_hour(start_ms))
        self._store.set_state("cycle_start_ms", str(start_ms))
        cycle, hourly = self._sum_hours_since(start_ms)
        with self._lock:
            self.cycle_start_ms = start_ms
            self._cycle, self._cycle_hourly = cycle, hourly

    def first_hour(self) -> int | None:
        """The oldest hour the ledger has fetched, or None when empty."""
        return self._store.first_bucket()

    def planning_start(self) -> int | None:
        """The oldest hour that may still need fetching (hours before it are settled)."""
        stored = self._store.get_state("planning_start_ms")
        if stored is not None:
            return int(stored)
        return floor_hour(self.cycle_start_ms) if self.cycle_start_ms is not None else None

    def hours(self, first_hour: int, last_hour: int | None = None) -> Iterator[tuple[int, UsageKey, Tally]]:
        """Stored usage of each hour in [first_hour, last_hour] (open-ended when None), per series."""
        for hour, key, values in self._store.hour_rows(first_hour, last_hour):
            yield (hour, *_from_row(key, values))

    def set_planning_start(self, hour_ms: int) -> None:
        self._store.set_state("planning_start_ms", str(hour_ms))

    def bucket_states(self, from_hour: int) -> dict[int, BucketState]:
        """Fetch state of every hour from ``from_hour`` on."""
        return {
            hour: BucketState(fetched_at, covered) for hour, fetched_at, covered in self._store.bucket_states(from_hour)
        }

    def replace_window(self, window: Window, events: Iterable[UsageEvent], fetched_at_ms: int) -> WindowResult:
        """Atomically replace the stored usage of ``window``'s hours with these events' aggregate."""
        first, last = window.hours[0], window.hours[-1]
        new = aggregate(events, self._by_team)
        old = {
            (hour, usage_key): tally
            for hour, key, values in self._store.hour_rows(first, last)
            for usage_key, tally in [_from_row(key, values)]
        }
        delta: dict[UsageKey, Tally] = {}
        cycle_delta: dict[UsageKey, Tally] = {}
        hourly_delta: dict[int, HourCharge] = {}
        cycle_hour = floor_hour(self.cycle_start_ms) if self.cycle_start_ms is not None else None
        for slot in old.keys() | new.keys():
            hour, key = slot
            change = subtract(new.get(slot, EMPTY), old.get(slot, EMPTY))
            delta[key] = add(delta.get(key, EMPTY), change)
            if cycle_hour is not None and hour >= cycle_hour:
                cycle_delta[key] = add(cycle_delta.get(key, EMPTY), change)
                hourly_delta[hour] = _add_charge(hourly_delta.get(hour, HourCharge()), _hour_charge(key, change))
        updated: list[tuple[UsageKey, Tally, Tally]] = []
        revised_down = False
        for key, change in delta.items():
            if change == EMPTY:
                continue
            down = downward_part(change)
            revised_down = revised_down or down != EMPTY
            updated.append((key, add(self._totals.get(key, EMPTY), change), add(self._revised.get(key, EMPTY), down)))
        with self._store.transaction() as db:
            self._store.replace_hours(db, first, last, ((h, *_to_row(k, t)) for (h, k), t in new.items()))
            self._store.upsert_totals(db, ((*_to_row(k, t), _to_row(k, r)[1]) for k, t, r in updated))
            self._store.mark_buckets(db, window.hours, fetched_at_ms, window.end_ms)
        with self._lock:
            for key, total, revised in updated:
                self._totals[key] = total
                self._revised[key] = revised
            for key, change in cycle_delta.items():
                self._cycle[key] = add(self._cycle.get(key, EMPTY), change)
            for hour, charge in hourly_delta.items():
                self._cycle_hourly[hour] = _add_charge(self._cycle_hourly.get(hour, HourCharge()), charge)
        return WindowResult(sum(t.events for t in new.values()), revised_down)

    def view(self) -> UsageView:
        """An immutable copy of the running sums for the next snapshot."""
        with self._lock:
            counters = {key: add(total, self._revised.get(key, EMPTY)) for key, total in self._totals.items()}
            return UsageView(
                counters=MappingProxyType(counters),
                revised=MappingProxyType(dict(self._revised)),
                cycle=MappingProxyType({k: v for k, v in self._cycle.items() if v != EMPTY}),
                cycle_start_ms=self.cycle_start_ms,
                cycle_hourly=MappingProxyType(dict(self._cycle_hourly)),
            )
