"""Records refuse values that cannot be true, each under one reason, and the client's tally counts and logs them."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from cursor_exporter.api.client import ApiStats
from cursor_exporter.api.records import UsageEvent, iso_ms, parse_many, period_start_ms
from cursor_exporter.sources.activity import DailyRow
from cursor_exporter.sources.ai_code import AiCommit
from cursor_exporter.sources.audit import AuditEvent
from cursor_exporter.sources.groups import BillingGroup
from cursor_exporter.sources.members import Member
from cursor_exporter.sources.org_pool import PooledUsage
from cursor_exporter.sources.spend import MemberSpend

EVENTS = "/teams/filtered-usage-events"
GOOD = {"timestamp": "1750979225854", "userEmail": "a@b.c", "model": "gpt-5", "kind": "Usage-based"}
NOW_MS = 1_795_014_000_000  # 2026-11-18
DAY_MS = 86_400_000


def decoded(text: str):
    """JSON text as the client decodes it."""
    return json.loads(text, parse_float=Decimal)


def reasons(model, rows) -> dict[tuple[str, str], int]:
    """What the client's tally counts for a page of ``rows``."""
    _, errors = parse_many(model, rows)
    stats = ApiStats()
    stats.count_malformed(EVENTS, errors)
    return dict(stats.malformed_records)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"tokenUsage": {"inputTokens": 2**63}}, "out_of_range"),
        ({"tokenUsage": {"outputTokens": -5}}, "out_of_range"),
        ({"tokenUsage": {"cacheReadTokens": 10**10}}, "out_of_range"),
        ({"tokenUsage": {"inputTokens": "many"}}, "wrong_type"),
        ({"tokenUsage": {"inputTokens": Decimal("1.5")}}, "wrong_type"),
        ({"tokenUsage": {"discountPercentOff": 101}}, "out_of_range"),
        ({"chargedCents": -50000}, "out_of_range"),
        ({"chargedCents": Decimal("1e308")}, "out_of_range"),
        ({"chargedCents": float("nan")}, "out_of_range"),
        ({"cursorTokenFee": float("inf")}, "out_of_range"),
        ({"requestsCosts": 10**6}, "out_of_range"),
        ({"chargedCents": "12 cents"}, "wrong_type"),
        ({"userEmail": "dev\ud800@company.com"}, "bad_text"),
        ({"kind": "Usage\x00based"}, "bad_text"),
        ({"model": "m" * 8_000_000}, "bad_text"),
        ({"timestamp": "soon"}, "wrong_type"),
        ({"timestamp": -1}, "out_of_range"),
        ({"teamId": {"id": 7}}, "wrong_type"),
    ],
)
def test_a_hostile_event_is_left_out_under_its_reason(event, reason):
    assert reasons(UsageEvent, [GOOD, {**GOOD, **event}]) == {(EVENTS, reason): 1}


def test_a_row_missing_a_required_field_or_no_object_at_all_is_left_out():
    rows = [GOOD, {"userEmail": "a@b.c"}, ["not", "an", "object"], "text"]
    assert reasons(UsageEvent, rows) == {(EVENTS, "missing_field"): 1, (EVENTS, "wrong_type"): 2}


def test_values_at_the_edges_of_the_bounds_are_kept_exactly():
    event = UsageEvent.model_validate(
        decoded(
            '{"timestamp":"0","userEmail":"a@b.c","requestsCosts":999999.999,"chargedCents":99999999.999999,'
            '"tokenUsage":{"inputTokens":9999999999,"discountPercentOff":100,"totalCents":0}}'
        )
    )
    assert event.timestamp == 0
    assert event.token_usage.input_tokens == 10**10 - 1
    assert event.charged_cents == Decimal("99999999.999999")
    assert event.requests_costs == Decimal("999999.999")


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Member, {"email": "a@b.c", "name": "Ann \udc00"}),
        (Member, {"email": "a@b.c", "role": "r" * 1025}),
        (MemberSpend, {"email": "a@b.c", "spendCents": -1}),
        (MemberSpend, {"email": "a@b.c", "overallSpendCents": Decimal("1e12")}),
        (MemberSpend, {"email": "a@b.c", "effectivePerUserLimitDollars": float("nan")}),
        (DailyRow, {"date": 1710720000000, "totalLinesAdded": 2**63}),
        (DailyRow, {"date": 1710720000000, "chatRequests": Decimal("Infinity")}),
        (DailyRow, {"date": 1710720000000, "agentRequests": Decimal("2.5")}),
        (DailyRow, {"date": 1710720000000, "clientVersion": "1.\x00"}),
        (AiCommit, {"userEmail": "a@b.c", "tabLinesAdded": -3}),
        (BillingGroup, {"name": "g", "memberCount": -1}),
        (BillingGroup, {"name": "g", "currentMembers": [{"email": "\ud83d"}]}),
        (AuditEvent, {"event_id": "evt_1", "timestamp": "not a date"}),
        (AuditEvent, {"event_id": "evt_1", "timestamp": Decimal("Infinity")}),
        (AuditEvent, {"event_id": ["evt_1"], "timestamp": "2026-01-01T00:00:00Z"}),
    ],
)
def test_every_record_model_refuses_impossible_values(model, row):
    parsed, errors = parse_many(model, [row])
    assert parsed == [] and len(errors) == 1


