"""The whole exposition of a seeded team against a stored golden file, and promtool's lint of it."""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.base import BillingSettings
from cursor_exporter.sources.labels import LabelPolicy

from .conftest import ALL_COLLECTORS, exposition, require_binary, sync_all

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "seeded-team.prom"
WEDNESDAY_3PM = 1795014000000
# Wall-clock figures change from run to run; everything else is determined by the seed and the clock.
VOLATILE = (
    "cursor_exporter_last_sync_duration_seconds",
    "cursor_exporter_last_success_timestamp_seconds",
    "cursor_exporter_rate_limit_wait_seconds_total",
    "cursor_exporter_build_info",  # the Python version and revision of the machine that runs it
)


def stable(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not any(name in line for name in VOLATILE))


def seeded_exposition(make_team, tmp_path) -> str:
    """Every collector and option that adds families: Enterprise, organization, seats, budgets, mapping."""
    team = make_team(
        clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0),
        seed=7,
        users=6,
        cycle_start_days_ago=3,
        enterprise=True,
        org_api_key="org_golden_key",
    )
    emails = sorted(row["email"] for row in team.sim.truth()["spend"])
    mapping = {
        email: {"team": "platform" if i % 2 else "product", "cost_center": f"cc-{i % 3}"}
        for i, email in enumerate(emails)
    }
    billing = BillingSettings(
        seat_price_usd=Decimal(40),
        team_budget_usd=Decimal(1000),
        user_default_budget_usd=Decimal(100),
        group_budgets_usd={"Engineering": Decimal(500)},
    )
    collectors = (*ALL_COLLECTORS, "org", "org_usage", "audit")
    engine = team.engine(tmp_path, collectors, org=True, billing=billing, user_mapping=mapping)
    sync_all(engine)
    assert engine.run("org")
    assert engine.run("org_usage")
    assert engine.run("audit")
    return exposition(engine, LabelPolicy(per_user_activity=True))


def test_exposition_matches_the_golden_file(make_team, tmp_path):
    text = stable(seeded_exposition(make_team, tmp_path))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "exposition changed; if on purpose: UPDATE_GOLDEN=1 pytest " + __file__


def test_promtool_check_metrics_passes_on_the_exposition(make_team, tmp_path):
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=seeded_exposition(make_team, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr
