"""Simulator extensions over real HTTP: daily truth, groups, Organization API, AI Code Tracking, scale."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from decimal import Decimal

import httpx

from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig

from .helpers import BASE, DAY, HOUR, ORG_KEY, TUESDAY_NOON, Running

COUNTERS = (
    "totalLinesAdded", "totalLinesDeleted", "acceptedLinesAdded", "acceptedLinesDeleted",
    "totalApplies", "totalAccepts", "totalRejects", "totalTabsShown", "totalTabsAccepted",
    "composerRequests", "chatRequests", "agentRequests", "cmdkUsages",
    "subscriptionIncludedReqs", "apiKeyReqs", "usageBasedReqs", "bugbotUsages",
)  # fmt: skip


def decimal_json(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return json.loads(response.content, parse_float=Decimal)


# -- daily activity -----------------------------------------------------------------------------------


def test_daily_truth_equals_served_rows(running):
    r = running(users=25)
    now = r.sim.now_ms()
    start, end = now - 4 * DAY, now
    rows = decimal_json(r.client.post("/teams/daily-usage-data", json={"startDate": start, "endDate": end}))["data"]
    days: dict[str, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    active: dict[str, set] = defaultdict(set)
    users: dict[str, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    latest: dict[str, tuple] = {}
    for row in rows:
        for key in COUNTERS:
            days[row["day"]][key] += row[key]
            users[row["email"]][key] += row[key]
        active[row["day"]].add(row["email"])
        if row["email"] not in latest or latest[row["email"]][0] < row["date"]:
            latest[row["email"]] = (row["date"], row["clientVersion"], row["mostUsedModel"])
    truth = r.control.get("/_sim/truth/daily", params={"startDate": start, "endDate": end}).json()
    assert truth == r.sim.truth_daily(start, end)
    assert [d["day"] for d in truth["days"]] == sorted({d["day"] for d in truth["days"]})
    assert len(truth["days"]) == 5
    for day in truth["days"]:
        assert day["team"] == days[day["day"]]
        assert day["activeUsers"] == sorted(active[day["day"]])
        assert day["date"] == rows[0]["date"] or day["date"] % DAY == 0
    assert truth["users"] == users
    assert {e: (v["clientVersion"], v["mostUsedModel"]) for e, v in truth["latest"].items()} == {
        e: v[1:] for e, v in latest.items()
    }
    assert 3 <= len({v["clientVersion"] for v in truth["latest"].values()}) <= 5
    assert len({v["mostUsedModel"] for v in truth["latest"].values()}) >= 3

    # Paged mode serves the same active rows plus zeroed inactive ones.
    paged, page = [], 1
    while True:
        body = {"startDate": start, "endDate": end, "page": page, "pageSize": 7}
        payload = decimal_json(r.client.post("/teams/daily-usage-data", json=body))
        paged.extend(payload["data"])
        if not payload["pagination"]["hasNextPage"]:
            break
        page += 1
    assert sorted(json.dumps(x, sort_keys=True, default=str) for x in paged if x["isActive"]) == sorted(
        json.dumps(x, sort_keys=True, default=str) for x in rows
    )


def test_daily_rows_are_provisional_for_today_and_yesterday_only():
    clock = SimClock(start_ms=TUESDAY_NOON, speed=0)
    sim = Simulator(SimulatorConfig(**BASE), clock=clock)
    today = TUESDAY_NOON // DAY * DAY
    before = {d["day"]: d for d in sim.truth_daily(today - 3 * DAY, TUESDAY_NOON)["days"]}
    clock.advance(3 * HOUR)
    after = {d["day"]: d for d in sim.truth_daily(today - 3 * DAY, TUESDAY_NOON)["days"]}
    days = sorted(before)
    assert before[days[0]] == after[days[0]] and before[days[1]] == after[days[1]]  # settled
    assert before[days[2]]["team"] != after[days[2]]["team"]  # yesterday still moves
    assert before[days[3]]["team"] != after[days[3]]["team"]  # today moves
    clock.advance(2 * DAY)
    settled = {d["day"]: d for d in sim.truth_daily(today - 3 * DAY, TUESDAY_NOON)["days"]}
    clock.advance(5 * HOUR)
    assert settled == {d["day"]: d for d in sim.truth_daily(today - 3 * DAY, TUESDAY_NOON)["days"]}


# -- billing groups -----------------------------------------------------------------------------------


def test_groups_truth_is_exactly_what_is_served(running):
    r = running(enterprise=True)
    payload = decimal_json(r.client.get("/teams/groups"))
    truth = r.control.get("/_sim/truth/groups").json()
    served = [*payload["groups"], payload["unassignedGroup"]]
    assert set(truth["groups"]) == {g["id"] for g in served} and "group_unassigned" in truth["groups"]
    for group in served:
        expected = truth["groups"][group["id"]]
        assert expected["name"] == group["name"]
        assert Decimal(expected["spendCents"]) == group["spendCents"]
        assert expected["memberCount"] == group["memberCount"] == len(group["currentMembers"])
        assert expected["members"] == sorted(m["email"] for m in group["currentMembers"])
    assert r.sim.truth_groups() == truth


# -- Organization API ---------------------------------------------------------------------------------


def org_events(r: Running, start: int, end: int, **extra) -> list[dict]:
    events, page = [], 1
    while True:
        body = {"organizationId": "org_abc123", "startDate": start, "endDate": end, "page": page, **extra}
        payload = decimal_json(r.org.post("/organizations/filtered-usage-events", json=body))
        events.extend(payload["usageEvents"])
        if not payload["pagination"]["hasNextPage"]:
            assert len(events) == payload["totalUsageEventsCount"]
            return events
        page += 1


def test_org_routes_need_the_org_key_and_the_organization_id(running):
    r = running(org_api_key=ORG_KEY)
    body = {"organizationId": "org_abc123"}
    response = r.client.post("/organizations/pooled-usage", json=body)
    assert response.status_code == 401
    assert response.json() == {"code": "error", "message": "Invalid Organization API Key"}
    assert r.org.get("/teams/members").status_code == 401
    assert r.org.post("/teams/filtered-usage-events", json={}).status_code == 401
    assert r.org.post("/organizations/pooled-usage", json={}).status_code == 400
    wrong = r.org.post("/organizations/pooled-usage", json={"organizationId": "org_other"})
    assert wrong.status_code == 403 and wrong.json() == {"code": "error", "message": "Not authorized"}
    assert r.org.post("/organizations/filtered-usage-events", json={}).status_code == 400
    assert r.org.post("/organizations/pooled-usage", json=body).status_code == 200
    unconfigured = running()
    assert unconfigured.org.post("/organizations/pooled-usage", json=body).status_code == 401


def test_pooled_usage_sums_and_matches_org_events(running):
    r = running(org_api_key=ORG_KEY, org_team_ids=(7, 8, 9), org_team_users=6)
    served = decimal_json(r.org.post("/organizations/pooled-usage", json={"organizationId": "org_abc123"}))
    pool, teams = served["pool"], served["teams"]
    assert [t["teamId"] for t in teams] == [7, 8, 9]
    assert sum(t["usedCents"] for t in teams) == pool["usedCents"]
    assert pool["remainingCents"] == pool["limitCents"] - pool["usedCents"]
    assert ["budgetLimitCents" in t for t in teams] == [True, False, True]
    assert pool["contractStartDate"].endswith("T00:00:00.000Z") and pool["contractEndDate"].endswith("59.999Z")

    truth = r.control.get("/_sim/truth/org").json()
    assert truth == r.sim.truth_org()
    assert {k: Decimal(v) if k.endswith("Cents") else v for k, v in truth["pool"].items()} == pool
    for team, expected in zip(teams, truth["teams"], strict=True):
        assert Decimal(expected["usedCents"]) == team["usedCents"]
        assert expected["budgetLimitCents"] == team.get("budgetLimitCents")

    events = org_events(r, truth["contractStart"], truth["now"], pageSize=1000)
    charged: dict[int, Decimal] = defaultdict(Decimal)
    usage: dict[tuple, dict] = {}
    for event in events:
        charged[event["teamId"]] += event["chargedCents"]
        row = usage.setdefault(
            (event["teamId"], event["model"], event["kind"], event["maxMode"]), {"events": 0, "charged": Decimal(0)}
        )
        row["events"] += 1
        row["charged"] += event["chargedCents"]
    for expected in truth["teams"]:
        assert Decimal(expected["chargedCents"]) == charged[expected["teamId"]]
        assert abs(Decimal(expected["usedCents"]) - charged[expected["teamId"]]) <= Decimal("0.0000005")
        assert expected["events"] == sum(1 for e in events if e["teamId"] == expected["teamId"])
    expected_usage: dict[tuple, dict] = {}
    for row in truth["usage"]:  # truth rows also split by source; org events can't tell all sources apart
        key = (row["teamId"], row["model"], row["kind"], row["maxMode"])
        target = expected_usage.setdefault(key, {"events": 0, "charged": Decimal(0)})
        target["events"] += row["events"]
        target["charged"] += Decimal(row["chargedCents"])
    assert expected_usage == usage


def test_org_events_shape_paging_and_filters(running):
    r = running(org_api_key=ORG_KEY)
    now = r.sim.now_ms()
    body = {"organizationId": "org_abc123", "startDate": now - DAY, "endDate": now}
    first = decimal_json(r.org.post("/organizations/filtered-usage-events", json=body))
    assert first["pagination"]["pageSize"] == 10 and len(first["usageEvents"]) == 10
    assert all(isinstance(e["teamId"], int) and isinstance(e["timestamp"], str) for e in first["usageEvents"])
    assert not any("conversationId" in e for e in first["usageEvents"])
    events = org_events(r, now - DAY, now, pageSize=500)
    stamps = [int(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert {e["teamId"] for e in events} == {7, 8}
    only8 = org_events(r, now - DAY, now, pageSize=500, teamIds=[8])
    assert only8 and {e["teamId"] for e in only8} == {8}
    assert len(only8) == sum(e["teamId"] == 8 for e in events)
    edge = stamps[len(stamps) // 2]
    inclusive = org_events(r, edge, edge, pageSize=100)
    assert inclusive and all(int(e["timestamp"]) == edge for e in inclusive)
    # Team 7 is the simulator's own team: the same events as the team route.
    team7 = [e for e in events if e["teamId"] == 7]
    own = decimal_json(
        r.client.post("/teams/filtered-usage-events", json={"startDate": now - DAY, "endDate": now, "pageSize": 1000})
    )
    assert len(team7) == own["totalUsageEventsCount"]


# -- AI Code Tracking ---------------------------------------------------------------------------------


def test_ai_code_needs_enterprise(running):
    r = running()
    for path in ("/analytics/ai-code/commits", "/analytics/ai-code/changes"):
        response = r.client.get(path)
        assert response.status_code == 403
        assert response.json() == {"error": "Forbidden", "message": "Enterprise access required"}
    assert httpx.get(f"{r.server.url}/analytics/ai-code/commits").status_code == 401


def test_ai_code_etag_revalidation_is_not_rate_counted(running):
    r = running(enterprise=True, rate_limits=True)
    path = "/analytics/ai-code/commits"
    first = r.client.get(path, params={"startDate": "7d", "endDate": "now"})
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=900"
    etag = first.headers["ETag"]
    for _ in range(25):
        cached = r.client.get(path, params={"startDate": "7d", "endDate": "now"}, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b"" and cached.headers["ETag"] == etag
    statuses = [r.client.get(path, params={"page": 2}).status_code for _ in range(20)]
    assert statuses == [200] * 19 + [429]
    assert r.client.get("/analytics/ai-code/changes").status_code == 200  # its own budget
    assert "ETag" not in r.client.post("/teams/spend", json={}).headers


def test_ai_code_truth_equals_paged_commits(running):
    r = running(enterprise=True, users=25)
    now = r.sim.now_ms()
    start = (now - 14 * DAY) // DAY * DAY
    commits, page = [], 1
    while True:
        params = {"startDate": f"{time.strftime('%Y-%m-%d', time.gmtime(start / 1000))}", "endDate": "now"}
        payload = decimal_json(
            r.client.get("/analytics/ai-code/commits", params={**params, "page": page, "pageSize": 40})
        )
        assert set(payload) == {"items", "totalCount", "page", "pageSize"}
        commits.extend(payload["items"])
        if page * payload["pageSize"] >= payload["totalCount"]:
            assert len(commits) == payload["totalCount"]
            break
        page += 1
    by_repo: dict[tuple, dict] = {}
    by_user: dict[tuple, int] = defaultdict(int)
    for c in commits:
        repo = c["repoName"] or "unknown"
        row = by_repo.setdefault((repo, c["commitSource"]), defaultdict(int))
        row["commits"] += 1
        row["aiLinesAdded"] += c["tabLinesAdded"] + c["composerLinesAdded"]
        row["aiLinesDeleted"] += c["tabLinesDeleted"] + c["composerLinesDeleted"]
        row["nonAiLinesAdded"] += c["nonAiLinesAdded"] or 0
        row["nonAiLinesDeleted"] += c["nonAiLinesDeleted"] or 0
        by_user[(c["userEmail"], repo)] += c["tabLinesAdded"] + c["composerLinesAdded"]
        assert c["totalLinesAdded"] == c["tabLinesAdded"] + c["composerLinesAdded"] + (c["nonAiLinesAdded"] or 0)
        assert c["userId"].startswith("user_") and c["createdAt"].endswith("Z")
    truth = r.control.get("/_sim/truth/ai-code", params={"startDate": start, "endDate": now}).json()
    assert truth == r.sim.truth_ai_code(start, now)
    assert truth["totalCommits"] == len(commits)
    assert {
        (t["repo"], t["source"]): {k: t[k] for k in t if k not in ("repo", "source")} for t in truth["commits"]
    } == {k: dict(v) for k, v in by_repo.items()}
    assert {(u["email"], u["repo"]): u["aiLinesAdded"] for u in truth["users"]} == by_user
    repos = {c["repoName"] for c in commits}
    assert None in repos and 3 <= len(repos - {None}) <= 6
    assert {c["commitSource"] for c in commits} == {"ide", "cli", "cloud"}
    hashes = [c["commitHash"] for c in commits]
    assert len(set(hashes)) < len(hashes), "amend duplicates"
    created = [c["createdAt"] for c in commits]
    assert created == sorted(created, reverse=True)

    changes = decimal_json(r.client.get("/analytics/ai-code/changes", params={"pageSize": 1000}))
    assert changes["items"] and {c["source"] for c in changes["items"]} == {"TAB", "COMPOSER"}
    for change in changes["items"]:
        assert change["totalLinesAdded"] == sum(f["linesAdded"] for f in change["metadata"])
    assert r.client.get("/analytics/ai-code/commits", params={"pageSize": 1001}).status_code == 400
    assert r.client.get("/analytics/ai-code/commits", params={"startDate": "soon"}).status_code == 400
    one = r.sim.team.members[0].email
    mine = decimal_json(r.client.get("/analytics/ai-code/commits", params={"user": one, "pageSize": 1000}))
    assert all(c["userEmail"] == one for c in mine["items"])


# -- scale --------------------------------------------------------------------------------------------


def test_large_team_truth_and_full_scan_agree(running):
    r = running(users=5000, events_per_user_per_day=4, cycle_start_days_ago=1)
    truth = r.sim.truth()
    events, page = 0, 1
    while True:
        body = {"startDate": truth["cycleStart"], "endDate": truth["now"], "page": page, "pageSize": 1000}
        payload = r.client.post("/teams/filtered-usage-events", json=body).json()
        events += len(payload["usageEvents"])
        if not payload["pagination"]["hasNextPage"]:
            break
        page += 1
    assert events == sum(row["events"] for row in truth["usage"]) > 20_000
