"""The thin engine: runs one team's sources, one sync at a time, each in its own guard.

For every sync it keeps the time taken, the API calls made, the outcome, and Enterprise-feature
gating (a 403 marks the source's feature unavailable, is logged once and re-checked hourly). A
source that needs another's value (the billing-cycle start) and finds it missing gets that source
synced first, under that source's own status and call count. Nothing a source raises escapes: it
shows as a failing status and the source keeps its last state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from types import MappingProxyType

from cursor_exporter import __version__
from cursor_exporter.api.client import ApiError, Cancelled, CursorClient, FeatureUnavailable
from cursor_exporter.sources.base import Snapshot, Source, SourceContext, SourceStatus, SourceWaiting, TeamOverview
from cursor_exporter.timegrid import HOUR_MS, wall_clock_ms

log = logging.getLogger(__name__)

FEATURE_RECHECK_MS = HOUR_MS


class TeamEngine:
    """One team's sources, of the registry's ``sources``: those named in ``polled``, their needs, and
    every derived source."""

    def __init__(
        self,
        context: SourceContext,
        sources: Sequence[type[Source]],
        polled: Iterable[str],
        *,
        publish: Callable[[str], None] = lambda name: None,
        next_run: Callable[[str], float | None] = lambda name: None,
        sync_deadline: Callable[[str], float | None] = lambda name: None,
    ) -> None:
        self.context = context
        self._sync_deadline = sync_deadline
        self.polled = tuple(polled)
        self._publish = publish
        self._next_run = next_run
        self._running = ""
        context.show_progress = lambda: publish(self._running)
        by_name = {cls.name: cls for cls in sources}
        wanted = set(self.polled)
        for name in self.polled:
            wanted.update(by_name[name].needs)
        self.sources: dict[str, Source] = {
            cls.name: cls(context) for cls in sources if cls.name in wanted or cls.interval_s is None
        }
        self._shown = {
            name for name, source in self.sources.items() if name in self.polled or source.interval_s is None
        }
        self._status = {name: SourceStatus(name) for name in self.polled}
        self.features: dict[str, bool] = {}
        self._feature_recheck_ms: dict[str, int] = {}
        self.restored = any(source.restored for source in self.sources.values())

    @property
    def ready(self) -> bool:
        """True once state was restored or every polled source has finished a first sync."""
        return self.restored or all(status.success is not None for status in self._status.values())

    def source(self, name: str) -> Source:
        """The running instance of source ``name``."""
        return self.sources[name]

    def run(self, name: str) -> bool:
        """Sync one source, record how it went, publish; True on success.

        A polled source that reads this one and is left stale by its sync (a billing-cycle rollover onto an
        hour the usage ledger holds whole) is synced too, before the publish, so that no snapshot mixes
        the new cycle with the old one's figures."""
        self._running = name
        ok = self._sync(self.sources[name]) is None
        for reader in self.polled:
            source = self.sources[reader]
            if name in source.reads and source.stale:
                self._sync(source)
        self._publish(name)
        return ok

    def _sync(self, source: Source) -> str | None:
        """One guarded sync of ``source`` with its status recorded; returns its error, None on success."""
        started = time.monotonic()
        requests_before = self._total_requests()
        needed_requests: list[int] = []  # API requests of the needs synced first, counted under their names
        error: str | None = None
        try:
            with ExitStack() as deadlines:
                for client in self._clients():
                    deadlines.enter_context(client.sync_deadline(self._sync_deadline(source.name)))
                self._fetch(source, needed_requests)
        except Cancelled:
            error = "cancelled: the exporter is shutting down"
            log.info("%s sync %s", source.name, error)
        except SourceWaiting as waiting:
            error = str(waiting)
            log.warning("%s sync skipped: %s", source.name, error)
        except FeatureUnavailable as unavailable:
            if source.feature is not None:
                self._mark_unavailable(source.feature, unavailable)
            else:  # a 403 on a route every plan has: the key lacks a scope
                error = str(unavailable)
                log.warning("%s sync failed: %s", source.name, error)
        except ApiError as failure:
            error = str(failure)
            log.warning("%s sync failed: %s", source.name, error)
        except Exception as failure:  # the daemon must outlive any single bad sync
            error = f"{type(failure).__name__}: {failure}"
            log.exception("%s sync failed unexpectedly", source.name)
        own_requests = self._total_requests() - requests_before - sum(needed_requests)
        self._record(source.name, error, started, own_requests)
        return error

    def _fetch(self, source: Source, needed_requests: list[int]) -> None:
        """Fetch unless gated, syncing the source's needs first when it waits for one; the API requests
        those needs made are appended to ``needed_requests``."""
        if self._gated(source):
            return
        try:
            source.fetch()
        except SourceWaiting:
            if not source.needs:
                raise
            for need in source.needs:
                before = self._total_requests()
                self._sync(self.sources[need])
                self._publish(need)
                needed_requests.append(self._total_requests() - before)
            source.fetch()
        if source.feature is not None:
            self.features[source.feature] = True

    def _gated(self, source: Source) -> bool:
        """True while the source's feature is known unavailable and not yet due for a re-check."""
        return source.feature is not None and self.context.clock_ms() < self._feature_recheck_ms.get(source.feature, 0)

    def _mark_unavailable(self, feature: str, error: FeatureUnavailable) -> None:
        if self.features.get(feature) is not False:
            log.warning("%s unavailable on this plan or key (%s); re-checking hourly", feature, error.message)
        self.features[feature] = False
        self._feature_recheck_ms[feature] = self.context.clock_ms() + FEATURE_RECHECK_MS

    def _record(self, name: str, error: str | None, started: float, api_requests: int) -> None:
        now = wall_clock_ms() / 1000  # statuses are wall-clock time, for alerts on staleness
        previous = self._status.get(name, SourceStatus(name))
        status = replace(
            previous,
            success=error is None,
            last_success_s=now if error is None else previous.last_success_s,
            last_attempt_s=now,
            last_error=error,
            last_duration_s=time.monotonic() - started,
            last_api_requests=api_requests,
        )
        self._status[name] = status
        log.info(
            "%s sync %s: %d API requests in %.1fs",
            name,
            "done" if error is None else "failed",
            status.last_api_requests,
            status.last_duration_s,
        )

    def overview(self, team: str | None) -> TeamOverview:
        """Where this team's data comes from, and how far each ledger reaches, for the landing page."""
        coverage = {name: span for name, source in self.sources.items() if (span := source.coverage()) is not None}
        return TeamOverview(team, self.context.client.base_url, str(self.context.store.path.parent), coverage)

    def _hidden(self, source: Source) -> bool:
        unavailable = source.feature is not None and self.features.get(source.feature) is False
        return unavailable and source.hidden_when_unavailable

    def _clients(self) -> tuple[CursorClient, ...]:
        org = self.context.org_client
        return (self.context.client,) if org is None else (self.context.client, org)

    def _total_requests(self) -> int:
        return sum(client.stats.total_requests() for client in self._clients())

    def snapshot(self) -> Snapshot:
        """An immutable picture of every shown source's state; a gated source shows nothing."""
        requests: dict = {}
        waits: dict = {}
        malformed: dict = {}
        for client in self._clients():
            client_requests, client_waits, client_malformed = client.stats.copy()
            requests |= client_requests
            waits |= client_waits
            malformed |= client_malformed
        parts = {
            name: None if self._hidden(source) else source.state()
            for name, source in self.sources.items()
            if name in self._shown
        }
        statuses = tuple(replace(status, next_run_s=self._next_run(status.name)) for status in self._status.values())
        shared = self.context.shared
        return Snapshot(
            version=__version__,
            mode=self.context.options.mode,
            as_of_ms=self.context.clock_ms() - self.context.options.end_delay_ms,
            parts=MappingProxyType(parts),
            statuses=statuses,
            features=MappingProxyType(dict(self.features)),
            top_users=shared.cap.top_users,
            tracked_users=shared.cap.tracked,
            api_requests=MappingProxyType(requests),
            rate_limit_waits=MappingProxyType(waits),
            malformed_records=MappingProxyType(malformed),
            windows_fetched=self.context.scans.fetched,
            windows_inconsistent=self.context.scans.inconsistent,
        )
