"""Property tests of the records at the edge: whatever a page holds, parsing never raises, and every row
is either a record whose every value is sane or counted once, under one of the closed set of reasons.

Rows pass through JSON text and the client's decoding (floats as Decimal, NaN and Infinity as floats,
escaped lone surrogates back as lone surrogates), as they would from the API.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from cursor_exporter.api.client import ApiStats
from cursor_exporter.api.records import MAX_TEXT, REASONS, Record, UsageEvent, parse_many
from cursor_exporter.sources.activity import COUNTERS, DailyRow
from cursor_exporter.sources.ai_code import AiCommit
from cursor_exporter.sources.audit import AuditEvent
from cursor_exporter.sources.groups import BillingGroup
from cursor_exporter.sources.members import Member
from cursor_exporter.sources.spend import MemberSpend
from tests.unit.api.strategies import VALID_EVENT

SQLITE_INTEGERS = range(-(2**63), 2**63)
EXAMPLES = settings(max_examples=60, deadline=None)

LONG_TEXT = st.integers(MAX_TEXT - 2, MAX_TEXT + 2).map(lambda n: "é" * n)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "x\x00y", "", "  MiXeD@Case.IO "]),
    LONG_TEXT,
)
HOSTILE_NUMBER = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**63, 2**63 - 1, -50_000, 10**10, 10**8]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 0.5, 37.33, 2.5e-7]),
    st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{1,5})?", fullmatch=True),
    st.sampled_from(["abc", "NaN", "1e400", "Infinity"]),
)
HOSTILE_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    HOSTILE_NUMBER,
    HOSTILE_TEXT,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def mostly(valid: st.SearchStrategy, hostile: st.SearchStrategy = HOSTILE_VALUE) -> st.SearchStrategy:
    """Nineteen draws in twenty from ``valid``, so that pages hold records to keep as well as ones to refuse."""
    return st.integers(0, 19).flatmap(lambda n: hostile if n == 0 else valid)


TEXT = mostly(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20), HOSTILE_TEXT)
COUNT = mostly(st.integers(0, 10**6), HOSTILE_NUMBER)
MONEY = mostly(st.floats(0, 1e6), HOSTILE_NUMBER)
FLAG = mostly(st.booleans())
ID = mostly(st.one_of(st.integers(0, 10**9), st.text(max_size=10)))
TIMESTAMP = mostly(
    st.one_of(st.integers(0, 2**45), st.integers(0, 2**45).map(str), st.just("2026-01-01T00:00:00Z")),
    st.one_of(st.sampled_from(["2026-13-01", "-1", "1" * 30]), HOSTILE_VALUE),
)


def rows_of(fields: dict[str, st.SearchStrategy], required: tuple[str, ...] = ()) -> st.SearchStrategy:
    """Rows of ``fields``: mostly with the required ones, sometimes with any subset, sometimes no object."""
    optional = {name: value for name, value in fields.items() if name not in required}
    complete = st.fixed_dictionaries({name: fields[name] for name in required}, optional=optional)
    return mostly(mostly(complete, st.fixed_dictionaries({}, optional=fields)))


def through_json(rows: Any) -> Any:
    """``rows`` as the client decodes them from the API's text."""
    return json.loads(json.dumps(rows), parse_float=Decimal)


