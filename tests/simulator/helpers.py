"""Shared helpers of the simulator tests: a simulator on a frozen clock and paging loops."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from cursor_exporter.simulator import SimClock, SimServer, Simulator, SimulatorConfig

KEY = "crsr_test_key"
ORG_KEY = "crsr_org_key"
HOUR = 3_600_000
DAY = 86_400_000
TUESDAY_NOON = 1_777_982_400_000  # 2026-05-05T12:00:00Z
SMALL_TEAM = {"users": 10, "events_per_user_per_day": 30, "cycle_start_days_ago": 3, "rate_limits": False}
BASE = {"users": 12, "events_per_user_per_day": 30, "cycle_start_days_ago": 3, "rate_limits": False}


def start(**overrides) -> tuple[Simulator, SimServer, httpx.Client]:
    clock = SimClock(start_ms=overrides.pop("start_ms", TUESDAY_NOON), speed=0)
    sim = Simulator(SimulatorConfig(**{**SMALL_TEAM, **overrides}), clock=clock)
    server = sim.serve()
    client = httpx.Client(base_url=server.url, auth=(KEY, ""), timeout=5)
    return sim, server, client


class Running:
    """A served simulator (``BASE`` team) with team-key, org-key and control clients."""

    def __init__(self, **overrides) -> None:
        clock = SimClock(start_ms=overrides.pop("start_ms", TUESDAY_NOON), speed=0)
        self.sim = Simulator(SimulatorConfig(**{**BASE, **overrides}), clock=clock)
        self.server = self.sim.serve()
        self.client = httpx.Client(base_url=self.server.url, auth=(KEY, ""), timeout=30)
        self.org = httpx.Client(base_url=self.server.url, auth=(ORG_KEY, ""), timeout=30)
        self.control = httpx.Client(base_url=self.server.url, timeout=30)

    def close(self) -> None:
        for client in (self.client, self.org, self.control):
            client.close()
        self.server.stop()


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
