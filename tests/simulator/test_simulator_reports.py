"""The simulator's spend, members, daily usage and billing groups routes over HTTP."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from .helpers import DAY, all_events, all_spend, decimal_json, start


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
