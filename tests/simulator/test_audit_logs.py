"""``GET /teams/audit-logs`` of the simulator over HTTP, and its ground truth."""

from __future__ import annotations

import math
import re
from collections import Counter

import httpx
import pytest

from cursor_exporter.simulator import SimulatorConfig

from .helpers import DAY, HOUR, KEY, ORG_KEY, TUESDAY_NOON

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
EVENT_KEYS = ["event_id", "timestamp", "ip_address", "user_email", "event_type", "application_type", "event_data"]
MIDNIGHT = TUESDAY_NOON // DAY * DAY


def audit(client: httpx.Client, **params) -> httpx.Response:
    return client.get("/teams/audit-logs", params=params)


def all_audit(client: httpx.Client, page_size: int, **params) -> list[dict]:
    """Every page in order, checking the pagination envelope on the way."""
    events, page = [], 1
    while True:
        response = audit(client, page=page, pageSize=page_size, **params)
        assert response.status_code == 200, response.text
        payload = response.json()
        pagination = payload["pagination"]
        assert pagination["page"] == page and pagination["pageSize"] == page_size
        assert pagination["totalPages"] == math.ceil(pagination["totalCount"] / page_size)
        assert pagination["hasPreviousPage"] == (page > 1)
        events.extend(payload["events"])
        if not pagination["hasNextPage"]:
            assert len(events) == pagination["totalCount"]
            return events
        page += 1


def test_default_range_shape_and_order(running):
    r = running()
    payload = audit(r.client).json()
    assert set(payload) == {"events", "pagination", "params"}
    assert payload["params"] == {"teamId": 7, "startDate": TUESDAY_NOON - 7 * DAY, "endDate": TUESDAY_NOON}
    events = payload["events"]
    assert events and payload["pagination"]["pageSize"] == 100
    for event in events:
        assert list(event) == EVENT_KEYS
        assert ISO_MS.match(event["timestamp"]) and event["event_id"].startswith("evt_")
        assert event["application_type"] in ("cursor", "grok_bot", "")
        assert isinstance(event["event_data"], dict)
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)  # oldest first
    assert stamps[0] >= "2026-04-28T12:00:00.000Z" and stamps[-1] <= "2026-05-05T12:00:00.000Z"


def test_a_month_has_the_documented_variety(running):
    r = running()
    events = all_audit(r.client, 500, startTime="30d")
    assert len({event["event_id"] for event in events}) == len(events)
    types = {event["event_type"] for event in events}
    assert {"login", "add_user", "remove_user", "user_spend_limit", "team_settings"} <= types
    assert any(kind.startswith("bugbot_") for kind in types) and any(kind.startswith("grok_bot_") for kind in types)
    assert Counter(event["event_type"] for event in events).most_common(1)[0][0] == "login"
    assert {event["application_type"] for event in events} == {"cursor", "grok_bot", ""}
    actors = {event["user_email"] for event in events}
    assert "System" in actors
    assert any(actor.startswith("Api Key: ") for actor in actors) and any(actor.startswith("Bot: ") for actor in actors)
    members = {member.email for member in r.sim.team.members}
    removed = {member.email for member in r.sim.team.members if member.is_removed}
    assert {event["event_data"]["email"] for event in events if event["event_type"] == "remove_user"} == removed
    assert all(event["user_email"] in members for event in events if event["event_type"] == "login")


def test_paging_covers_each_event_once(running):
    r = running()
    whole = audit(r.client, startTime="30d", pageSize=500).json()
    paged = all_audit(r.client, 7, startTime="30d")
    assert paged == whole["events"] and len(paged) > 14
    past = audit(r.client, startTime="30d", pageSize=7, page=math.ceil(len(paged) / 7) + 1).json()
    assert past["events"] == []
    assert not past["pagination"]["hasNextPage"] and past["pagination"]["hasPreviousPage"]


