"""Client-side rate limiting: a sliding window per endpoint, so the exporter never causes a 429."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cursor_exporter.api.endpoints import Endpoint


class Slot:
    """One request's place in the window; it counts from when the request *ended*."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class SlidingWindowLimiter:
    """Allows at most ``limit`` requests in any ``period`` seconds, blocking the caller otherwise.

    A sliding window (not a token bucket) because Cursor counts requests per minute per team. Each
    request counts from its completion, not its start: the server saw it somewhere in between, so
    the client's window always ends after the server's and never lets a request in too early.
    """

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._slots: list[Slot] = []
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> tuple[Slot, float]:
        """Wait for room and take a slot; returns it (pass it to :meth:`complete`) and the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                self._slots = [slot for slot in self._slots if slot.at > now - self.period]
                wait = max(self._blocked_until - now, 0.0)
                if len(self._slots) >= self.limit:
                    wait = max(wait, min(slot.at for slot in self._slots) + self.period - now)
                if wait <= 0:
                    slot = Slot(now)
                    self._slots.append(slot)
                    return slot, waited
                self._sleep(wait)
                waited += wait

    def complete(self, slot: Slot) -> None:
        """Mark the slot's request as finished now."""
        with self._lock:
            slot.at = max(slot.at, self._clock())

    def block_for(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (a server's Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def limit_for(endpoint: Endpoint, share: float) -> int:
    """This exporter's per-minute budget for ``endpoint``: its share of Cursor's limit, at least 1."""
    return max(1, math.floor(endpoint.per_minute * share))