def test_a_pool_with_an_impossible_figure_or_contract_start_is_refused():
    body = {"pool": {"usedCents": 10, "remainingCents": -5, "contractStartDate": "2026-01-01T00:00:00Z"}, "teams": []}
    assert PooledUsage.from_api(body).remaining_cents == -5  # an overdrawn pool
    for pool in ({"usedCents": -1}, {"limitCents": float("nan")}, {"contractStartDate": "someday"}):
        with pytest.raises(ValueError, match="validation error"):
            PooledUsage.from_api({"pool": pool})
    assert PooledUsage.from_api({"pool": ["not", "an", "object"]}).used_cents == 0


def test_iso_ms_reads_numbers_digit_strings_and_iso_and_refuses_the_rest_without_raising():
    assert iso_ms("2026-12-31T23:59:59.999Z") == 1798761599999
    assert iso_ms("1750979225854") == iso_ms(1750979225854) == iso_ms(Decimal("1750979225854")) == 1750979225854
    for unusable in (Decimal("Infinity"), Decimal("NaN"), Decimal("1.5"), True, "9" * 30, "x\ud800", None, [1]):
        assert iso_ms(unusable) is None


@pytest.mark.parametrize(
    "start", [0, "1970-01-01T00:00:00Z", 1_672_531_199_999, NOW_MS + DAY_MS + 1, "soon", None, 10**40, -(10**40)]
)
def test_a_period_start_before_2023_or_over_a_day_ahead_is_refused(start):
    with pytest.raises(ValueError, match=r"2023-01-01|timestamp"):
        period_start_ms(start, NOW_MS)


def test_a_period_start_since_2023_and_up_to_a_day_ahead_is_kept():
    assert period_start_ms(1_672_531_200_000, NOW_MS) == 1_672_531_200_000
    assert period_start_ms(NOW_MS + DAY_MS, NOW_MS) == NOW_MS + DAY_MS
    assert period_start_ms("2026-01-01T00:00:00.000Z", NOW_MS) == 1_767_225_600_000


def test_each_endpoint_reason_and_field_is_logged_once_and_every_record_counted(caplog):
    rows = [
        {**GOOD, "chargedCents": -1},
        {**GOOD, "chargedCents": -2},  # same field and reason: counted, not logged again
        {**GOOD, "cursorTokenFee": -1},  # another field
        {**GOOD, "userEmail": "\ud800"},  # another reason
    ]
    stats = ApiStats()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            stats.count_malformed(EVENTS, parse_many(UsageEvent, rows)[1])
    assert stats.malformed_records == {(EVENTS, "out_of_range"): 6, (EVENTS, "bad_text"): 2}
    logged = [message for message in caplog.messages if "malformed record" in message]
    assert len(logged) == 3
    assert any("(out_of_range): chargedCents:" in message for message in logged)
    assert all("\ud800" not in message for message in logged)


def test_a_nested_field_is_named_without_row_indexes(caplog):
    _, errors = parse_many(BillingGroup, [{"currentMembers": [{"email": "a@b.c"}, {"email": "\x00"}]}])
    stats = ApiStats()
    with caplog.at_level(logging.WARNING):
        stats.count_malformed("/teams/groups", errors)
    assert stats.malformed_records == {("/teams/groups", "bad_text"): 1}
    assert "(bad_text): currentMembers.email: text holds a NUL character" in caplog.text


def test_the_scanners_call_without_a_reason_counts_events_outside_the_window():
    stats = ApiStats()
    stats.count_malformed(EVENTS, [ValueError("event timestamp outside the requested window")] * 2)
    assert stats.malformed_records == {(EVENTS, "outside_window"): 2}
