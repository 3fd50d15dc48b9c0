"""A full disk during a backfill keeps the exporter up and visible, and the ledger reaches the truth once
space returns: SQLite's transaction per window never leaves half a window behind."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cursor_exporter.ledger.store import DB_FILENAME
from cursor_exporter.simulator import SimClock

from .conftest import exposition
from .test_sync import WEDNESDAY_3PM
from .truth import expected_usage, mismatches, parse

USAGE_FAMILIES = {"cursor_usage_events_total", "cursor_usage_charged_usd_total", "cursor_usage_cycle_charged_usd"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real ENOSPC from the kernel, not an emulation."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        message = f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the disk-full test needs root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """A file taking all of ``disk`` but ``leave_bytes``."""
    stats = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave_bytes, 0))
    return filler


def test_a_full_disk_during_a_backfill_fails_the_sync_visibly_and_the_truth_is_reached_once_space_returns(
    make_team, small_disk
):
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=40, cycle_start_days_ago=6)
    storage = small_disk / "ledger"
    engine = team.engine(storage, ("spend", "usage"))
    assert engine.run("spend")
    filler = fill(small_disk, leave_bytes=96 * 1024)
    assert not engine.run("usage")  # the backfill needs more than is left
    status = {s.name: s for s in engine.snapshot().statuses}["usage"]
    assert "full" in (status.last_error or "")
    served = parse(exposition(engine))  # still up and serving, the failure in its own health family
    assert served[("cursor_exporter_collector_success", frozenset({("collector", "usage")}))] == 0
    truth = {key: value for key, value in expected_usage(team.truth()).items() if key[0] in USAGE_FAMILIES}
    assert mismatches(served, truth, USAGE_FAMILIES) != []  # the backfill did stop short

    filler.unlink()
    assert engine.run("usage")
    assert mismatches(parse(exposition(engine)), truth, USAGE_FAMILIES) == []
    with sqlite3.connect(storage / DB_FILENAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
