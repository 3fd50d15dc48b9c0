"""Period sums exact to the millisecond, rollovers onto a stored hour, and counters that never double count."""

from decimal import Decimal

import pytest

from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.tally import bucket_finder
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.ledger.windows import Window, plan_windows
from cursor_exporter.timegrid import HOUR_MS

from .test_ledger import KEY, T0, event

OFFSETS = (0, 1, 17 * 60_000 + 23_456, HOUR_MS - 1)  # HH:00:00.000, .001, HH:17:23.456, HH:59:59.999
HOUR = Window(T0, T0 + HOUR_MS - 1)
NEXT_HOUR = Window(T0 + HOUR_MS, T0 + 2 * HOUR_MS - 1)


def around(start: int) -> list:
    """Two events in the millisecond before the start, two in its very millisecond, one after, all in one
    or two hours: the cycle must take exactly the last three."""
    return [
        event(start - 1, "1.25"),
        event(start - 1, "2.5"),
        event(start, "4.125"),
        event(start, "8"),
        event(start + 1, "16.0625"),
    ]


def cents(events: list, since: int) -> Decimal:
    return sum((e.charged for e in events if e.timestamp >= since), Decimal(0))


def replace_covering(ledger: Ledger, events: list, fetched_at: int) -> None:
    for window in (Window(T0 - HOUR_MS, T0 - 1), HOUR, NEXT_HOUR):
        inside = [e for e in events if window.start_ms <= e.timestamp <= window.end_ms]
        ledger.replace_window(window, inside, fetched_at)


@pytest.mark.parametrize("offset", OFFSETS)
def test_the_cycle_sums_events_from_its_start_to_the_millisecond(tmp_path, offset):
    start = T0 + offset
    events = around(start)
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(start)
    replace_covering(ledger, events, T0 + 3 * HOUR_MS)
    view = ledger.view()
    assert view.cycle[KEY].charged_cents == cents(events, start) == Decimal("28.1875")
    assert view.cycle[KEY].events == 3
    assert view.counters[KEY].charged_cents == cents(events, 0)
    assert sum(charge.all for charge in view.cycle_hourly.values()) == cents(events, start)
    reopened = Ledger(Store(tmp_path)).view()  # a restart reads the same figures, without a fetch
    assert dict(reopened.cycle) == dict(view.cycle) and dict(reopened.counters) == dict(view.counters)


@pytest.mark.parametrize("offset", OFFSETS)
def test_a_rollover_onto_a_stored_hour_waits_for_that_hour_to_be_fetched_split(tmp_path, offset):
    old_start, new_start = T0 - 30 * 24 * HOUR_MS, T0 + offset
    events = around(new_start)
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(old_start)
    replace_covering(ledger, events, T0 + 3 * HOUR_MS)
    assert ledger.view().cycle[KEY].charged_cents == cents(events, old_start)

    ledger.set_cycle_start(new_start)
    split_inside_hour = new_start % HOUR_MS != 0
    assert ledger.pending_start_ms == (new_start if split_inside_hour else None)
    if split_inside_hour:  # until then the gauges keep the old cycle's exact figure, never a mix
        assert ledger.view().cycle_start_ms == old_start
        due = plan_windows(ledger.planning_start(), T0 + 3 * HOUR_MS, ledger.bucket_states(T0 - HOUR_MS), HOUR_MS)
        assert any(w.start_ms <= new_start <= w.end_ms for w in due)
        reopened = Ledger(Store(tmp_path))  # a restart keeps waiting for the same hour
        assert (reopened.pending_start_ms, reopened.cycle_start_ms) == (new_start, old_start)
        ledger = reopened
    counters_before = ledger.view().counters[KEY]
    replace_covering(ledger, events, T0 + 4 * HOUR_MS)
    view = ledger.view()
    assert view.cycle_start_ms == new_start and ledger.pending_start_ms is None
    assert view.cycle[KEY].charged_cents == cents(events, new_start)
    assert view.counters[KEY] == counters_before  # re-splitting an hour moves no counter
    assert dict(Ledger(Store(tmp_path)).view().cycle) == dict(view.cycle)


