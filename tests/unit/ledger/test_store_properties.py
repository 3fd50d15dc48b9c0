"""Property tests: a valid record's values, anywhere within the records' bounds, survive the SQLite store
exactly, read back by a store opened afresh as after a restart."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_exporter.api.records import UsageEvent
from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.tally import EMPTY, Tally, UsageKey, add
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.ledger.windows import Window
from cursor_exporter.sources.activity import DailyRow
from cursor_exporter.sources.groups import BillingGroup
from cursor_exporter.sources.members import Member
from cursor_exporter.sources.spend import MemberSpend
from cursor_exporter.timegrid import DAY_MS, HOUR_MS, floor_day, floor_hour
from tests.unit.api.strategies import (
    VALID_DAILY_ROW,
    VALID_EVENT,
    VALID_GROUP,
    VALID_MEMBER,
    VALID_MEMBER_SPEND,
)

EXAMPLES = settings(max_examples=25, deadline=None)  # each opens SQLite twice, with fsync
HOUR = st.integers(0, 2**40 // HOUR_MS).map(lambda n: n * HOUR_MS)


def one_event(event: UsageEvent) -> Tally:
    """The tally of one event, read field by field from the record."""
    tokens = event.token_usage
    counts = (0, 0, 0, 0)
    if tokens is not None:
        counts = (tokens.input_tokens, tokens.output_tokens, tokens.cache_write_tokens, tokens.cache_read_tokens)
    return Tally(1, *counts, event.charged, event.cursor_token_fee or 0, event.requests_costs)


@contextmanager
def reopened() -> Iterator[Callable[[], Store]]:
    """A fresh ledger directory, and a way to open its store again as a restart would."""
    opened: list[Store] = []
    with tempfile.TemporaryDirectory() as directory:

        def store() -> Store:
            for earlier in opened:
                earlier.close()
            opened.append(Store(Path(directory)))
            return opened[-1]

        try:
            yield store
        finally:
            opened[-1].close()


@EXAMPLES
@given(HOUR, st.lists(st.tuples(st.integers(0, HOUR_MS - 1), VALID_EVENT), min_size=1, max_size=5))
def test_valid_events_survive_the_ledger_and_a_restart_exactly(hour, rows):
    events = [UsageEvent.model_validate({**row, "timestamp": str(hour + offset)}) for offset, row in rows]
    expected: dict[UsageKey, Any] = {}
    for event in events:
        key = UsageKey(event.user_email, event.model, event.kind, event.max_mode, event.source)
        expected[key] = add(expected.get(key, EMPTY), one_event(event))
    with reopened() as store:
        Ledger(store()).replace_window(Window(hour, hour + HOUR_MS - 1), events, fetched_at_ms=hour + HOUR_MS)
        ledger = Ledger(store())
        assert {key: tally for _, key, tally in ledger.hours(hour, hour)} == expected
        assert dict(ledger.view().counters) == expected


@EXAMPLES
@given(st.lists(VALID_DAILY_ROW, min_size=1, max_size=4, unique_by=lambda row: row["email"]))
def test_valid_daily_rows_survive_the_store_exactly(raw):
    parsed = [DailyRow.model_validate(row) for row in raw]
    day = floor_day(parsed[0].date)
    rows = [(day, r.email, r.is_active, r.client_version, r.most_used_model, r.counters) for r in parsed]
    with reopened() as store:
        store().replace_activity([day], rows, fetched_at=day + DAY_MS)
        assert sorted(store().activity_rows(day)) == sorted(rows)


STATE_MODELS = st.one_of(
    st.tuples(st.just(MemberSpend), st.lists(VALID_MEMBER_SPEND, max_size=4)),
    st.tuples(st.just(Member), st.lists(VALID_MEMBER, max_size=4)),
    st.tuples(st.just(BillingGroup), st.lists(VALID_GROUP, max_size=3)),
)


@EXAMPLES
@given(STATE_MODELS)
def test_valid_rows_kept_as_state_survive_the_store_exactly(case):
    model, raw = case
    records = [model.model_validate(row) for row in raw]
    with reopened() as store:
        store().set_json("rows", [record.model_dump(mode="json", by_alias=True) for record in records])
        assert [model.model_validate(row) for row in store().get_json("rows")] == records


@EXAMPLES
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), HOUR, VALID_EVENT), max_size=4, unique_by=lambda r: r[0]))
def test_records_stored_by_id_keep_their_labels_exactly(raw):
    # Audit events are stored by id with their label values; any text a record may hold comes back intact.
    rows = [(record_id, floor_hour(at), (event["model"], event["kind"])) for record_id, at, event in raw]
    with reopened() as store:
        store().add_records("audit_event", rows)
        counts = store().count_records("audit_event")
    expected: dict[tuple[str, ...], int] = {}
    for _, _, labels in rows:
        expected[labels] = expected.get(labels, 0) + 1
    assert counts == expected
