"""Every dashboard panel's PromQL returns data on a real Prometheus scraping the demo exporter.

The demo switches every feature on (Enterprise groups and AI code tracking, an organization pool, seat
price, budgets) and runs its simulated clock 60 times faster, so counters move between scrapes.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import httpx
import yaml

from tests.integration.conftest import HANG_GUARD_S, require_binary
from tests.integration.prometheus_server import running_prometheus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
RULE_FILES = (
    ROOT / "deploy" / "prometheus" / "recording-rules.yml",
    ROOT / "deploy" / "prometheus" / "alerting-rules.yml",
)
# Fixed stand-ins for Grafana's interval variables: wide enough to span two demo syncs (30 s apart).
WINDOWS = {"$__rate_interval": "2m", "$__range": "5m", "$__interval": "1m"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def scrape_config(target: str) -> str:
    rule_files = "".join(f"  - {path}\n" for path in RULE_FILES)
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n{rule_files}"
        "scrape_configs:\n  - job_name: cursor-exporter\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )


def instant(url: str, promql: str) -> list[dict]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=30).json()
    assert body["status"] == "success", (promql, body)
    return body["data"]["result"]


def finite(result: list[dict]) -> bool:
    return any(math.isfinite(float(item["value"][1])) for item in result)


def panels(board: dict):
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def substitute(text: str, values: dict[str, str]) -> str:
    for name, value in {**WINDOWS, **{f"${name}": value for name, value in values.items()}}.items():
        text = text.replace(name, value)
    return text


def resolve_variables(url: str, board: dict) -> dict[str, str]:
    """A real value of each query variable, asked of Prometheus the way Grafana would, in order."""
    values: dict[str, str] = {}
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(substitute(variable["query"], values))
        assert match, f"{board['title']}: variable {variable['name']} is not a label_values query"
        series = httpx.get(f"{url}/api/v1/series", params={"match[]": match["selector"]}, timeout=30).json()["data"]
        found = sorted({item[match["label"]] for item in series if match["label"] in item})
        assert found, f"{board['title']}: variable {variable['name']} has no values"
        values[variable["name"]] = found[0]
    return values


def test_every_dashboard_query_returns_data_from_the_demo_on_a_real_prometheus(exporter_process, tmp_path):
    binary = require_binary("prometheus")
    exporter = exporter_process(["demo"], env={})
    target = exporter.wait_for_url().removeprefix("http://")
    with running_prometheus(binary, tmp_path / "tsdb", tmp_path, config_text=scrape_config(target)) as prometheus:
        url = prometheus.url
        deadline = time.monotonic() + HANG_GUARD_S
        # A later usage sync has moved the token counters inside the rate window. (The demo's clock starts
        # at the real time: on a simulated weekend night only cloud agents and automations make events.)
        ready = "sum(changes(cursor_usage_tokens_total[2m])) >= 1"
        while not instant(url, ready):
            assert time.monotonic() < deadline, f"no data within {HANG_GUARD_S}s:\n{exporter.output[-2000:]}"
            time.sleep(1)

        failures = []
        checked = 0
        for path in DASHBOARDS:
            board = json.loads(path.read_text())
            values = resolve_variables(url, board)
            for panel in panels(board):
                for query in panel.get("targets", []):
                    promql = substitute(query["expr"], values)
                    checked += 1
                    if not finite(instant(url, promql)):
                        failures.append(f"{path.name} / {panel['title']}: {promql}")
        assert checked > 50
        assert not failures, "queries without data:\n" + "\n".join(failures)

        records = [
            rule["record"] for group in yaml.safe_load(RULE_FILES[0].read_text())["groups"] for rule in group["rules"]
        ]
        assert [record for record in records if not instant(url, record)] == []
        rules = httpx.get(f"{url}/api/v1/rules", timeout=30).json()["data"]["groups"]
        unhealthy = [rule["name"] for group in rules for rule in group["rules"] if rule["health"] != "ok"]
        assert len(rules) == 2 and unhealthy == []
