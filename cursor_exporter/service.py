"""Wiring: settings -> client, store, sync engine, scheduler, renderer and web server."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from cursor_exporter.client import CursorClient
from cursor_exporter.collectors import collect_all
from cursor_exporter.config import Settings
from cursor_exporter.exposition import ExpositionCache, render
from cursor_exporter.labels import LabelPolicy
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
            settings.metrics_user_label, settings.resolve_user_hash_key(), settings.resolve_model_map()
        )
        self.cache = ExpositionCache()
        host, port = settings.listen_host_port
        self.server = MetricsServer(host, port, self.cache, settings.web_telemetry_path)
        self.store = Store(settings.storage_path)
        self.client = CursorClient(
            api_url,
            api_key,
            rate_limit_share=settings.api_rate_limit_share,
            rate_limit_period=rate_limit_period,
            timeout=settings.api_timeout,
            max_retries=settings.api_max_retries,
        )
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
        )

    @property
    def url(self) -> str:
        """Base URL the server listens on, as a loopback-reachable address."""
        host, port = self.server.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"

    def publish(self, snapshot: Snapshot) -> None:
        """Render the snapshot once and hand the bytes to the web server."""
        rendered = render(collect_all(snapshot, self.labels, self.settings.enabled_collectors()))
        self.cache.publish(rendered, landing_page(snapshot, self.settings.web_telemetry_path), self.engine.ready)

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
        log.info("serving metrics on %s%s", self.url, self.settings.web_telemetry_path)

    def stop(self) -> None:
        """Stop syncing and serving; SQLite state is already durable."""
        self.scheduler.shutdown(wait=False)
        self.server.shutdown()
        self.server.server_close()
        self.client.close()
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
