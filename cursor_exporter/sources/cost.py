"""Cost families: seats, cycle cost (seats + usage), cycle end, budgets and the cycle-end forecast."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from prometheus_client.core import Metric

from cursor_exporter.billing import cycle_end_ms, forecast_cycle_charge, paid_seats
from cursor_exporter.labels import LabelPolicy
from cursor_exporter.ledger import ON_DEMAND_KIND
from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``cost`` collector (derived from the others; no API calls of its own)."""
    billing = snapshot.billing
    seats = paid_seats(snapshot.members) if snapshot.members is not None else None
    if seats is not None:
        family = BY_NAME["cursor_team_paid_seats"].new()
        family.add_metric((), seats)
        yield family
    cost = BY_NAME["cursor_cycle_cost_usd"].new()
    if seats is not None and billing.seat_price_usd is not None:
        cost.add_metric(("seats",), float(seats * billing.seat_price_usd))
    usage = snapshot.usage
    if usage is not None:
        on_demand = sum((t.charged_cents for k, t in usage.cycle.items() if k.kind == ON_DEMAND_KIND), Decimal(0))
        cost.add_metric(("usage",), dollars(on_demand))
    yield cost

    budgets = BY_NAME["cursor_budget_usd"].new()
    if billing.team_budget_usd is not None:
        budgets.add_metric(("team", "team"), float(billing.team_budget_usd))
    if billing.user_default_budget_usd is not None:
        budgets.add_metric(("user_default", "default"), float(billing.user_default_budget_usd))
    for name, amount in sorted(billing.group_budgets_usd.items()):
        budgets.add_metric(("group", name), float(amount))
    yield budgets

    start = usage.cycle_start_ms if usage is not None else None
    if start is None:
        return
    end = cycle_end_ms(start, snapshot.groups.cycle_end_ms if snapshot.groups else None)
    end_family = BY_NAME["cursor_billing_cycle_end_timestamp_seconds"].new()
    end_family.add_metric((), end / 1000)
    forecast = forecast_cycle_charge(usage.cycle_hourly, start, end, snapshot.as_of_ms)
    forecast_family = BY_NAME["cursor_forecast_cycle_charged_usd"].new()
    forecast_family.add_metric(("all",), dollars(forecast.all))
    forecast_family.add_metric(("on_demand",), dollars(forecast.on_demand))
    yield from (end_family, forecast_family)
