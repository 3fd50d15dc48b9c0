"""Publishing: every source's families rendered in a guard of their own into a part of their own.

After a sync only the parts that changed are rendered again: the synced source's, those whose render
reads it (``Source.reads``), and the exporter's own health. A source whose render raises keeps its
last good part, and its ``cursor_exporter_collector_success`` reads 0 with the error on the landing
page; no other part and no scrape is held up. With several teams each part holds every team's
samples, each with a ``team`` label.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import Metric

from cursor_exporter import __version__
from cursor_exporter.output.exposition import ExpositionCache, Part, Rendered
from cursor_exporter.output.landing import landing_page
from cursor_exporter.output.otlp import OtlpPusher
from cursor_exporter.sources import SOURCES
from cursor_exporter.sources.base import Snapshot, Source, SourceStatus
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.sources.exporter import ExporterSource
from cursor_exporter.sources.labels import LabelPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")
# A long sync's progress renders may take at most this share of its time: at 10,000 seats a render costs
# seconds, and rendering after every window of a backfill took a third of the exporter's CPU; at a tenth,
# progress renders were still 16% of a 3,000-seat cold start's CPU, with the exporter the bound.
PROGRESS_RENDER_SHARE = 0.05
PROGRESS_RETRY_S = 0.5  # a progress deferred because another publish ran waits this long
RUNTIME_PART = "runtime"  # the process_* and python_* families, on a schedule of their own
RUNTIME = CollectorRegistry(auto_describe=False)  # not the default registry: nothing else is exposed
for _collector in (ProcessCollector, PlatformCollector, GCCollector):
    _collector(registry=RUNTIME)


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


def _whole_exporter(snapshots: list[tuple[str | None, Snapshot]]) -> tuple[str | None, Snapshot]:
    """One snapshot for a source rendered once for every team: the first team's, with the users every
    team's top-N cap picked (no cap when any team has none)."""
    team, first = snapshots[0]
    picks = [snapshot.tracked_users for _, snapshot in snapshots]
    tracked = None if any(users is None for users in picks) else frozenset().union(*picks)
    return team, replace(first, tracked_users=tracked)


