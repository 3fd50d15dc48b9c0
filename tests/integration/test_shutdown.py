"""SIGTERM: the exporter ends within seconds, without a traceback, even with a sync parked in a request."""

from __future__ import annotations

import signal
import time

from .conftest import HANG_GUARD_S

KEY = "crsr_shutdown_test_key"
# Far longer than any shutdown may take: an exporter that waited for its request would wait this long.
PARKED_S = 600


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {HANG_GUARD_S}s"
        time.sleep(0.05)


def terminate(process) -> float:
    """Send SIGTERM; the seconds until the process ended."""
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    process.process.wait(timeout=HANG_GUARD_S)
    return time.monotonic() - started


def test_sigterm_with_a_sync_parked_in_a_slow_response_ends_at_once_without_a_traceback(
    make_team, exporter_process, tmp_path
):
    team = make_team(users=4, cycle_start_days_ago=2, api_key=KEY, timeout_fault_s=PARKED_S)
    team.sim.faults.inject("timeout", count=1000)  # every request is held for PARKED_S
    env = {"CURSOR_API_KEY": KEY, "CURSOR_API_URL": team.url}
    process = exporter_process(["serve", f"--storage.path={tmp_path}", f"--api.timeout={PARKED_S * 2}s"], env)
    process.wait_for_url(timeout=HANG_GUARD_S)
    wait_until(lambda: team.sim.faults.pending < 1000, "request parked in the simulator")
    elapsed = terminate(process)
    assert elapsed < PARKED_S / 10, f"shutdown waited {elapsed:.0f}s for the parked request"
    assert process.process.returncode == 0
    assert "Traceback" not in process.output and "closed" not in process.output, process.output
    assert "exiting without it" in process.output


def test_sigterm_between_syncs_closes_everything_cleanly(make_team, exporter_process, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=2, api_key=KEY)
    env = {"CURSOR_API_KEY": KEY, "CURSOR_API_URL": team.url}
    process = exporter_process(["serve", f"--storage.path={tmp_path}"], env)
    process.wait_for_url(timeout=HANG_GUARD_S)
    wait_until(lambda: "usage sync done" in process.output, "first usage sync")
    terminate(process)
    assert process.process.returncode == 0
    assert "Traceback" not in process.output and "exiting without it" not in process.output, process.output
    assert "shutting down" in process.output
