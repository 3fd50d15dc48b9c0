"""Spend per email over a billing cycle, in O(members) per ``/teams/spend`` page instead of O(events).

A spend row sums the events of the cycle visible now, each at its value now. That is what the events
that have arrived by now add at their first value, plus, for those whose revision is served by now,
the revised value less the first one. The book keeps that sum at the instant it was last asked for
and moves it to the next one by adding (or, if the clock went back, taking away) only what arrived
or was revised in between, which each hour keeps in the order it happens.

The sums are exact: they add the exact decimals of served floats, which stay far inside the decimal
context's 28 digits, so adding and taking away in another order gives the very same totals.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from .events import KIND_USAGE_BASED, UsageEvent
from .money import exact
from .team import Team

Sums = tuple[Decimal, Decimal, int]
"""An email's spend: chargedCents of every kind, of on-demand (usage-based) events, and their count."""

NO_SPEND: Sums = (Decimal(0), Decimal(0), 0)


class SpendBook:
    """Spend sums of one team's emails (thread-safe)."""

    def __init__(self, team: Team) -> None:
        self._team = team
        self._lock = threading.Lock()
        self._start_ms = 0  # the sums cover the events with timestamp >= start...
        self._at_ms = -1  # ...as served at this instant
        self._totals: dict[str, Sums] = {}

    def sums(self, start_ms: int, now_ms: int) -> dict[str, Sums]:
        """Sums per email of the events visible at ``now_ms`` with ``start_ms <= timestamp <= now_ms``, each
        at its ``chargedCents`` at ``now_ms``; emails without such events may be missing."""
        with self._lock:
            if start_ms != self._start_ms or abs(now_ms - self._at_ms) > now_ms - start_ms:
                # Summing from scratch is cheaper (or the range changed): nothing has arrived before start.
                self._start_ms, self._at_ms, self._totals = start_ms, start_ms - 1, {}
            self._move_to(now_ms)
            return dict(self._totals)

    def _move_to(self, now_ms: int) -> None:
        """Add what arrives or is revised between the kept instant and ``now_ms`` (take it away going back)."""
        if now_ms == self._at_ms:
            return
        low, high = sorted((self._at_ms, now_ms))
        sign = 1 if now_ms > self._at_ms else -1
        for hour in self._team.hours_between(self._start_ms, high):
            if hour.settled_at_ms <= low:
                continue  # nothing of this hour changes in between
            for event in hour.arrivals(low, high):
                if event.timestamp_ms >= self._start_ms:
                    _add(self._totals, event, sign * exact(event.charged_cents), sign)
            for event in hour.revisions(low, high):
                if event.timestamp_ms >= self._start_ms:
                    revision = exact(event.revised_charged_cents) - exact(event.charged_cents)  # type: ignore[arg-type]
                    _add(self._totals, event, sign * revision, 0)
        self._at_ms = now_ms


def _add(totals: dict[str, Sums], event: UsageEvent, amount: Decimal, count: int) -> None:
    """Add ``amount`` to the event's email, and to its on-demand sums (``count`` events) if it is on-demand."""
    overall, on_demand, events = totals.get(event.email, NO_SPEND)
    if event.kind == KIND_USAGE_BASED:
        totals[event.email] = (overall + amount, on_demand + amount, events + count)
    else:
        totals[event.email] = (overall + amount, on_demand, events)
