"""The thin engine: runs one team's sources, each in its own guard and, under ``serve``, in its own thread.

Cursor limits each endpoint apart, so sources sync side by side; a source never runs two syncs at once.
For every sync the engine keeps the time taken, the API calls made to the source's own endpoints, the
outcome, and Enterprise-feature gating (a 403 marks the source's feature unavailable, is logged once
and re-checked hourly). A source that needs another's value (the billing-cycle start) and finds it
missing gets that source synced first, under its own status and call count, or, when that source is
syncing in its own thread, waits only until the value is written. Nothing a source raises escapes: it
shows as a failing status and the source keeps its last state.
"""

from __future__ import annotations

import logging
import threading
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
NEED_POLL_S = 1.0  # a source waiting on another's sync looks again this often, besides when told


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
        show_progress: Callable[[str], None] | None = None,
        next_run: Callable[[str], float | None] = lambda name: None,
        sync_deadline: Callable[[str], float | None] = lambda name: None,
    ) -> None:
        self.context = context
        self._sync_deadline = sync_deadline
        self.polled = tuple(polled)
        self._publish = publish
        self._next_run = next_run
        self._syncing = threading.local()  # the source this thread syncs: a backfill publishes its progress
        progress = show_progress or publish  # a publisher may skip some of a backfill's progress, never its end
        context.show_progress = lambda: progress(getattr(self._syncing, "name", ""))
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
        # Sources sync in threads of their own (their endpoints' limits are independent); one at a time each.
        self._locks = {name: threading.Lock() for name in self.sources}
        self._shared_changed = threading.Condition()  # a value sources wait for was written (the cycle start)
        context.shared.on_cycle_start(lambda start_ms: self._notify_shared())
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

        A polled source that follows this one and is left stale by its sync (a billing-cycle rollover) is
        synced too, before anything is published, so that no snapshot mixes the new cycle with the old
        one's figures; then both are rendered."""
        ok = self._sync(self.sources[name]) is None
        synced = [name]
        for follower in self.polled:
            source = self.sources[follower]
            if name in source.follows and source.stale:
                self._sync(source, only_if_stale=True)
                synced.append(follower)
        for each in reversed(synced):  # the followers first: spend reads usage, so this first render is whole
            self._publish(each)
        return ok

    def _sync(self, source: Source, only_if_stale: bool = False) -> str | None:
        """One guarded sync of ``source`` (after any sync of it already running in another thread) with its
        status recorded; returns its error, None on success or when ``only_if_stale`` found it fresh."""
        with self._locks[source.name]:
            if only_if_stale and not source.stale:
                return None
            outer = getattr(self._syncing, "name", "")
            self._syncing.name = source.name
            try:
                return self._sync_now(source)
            finally:
                self._syncing.name = outer

    def _sync_now(self, source: Source) -> str | None:
        started = time.monotonic()
        requests_before = self._requests_of(source)
        error: str | None = None
        try:
            with ExitStack() as deadlines:
                for client in self._clients():
                    deadlines.enter_context(client.sync_deadline(self._sync_deadline(source.name)))
                self._fetch(source)
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
        self._record(source.name, error, started, self._requests_of(source) - requests_before)
        return error

    def _fetch(self, source: Source) -> None:
        """Fetch unless gated, syncing the source's needs first when it waits for one."""
        if self._gated(source):
            return
        try:
            source.fetch()
        except SourceWaiting:
            if not source.needs:
                raise
            while True:
                still_syncing = [self._await_need(need) for need in source.needs]
                try:
                    source.fetch()
                    break
                except SourceWaiting:
                    if not any(still_syncing):
                        raise
        if source.feature is not None:
            self.features[source.feature] = True

    def _await_need(self, name: str) -> bool:
        """Sync a needed source here, or, when it is syncing in its own thread right now, wait until it
        writes a shared value (its first page may carry what is needed) or ends. True while it still syncs."""
        lock = self._locks[name]
        if lock.acquire(blocking=False):
            lock.release()
            self._sync(self.sources[name])
            self._publish(name)
            return False
        with self._shared_changed:
            self._shared_changed.wait(timeout=NEED_POLL_S)
        return lock.locked()

    def _notify_shared(self) -> None:
        with self._shared_changed:
            self._shared_changed.notify_all()

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
        storage = str(self.context.store.path.parent)
        cycle_start = self.context.shared.cycle_start_ms
        return TeamOverview(team, self.context.client.base_url, storage, coverage, cycle_start)

    def _hidden(self, source: Source) -> bool:
        unavailable = source.feature is not None and self.features.get(source.feature) is False
        return unavailable and source.hidden_when_unavailable

    def _clients(self) -> tuple[CursorClient, ...]:
        org = self.context.org_client
        return (self.context.client,) if org is None else (self.context.client, org)

    def _requests_of(self, source: Source) -> int:
        """API requests sent so far to ``source``'s endpoints (syncs of other sources run beside it)."""
        paths = {endpoint.path for endpoint in source.endpoints}
        return sum(
            count for client in self._clients() for (path, _), count in client.stats.copy()[0].items() if path in paths
        )

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
