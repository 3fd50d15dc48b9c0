"""The publisher's throttle of a long sync's progress: a share of the time for rendering, what it defers
published when its time comes, and never the end of a sync held back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.core import Metric

from cursor_exporter.output import publisher as publisher_module
from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.output.publisher import PROGRESS_RENDER_SHARE, Publisher
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import engine_of

FETCHES = Family("cursor_test_fetches", "gauge", (), "Fetches of the test source.", "the test")
RENDER_CPU_S = 2.0


class FakeTime:
    """The publisher's clocks: wall time set by the test, CPU time spent by renders."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.cpu = 0.0

    def monotonic(self) -> float:
        return self.now

    def thread_time(self) -> float:
        return self.cpu


CLOCKS = FakeTime()


class FakeTimer:
    """A timer the test fires by hand."""

    made: list[FakeTimer] = []

    def __init__(self, delay: float, function) -> None:
        self.delay, self.function, self.cancelled, self.daemon = delay, function, False, False
        FakeTimer.made.append(self)

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        assert not self.cancelled
        self.function()


class Counted(Source):
    """A source whose render shows how often it fetched, and costs ``RENDER_CPU_S`` of CPU."""

    name = "counted"
    order = 1
    help = "test"
    interval_s = 60.0
    families = (FETCHES,)
    fetches = 0
    renders = 0

    def fetch(self) -> None:
        self.fetches += 1

    def state(self) -> int:
        return self.fetches

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        CLOCKS.cpu += RENDER_CPU_S
        cls.renders += 1
        family = FETCHES.new()
        family.add_metric((), snapshot.part(cls.name))
        yield family


@pytest.fixture
def published(tmp_path, monkeypatch):
    monkeypatch.setattr(publisher_module, "time", CLOCKS)
    monkeypatch.setattr(publisher_module.threading, "Timer", FakeTimer)
    FakeTimer.made.clear()
    engine = engine_of(tmp_path, (Counted,), [1_795_014_000_000])
    cache = ExpositionCache()
    yield engine, Publisher([(None, engine)], {"counted"}, LabelPolicy(), cache, sources=(Counted,)), cache
    engine.context.store.close()


def shown(cache: ExpositionCache) -> float:
    line = next(line for line in cache.rendered.text.decode().splitlines() if line.startswith("cursor_test_fetches "))
    return float(line.split()[1])


def test_progress_waits_until_rendering_took_its_share_of_the_time_and_the_end_always_publishes(published):
    engine, publisher, cache = published
    publisher.publish()
    assert shown(cache) == 0
    wait_s = RENDER_CPU_S / PROGRESS_RENDER_SHARE  # from the start of the render that cost RENDER_CPU_S

    engine.run("counted")
    CLOCKS.now += wait_s * 0.9
    publisher.publish_progress("counted")
    assert shown(cache) == 0, "progress rendered more often than its share of the time allows"
    (timer,) = FakeTimer.made
    assert timer.delay == pytest.approx(wait_s * 0.1)

    CLOCKS.now += timer.delay
    timer.fire()  # the backfill stalled (a rate limit): the deferred progress is shown when its time comes
    assert shown(cache) == 1

    engine.run("counted")
    publisher.publish("counted")  # a sync's end, right after a progress render: never held back
    assert shown(cache) == 2


def test_a_deferred_progress_is_dropped_when_the_sync_ends_first(published):
    engine, publisher, cache = published
    publisher.publish()
    engine.run("counted")
    publisher.publish_progress("counted")
    engine.run("counted")
    publisher.publish("counted")
    assert shown(cache) == 2
    renders = Counted.renders
    CLOCKS.now += 3600
    FakeTimer.made[0].fire()
    assert Counted.renders == renders, "the sync's end already showed what the progress would have"


def test_progress_is_deferred_while_another_publish_runs(published):
    engine, publisher, cache = published
    publisher.publish()
    engine.run("counted")
    CLOCKS.now += 3600
    with publisher._lock:  # another thread's publish, mid-render
        publisher.publish_progress("counted")  # returns at once instead of waiting its turn
    assert shown(cache) == 0
    FakeTimer.made[0].fire()
    assert shown(cache) == 1


def test_a_closed_publisher_drops_a_deferred_progress(published):
    engine, publisher, cache = published
    publisher.publish()
    engine.run("counted")
    publisher.publish_progress("counted")
    publisher.close()
    assert FakeTimer.made[0].cancelled
    publisher.publish_progress("counted")
    assert shown(cache) == 0 and len(FakeTimer.made) == 1
