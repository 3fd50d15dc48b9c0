"""Client-side rate limiting: a sliding window per endpoint, so the exporter never causes a 429."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# Cursor's documented per-team limits per minute (API reference §2.1); anything unlisted gets 20.
CURSOR_LIMITS_PER_MINUTE = {
    "/teams/filtered-usage-events": 60,
    "/organizations/filtered-usage-events": 60,
}
DEFAULT_LIMIT_PER_MINUTE = 20


class SlidingWindowLimiter:
    """Allows at most ``limit`` acquisitions in any ``period`` seconds, blocking the caller otherwise.

    A sliding window (not a token bucket) because Cursor counts requests per minute per team: with
    bursts allowed by a bucket, a restart right after a burst could exceed the server's window.
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
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot and take it; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.period:
                    self._sent.popleft()
                wait = max(self._blocked_until - now, 0.0)
                if len(self._sent) >= self.limit:
                    wait = max(wait, self._sent[0] + self.period - now)
                if wait <= 0:
                    self._sent.append(now)
                    return waited
                self._sleep(wait)
                waited += wait

    def block_for(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (a server's Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def limit_for(path: str, share: float) -> int:
    """This exporter's per-minute budget for ``path``: its share of Cursor's limit, at least 1."""
    cursor_limit = CURSOR_LIMITS_PER_MINUTE.get(path, DEFAULT_LIMIT_PER_MINUTE)
    return max(1, math.floor(cursor_limit * share))
