"""Daily-activity families against the simulator's truth, as rows settle over two days."""

from __future__ import annotations

from collections import Counter

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.activity import CYCLE_FAMILIES, REQUEST_COLUMNS
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import DAY_MS, floor_day

from .conftest import exposition, sync_all
from .truth import parse

WEDNESDAY_3PM = 1795014000000
# ledger column -> the API field it sums (the simulator's truth keys)
API_FIELD = {
    "total_lines_added": "totalLinesAdded",
    "total_lines_deleted": "totalLinesDeleted",
    "accepted_lines_added": "acceptedLinesAdded",
    "accepted_lines_deleted": "acceptedLinesDeleted",
    "applies": "totalApplies",
    "accepts": "totalAccepts",
    "rejects": "totalRejects",
    "tabs_shown": "totalTabsShown",
    "tabs_accepted": "totalTabsAccepted",
    "composer_requests": "composerRequests",
    "chat_requests": "chatRequests",
    "agent_requests": "agentRequests",
    "cmdk_requests": "cmdkUsages",
    "bugbot_requests": "bugbotUsages",
    "included_requests": "subscriptionIncludedReqs",
    "api_key_requests": "apiKeyReqs",
    "usage_based_requests": "usageBasedReqs",
}


def expected_activity(sim, per_user: bool) -> dict:
    now = sim.clock.now_ms()
    cycle = sim.truth()["cycleStart"]
    daily = sim.truth_daily(cycle, now)
    label_names = {
        "cursor_activity_cycle_lines": ("change", "scope"),
        "cursor_activity_cycle_edits": ("action",),
        "cursor_activity_cycle_tabs": ("action",),
        "cursor_activity_cycle_requests": ("feature",),
        "cursor_activity_cycle_requests_by_billing": ("billing",),
    }
    expected = {}
    for definition, series in CYCLE_FAMILIES.items():
        family = definition.name
        for values, column in series:
            labels = frozenset(zip(label_names[family], values, strict=True))
            expected[(family, labels)] = sum(day["team"][API_FIELD[column]] for day in daily["days"])
    today = floor_day(now)
    recent = sim.truth_daily(today - 27 * DAY_MS, now)
    for window in (1, 7, 28):
        active = {
            email for day in recent["days"] if day["date"] > today - window * DAY_MS for email in day["activeUsers"]
        }
        expected[("cursor_activity_active_users", frozenset({("window", f"{window}d")}))] = len(active)
    latest = sim.truth_daily(today - 6 * DAY_MS, now)["latest"]
    for version, count in Counter(row["clientVersion"] for row in latest.values()).items():
        expected[("cursor_activity_users_by_client_version", frozenset({("version", version)}))] = count
    for model, count in Counter(row["mostUsedModel"] for row in latest.values()).items():
        expected[("cursor_activity_users_by_model", frozenset({("model", model)}))] = count
    if per_user:
        for email, sums in daily["users"].items():
            user = frozenset({("user", email)})
            expected[("cursor_user_activity_cycle_accepted_lines", user)] = sums["acceptedLinesAdded"]
            expected[("cursor_user_activity_cycle_tabs_accepted", user)] = sums["totalTabsAccepted"]
            expected[("cursor_user_activity_cycle_requests", user)] = sum(
                sums[API_FIELD[column]] for column in REQUEST_COLUMNS
            )
    return expected


def activity_series(series):
    return {k: v for k, v in series.items() if k[0].startswith(("cursor_activity_", "cursor_user_activity_"))}


def test_activity_families_equal_the_truth_and_follow_settling_rows(make_team, tmp_path):
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=12, cycle_start_days_ago=9)
    engine = team.engine(tmp_path)
    labels = LabelPolicy(per_user_activity=True)
    for step in range(4):
        sync_all(engine)
        actual = activity_series(parse(exposition(engine, labels)))
        expected = expected_activity(team.sim, per_user=True)
        assert actual == {k: float(v) for k, v in expected.items()}, f"step {step}"
        team.clock.advance(9 * 3_600_000)  # today's and yesterday's rows keep changing
    calls = [path for path, _ in team.sim.request_log if path == "/teams/daily-usage-data"]
    assert len(calls) == 4  # one 30-day-or-less range per sync, settled days never fetched again


def test_per_user_activity_is_opt_in(make_team, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=2)
    engine = team.engine(tmp_path)
    sync_all(engine)
    names = {name for name, _ in parse(exposition(engine))}
    assert "cursor_activity_cycle_lines" in names
    assert not any(name.startswith("cursor_user_activity_") for name in names)


def test_a_large_team_asks_a_day_at_a_time_and_sums_the_same(make_team, tmp_path, monkeypatch):
    # 12 seats stand in for a team too large for a multi-day request: 12 user-days at most per request.
    monkeypatch.setattr("cursor_exporter.sources.activity.MAX_ROWS_PER_REQUEST", 12)
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=12, cycle_start_days_ago=9)
    engine = team.engine(tmp_path)
    sync_all(engine)
    actual = activity_series(parse(exposition(engine, LabelPolicy(per_user_activity=True))))
    assert actual == {k: float(v) for k, v in expected_activity(team.sim, per_user=True).items()}
    calls = [path for path, _ in team.sim.request_log if path == "/teams/daily-usage-data"]
    assert len(calls) == 28  # the 28 days the active-user windows need, a request each (one without the bound)
