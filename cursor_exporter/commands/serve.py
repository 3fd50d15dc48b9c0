"""The ``serve`` command's wiring: settings -> clients, ledgers, source engines, scheduler, publisher,
web server and OTLP push."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from cursor_exporter.api.client import CursorClient
from cursor_exporter.commands.config import Settings, TeamSource, parse_pairs
from cursor_exporter.ledger.lock import LedgerLock
from cursor_exporter.ledger.paths import ledger_path
from cursor_exporter.ledger.store import Store
from cursor_exporter.output.exposition import ExpositionCache
from cursor_exporter.output.otlp import OtlpPusher, metric_exporter
from cursor_exporter.output.publisher import Publisher
from cursor_exporter.output.web import MetricsServer
from cursor_exporter.output.webconfig import WebConfigWatcher
from cursor_exporter.sources import BY_NAME, ENDPOINTS, POLLING, SOURCES
from cursor_exporter.sources.base import Shared, SourceContext
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import Clock, wall_clock_ms

log = logging.getLogger(__name__)
RUNTIME_EXECUTOR = "runtime"
SHUTDOWN_GRACE_S = 3.0  # a sync cut short by shutdown ends within this; one blocked in I/O is left behind
RUNTIME_INTERVAL_S = 15.0


def api_client(settings: Settings, api_url: str, key: str, **overrides) -> CursorClient:
    """A client of every source's endpoints, with the configured rate-limit share, timeout and retries."""
    options = {
        "rate_limit_share": settings.api_rate_limit_share,
        "timeout": settings.api_timeout,
        "max_response_bytes": settings.api_max_response_bytes,
        "max_retries": settings.api_max_retries,
    }
    return CursorClient(api_url, key, endpoints=ENDPOINTS, **{**options, **overrides})


@dataclass(frozen=True)
class TeamRuntime:
    """A team's own client (and so its own rate limiters), ledger and source engine."""

    name: str | None
    client: CursorClient
    store: Store
    engine: TeamEngine

    def job_id(self, source: str) -> str:
        return source if self.name is None else f"{self.name}/{source}"

    @property
    def scheduled(self) -> tuple[str, ...]:
        """The sources this team syncs on a schedule, in the order of their first sync: sources others need,
        then the quick ones, then those whose first sync is a backfill."""
        needed = {need for name in self.engine.polled for need in BY_NAME[name].needs}

        def first_sync_order(name: str) -> tuple[bool, bool, int]:
            return name not in needed, BY_NAME[name].backfills, POLLING.index(name)

        return tuple(sorted(needed | set(self.engine.polled), key=first_sync_order))


