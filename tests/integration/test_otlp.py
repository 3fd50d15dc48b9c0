"""OTLP push against real receivers on loopback: every data point equals the Prometheus value."""

from __future__ import annotations

import pytest

from cursor_exporter import __version__
from cursor_exporter.commands.config import TeamSource, load_settings
from cursor_exporter.commands.serve import Exporter
from cursor_exporter.sources import FAMILY_BY_NAME as BY_NAME

from .conftest import scrape
from .otlp_receiver import data_points, otlp_receiver, resource, units
from .truth import parse


def started_exporter(team, storage, **settings) -> Exporter:
    """An exporter whose every collector has synced once, serving on loopback; no scheduler runs."""
    exporter = Exporter(
        load_settings({"web_listen_address": "127.0.0.1:0", "storage_path": storage, **settings}),
        [TeamSource(None, team.url, team.sim.config.api_key)],
        clock_ms=team.clock.now_ms,
    )
    for name in exporter.runtimes[0].scheduled:
        assert exporter.engine.run(name), name
    exporter.server.start()
    return exporter


def as_otlp(series) -> dict[tuple[str, frozenset], float]:
    """Prometheus samples renamed and re-keyed by the OTLP mapping of their family."""
    points = {}
    for (name, labels), value in series.items():
        family = BY_NAME[name]
        attributes = dict(labels)
        key = frozenset(
            (otlp, attributes[label]) for otlp, label in zip(family.otlp_attributes, family.labels, strict=True)
        )
        points[(family.otlp_name, key)] = value
    return points


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_every_pushed_data_point_equals_the_scraped_prometheus_value(make_team, tmp_path, protocol):
    team = make_team(users=8, cycle_start_days_ago=2, enterprise=True, org_api_key="org_otlp_key")
    with otlp_receiver(protocol) as receiver:
        exporter = started_exporter(
            team,
            tmp_path,
            org_api_key="org_otlp_key",
            org_id=team.sim.config.organization_id,
            otlp_endpoint=receiver.url,
            otlp_protocol=protocol,
            otlp_interval="1h",
            otlp_headers="x-scope-orgid=team-a",
            otlp_resource_attributes="deployment.environment=test",
        )
        try:
            scraped = parse(scrape(exporter.url).text)
            assert exporter.otlp.force_flush()
        finally:
            exporter.stop()
        request = receiver.requests[0]
        assert receiver.headers[0]["x-scope-orgid"] == "team-a"

    pushed = data_points(request)
    assert pushed == as_otlp(scraped)
    assert any(name == "cursor.usage.charged" for name, _ in pushed)
    org_teams = {
        dict(attributes).get("cursor.team") for name, attributes in pushed if name == "cursor.org.usage_charged"
    }
    assert org_teams == {str(team_id) for team_id in team.sim.config.org_team_ids}
    by_otlp_name = {family.otlp_name: family for family in BY_NAME.values()}
    assert all(unit == by_otlp_name[name].otlp_unit for name, unit in units(request).items())
    attributes = resource(request)
    assert attributes["service.name"] == "cursor-exporter"
    assert attributes["service.version"] == __version__
    assert attributes["service.instance.id"]
    assert attributes["deployment.environment"] == "test"


def test_push_only_sidecar_serves_health_but_no_metrics_and_keeps_its_instance_id(make_team, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=1)
    instance_ids = []
    with otlp_receiver("http/protobuf") as receiver:
        for _ in range(2):  # a restart on the same storage
            exporter = started_exporter(
                team, tmp_path, otlp_endpoint=receiver.url, otlp_interval="1h", web_disable_metrics=True
            )
            try:
                assert scrape(exporter.url, "/metrics").status_code == 404
                assert scrape(exporter.url, "/-/healthy").status_code == 200
                assert scrape(exporter.url, "/-/ready").status_code == 200
                assert "Metrics</a>" not in scrape(exporter.url, "/").text
                assert exporter.otlp.force_flush()
            finally:
                exporter.stop()
            instance_ids.append(resource(receiver.requests[-1])["service.instance.id"])
        assert any(name == "cursor.usage.events" for name, _ in data_points(receiver.requests[0]))
    assert instance_ids[0] == instance_ids[1]


def test_the_demo_pushes_under_an_instance_id_of_its_own(make_team, tmp_path):
    team = make_team(users=3, cycle_start_days_ago=1)
    settings = load_settings(
        {"web_listen_address": "127.0.0.1:0", "storage_path": tmp_path, "otlp_endpoint": "http://127.0.0.1:9"}
    )
    source = [TeamSource(None, team.url, team.sim.config.api_key)]
    instance_ids = {}
    for mode in ("live", "demo"):  # one after the other: a ledger has one writer at a time
        exporter = Exporter(settings, source, clock_ms=team.clock.now_ms, mode=mode)
        instance_ids[mode] = exporter.otlp.instance_id
        exporter.stop()
    assert instance_ids["demo"] == f"demo-{instance_ids['live']}"  # same ledger, never the same series
