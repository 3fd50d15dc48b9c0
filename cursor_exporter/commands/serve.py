"""Wiring: settings -> client, store, sync engine, scheduler, renderer, web server and OTLP push."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.core import Metric

from cursor_exporter.client import CursorClient
from cursor_exporter.collectors import collect_all
from cursor_exporter.config import ORG_COLLECTORS, Settings, TeamSource, parse_pairs
from cursor_exporter.exposition import ExpositionCache, render
from cursor_exporter.labels import LabelPolicy
from cursor_exporter.otlp import OtlpPusher, metric_exporter
from cursor_exporter.snapshot import Snapshot
from cursor_exporter.store import Store
from cursor_exporter.sync import SyncEngine, wall_clock_ms
from cursor_exporter.web import MetricsServer, landing_page

log = logging.getLogger(__name__)


def with_team_label(metrics: Iterable[Metric], team: str | None) -> list[Metric]:
    """The families with ``team=<team>`` on every sample that has no team label of its own."""
    if team is None:
        return list(metrics)
    labelled = []
    for metric in metrics:
        copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        copy.samples = [
            sample if "team" in sample.labels else sample._replace(labels={**sample.labels, "team": team})
            for sample in metric.samples
        ]
        labelled.append(copy)
    return labelled


def merge_families(teams: Iterable[list[Metric]]) -> list[Metric]:
    """One family per name, holding the samples of every team, in first-seen order."""
    merged: dict[str, Metric] = {}
    for metrics in teams:
        for metric in metrics:
            if metric.name in merged:
                merged[metric.name].samples.extend(metric.samples)
            else:
                copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                copy.samples = list(metric.samples)
                merged[metric.name] = copy
    return list(merged.values())


@dataclass(frozen=True)
class TeamRuntime:
    """A team's own client (and so its own rate limiters), ledger and sync engine."""

    name: str | None
    client: CursorClient
    store: Store
    engine: SyncEngine

    def job_id(self, collector: str) -> str:
        return collector if self.name is None else f"{self.name}/{collector}"


