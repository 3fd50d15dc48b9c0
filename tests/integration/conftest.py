"""Fixtures that run the exporter against the project's Cursor API simulator over loopback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from cursor_exporter.api.client import CursorClient
from cursor_exporter.ledger.store import Store
from cursor_exporter.output.exposition import ExpositionCache, render
from cursor_exporter.output.publisher import Publisher
from cursor_exporter.simulator import SimClock, Simulator, SimulatorConfig
from cursor_exporter.sources import ENDPOINTS, SOURCES, SWITCHABLE
from cursor_exporter.sources.base import BillingSettings, Shared, Snapshot, SourceContext, SourceOptions
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.sources.labels import LabelPolicy

ALL_COLLECTORS = ("spend", "members", "groups", "usage", "activity", "ai_code")
END_DELAY_S = 60
HANG_GUARD_S = 300  # readiness is polled; this only stops a test that would otherwise hang


def exposition(engine: TeamEngine, labels: LabelPolicy | None = None) -> str:
    """What /metrics would serve for the engine's current snapshot."""
    return rendered(engine.snapshot(), labels)


def rendered(snapshot: Snapshot, labels: LabelPolicy | None = None) -> str:
    """What /metrics would serve for this snapshot, with every source switched on."""
    labels = labels or LabelPolicy()
    return render(metric for source in SOURCES for metric in source.render(snapshot, labels)).text.decode()


def sync_all(engine: TeamEngine) -> None:
    """One sync of every collector, in the order the scheduler starts them; each must succeed."""
    for name in ALL_COLLECTORS:
        assert engine.run(name), f"{name} sync failed: {engine.snapshot().statuses}"


def build_engine(
    url: str,
    api_key: str,
    storage,
    collectors,
    clock_ms,
    *,
    top_users: int = 0,
    billing: BillingSettings | None = None,
    user_mapping=None,
    org_api_key: str | None = None,
    org_id: str | None = None,
    publish=None,
    sources=SOURCES,
    **client_options,
) -> tuple[TeamEngine, list]:
    """An engine of one team as ``serve`` wires it, and what to close afterwards."""
    client = CursorClient(url, api_key, endpoints=ENDPOINTS, **{"rate_limit_share": 1.0, **client_options})
    store = Store(storage)
    org_client = org_store = None
    if org_api_key is not None:
        org_options = {"rate_limit_share": 1.0, **{k: v for k, v in client_options.items() if k == "rate_limit_period"}}
        org_client = CursorClient(url, org_api_key, endpoints=ENDPOINTS, **org_options)
        org_store = Store(storage / "organization")
    options = SourceOptions(
        settle_lookback_ms=48 * 3_600_000,
        end_delay_ms=END_DELAY_S * 1000,
        top_users=top_users,
        org_id=org_id,
        billing=billing or BillingSettings(),
        user_mapping=user_mapping or {},
    )
    context = SourceContext(
        client=client,
        store=store,
        shared=Shared(store, top_users),
        options=options,
        clock_ms=clock_ms,
        org_client=org_client,
        org_store=org_store,
    )
    engine = TeamEngine(context, sources, collectors, **({"publish": publish} if publish else {}))
    return engine, [c for c in (client, org_client, store, org_store) if c is not None]


def published_engine(team, storage, collectors, sources=SOURCES, enabled=SWITCHABLE):
    """An engine of ``team`` whose every sync is published, as ``serve`` publishes it, into the returned cache."""
    cache = ExpositionCache()
    publisher: list[Publisher] = []
    engine = team.engine(storage, collectors, publish=lambda name: publisher[0].publish(name), sources=sources)
    publisher.append(Publisher([(None, engine)], enabled, LabelPolicy(), cache, sources=sources))
    return engine, cache


class Team:
    """A running simulator plus helpers to build exporters against it."""

    def __init__(self, sim: Simulator, url: str) -> None:
        self.sim = sim
        self.url = url
        self.clock = sim.clock
        self._closing: list = []

    def engine(
        self,
        storage,
        collectors=ALL_COLLECTORS,
        *,
        top_users=0,
        billing=None,
        org=False,
        org_id=None,
        user_mapping=None,
        publish=None,
        **client_options,
    ) -> TeamEngine:
        engine, closing = build_engine(
            self.url,
            self.sim.config.api_key,
            storage,
            collectors,
            self.clock.now_ms,
            top_users=top_users,
            billing=billing,
            user_mapping=user_mapping,
            org_api_key=self.sim.config.org_api_key if org else None,
            org_id=(org_id or self.sim.config.organization_id) if org else None,
            publish=publish,
            **client_options,
        )
        self._closing += closing
        return engine

    def truth(self, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        """The simulator's truth up to where the exporter's syncs end (now minus the end delay)."""
        return self.sim.truth(start_ms, end_ms if end_ms is not None else self.clock.now_ms() - END_DELAY_S * 1000)

    def close(self) -> None:
        for closable in self._closing:
            closable.close()


@pytest.fixture
def make_team() -> Iterator:
    teams: list[tuple[Team, object]] = []

    def make(clock: SimClock | None = None, **config) -> Team:
        sim = Simulator(SimulatorConfig(**config), clock=clock or SimClock(speed=0))
        server = sim.serve(host="127.0.0.1", port=0)
        team = Team(sim, server.url)
        teams.append((team, server))
        return team

    yield make
    for team, server in teams:
        team.close()
        server.stop()


def require_binary(name: str) -> str:
    """Path of a Debian `prometheus` binary; a missing one fails in CI and skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install -y prometheus"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class ExporterProcess:
    """`python -m cursor_exporter ...` in a subprocess, with its output collected."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CURSOR_")}
        full_env.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cursor_exporter", *args, "--web.listen-address=127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_url(self, timeout: float = HANG_GUARD_S) -> str:
        """The metrics URL the process announced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", self.output)
            if match:
                return match.group(1)
            assert self.process.poll() is None, f"exporter exited early:\n{self.output}"
            time.sleep(0.05)
        raise AssertionError(f"no metrics URL announced within {timeout}s:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def scrape(base_url: str, path: str = "/metrics", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(base_url + path, headers=headers or {}, timeout=10)


def wait_for_sample(base_url: str, predicate, timeout: float = HANG_GUARD_S) -> str:
    """Scrape until ``predicate(exposition_text)`` holds; returns that exposition."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = scrape(base_url).text
        except httpx.TransportError:
            text = ""
        if text and predicate(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s; last exposition:\n{text[-2000:]}")


@pytest.fixture
def exporter_process() -> Iterator:
    processes: list[ExporterProcess] = []

    def start(args: list[str], env: dict[str, str]) -> ExporterProcess:
        process = ExporterProcess(args, env)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()