def test_a_window_flipping_between_its_truth_and_empty_or_short_answers_ends_at_the_truth(tmp_path):
    start = T0 + 17 * 60_000 + 23_456
    truth = around(start)
    answers = [[], truth[:2], truth[1:], []]
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(start)
    replace_covering(ledger, truth, T0)
    seen = []
    for flip in range(20):
        if flip % 5 == 4:  # and across restarts
            ledger = Ledger(Store(tmp_path))
        replace_covering(ledger, answers[flip % len(answers)], T0 + flip)
        seen.append(ledger.view().counters[KEY])
        replace_covering(ledger, truth, T0 + flip)
        seen.append(ledger.view().counters[KEY])
    final = Ledger(Store(tmp_path)).view()
    assert all(counter == final.counters[KEY] for counter in seen)  # never lower, never higher
    assert final.counters[KEY].charged_cents == cents(truth, 0)
    assert final.counters[KEY].events == len(truth)
    assert final.revised.get(KEY) is None or final.revised[KEY].charged_cents == 0
    assert final.cycle[KEY].charged_cents == cents(truth, start)


def test_a_genuine_downward_revision_holds_the_counter_at_the_hours_peak(tmp_path):
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    ledger.replace_window(HOUR, [event(T0 + 1, "10")], T0 + HOUR_MS)
    ledger.replace_window(HOUR, [event(T0 + 1, "6")], T0 + 2 * HOUR_MS)
    view = ledger.view()
    assert (view.counters[KEY].charged_cents, view.revised[KEY].charged_cents) == (Decimal(10), Decimal(4))
    assert view.cycle[KEY].charged_cents == Decimal(6)
    ledger.replace_window(NEXT_HOUR, [event(T0 + HOUR_MS, "3")], T0 + 2 * HOUR_MS)
    assert ledger.view().counters[KEY].charged_cents == Decimal(13)  # other hours count as usual


def test_buckets_split_only_inside_their_own_hour():
    bucket = bucket_finder([T0 + 5, T0 + 9, T0 + HOUR_MS])
    assert [bucket(t) for t in (T0, T0 + 4, T0 + 5, T0 + 8, T0 + 9, T0 + HOUR_MS - 1)] == [
        T0,
        T0,
        T0 + 5,
        T0 + 5,
        T0 + 9,
        T0 + 9,
    ]
    assert bucket(T0 + HOUR_MS + 7) == T0 + HOUR_MS  # a start on the hour splits nothing


def test_a_ledger_from_before_split_hours_fetches_its_starts_hour_again(tmp_path):
    start = T0 + 17 * 60_000
    store = Store(tmp_path)
    ledger = Ledger(store)
    ledger.set_cycle_start(start)
    ledger.replace_window(HOUR, around(start), T0 + 2 * HOUR_MS)
    store.set_json("period_starts_ms", [])  # as a ledger written before starts were split kept it
    store.close()
    upgraded = Ledger(Store(tmp_path))
    assert T0 in upgraded.bucket_states(T0)  # opening it writes nothing (export opens it read-only)
    upgraded.set_cycle_start(start)  # the first sync after the upgrade
    assert T0 not in upgraded.bucket_states(T0)
    upgraded.replace_window(HOUR, around(start), T0 + 3 * HOUR_MS)
    assert upgraded.view().cycle[KEY].charged_cents == cents(around(start), start)


def test_hours_past_the_retention_leave_the_ledger_but_not_its_counters_and_are_never_planned_again(tmp_path):
    day = 24 * HOUR_MS
    old, recent = Window(T0, T0 + HOUR_MS - 1), Window(T0 + 500 * day, T0 + 500 * day + HOUR_MS - 1)
    ledger = Ledger(Store(tmp_path))
    ledger.set_cycle_start(T0)
    ledger.replace_window(old, [event(T0 + 1, "2")], T0 + 3 * day)
    ledger.set_cycle_start(recent.start_ms)  # a later cycle: the old hour is no longer the period's
    ledger.replace_window(recent, [event(recent.start_ms + 1, "3")], recent.start_ms + 3 * day)
    counters = ledger.view().counters
    ledger.drop_hours_before(recent.start_ms - 400 * day)
    reopened = Ledger(Store(tmp_path))
    assert dict(reopened.view().counters) == dict(counters)  # 5 cents: the dropped hour's 2 stay counted
    assert counters[KEY].charged_cents == Decimal(5)
    assert reopened.first_hour() == recent.start_ms
    assert list(reopened.hours(T0, T0 + HOUR_MS)) == []
    reopened.set_cycle_start(T0 + 17)  # even an earlier start does not plan a dropped hour again
    assert reopened.planning_start() == recent.start_ms - 400 * day
    due = plan_windows(reopened.planning_start(), recent.end_ms, reopened.bucket_states(0), HOUR_MS)
    assert all(window.start_ms >= recent.start_ms - 400 * day for window in due)
