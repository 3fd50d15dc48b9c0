"""One generated UTC hour of events, and what the routes read from it without touching every event.

A page of ``/teams/filtered-usage-events`` needs the number of events served in its window and the
thousand it shows: an hour finds where a time range starts and ends inside it (its events are in
timestamp order) and knows from when on all of its events are visible, so only an hour still filling
up at ``now`` is read event by event, once per arrival. Each event's JSON is kept once final, for
the hours served last.
``/teams/spend`` follows what changes as the clock moves: the events arriving and the revisions
applying in between, which each hour keeps in the order they happen.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter

from .events import REVISION_AFTER_MS, UsageEvent
from .jsonbody import encode

_TIMESTAMP = attrgetter("timestamp_ms")

Run = tuple["Hour", Sequence[int]]
"""An hour and the indices (oldest first) of some of its events."""


def served_revised_from_ms(event: UsageEvent) -> int:
    """The first instant at which a revised event is served with its revised value: visible and revised."""
    return max(event.visible_at_ms, event.timestamp_ms + REVISION_AFTER_MS)


class Hour:
    """The events of one UTC hour, oldest first (same-millisecond events in generation order).

    ``all_visible_at_ms``: from this instant on every event of the hour is visible; ``settled_at_ms``:
    from this instant on every event is also served at its final value (nothing changes after it).
    """

    __slots__ = ("_arrival_order", "_revisions", "_visible", "all_visible_at_ms", "events", "settled_at_ms")

    def __init__(self, events: tuple[UsageEvent, ...]) -> None:
        self.events = events
        self._arrival_order = array("I", sorted(range(len(events)), key=lambda index: events[index].visible_at_ms))
        self._revisions = sorted((e for e in events if e.revised_charged_cents is not None), key=served_revised_from_ms)
        self.all_visible_at_ms = events[self._arrival_order[-1]].visible_at_ms if events else 0
        last_revision_ms = served_revised_from_ms(self._revisions[-1]) if self._revisions else 0
        self.settled_at_ms = max(self.all_visible_at_ms, last_revision_ms)
        self._visible: tuple[int, list[int]] | None = None  # the last (events arrived, their indices) worked out

    def indices_between(self, start_ms: int, end_ms: int) -> range:
        """Indices of the events with ``start_ms <= timestamp <= end_ms``."""
        first = bisect_left(self.events, start_ms, key=_TIMESTAMP)
        return range(first, max(first, bisect_right(self.events, end_ms, key=_TIMESTAMP)))

    def visible_indices(self, start_ms: int, end_ms: int, now_ms: int) -> Sequence[int]:
        """Indices of the events with ``start_ms <= timestamp <= end_ms`` visible at ``now_ms``."""
        between = self.indices_between(start_ms, end_ms)
        if now_ms >= self.all_visible_at_ms:
            return between
        arrived = self._arrivals_until(now_ms)
        visible = self._visible
        if visible is None or visible[0] != arrived:  # the pages of one window mostly ask at the same arrivals
            visible = self._visible = (arrived, sorted(self._arrival_order[:arrived]))
        indices = visible[1]
        return indices[bisect_left(indices, between.start) : bisect_left(indices, between.stop)]

    def arrivals(self, after_ms: int, until_ms: int) -> Iterator[UsageEvent]:
        """The events that become visible after ``after_ms`` and by ``until_ms``."""
        for index in self._arrival_order[self._arrivals_until(after_ms) : self._arrivals_until(until_ms)]:
            yield self.events[index]

    def revisions(self, after_ms: int, until_ms: int) -> list[UsageEvent]:
        """The events first served revised after ``after_ms`` and by ``until_ms``."""
        revisions = self._revisions
        first = bisect_right(revisions, after_ms, key=served_revised_from_ms)
        return revisions[first : bisect_right(revisions, until_ms, key=served_revised_from_ms)]

    def _arrivals_until(self, now_ms: int) -> int:
        """How many of the hour's events are visible at ``now_ms``."""
        events = self.events
        return bisect_right(self._arrival_order, now_ms, key=lambda index: events[index].visible_at_ms)


def newest_first(runs: Sequence[Run], offset: int, count: int) -> Iterator[tuple[Hour, int]]:
    """``(hour, index)`` of the events at positions ``offset`` to ``offset + count - 1`` when the events of
    ``runs`` (oldest first, as ``World.visible_runs`` gives them) are read newest first."""
    for hour, indices in reversed(runs):
        if count <= 0:
            return
        size = len(indices)
        if offset >= size:
            offset -= size
            continue
        stop = size - offset
        chosen = indices[max(0, stop - count) : stop]
        for index in reversed(chosen):
            yield hour, index
        count -= len(chosen)
        offset = 0


class EventJson:
    """The served JSON of events, kept once final for the ``hours`` hours served last (thread-safe).

    An event's payload depends on ``now`` only through whether its revision applies yet, so its JSON
    is kept from the moment it is final; before that it is encoded afresh. Pages re-read soon after
    (the recent hours) cost a join; a whole cycle read once is not kept a second time as JSON.
    """

    def __init__(self, hours: int) -> None:
        self._hours = hours
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Hour, bool], list[bytes | None]] = OrderedDict()

    def rows(self, selected: Iterable[tuple[Hour, int]], now_ms: int, legacy_2025: bool) -> list[bytes]:
        """The JSON of each selected ``(hour, index)`` event as served at ``now_ms``."""
        rows = []
        current: Hour | None = None
        kept: list[bytes | None] = []
        for hour, index in selected:
            if hour is not current:
                current, kept = hour, self._kept_for(hour, legacy_2025)
            event = hour.events[index]
            if not event.is_final_at(now_ms):
                rows.append(encode(event.payload(now_ms, legacy_2025)))
                continue
            body = kept[index]
            if body is None:
                body = kept[index] = encode(event.payload(now_ms, legacy_2025))
            rows.append(body)
        return rows

    def _kept_for(self, hour: Hour, legacy_2025: bool) -> list[bytes | None]:
        key = (hour, legacy_2025)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                kept = self._kept[key] = [None] * len(hour.events)
                if len(self._kept) > self._hours:
                    self._kept.popitem(last=False)
            else:
                self._kept.move_to_end(key)
            return kept
