"""The simulator's synthetic team, event generator and clock (no HTTP)."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest

from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.simulator.catalog import CURSOR_TOKEN_FEE_CENTS_PER_TOKEN, MODELS
from cursor_exporter.simulator.events import REVISION_AFTER_MS
from cursor_exporter.simulator.team import Team
from cursor_exporter.simulator.units import DAY_MS, HOUR_MS

EPOCH = 1_777_939_200_000  # 2026-05-05T00:00:00Z, a Tuesday
WEEK = 7 * DAY_MS


def make_team(seed: int = 42, users: int = 25, **kwargs: bool) -> Team:
    return Team(seed=seed, users=users, events_per_user_per_day=40, epoch_ms=EPOCH, **kwargs)


@pytest.fixture(scope="module")
def week_of_events():
    return list(make_team().events_between(EPOCH - WEEK, EPOCH - 1))


def test_hours_are_the_same_in_any_query_order():
    hours = range(EPOCH // HOUR_MS - 48, EPOCH // HOUR_MS)
    forward = [make_team().events_in_hour(h) for h in hours]
    backward_team = make_team()
    backward = [backward_team.events_in_hour(h) for h in reversed(hours)]
    assert forward == list(reversed(backward))
    assert make_team(seed=43).events_in_hour(hours[10]) != forward[10]


def test_events_are_ordered_and_inside_their_hour():
    team = make_team()
    hour = EPOCH // HOUR_MS + 14
    events = team.events_in_hour(hour)
    assert events
    assert [(e.timestamp_ms, e.sequence) for e in events] == sorted((e.timestamp_ms, e.sequence) for e in events)
    assert all(hour * HOUR_MS <= e.timestamp_ms < (hour + 1) * HOUR_MS for e in events)


def test_volume_follows_working_hours_and_the_configured_mean(week_of_events):
    member_events = [e for e in week_of_events if e.member_index is not None]
    per_user_day = len(member_events) / 25 / 7
    assert 15 < per_user_day < 80
    offsets = {m.index: m.persona.utc_offset_h for m in make_team().members}
    local_hours = Counter((e.timestamp_ms // HOUR_MS + offsets[e.member_index]) % 24 for e in member_events)
    assert sum(local_hours[h] for h in range(9, 18)) > 0.75 * len(member_events)
    assert sum(local_hours[h] for h in (*range(0, 7), 23)) > 0
    weekend = sum(1 for e in member_events if ((e.timestamp_ms // DAY_MS) + 3) % 7 >= 5)
    assert 0 < weekend < len(member_events) * 0.1


def test_cost_arithmetic_and_token_fee(week_of_events):
    for event in week_of_events:
        usage = event.token_usage
        if event.kind in ("Included in Business", "Usage-based"):
            if usage is not None:
                expected = usage.total_cents * (1 - (usage.discount_percent_off or 0) / 100) + (
                    event.cursor_token_fee or 0
                )
                assert event.charged_cents == expected
            else:
                assert event.charged_cents > 0
        else:
            assert event.charged_cents == 0
            assert event.cursor_token_fee is None
        if event.cursor_token_fee is not None:
            assert usage is not None and MODELS[event.model].third_party
            assert event.cursor_token_fee == usage.total_tokens * CURSOR_TOKEN_FEE_CENTS_PER_TOKEN
        if event.model.startswith("composer-"):
            assert event.cursor_token_fee is None
    assert any(repr(e.charged_cents).__len__() > 12 for e in week_of_events), "float noise"


def test_event_mix_is_realistic(week_of_events):
    kinds = Counter(e.kind for e in week_of_events)
    assert {
        "Included in Business",
        "Usage-based",
        "Errored, Not Charged",
        "User API Key",
        "Aborted, Not Charged",
    } <= set(kinds)
    assert kinds["Included in Business"] + kinds["Usage-based"] > 0.85 * len(week_of_events)
    assert 0.10 < sum(e.max_mode for e in week_of_events) / len(week_of_events) < 0.20
    assert any(e.token_usage is None and e.requests_costs % 1 for e in week_of_events)
    assert any(e.kind == "Errored, Not Charged" and e.requests_costs > 0 for e in week_of_events)
    assert any(not e.is_chargeable and e.charged_cents > 0 for e in week_of_events)
    assert any(
        e.token_usage and e.token_usage.total_cents == 0 and e.token_usage.total_tokens > 1000 for e in week_of_events
    )
    assert any(e.token_usage and e.token_usage.discount_percent_off for e in week_of_events)
    assert "default" in {e.model for e in week_of_events}
    usage = [e.token_usage for e in week_of_events if e.token_usage]
    assert sum(u.cache_read_tokens for u in usage) > 5 * sum(u.output_tokens for u in usage)


def test_agents_service_accounts_and_duplicates(week_of_events):
    service = [e for e in week_of_events if e.service_account_id]
    assert service and all(e.is_headless and e.member_index is None for e in service)
    assert {e.email for e in service} >= {"nightly-ci@serviceaccount.cursor.com"}
    assert any(e.service_account_name == "Nightly CI Agent" for e in service)
    cloud = [e for e in week_of_events if e.cloud_agent_id]
    assert cloud and all(e.is_headless and e.hosting_type == "CLOUD" for e in cloud)
    assert any(e.automation_id and e.member_index is not None for e in week_of_events)
    assert any(e.is_headless and not (e.cloud_agent_id or e.automation_id) for e in week_of_events)
    keys = Counter((e.timestamp_ms, e.email, e.model) for e in week_of_events)
    assert any(count > 1 for count in keys.values())


def test_arrival_delays_and_revisions(week_of_events):
    delays = [e.visible_at_ms - e.timestamp_ms for e in week_of_events]
    assert min(delays) >= 0 and max(delays) < HOUR_MS
    slow = sum(d > 10 * 60_000 for d in delays) / len(delays)
    assert 0.02 < slow < 0.08
    revised = [e for e in week_of_events if e.revised_charged_cents is not None]
    assert 0.01 < len(revised) / len(week_of_events) < 0.03
    assert any(e.revised_charged_cents > e.charged_cents for e in revised)
    assert any(e.revised_charged_cents < e.charged_cents for e in revised)
    event = revised[0]
    assert event.charged_cents_at(event.timestamp_ms + REVISION_AFTER_MS - 1) == event.charged_cents
    assert event.charged_cents_at(event.timestamp_ms + REVISION_AFTER_MS) == event.revised_charged_cents
    payload = event.payload(event.timestamp_ms + REVISION_AFTER_MS)
    assert payload["chargedCents"] == event.revised_charged_cents


def test_toggles_do_not_shift_other_events():
    hour = EPOCH // HOUR_MS - 10
    full = make_team().events_in_hour(hour)
    plain = make_team(late_arrivals=False, revisions=False).events_in_hour(hour)
    assert [(e.timestamp_ms, e.email, e.model, e.charged_cents) for e in full] == [
        (e.timestamp_ms, e.email, e.model, e.charged_cents) for e in plain
    ]
    assert all(e.visible_at_ms == e.timestamp_ms and e.revised_charged_cents is None for e in plain)


def test_roster():
    team = make_team()
    roles = Counter(m.role for m in team.members)
    assert roles["owner"] == 2 and roles["free-owner"] == 1
    assert sum(m.is_removed for m in team.members) == 2
    assert sum(m.name is None for m in team.members) == 1
    assert len({m.email for m in team.members}) == 25
    assert all(m.email == m.email.lower() and m.string_id.startswith("user_") for m in team.members)
    assert any(m.persona.activity == 0 for m in team.members)


def test_payload_omits_optional_keys(week_of_events):
    now = EPOCH
    request_based = next(e for e in week_of_events if e.token_usage is None)
    payload = request_based.payload(now)
    assert "tokenUsage" not in payload and "cursorTokenFee" not in payload
    assert payload["isTokenBasedCall"] is False and isinstance(payload["timestamp"], str)
    legacy = request_based.payload(now, legacy_2025=True)
    assert "chargedCents" not in legacy and legacy["cursorTokenFee"] == 0


def test_truth_sums_exact_decimals():
    clock = SimClock(start_ms=EPOCH + 12 * HOUR_MS, speed=0)
    sim = Simulator(SimulatorConfig(users=8, cycle_start_days_ago=2), clock=clock)
    truth = sim.truth()
    now = clock.now_ms()
    events = sim.visible_events(truth["startDate"], truth["endDate"], now)
    expected = sum((Decimal(repr(e.charged_cents_at(now))) for e in events), Decimal(0))
    assert sum(Decimal(row["chargedCents"]) for row in truth["users"]) == expected
    assert sum(row["events"] for row in truth["usage"]) == len(events)
    assert truth["cycleStart"] == EPOCH - 2 * DAY_MS


def test_clock_frozen_running_set_and_advance():
    frozen = SimClock(start_ms=1_000, speed=0)
    assert frozen.now_ms() == 1_000
    frozen.advance(500)
    assert frozen.now_ms() == 1_500
    frozen.set(10)
    assert frozen.now_ms() == 10
    fast = SimClock(start_ms=0, speed=1000)
    time.sleep(0.02)
    assert fast.now_ms() >= 20_000
    real = SimClock()
    assert abs(real.now_ms() - time.time() * 1000) < 60_000  # the wall clock, give or take a busy machine
    with pytest.raises(ValueError):
        SimClock(speed=-1)
