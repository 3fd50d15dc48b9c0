"""Scripted upstream calls, in the style of mysqld_exporter's expected queries: the exact Cursor API
requests each polling source makes, as (method, path, JSON body or query parameters).

Every source runs twice against the simulator on a frozen clock: a first sync from empty state at
``NOW`` (15:00Z) and a second one ``STEP_MS`` (10 minutes) later. The expected calls are derived from
the inputs below and the documented rules (each source module's docstring, ``ledger/windows.py``);
only the page counts come from the simulator's truth (rows in range / page size). Each sync's calls
must also be billed to the source that made them (``last_api_requests``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from cursor_exporter.simulator import SimClock
from cursor_exporter.simulator.wire import UNAUTHORIZED
from cursor_exporter.sources import BY_NAME, POLLING
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.timegrid import DAY_MS, HOUR_MS, floor_day

from .conftest import END_DELAY_S, build_engine
from .test_sync import WEDNESDAY_3PM

Call = tuple[str, str, dict | None]

NOW = WEDNESDAY_3PM  # 2026-11-18T15:00Z, on a whole hour
TODAY = floor_day(NOW)
STEP_MS = 10 * 60_000  # the clock advance between the two syncs
END_1 = NOW - END_DELAY_S * 1000  # 14:59Z: where the first sync's windows end
END_2 = END_1 + STEP_MS  # 15:09Z: the second sync's
LOOKBACK_MS = 48 * HOUR_MS  # conftest's settle lookback
ORG_ID = "org_abc123"
CONFIG = {
    "users": 120,  # more than one /teams/spend page of 100
    "events_per_user_per_day": 10.0,  # some 24-hour windows need two pages of 1,000 events
    "cycle_start_days_ago": 3,
    "enterprise": True,
    "org_api_key": "org_key_for_tests",
    "organization_id": ORG_ID,
    "org_contract_start_days_ago": 10,  # more windows than org_usage takes in one sync
    "audit_events_per_day": 30.0,  # more than one audit page of 500 in 30 days
    "rate_limits": False,  # real-time limits are not what this file is about
}
CYCLE_START = TODAY - 3 * DAY_MS  # what /teams/spend reports as subscriptionCycleStart
CYCLE_START_DATE = "2026-11-15"  # the same, as the UTC date ai_code sends
CONTRACT_START = TODAY - 10 * DAY_MS  # what /organizations/pooled-usage reports as contractStartDate

TEAM_EVENTS = "/teams/filtered-usage-events"
ORG_EVENTS = "/organizations/filtered-usage-events"
POOL = ("POST", "/organizations/pooled-usage", {"organizationId": ORG_ID})

# The second sync's usage windows (10 minutes after the first), by the settle plan of ledger/windows.py:
# the one hour that passed the 48-hour lookback since the first sync (it ends at END_2 - 48 h rounded
# down to the hour) gets its settling fetch; hours that ended less than 3 h (lookback / 16) before
# END_2 are re-read every sync, the hour the first sync saw open is completed and the new hour added;
# every hour between them was read 10 minutes ago, less than its 1-hour or 6-hour refetch interval.
SETTLING_HOUR = (TODAY - 2 * DAY_MS + 14 * HOUR_MS, TODAY - 2 * DAY_MS + 15 * HOUR_MS - 1)
RECENT_HOURS = (TODAY + 12 * HOUR_MS, END_2)


def pages(rows: int, size: int) -> range:
    """Page numbers of a paged read of ``rows`` rows: one page even when there are none."""
    return range(1, max(1, math.ceil(rows / size)) + 1)


def day_windows(start: int, end: int) -> list[tuple[int, int]]:
    """Consecutive 24-hour windows from ``start``, oldest first, the last ending at ``end`` (inclusive)."""
    return [(first, min(first + DAY_MS - 1, end)) for first in range(start, end + 1, DAY_MS)]


def event_calls(path: str, windows, count: Callable[[int, int], int], scope: dict | None = None) -> list[Call]:
    """One POST per page of 1,000 events per window, in window order."""
    return [
        ("POST", path, {**(scope or {}), "startDate": start, "endDate": end, "page": page, "pageSize": 1000})
        for start, end in windows
        for page in pages(count(start, end), 1000)
    ]


# -- the expected calls of each source, for its first (first=True) or second sync ---------------------


def spend_calls(team, first: bool) -> list[Call]:
    members = len(team.sim.spend_rows(team.clock.now_ms()))  # non-removed members, one row each
    return [("POST", "/teams/spend", {"page": page, "pageSize": 100}) for page in pages(members, 100)]


def every_sync(*calls: Call) -> Callable[..., list[Call]]:
    """The script of a source that makes the same unpaged calls on every sync."""
    return lambda team, first: list(calls)


def usage_calls(team, first: bool) -> list[Call]:
    windows = day_windows(CYCLE_START, END_1) if first else [SETTLING_HOUR, RECENT_HOURS]
    return event_calls(TEAM_EVENTS, windows, lambda s, e: sum(r["events"] for r in team.sim.truth(s, e)["usage"]))


def org_event_calls(team, windows) -> list[Call]:
    """The organization's event pages: every org team's events, scoped by ``organizationId``."""
    count = lambda s, e: sum(r["events"] for r in team.sim.truth_org(s, e)["usage"])  # noqa: E731
    return event_calls(ORG_EVENTS, windows, count, {"organizationId": ORG_ID})


def activity_calls(team, first: bool) -> list[Call]:
    # First: every day back to the older of the cycle start and the 28-day active-users window, one
    # request (≤ 30 days) up to now. Second: the days not yet fetched 48 h after they ended.
    now = team.clock.now_ms()
    first_day = min(CYCLE_START, TODAY - 27 * DAY_MS) if first else TODAY - 2 * DAY_MS
    return [("POST", "/teams/daily-usage-data", {"startDate": first_day, "endDate": now})]


def ai_code_calls(team, first: bool) -> list[Call]:
    commits = team.sim.truth_ai_code(CYCLE_START, team.clock.now_ms())["totalCommits"]
    return [
        (
            "GET",
            "/analytics/ai-code/commits",
            {"startDate": CYCLE_START_DATE, "endDate": "now", "page": page, "pageSize": 1000},
        )
        for page in pages(commits, 1000)
    ]


def org_usage_calls(team, first: bool) -> list[Call]:
    if first:  # a backfill from the contract start: at most 7 windows, the oldest six and the newest
        backlog = day_windows(CONTRACT_START, END_1)
        assert len(backlog) == 11
        windows = [*backlog[:6], backlog[-1]]
    else:  # the four days the first sync skipped, then the recent hours as for usage
        windows = [*day_windows(CONTRACT_START + 6 * DAY_MS, TODAY - 1), RECENT_HOURS]
    return [POOL, *org_event_calls(team, windows)]


def audit_calls(team, first: bool) -> list[Call]:
    # First: the 30 days up to the end delay; then from where the last sync ended, back a 6-hour overlap.
    start, end = (END_1 - 30 * DAY_MS + 1, END_1) if first else (END_1 + 1 - 6 * HOUR_MS, END_2)
    events = len(team.sim.truth_audit(start, end)["events"])
    return [
        ("GET", "/teams/audit-logs", {"startTime": start, "endTime": end, "page": page, "pageSize": 500})
        for page in pages(events, 500)
    ]


SCRIPTS = [
    pytest.param("usage", usage_calls, id="usage"),
    pytest.param("spend", spend_calls, id="spend"),
    pytest.param("members", every_sync(("GET", "/teams/members", None)), id="members"),
    pytest.param("activity", activity_calls, id="activity"),
    pytest.param("ai_code", ai_code_calls, id="ai_code"),
    pytest.param("org", every_sync(POOL), id="org"),
    pytest.param("org_usage", org_usage_calls, id="org_usage"),
    pytest.param("groups", every_sync(("GET", "/teams/groups", None)), id="groups"),
    pytest.param("audit", audit_calls, id="audit"),
]


# -- harness -------------------------------------------------------------------------------------------


def record_calls(engine: TeamEngine) -> list[Call]:
    """Every ``CursorClient.request`` of the engine's clients (team and organization key), in order."""
    calls: list[Call] = []
    for client in (engine.context.client, engine.context.org_client):
        if client is None:
            continue

        def request(method, path, body=None, params=None, _send=client.request, **options):
            payload = body if body is not None else params
            calls.append((method, path, None if payload is None else dict(payload)))
            return _send(method, path, body, params, **options)

        client.request = request
    return calls


