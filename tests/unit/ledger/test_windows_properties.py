"""Property test of the usage-window planner: whatever the ledger's fetch history, the windows are ordered,
do not overlap, have inclusive bounds on whole hours, and cover exactly the due hours with no gap."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_exporter.ledger.windows import BucketState, hour_is_due, plan_windows
from cursor_exporter.timegrid import HOUR_MS, floor_hour

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@st.composite
def plans(draw: st.DrawFn) -> tuple[int, int, dict[int, BucketState], int, int]:
    """(first hour, sync end, bucket states, lookback, most hours per window) of a ledger at any point of its life."""
    first = T0 + draw(st.integers(0, 24 * 400)) * HOUR_MS
    sync_end = first + draw(st.integers(0, 24 * 14 * HOUR_MS))
    hours = range(first, floor_hour(sync_end) + 1, HOUR_MS)
    states = {}
    for hour in draw(st.lists(st.sampled_from(hours), unique=True, max_size=len(hours))):
        fetched_at = draw(st.integers(hour, sync_end + HOUR_MS))
        covered_until = draw(st.integers(hour - 1, hour + HOUR_MS - 1))
        states[hour] = BucketState(fetched_at, covered_until)
    lookback = draw(st.integers(1, 96)) * HOUR_MS
    return first, sync_end, states, lookback, draw(st.integers(1, 30))


@settings(max_examples=300, deadline=None)
@given(plans())
def test_windows_are_ordered_disjoint_whole_hours_covering_exactly_the_due_hours(plan):
    first, sync_end, states, lookback, most = plan
    windows = plan_windows(first, sync_end, states, lookback, most)
    due = [
        hour
        for hour in range(first, floor_hour(sync_end) + 1, HOUR_MS)
        if hour_is_due(hour, states.get(hour), sync_end, lookback)
    ]
    for window in windows:
        assert window.start_ms % HOUR_MS == 0 and first <= window.start_ms <= window.end_ms <= sync_end
        last_hour = window.hours[-1]
        assert window.end_ms == min(last_hour + HOUR_MS - 1, sync_end)  # inclusive: the hour's last ms, or the end
        assert 1 <= len(window.hours) <= most
    for earlier, later in itertools.pairwise(windows):
        assert earlier.end_ms < later.start_ms  # oldest first, no millisecond in two windows
    assert [hour for window in windows for hour in window.hours] == due  # every due hour once, no other