class Publisher:
    """Renders the enabled sources of every team into the exposition cache, the landing page and OTLP."""

    def __init__(
        self,
        engines: Sequence[tuple[str | None, TeamEngine]],
        enabled: Collection[str],
        labels: LabelPolicy,
        cache: ExpositionCache,
        *,
        telemetry_path: str | None = "/metrics",
        otlp: OtlpPusher | None = None,
        sources: Sequence[type[Source]] = SOURCES,
    ) -> None:
        self.engines = list(engines)
        self.sources = [cls for cls in sources if cls.name in enabled or not cls.switchable]
        self.labels = labels
        self.cache = cache
        self.telemetry_path = telemetry_path
        self.otlp = otlp
        self._lock = threading.Lock()
        # The families themselves are kept only for OTLP's pushes and to merge several teams' samples (a
        # team whose render fails keeps its last good ones); else each part goes straight to bytes, and at
        # 100,000 series that keeps about 30 MB of sample objects off the heap, twice over during a render.
        self._keeps_families = otlp is not None or len(self.engines) > 1
        self._metrics: dict[tuple[str | None, str], list[Metric]] = {}
        self._families: dict[str, list[Metric]] = {}
        self._parts: dict[str, Part] = {}
        self._landing_page = b""
        self._ready = False
        self._progress_due = 0.0  # monotonic time before which a progress publish is deferred
        self._deferral = threading.Lock()  # guards the three below
        self._deferred: set[str] = set()  # sources whose progress waits for its turn
        self._timer: threading.Timer | None = None
        self._closed = False
        self.render_errors: dict[tuple[str | None, str], str] = {}

    def publish(self, changed: str | None = None) -> None:
        """Render what ``changed`` affects (everything when None) and hand the result to every output."""
        with self._lock:
            self._publish(changed)

    def publish_progress(self, changed: str) -> None:
        """Publish a long sync's progress, unless that would spend more than ``PROGRESS_RENDER_SHARE`` of
        the time rendering (after a render of t CPU seconds the next progress waits for t/share - t) or
        another publish is running: then it is published once its time comes, unless a publish of
        ``changed`` came first. The sync's own publish at its end is never deferred."""
        if time.monotonic() >= self._progress_due and self._lock.acquire(blocking=False):
            try:
                if not self._closed:
                    self._publish(changed)
            finally:
                self._lock.release()
            return
        with self._deferral:
            self._deferred.add(changed)
            if self._timer is None and not self._closed:
                delay = max(self._progress_due - time.monotonic(), PROGRESS_RETRY_S)
                self._timer = threading.Timer(delay, self._publish_deferred)
                self._timer.daemon = True
                self._timer.start()

    def _publish_deferred(self) -> None:
        with self._deferral:
            self._timer, deferred = None, set(self._deferred)
            self._deferred.clear()
        for changed in sorted(deferred):
            self.publish_progress(changed)

    def close(self) -> None:
        """Publish nothing more: a deferred progress is dropped, and a publish under way finishes first."""
        with self._lock, self._deferral:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()

    def _publish(self, changed: str | None) -> None:
        started, cpu_started = time.monotonic(), time.thread_time()
        snapshots = [(team, engine.snapshot()) for team, engine in self.engines]
        affected = self._affected_by(changed)
        with self._deferral:
            self._deferred -= affected
        for cls in self.sources:
            if cls is not ExporterSource and (cls.name in affected or cls.name not in self._parts):
                self._render(cls, snapshots)
        snapshots = [(team, self._with_render_errors(team, snapshot)) for team, snapshot in snapshots]
        self._render(ExporterSource, snapshots)
        if self.otlp is not None:
            self.otlp.publish([metric for cls in self.sources for metric in self._families.get(cls.name, ())])
        overviews = [engine.overview(team) for team, engine in self.engines]
        self._landing_page = landing_page(
            __version__,
            list(zip(overviews, (snapshot for _, snapshot in snapshots), strict=True)),
            self.telemetry_path,
        )
        self._ready = all(engine.ready for _, engine in self.engines)
        self._emit()
        cost = time.thread_time() - cpu_started
        self._progress_due = started + cost / PROGRESS_RENDER_SHARE

    def publish_runtime(self) -> None:
        """Render the process and Python families (memory, CPU, file descriptors, GC) anew."""
        with self._lock:
            self._parts[RUNTIME_PART] = Part.of(RUNTIME.collect())
            self._emit()

    def _emit(self) -> None:
        """Join the parts, sources in registry order and the runtime families last, into the cache."""
        names = [*(cls.name for cls in self.sources), RUNTIME_PART]
        parts = [self._parts[name] for name in names if name in self._parts]
        self.cache.publish(Rendered.join(parts if self.telemetry_path else ()), self._landing_page, self._ready)

    def _affected_by(self, changed: str | None) -> set[str]:
        """``changed`` and every source that reads it, directly or through others (all when None)."""
        if changed is None:
            return {cls.name for cls in self.sources}
        affected, grew = {changed}, True
        while grew:
            more = {cls.name for cls in self.sources if affected.intersection(cls.reads)} - affected
            affected |= more
            grew = bool(more)
        return affected

    def _render(self, cls: type[Source], snapshots: list[tuple[str | None, Snapshot]]) -> None:
        renders = snapshots if cls.per_team else [_whole_exporter(snapshots)]
        if not self._keeps_families:  # one team, no OTLP: straight to bytes, one family at a time
            (team, snapshot), name = renders[0], cls.name
            part = self._guarded((team, name), lambda: Part.of(cls.render(snapshot, self.labels)))
            if part is not None:
                self._parts[name] = part
            return
        several = len(snapshots) > 1 and cls.per_team
        for team, snapshot in renders:
            metrics = self._guarded((team, cls.name), partial(self._labelled, cls, snapshot, team if several else None))
            if metrics is not None:
                self._metrics[team, cls.name] = metrics
        self._families[cls.name] = merge_families(
            metrics for (_, name), metrics in self._metrics.items() if name == cls.name
        )
        self._parts[cls.name] = Part.of(self._families[cls.name])

    def _labelled(self, cls: type[Source], snapshot: Snapshot, team: str | None) -> list[Metric]:
        return with_team_label(cls.render(snapshot, self.labels), team)

    def _guarded(self, key: tuple[str | None, str], render: Callable[[], T]) -> T | None:
        """What ``render`` returns, or None when it raised: a bug in one render must not freeze the others,
        and the source keeps its last good part, its error shown until a render succeeds again."""
        try:
            rendered = render()
        except Exception as failure:
            if key not in self.render_errors:
                log.exception("%s render failed; serving its last good families", key[1])
            self.render_errors[key] = f"render failed: {type(failure).__name__}: {failure}"
            return None
        self.render_errors.pop(key, None)
        return rendered

    def _with_render_errors(self, team: str | None, snapshot: Snapshot) -> Snapshot:
        """The snapshot with every source whose render failed shown as failing."""
        errors = {name: error for (owner, name), error in self.render_errors.items() if owner == team}
        if not errors:
            return snapshot
        statuses = [
            replace(status, success=False, last_error=errors.pop(status.name)) if status.name in errors else status
            for status in snapshot.statuses
        ]
        statuses += [SourceStatus(name, success=False, last_error=error) for name, error in errors.items()]
        return replace(snapshot, statuses=tuple(statuses))
