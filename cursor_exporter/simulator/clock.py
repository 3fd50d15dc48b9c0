"""Simulated wall clock that can run fast, stand still, or jump."""

from __future__ import annotations

import threading
import time


class SimClock:
    """Epoch-millisecond clock for the simulator.

    ``start_ms=None`` starts at the real current time. ``speed`` is simulated
    seconds per real second: ``0`` freezes the clock, ``60`` makes one real
    second one simulated minute. ``set`` and ``advance`` work at any speed.
    """

    def __init__(self, start_ms: int | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base_sim_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._base_real_s = time.monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now_ms(self) -> int:
        """Current simulated time in epoch milliseconds."""
        with self._lock:
            return self._now_locked()

    def set(self, ms: int) -> None:
        """Jump to ``ms``; the clock keeps running at its speed from there."""
        with self._lock:
            self._base_sim_ms = int(ms)
            self._base_real_s = time.monotonic()

    def advance(self, ms: int) -> None:
        """Move the clock ``ms`` milliseconds forward (negative moves back)."""
        with self._lock:
            self._base_sim_ms = self._now_locked() + int(ms)
            self._base_real_s = time.monotonic()

    def _now_locked(self) -> int:
        elapsed_real_s = time.monotonic() - self._base_real_s
        return self._base_sim_ms + int(elapsed_real_s * self._speed * 1000)