class Exporter:
    """One running exporter: binds its port at construction, syncs and serves after :meth:`start`.

    With several teams every team has its own client, ledger (``teams/<name>`` under ``--storage.path``)
    and jobs, and every family gets a ``team`` label; an organization key belongs to the first team.
    It holds the lock of every ledger it opens until :meth:`stop`; a ledger another process holds, or
    one that is no usable ledger, is a :class:`~cursor_exporter.ledger.database.LedgerError`.
    """

    def __init__(
        self,
        settings: Settings,
        teams: Sequence[TeamSource],
        *,
        clock_ms: Clock = wall_clock_ms,
        rate_limit_period: float = 60.0,
        mode: str = "live",
    ) -> None:
        self.settings = settings
        self.mode = mode
        org_key = settings.resolve_org_api_key()
        wants_org_ledger = org_key is not None and "org_usage" in settings.polled_sources(organization=True)
        org_ledger = ledger_path(settings.storage_path, organization=True) if wants_org_ledger else None
        ledgers = [ledger_path(settings.storage_path, team=team.name) for team in teams]
        # Locked and checked before the port is bound: a second exporter, or a bad ledger, is told as such.
        self._locks = [LedgerLock(directory) for directory in [*ledgers, org_ledger] if directory is not None]
        stores = [Store(directory) for directory in ledgers]
        self.org_store = None if org_ledger is None else Store(org_ledger)
        self._stopping = threading.Event()  # set at shutdown: cuts every wait short, sends no new request
        self._syncs = threading.Condition()  # counts the syncs running, so that shutdown can wait for them
        self._running_syncs = 0
        self.cache = ExpositionCache()
        host, port = settings.listen_host_port
        telemetry_path = None if settings.web_disable_metrics else settings.web_telemetry_path
        self.server = MetricsServer(host, port, self.cache, telemetry_path, WebConfigWatcher(settings.web_config_file))
        self._serving: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            # Every source syncs in a thread of its own: Cursor limits each endpoint apart, so a slow one (a
            # backfill, a stalled answer) holds up no other. The process and Python families refresh beside.
            executors={
                "default": ThreadPoolExecutor(len(teams) * len(POLLING)),
                RUNTIME_EXECUTOR: ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        # The organization's rate budget is separate from the team's, so it gets its own limiters.
        client_options = {"rate_limit_period": rate_limit_period, "stopping": self._stopping}
        self.org_client = api_client(settings, teams[0].api_url, org_key, **client_options) if org_key else None
        options = replace(settings.source_options(), mode=mode)
        self.runtimes: list[TeamRuntime] = []
        for index, (team, store) in enumerate(zip(teams, stores, strict=True)):
            client = api_client(settings, team.api_url, team.api_key, **client_options)
            first = index == 0
            context = SourceContext(
                client=client,
                store=store,
                shared=Shared(store, settings.metrics_top_users),
                options=options,
                clock_ms=clock_ms,
                org_client=self.org_client if first else None,
                org_store=self.org_store if first else None,
            )
            engine = TeamEngine(
                context,
                SOURCES,
                settings.polled_sources(organization=first and org_key is not None),
                publish=self.publish,
                show_progress=self.show_progress,
                next_run=partial(self._next_run, team.name),
                sync_deadline=settings.sync_interval,  # a sync may not outlast its own interval
            )
            self.runtimes.append(TeamRuntime(team.name, client, store, engine))
        self.store = self.runtimes[0].store
        self.engine = self.runtimes[0].engine
        self.otlp = self._otlp_pusher() if settings.otlp_endpoint else None
        labels = LabelPolicy(
            settings.metrics_user_label,
            settings.resolve_user_hash_key(),
            settings.resolve_model_map(),
            per_user_activity=settings.metrics_per_user_activity,
        )
        self.publisher = Publisher(
            [(runtime.name, runtime.engine) for runtime in self.runtimes],
            settings.enabled_sources(),
            labels,
            self.cache,
            telemetry_path=telemetry_path,
            otlp=self.otlp,
        )

    @property
    def url(self) -> str:
        """Base URL the server listens on, as a loopback-reachable address."""
        host, port = self.server.server_address[:2]
        scheme = "https" if self.server.web_config.current.tls else "http"
        return f"{scheme}://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"

    def _otlp_pusher(self) -> OtlpPusher:
        # A stable instance id keeps one set of cumulative OTLP series across restarts.
        instance_id = self.store.get_state("otlp_instance_id") or str(uuid.uuid4())
        self.store.set_state("otlp_instance_id", instance_id)
        if self.mode == "demo":  # simulated data must never continue a real exporter's series
            instance_id = f"demo-{instance_id}"
        return OtlpPusher(
            metric_exporter(
                self.settings.otlp_protocol, self.settings.otlp_endpoint, self.settings.resolve_otlp_headers()
            ),
            interval_s=self.settings.otlp_interval,
            instance_id=instance_id,
            resource_attributes=parse_pairs(self.settings.otlp_resource_attributes),
        )

    def publish(self, changed: str | None = None) -> None:
        """Render what a sync of ``changed`` affected (everything when None) for every output."""
        self.publisher.publish(changed)

    def show_progress(self, changed: str) -> None:
        """Render a long sync's progress, as often as :meth:`Publisher.publish_progress` allows."""
        self.publisher.publish_progress(changed)

    def _next_run(self, team: str | None, source: str) -> float | None:
        job = self.scheduler.get_job(source if team is None else f"{team}/{source}")
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    def start(self) -> None:
        """Serve restored state at once, then sync every scheduled source on its interval."""
        self.publish()
        first = datetime.now().astimezone()
        jobs = [(runtime, name) for runtime in self.runtimes for name in runtime.scheduled]
        for offset, (runtime, name) in enumerate(jobs):
            self.scheduler.add_job(
                self._sync,
                "interval",
                args=(runtime.engine, name),
                id=runtime.job_id(name),
                seconds=self.settings.sync_interval(name),
                next_run_time=first + timedelta(milliseconds=100 * offset),
            )
        self.publisher.publish_runtime()
        self.scheduler.add_job(
            self.publisher.publish_runtime,
            "interval",
            id="runtime",
            seconds=RUNTIME_INTERVAL_S,
            executor=RUNTIME_EXECUTOR,
        )
        self.scheduler.start()
        self._serving = self.server.start()
        log.info(
            "serving metrics on %s%s", self.url, self.server.telemetry_path or " (disabled: health endpoints only)"
        )
        if self.otlp is not None:
            log.info("pushing OTLP to %s every %.0fs", self.settings.otlp_endpoint, self.settings.otlp_interval)

    def _sync(self, engine: TeamEngine, source: str) -> None:
        with self._syncs:
            if self._stopping.is_set():
                return
            self._running_syncs += 1
        try:
            engine.run(source)
        finally:
            with self._syncs:
                self._running_syncs -= 1
                self._syncs.notify_all()

    def stop(self) -> bool:
        """Stop scheduling, cut every wait short, stop serving, close the databases last.

        Returns False when a sync is still blocked in a request after ``SHUTDOWN_GRACE_S``: its databases
        stay open, and its unfinished window is rolled back by SQLite when the process ends.
        """
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self._syncs:  # a queued sync may still start: it sees the stop and returns without touching anything
            idle = self._syncs.wait_for(lambda: self._running_syncs == 0, timeout=SHUTDOWN_GRACE_S)
        self.publisher.close()
        if self._serving is not None:  # shutdown() would wait forever for a loop that never ran
            self.server.shutdown()
        self.server.server_close()
        if self.otlp is not None:
            self.otlp.shutdown()
        if not idle:
            return False
        for runtime in self.runtimes:
            runtime.client.close()
            runtime.store.close()
        if self.org_client is not None:
            self.org_client.close()
        if self.org_store is not None:
            self.org_store.close()
        for lock in self._locks:
            lock.release()
        return True

    def run_until_signalled(self) -> None:
        """Start, then block until SIGINT or SIGTERM; the process ends within seconds of the signal."""
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        stop.wait()
        log.info("shutting down")
        if not self.stop():
            log.warning("a sync is still waiting for the Cursor API; exiting without it (its window is rolled back)")
            logging.shutdown()
            os._exit(0)  # the blocked request would hold the process until --api.timeout


def storage_problem(path: Path) -> str | None:
    """Why the ledger cannot be written under ``path`` (e.g. a read-only filesystem), or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        return f"--storage.path {path} is not writable: {error.strerror or type(error).__name__}"
    return None


def build_exporter(settings: Settings, teams: Sequence[TeamSource], **options) -> Exporter | None:
    """The exporter, bound to its port; None (and one line on stderr) when the address is taken."""
    try:
        return Exporter(settings, teams, **options)
    except OSError as error:
        print(f"cursor-exporter: cannot listen on {settings.web_listen_address}: {error.strerror}", file=sys.stderr)
        return None


MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt() parameter number


def cap_malloc_arenas() -> bool:
    """At most ``MALLOC_ARENAS`` glibc malloc arenas, unless ``MALLOC_ARENA_MAX`` sets the number.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and memory freed
    in one arena serves only that arena: the sync threads' transient peaks stayed resident side by side
    (at 3,000 seats the default peaked at 184 MB, two arenas at 171 MB). The GIL serialises nearly every
    allocation anyway. Other C libraries (musl) have no such call; there this does nothing. True when capped here."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS) == 1
    except (OSError, AttributeError):
        return False


def serve(settings: Settings, teams: Sequence[TeamSource]) -> int:
    """The ``serve`` command: the exporter of ``teams`` until signalled; 2 when storage is unusable."""
    cap_malloc_arenas()
    problem = storage_problem(settings.storage_path)
    if problem is not None:
        print(f"cursor-exporter: {problem}", file=sys.stderr)
        return 2
    exporter = build_exporter(settings, teams)
    if exporter is None:
        return 1
    exporter.run_until_signalled()
    return 0
