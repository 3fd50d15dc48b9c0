import sqlite3
from decimal import Decimal

import pytest

from cursor_exporter.api.records import UsageEvent
from cursor_exporter.ledger.store import DB_FILENAME, SCHEMA_VERSION, Store
from cursor_exporter.ledger.tally import UsageKey
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.ledger.windows import Window
from cursor_exporter.timegrid import HOUR_MS

T0 = 1_767_225_600_000
KEY = UsageKey("a@b.c", "gpt-5", "Usage-based", False, "ide")


def event(ts: int, cents: str, email: str = "a@b.c", tokens: int = 10) -> UsageEvent:
    return UsageEvent.model_validate(
        {
            "timestamp": str(ts),
            "userEmail": email,
            "model": "gpt-5",
            "kind": "Usage-based",
            "maxMode": False,
            "isTokenBasedCall": True,
            "requestsCosts": Decimal("1.5"),
            "chargedCents": Decimal(cents),
            "tokenUsage": {"inputTokens": tokens, "outputTokens": 1, "cacheWriteTokens": 0, "cacheReadTokens": 0},
        }
    )


def test_refetching_a_window_replaces_it_instead_of_adding(tmp_path):
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    window = Window(T0, T0 + 2 * HOUR_MS - 1)
    events = [event(T0 + 5, "0.1"), event(T0 + 5, "0.1"), event(T0 + HOUR_MS, "0.2")]
    for _ in range(3):
        ledger.replace_window(window, events, fetched_at_ms=T0 + 3 * HOUR_MS)
    view = ledger.view()
    assert view.counters[KEY].events == 3  # same-millisecond twins both count: no dedupe by content
    assert view.counters[KEY].charged_cents == Decimal("0.4")
    assert view.counters[KEY].request_units == Decimal("4.5")
    assert view.cycle[KEY].charged_cents == Decimal("0.4")


def test_downward_revision_lowers_cycle_gauge_but_not_the_counter(tmp_path):
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    window = Window(T0, T0 + HOUR_MS - 1)
    ledger.replace_window(window, [event(T0 + 1, "10"), event(T0 + 2, "5")], T0 + HOUR_MS)
    result = ledger.replace_window(window, [event(T0 + 1, "7"), event(T0 + 2, "5")], T0 + 2 * HOUR_MS)
    assert result.revised_down
    view = ledger.view()
    assert view.cycle[KEY].charged_cents == Decimal("12")
    assert view.counters[KEY].charged_cents == Decimal("15")
    assert view.revised[KEY].charged_cents == Decimal("3")
    ledger.replace_window(window, [event(T0 + 1, "7"), event(T0 + 2, "5"), event(T0 + 3, "1")], T0 + 3 * HOUR_MS)
    view = ledger.view()
    assert view.counters[KEY].charged_cents == Decimal("15")  # 13 is below the hour's peak: the counter holds
    assert view.revised[KEY].charged_cents == Decimal("2")
    ledger.replace_window(window, [event(T0 + 1, "7"), event(T0 + 2, "5"), event(T0 + 3, "4")], T0 + 4 * HOUR_MS)
    view = ledger.view()
    assert view.counters[KEY].charged_cents == Decimal("16")  # past the peak, it rises with the hour again
    assert view.counters[KEY].charged_cents - view.revised[KEY].charged_cents == view.cycle[KEY].charged_cents


def test_restart_restores_counters_cycle_and_bucket_state(tmp_path):
    store = Store(tmp_path)
    ledger = Ledger(store)
    ledger.set_cycle_start(T0)
    window = Window(T0, T0 + HOUR_MS - 1)
    ledger.replace_window(window, [event(T0 + 1, "0.333333333333333314829616256247")], T0 + HOUR_MS)
    ledger.replace_window(window, [event(T0 + 1, "0.1")], T0 + 2 * HOUR_MS)
    before = ledger.view()
    store.close()
    reopened = Ledger(Store(tmp_path))
    after = reopened.view()
    assert dict(after.counters) == dict(before.counters)
    assert dict(after.revised) == dict(before.revised)
    assert dict(after.cycle) == dict(before.cycle)
    assert reopened.bucket_states(T0)[T0].fetched_at_ms == T0 + 2 * HOUR_MS


def test_new_cycle_resets_cycle_gauges_and_keeps_counters(tmp_path):
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    ledger.replace_window(Window(T0, T0 + HOUR_MS - 1), [event(T0 + 1, "2")], T0 + HOUR_MS)
    next_cycle = T0 + 30 * 24 * HOUR_MS
    ledger.set_cycle_start(next_cycle)
    ledger.replace_window(Window(next_cycle, next_cycle + HOUR_MS - 1), [event(next_cycle, "3")], next_cycle + HOUR_MS)
    view = ledger.view()
    assert view.cycle[KEY].charged_cents == Decimal("3")
    assert view.counters[KEY].charged_cents == Decimal("5")


def test_a_window_that_comes_back_empty_removes_what_it_held(tmp_path):
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    window = Window(T0, T0 + HOUR_MS - 1)
    ledger.replace_window(window, [event(T0 + 1, "2", tokens=100)], T0 + HOUR_MS)
    ledger.replace_window(window, [], T0 + 2 * HOUR_MS)
    view = ledger.view()
    assert KEY not in view.cycle
    assert view.counters[KEY].input_tokens == 100
    assert view.revised[KEY].input_tokens == 100


