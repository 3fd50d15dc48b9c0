"""The committed Grafana dashboards are exactly what deploy/grafana/generate.py writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def load_generator():
    spec = importlib.util.spec_from_file_location("dashboards_generate", GRAFANA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()


@pytest.mark.parametrize("name", sorted(GENERATOR.DASHBOARDS))
def test_committed_dashboard_equals_generator_output(name):
    committed = (GRAFANA / name).read_text()
    assert committed == GENERATOR.render(GENERATOR.DASHBOARDS[name]), (
        f"{name} is stale: run python deploy/grafana/generate.py"
    )


def test_no_other_dashboard_json_is_committed():
    assert sorted(path.name for path in GRAFANA.glob("*.json")) == sorted(GENERATOR.DASHBOARDS)


@pytest.mark.parametrize("name", sorted(GENERATOR.DASHBOARDS))
def test_dashboard_uses_a_datasource_variable_and_unique_panel_ids(name):
    board = json.loads((GRAFANA / name).read_text())
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
