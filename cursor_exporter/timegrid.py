"""Time on the ground floor: the UTC hour and day grids every stage shares, and the wall clock.

Cursor reports instants in epoch milliseconds; the ledger keeps usage per UTC hour and daily activity
per UTC day. Everything that needs a grid, a date string or "now" imports it from here, so a clock can
be injected in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

Clock = Callable[[], int]
"""Milliseconds since the epoch; the exporter's only notion of "now"."""


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, from the system clock."""
    return int(time.time() * 1000)


def floor_hour(ms: int) -> int:
    """Start of the UTC hour containing ``ms``."""
    return ms - ms % HOUR_MS


def floor_day(ms: int) -> int:
    """Start of the UTC day containing ``ms``."""
    return ms - ms % DAY_MS


def utc_date(ms: int) -> str:
    """``YYYY-MM-DD`` of the UTC day containing ``ms``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")
