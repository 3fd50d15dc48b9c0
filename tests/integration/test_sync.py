"""The exporter against the simulator: exact truth, idempotent re-fetches, late data, revisions, restarts."""

from __future__ import annotations

import math
from dataclasses import replace

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import HOUR_MS

from .conftest import exposition, sync_all
from .truth import expected_spend_and_members, expected_usage, mismatches, parse

USAGE_FAMILIES = {
    "cursor_usage_events_total",
    "cursor_usage_tokens_total",
    "cursor_usage_charged_usd_total",
    "cursor_usage_token_fee_usd_total",
    "cursor_usage_request_units_total",
    "cursor_usage_cycle_charged_usd",
    "cursor_user_usage_events_total",
    "cursor_user_tokens_total",
    "cursor_user_charged_usd_total",
    "cursor_user_cycle_charged_usd",
}
SPEND_MEMBER_FAMILIES = {
    "cursor_billing_cycle_start_timestamp_seconds",
    "cursor_team_spend_usd",
    "cursor_team_overall_spend_usd",
    "cursor_user_spend_usd",
    "cursor_user_overall_spend_usd",
    "cursor_user_spend_limit_usd",
    "cursor_team_members",
    "cursor_team_removed_members",
}
EVENTS = "/teams/filtered-usage-events"
WEDNESDAY_3PM = 1795014000000  # 2026-11-18T15:00Z, a busy hour of a working day


def counters(series):
    """The usage counters (the exporter's own request counters rise with every sync)."""
    return {key: value for key, value in series.items() if key[0].endswith("_total") and key[0] in USAGE_FAMILIES}


def test_first_sync_exports_exactly_the_simulators_truth(make_team, tmp_path):
    team = make_team(users=12, cycle_start_days_ago=9)
    engine = team.engine(tmp_path)
    sync_all(engine)
    actual = parse(exposition(engine))
    truth = team.truth()
    expected = expected_usage(truth) | expected_spend_and_members(truth)
    assert mismatches(actual, expected, USAGE_FAMILIES | SPEND_MEMBER_FAMILIES) == []
    assert actual[("cursor_exporter_collector_success", frozenset({"collector": "usage"}.items()))] == 1


def test_first_sync_makes_exactly_the_calls_its_windows_require(make_team, tmp_path):
    team = make_team(users=12, cycle_start_days_ago=5)
    engine = team.engine(tmp_path)
    engine.run("spend")
    before = sum(1 for path, _ in team.sim.request_log if path == EVENTS)
    sync_end = team.clock.now_ms() - 60_000
    assert engine.run("usage")
    made = sum(1 for path, _ in team.sim.request_log if path == EVENTS) - before
    cycle_start = team.truth()["cycleStart"]
    required = 0
    start = cycle_start
    while start <= sync_end:  # 24-hour windows from the cycle start, the last ending at sync_end
        end = min(start + 24 * HOUR_MS - 1, sync_end)
        events = sum(row["events"] for row in team.sim.truth(start, end)["usage"])
        required += max(1, math.ceil(events / 1000))
        start = end + 1
    assert made == required
    status = {s.name: s for s in engine.snapshot().statuses}["usage"]
    assert status.last_api_requests == made


def test_refetch_is_idempotent_and_late_events_and_revisions_are_caught(make_team, tmp_path):
    team = make_team(
        clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=25, cycle_start_days_ago=2, events_per_user_per_day=80
    )
    engine = team.engine(tmp_path)
    sync_all(engine)
    first = parse(exposition(engine))
    assert engine.run("usage")
    assert counters(parse(exposition(engine))) == counters(first)  # same data, same counters

    revised_any = False
    for _ in range(6):  # late arrivals and revisions land as the clock moves
        team.clock.advance(2 * HOUR_MS)
        previous = parse(exposition(engine))
        sync_all(engine)
        now = parse(exposition(engine))
        truth = team.truth()
        expected_cycle = expected_usage(truth, counters=False)
        assert (
            mismatches(now, expected_cycle, {"cursor_usage_cycle_charged_usd", "cursor_user_cycle_charged_usd"}) == []
        )
        assert mismatches(now, expected_spend_and_members(truth), SPEND_MEMBER_FAMILIES) == []
        for key, value in counters(previous).items():
            assert now.get(key, 0) >= value, f"counter {key} decreased"
        # Counters minus the downward revisions they could not follow are Cursor's figures.
        revised = {
            labels: value for (name, labels), value in now.items() if name == "cursor_usage_charged_revised_down_usd"
        }
        revised_any = revised_any or any(revised.values())
        for (name, labels), value in expected_usage(truth, cycle=False).items():
            if name == "cursor_usage_charged_usd_total":
                assert math.isclose(now[(name, labels)] - revised.get(labels, 0), value, rel_tol=1e-12, abs_tol=1e-9)
            elif name != "cursor_user_charged_usd_total":
                assert now[(name, labels)] == value, name
    assert revised_any, "the simulator should have revised some costs downwards in 12 hours"


