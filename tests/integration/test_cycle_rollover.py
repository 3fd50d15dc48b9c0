"""Period boundaries at any millisecond: billing cycles and the organization's period, before and after a
rollover while the exporter runs, and after a restart, each compared with the simulator's truth."""

from __future__ import annotations

import pytest

from cursor_exporter.output.landing import instant
from cursor_exporter.timegrid import DAY_MS, HOUR_MS

from .conftest import END_DELAY_S, exposition, published_engine
from .test_sync import counters
from .truth import expected_org_usage, expected_usage, mismatches, parse

CYCLE_FAMILIES = {"cursor_usage_cycle_charged_usd", "cursor_user_cycle_charged_usd"}
ORG_PERIOD_FAMILIES = {"cursor_org_usage_contract_charged_usd", "cursor_org_user_contract_charged_usd"}
ORG_KEY = "org_key_for_tests"
ORG_COLLECTORS = ("spend", "members", "usage", "org", "org_usage")
# HH:00:00.000, HH:00:00.001, HH:17:23.456 and HH:59:59.999
OFFSETS = (0, 1, 17 * 60_000 + 23_456, HOUR_MS - 1)


def total(series, name: str) -> float:
    return sum(value for (sample, _), value in series.items() if sample == name)


def cycle_mismatches(team, series, start_ms: int) -> list[str]:
    return mismatches(series, expected_usage(team.truth(start_ms=start_ms), counters=False), CYCLE_FAMILIES)


def org_mismatches(team, series, start_ms: int) -> list[str]:
    truth = team.sim.truth_org(start_ms=start_ms, end_ms=team.clock.now_ms() - END_DELAY_S * 1000)
    expected = {key: value for key, value in expected_org_usage(truth).items() if key[0] in ORG_PERIOD_FAMILIES}
    return mismatches(series, expected, ORG_PERIOD_FAMILIES)


def never_fell(before, after) -> list[str]:
    return [
        f"{key}: {value} -> {after.get(key, 0)}" for key, value in counters(before).items() if after.get(key, 0) < value
    ]


@pytest.mark.parametrize("offset", OFFSETS, ids=["HH:00:00.000", "HH:00:00.001", "HH:17:23.456", "HH:59:59.999"])
def test_period_gauges_are_exact_to_the_millisecond_through_a_rollover_and_a_restart(make_team, tmp_path, offset):
    team = make_team(
        users=4,
        cycle_start_days_ago=29,
        cycle_start_offset_ms=offset,
        boundary_events=True,
        enterprise=True,
        org_api_key=ORG_KEY,
        org_team_users=3,
        org_contract_dates=False,  # the organization's period is then the billing cycle: it rolls over too
    )
    old_start = team.sim.truth()["cycleStart"]
    assert old_start % DAY_MS == offset
    # Events on both sides of the start, in the same millisecond and hour: the gauges must split them.
    assert team.truth(start_ms=old_start - 1, end_ms=old_start - 1)["usage"]
    assert team.truth(start_ms=old_start, end_ms=old_start)["usage"]
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)
    for name in ORG_COLLECTORS:
        assert engine.run(name), name
    for _ in range(4):  # the organization's 29 days are backfilled a week per sync
        assert engine.run("org_usage")
    before = parse(exposition(engine))
    assert total(before, "cursor_usage_cycle_charged_usd") > 0
    assert cycle_mismatches(team, before, old_start) == []
    assert org_mismatches(team, before, old_start) == []

    team.clock.advance(2 * DAY_MS)  # past the end of the 30-day cycle
    new_start = team.sim.truth()["cycleStart"]
    assert new_start == old_start + 30 * DAY_MS
    assert team.truth(start_ms=new_start - 1, end_ms=new_start)["usage"]
    assert engine.run("spend")  # the sync that sees the new start: usage follows it at once
    rolled = parse(exposition(engine))
    assert rolled[("cursor_billing_cycle_start_timestamp_seconds", frozenset())] == new_start / 1000
    assert cycle_mismatches(team, rolled, new_start) == []
    assert never_fell(before, rolled) == []
    assert engine.run("org") and engine.run("org_usage")
    rolled = parse(exposition(engine))
    assert org_mismatches(team, rolled, new_start) == []
    assert never_fell(before, rolled) == []

    requests = len(team.sim.request_log)
    restarted = parse(exposition(team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)))
    assert len(team.sim.request_log) == requests  # served from the ledger, without an API call
    assert cycle_mismatches(team, restarted, new_start) == []
    assert org_mismatches(team, restarted, new_start) == []
    assert counters(restarted) == counters(rolled)


def test_a_rollover_is_shown_whole_at_the_first_publish_after_the_spend_sync(make_team, tmp_path):
    team = make_team(users=5, cycle_start_days_ago=29, cycle_start_offset_ms=17 * 60_000 + 23_456)
    engine, cache = published_engine(team, tmp_path, ("spend", "members", "usage"))
    for name in ("spend", "members", "usage"):
        assert engine.run(name)
    before = parse(cache.rendered.text.decode())
    team.clock.advance(2 * DAY_MS)
    new_start = team.sim.truth()["cycleStart"]
    assert engine.run("spend")
    rolled = parse(cache.rendered.text.decode())
    assert rolled[("cursor_billing_cycle_start_timestamp_seconds", frozenset())] == new_start / 1000
    assert instant(new_start).endswith(":23.456 UTC") and instant(new_start).encode() in cache.landing_page
    assert cycle_mismatches(team, rolled, new_start) == []
    usage_cost = rolled[("cursor_cycle_cost_usd", frozenset({"component": "usage"}.items()))]
    on_demand = sum(
        value
        for (name, labels), value in rolled.items()
        if name == "cursor_usage_cycle_charged_usd" and dict(labels)["kind"] == "Usage-based"
    )
    assert usage_cost == pytest.approx(on_demand, abs=1e-9)  # the cost source follows the same sums
    assert never_fell(before, rolled) == []
