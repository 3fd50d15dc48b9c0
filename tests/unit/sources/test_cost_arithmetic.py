from datetime import UTC, datetime
from decimal import Decimal

from cursor_exporter.ledger.tally import HourCharge
from cursor_exporter.sources.cost import add_one_month, cycle_end_ms, forecast_cycle_charge, paid_seats
from cursor_exporter.sources.members import Member
from cursor_exporter.timegrid import DAY_MS, HOUR_MS


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_cycle_end_is_cursors_figure_or_one_calendar_month_later():
    assert add_one_month(ms("2026-01-31T00:00:00")) == ms("2026-02-28T00:00:00")
    assert add_one_month(ms("2026-12-15T08:00:00")) == ms("2027-01-15T08:00:00")
    assert cycle_end_ms(ms("2026-03-01T00:00:00"), None) == ms("2026-04-01T00:00:00")
    assert cycle_end_ms(ms("2026-03-01T00:00:00"), 123) == 123


def test_forecast_adds_the_trailing_week_rate_times_the_time_left():
    start = ms("2026-03-01T00:00:00")
    end = start + 30 * DAY_MS
    hourly = {start + h * HOUR_MS: HourCharge(Decimal("2"), Decimal("1")) for h in range(14 * 24)}
    forecast = forecast_cycle_charge(hourly, start, end, start + 14 * DAY_MS)
    # 336 hours at 2 cents so far, and the same rate for the 384 hours left.
    assert forecast == HourCharge(Decimal(2 * 720), Decimal(720))


def test_forecast_in_a_young_cycle_uses_the_cycle_so_far_and_ignores_older_hours():
    start = ms("2026-03-01T00:00:00")
    hourly = {start - HOUR_MS: HourCharge(Decimal(1000), Decimal(1000)), start: HourCharge(Decimal(3), Decimal(0))}
    forecast = forecast_cycle_charge(hourly, start, start + 10 * HOUR_MS, start + HOUR_MS)
    assert forecast == HourCharge(Decimal(30), Decimal(0))


def test_free_owners_and_removed_members_hold_no_paid_seat():
    members = [
        Member(email="a@x", role="owner"),
        Member(email="b@x", role="member"),
        Member(email="c@x", role="free-owner"),
        Member(email="d@x", role="member", is_removed=True),
    ]
    assert paid_seats(members) == 2