def test_restart_serves_the_same_values_without_calling_the_api(make_team, tmp_path):
    team = make_team(users=8, cycle_start_days_ago=3)
    first = team.engine(tmp_path)
    sync_all(first)
    before = parse(exposition(first))
    calls = len(team.sim.request_log)
    restarted = team.engine(tmp_path)
    assert restarted.ready
    after = parse(exposition(restarted))
    assert len(team.sim.request_log) == calls
    data = USAGE_FAMILIES | SPEND_MEMBER_FAMILIES
    assert {k: v for k, v in after.items() if k[0] in data} == {k: v for k, v in before.items() if k[0] in data}


def test_hashed_and_absent_user_labels(make_team, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=2)
    engine = team.engine(tmp_path)
    sync_all(engine)
    emails = {row["email"] for row in team.truth()["users"]}
    hashed = exposition(engine, LabelPolicy("hash", b"0123456789abcdef-secret"))
    assert not any(email in hashed for email in emails)
    hashed_users = {
        dict(labels).get("user") for (name, labels) in parse(hashed) if name == "cursor_user_charged_usd_total"
    }
    assert len(hashed_users) == len(emails)
    assert all(len(user) == 16 for user in hashed_users)
    none = exposition(engine, LabelPolicy("none"))
    assert "user=" not in none
    assert "cursor_usage_charged_usd_total" in none


def test_faults_are_retried_and_never_reach_the_ledger(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=2, rate_limit_period_s=1)
    engine = team.engine(tmp_path, backoff_base=0.01, backoff_cap=0.05)
    for kind in ("500", "503", "truncate", "429"):
        team.sim.faults.inject(kind, count=1)
    # The simulator's Retry-After is its rate-limit period: 1 s here, to keep the test quick.
    sync_all(engine)
    truth = team.truth()
    actual = parse(exposition(engine))
    assert mismatches(actual, expected_usage(truth) | expected_spend_and_members(truth), USAGE_FAMILIES) == []
    codes = {dict(labels)["code"] for (name, labels) in actual if name == "cursor_exporter_api_requests_total"}
    assert {"500", "503", "429", "200"} <= codes


def test_a_window_that_changes_while_paged_is_scanned_again(make_team, tmp_path):
    team = make_team(
        clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=30, cycle_start_days_ago=1, events_per_user_per_day=80
    )
    engine = team.engine(tmp_path)
    engine.run("spend")
    scan_end = team.clock.now_ms() - 60_000
    scanner = engine.source("usage").scanner
    original = scanner.page
    moved = []

    def page_then_move_clock(window, page):
        result = original(window, page)
        if page == 1 and window.end_ms == scan_end and result.has_next_page and not moved:
            team.clock.advance(40 * 60_000)  # late events become visible between page 1 and page 2
            moved.append(True)
        return result

    scanner.page = page_then_move_clock
    assert engine.run("usage")
    snapshot = engine.snapshot()
    assert snapshot.windows_inconsistent >= 1
    truth = team.truth(end_ms=scan_end)
    truth_at_scan = {(r["model"], r["kind"], r["maxMode"], r["source"]): r["events"] for r in truth["usage"]}
    exported = {
        (labels["model"], labels["kind"], labels["max_mode"] == "true", labels["source"]): value
        for (name, frozen), value in parse(exposition(engine)).items()
        if name == "cursor_usage_events_total"
        for labels in [dict(frozen)]
    }
    assert exported == truth_at_scan


def test_a_team_too_large_for_day_windows_is_fetched_in_shorter_ones_exactly(make_team, tmp_path, monkeypatch):
    # 12 seats stand in for 10,000: windows hold 60 events at most, sized first by the team, then by measure.
    monkeypatch.setattr("cursor_exporter.sources.usage_ledger.MAX_EVENTS_PER_WINDOW", 60)
    team = make_team(users=12, cycle_start_days_ago=5)
    engine = team.engine(tmp_path)
    sync_all(engine)
    truth = team.truth()
    assert mismatches(parse(exposition(engine)), expected_usage(truth), USAGE_FAMILIES) == []
    usage = engine.sources["usage"]
    assert usage.window_hours() < 24  # the busiest hours measured hold more than 60 / 24 events
    made = sum(1 for path, _ in team.sim.request_log if path == EVENTS)
    days = 6  # the cycle's 5 days and today: a day window each, and a page more per 1,000 events at most
    assert made > days + sum(row["events"] for row in truth["usage"]) // 1000


def test_a_window_that_never_holds_still_is_fetched_in_halves_down_to_hours(make_team, tmp_path):
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=12, cycle_start_days_ago=1)
    engine = team.engine(tmp_path)
    engine.run("spend")
    scanner = engine.source("usage").scanner
    original = scanner.page
    scanned = []

    def churning(window, page):
        """Every window of more than 3 hours reports another total on each page: it never holds still."""
        result = original(window, page)
        scanned.append(len(window.hours))
        return replace(result, total=result.total + page) if len(window.hours) > 3 else result

    scanner.page = churning
    assert engine.run("usage")
    truth = team.truth(end_ms=team.clock.now_ms() - 60_000)
    assert mismatches(parse(exposition(engine)), expected_usage(truth), USAGE_FAMILIES) == []
    assert max(scanned) > 3 and min(scanned) <= 3  # the long windows failed and their halves made it
