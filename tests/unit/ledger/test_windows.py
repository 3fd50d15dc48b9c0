import itertools

from cursor_exporter.ledger.windows import (
    HOUR_MS,
    BucketState,
    Window,
    first_unsettled_hour,
    floor_hour,
    hour_is_due,
    plan_windows,
)

LOOKBACK = 48 * HOUR_MS
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, on an hour boundary


def test_floor_hour_keeps_boundaries_and_rounds_down_inside_an_hour():
    assert floor_hour(T0) == T0
    assert floor_hour(T0 + HOUR_MS - 1) == T0
    assert floor_hour(T0 + HOUR_MS) == T0 + HOUR_MS


def test_first_plan_covers_every_hour_once_with_inclusive_non_overlapping_bounds():
    sync_end = T0 + 50 * HOUR_MS + 123
    windows = plan_windows(T0, sync_end, {}, LOOKBACK)
    assert windows[0].start_ms == T0
    assert windows[-1].end_ms == sync_end
    for earlier, later in itertools.pairwise(windows):
        assert later.start_ms == earlier.end_ms + 1  # inclusive bounds: next start is previous end + 1 ms
    assert all(len(w.hours) <= 24 for w in windows)
    covered = [hour for w in windows for hour in w.hours]
    assert covered == list(range(T0, floor_hour(sync_end) + 1, HOUR_MS))


def test_fresh_hours_are_refetched_every_sync_older_hours_less_often():
    sync_end = T0 + 100 * HOUR_MS
    fetched_recently = sync_end - 10 * 60_000
    states = {h: BucketState(fetched_recently, h + HOUR_MS - 1) for h in range(T0, sync_end, HOUR_MS)}
    states[floor_hour(sync_end)] = BucketState(fetched_recently, fetched_recently)
    recent_hour = floor_hour(sync_end) - 2 * HOUR_MS
    mid_hour = floor_hour(sync_end) - 8 * HOUR_MS
    old_hour = floor_hour(sync_end) - 30 * HOUR_MS
    assert hour_is_due(recent_hour, states[recent_hour], sync_end, LOOKBACK)
    assert not hour_is_due(mid_hour, states[mid_hour], sync_end, LOOKBACK)
    assert not hour_is_due(old_hour, states[old_hour], sync_end, LOOKBACK)
    two_hours_later = sync_end + 2 * HOUR_MS
    assert hour_is_due(mid_hour, states[mid_hour], two_hours_later, LOOKBACK)
    assert not hour_is_due(old_hour, states[old_hour], two_hours_later, LOOKBACK)
    assert hour_is_due(old_hour, states[old_hour], sync_end + 7 * HOUR_MS, LOOKBACK)


def test_an_hour_fetched_after_passing_the_lookback_is_settled_for_good():
    hour = T0
    settle_fetch = hour + HOUR_MS + LOOKBACK
    state = BucketState(settle_fetch, hour + HOUR_MS - 1)
    assert not hour_is_due(hour, state, settle_fetch + 365 * 24 * HOUR_MS, LOOKBACK)
    not_yet = BucketState(settle_fetch - 1, hour + HOUR_MS - 1)
    assert hour_is_due(hour, not_yet, settle_fetch + 1, LOOKBACK)


def test_partially_covered_current_hour_is_due_again():
    sync_end = T0 + 30 * 60_000
    state = {T0: BucketState(sync_end, sync_end)}
    assert plan_windows(T0, sync_end + 60_000, state, LOOKBACK) == [Window(T0, sync_end + 60_000)]


def test_only_due_runs_are_planned_and_settled_prefix_is_skipped():
    sync_end = T0 + 200 * HOUR_MS
    states = {h: BucketState(sync_end, h + HOUR_MS - 1) for h in range(T0, floor_hour(sync_end), HOUR_MS)}
    settled_until = floor_hour(sync_end) - LOOKBACK - HOUR_MS
    assert first_unsettled_hour(T0, sync_end, states, LOOKBACK) == settled_until + HOUR_MS
    windows = plan_windows(T0, sync_end, states, LOOKBACK)
    # Everything was just fetched: only the hours of the every-sync tier (the newest sixteenth of the
    # lookback, 3 h) and the still-open current hour are due, as one window.
    assert windows == [Window(floor_hour(sync_end) - LOOKBACK // 16, sync_end)]


def test_a_window_halves_at_its_middle_hour_into_two_that_cover_it_exactly():
    window = Window(T0 + 5 * HOUR_MS, T0 + 10 * HOUR_MS + 59_999)  # hours 5 to 10, the last one still open
    older, newer = window.halves()
    assert (older, newer) == (Window(T0 + 5 * HOUR_MS, T0 + 8 * HOUR_MS - 1), Window(T0 + 8 * HOUR_MS, window.end_ms))
    assert [*older.hours, *newer.hours] == [*window.hours]
    assert Window(T0, T0 + HOUR_MS - 1).halves() is None
