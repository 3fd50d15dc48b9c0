"""The fast reading of usage-event pages gives exactly what the full model gives, row for row.

Every row goes through JSON text, as from the API, and is read two ways: the scanner's (``decode_page``,
then ``read_figures``, and ``UsageEvent`` for the rows it declines) and the reference (``json.loads`` with
Decimal, then ``UsageEvent``). They must agree on every row, hostile ones included, to the last digit.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cursor_exporter.api.event_figures import decode_page, read_figures
from cursor_exporter.api.records import UsageEvent
from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from tests.unit.api.strategies import VALID_EVENT
from tests.unit.api.test_record_properties import HOSTILE_VALUE, MONEY, PAGES, TEXT, mostly

EXAMPLES = settings(max_examples=150, deadline=None)
PYTHON_NAMES = st.fixed_dictionaries(
    {}, optional={"user_email": TEXT, "charged_cents": MONEY, "max_mode": HOSTILE_VALUE, "input_tokens": MONEY}
)
# Cursor's float noise (shortest forms of 16 and 17 digits), and numbers no double holds exactly.
ODD_NUMBERS = st.sampled_from(
    ["40.16699999999999", "0.30000000000000004", "0.10000000000000001", "2.00000000000000000001",
     "12345678901234567890", "1e-7", "1.2345678901234567e-05", "-0.0", "99999999.99999999"]
)  # fmt: skip


def json_text(value: Any) -> str:
    """``value`` as JSON text, Decimals written as the numbers they are."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{json_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return str(value) if isinstance(value, Decimal) else json.dumps(value)


def full_model(row: Any) -> tuple | None:
    try:
        return UsageEvent.model_validate(row).figures()
    except ValidationError:
        return None


def both_ways(rows: list) -> tuple[list, list]:
    """Each row's figures as the scanner reads them, and as the reference does."""
    text = json_text({"usageEvents": rows}).encode()
    fast = [read_figures(row) or full_model(row) for row in decode_page(text)["usageEvents"]]
    return fast, [full_model(row) for row in json.loads(text, parse_float=Decimal)["usageEvents"]]


@EXAMPLES
@given(st.lists(PAGES[UsageEvent], min_size=1, max_size=6))
def test_hostile_rows_read_fast_give_what_the_full_model_gives(rows):
    fast, reference = both_ways(rows)
    assert fast == reference


@EXAMPLES
@given(st.lists(st.tuples(PAGES[UsageEvent], PYTHON_NAMES), min_size=1, max_size=4))
def test_rows_using_python_field_names_are_read_as_the_model_reads_them(pairs):
    rows = [{**row, **extra} if isinstance(row, dict) else row for row, extra in pairs]
    fast, reference = both_ways(rows)
    assert fast == reference


@EXAMPLES
@given(VALID_EVENT, st.dictionaries(st.sampled_from(["chargedCents", "requestsCosts", "cursorTokenFee"]), ODD_NUMBERS))
def test_numbers_no_float_holds_exactly_keep_their_exact_value(row, odd):
    row = {**row, **{key: Decimal(text) for key, text in odd.items()}}
    fast, reference = both_ways([row, {**row, "tokenUsage": {"totalCents": Decimal(odd.get("chargedCents", "1"))}}])
    assert fast == reference


@settings(max_examples=500, deadline=None)
@given(mostly(st.floats(allow_nan=False, allow_infinity=False), st.floats(min_value=0, max_value=1e8)))
def test_orjsons_shortest_form_of_a_float_is_reprs(number):
    assert Decimal(orjson.dumps(number).decode()) == Decimal(repr(number))


def test_a_body_with_a_number_longer_than_its_double_is_decoded_exactly():
    exact = b'{"a": 0.10000000000000001, "b": 40.16699999999999}'
    assert decode_page(exact) == {"a": Decimal("0.10000000000000001"), "b": Decimal("40.16699999999999")}
    noise = b'{"a": 0.30000000000000004, "b": 40.16699999999999, "c": "2026-12-02-2026-12-02"}'
    assert decode_page(noise) == {"a": 0.30000000000000004, "b": 40.16699999999999, "c": "2026-12-02-2026-12-02"}
    assert isinstance(decode_page(noise)["a"], float)  # float noise in shortest form takes the fast decoder
    digits = b'{"a": 0.5, "id": "12345678901234567890"}'  # a long number in text: decoded exactly, to be sure
    assert decode_page(digits) == {"a": Decimal("0.5"), "id": "12345678901234567890"}


def test_every_row_the_simulator_serves_is_read_fast_and_exactly():
    sim = Simulator(SimulatorConfig(users=40, cycle_start_days_ago=2), clock=SimClock(start_ms=1795014000000, speed=0))
    now = sim.now_ms()
    rows = [event.payload(now) for event in sim.visible_events(now - 86_400_000, now, now)]
    legacy = [event.payload(now, legacy_2025=True) for event in sim.visible_events(now - 86_400_000, now, now)]
    assert len(rows) > 500
    for page in (rows, legacy):
        text = json.dumps({"usageEvents": page}).encode()
        fast = [read_figures(row) for row in decode_page(text)["usageEvents"]]
        reference = [full_model(row) for row in json.loads(text, parse_float=Decimal)["usageEvents"]]
        assert None not in fast  # not one row left to the slow path
        assert fast == reference
