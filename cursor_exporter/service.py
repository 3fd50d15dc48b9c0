"""Wiring: settings -> client, store, sync engine, scheduler, renderer, web server and OTLP push."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from cursor_exporter.client import CursorClient
from cursor_exporter.collectors import collect_all
from cursor_exporter.config import Settings, parse_pairs
from cursor_exporter.exposition import ExpositionCache, render
from cursor_exporter.labels import LabelPolicy
from cursor_exporter.otlp import OtlpPusher, metric_exporter
from cursor_exporter.snapshot import Snapshot
from cursor_exporter.store import Store
from cursor_exporter.sync import SyncEngine, wall_clock_ms
from cursor_exporter.web import MetricsServer, landing_page

log = logging.getLogger(__name__)


class Exporter:
    """One running exporter: binds its port at construction, syncs and serves after :meth:`start`."""

    def __init__(
        self,
        settings: Settings,
        api_url: str,
        api_key: str,
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
        self.store = Store(settings.storage_path)
        self.otlp = self._otlp_pusher() if settings.otlp_endpoint else None

        def client(key: str) -> CursorClient:
            return CursorClient(
                api_url,
                key,
                rate_limit_share=settings.api_rate_limit_share,
                rate_limit_period=rate_limit_period,
                timeout=settings.api_timeout,
                max_retries=settings.api_max_retries,
            )

        self.client = client(api_key)
        org_key = settings.resolve_org_api_key()
        # The organization's rate budget is separate from the team's, so it gets its own limiters.
        self.org_client = client(org_key) if org_key else None
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.engine = SyncEngine(
            self.client,
            self.store,
            collectors=settings.polling_collectors(),
            settle_lookback_s=settings.sync_settle_lookback,
            end_delay_s=settings.sync_end_delay,
            clock_ms=clock_ms,
            publish=self.publish,
            next_run=self._next_run,
            top_users=settings.metrics_top_users,
            billing=settings.billing(),
            user_mapping=settings.resolve_user_mapping(),
            org_client=self.org_client,
            org_id=settings.org_id,
        )

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

    def publish(self, snapshot: Snapshot) -> None:
        """Collect the snapshot's families once; render them for the web server and hand them to OTLP."""
        metrics = collect_all(snapshot, self.labels, self.settings.enabled_collectors())
        if self.otlp is not None:
            self.otlp.publish(metrics)
        rendered = render(metrics if self.telemetry_path else ())
        self.cache.publish(rendered, landing_page(snapshot, self.telemetry_path), self.engine.ready)

    def _next_run(self, name: str) -> float | None:
        job = self.scheduler.get_job(name)
        return job.next_run_time.timestamp() if job and job.next_run_time else None

    def start(self) -> None:
        """Serve restored state at once, then sync every enabled collector on its interval."""
        self.publish(self.engine.snapshot())
        intervals = {
            "usage": self.settings.sync_usage_interval,
            "spend": self.settings.sync_spend_interval,
            "members": self.settings.sync_members_interval,
            "groups": self.settings.sync_groups_interval,
            "activity": self.settings.sync_activity_interval,
            "ai_code": self.settings.sync_ai_code_interval,
            "org": self.settings.sync_org_interval,
        }
        first = datetime.now().astimezone()
        # Spend first: usage needs the cycle start it reports.
        for offset, name in enumerate(self.settings.polling_collectors()):
            self.scheduler.add_job(
                self.engine.run,
                "interval",
                args=(name,),
                id=name,
                seconds=intervals[name],
                next_run_time=first + timedelta(milliseconds=100 * offset),
            )
        self.scheduler.start()
        self.server.start()
        log.info("serving metrics on %s%s", self.url, self.telemetry_path or " (disabled: health endpoints only)")
        if self.otlp is not None:
            log.info("pushing OTLP to %s every %.0fs", self.settings.otlp_endpoint, self.settings.otlp_interval)

    def stop(self) -> None:
        """Stop syncing and serving; SQLite state is already durable."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.server.shutdown()
        self.server.server_close()
        if self.otlp is not None:
            self.otlp.shutdown()
        self.client.close()
        if self.org_client is not None:
            self.org_client.close()
        self.store.close()

    def run_until_signalled(self) -> None:
        """Start, then block until SIGINT or SIGTERM."""
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.start()
        stop.wait()
        log.info("shutting down")
        self.stop()
