import io
from decimal import Decimal

from cursor_exporter.commands.backfill import Progress, cumulative_series, render_bar, write_openmetrics
from cursor_exporter.commands.cli import utc_instant_ms
from cursor_exporter.ledger.tally import Tally, UsageKey
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import HOUR_MS

START = 1_790_000_000_000 // HOUR_MS * HOUR_MS
ALICE = UsageKey("alice@example.com", "gpt-5", "Usage-based", False, "ide")


def test_bar_shows_share_done_and_time_left():
    assert render_bar(0.25, 30, "18/72 h") == "[#######.......................]  25% 18/72 h ETA 1m30s"
    assert render_bar(0, 0, "0/72 h").endswith("ETA ?")
    assert render_bar(0.5, 7200, "x").endswith("ETA 2h00m")


def test_progress_off_a_terminal_is_one_plain_line_per_window():
    stream = io.StringIO()
    progress = Progress(stream, total_hours=48)
    progress.page(24, 500, 1000)
    progress.window_done(1, 2, START, START + 24 * HOUR_MS - 1, 1000)
    assert stream.getvalue() == "window 1/2 2026-09-21T14:00Z..2026-09-22T14:00Z: 1000 events\n"


def test_file_counters_start_at_zero_and_sum_every_earlier_hour_exactly():
    hours = {
        START: {ALICE: Tally(events=2, charged_cents=Decimal("0.1"))},
        START + 2 * HOUR_MS: {ALICE: Tally(events=1, charged_cents=Decimal("0.2"))},
    }
    series = cumulative_series(hours, START, START + 3 * HOUR_MS, LabelPolicy())
    labels = (("model", "gpt-5"), ("kind", "Usage-based"), ("max_mode", "false"), ("source", "ide"))
    assert series["cursor_usage_events"][("cursor_usage_events_total", labels)] == [0, 2, 2, 3]
    # 0.1 + 0.2 cents is 0.003 dollars, summed in decimal: not float's 0.0030000000000000005.
    charged = series["cursor_usage_charged_usd"][("cursor_usage_charged_usd_total", labels)]
    assert charged == [0, 0.001, 0.001, 0.003]
    assert series["cursor_user_usage_events"][("cursor_user_usage_events_total", (("user", ALICE.user),))][-1] == 3
    assert "cursor_usage_cycle_charged_usd" not in series


def test_openmetrics_file_has_one_timestamped_sample_per_hour_boundary_and_ends_with_eof():
    series = {"cursor_usage_events": {("cursor_usage_events_total", (("model", 'a"b'),)): [0, 2]}}
    stream = io.StringIO()
    assert write_openmetrics(series, START, stream) == 2
    lines = stream.getvalue().splitlines()
    assert lines[1] == "# TYPE cursor_usage_events counter"
    assert lines[2:] == [
        f'cursor_usage_events_total{{model="a\\"b"}} 0.0 {START // 1000}',
        f'cursor_usage_events_total{{model="a\\"b"}} 2.0 {START // 1000 + 3600}',
        "# EOF",
    ]


def test_dates_are_utc_unless_they_say_otherwise():
    assert utc_instant_ms("2026-10-01") == 1_790_812_800_000
    assert utc_instant_ms("2026-10-01T02:00+02:00") == 1_790_812_800_000
