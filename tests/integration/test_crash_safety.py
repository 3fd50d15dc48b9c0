"""kill -9 against a real `cursor-exporter serve` on one storage, again and again; one writer per ledger."""

from __future__ import annotations

import random
import re
import socket
import sqlite3
import time
from itertools import pairwise

import httpx

from cursor_exporter.commands.cli import main
from cursor_exporter.ledger.store import DB_FILENAME
from cursor_exporter.simulator import SimClock

from .conftest import HANG_GUARD_S, scrape, wait_for_sample
from .test_serve import SECRET_KEY, run_cli
from .test_sync import SPEND_MEMBER_FAMILIES, USAGE_FAMILIES
from .truth import expected_spend_and_members, expected_usage, mismatches, parse

SEED = 20260513
KILLS = 50
FAULTS = ("500", "502", "503", "504", "429", "timeout", "truncate")
# start-up: killed within a second of its start, whatever it is doing; faults: killed while syncing against
# injected faults; mid-sync: killed just after a usage window was committed; steady: after its first full sync.
MOMENTS = ("start-up", "faults", "mid-sync", "steady")
WINDOWS_FETCHED = "cursor_exporter_usage_windows_fetched_total"


def synced(*sources: str):
    """A predicate: every one of ``sources`` has synced successfully in this process."""
    return lambda text: all(f'cursor_exporter_collector_success{{collector="{name}"}} 1.0' in text for name in sources)


def windows_fetched(text: str) -> float:
    match = re.search(rf"^{WINDOWS_FETCHED} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def ledger_counters(text: str) -> dict[str, float]:
    """The counters kept in the ledger, by sample line (the exporter's own counters restart with the process).

    Read line by line: hundreds of scrapes go through it, and the full parser takes a tenth of a second each.
    """
    counters = {}
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if line.startswith("cursor_") and not line.startswith("cursor_exporter_") and "_total" in series:
            counters[series] = float(value)
    return counters


def decreases(scrapes: list[dict[str, float]]) -> list[str]:
    """Every counter that fell between two consecutive successful scrapes."""
    return [
        f"scrape {index}: {series} {value} -> {after[series]}"
        for index, (before, after) in enumerate(pairwise(scrapes), 1)
        for series, value in before.items()
        if after.get(series, value) < value
    ]


def scrape_for(url: str, seconds: float, scrapes: list[str]) -> None:
    """Scrape ``url`` every tenth of a second for ``seconds``, keeping every successful exposition."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            response = scrape(url)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 200:
            scrapes.append(response.text)
        time.sleep(0.1)


def test_fifty_kill_9_at_random_moments_keep_the_ledger_whole_every_counter_rising_and_the_truth(
    make_team, exporter_process, tmp_path
):
    rng = random.Random(SEED)
    # The simulator's clock stands well behind the wall clock and moves on between kills, by less than
    # the 3 hours every sync re-reads: each restart finds new and late events, and the end delay hides none.
    team = make_team(
        clock=SimClock(start_ms=int(time.time() * 1000) - 90 * 60_000, speed=0),
        users=10,
        cycle_start_days_ago=14,
        rate_limits=False,  # every restart starts a fresh client budget; 429s come from injected faults only
        revisions=False,  # a downward revision is kept in the counters, which then exceed the truth's sums
        timeout_fault_s=2.0,
        api_key=SECRET_KEY,
    )
    env = {"CURSOR_API_KEY": SECRET_KEY, "CURSOR_API_URL": team.url}
    args = [f"--storage.path={tmp_path}"]
    texts: list[str] = []
    mid_backfill_kills = 0
    # The campaign opens in the first backfill (14 days, 15 windows), then kills at random.
    moments = ["mid-sync", "mid-sync", *rng.choices(MOMENTS, k=KILLS - 2)]
    processes = []
    for moment in moments:
        if moment in ("start-up", "faults") and rng.random() < 0.6:
            team.sim.faults.inject(rng.choice(FAULTS), rng.randint(1, 3))
        process = exporter_process(args, env)
        processes.append(process)
        if moment == "start-up":
            time.sleep(rng.uniform(0, 1.0))
        else:
            url = process.wait_for_url()
            if moment == "mid-sync":
                texts.append(wait_for_sample(url, lambda text: windows_fetched(text) >= 1))
                mid_backfill_kills += not synced("usage")(texts[-1])
            elif moment == "steady":
                texts.append(wait_for_sample(url, synced("usage")))
            scrape_for(url, rng.uniform(0, 1.5 if moment == "faults" else 0.3), texts)
        process.process.kill()
        process.process.wait(timeout=HANG_GUARD_S)
        team.sim.faults.clear()
        team.clock.advance(rng.randint(0, 90) * 1000)

    final = exporter_process(args, env)
    url = final.wait_for_url()
    texts.append(wait_for_sample(url, synced("spend", "members", "usage")))
    final.stop()

    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert decreases([ledger_counters(text) for text in texts]) == []
    truth = team.sim.truth()
    expected = expected_usage(truth) | expected_spend_and_members(truth)
    assert mismatches(parse(texts[-1]), expected, USAGE_FAMILIES | SPEND_MEMBER_FAMILIES) == []
    assert mid_backfill_kills >= 1, "no kill landed in the backfill"
    assert len(processes) == KILLS
    for process in [*processes, final]:
        assert "Traceback" not in process.output, process.output
        assert SECRET_KEY not in process.output


def test_a_second_exporter_on_the_same_storage_refuses_in_one_line_while_the_first_serves(
    make_team, exporter_process, tmp_path, monkeypatch, capsys
):
    team = make_team(users=4, cycle_start_days_ago=2)
    env = {"CURSOR_API_KEY": team.sim.config.api_key, "CURSOR_API_URL": team.url}
    storage = f"--storage.path={tmp_path}"
    first = exporter_process([storage], env)
    url = first.wait_for_url()
    before = wait_for_sample(url, synced("usage"))

    second = run_cli(["serve", storage, "--web.listen-address=127.0.0.1:0"], env)
    assert second.returncode == 2
    assert second.stdout == ""
    assert second.stderr == (
        f"cursor-exporter: the ledger in {tmp_path} is in use by another cursor-exporter "
        f"(pid {first.process.pid} on {socket.gethostname()}): stop that one first, or give this one a "
        "--storage.path of its own\n"
    )
    # A backfill that would seed the ledger is refused alike; an export reads beside the writer.
    monkeypatch.setenv("CURSOR_API_KEY", team.sim.config.api_key)
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400))
    backfill = ["backfill", f"--api.url={team.url}", storage, "--from", yesterday, "--seed-ledger"]
    assert main([*backfill, "--output", str(tmp_path / "history.om")]) == 2
    refusal = capsys.readouterr().err
    assert refusal.count("\n") == 1 and f"the ledger in {tmp_path} is in use" in refusal
    assert main(["export", storage, "--group-by", "model"]) == 0
    exported = capsys.readouterr().out
    assert exported.startswith("model,events,") and exported.count("\n") > 1
    assert first.process.poll() is None
    assert scrape(url).text.count("cursor_usage_events_total{") == before.count("cursor_usage_events_total{")

    first.process.kill()  # the OS drops the lock with the process: nothing is left to clean up
    first.process.wait(timeout=HANG_GUARD_S)
    third = exporter_process([storage], env)
    wait_for_sample(third.wait_for_url(), synced("usage"))
    assert "Traceback" not in first.output + third.output
