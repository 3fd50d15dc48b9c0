"""A billing-cycle rollover while the exporter runs: the cycle gauges follow at the spend sync that sees it."""

from __future__ import annotations

from cursor_exporter.timegrid import DAY_MS

from .conftest import published_engine
from .test_sync import counters
from .truth import expected_usage, mismatches, parse

CYCLE_FAMILIES = {"cursor_usage_cycle_charged_usd", "cursor_user_cycle_charged_usd"}


def total(series, name: str) -> float:
    return sum(value for (sample, _), value in series.items() if sample == name)


def test_a_rollover_resets_the_cycle_gauges_at_the_spend_sync_and_no_counter_falls(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=29)
    engine, cache = published_engine(team, tmp_path, ("spend", "members", "usage"))
    for name in ("spend", "members", "usage"):
        assert engine.run(name)
    before = parse(cache.rendered.text.decode())
    old_start = team.sim.truth()["cycleStart"]
    assert total(before, "cursor_usage_cycle_charged_usd") > 0

    team.clock.advance(2 * DAY_MS)  # past the end of the 30-day cycle
    new_start = team.sim.truth()["cycleStart"]
    assert new_start == old_start + 30 * DAY_MS
    assert engine.run("spend")
    rolled = parse(cache.rendered.text.decode())
    assert rolled[("cursor_billing_cycle_start_timestamp_seconds", frozenset())] == new_start / 1000
    # The ledger holds no hour of the new cycle yet: every cycle gauge drops to nothing at once.
    assert total(rolled, "cursor_usage_cycle_charged_usd") == 0
    assert total(rolled, "cursor_user_cycle_charged_usd") == 0
    assert rolled[("cursor_cycle_cost_usd", frozenset({"component": "usage"}.items()))] == 0
    assert counters(rolled) == counters(before)  # the counters do not move with the cycle

    assert engine.run("usage")
    synced = parse(cache.rendered.text.decode())
    truth = team.truth(start_ms=new_start)
    assert mismatches(synced, expected_usage(truth, counters=False), CYCLE_FAMILIES) == []
    for key, value in counters(before).items():
        assert synced.get(key, 0) >= value, key
