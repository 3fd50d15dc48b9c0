"""Source ``cost`` (derived, no API calls): seat cost, cycle cost (seats + on-demand usage), the cycle
end, budgets and the cycle-end spend forecast, from the members, usage and groups parts.

Forecast method (back-tested in ``docs/forecast.md``): charged money so far in the cycle, plus the
average hourly rate of the trailing seven days (or of the cycle so far, when it is younger) times the
hours left. Seven days so that a weekend weighs as much as it will; a straight line, because spend
within a month shows no trend that a short history could estimate reliably.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client.core import Metric

from cursor_exporter.ledger.tally import HourCharge
from cursor_exporter.money import dollars, is_on_demand, sum_cents
from cursor_exporter.sources.base import BillingSettings, Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.members import Member
from cursor_exporter.timegrid import DAY_MS, HOUR_MS

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
    spent = HourCharge(sum_cents(c.all for c in hours.values()), sum_cents(c.on_demand for c in hours.values()))
    elapsed = max(as_of_ms - cycle_start_ms, HOUR_MS)
    window = min(TRAILING_MS, elapsed)
    recent = [charge for hour, charge in hours.items() if hour >= as_of_ms - window]
    remaining = Decimal(max(cycle_end_ms - as_of_ms, 0))
    return HourCharge(
        spent.all + sum_cents(c.all for c in recent) * remaining / window,
        spent.on_demand + sum_cents(c.on_demand for c in recent) * remaining / window,
    )


TEAM_PAID_SEATS = Family(
    "cursor_team_paid_seats",
    "gauge",
    (),
    "Paid seats: current members except free-owner admins.",
    "/teams/members: role, isRemoved",
)

CYCLE_COST_USD = Family(
    "cursor_cycle_cost_usd",
    "gauge",
    ("component",),
    "Cost of the current billing cycle in US dollars: component seats (paid seats x seat price) or "
    "usage (on-demand charged money).",
    "/teams/members and usage events",
)

BILLING_CYCLE_END_TIMESTAMP_SECONDS = Family(
    "cursor_billing_cycle_end_timestamp_seconds",
    "gauge",
    (),
    "End of the current billing cycle, Unix seconds: Cursor's figure with billing groups, else a "
    "calendar month after the start.",
    "/teams/groups or /teams/spend",
)

FORECAST_CYCLE_CHARGED_USD = Family(
    "cursor_forecast_cycle_charged_usd",
    "gauge",
    ("charge",),
    "Forecast of the money charged by the cycle end in US dollars, charge all or on_demand: so far "
    "plus the trailing 7-day rate.",
    "the usage ledger",
)

BUDGET_USD = Family(
    "cursor_budget_usd",
    "gauge",
    ("scope", "name"),
    "Configured budget per billing cycle in US dollars; scope team, group or user_default.",
    "the exporter's configuration (--budget.*)",
)


class CostSource(Source):
    """Seats, cycle cost, cycle end, budgets and forecast; the configured prices and budgets are its state."""

    name = "cost"
    order = 80
    reads = ("members", "usage", "groups")
    help = "Seat cost, cycle cost, cycle end, budgets and forecast."
    families = (
        TEAM_PAID_SEATS,
        CYCLE_COST_USD,
        BILLING_CYCLE_END_TIMESTAMP_SECONDS,
        FORECAST_CYCLE_CHARGED_USD,
        BUDGET_USD,
    )

    def state(self) -> BillingSettings:
        return self.context.options.billing

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        billing: BillingSettings = snapshot.part(cls.name) or BillingSettings()
        members = snapshot.part("members")
        seats = paid_seats(members) if members is not None else None
        if seats is not None:
            family = TEAM_PAID_SEATS.new()
            family.add_metric((), seats)
            yield family
        cost = CYCLE_COST_USD.new()
        if seats is not None and billing.seat_price_usd is not None:
            cost.add_metric(("seats",), float(seats * billing.seat_price_usd))
        usage = snapshot.part("usage")
        if usage is not None:
            on_demand = sum_cents(t.charged_cents for k, t in usage.view.cycle.items() if is_on_demand(k.kind))
            cost.add_metric(("usage",), dollars(on_demand))
        yield cost

        start = usage.view.cycle_start_ms if usage is not None else None
        if start is not None:
            groups = snapshot.part("groups")
            end = cycle_end_ms(start, groups.cycle_end_ms if groups is not None else None)
            end_family = BILLING_CYCLE_END_TIMESTAMP_SECONDS.new()
            end_family.add_metric((), end / 1000)
            forecast = forecast_cycle_charge(usage.view.cycle_hourly, start, end, snapshot.as_of_ms)
            forecast_family = FORECAST_CYCLE_CHARGED_USD.new()
            forecast_family.add_metric(("all",), dollars(forecast.all))
            forecast_family.add_metric(("on_demand",), dollars(forecast.on_demand))
            yield from (end_family, forecast_family)

        budgets = BUDGET_USD.new()
        if billing.team_budget_usd is not None:
            budgets.add_metric(("team", "team"), float(billing.team_budget_usd))
        if billing.user_default_budget_usd is not None:
            budgets.add_metric(("user_default", "default"), float(billing.user_default_budget_usd))
        for name, amount in sorted(billing.group_budgets_usd.items()):
            budgets.add_metric(("group", name), float(amount))
        yield budgets