# The usage tables as schema 1 wrote them (before organization events gave the key a team column).
SCHEMA_1 = """
CREATE TABLE usage_hours (
    hour_start INTEGER NOT NULL, user NOT NULL, model NOT NULL, kind NOT NULL, max_mode NOT NULL, source NOT NULL,
    events NOT NULL, input_tokens NOT NULL, output_tokens NOT NULL, cache_write_tokens NOT NULL,
    cache_read_tokens NOT NULL, charged_cents NOT NULL, token_fee_cents NOT NULL, request_units NOT NULL,
    PRIMARY KEY (hour_start, user, model, kind, max_mode, source)
) WITHOUT ROWID;
CREATE TABLE usage_totals (
    user NOT NULL, model NOT NULL, kind NOT NULL, max_mode NOT NULL, source NOT NULL,
    events NOT NULL, input_tokens NOT NULL, output_tokens NOT NULL, cache_write_tokens NOT NULL,
    cache_read_tokens NOT NULL, charged_cents NOT NULL, token_fee_cents NOT NULL, request_units NOT NULL,
    revised_events NOT NULL, revised_input_tokens NOT NULL, revised_output_tokens NOT NULL,
    revised_cache_write_tokens NOT NULL, revised_cache_read_tokens NOT NULL, revised_charged_cents NOT NULL,
    revised_token_fee_cents NOT NULL, revised_request_units NOT NULL,
    PRIMARY KEY (user, model, kind, max_mode, source)
) WITHOUT ROWID;
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO state VALUES ('schema_version', '1'), ('cycle_start_ms', '1767225600000');
INSERT INTO usage_hours VALUES (1767225600000, 'a@b.c', 'gpt-5', 'Usage-based', 0, 'ide', 2, 20, 2, 0, 0,
    '0.3', '0', '3.0');
INSERT INTO usage_totals VALUES ('a@b.c', 'gpt-5', 'Usage-based', 0, 'ide', 2, 20, 2, 0, 0, '0.3', '0', '3.0',
    0, 0, 0, 0, 0, '0.25', '0', '0');
"""


def test_a_schema_1_ledger_is_migrated_in_place_and_keeps_every_figure(tmp_path):
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        db.executescript(SCHEMA_1)
    store = Store(tmp_path)
    assert store.get_state("schema_version") == str(SCHEMA_VERSION)
    view = Ledger(store).view()
    assert set(view.counters) == {KEY}  # the team column is empty for a team's own usage
    assert view.counters[KEY].charged_cents == Decimal("0.55")  # total 0.3 plus 0.25 revised down
    assert view.counters[KEY].events == 2
    assert view.cycle[KEY].charged_cents == Decimal("0.3")
    # The migrated ledger takes new windows with the new key as usual: the hour is replaced, not added.
    Ledger(store).replace_window(Window(T0, T0 + HOUR_MS - 1), [event(T0 + 1, "0.4")], T0 + HOUR_MS)
    store.close()
    after = Ledger(Store(tmp_path)).view()
    assert set(after.counters) == {KEY}
    assert after.cycle[KEY].charged_cents == Decimal("0.4")
    assert after.counters[KEY].charged_cents == Decimal("0.65")  # 0.4 now, 0.25 revised before
    assert (after.counters[KEY].events, after.cycle[KEY].events) == (2, 1)  # the counter does not fall


def test_a_migration_that_fails_midway_leaves_the_schema_1_ledger_as_it_was(tmp_path):
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        db.executescript(SCHEMA_1)
        # The second table's rebuild will fail after the first one's succeeded.
        db.execute("CREATE TABLE usage_totals_v1 (blocker)")
    with pytest.raises(sqlite3.OperationalError):
        Store(tmp_path)
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("SELECT value FROM state WHERE key = 'schema_version'").fetchone() == ("1",)
        assert "team" not in {row[1] for row in db.execute("PRAGMA table_info(usage_hours)")}
        db.execute("DROP TABLE usage_totals_v1")
    assert Ledger(Store(tmp_path)).view().counters[KEY].charged_cents == Decimal("0.55")


def test_an_earlier_period_start_moves_planning_back_to_fetch_it(tmp_path):
    ledger = Ledger(Store(tmp_path), by_team=True)
    ledger.set_cycle_start(T0 + 48 * HOUR_MS)  # a fallback start first, later the real contract start
    ledger.set_planning_start(T0 + 50 * HOUR_MS)
    ledger.set_cycle_start(T0 + 1)
    assert ledger.planning_start() == T0
    ledger.set_cycle_start(T0 + 72 * HOUR_MS)  # a later start (a renewal) leaves planning where it is
    assert ledger.planning_start() == T0


def test_only_an_organization_ledger_keys_usage_by_team(tmp_path):
    window = Window(T0, T0 + HOUR_MS - 1)
    org_event = event(T0 + 1, "1").model_copy(update={"team_id": "7"})
    team_ledger = Ledger(Store(tmp_path / "team"))
    team_ledger.replace_window(window, [org_event], T0 + HOUR_MS)
    assert set(team_ledger.view().counters) == {KEY}
    org_ledger = Ledger(Store(tmp_path / "org"), by_team=True)
    org_ledger.replace_window(window, [org_event, event(T0 + 2, "2")], T0 + HOUR_MS)
    counters = org_ledger.view().counters
    assert {key.team: tally.charged_cents for key, tally in counters.items()} == {"7": 1, "unknown": 2}
