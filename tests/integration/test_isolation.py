"""Isolation: a source that raises in fetch or in render fails alone, visibly, and keeps its last good part."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.sources import SOURCES
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import HOUR_MS

from .conftest import published_engine
from .truth import parse

FAULTY_VALUE = Family("cursor_faulty_value", "gauge", (), "A test source's value.", "the test")


class FaultySource(Source):
    """A source whose fetch or render raises on demand; its state counts its good fetches."""

    name = "faulty"
    order = 999
    help = "A source that fails on demand."
    interval_s = 60.0
    families = (FAULTY_VALUE,)
    fail_in: str | None = None
    fetches = 0

    def fetch(self) -> None:
        if self.fail_in == "fetch":
            raise RuntimeError("fetch exploded")
        self.fetches += 1

    def state(self) -> tuple[int, str | None]:
        return self.fetches, self.fail_in

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        fetches, fail_in = snapshot.part(cls.name)
        if fail_in == "render":
            raise ValueError("render exploded")
        family = FAULTY_VALUE.new()
        family.add_metric((), fetches)
        yield family


def success(series, name: str) -> float:
    return series[("cursor_exporter_collector_success", frozenset({"collector": name}.items()))]


def events(series) -> float:
    return sum(value for (name, _), value in series.items() if name == "cursor_usage_events_total")


def test_a_source_raising_in_fetch_or_render_fails_alone_and_serves_its_last_good_part(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=2)
    collectors = ("spend", "usage", "faulty")
    engine, cache = published_engine(team, tmp_path, collectors, (*SOURCES, FaultySource), collectors)
    faulty = engine.source("faulty")
    for name in ("spend", "usage", "faulty"):
        assert engine.run(name)
    healthy = parse(cache.rendered.text.decode())
    assert success(healthy, "faulty") == 1 and healthy[("cursor_faulty_value", frozenset())] == 1

    faulty.fail_in = "fetch"
    assert not engine.run("faulty")
    team.clock.advance(3 * HOUR_MS)
    assert engine.run("usage")
    failed_fetch = parse(cache.rendered.text.decode())
    assert success(failed_fetch, "faulty") == 0 and success(failed_fetch, "usage") == 1
    assert failed_fetch[("cursor_faulty_value", frozenset())] == 1  # its last good state
    assert events(failed_fetch) > events(healthy)  # the others keep updating
    assert "fetch exploded" in cache.landing_page.decode()

    faulty.fail_in = "render"
    assert engine.run("faulty")  # the fetch works; the render raises
    team.clock.advance(3 * HOUR_MS)
    assert engine.run("usage")
    failed_render = parse(cache.rendered.text.decode())
    assert success(failed_render, "faulty") == 0 and success(failed_render, "usage") == 1
    assert failed_render[("cursor_faulty_value", frozenset())] == 1  # the last good part, not frozen at 0
    assert events(failed_render) > events(failed_fetch)
    assert "render failed: ValueError: render exploded" in cache.landing_page.decode()

    faulty.fail_in = None
    assert engine.run("faulty")
    recovered = parse(cache.rendered.text.decode())
    assert success(recovered, "faulty") == 1 and recovered[("cursor_faulty_value", frozenset())] == 3
