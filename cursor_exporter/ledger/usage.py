"""The usage ledger: aggregates of usage events per UTC hour, replaced window by window.

Each fetched window's aggregate replaces what was stored for its hours, so a re-fetch is idempotent
and events need no id. The hour that holds a period start (a billing cycle's or a contract's, at any
millisecond) is stored as two buckets, before and from the start, so the period's sums are exact.

Per series and hour the ledger also keeps the *peak*: the highest figure Cursor ever reported for it.
A counter exported to Prometheus is the sum of the peaks, kept as two running sums persisted in the
same transaction as the window:

* ``total``: the sum of the stored hours, which follows Cursor's revisions up and down;
* ``revised``: how far the peaks lie above the stored hours (a downward revision, or an answer that
  lacked events, that a counter cannot follow).

So a counter never falls, and an hour that goes down and comes back up leaves it where it would be had
it never gone down: it only rises when an hour climbs past its own peak. The period gauges are plain
sums of the stored buckets since the period start, so they are exact and follow revisions both ways.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

from cursor_exporter.api.records import UsageEvent
from cursor_exporter.ledger.deltas import peak_deltas, period_deltas, plus
from cursor_exporter.ledger.rollup import PeriodSums, RunningSums, UsageRollup, usage_grain, user_grain, whole_series
from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.tally import (
    EMPTY,
    HourCharge,
    Tally,
    UsageKey,
    WindowAggregate,
    accumulate,
    add,
    add_charge,
    as_key,
    as_tally,
    by_hour,
    hour_charge,
)
from cursor_exporter.ledger.windows import BucketState, Window
from cursor_exporter.timegrid import HOUR_MS, floor_hour

R = TypeVar("R")

# State keys: the applied period start, a new one waiting for its hour to be fetched again split, and every
# start ever seen (each one's hour is stored split at it).
CYCLE_START = "cycle_start_ms"
PENDING_START = "pending_cycle_start_ms"
PERIOD_STARTS = "period_starts_ms"
RETAINED_FROM = "retained_from_ms"  # hours before it were dropped (--storage.retention) and are never planned


def _stored_key(key: tuple) -> tuple:
    """A series key as stored (from a plain tuple or a :class:`UsageKey`)."""
    user, model, kind, max_mode, source, team = key
    return user, model, kind, int(max_mode), source, team


def _to_row(key: tuple, tally: tuple) -> tuple[tuple, tuple]:
    """A series and its figures as stored (a plain tuple or a :class:`UsageKey` and :class:`Tally`)."""
    events, inputs, outputs, cache_writes, cache_reads, charged, fee, units = tally
    return (
        _stored_key(key),
        (events, inputs, outputs, cache_writes, cache_reads, str(charged), str(fee), str(units)),
    )


def _key_from_row(key: tuple) -> UsageKey:
    user, model, kind, max_mode, source, team = key
    return as_key((user, model, kind, bool(max_mode), source, team))


def _tally_from_row(values: tuple) -> Tally:
    events, inputs, outputs, cache_writes, cache_reads, charged, fee, units = values
    return as_tally((int(events), int(inputs), int(outputs), int(cache_writes), int(cache_reads),
                     Decimal(charged), Decimal(fee), Decimal(units)))  # fmt: skip


def _from_row(key: tuple, values: tuple) -> tuple[UsageKey, Tally]:
    return _key_from_row(key), _tally_from_row(values)


@dataclass(frozen=True)
class UsageView:
    """The ledger's exact figures per series, read from the store (a snapshot renders a
    :class:`UsageRollup` instead: the same sums at the grains its families show).

    ``counters`` are the peaks' sums, ``revised`` how far they lie above Cursor's current figures, ``cycle``
    the sums since the period start and ``cycle_hourly`` its charges per bucket (keyed by bucket start).
    """

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


def _rows(rows: Iterable[tuple[int, tuple, tuple]]) -> dict[tuple[int, UsageKey], Tally]:
    return {(start, usage_key): tally for start, key, values in rows for usage_key, tally in [_from_row(key, values)]}


def _one_writer(method: Callable[..., R]) -> Callable[..., R]:
    """Run a changing method under the ledger's write lock: a rollover, recorded from spend's thread, never
    lands in the middle of a window being replaced in usage's."""

    @functools.wraps(method)
    def locked(self: Ledger, *args: Any, **kwargs: Any) -> R:
        with self._writing:
            return method(self, *args, **kwargs)

    return locked


