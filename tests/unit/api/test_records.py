import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cursor_exporter.api.records import UsageEvent, parse_many
from cursor_exporter.sources.members import Member
from cursor_exporter.sources.spend import MemberSpend


def _decoded(text: str):
    return json.loads(text, parse_float=Decimal)


def test_event_with_string_numbers_unknown_fields_and_fractional_cents_parses_exactly():
    event = UsageEvent.model_validate(
        _decoded(
            '{"timestamp":"1750979225854","userEmail":"Dev@Company.com","model":"claude-4.5-sonnet",'
            '"kind":"Usage-based","maxMode":true,"requestsCosts":"5","isTokenBasedCall":true,'
            '"isChargeable":true,"isHeadless":false,"somethingNew":{"x":1},'
            '"tokenUsage":{"inputTokens":"126","outputTokens":450,"cacheWriteTokens":6112,'
            '"cacheReadTokens":11964,"totalCents":20.18232},"chargedCents":40.16699999999999,"cursorTokenFee":1.18}'
        )
    )
    assert event.timestamp == 1750979225854
    assert event.user_email == "dev@company.com"
    assert event.charged == Decimal("40.16699999999999")
    assert event.token_usage.input_tokens == 126
    assert event.requests_costs == Decimal(5)
    assert event.source == "ide"


def test_request_based_event_without_token_usage_counts_no_tokens():
    event = UsageEvent.model_validate(
        _decoded(
            '{"timestamp":"1750978339901","userEmail":"a@b.c","model":"claude-4-sonnet-thinking",'
            '"kind":"Included in Business","maxMode":true,"requestsCosts":1.4,"isTokenBasedCall":false,'
            '"isChargeable":false,"isHeadless":false,"chargedCents":8}'
        )
    )
    assert event.token_usage is None
    assert event.charged == Decimal(8)
    assert event.requests_costs == Decimal("1.4")


def test_legacy_event_without_charged_cents_falls_back_to_discounted_total_plus_fee():
    event = UsageEvent.model_validate(
        _decoded(
            '{"timestamp":"1","userEmail":"a@b.c","model":"m","kind":"Usage-based","maxMode":false,'
            '"requestsCosts":1,"isTokenBasedCall":true,"cursorTokenFee":1.18,'
            '"tokenUsage":{"inputTokens":1,"outputTokens":1,"cacheWriteTokens":0,"cacheReadTokens":0,'
            '"totalCents":40.167,"discountPercentOff":10}}'
        )
    )
    assert event.charged == Decimal("40.167") * Decimal("0.9") + Decimal("1.18")


@pytest.mark.parametrize(
    ("fields", "source"),
    [
        ({"serviceAccountId": "sa_1"}, "service_account"),
        ({"cloudAgentId": "c1", "isHeadless": True}, "cloud_agent"),
        ({"automationId": "a1", "isHeadless": True}, "automation"),
        ({"isHeadless": True}, "headless"),
        ({}, "ide"),
    ],
)
def test_event_source_is_derived_from_its_identifiers(fields, source):
    event = UsageEvent.model_validate({"timestamp": 1, "userEmail": "a@b.c", **fields})
    assert event.source == source


def test_ids_may_be_ints_or_strings_or_absent():
    assert Member.model_validate({"id": 12345, "email": "a@b.c", "role": "member"}).id == "12345"
    assert Member.model_validate({"id": "user_abc", "email": "a@b.c"}).id == "user_abc"
    assert Member.model_validate({"email": "a@b.c", "name": None}).id is None
    assert MemberSpend.model_validate({"userId": 7, "email": "a@b.c", "spendCents": "12.5"}).spend_cents == Decimal(
        "12.5"
    )


def test_unparseable_rows_are_returned_as_errors_and_the_rest_parse():
    rows = [{"timestamp": "1", "userEmail": "a@b.c"}, {"userEmail": "no-timestamp@b.c"}, {"timestamp": "x"}]
    parsed, errors = parse_many(UsageEvent, rows)
    assert len(parsed) == 1
    assert len(errors) == 2
    assert all(isinstance(error, ValidationError) for error in errors)
    assert parse_many(UsageEvent, None) == ([], [])


def test_iso_timestamps_are_exact_milliseconds_and_utc_without_a_zone():
    from cursor_exporter.api.records import iso_ms

    assert iso_ms("2026-12-31T23:59:59.999Z") == 1798761599999
    assert iso_ms("2026-01-01T00:00:00") == iso_ms("2026-01-01T00:00:00+00:00") == 1767225600000
    assert iso_ms("2026-01-01T01:00:00+01:00") == 1767225600000
    assert iso_ms("not a date") is None and iso_ms(None) is None