def statuses(engine: TeamEngine) -> dict:
    return {status.name: status for status in engine.snapshot().statuses}


def team_at_now(make_team):
    return make_team(clock=SimClock(NOW, speed=0), **CONFIG)


def test_the_table_scripts_every_polling_source():
    assert sorted(param.values[0] for param in SCRIPTS) == sorted(POLLING)


@pytest.mark.parametrize(("name", "script"), SCRIPTS)
def test_each_sync_makes_exactly_its_scripted_calls_billed_to_its_source(make_team, tmp_path, name, script):
    team = team_at_now(make_team)
    needs = BY_NAME[name].needs
    engine = team.engine(tmp_path, collectors=(*needs, name), org=True)
    for need in needs:  # the billing-cycle start known beforehand: the syncs below make only their own calls
        assert engine.run(need), statuses(engine)
    calls = record_calls(engine)
    for first in (True, False):
        if not first:
            team.clock.advance(STEP_MS)
        expected = script(team, first)
        calls.clear()
        served = len(team.sim.request_log)
        assert engine.run(name), statuses(engine)[name]
        assert calls == expected, f"{name} {'first' if first else 'second'} sync"
        assert [path for path, _ in team.sim.request_log[served:]] == [path for _, path, _ in calls]
        assert statuses(engine)[name].last_api_requests == len(calls)


