"""Date formatting and the relative/ISO date parameters of the GET routes (AI Code Tracking)."""

from __future__ import annotations

import datetime as dt
import re

DAY_MS = 86_400_000

_RELATIVE = re.compile(r"^(\d+)d$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso(ms: int) -> str:
    """Epoch ms as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day_string(ms: int) -> str:
    """Epoch ms as the UTC ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%d")


def parse_query_date(text: str, now_ms: int, end_of_day: bool) -> int:
    """A ``startDate``/``endDate`` query value as epoch ms.

    Accepts ``now``, ``today``, ``yesterday``, ``<n>d`` (n days before now), ``YYYY-MM-DD``
    (00:00 UTC, or 23:59:59.999 UTC when ``end_of_day``), ISO 8601 date-times and
    (leniently) epoch milliseconds. Raises ``ValueError`` on anything else.
    """
    text = text.strip()
    today = now_ms // DAY_MS * DAY_MS
    if text == "now":
        return now_ms
    if text in ("today", "yesterday"):
        day = today if text == "today" else today - DAY_MS
        return min(now_ms, day + DAY_MS - 1) if end_of_day else day
    match = _RELATIVE.match(text)
    if match:
        return now_ms - int(match.group(1)) * DAY_MS
    if text.isdigit():
        return int(text)
    if _DATE.match(text):
        day = int(dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp() * 1000)
        return day + DAY_MS - 1 if end_of_day else day
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