def test_bounds_are_inclusive_in_every_format(running):
    r = running()
    events = all_audit(r.client, 500, startTime="7d")
    event = events[len(events) // 2]
    ms = next(
        e.timestamp_ms for e in r.sim.audit_log.events_between(0, TUESDAY_NOON) if e.event_id == event["event_id"]
    )
    at_ms = [e["event_id"] for e in all_audit(r.client, 500, startTime=str(ms), endTime=str(ms))]
    assert event["event_id"] in at_ms
    at_iso = all_audit(r.client, 500, startTime=event["timestamp"], endTime=event["timestamp"])
    assert [e["event_id"] for e in at_iso] == at_ms
    in_second = all_audit(r.client, 500, startTime=str(ms // 1000), endTime=str(ms))
    assert event in in_second
    assert event not in all_audit(r.client, 500, startTime=str(ms + 1), endTime=str(ms + HOUR))
    assert event not in all_audit(r.client, 500, startTime=str(ms - HOUR), endTime=str(ms - 1))


@pytest.mark.parametrize(
    ("params", "start", "end"),
    [
        ({}, TUESDAY_NOON - 7 * DAY, TUESDAY_NOON),
        ({"startTime": "now"}, TUESDAY_NOON, TUESDAY_NOON),
        ({"startTime": "today"}, MIDNIGHT, TUESDAY_NOON),
        ({"startTime": "yesterday", "endTime": "today"}, MIDNIGHT - DAY, MIDNIGHT),
        ({"startTime": "5h"}, TUESDAY_NOON - 5 * HOUR, TUESDAY_NOON),
        ({"startTime": "300s", "endTime": "now"}, TUESDAY_NOON - 300_000, TUESDAY_NOON),
        ({"endTime": "2d"}, TUESDAY_NOON - 9 * DAY, TUESDAY_NOON - 2 * DAY),
        ({"startTime": "2026-05-01", "endTime": "2026-05-04"}, 1_777_593_600_000, 1_777_852_800_000),
        ({"startTime": "2026-05-04T10:00:00Z"}, 1_777_888_800_000, TUESDAY_NOON),
        ({"startTime": "2026-05-04T12:00:00+02:00"}, 1_777_888_800_000, TUESDAY_NOON),
        ({"startTime": "1777888800", "endTime": "1777888800123"}, 1_777_888_800_000, 1_777_888_800_123),
        ({"startTime": "30d"}, TUESDAY_NOON - 30 * DAY, TUESDAY_NOON),
    ],
)
def test_time_formats_and_defaults(running, params, start, end):
    response = audit(running().client, **params)
    assert response.status_code == 200, response.text
    assert response.json()["params"] == {"teamId": 7, "startDate": start, "endDate": end}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"startTime": str(TUESDAY_NOON - 30 * DAY - 1)}, "Date range cannot exceed 30 days"),
        ({"startTime": "2026-04-01", "endTime": "2026-05-02"}, "Date range cannot exceed 30 days"),
        ({"startTime": "now", "endTime": "1d"}, "startTime must be before endTime"),
        ({"startTime": "soon"}, "startTime must be"),
        ({"endTime": "5m"}, "endTime must be"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "501"}, "pageSize must be between 1 and 500"),
        ({"pageSize": "ten"}, "pageSize"),
        ({"page": "0"}, "page"),
        ({"users": "a@x.io,b@x.io,c@x.io", "pageSize": "2"}, "users"),
    ],
)
def test_invalid_parameters_are_400(running, params, message):
    response = audit(running().client, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request" and message in response.json()["message"]


def test_filters_are_and_combined(running):
    r = running()
    month = all_audit(r.client, 500, startTime="30d")
    logins = all_audit(r.client, 500, startTime="30d", eventTypes="login, add_user")
    assert logins == [e for e in month if e["event_type"] in ("login", "add_user")]
    member = r.sim.team.members[0]
    mine = [e for e in month if e["user_email"] == member.email]
    assert mine
    for users in (member.email.upper(), member.string_id, str(member.int_id), f"{member.email},nobody@x.io"):
        assert all_audit(r.client, 500, startTime="30d", users=users) == mine
    system = all_audit(r.client, 500, startTime="30d", users="System")
    assert system and all(e["user_email"] == "System" for e in system)
    both = all_audit(r.client, 500, startTime="30d", users=member.email, eventTypes="login")
    assert both == [e for e in mine if e["event_type"] == "login"]
    grok = all_audit(r.client, 500, startTime="30d", search="GROK")
    assert grok == [e for e in month if "grok" in e["event_type"]]
    assert all_audit(r.client, 500, startTime="30d", eventTypes="no_such_type") == []


def test_events_appear_once_the_clock_passes_their_arrival(running):
    r = running()
    late = next(
        e
        for e in r.sim.audit_log.events_between(TUESDAY_NOON - 7 * DAY, TUESDAY_NOON)
        if e.visible_at_ms > e.timestamp_ms + 60_000
    )
    window = {"startTime": str(late.timestamp_ms - HOUR), "endTime": str(late.timestamp_ms + HOUR)}
    r.sim.clock.set(late.timestamp_ms)
    served = all_audit(r.client, 500, **window)
    assert late.event_id not in {e["event_id"] for e in served}
    assert all(e["timestamp"] <= late.served()["timestamp"] for e in served)  # nothing from the future
    assert late.served() not in r.sim.truth_audit(late.timestamp_ms - HOUR, late.timestamp_ms)["events"]
    r.sim.clock.set(late.visible_at_ms)
    assert late.served() in all_audit(r.client, 500, **window)
    assert late.served() in r.sim.truth_audit(late.timestamp_ms - HOUR, late.timestamp_ms)["events"]


def test_without_late_arrivals_events_are_visible_at_their_timestamp(running):
    r = running(late_arrivals=False)
    event = next(iter(r.sim.audit_log.events_between(TUESDAY_NOON - DAY, TUESDAY_NOON)))
    r.sim.clock.set(event.timestamp_ms)
    assert all_audit(r.client, 500, startTime="1d")[-1] == event.served()


def test_truth_matches_the_route(running):
    r = running()
    served = all_audit(r.client, 50)
    truth = r.sim.truth_audit()
    assert truth["now"] == TUESDAY_NOON
    assert (truth["startDate"], truth["endDate"]) == (TUESDAY_NOON - 7 * DAY, TUESDAY_NOON)
    assert truth["events"] == served
    assert truth["counts"] == Counter((e["event_type"], e["application_type"]) for e in served)
    month = r.sim.truth_audit(TUESDAY_NOON - 30 * DAY, TUESDAY_NOON)
    assert month["events"] == all_audit(r.client, 500, startTime="30d")
    over_http = r.control.get("/_sim/truth/audit", params={"startDate": TUESDAY_NOON - 30 * DAY}).json()
    assert over_http["events"] == month["events"]
    assert {(c["eventType"], c["applicationType"]): c["events"] for c in over_http["counts"]} == month["counts"]


def test_auth_plans_rate_limit_and_faults(running):
    r = running(rate_limits=True)
    assert httpx.get(f"{r.server.url}/teams/audit-logs").status_code == 401
    assert httpx.get(f"{r.server.url}/teams/audit-logs", auth=(ORG_KEY, "")).status_code == 401
    statuses = [audit(r.client).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    limited = audit(r.client)
    assert limited.headers["Retry-After"] == "60"
    assert r.client.get("/teams/members").status_code == 200  # a budget per endpoint
    r.sim.rate_limiter.reset()
    r.sim.faults.inject("503")
    r.sim.faults.inject("500")
    failed = audit(r.client)
    assert failed.status_code == 503 and failed.headers["Content-Type"].startswith("text/html")
    assert audit(r.client).json() == {"error": "Internal Server Error", "message": "An unexpected error occurred"}
    assert audit(r.client).status_code == 200
    assert r.sim.truth()["requests"]["/teams/audit-logs"] == 2 + 20 + 3  # 429s are not counted
    enterprise = running(enterprise=True)
    assert httpx.get(f"{enterprise.server.url}/teams/audit-logs", auth=(KEY, "")).status_code == 200


def test_same_seed_same_bytes_and_the_knob(running):
    one, two, other = running(), running(), running(seed=43)
    params = {"startTime": "30d", "pageSize": 500}
    assert audit(one.client, **params).content == audit(two.client, **params).content
    assert audit(one.client, **params).content != audit(other.client, **params).content
    quiet = all_audit(running(audit_events_per_day=0).client, 500, startTime="30d")
    assert {e["event_type"] for e in quiet} == {"add_user", "remove_user"}
    with pytest.raises(ValueError, match="audit_events_per_day"):
        SimulatorConfig(audit_events_per_day=-1)
