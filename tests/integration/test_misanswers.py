"""Answers that are not answers never count: a window flipping between its truth and an empty or short page
leaves every counter at the truth, and a bare envelope or a redirect fails the sync instead of replacing data."""

from __future__ import annotations

import pytest

from cursor_exporter.timegrid import HOUR_MS

from .conftest import exposition
from .test_sync import WEDNESDAY_3PM, counters
from .truth import expected_usage, mismatches, parse

COUNTER_FAMILIES = {
    "cursor_usage_events_total",
    "cursor_usage_tokens_total",
    "cursor_usage_charged_usd_total",
    "cursor_usage_token_fee_usd_total",
    "cursor_usage_request_units_total",
    "cursor_user_usage_events_total",
    "cursor_user_tokens_total",
    "cursor_user_charged_usd_total",
}
COLLECTORS = ("spend", "usage")
REVISED = "cursor_usage_charged_revised_down_usd"


def counter_mismatches(team, series) -> list[str]:
    expected = {key: value for key, value in expected_usage(team.truth()).items() if key[0] in COUNTER_FAMILIES}
    return mismatches(series, expected, COUNTER_FAMILIES)


@pytest.fixture
def steady_team(make_team):
    from cursor_exporter.simulator import SimClock

    # No late events or revisions: the truth holds still, so any change is the misanswer's doing.
    return make_team(
        clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0),
        users=6,
        cycle_start_days_ago=1,
        late_arrivals=False,
        revisions=False,
    )


def test_a_window_flipping_between_its_truth_and_empty_or_short_pages_leaves_the_counters_at_the_truth(
    steady_team, tmp_path
):
    team = steady_team
    engine = team.engine(tmp_path, COLLECTORS)
    assert engine.run("spend") and engine.run("usage")
    truth = parse(exposition(engine))
    assert counter_mismatches(team, truth) == []
    flipped = 0
    for flip in range(20):
        if flip % 5 == 4:  # and across restarts
            engine = team.engine(tmp_path, COLLECTORS)
        team.sim.faults.inject("empty" if flip % 2 else "short")
        assert engine.run("usage")  # a self-consistent page: the exporter cannot tell it from the truth
        down = parse(exposition(engine))
        assert team.sim.faults.pending == 0
        flipped += any(value for (name, _), value in down.items() if name == REVISED)
        assert counters(down) == counters(truth)  # held at the hours' peaks: nothing fell
        assert engine.run("usage")
        back = parse(exposition(engine))
        assert counters(back) == counters(truth)  # and nothing rose again: no double count
        assert not any(value for (name, _), value in back.items() if name == REVISED)
    assert flipped == 20  # every misanswer did take stored usage away for a sync
    final = parse(exposition(team.engine(tmp_path, COLLECTORS)))
    assert counter_mismatches(team, final) == []


@pytest.mark.parametrize("kind", ["envelope", "redirect"])
def test_a_bare_envelope_or_a_redirect_fails_the_sync_and_replaces_nothing(steady_team, tmp_path, kind):
    team = steady_team
    engine = team.engine(tmp_path, COLLECTORS)
    assert engine.run("spend") and engine.run("usage")
    before = parse(exposition(engine))
    states = engine.source("usage").ledger.bucket_states(0)
    team.sim.faults.inject(kind)
    assert not engine.run("usage")
    after = parse(exposition(engine))
    assert after[("cursor_exporter_collector_success", frozenset({("collector", "usage")}))] == 0
    assert counters(after) == counters(before)
    assert {k: v for k, v in after.items() if k[0] == "cursor_usage_cycle_charged_usd"} == {
        k: v for k, v in before.items() if k[0] == "cursor_usage_cycle_charged_usd"
    }
    assert engine.source("usage").ledger.bucket_states(0) == states  # the window is still due
    team.clock.advance(HOUR_MS)
    assert engine.run("usage")
    assert counter_mismatches(team, parse(exposition(engine))) == []
