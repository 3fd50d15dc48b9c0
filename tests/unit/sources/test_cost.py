"""Source ``cost`` (derived): paid seats, cycle cost, cycle end, forecast and budgets."""

from types import MappingProxyType

from cursor_exporter.ledger.tally import HourCharge
from cursor_exporter.sources.base import BillingSettings
from cursor_exporter.sources.cost import (
    BILLING_CYCLE_END_TIMESTAMP_SECONDS,
    BUDGET_USD,
    CYCLE_COST_USD,
    FORECAST_CYCLE_CHARGED_USD,
    TEAM_PAID_SEATS,
    CostSource,
)
from cursor_exporter.sources.groups import GroupsReport
from cursor_exporter.sources.members import Member
from cursor_exporter.timegrid import DAY_MS, HOUR_MS
from tests.unit.sources.helpers import D, charged, expose, head, key, ledger_part, snapshot

START = 1_700_006_400_000  # 2023-11-15T00:00:00Z; one calendar month on (30 days) is 1702598400 s
# Three paid seats: the free-owner admin and the removed member hold none.
ROSTER = (
    Member(email="ann@x.io", role="owner"),
    Member(email="bob@x.io", role="member"),
    Member(email="cy@y.io", role="member"),
    Member(email="dee@x.io", role="free-owner"),
    Member(email="eve@x.io", role="member", is_removed=True),
)
SETTINGS = BillingSettings(
    seat_price_usd=D("39.99"),
    team_budget_usd=D("1000"),
    user_default_budget_usd=D("25.5"),
    group_budgets_usd=MappingProxyType({"platform": D("300"), "data": D("150")}),
)
# The cycle's 300 cents, of which 0.1 + 0.2 cents on demand, charged in its first two hours. The hours
# before the start and from the snapshot's instant on do not count.
USAGE = ledger_part(
    {},
    cycle={
        key("ann@x.io"): charged("0.1"),
        key("bob@x.io"): charged("0.2"),
        key("ann@x.io", kind="Included in Business"): charged("299.7"),
    },
    cycle_start_ms=START,
    hourly={
        START - HOUR_MS: HourCharge(D("1000"), D("1000")),
        START: HourCharge(D("100"), D("0.1")),
        START + HOUR_MS: HourCharge(D("200"), D("0.2")),
        START + 2 * DAY_MS: HourCharge(D("5000"), D("5000")),
    },
)
AS_OF = START + 2 * DAY_MS
BUDGETS = (
    head(BUDGET_USD)
    + 'cursor_budget_usd{name="team",scope="team"} 1000.0\n'
    + 'cursor_budget_usd{name="default",scope="user_default"} 25.5\n'
    + 'cursor_budget_usd{name="data",scope="group"} 150.0\n'
    + 'cursor_budget_usd{name="platform",scope="group"} 300.0\n'
)
SEATS_AND_COST = (
    head(TEAM_PAID_SEATS)
    + "cursor_team_paid_seats 3.0\n"
    + head(CYCLE_COST_USD)
    + 'cursor_cycle_cost_usd{component="seats"} 119.97\n'
    + 'cursor_cycle_cost_usd{component="usage"} 0.003\n'
)


def test_without_members_usage_or_settings_only_the_empty_cost_and_budget_families_remain():
    assert expose(CostSource, snapshot({})) == head(CYCLE_COST_USD) + head(BUDGET_USD)


def test_seats_times_price_on_demand_usage_a_month_long_cycle_its_forecast_and_budgets():
    snap = snapshot({"cost": SETTINGS, "members": ROSTER, "usage": USAGE}, as_of_ms=AS_OF)
    # Forecast: 300 cents so far at the cycle's own rate (2 days < 7) for the 28 days left:
    # 300 + 300 * 28 / 2 = 4500 cents; on demand 0.3 + 0.3 * 14 = 4.5 cents.
    assert expose(CostSource, snap) == (
        SEATS_AND_COST
        + head(BILLING_CYCLE_END_TIMESTAMP_SECONDS)
        + "cursor_billing_cycle_end_timestamp_seconds 1.7025984e+09\n"
        + head(FORECAST_CYCLE_CHARGED_USD)
        + 'cursor_forecast_cycle_charged_usd{charge="all"} 45.0\n'
        + 'cursor_forecast_cycle_charged_usd{charge="on_demand"} 0.045\n'
        + BUDGETS
    )


def test_the_cycle_end_cursor_reports_in_groups_wins_and_moves_the_forecast():
    groups = GroupsReport(cycle_start_ms=START, cycle_end_ms=START + 29 * DAY_MS, groups=())
    snap = snapshot({"cost": SETTINGS, "members": ROSTER, "usage": USAGE, "groups": groups}, as_of_ms=AS_OF)
    # 27 days left: 300 + 300 * 27 / 2 = 4350 cents; on demand 0.3 + 0.3 * 13.5 = 4.35 cents.
    assert expose(CostSource, snap) == (
        SEATS_AND_COST
        + head(BILLING_CYCLE_END_TIMESTAMP_SECONDS)
        + "cursor_billing_cycle_end_timestamp_seconds 1.702512e+09\n"
        + head(FORECAST_CYCLE_CHARGED_USD)
        + 'cursor_forecast_cycle_charged_usd{charge="all"} 43.5\n'
        + 'cursor_forecast_cycle_charged_usd{charge="on_demand"} 0.0435\n'
        + BUDGETS
    )


def test_in_a_cycle_older_than_a_week_the_forecast_rate_is_the_trailing_seven_days():
    usage = ledger_part(
        {},
        cycle={key("ann@x.io"): charged("0.8"), key("ann@x.io", kind="Included in Business"): charged("799.2")},
        cycle_start_ms=START,
        hourly={START: HourCharge(D("100"), D("0.1")), START + 5 * DAY_MS: HourCharge(D("700"), D("0.7"))},
    )
    snap = snapshot({"usage": usage}, as_of_ms=START + 10 * DAY_MS)
    # 800 cents so far; the week before day 10 holds 700 of them; 20 days left:
    # 800 + 700 * 20 / 7 = 2800 cents; on demand 0.8 + 0.7 * 20 / 7 = 2.8 cents.
    assert expose(CostSource, snap) == (
        head(CYCLE_COST_USD)
        + 'cursor_cycle_cost_usd{component="usage"} 0.008\n'
        + head(BILLING_CYCLE_END_TIMESTAMP_SECONDS)
        + "cursor_billing_cycle_end_timestamp_seconds 1.7025984e+09\n"
        + head(FORECAST_CYCLE_CHARGED_USD)
        + 'cursor_forecast_cycle_charged_usd{charge="all"} 28.0\n'
        + 'cursor_forecast_cycle_charged_usd{charge="on_demand"} 0.028\n'
        + head(BUDGET_USD)
    )


def test_seats_without_a_price_cost_nothing_and_usage_without_a_cycle_start_has_no_end_or_forecast():
    usage = ledger_part({}, cycle={key("ann@x.io"): charged("0.1"), key("bob@x.io", kind="Included"): charged("5")})
    snap = snapshot({"members": ROSTER, "usage": usage}, as_of_ms=AS_OF)
    assert expose(CostSource, snap) == (
        head(TEAM_PAID_SEATS)
        + "cursor_team_paid_seats 3.0\n"
        + head(CYCLE_COST_USD)
        + 'cursor_cycle_cost_usd{component="usage"} 0.001\n'
        + head(BUDGET_USD)
    )
