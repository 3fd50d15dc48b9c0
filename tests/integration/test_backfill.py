"""`cursor-exporter backfill` through real promtool blocks and a real Prometheus, against the truth."""

from __future__ import annotations

import io
import itertools
import math
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from cursor_exporter.api.client import CursorClient
from cursor_exporter.commands.backfill import Progress, fetch_history
from cursor_exporter.commands.cli import main
from cursor_exporter.ledger.scan import WindowScanner
from cursor_exporter.sources import ENDPOINTS
from cursor_exporter.sources.usage import TEAM_EVENTS
from cursor_exporter.timegrid import HOUR_MS

from .conftest import exposition, require_binary, sync_all
from .prometheus_server import running_prometheus
from .test_sync import USAGE_FAMILIES, counters
from .truth import expected_usage, mismatches, parse

DAY_MS = 24 * HOUR_MS
COUNTER_FAMILIES = {name for name in USAGE_FAMILIES if name.endswith("_total")}
EVENTS = "/teams/filtered-usage-events"
INTEGER_FAMILIES = {
    "cursor_usage_events_total",
    "cursor_usage_tokens_total",
    "cursor_user_usage_events_total",
    "cursor_user_tokens_total",
}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def without_zero_only(actual: dict, expected: dict) -> dict:
    """The file has every series from --from on, at 0 until its first event; the truth omits those."""
    return {key: value for key, value in actual.items() if value != 0 or key in expected}


def test_backfill_blocks_in_prometheus_equal_the_truth_and_the_seeded_live_counters_continue_them(
    make_team, tmp_path, monkeypatch, capsys
):
    promtool = require_binary("promtool")
    prometheus = require_binary("prometheus")
    team = make_team(users=6, cycle_start_days_ago=2)
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    # promtool re-reads the file for each 2-hour block it writes, so its time grows with the square of the range.
    start, end = today - 4 * DAY_MS, today - DAY_MS
    storage, output = tmp_path / "state", tmp_path / "history.om"
    monkeypatch.setenv("CURSOR_API_KEY", team.sim.config.api_key)
    calls_before = sum(1 for path, _ in team.sim.request_log if path == EVENTS)
    code = main(
        [
            "backfill",
            f"--api.url={team.url}",
            f"--storage.path={storage}",
            "--api.rate-limit-share=1",
            "--from",
            iso(start)[:10],
            "--to",
            iso(end),
            "--output",
            str(output),
            "--seed-ledger",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "window 1/1" in capsys.readouterr().err  # plain progress lines when stderr is no terminal
    assert all(status == 200 for path, status in team.sim.request_log[calls_before:] if path == EVENTS)

    tsdb = tmp_path / "tsdb"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(output), str(tsdb)],
        check=True,
        capture_output=True,
    )
    with running_prometheus(prometheus, tsdb, tmp_path) as server:
        for boundary in (start + DAY_MS, start + 2 * DAY_MS, end):
            # The cumulative counters at a day boundary: every event since --from, exactly.
            actual = server.query('{__name__=~"cursor_.*_total"}', boundary)
            expected = expected_usage(team.sim.truth(start, boundary - 1), cycle=False)
            assert mismatches(without_zero_only(actual, expected), expected, COUNTER_FAMILIES) == []
            # One day's totals from PromQL.
            day = team.sim.truth(boundary - DAY_MS, boundary - 1)
            expected_day = expected_usage(day, cycle=False)
            assert expected_day, "the simulated team should have used Cursor that day"
            for family in COUNTER_FAMILIES:
                totals = server.query(f"{family} - {family} offset 1d", boundary)
                day_totals = {(family, labels): value for (_, labels), value in totals.items()}
                wanted = {key: value for key, value in expected_day.items() if key[0] == family}
                assert without_zero_only(day_totals, wanted).keys() == wanted.keys()
                for key, value in wanted.items():
                    if family in INTEGER_FAMILIES:
                        assert day_totals[key] == value, key
                    else:  # a difference of two cumulative sums, each exact to the nearest float
                        assert math.isclose(day_totals[key], value, rel_tol=1e-12, abs_tol=1e-9), key
        at_end = server.query('{__name__=~"cursor_.*_total"}', end)
    assert at_end

    # The live exporter on the seeded ledger continues the file's counters.
    engine = team.engine(storage)
    assert engine.ready
    sync_all(engine)
    live = counters(parse(exposition(engine)))
    expected_live = expected_usage(team.truth(start), cycle=False)
    assert mismatches(live, expected_live, COUNTER_FAMILIES) == []
    for key, value in at_end.items():
        assert live.get(key, 0) >= value, key


