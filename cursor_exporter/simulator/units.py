"""Time units and the billing cycle length shared by every generator and route."""

from __future__ import annotations

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
CYCLE_MS = 30 * DAY_MS


def utc_weekday(ms: int) -> int:
    """UTC weekday of an epoch-ms instant, 0 = Monday (1970-01-01 was a Thursday)."""
    return (ms // DAY_MS + 3) % 7
