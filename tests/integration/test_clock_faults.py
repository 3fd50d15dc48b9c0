"""A host clock that runs ahead during the first sync, then is set right, loses no usage."""

from __future__ import annotations

from cursor_exporter.simulator import SimClock
from cursor_exporter.timegrid import DAY_MS, HOUR_MS

from .conftest import build_engine, exposition
from .test_sync import WEDNESDAY_3PM, counters
from .truth import expected_usage, mismatches, parse

USAGE_FAMILIES = {
    "cursor_usage_events_total",
    "cursor_usage_charged_usd_total",
    "cursor_usage_cycle_charged_usd",
    "cursor_user_charged_usd_total",
    "cursor_user_cycle_charged_usd",
}


def test_a_clock_three_days_ahead_during_the_first_sync_then_corrected_loses_no_usage(make_team, tmp_path):
    # Late events on, cost revisions off: a revision would hold a counter above the truth, by design.
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=6, cycle_start_days_ago=4, revisions=False)
    skew = {"ms": 3 * DAY_MS}  # a wrong RTC before NTP has synced

    def host_clock() -> int:
        return team.clock.now_ms() + skew["ms"]

    engine, closing = build_engine(team.url, team.sim.config.api_key, tmp_path, ("spend", "usage"), host_clock)
    try:
        assert engine.run("spend") and engine.run("usage")
        ahead = parse(exposition(engine))
        skew["ms"] = 0
        team.clock.advance(6 * HOUR_MS)  # events land in hours the skewed sync believed settled
        assert engine.run("usage")
        corrected = parse(exposition(engine))
    finally:
        for closable in closing:
            closable.close()
    assert [key for key, value in counters(ahead).items() if corrected.get(key, 0) < value] == []
    truth = team.truth()
    assert truth["usage"], "the simulator should have usage in the cycle"
    expected = {key: value for key, value in expected_usage(truth).items() if key[0] in USAGE_FAMILIES}
    assert mismatches(corrected, expected, USAGE_FAMILIES) == []
