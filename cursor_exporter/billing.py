"""Billing arithmetic: the cycle end, seat cost and the cycle-end spend forecast.

Forecast method (back-tested in ``docs/forecast.md``): charged money so far in the cycle, plus the
average hourly rate of the trailing seven days (or of the cycle so far, when it is younger) times the
hours left. Seven days so that a weekend weighs as much as it will; a straight line, because spend
within a month shows no trend that a short history could estimate reliably.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from cursor_exporter.ledger import HourCharge
from cursor_exporter.records import Member

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TRAILING_MS = 7 * DAY_MS
UNPAID_ROLES = frozenset({"free-owner"})


def add_one_month(start_ms: int) -> int:
    """The same day and time one calendar month later (clamped to the month's last day)."""
    start = datetime.fromtimestamp(start_ms / 1000, UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp() * 1000)


def cycle_end_ms(cycle_start_ms: int, reported_end_ms: int | None) -> int:
    """Cursor's reported cycle end (``/teams/groups``) when known, else one calendar month after the start."""
    return reported_end_ms if reported_end_ms is not None else add_one_month(cycle_start_ms)


def paid_seats(members: Iterable[Member]) -> int:
    """Current members who occupy a paid seat (removed members and ``free-owner`` admins do not)."""
    return sum(1 for member in members if not member.is_removed and member.role not in UNPAID_ROLES)


def forecast_cycle_charge(
    hourly: Mapping[int, HourCharge], cycle_start_ms: int, cycle_end_ms: int, as_of_ms: int
) -> HourCharge:
    """Forecast of the charged money (all, and on-demand) at the cycle end, from hourly charges so far."""
    hours = {hour: charge for hour, charge in hourly.items() if cycle_start_ms <= hour < as_of_ms}
    spent = HourCharge(
        sum((c.all for c in hours.values()), Decimal(0)), sum((c.on_demand for c in hours.values()), Decimal(0))
    )
    elapsed = max(as_of_ms - cycle_start_ms, HOUR_MS)
    window = min(TRAILING_MS, elapsed)
    recent = [charge for hour, charge in hours.items() if hour >= as_of_ms - window]
    remaining = Decimal(max(cycle_end_ms - as_of_ms, 0))
    return HourCharge(
        spent.all + sum((c.all for c in recent), Decimal(0)) * remaining / window,
        spent.on_demand + sum((c.on_demand for c in recent), Decimal(0)) * remaining / window,
    )