class Exporter:
    """One running exporter: binds its port at construction, syncs and serves after :meth:`start`.

    With several teams every team has its own client, ledger (a subdirectory of ``--storage.path``)
    and jobs, and every family gets a ``team`` label; an organization key belongs to the first team.
    """

    def __init__(
        self,
        settings: Settings,
        teams: Sequence[TeamSource],
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
        rate_limit_period: float = 60.0,
    ) -> None:
        self.settings = settings
        self.labels = LabelPolicy(
            settings.metrics_user_label,
            settings.resolve_user_hash_key(),
            settings.resolve_model_map(),
            per_user_activity=settings.metrics_per_user_activity,
        )
        self.cache = ExpositionCache()
        host, port = settings.listen_host_port
        self.telemetry_path = None if settings.web_disable_metrics else settings.web_telemetry_path
        self.server = MetricsServer(host, port, self.cache, self.telemetry_path)
        self._serving: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

        def client(api_url: str, key: str) -> CursorClient:
            return CursorClient(
                api_url,
                key,
                rate_limit_share=settings.api_rate_limit_share,
                rate_limit_period=rate_limit_period,
                timeout=settings.api_timeout,
                max_retries=settings.api_max_retries,
            )

        org_key = settings.resolve_org_api_key()
        # The organization's rate budget is separate from the team's, so it gets its own limiters.
        self.org_client = client(teams[0].api_url, org_key) if org_key else None
        wants_org_ledger = org_key is not None and "org_usage" in settings.polling_collectors()
        self.org_store = Store(settings.storage_path / "organization") if wants_org_ledger else None
        self.runtimes: list[TeamRuntime] = []
        for index, team in enumerate(teams):
            team_client = client(team.api_url, team.api_key)
            store = Store(settings.storage_path if team.name is None else settings.storage_path / "teams" / team.name)
            engine = SyncEngine(
                team_client,
                store,
                collectors=tuple(c for c in settings.polling_collectors() if c not in ORG_COLLECTORS or index == 0),
                settle_lookback_s=settings.sync_settle_lookback,
                end_delay_s=settings.sync_end_delay,
                clock_ms=clock_ms,
                publish=self.publish,
                next_run=partial(self._next_run, team.name),
                top_users=settings.metrics_top_users,
                billing=settings.billing(),
                user_mapping=settings.resolve_user_mapping(),
                org_client=self.org_client if index == 0 else None,
                org_id=settings.org_id,
                org_store=self.org_store if index == 0 else None,
            )
            self.runtimes.append(TeamRuntime(team.name, team_client, store, engine))
        self.store = self.runtimes[0].store
        self.engine = self.runtimes[0].engine
        self.otlp = self._otlp_pusher() if settings.otlp_endpoint else None

    @property
    def url(self) -> str:
        """Base URL the server listens on, as a loopback-reachable address."""
        host, port = self.server.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"

    def _otlp_pusher(self) -> OtlpPusher:
        # A stable instance id keeps one set of cumulative OTLP series across restarts.
        instance_id = self.store.get_state("otlp_instance_id") or str(uuid.uuid4())
        self.store.set_state("otlp_instance_id", instance_id)
        return OtlpPusher(
            metric_exporter(
                self.settings.otlp_protocol, self.settings.otlp_endpoint, self.settings.resolve_otlp_headers()
            ),
            interval_s=self.settings.otlp_interval,
            instance_id=instance_id,
            resource_attributes=parse_pairs(self.settings.otlp_resource_attributes),
        )

    def publish(self, _snapshot: Snapshot | None = None) -> None:
        """Collect every team's families once; render them for the web server and hand them to OTLP."""
        enabled = self.settings.enabled_collectors()
        snapshots = [(runtime.name, runtime.engine.snapshot()) for runtime in self.runtimes]
        metrics = merge_families(
            with_team_label(collect_all(snapshot, self.labels, enabled), name) for name, snapshot in snapshots
        )
        if self.otlp is not None:
            self.otlp.publish(metrics)
        rendered = render(metrics if self.telemetry_path else ())
        statuses = tuple(
            replace(status, name=status.name if name is None else f"{name}/{status.name}")
            for name, snapshot in snapshots
            for status in snapshot.collectors
        )
        page = landing_page(replace(snapshots[0][1], collectors=statuses), self.telemetry_path)
        self.cache.publish(rendered, page, all(runtime.engine.ready for runtime in self.runtimes))

    def _next_run(self, team: str | None, collector: str) -> float | None:
        job = self.scheduler.get_job(collector if team is None else f"{team}/{collector}")
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    def start(self) -> None:
        """Serve restored state at once, then sync every enabled collector on its interval."""
        self.publish()
        intervals = {
            "usage": self.settings.sync_usage_interval,
            "spend": self.settings.sync_spend_interval,
            "members": self.settings.sync_members_interval,
            "groups": self.settings.sync_groups_interval,
            "activity": self.settings.sync_activity_interval,
            "ai_code": self.settings.sync_ai_code_interval,
            "org": self.settings.sync_org_interval,
            "org_usage": self.settings.sync_org_usage_interval,
        }
        first = datetime.now().astimezone()
        # Spend first: usage needs the cycle start it reports.
        jobs = [(runtime, name) for runtime in self.runtimes for name in runtime.engine.collectors]
        for offset, (runtime, name) in enumerate(jobs):
            self.scheduler.add_job(
                runtime.engine.run,
                "interval",
                args=(name,),
                id=runtime.job_id(name),
                seconds=intervals[name],
                next_run_time=first + timedelta(milliseconds=100 * offset),
            )
        self.scheduler.start()
        self._serving = self.server.start()
        log.info("serving metrics on %s%s", self.url, self.telemetry_path or " (disabled: health endpoints only)")
        if self.otlp is not None:
            log.info("pushing OTLP to %s every %.0fs", self.settings.otlp_endpoint, self.settings.otlp_interval)

    def stop(self) -> None:
        """Stop syncing and serving; SQLite state is already durable."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._serving is not None:  # shutdown() would wait forever for a loop that never ran
            self.server.shutdown()
        self.server.server_close()
        if self.otlp is not None:
            self.otlp.shutdown()
        for runtime in self.runtimes:
            runtime.client.close()
            runtime.store.close()
        if self.org_client is not None:
            self.org_client.close()
        if self.org_store is not None:
            self.org_store.close()

    def run_until_signalled(self) -> None:
        """Start, then block until SIGINT or SIGTERM."""
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        stop.wait()
        log.info("shutting down")
        self.stop()
