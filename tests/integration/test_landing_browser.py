"""The landing page in a real headless browser: status at a glance, plan features, where the data lives."""

from __future__ import annotations

import subprocess

from .conftest import HANG_GUARD_S, require_binary
from .test_otlp import started_exporter

KEY = "crsr_landing_page_key"


def test_the_landing_page_shows_state_plan_features_api_storage_and_ledger_reach(make_team, tmp_path):
    browser = require_binary("chromium-headless-shell")
    team = make_team(users=4, cycle_start_days_ago=2, enterprise=False, api_key=KEY)  # groups and AI code: 403
    exporter = started_exporter(team, tmp_path / "state")
    try:
        exporter.publish()
        result = subprocess.run(
            [browser, "--no-sandbox", "--disable-gpu", "--dump-dom", exporter.url + "/"],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
        )
    finally:
        exporter.stop()
    dom = result.stdout
    assert "<h1>cursor-exporter" in dom, result.stderr[-2000:]
    assert "All " in dom and "sources syncing" in dom
    for name in ("usage", "spend", "members", "activity", "audit"):
        assert f'<td>{name}</td><td class="ok">ok</td>' in dom, name
    for name in ("groups", "ai_code"):  # a 403 on an Enterprise route reads as a plan limit, not a failure
        assert f'<td>{name}</td><td class="not">not in plan</td>' in dom, name
    assert team.url in dom and str(tmp_path / "state") in dom
    assert "usage: " in dom and " UTC to " in dom  # how far the ledger reaches
    assert "Demo mode" not in dom and KEY not in dom
