"""The simulator's shortcuts for large teams serve exactly what the straightforward computation serves.

An events page is picked from per-hour index runs with cached event JSON, and spend rows come from
per-email sums kept at one instant and moved to the next by what arrives or is revised in between.
Here both are checked, byte for byte, against the plain reading (filter every event of the range at
``now``) on a small team with late arrivals and revisions, on a stepped clock that goes forward and
back, at instants where hours are still settling; going back after a later ``now`` filled the caches
is what a cache that ignored ``now`` would get wrong.

Timing at scale (the simulator of ``benchmarks/performance.py``'s cold start, 10,000 seats)::

    sim = Simulator(SimulatorConfig(users=10000, events_per_user_per_day=30, cycle_start_days_ago=10,
                                    rate_limits=False), clock=SimClock(start_ms=1795014000000, speed=0))
    server = sim.serve()
    # POST /teams/filtered-usage-events {startDate, endDate (24 h), page, pageSize: 1000}: every page
    # POST /teams/spend {page, pageSize: 100}: pages 1 to 100
"""

from __future__ import annotations

import base64
import decimal
import json
from collections import Counter
from decimal import Decimal

import pytest

from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.simulator.api import handle_api
from cursor_exporter.simulator.events import KIND_USAGE_BASED
from cursor_exporter.simulator.filters import event_matches, events_page
from cursor_exporter.simulator.hours import EventJson
from cursor_exporter.simulator.money import exact, served_number

from .helpers import DAY, HOUR, KEY, TUESDAY_NOON

T = TUESDAY_NOON + 17 * 60_000 + 123  # not on an hour
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
# Forward, back to before the later instants' caches, forward again: hours settling at most of them.
NOWS = (T + 2 * DAY, T, T + 7 * 60_000, T + 50 * 60_000, T + 6 * HOUR + 60_000, T - 90 * 60_000, T + 2 * DAY)


def make_sim(**overrides) -> Simulator:
    config = {"users": 12, "events_per_user_per_day": 30, "cycle_start_days_ago": 3, "rate_limits": False}
    return Simulator(SimulatorConfig(**{**config, **overrides}), clock=SimClock(start_ms=T, speed=0))


def served_events(sim: Simulator, body: dict) -> bytes:
    response = handle_api(sim, "POST", "/teams/filtered-usage-events", {}, AUTH, json.dumps(body).encode())
    assert response.status == 200, response.body
    return response.body


def reference_events(sim: Simulator, body: dict) -> bytes:
    """The events route read plainly: every event of the range filtered at now, newest first, one page."""
    now = sim.now_ms()
    start, end, page, size = body["startDate"], body["endDate"], body["page"], body["pageSize"]
    hosting = body.get("hostingType")
    events = [e for e in sim.visible_events(start, end, now) if event_matches(sim.team, e, body, hosting)]
    events.reverse()
    rows = [e.payload(now, sim.config.legacy_2025) for e in events[(page - 1) * size : page * size]]
    payload = {**events_page(len(events), page, size, rows), "period": {"startDate": start, "endDate": end}}
    return json.dumps(payload, separators=(",", ":")).encode()


def assert_every_page_matches(sim: Simulator, body: dict) -> int:
    """Every page of ``body``'s range, and one past the last, as the reference; returns the event count."""
    page = 1
    while True:
        request = {**body, "page": page}
        served = served_events(sim, request)
        assert served == reference_events(sim, request), (request, sim.now_ms())
        pagination = json.loads(served)["pagination"]
        if page > pagination["numPages"]:
            return json.loads(served)["totalUsageEventsCount"]
        page += 1


def settling(sim: Simulator, start: int, end: int) -> tuple[int, int]:
    """Events of the range at now not visible yet, and visible ones whose revision is still to come."""
    now = sim.now_ms()
    events = list(sim.team.events_between(start, min(end, now)))
    hidden = sum(e.visible_at_ms > now for e in events)
    unrevised = sum(e.visible_at_ms <= now and not e.is_final_at(now) for e in events)
    return hidden, unrevised


@pytest.mark.parametrize("page_size", [1000, 37])
def test_events_pages_are_the_plain_reading_at_every_instant(page_size):
    sim = make_sim()
    windows = ((T - 24 * HOUR, T + HOUR), (T - 8 * HOUR + 17, T + 30 * 60_000 - 1), (T - 30 * HOUR, T - 6 * HOUR))
    for now in NOWS:
        sim.clock.set(now)
        for start, end in windows:
            body = {"startDate": start, "endDate": end, "pageSize": page_size}
            assert_every_page_matches(sim, body)
    sim.clock.set(T)
    hidden, unrevised = settling(sim, T - 24 * HOUR, T + HOUR)
    assert hidden and unrevised, "the instants should catch events arriving late and revisions to come"


def test_pages_are_the_plain_reading_when_few_hours_of_json_are_kept():
    sim = make_sim()
    sim.event_json = EventJson(hours=2)
    for now in (T + 2 * DAY, T + 20 * 60_000, T + 2 * DAY):
        sim.clock.set(now)
        assert assert_every_page_matches(sim, {"startDate": T - 30 * HOUR, "endDate": T, "pageSize": 37}) > 0


def test_filtered_pages_are_the_plain_reading():
    sim = make_sim()
    sim.clock.set(T + 10 * 60_000)
    email = sim.team.members[1].email
    user_id = sim.team.members[4].int_id
    for filters in (
        {"email": email.upper()},
        {"userId": str(user_id)},
        {"userId": "*"},
        {"hostingType": "CLOUD"},
        {"serviceAccountId": "*"},
        {"email": "*", "cloudAgentId": "*"},
        {"automationId": "*", "hostingType": "SELF_HOSTED"},
    ):
        body = {"startDate": T - 2 * DAY, "endDate": T, "pageSize": 5, **filters}
        assert assert_every_page_matches(sim, body) > 0 or filters.get("hostingType") == "SELF_HOSTED"


def test_retention_and_the_legacy_shape_are_the_plain_reading():
    sim = make_sim(retention_days=1, legacy_2025=True)
    for now in NOWS:
        sim.clock.set(now)
        assert assert_every_page_matches(sim, {"startDate": now - 2 * DAY, "endDate": now, "pageSize": 100}) > 0


def reference_spend(sim: Simulator, now: int) -> list[tuple[str, str, str, int]]:
    """Spend rows read plainly: the cycle's events visible now, summed again."""
    cycle_start, _ = sim.cycle_bounds(now)
    overall: dict[str, Decimal] = {}
    on_demand: dict[str, Decimal] = {}
    premium: Counter[str] = Counter()
    for event in sim.visible_events(cycle_start, now, now, apply_retention=False):
        charged = exact(event.charged_cents_at(now))
        overall[event.email] = overall.get(event.email, Decimal(0)) + charged
        if event.kind == KIND_USAGE_BASED:
            on_demand[event.email] = on_demand.get(event.email, Decimal(0)) + charged
            premium[event.email] += 1
    return [
        (
            m.email,
            repr(served_number(on_demand.get(m.email, Decimal(0)))),
            repr(served_number(overall.get(m.email, Decimal(0)))),
            premium[m.email],
        )
        for m in sim.team.members
        if not m.is_removed
    ]


def served_spend(sim: Simulator, now: int) -> list[tuple[str, str, str, int]]:
    rows = sim.spend_rows(now)
    return [(r["email"], repr(r["spendCents"]), repr(r["overallSpendCents"]), r["fastPremiumRequests"]) for r in rows]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"cycle_start_offset_ms": 5_000_123, "boundary_events": True}, {"late_arrivals": False, "revisions": False}],
)
def test_spend_rows_are_the_plain_sums_at_every_instant(overrides):
    sim = make_sim(**overrides)
    cycle_start, cycle_end = sim.cycle_bounds(T)
    nows = [
        *NOWS,
        cycle_start,  # nothing of the cycle yet
        cycle_start + 1,
        cycle_start + 3 * 60_000,  # inside the cycle's first hour
        cycle_start + HOUR + 1,
        *(T - 13 * HOUR + step * 11 * 60_000 for step in range(12)),  # minute steps across settling hours
        cycle_end + 2 * HOUR,  # the next cycle: its own sums
        T + HOUR,  # and back
        cycle_end - 1,
    ]
    with decimal.localcontext() as context:
        context.traps[decimal.Inexact] = context.traps[decimal.Rounded] = True  # the sums must stay exact
        for now in nows:
            assert served_spend(sim, now) == reference_spend(sim, now), now
    assert any(row[2] != "0" for row in served_spend(sim, T))
