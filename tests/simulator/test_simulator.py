"""The Cursor Admin API simulator over real HTTP on loopback: auth, routing and usage events."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import httpx
import pytest

from .helpers import DAY, HOUR, KEY, all_events, decimal_json, start

# -- transport and auth -------------------------------------------------------------------------------


def test_basic_auth_with_any_key_prefix_is_accepted():
    _, server, _ = start(api_key="key_whatever")
    try:
        response = httpx.get(f"{server.url}/teams/members", auth=("key_whatever", ""))
        assert response.status_code == 200
        assert response.json()["teamMembers"]
    finally:
        server.stop()


def test_wrong_missing_and_bearer_credentials_are_401(api):
    _, client = api
    url = str(client.base_url)
    unauthorized = {"error": "Unauthorized", "message": "Invalid API key"}
    for kwargs in (
        {"auth": ("wrong", "")},
        {"auth": (KEY, "not-empty")},
        {},
        {"headers": {"Authorization": f"Bearer {KEY}"}},
    ):
        response = httpx.get(f"{url}/teams/members", **kwargs)
        assert response.status_code == 401
        assert response.json() == unauthorized


def test_bearer_only_behind_the_flag():
    _, server, _ = start(accept_bearer=True)
    try:
        response = httpx.get(f"{server.url}/teams/members", headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200
    finally:
        server.stop()


def test_unknown_and_write_paths_are_404_and_logged(api):
    sim, client = api
    for method, path in (
        ("GET", "/v1/teams/members"),
        ("POST", "/teams/user-spend-limit"),
        ("POST", "/teams/remove-member"),
        ("GET", "/teams/spend"),
    ):
        response = client.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 404
        assert response.json() == {"error": "Not Found", "message": "Resource not found"}
    logged = [path for path, _ in sim.request_log]
    assert "/teams/user-spend-limit" in logged
    assert "/teams/remove-member" in logged


# -- events ---------------------------------------------------------------------------------------------


def test_events_shape_newest_first_and_paging_covers_each_event_once(api):
    sim, client = api
    now = sim.clock.now_ms()
    start_ms = now - 2 * DAY
    first = client.post("/teams/filtered-usage-events", json={"startDate": start_ms, "endDate": now}).json()
    assert first["pagination"]["pageSize"] == 100 and first["pagination"]["currentPage"] == 1
    assert first["period"] == {"startDate": start_ms, "endDate": now}
    events = all_events(client, start_ms, now, page_size=37)
    assert len(events) == first["totalUsageEventsCount"] > 200
    timestamps = [int(e["timestamp"]) for e in events]
    assert all(isinstance(e["timestamp"], str) for e in events)
    assert timestamps == sorted(timestamps, reverse=True)
    assert all(start_ms <= ts <= now for ts in timestamps)
    big_pages = all_events(client, start_ms, now, page_size=1000)
    assert big_pages == events

    for event in events:
        assert "id" not in event and "userId" not in event
        assert event["userEmail"] == event["userEmail"].lower()
        assert None not in event.values()
        if event["isTokenBasedCall"]:
            assert set(event["tokenUsage"]) >= {"inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens"}
        else:
            assert "tokenUsage" not in event
        if event["model"].startswith("composer-"):
            assert "cursorTokenFee" not in event

    truth = decimal_json(client.get("/_sim/truth", params={"startDate": start_ms, "endDate": now}))
    by_user: dict[str, list[Decimal | int]] = defaultdict(lambda: [0, Decimal(0)])
    for event in events:
        by_user[event["userEmail"]][0] += 1
        by_user[event["userEmail"]][1] += event["chargedCents"]
    assert {row["email"]: [row["events"], Decimal(row["chargedCents"])] for row in truth["users"]} == by_user
    fee = sum((e.get("cursorTokenFee", Decimal(0)) for e in events), Decimal(0))
    assert sum(Decimal(row["cursorTokenFee"]) for row in truth["usage"]) == fee
    assert sum(row["events"] for row in truth["usage"]) == len(events)


def test_page_past_the_end_is_empty(api):
    sim, client = api
    now = sim.clock.now_ms()
    payload = client.post(
        "/teams/filtered-usage-events", json={"startDate": now - HOUR, "endDate": now, "page": 999}
    ).json()
    assert payload["usageEvents"] == []
    assert payload["pagination"]["hasNextPage"] is False


def test_inclusive_bounds_double_count_a_shared_endpoint(api):
    sim, client = api
    now = sim.clock.now_ms()
    events = all_events(client, now - 6 * HOUR, now - 2 * HOUR)
    edge = int(events[len(events) // 2]["timestamp"])
    at_edge = all_events(client, edge, edge)
    assert at_edge and all(int(e["timestamp"]) == edge for e in at_edge)
    before = all_events(client, now - 6 * HOUR, edge)
    after = all_events(client, edge, now - 2 * HOUR)
    assert len(before) + len(after) == len(events) + len(at_edge)
    chained = all_events(client, edge + 1, now - 2 * HOUR)
    assert len(before) + len(chained) == len(events)


def test_filters_are_and_combined(api):
    sim, client = api
    now = sim.clock.now_ms()
    start_ms = now - 3 * DAY
    everything = all_events(client, start_ms, now, page_size=1000)
    service = all_events(client, start_ms, now, page_size=1000, serviceAccountId="*")
    assert service and all(e["serviceAccountId"].startswith("sa_") for e in service)
    assert all(e["userEmail"].endswith("@serviceaccount.cursor.com") for e in service)
    assert len(service) == sum(1 for e in everything if "serviceAccountId" in e)
    agents = all_events(client, start_ms, now, page_size=1000, cloudAgentId="*")
    assert agents and all(e["isHeadless"] and "cloudAgentId" in e for e in agents)
    email = everything[0]["userEmail"]
    mine = all_events(client, start_ms, now, page_size=1000, email=email.upper())
    assert mine == [e for e in everything if e["userEmail"] == email]
    both = all_events(client, start_ms, now, page_size=1000, email=email, automationId="*")
    assert both == [e for e in mine if "automationId" in e]
    cloud = all_events(client, start_ms, now, page_size=1000, hostingType="CLOUD")
    assert cloud and all("cloudAgentId" in e or "automationId" in e for e in cloud)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"startDate": 2_000, "endDate": 1_000}, 400, None),
        ({"startDate": 0, "endDate": 31 * DAY}, 400, "Date range cannot exceed 30 days"),
        ({"pageSize": 1001}, 400, None),
        ({"pageSize": 0}, 400, None),
        ({"hostingType": "MAINFRAME"}, 400, None),
        ({"startDate": "1777900000000", "endDate": "1777982400000"}, 500, "An unexpected error occurred"),
    ],
)
def test_events_validation(api, body, status, message):
    _, client = api
    response = client.post("/teams/filtered-usage-events", json=body)
    assert response.status_code == status
    payload = response.json()
    assert payload["error"] == {400: "Bad Request", 500: "Internal Server Error"}[status]
    if message:
        assert payload["message"] == message


def test_exactly_thirty_days_is_allowed(api):
    sim, client = api
    now = sim.clock.now_ms()
    response = client.post("/teams/filtered-usage-events", json={"startDate": now - 30 * DAY, "endDate": now})
    assert response.status_code == 200


def test_late_arrivals_appear_when_the_clock_advances():
    sim, server, client = start(users=25)
    try:
        now = sim.clock.now_ms()
        window = (now - 3 * HOUR, now)
        before = all_events(client, *window)
        assert all(int(e["timestamp"]) <= now for e in all_events(client, now - HOUR, now + DAY))
        sim.clock.advance(HOUR)
        after = all_events(client, *window)
        assert len(after) > len(before)
        assert {json.dumps(e, sort_keys=True, default=str) for e in before} <= {
            json.dumps(e, sort_keys=True, default=str) for e in after
        }
    finally:
        client.close()
        server.stop()


def test_revisions_change_charged_cents_after_six_hours():
    sim, server, client = start(users=25)
    try:
        now = sim.clock.now_ms()
        window = (now - 5 * HOUR, now - HOUR)
        before = all_events(client, *window, page_size=1000)
        client.post("/_sim/clock", json={"advanceMs": 7 * HOUR}).raise_for_status()
        after = all_events(client, *window, page_size=1000)
        assert [(e["timestamp"], e["userEmail"], e["model"]) for e in before] == [
            (e["timestamp"], e["userEmail"], e["model"]) for e in after
        ]
        changed = [(b, a) for b, a in zip(before, after, strict=True) if b["chargedCents"] != a["chargedCents"]]
        assert changed
        for old, new in changed:
            assert Decimal("0.79") <= new["chargedCents"] / old["chargedCents"] <= Decimal("1.21")
        assert len(changed) < len(before) * 0.1
    finally:
        client.close()
        server.stop()


def test_legacy_2025_event_shape():
    sim, server, client = start(legacy_2025=True)
    try:
        now = sim.clock.now_ms()
        events = all_events(client, now - DAY, now, page_size=1000)
        assert events
        for event in events:
            assert not {"chargedCents", "isChargeable", "isHeadless"} & set(event)
            assert "cursorTokenFee" in event
    finally:
        client.close()
        server.stop()


def test_retention_empties_old_windows():
    sim, server, client = start(retention_days=1)
    try:
        now = sim.clock.now_ms()
        assert all_events(client, now - 3 * DAY, now - 2 * DAY) == []
        assert all_events(client, now - 12 * HOUR, now)
    finally:
        client.close()
        server.stop()


# -- spend, members, daily usage, groups ----------------------------------------------------------
