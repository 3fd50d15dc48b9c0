"""The engine with stand-in sources: statuses, 403 gating, what a gated source shows, and needs."""

from __future__ import annotations

import logging
import threading

import pytest

from cursor_exporter.api.client import FeatureUnavailable
from cursor_exporter.sources.base import Source
from cursor_exporter.sources.engine import FEATURE_RECHECK_MS, TeamEngine
from tests.unit.sources.helpers import engine_of

NOW = 1_795_014_000_000


class Gated(Source):
    """An Enterprise source whose fetch answers 403 while ``forbidden``."""

    name = "gated"
    order = 1
    help = "test"
    interval_s = 60.0
    feature = "plan_feature"
    families = ()
    forbidden = False
    fetches = 0

    def fetch(self) -> None:
        self.fetches += 1
        if self.forbidden:
            raise FeatureUnavailable("/teams/gated", 403, "Enterprise access required")

    def state(self) -> int:
        return self.fetches


class Durable(Gated):
    """The same, but its state stays true through a 403 (like the organization ledger)."""

    name = "durable"
    order = 2
    hidden_when_unavailable = False


class Scoped(Gated):
    """A source of every plan: a 403 means the key lacks a scope, a failure to show and log."""

    name = "scoped"
    order = 3
    feature = None


class Needy(Source):
    """Waits for the billing-cycle start that ``Provider`` records."""

    name = "needy"
    order = 4
    help = "test"
    interval_s = 60.0
    needs = ("provider",)
    families = ()

    def fetch(self) -> None:
        self.context.shared.require_cycle_start(self.name)


class Provider(Source):
    name = "provider"
    order = 5
    help = "test"
    interval_s = 60.0
    families = ()

    def fetch(self) -> None:
        self.context.shared.set_cycle_start(NOW - 86_400_000)


SOURCES = (Gated, Durable, Scoped, Needy, Provider)


@pytest.fixture
def engine(tmp_path):
    clock = [NOW]
    engine = engine_of(tmp_path, SOURCES, clock)
    engine.clock = clock
    yield engine
    engine.context.store.close()


def statuses(engine):
    return {status.name: status for status in engine.snapshot().statuses}


def test_a_403_gates_the_feature_hides_the_part_counts_as_success_and_is_rechecked_hourly(engine, caplog):
    gated = engine.source("gated")
    gated.forbidden = True
    caplog.set_level(logging.WARNING)
    assert engine.run("gated") and engine.run("gated")
    assert gated.fetches == 1  # the second run waited for the hourly re-check
    assert engine.snapshot().features == {"plan_feature": False}
    assert engine.snapshot().part("gated") is None
    assert sum("plan_feature unavailable" in message for message in caplog.messages) == 1
    gated.forbidden = False
    engine.clock[0] += FEATURE_RECHECK_MS
    assert engine.run("gated")
    assert engine.snapshot().features == {"plan_feature": True}
    assert engine.snapshot().part("gated") == 2


def test_a_durable_source_keeps_showing_its_state_through_a_403(engine):
    durable = engine.source("durable")
    assert engine.run("durable")
    durable.forbidden = True
    engine.clock[0] += FEATURE_RECHECK_MS
    assert engine.run("durable")
    assert engine.snapshot().features["plan_feature"] is False
    assert engine.snapshot().part("durable") == 2


def test_a_403_on_a_source_of_every_plan_fails_it_and_logs_a_warning(engine, caplog):
    engine.source("scoped").forbidden = True
    caplog.set_level(logging.WARNING)
    assert not engine.run("scoped")
    assert "Enterprise access required" in statuses(engine)["scoped"].last_error
    assert any(
        record.levelno == logging.WARNING and "scoped sync failed" in record.message for record in caplog.records
    )


def test_a_missing_value_syncs_its_provider_first_under_the_providers_own_status(engine):
    assert engine.run("needy")
    assert statuses(engine)["provider"].success is True
    assert statuses(engine)["needy"].success is True
    assert engine.context.shared.cycle_start_ms == NOW - 86_400_000


class Stalled(Source):
    """A source whose fetch hangs until released, as a stalled answer would."""

    name = "stalled"
    order = 6
    help = "test"
    interval_s = 60.0
    families = ()

    def __init__(self, context) -> None:
        super().__init__(context)
        self.entered = threading.Event()
        self.release = threading.Event()
        self._counting = threading.Lock()
        self.active = self.most_active = 0

    def fetch(self) -> None:
        with self._counting:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.entered.set()
        try:
            assert self.release.wait(HANG_GUARD_S)
        finally:
            with self._counting:
                self.active -= 1


class SlowProvider(Provider):
    """Records the cycle start when its first page arrives (``first_page``), then keeps paging until released."""

    name = "slow_provider"
    order = 7

    def __init__(self, context) -> None:
        super().__init__(context)
        self.entered = threading.Event()
        self.first_page = threading.Event()
        self.release = threading.Event()

    def fetch(self) -> None:
        self.entered.set()
        assert self.first_page.wait(HANG_GUARD_S)
        super().fetch()
        assert self.release.wait(HANG_GUARD_S)


class EarlyNeedy(Needy):
    name = "early_needy"
    order = 8
    needs = ("slow_provider",)


HANG_GUARD_S = 300


def threaded_engine(tmp_path, sources) -> TeamEngine:
    return engine_of(tmp_path, sources, [NOW])


def in_thread(engine: TeamEngine, name: str) -> threading.Thread:
    thread = threading.Thread(target=engine.run, args=(name,), daemon=True)
    thread.start()
    return thread


def test_a_stalled_source_holds_up_no_other_and_one_source_never_syncs_twice_at_once(tmp_path):
    engine = threaded_engine(tmp_path, (Gated, Stalled))
    stalled = engine.source("stalled")
    first = in_thread(engine, "stalled")
    assert stalled.entered.wait(HANG_GUARD_S)
    assert engine.run("gated")  # while "stalled" hangs in its own thread
    assert statuses(engine)["gated"].success is True
    stalled.entered.clear()
    second = in_thread(engine, "stalled")  # a second sync of the same source waits for the first
    assert not stalled.entered.wait(0.2)
    stalled.release.set()
    first.join(HANG_GUARD_S)
    second.join(HANG_GUARD_S)
    assert stalled.entered.is_set() and statuses(engine)["stalled"].success is True
    assert stalled.most_active == 1  # the second fetch began only once the first had ended


def test_a_source_waiting_for_a_value_starts_once_its_provider_has_written_it_not_when_it_ends(tmp_path):
    engine = threaded_engine(tmp_path, (SlowProvider, EarlyNeedy))
    provider = engine.source("slow_provider")
    paging = in_thread(engine, "slow_provider")
    assert provider.entered.wait(HANG_GUARD_S)
    waiting = in_thread(engine, "early_needy")  # no cycle start yet: it waits for the provider's sync
    provider.first_page.set()
    waiting.join(HANG_GUARD_S)
    assert not waiting.is_alive() and paging.is_alive()  # done while the provider still pages
    assert statuses(engine)["early_needy"].success is True
    assert statuses(engine)["slow_provider"].success is None  # not synced a second time from there
    provider.release.set()
    paging.join(HANG_GUARD_S)
    assert statuses(engine)["slow_provider"].success is True