TOKEN_USAGE = rows_of(
    {
        **dict.fromkeys(("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens"), COUNT),
        "totalCents": MONEY,
        "discountPercentOff": mostly(st.integers(0, 100), HOSTILE_NUMBER),
    }
)
PAGES = {
    UsageEvent: rows_of(
        {
            "timestamp": TIMESTAMP,
            "userEmail": TEXT,
            "model": TEXT,
            "kind": TEXT,
            "maxMode": FLAG,
            "requestsCosts": MONEY,
            "chargedCents": MONEY,
            "cursorTokenFee": MONEY,
            "tokenUsage": mostly(TOKEN_USAGE),
            "serviceAccountId": ID,
            "teamId": ID,
        },
        required=("timestamp", "userEmail"),
    ),
    Member: rows_of({"id": ID, "name": TEXT, "email": TEXT, "role": TEXT, "isRemoved": FLAG}),
    MemberSpend: rows_of(
        {
            "userId": ID,
            "email": TEXT,
            "spendCents": MONEY,
            "overallSpendCents": MONEY,
            "effectivePerUserLimitDollars": MONEY,
        }
    ),
    DailyRow: rows_of(
        {
            "email": TEXT,
            "date": TIMESTAMP,
            "isActive": FLAG,
            "clientVersion": TEXT,
            "mostUsedModel": TEXT,
            **dict.fromkeys(COUNTERS, COUNT),
        },
        required=("date",),
    ),
    AiCommit: rows_of(
        {
            "userEmail": TEXT,
            "repoName": TEXT,
            "commitSource": TEXT,
            **dict.fromkeys(("tabLinesAdded", "composerLinesDeleted", "nonAiLinesAdded"), COUNT),
        }
    ),
    BillingGroup: rows_of(
        {
            "id": ID,
            "name": TEXT,
            "memberCount": COUNT,
            "spendCents": MONEY,
            "currentMembers": mostly(st.lists(rows_of({"email": TEXT, "spendCents": MONEY}), max_size=3)),
        }
    ),
    AuditEvent: rows_of(
        {"event_id": ID, "timestamp": TIMESTAMP, "event_type": TEXT, "application_type": TEXT},
        required=("event_id", "timestamp"),
    ),
}


def assert_sane(value: Any, where: str) -> None:
    """Every number finite, non-negative and within SQLite's integers; every text encodable, NUL-free, short."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            assert_sane(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, tuple):
        for item in value:
            assert_sane(item, where)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        assert value >= 0 and value in SQLITE_INTEGERS, where
    elif isinstance(value, Decimal):
        assert value.is_finite() and 0 <= value < 10**12, where
    elif isinstance(value, str):
        value.encode()  # no lone surrogate
        assert "\x00" not in value and len(value) <= MAX_TEXT, where
    else:
        raise AssertionError(f"{where}: unexpected {type(value).__name__}")


def check_page(model: type[Record], rows: list) -> None:
    decoded = through_json(rows)
    parsed, errors = parse_many(model, decoded)
    assert len(parsed) + len(errors) == len(rows)
    for record in parsed:
        assert_sane(record, model.__name__)
    stats = ApiStats()
    stats.count_malformed("/endpoint", errors)
    assert sum(stats.malformed_records.values()) == len(errors)
    assert {reason for _, reason in stats.malformed_records} <= set(REASONS)


@st.composite
def model_and_page(draw: st.DrawFn) -> tuple[type[Record], list]:
    model = draw(st.sampled_from(list(PAGES)))
    return model, draw(st.lists(PAGES[model], max_size=8))


@EXAMPLES
@given(model_and_page())
def test_any_page_parses_without_raising_into_sane_records_and_once_counted_rest(case):
    check_page(*case)


@EXAMPLES
@given(st.lists(PAGES[UsageEvent], min_size=1, max_size=8))
def test_any_page_of_usage_events_parses_without_raising_into_sane_records_and_once_counted_rest(rows):
    check_page(UsageEvent, rows)


@EXAMPLES
@given(VALID_EVENT)
def test_a_valid_event_anywhere_within_the_bounds_is_accepted_with_its_exact_values(row):
    event = UsageEvent.model_validate(row)  # numbers as the client decodes them: Decimal, never float
    assert event.timestamp == int(row["timestamp"])
    assert event.user_email == row["userEmail"]
    assert (event.model, event.kind, event.max_mode) == (row["model"], row["kind"], row["maxMode"])
    assert event.charged_cents == row["chargedCents"]
    assert event.requests_costs == row["requestsCosts"]
    assert event.token_usage.input_tokens == row["tokenUsage"]["inputTokens"]
    assert event.token_usage.total_cents == row["tokenUsage"]["totalCents"]