class Ledger:
    """The durable usage ledger and its in-memory running sums, kept at the grains its families are
    rendered at (see :mod:`cursor_exporter.ledger.rollup`); the sums per series stay in the store.

    ``by_team`` makes an organization ledger: its keys carry each event's ``teamId``, and its period
    (the "cycle" below) is the pool's contract.
    """

    def __init__(self, store: Store, by_team: bool = False) -> None:
        self._store = store
        self._by_team = by_team
        self._lock = threading.Lock()  # guards the running sums that roll-ups copy
        self._writing = threading.RLock()  # one change at a time: see _one_writer
        self._sums = RunningSums()
        self._sums.add_series(
            (_key_from_row(key), _tally_from_row(values), _revision(_tally_from_row(revised)))
            for key, values, revised in store.totals()
        )
        self._splits: list[int] = store.get_json(PERIOD_STARTS) or []
        self.cycle_start_ms: int | None = _int_state(store, CYCLE_START)
        self.pending_start_ms: int | None = _int_state(store, PENDING_START)
        self._period = PeriodSums(*self._sum_since(self.cycle_start_ms, usage_grain, user_grain))

    @property
    def has_data(self) -> bool:
        """True when a previous run left usage in the ledger."""
        return self._store.first_bucket() is not None

    def _sum_since(self, start_ms: int | None, *grains: Callable[[UsageKey], UsageKey]) -> tuple:
        """The stored usage from ``start_ms`` on, summed at each of ``grains``, then the charges per bucket;
        streamed, since a period of a large team is millions of rows."""
        sums: list[dict[UsageKey, list]] = [{} for _ in grains]
        hourly: dict[int, HourCharge] = {}
        for bucket, key, values in () if start_ms is None else self._store.hour_rows(start_ms):
            usage_key, tally = _from_row(key, values)
            for grain, grain_sums in zip(grains, sums, strict=True):
                accumulate(grain_sums, grain(usage_key), tally)
            hourly[bucket] = add_charge(hourly.get(bucket, HourCharge()), hour_charge(usage_key, tally))
        return (*({key: as_tally(row) for key, row in grain_sums.items()} for grain_sums in sums), hourly)

    @_one_writer
    def set_cycle_start(self, start_ms: int) -> None:
        """Record the period start (the billing cycle, or the organization's contract).

        A new start re-sums the period gauges. When its hour was stored whole, the start is *pending*: the
        gauges keep the old period until the next sync has fetched that hour again, split at the start,
        so they move from one exact figure to the other. A start earlier than the planning start moves
        planning back to fetch it."""
        if start_ms == self.cycle_start_ms:
            self._set_pending(None)
            self._split_at(start_ms)  # a ledger from before split hours fetches its start's hour again
            return
        if start_ms == self.pending_start_ms:
            return
        self._plan_from(floor_hour(start_ms))
        if self._split_at(start_ms):
            self._set_pending(start_ms)
        else:
            self._apply_start(start_ms)

    def _split_at(self, start_ms: int) -> bool:
        """Split future fetches of ``start_ms``'s hour at it; True when that hour was stored whole before and
        is now due again."""
        if start_ms == floor_hour(start_ms) or start_ms in self._splits:
            return False
        self._splits.append(start_ms)
        self._store.set_json(PERIOD_STARTS, self._splits)
        if floor_hour(start_ms) not in self.bucket_states(floor_hour(start_ms)):
            return False
        self._store.forget_bucket(floor_hour(start_ms))
        self._plan_from(floor_hour(start_ms))
        return True

    def _set_pending(self, start_ms: int | None) -> None:
        if start_ms != self.pending_start_ms:
            self._store.set_state(PENDING_START, "" if start_ms is None else str(start_ms))
            self.pending_start_ms = start_ms

    def _apply_start(self, start_ms: int) -> None:
        self._store.set_state(CYCLE_START, str(start_ms))
        self._set_pending(None)
        period = PeriodSums(*self._sum_since(start_ms, usage_grain, user_grain))
        with self._lock:
            self.cycle_start_ms = start_ms
            self._period = period

    def first_hour(self) -> int | None:
        """The oldest hour the ledger has fetched, or None when empty."""
        return self._store.first_bucket()

    def planning_start(self) -> int | None:
        """The oldest hour that may still need fetching (hours before it are settled)."""
        stored = _int_state(self._store, "planning_start_ms")
        if stored is not None:
            return stored
        return floor_hour(self.cycle_start_ms) if self.cycle_start_ms is not None else None

    def hours(self, first_hour: int, last_hour: int | None = None) -> Iterator[tuple[int, UsageKey, Tally]]:
        """Stored usage of each hour in [first_hour, last_hour] (open-ended when None), per series."""
        last_ms = None if last_hour is None else floor_hour(last_hour) + HOUR_MS - 1
        for (hour, key), tally in sorted(by_hour(_rows(self._store.hour_rows(first_hour, last_ms))).items()):
            yield hour, key, tally

    @_one_writer
    def drop_hours_before(self, instant_ms: int) -> None:
        """Drop the usage of the hours before ``instant_ms`` (never the current period's), keeping the ledger
        bounded: the counters keep their sums, and those hours are never planned again, since a re-fetch of
        a dropped hour would count it twice."""
        horizon = floor_hour(instant_ms)
        if self.cycle_start_ms is not None:
            horizon = min(horizon, floor_hour(self.cycle_start_ms))
        first = self.first_hour()
        if first is None or first >= horizon:
            return
        self._store.drop_hours_before(horizon)
        self._store.set_state(RETAINED_FROM, str(horizon))
        self._plan_from(horizon)

    def _plan_from(self, hour: int) -> None:
        """Let planning reach back to ``hour`` (never before the retained hours), if it does not yet."""
        hour = max(hour, _int_state(self._store, RETAINED_FROM) or hour)
        planning = self.planning_start()
        if planning is not None and hour < planning:
            self.set_planning_start(hour)

    @_one_writer
    def forget_fetches_after(self, instant_ms: int) -> int | None:
        """Forget fetches stamped after ``instant_ms`` (the host clock ran ahead, then was set right), so that
        the hours they wrongly settled are fetched again; returns the oldest such hour."""
        first = self._store.forget_buckets_fetched_after(instant_ms)
        if first is not None:
            self._plan_from(first)
        return first

    def set_planning_start(self, hour_ms: int) -> None:
        self._store.set_state("planning_start_ms", str(hour_ms))

    def bucket_states(self, from_hour: int) -> dict[int, BucketState]:
        """Fetch state of every hour from ``from_hour`` on."""
        return {
            hour: BucketState(fetched_at, covered) for hour, fetched_at, covered in self._store.bucket_states(from_hour)
        }

    def new_aggregate(self) -> WindowAggregate:
        """An empty aggregate to fold a window's pages into, split at this ledger's period starts."""
        return WindowAggregate(self._by_team, self._splits)

    @_one_writer
    def replace_window(
        self, window: Window, events: WindowAggregate | Iterable[UsageEvent], fetched_at_ms: int
    ) -> WindowResult:
        """Atomically replace the stored usage of ``window``'s hours with these events' aggregate (folded
        page by page into :meth:`new_aggregate`, or given as events).

        Per hour and series the counters rise only past the hour's peak: a window that went down (a
        revision, or an answer that lacked events) and comes back up leaves them where they were."""
        first, last = window.hours[0], window.hours[-1] + HOUR_MS - 1
        if not isinstance(events, WindowAggregate):
            folded = self.new_aggregate()
            folded.add(events)
            events = folded
        new = events.sums()
        old = _rows(self._store.hour_rows(first, last))
        old_excess = _rows(self._store.peak_rows(first, last))
        excess, total_delta, revised_delta = peak_deltas(by_hour(new), by_hour(old), old_excess)
        cycle_delta, hourly_delta = period_deltas(new, old, self.cycle_start_ms)
        changed = [
            (key, total, revised_delta.get(key))
            for key, total in total_delta.items()
            if total != EMPTY or revised_delta.get(key, EMPTY) != EMPTY
        ]
        with self._store.transaction() as db:
            stored = {key: values for key, *values in self._store.totals_of(db, (_stored_key(k) for k, *_ in changed))}
            self._store.replace_hours(db, first, last, ((b, *_to_row(k, t)) for (b, k), t in new.items()))
            self._store.replace_peaks(db, first, last, ((h, *_to_row(k, t)) for (h, k), t in excess.items()))
            self._store.upsert_totals(db, _new_totals(changed, stored))
            self._store.mark_buckets(db, window.hours, fetched_at_ms, window.end_ms)
        with self._lock:
            self._sums.add_series(changed)
            self._period.add(cycle_delta, hourly_delta)
        if self.pending_start_ms is not None and first <= self.pending_start_ms <= last:
            self._apply_start(self.pending_start_ms)
        revised_down = any(value < 0 for change in total_delta.values() for value in change)
        return WindowResult(events.events, revised_down)

    def rollup(self) -> UsageRollup:
        """An immutable copy of the running sums for the next snapshot."""
        with self._lock:
            sums, period = self._sums, self._period
            return UsageRollup(
                counters=MappingProxyType(dict(sums.counters)),
                revised=MappingProxyType(dict(sums.revised)),
                cycle=MappingProxyType({k: v for k, v in period.cycle.items() if v != EMPTY}),
                user_counters=MappingProxyType(dict(sums.user_counters)),
                user_cycle=MappingProxyType({k: v for k, v in period.user_cycle.items() if v != EMPTY}),
                cycle_start_ms=self.cycle_start_ms,
                cycle_hourly=MappingProxyType(dict(period.hourly)),
            )

    @_one_writer  # reads the store whole: no window lands half-way
    def view(self) -> UsageView:
        """The exact figures per series, read from the store whole (for checks and tools; a snapshot renders
        :meth:`rollup`)."""
        counters: dict[UsageKey, Tally] = {}
        revised: dict[UsageKey, Tally] = {}
        for key, values, revision in self._store.totals():
            usage_key, total, excess = _key_from_row(key), _tally_from_row(values), _tally_from_row(revision)
            counters[usage_key], revised[usage_key] = add(total, excess), excess
        cycle, hourly = self._sum_since(self.cycle_start_ms, whole_series)
        return UsageView(
            counters=MappingProxyType(counters),
            revised=MappingProxyType(revised),
            cycle=MappingProxyType(cycle),
            cycle_start_ms=self.cycle_start_ms,
            cycle_hourly=MappingProxyType(hourly),
        )


def _new_totals(
    changed: list[tuple[UsageKey, Tally, Tally | None]], stored: dict[tuple, list[tuple]]
) -> Iterator[tuple[tuple, tuple, tuple]]:
    """The rows of ``usage_totals`` after these changes of stored totals and revisions."""
    for key, total, revision in changed:
        row_key = _stored_key(key)
        before = stored.get(row_key)
        before_total, before_revised = (EMPTY, EMPTY) if before is None else map(_tally_from_row, before)
        yield row_key, _to_row(key, add(before_total, total))[1], _to_row(key, plus(before_revised, revision))[1]


def _revision(revised: Tally) -> Tally | None:
    return None if revised == EMPTY else revised


def _int_state(store: Store, key: str) -> int | None:
    value = store.get_state(key)
    return int(value) if value else None
