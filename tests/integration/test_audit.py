"""The audit-log source against the simulator: counts by event id, idempotent, restart-safe, gated on 403."""

from __future__ import annotations

import logging

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.audit import FIRST_LOOKBACK_MS, NO_APPLICATION
from cursor_exporter.timegrid import HOUR_MS

from .conftest import END_DELAY_S, exposition
from .test_sync import WEDNESDAY_3PM
from .truth import parse

AUDIT = "cursor_audit_events_total"
AUDIT_PATH = "/teams/audit-logs"


def expected_counts(team, first_start_ms: int) -> dict[frozenset, float]:
    """The truth: every event from the first sync's start up to where the last sync ended."""
    end = team.clock.now_ms() - END_DELAY_S * 1000
    counts = team.sim.truth_audit(first_start_ms, end)["counts"]
    return {
        frozenset({"event_type": event_type, "application_type": application or NO_APPLICATION}.items()): count
        for (event_type, application), count in counts.items()
    }


def exported(engine) -> dict[frozenset, float]:
    return {labels: value for (name, labels), value in parse(exposition(engine)).items() if name == AUDIT}


def test_audit_events_equal_the_truth_never_fall_across_refetches_and_a_restart_serves_them(make_team, tmp_path):
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=12, audit_events_per_day=40)
    first_start = team.clock.now_ms() - END_DELAY_S * 1000 - FIRST_LOOKBACK_MS + 1
    engine = team.engine(tmp_path, ("audit",))
    assert engine.run("audit")
    first = exported(engine)
    assert first == expected_counts(team, first_start)
    assert sum(first.values()) > 100
    assert engine.run("audit")  # the same window again: ids already stored are not counted twice
    assert exported(engine) == first
    previous = first
    for _ in range(8):  # late events arrive inside the overlap the next sync reads again
        team.clock.advance(HOUR_MS // 2)
        assert engine.run("audit")
        now = exported(engine)
        assert all(now.get(labels, 0) >= value for labels, value in previous.items()), "a counter fell"
        assert now == expected_counts(team, first_start)
        previous = now
    assert sum(now.values()) > sum(first.values())  # four hours of new events were counted
    requests = len(team.sim.request_log)
    restarted = team.engine(tmp_path, ("audit",))
    assert exported(restarted) == now
    assert len(team.sim.request_log) == requests  # served from the ledger, no API call


def test_an_audit_log_403_is_gated_logged_once_and_leaves_other_sources_working(make_team, tmp_path, caplog):
    team = make_team(users=5, cycle_start_days_ago=2, audit_logs_enterprise_only=True)
    engine = team.engine(tmp_path, ("spend", "usage", "audit"))
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        for name in ("spend", "usage", "audit"):
            assert engine.run(name), name
        team.clock.advance(10 * 60 * 1000)
    series = parse(exposition(engine))
    assert series[("cursor_exporter_feature_available", frozenset({"feature": "audit_logs"}.items()))] == 0
    assert sum("audit_logs unavailable" in message for message in caplog.messages) == 1
    assert sum(1 for path, _ in team.sim.request_log if path == AUDIT_PATH) == 1
    assert not any(name == AUDIT for name, _ in series)
    assert any(name == "cursor_usage_charged_usd_total" for name, _ in series)
