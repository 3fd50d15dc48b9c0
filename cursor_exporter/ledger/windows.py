"""Planning of usage-event fetch windows over hourly buckets.

The ledger stores usage per UTC hour. A fetch window is a run of consecutive hours fetched with one
paged scan and inclusive epoch-ms bounds, ending at a fixed instant in the past. Hours stay
"unsettled" while younger than the settle lookback and are re-fetched on a schedule that is tight
for recent hours and loose for older ones; once an hour has been fetched after it passed the
lookback it is settled and never fetched again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cursor_exporter.timegrid import HOUR_MS, floor_hour

MAX_WINDOW_HOURS = 24


@dataclass(frozen=True)
class BucketState:
    """When an hour was last fetched, and up to which instant (inclusive) that fetch covered it."""

    fetched_at_ms: int
    covered_until_ms: int


@dataclass(frozen=True)
class Window:
    """Inclusive range [start_ms, end_ms] covering whole hours, except a still-open last hour."""

    start_ms: int
    end_ms: int

    @property
    def hours(self) -> range:
        """Start of every hour bucket the window touches."""
        return range(self.start_ms, self.end_ms + 1, HOUR_MS)

    def halves(self) -> tuple[Window, Window] | None:
        """The window split at the hour in its middle, oldest first; None for a single hour."""
        hours = self.hours
        if len(hours) < 2:
            return None
        middle = hours[len(hours) // 2]
        return Window(self.start_ms, middle - 1), Window(middle, self.end_ms)


def refetch_interval_ms(age_ms: int, lookback_ms: int) -> int:
    """How stale a fetch of an hour that ended ``age_ms`` ago may be before it is fetched again.

    Late events and cost revisions mostly land within hours, so the newest sixteenth of the
    lookback (3 h of 48 h) is re-read every sync, the next quarter hourly, the rest every 6 h.
    """
    if age_ms < lookback_ms // 16:
        return 0
    if age_ms < lookback_ms // 4:
        return HOUR_MS
    return 6 * HOUR_MS


def is_settled(hour_start: int, state: BucketState | None, lookback_ms: int) -> bool:
    """True once an hour has been fully fetched after it became older than the lookback."""
    return state is not None and state.fetched_at_ms - (hour_start + HOUR_MS) >= lookback_ms


def hour_is_due(hour_start: int, state: BucketState | None, sync_end_ms: int, lookback_ms: int) -> bool:
    """Whether the hour starting at ``hour_start`` must be (re-)fetched by a sync ending at ``sync_end_ms``."""
    hour_end = hour_start + HOUR_MS - 1
    if state is None or state.covered_until_ms < min(hour_end, sync_end_ms):
        return True
    if is_settled(hour_start, state, lookback_ms):
        return False
    age = sync_end_ms - (hour_end + 1)
    if age >= lookback_ms:
        return True
    return sync_end_ms - state.fetched_at_ms >= refetch_interval_ms(age, lookback_ms)


def plan_windows(
    first_hour_ms: int,
    sync_end_ms: int,
    states: Mapping[int, BucketState],
    lookback_ms: int,
    max_window_hours: int = MAX_WINDOW_HOURS,
) -> list[Window]:
    """Windows covering every due hour from ``first_hour_ms`` up to ``sync_end_ms``, oldest first.

    Consecutive due hours share a window (one paged scan) of at most ``max_window_hours``.
    """
    windows: list[Window] = []
    run_start: int | None = None
    run_hours = 0
    last_hour = floor_hour(sync_end_ms)
    for hour in range(first_hour_ms, last_hour + 1, HOUR_MS):
        if hour_is_due(hour, states.get(hour), sync_end_ms, lookback_ms):
            if run_start is None:
                run_start, run_hours = hour, 0
            run_hours += 1
            if run_hours == max_window_hours:
                windows.append(Window(run_start, min(hour + HOUR_MS - 1, sync_end_ms)))
                run_start = None
        elif run_start is not None:
            windows.append(Window(run_start, hour - 1))
            run_start = None
    if run_start is not None:
        windows.append(Window(run_start, min(last_hour + HOUR_MS - 1, sync_end_ms)))
    return windows


def first_unsettled_hour(
    first_hour_ms: int, sync_end_ms: int, states: Mapping[int, BucketState], lookback_ms: int
) -> int:
    """The oldest hour not yet settled: planning may start there next time."""
    hour = first_hour_ms
    while hour <= floor_hour(sync_end_ms) and is_settled(hour, states.get(hour), lookback_ms):
        hour += HOUR_MS
    return hour