def test_scripts_page_and_cap_where_it_matters(make_team):
    """The configuration exercises what the scripts claim: several pages, and a capped backfill."""
    team = team_at_now(make_team)
    assert len(spend_calls(team, True)) == 2
    assert len(audit_calls(team, True)) > 1
    first_usage = usage_calls(team, True)
    assert len(first_usage) > len(day_windows(CYCLE_START, END_1))  # some window needs a second page
    assert END_1 - LOOKBACK_MS < SETTLING_HOUR[1] + 1 <= END_2 - LOOKBACK_MS  # passed the lookback in between


def test_usage_on_an_empty_ledger_syncs_spend_first_under_spend_own_status(make_team, tmp_path):
    team = team_at_now(make_team)
    engine = team.engine(tmp_path, collectors=("usage",))
    calls = record_calls(engine)
    spend, usage = spend_calls(team, True), usage_calls(team, True)
    assert engine.run("usage"), statuses(engine)
    assert calls == spend + usage
    status = statuses(engine)
    assert status["spend"].success and status["spend"].last_api_requests == len(spend)
    assert status["usage"].success and status["usage"].last_api_requests == len(usage)


def test_with_a_wrong_key_spend_fails_with_the_401_and_usage_waits_for_the_cycle_start(make_team, tmp_path):
    team = team_at_now(make_team)
    engine, closing = build_engine(team.url, "crsr_wrong_key", tmp_path, ("usage",), team.clock.now_ms)
    try:
        calls = record_calls(engine)
        assert not engine.run("usage")
        assert calls == [("POST", "/teams/spend", {"page": 1, "pageSize": 100})]  # a 401 is not retried
        assert team.sim.request_log == [("/teams/spend", 401)]
        status = statuses(engine)
        assert status["spend"].success is False and status["spend"].last_api_requests == 1
        assert "401" in status["spend"].last_error and UNAUTHORIZED["message"] in status["spend"].last_error
        assert status["usage"].success is False and status["usage"].last_api_requests == 0
        assert "waits for the billing-cycle start" in status["usage"].last_error
        assert "401" not in status["usage"].last_error
    finally:
        for closable in closing:
            closable.close()


def test_org_usage_without_contract_dates_syncs_spend_first_and_reads_the_pool_once(make_team, tmp_path):
    """A pool reply without contract dates, none known before: the period falls back to the billing
    cycle, which spend is synced first to report (under its own status)."""
    team = team_at_now(make_team)
    engine = team.engine(tmp_path, collectors=("org_usage",), org=True)
    calls = record_calls(engine)
    org_client = engine.context.org_client
    send = org_client.request

    def without_contract_dates(method, path, body=None, params=None, **options):
        reply = send(method, path, body, params, **options)
        if path == POOL[1]:
            reply["pool"].pop("contractStartDate")
        return reply

    org_client.request = without_contract_dates
    spend, events = spend_calls(team, True), org_event_calls(team, day_windows(CYCLE_START, END_1))
    assert engine.run("org_usage"), statuses(engine)
    assert calls == [POOL, *spend, *events]
    status = statuses(engine)
    assert status["spend"].last_api_requests == len(spend)
    assert status["org_usage"].last_api_requests == 1 + len(events)
