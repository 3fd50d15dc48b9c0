"""The Cursor Admin API simulator over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest

from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig

KEY = "crsr_test_key"
HOUR = 3_600_000
DAY = 86_400_000
TUESDAY_NOON = 1_777_982_400_000  # 2026-05-05T12:00:00Z
SMALL_TEAM = {"users": 10, "events_per_user_per_day": 30, "cycle_start_days_ago": 3, "rate_limits": False}


def start(**overrides) -> tuple[Simulator, object, httpx.Client]:
    clock = SimClock(start_ms=overrides.pop("start_ms", TUESDAY_NOON), speed=0)
    sim = Simulator(SimulatorConfig(**{**SMALL_TEAM, **overrides}), clock=clock)
    server = sim.serve()
    client = httpx.Client(base_url=server.url, auth=(KEY, ""), timeout=5)
    return sim, server, client


@pytest.fixture
def api():
    sim, server, client = start()
    yield sim, client
    client.close()
    server.stop()


def decimal_json(response: httpx.Response) -> dict:
    return json.loads(response.content, parse_float=Decimal)


def all_events(client: httpx.Client, start_ms: int, end_ms: int, page_size: int = 100, **filters) -> list[dict]:
    events, page = [], 1
    while True:
        body = {"startDate": start_ms, "endDate": end_ms, "page": page, "pageSize": page_size, **filters}
        response = client.post("/teams/filtered-usage-events", json=body)
        assert response.status_code == 200, response.text
        payload = decimal_json(response)
        events.extend(payload["usageEvents"])
        if not payload["pagination"]["hasNextPage"]:
            assert len(events) == payload["totalUsageEventsCount"]
            return events
        page += 1


def all_spend(client: httpx.Client, **body) -> list[dict]:
    rows, page = [], 1
    while True:
        payload = client.post("/teams/spend", json={**body, "page": page}).json()
        rows.extend(payload["teamMemberSpend"])
        if page >= payload["totalPages"]:
            return rows
        page += 1


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


def test_spend_is_the_sum_of_visible_charged_cents_in_the_cycle(api):
    sim, client = api
    now = sim.clock.now_ms()
    first = client.post("/teams/spend", json={}).json()
    cycle_start = first["subscriptionCycleStart"]
    assert cycle_start == (now // DAY - 3) * DAY
    rows = all_spend(client, pageSize=3)
    assert len(rows) == first["totalMembers"]
    events = all_events(client, cycle_start, now, page_size=1000)
    on_demand: dict[str, Decimal] = defaultdict(Decimal)
    overall: dict[str, Decimal] = defaultdict(Decimal)
    for event in events:
        overall[event["userEmail"]] += event["chargedCents"]
        if event["kind"] == "Usage-based":
            on_demand[event["userEmail"]] += event["chargedCents"]
    for row in rows:
        assert row["spendCents"] == float(on_demand[row["email"]])
        assert row["overallSpendCents"] == float(overall[row["email"]])
    assert any(row["overallSpendCents"] == 0 for row in rows), "a member who never used Cursor"
    assert any(isinstance(row["spendCents"], float) and row["spendCents"] % 1 for row in rows)
    truth = decimal_json(client.get("/_sim/truth"))
    assert {r["email"]: Decimal(r["spendCents"]) for r in truth["spend"]} == {
        r["email"]: Decimal(repr(r["spendCents"])) for r in rows
    }


def test_spend_sort_search_and_resets_at_cycle_rollover(api):
    sim, client = api
    rows = all_spend(client, sortBy="amount", sortDirection="asc")
    amounts = [r["spendCents"] for r in rows]
    assert amounts == sorted(amounts)
    someone = rows[-1]
    found = all_spend(client, searchTerm=someone["email"].split("@")[0].upper())
    assert someone in found
    assert all(r["monthlyLimitDollars"] is None or r["monthlyLimitDollars"] > 0 for r in rows)
    first = client.post("/teams/spend", json={}).json()
    sim.clock.set(first["subscriptionCycleStart"] + 30 * DAY + 1)
    rolled = client.post("/teams/spend", json={}).json()
    assert rolled["subscriptionCycleStart"] == first["subscriptionCycleStart"] + 30 * DAY
    assert all(r["spendCents"] == 0 for r in rolled["teamMemberSpend"])


def test_members_roster():
    for style, check in (
        ("string", lambda member: member["id"].startswith("user_")),
        ("int", lambda member: isinstance(member["id"], int)),
        ("absent", lambda member: "id" not in member),
    ):
        sim, server, client = start(user_id_style=style)
        try:
            members = client.get("/teams/members").json()["teamMembers"]
        finally:
            client.close()
            server.stop()
        assert all(check(m) for m in members)
        assert {m["role"] for m in members} == {"owner", "member", "free-owner"}
        assert sum(m["isRemoved"] for m in members) == 2
        assert any(m["name"] is None for m in members)
    truth = sim.truth()["members"]
    assert truth == {"byRole": {"owner": 2, "member": 5, "free-owner": 1}, "removed": 2}


def test_daily_usage_active_only_and_paged(api):
    sim, client = api
    now = sim.clock.now_ms()
    body = {"startDate": now - 2 * DAY, "endDate": now}
    active = client.post("/teams/daily-usage-data", json=body).json()
    assert "pagination" not in active
    assert active["data"] and all(row["isActive"] for row in active["data"])
    assert all(isinstance(row["userId"], int) for row in active["data"])
    paged = client.post("/teams/daily-usage-data", json={**body, "page": 1, "pageSize": 4}).json()
    assert paged["pagination"]["totalUsers"] == 8  # removed members had no membership in range
    assert paged["pagination"]["hasNextPage"] is True
    assert len({row["email"] for row in paged["data"]}) == 4
    idle = [row for row in paged["data"] if not row["isActive"]]
    assert idle and all(row["mostUsedModel"] is None and row["totalTabsShown"] == 0 for row in idle)

    day_start = (now - DAY) // DAY * DAY
    yesterday = [row for row in active["data"] if row["date"] == day_start]
    events = all_events(client, day_start, day_start + DAY - 1, page_size=1000)
    member_events = [e for e in events if "serviceAccountId" not in e]
    counted = sum(row["subscriptionIncludedReqs"] + row["usageBasedReqs"] + row["apiKeyReqs"] for row in yesterday)
    assert counted == sum(e["kind"] in ("Included in Business", "Usage-based", "User API Key") for e in member_events)


@pytest.mark.parametrize(
    "body",
    [{}, {"startDate": 0, "endDate": 31 * DAY}, {"startDate": 5 * DAY, "endDate": DAY}],
)
def test_daily_usage_validation(api, body):
    _, client = api
    assert client.post("/teams/daily-usage-data", json=body).status_code == 400


def test_groups_need_enterprise(api):
    _, client = api
    response = client.get("/teams/groups")
    assert response.status_code == 403
    assert response.json() == {"error": "Forbidden", "message": "Enterprise access required"}


def test_groups_with_enterprise_match_spend():
    _, server, client = start(enterprise=True)
    try:
        payload = client.get("/teams/groups").json()
        spend = {r["email"]: r["spendCents"] for r in all_spend(client)}
    finally:
        client.close()
        server.stop()
    groups = [*payload["groups"], payload["unassignedGroup"]]
    assert payload["unassignedGroup"]["id"] == "group_unassigned"
    assert all(g["type"] == "BILLING" for g in groups)
    current = [m for g in groups for m in g["currentMembers"]]
    assert sorted(m["email"] for m in current) == sorted(spend)
    for member in current:
        assert member["spendCents"] == spend[member["email"]]
    total = sum(Decimal(repr(g["spendCents"])) for g in groups)
    assert abs(total - sum(Decimal(repr(v)) for v in spend.values())) < Decimal("0.000001")
    assert payload["billingCycle"]["cycleStart"].endswith("T00:00:00.000Z")


def test_groups_billing_cycle_parameter():
    _, server, client = start(enterprise=True)
    try:
        current = client.get("/teams/groups").json()["billingCycle"]
        previous = client.get("/teams/groups", params={"billingCycle": "2026-04-01"}).json()["billingCycle"]
        assert previous["cycleEnd"] <= current["cycleStart"]
        assert client.get("/teams/groups", params={"billingCycle": "April"}).status_code == 400
    finally:
        client.close()
        server.stop()


def test_stopped_server_refuses_kept_alive_connections():
    _, server, client = start()
    assert client.get("/teams/members").status_code == 200
    server.stop()
    with pytest.raises(httpx.TransportError):
        client.get("/teams/members")
    client.close()


# -- rate limits and faults -------------------------------------------------------------------------


def test_rate_limit_per_endpoint_with_retry_after():
    sim, server, client = start(rate_limits=True, rate_limit_period_s=1.5, rate_limit_scale=0.25)
    try:
        statuses = [client.get("/teams/members").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = client.get("/teams/members")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json() == {"code": "error", "message": "Rate limit exceeded"}
        assert "X-RateLimit-Limit" not in limited.headers
        assert client.post("/teams/spend", json={}).status_code == 200
        narrow = {"startDate": TUESDAY_NOON - HOUR, "endDate": TUESDAY_NOON}
        events_statuses = [client.post("/teams/filtered-usage-events", json=narrow).status_code for _ in range(16)]
        assert events_statuses == [200] * 15 + [429]
        time.sleep(1.55)
        assert client.get("/teams/members").status_code == 200
        assert sim.request_log.count(("/teams/members", 429)) == 2
        assert sim.truth()["requests"]["/teams/members"] == 6
    finally:
        client.close()
        server.stop()


def test_rate_limit_error_body_variant():
    _, server, client = start(rate_limits=True, rate_limit_scale=0.05, rate_limit_body="error")
    try:
        client.get("/teams/members")
        response = client.get("/teams/members")
        assert response.status_code == 429
        assert response.json()["error"] == "Too Many Requests"
        assert response.headers["Retry-After"] == "60"
    finally:
        client.close()
        server.stop()


def test_injected_500_then_recovery(api):
    sim, client = api
    sim.faults.inject("500", count=2)
    assert [client.get("/teams/members").status_code for _ in range(3)] == [500, 500, 200]
    assert client.post("/_sim/faults", json={"kind": "503", "count": 1}).status_code == 200
    response = client.get("/teams/members")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    sim.faults.inject("429")
    response = client.post("/teams/spend", json={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert sim.request_log[-5:] == [
        ("/teams/members", 500),
        ("/teams/members", 500),
        ("/teams/members", 200),
        ("/teams/members", 503),
        ("/teams/spend", 429),
    ]


def test_truncated_body_is_not_valid_json(api):
    sim, client = api
    sim.faults.inject("truncate")
    url = urlsplit(str(client.base_url))
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        request = (
            f"GET /teams/members HTTP/1.1\r\nHost: {url.hostname}\r\n"
            f"Authorization: Basic {base64.b64encode(f'{KEY}:'.encode()).decode()}\r\n\r\n"
        )
        conn.sendall(request.encode())
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    assert 0 < len(body) < length
    with pytest.raises(ValueError):
        json.loads(body)
    assert client.get("/teams/members").status_code == 200


def test_timeout_fault_outlasts_the_client_and_stop_is_prompt():
    sim, server, client = start(timeout_fault_s=5)
    sim.faults.inject("timeout")
    with pytest.raises(httpx.ReadTimeout):
        client.get("/teams/members", timeout=0.3)
    began = time.monotonic()
    client.close()
    server.stop()
    assert time.monotonic() - began < 2


# -- control surface and determinism ----------------------------------------------------------------


def test_control_clock_and_truth_endpoints(api):
    sim, client = api
    now = sim.clock.now_ms()
    assert client.post("/_sim/clock", json={"advanceMs": 1000}).json() == {"now": now + 1000}
    assert client.post("/_sim/clock", json={"setMs": now}).json() == {"now": now}
    truth = client.get("/_sim/truth").json()
    assert truth["now"] == now and truth["endDate"] == now
    assert truth["cycleEnd"] - truth["cycleStart"] == 30 * DAY
    assert all(isinstance(row["chargedCents"], str) for row in truth["usage"])
    assert {"Included in Business", "Usage-based"} <= {row["kind"] for row in truth["usage"]}
    assert not any(path.startswith("/_sim") for path, _ in sim.request_log)


def test_same_seed_serves_identical_bytes():
    responses = []
    for _ in range(2):
        sim, server, client = start(users=12)
        try:
            now = sim.clock.now_ms()
            responses.append(
                [
                    client.get("/teams/members").content,
                    client.post("/teams/spend", json={}).content,
                    client.post("/teams/filtered-usage-events", json={"startDate": now - DAY, "endDate": now}).content,
                    client.post("/teams/daily-usage-data", json={"startDate": now - DAY, "endDate": now}).content,
                ]
            )
        finally:
            client.close()
            server.stop()
    assert responses[0] == responses[1]
    sim, server, client = start(users=12, seed=43)
    try:
        assert client.get("/teams/members").content != responses[0][0]
    finally:
        client.close()
        server.stop()
