"""Date formatting and the relative/ISO date parameters of the GET routes (AI code, audit logs)."""

from __future__ import annotations

import datetime as dt
import re

from .units import DAY_MS, HOUR_MS

RELATIVE_UNITS_MS = {"d": DAY_MS, "h": HOUR_MS, "s": 1000}
UNIX_MS_FROM = 100_000_000_000  # smaller numbers are Unix seconds where those are accepted (year 5138 in s)

_RELATIVE = re.compile(r"^(\d+)([dhs])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso(ms: int) -> str:
    """Epoch ms as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day_string(ms: int) -> str:
    """Epoch ms as the UTC ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%d")


def parse_query_date(
    text: str, now_ms: int, end_of_day: bool = False, relative_units: str = "d", unix_seconds: bool = False
) -> int:
    """A date query value (AI Code Tracking ``startDate``/``endDate``, audit ``startTime``/``endTime``) as epoch ms.

    Accepts ``now``, ``today``, ``yesterday``, ``<n><unit>`` (n units before now, units among
    ``relative_units`` of ``d``/``h``/``s``), ``YYYY-MM-DD`` (00:00 UTC, or 23:59:59.999 UTC when
    ``end_of_day``), ISO 8601 date-times (naive ones in UTC) and digits: epoch milliseconds, or
    with ``unix_seconds`` epoch seconds below :data:`UNIX_MS_FROM`. ``today``/``yesterday`` are
    00:00 UTC, or with ``end_of_day`` the day's last millisecond (never after now).
    Raises ``ValueError`` on anything else.
    """
    text = text.strip()
    today = now_ms // DAY_MS * DAY_MS
    if text == "now":
        return now_ms
    if text in ("today", "yesterday"):
        day = today if text == "today" else today - DAY_MS
        return min(now_ms, day + DAY_MS - 1) if end_of_day else day
    match = _RELATIVE.match(text)
    if match and match.group(2) in relative_units:
        return now_ms - int(match.group(1)) * RELATIVE_UNITS_MS[match.group(2)]
    if text.isdigit():
        value = int(text)
        return value * 1000 if unix_seconds and value < UNIX_MS_FROM else value
    if _DATE.match(text):
        day = int(dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp() * 1000)
        return day + DAY_MS - 1 if end_of_day else day
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