def test_seeding_a_ledger_that_already_serves_counters_is_refused(make_team, tmp_path, monkeypatch, capsys):
    team = make_team(users=3, cycle_start_days_ago=1)
    storage = tmp_path / "state"
    sync_all(team.engine(storage))
    monkeypatch.setenv("CURSOR_API_KEY", team.sim.config.api_key)
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    args = ["backfill", f"--api.url={team.url}", f"--storage.path={storage}", "--output", str(tmp_path / "h.om")]
    code = main([*args, "--from", iso(today - 3 * DAY_MS), "--to", iso(today - 2 * DAY_MS), "--seed-ledger"])
    assert code == 2
    assert "already holds usage" in capsys.readouterr().err


def test_history_is_fetched_in_windows_of_at_most_30_days_that_cover_the_range_exactly(make_team, tmp_path):
    team = make_team(users=3, cycle_start_days_ago=1)
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    start, end = today - 40 * DAY_MS, today - DAY_MS
    client = CursorClient(team.url, team.sim.config.api_key, endpoints=ENDPOINTS, rate_limit_share=1.0)
    scanner = WindowScanner(client, TEAM_EVENTS)
    requested = []
    original = scanner.page

    def recording(window, page):
        requested.append((window.start_ms, window.end_ms, page))
        return original(window, page)

    scanner.page = recording
    try:
        hours, windows, events = fetch_history(scanner, start, end, Progress(io.StringIO(), (end - start) // HOUR_MS))
    finally:
        client.close()
    spans = sorted({(first, last) for first, last, _ in requested})
    assert windows == len(spans) == 2
    assert spans[0][0] == start and spans[-1][1] == end - 1
    assert all(last + 1 == following for (_, last), (following, _) in itertools.pairwise(spans))
    assert all(last + 1 - first <= 30 * DAY_MS for first, last in spans)
    truth = team.sim.truth(start, end - 1)
    assert events == sum(row["events"] for row in truth["usage"])
    assert sum(tally.events for hour in hours.values() for tally in hour.values()) == events


def test_backfill_org_writes_every_teams_history_from_the_organization_key(make_team, tmp_path, monkeypatch, capsys):
    team = make_team(users=4, cycle_start_days_ago=3, enterprise=True, org_api_key="org_backfill_key")
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    start, end = today - 2 * DAY_MS, today
    monkeypatch.setenv("CURSOR_ORG_API_KEY", "org_backfill_key")
    output = tmp_path / "org.om"
    args = [f"--api.url={team.url}", f"--org.id={team.sim.config.organization_id}", "--api.rate-limit-share=1"]
    code = main(["backfill", *args, "--org", "--from", iso(start), "--to", iso(end), "--output", str(output)])
    assert code == 0, capsys.readouterr().err
    charged: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(output.read_text()):
        if family.name == "cursor_org_usage_charged_usd":
            last = {tuple(sorted(s.labels.items())): s for s in family.samples}  # samples are in time order
            for labels, sample in last.items():
                charged[dict(labels)["team"]] += sample.value
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for usage in team.sim.truth_org(start, end - 1)["usage"]:
        expected[str(usage["teamId"])] += Decimal(usage["chargedCents"]) / 100
    assert charged.keys() == expected.keys() and len(expected) == 2
    for team_id, value in expected.items():
        assert math.isclose(charged[team_id], float(value), rel_tol=1e-12), team_id
    assert {path for path, _ in team.sim.request_log} == {"/organizations/filtered-usage-events"}


def test_an_unwritable_output_is_refused_before_the_first_request(make_team, tmp_path, monkeypatch, capsys):
    team = make_team(users=3, cycle_start_days_ago=1)
    monkeypatch.setenv("CURSOR_API_KEY", team.sim.config.api_key)
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    missing = tmp_path / "does" / "not" / "exist" / "h.om"
    args = ["backfill", f"--api.url={team.url}", f"--storage.path={tmp_path / 'state'}", "--seed-ledger"]
    code = main([*args, "--from", iso(today - 2 * DAY_MS), "--to", iso(today - DAY_MS), "--output", str(missing)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no such directory" in err
    assert team.sim.request_log == []  # nothing fetched, nothing seeded: the retry will work
    assert not (tmp_path / "state").exists()
