"""The Prometheus rules in deploy/prometheus: valid, unit-tested per alert, documented per alert."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.integration.conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
RULE_FILES = (RULES / "recording-rules.yml", RULES / "alerting-rules.yml")
RULE_TESTS = sorted((RULES / "tests").glob("*.test.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULE_FILES[1].read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules_accepts_every_rule_file():
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "rules", *RULE_FILES], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass():
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "test", "rules", *RULE_TESTS], capture_output=True, text=True, cwd=RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_non_firing_unit_test():
    cases = [
        case
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for alert in alerts():
        mine = [case for case in cases if case["alertname"] == alert["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{alert['alert']}: no firing case"
        assert any(not case["exp_alerts"] for case in mine), f"{alert['alert']}: no non-firing case"


def test_every_alert_has_a_summary_a_description_and_a_runbook_section():
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alerts():
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page.endswith("/docs/operations.md"), annotations["runbook_url"]
        assert anchor == alert["alert"].lower() and anchor in headings, f"{alert['alert']}: no runbook section"
