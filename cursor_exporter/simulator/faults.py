"""Injectable faults and per-endpoint rate limiting (both on real time, never the sim clock)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from .config import FAULT_KINDS

DEFAULT_LIMIT_PER_PERIOD = 20
ENDPOINT_LIMITS_PER_PERIOD = {
    "/teams/filtered-usage-events": 60,
    "/organizations/filtered-usage-events": 60,
}


class FaultInjector:
    """Queue of faults applied, in order, to the next API (non-``/_sim``) requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()

    def inject(self, kind: str, count: int = 1) -> None:
        """Make the next ``count`` API requests fail with ``kind`` (see ``FAULT_KINDS``)."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._queue.extend([kind] * count)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        """Number of requests that will still be faulted."""
        with self._lock:
            return len(self._queue)

    def take(self) -> str | None:
        """The fault for the request being handled now, if any."""
        with self._lock:
            return self._queue.popleft() if self._queue else None


class RateLimiter:
    """Sliding-window limiter per endpoint, on ``time.monotonic``.

    Rejected requests are not counted, so a client that waits ``Retry-After``
    always gets through again.
    """

    def __init__(self, period_s: float = 60.0, scale: float = 1.0) -> None:
        self.period_s = period_s
        self.scale = scale
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}

    def limit_for(self, path: str) -> int:
        base = ENDPOINT_LIMITS_PER_PERIOD.get(path, DEFAULT_LIMIT_PER_PERIOD)
        return max(1, int(base * self.scale))

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.period_s))

    def allow(self, path: str) -> bool:
        """Record a request to ``path``; False when it exceeds the endpoint's budget."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(path, deque())
            while window and window[0] <= now - self.period_s:
                window.popleft()
            if len(window) >= self.limit_for(path):
                return False
            window.append(now)
            return True

    def reset(self) -> None:
        """Forget all recorded requests."""
        with self._lock:
            self._windows.clear()
