"""The real `cursor-exporter` process: the README's first command, kill -9 mid-sync, strict rate limits."""

from __future__ import annotations

import gzip
import http.client
import os
import subprocess
import sys
import time
from urllib.parse import urlparse

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources import READ_ENDPOINTS

from .conftest import HANG_GUARD_S, exposition, scrape, wait_for_sample
from .test_sync import SPEND_MEMBER_FAMILIES, USAGE_FAMILIES
from .truth import expected_spend_and_members, expected_usage, mismatches, parse

SECRET_KEY = "crsr_" + "s3cr3tK3y" * 7
EVENTS = "/teams/filtered-usage-events"


def all_synced(text: str) -> bool:
    return all(
        f'cursor_exporter_collector_success{{collector="{name}"}} 1.0' in text
        for name in ("spend", "members", "groups", "usage", "activity", "ai_code", "org", "org_usage")
    )


def usage_synced(text: str) -> bool:
    return 'cursor_exporter_collector_success{collector="usage"} 1.0' in text


def test_readme_first_command_serves_demo_metrics_marked_as_the_demo(exporter_process, tmp_path):
    process = exporter_process(["demo", f"--storage.path={tmp_path}"], env={})
    url = process.wait_for_url(timeout=HANG_GUARD_S)
    # The demo switches every feature on: wait until the last collector in the first round has synced.
    text = wait_for_sample(url, lambda t: "cursor_usage_charged_usd_total{" in t and all_synced(t), HANG_GUARD_S)
    series = parse(text)
    names = {name for name, _ in series}
    for family in (
        "cursor_user_cycle_charged_usd",
        "cursor_group_cycle_spend_usd",
        "cursor_activity_active_users",
        "cursor_ai_code_cycle_lines",
        "cursor_repo_cycle_charged_usd",
        "cursor_forecast_cycle_charged_usd",
        "cursor_org_pool_used_usd",
        "cursor_org_usage_charged_usd_total",
        "cursor_budget_usd",
        "cursor_cycle_cost_usd",
    ):
        assert family in names, f"the demo should switch on every feature: {family} missing"
    assert scrape(url, "/-/ready").status_code == 200
    assert scrape(url, "/-/healthy").status_code == 200
    landing = scrape(url, "/").text
    assert "usage" in landing and "spend" in landing and "members" in landing
    assert "Demo mode" in landing  # simulated data says so, on the page and in the metrics
    modes = {dict(labels)["mode"] for name, labels in series if name == "cursor_exporter_build_info"}
    assert modes == {"demo"}
    assert {"process_resident_memory_bytes", "process_open_fds", "python_info"} <= names  # the exporter's own process
    openmetrics = scrape(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    assert gzip.decompress(get_gzipped_metrics(url)).startswith(b"# HELP")


def get_gzipped_metrics(url: str) -> bytes:
    """The raw gzip body (httpx would decompress it transparently)."""
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    response = connection.getresponse()
    assert response.getheader("Content-Encoding") == "gzip"
    body = response.read()
    connection.close()
    return body


def test_kill_9_mid_sync_then_restart_exports_the_truth_and_no_counter_decreases(make_team, exporter_process, tmp_path):
    # The simulator's clock stands five minutes behind the wall clock, so every event it serves is
    # older than the exporter's window end (wall clock minus one minute).
    team = make_team(
        clock=SimClock(start_ms=int(time.time() * 1000) - 5 * 60_000, speed=0),
        users=15,
        cycle_start_days_ago=6,
        api_key=SECRET_KEY,
    )
    env = {"CURSOR_API_KEY": SECRET_KEY, "CURSOR_API_URL": team.url}
    storage = f"--storage.path={tmp_path}"
    # 5% of the limits: 3 event requests a minute, so the backfill stalls after three windows.
    slow = exporter_process([storage, "--api.rate-limit-share=0.05"], env)
    slow_url = slow.wait_for_url()
    partial = wait_for_sample(
        slow_url, lambda t: "cursor_exporter_usage_windows_fetched_total 2.0" in t or "fetched_total 3.0" in t
    )
    slow.process.kill()
    slow.process.wait(timeout=HANG_GUARD_S)
    before = parse(partial)

    restarted = exporter_process([storage], env)
    url = restarted.wait_for_url()
    final = parse(wait_for_sample(url, usage_synced))
    truth = team.sim.truth()
    expected = expected_usage(truth) | expected_spend_and_members(truth)
    assert mismatches(final, expected, USAGE_FAMILIES | SPEND_MEMBER_FAMILIES) == []
    partial_events = sum(v for (n, _), v in before.items() if n == "cursor_usage_events_total")
    assert 0 < partial_events < sum(row["events"] for row in truth["usage"]), "the kill was not mid-sync"
    for (name, labels), value in before.items():
        if name in USAGE_FAMILIES and name.endswith("_total"):
            assert final[(name, labels)] >= value, f"{name}{dict(labels)} decreased after the restart"
    assert not any(status == 429 for _, status in team.sim.request_log)
    for output in (slow.output, restarted.output, scrape(url).text, scrape(url, "/").text):
        assert SECRET_KEY not in output


def test_strict_limits_are_never_exceeded(make_team, tmp_path):
    # The simulator enforces a twentieth of Cursor's limits per 2-second window (3 event requests), and
    # the client is given the same budget. A 25-day backfill needs far more requests than one window
    # allows, and even a busy machine sends 3 local requests within 2 s: the limiter has to wait.
    team = make_team(users=20, cycle_start_days_ago=25, rate_limit_period_s=2, rate_limit_scale=0.05)
    engine = team.engine(tmp_path, rate_limit_share=0.05, rate_limit_period=2.0)
    for name in ("spend", "members", "usage", "members", "spend"):
        assert engine.run(name)
    log = team.sim.request_log
    assert sum(1 for path, _ in log if path == EVENTS) > 15
    assert [entry for entry in log if entry[1] == 429] == []
    assert engine.snapshot().rate_limit_waits.get(EVENTS, 0) > 0
    truth = team.truth()
    expected = expected_usage(truth) | expected_spend_and_members(truth)
    assert mismatches(parse(exposition(engine)), expected, USAGE_FAMILIES | SPEND_MEMBER_FAMILIES) == []


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CURSOR_")}
    return subprocess.run(
        [sys.executable, "-m", "cursor_exporter", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_validates_the_key_and_reports_plan_features(make_team):
    teams_plan = make_team(users=5, api_key=SECRET_KEY)
    result = run_cli(["check"], {"CURSOR_API_KEY": SECRET_KEY, "CURSOR_API_URL": teams_plan.url})
    assert result.returncode == 0, result.stderr
    seats = sum(teams_plan.sim.truth()["members"]["byRole"].values())
    assert f"{seats} current members" in result.stdout
    assert "billing groups: not available" in result.stdout
    enterprise = make_team(users=5, enterprise=True, org_api_key="org_check_key")
    env = {"CURSOR_API_KEY": enterprise.sim.config.api_key, "CURSOR_API_URL": enterprise.url}
    result = run_cli(["check"], env)
    assert "billing groups: available" in result.stdout
    with_org = run_cli(
        ["check", f"--org.id={enterprise.sim.config.organization_id}"], {**env, "CURSOR_ORG_API_KEY": "org_check_key"}
    )
    assert with_org.returncode == 0, with_org.stderr
    assert f"{len(enterprise.sim.config.org_team_ids)} teams in the pool" in with_org.stdout
    not_ours = run_cli(["check", "--org.id=org_not_ours"], {**env, "CURSOR_ORG_API_KEY": "org_check_key"})
    assert not_ours.returncode == 1 and not_ours.stderr.count("\n") == 1 and "Not authorized" in not_ours.stderr
    assert "org_check_key" not in not_ours.stderr + not_ours.stdout

    wrong = run_cli(["check"], {"CURSOR_API_KEY": "crsr_wrong_key_123", "CURSOR_API_URL": teams_plan.url})
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1 and "Invalid API key" in wrong.stderr
    assert "crsr_wrong_key_123" not in wrong.stderr + wrong.stdout


def test_the_exporter_only_ever_calls_read_endpoints(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=3, enterprise=True)
    engine = team.engine(tmp_path)
    for _ in range(2):
        for name in ("spend", "members", "usage"):
            assert engine.run(name)
        team.clock.advance(3_600_000)
    allowed = {path for _, path in READ_ENDPOINTS}
    assert team.sim.request_log
    assert {path for path, _ in team.sim.request_log} <= allowed
