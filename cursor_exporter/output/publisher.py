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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace

from prometheus_client.core import Metric

from cursor_exporter import __version__
from cursor_exporter.output.exposition import ExpositionCache, Part, Rendered
from cursor_exporter.output.otlp import OtlpPusher
from cursor_exporter.output.web import landing_page
from cursor_exporter.sources import SOURCES
from cursor_exporter.sources.base import Snapshot, Source, SourceStatus
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.sources.exporter import ExporterSource
from cursor_exporter.sources.labels import LabelPolicy

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
        self._metrics: dict[tuple[str | None, str], list[Metric]] = {}
        self._families: dict[str, list[Metric]] = {}
        self._parts: dict[str, Part] = {}
        self.render_errors: dict[tuple[str | None, str], str] = {}

    def publish(self, changed: str | None = None) -> None:
        """Render what ``changed`` affects (everything when None) and hand the result to every output."""
        with self._lock:
            snapshots = [(team, engine.snapshot()) for team, engine in self.engines]
            for cls in self.sources:
                stale = changed is None or cls.name == changed or changed in cls.reads or cls.name not in self._parts
                if cls is not ExporterSource and stale:
                    self._render(cls, snapshots)
            snapshots = [(team, self._with_render_errors(team, snapshot)) for team, snapshot in snapshots]
            self._render(ExporterSource, snapshots)
            families = [metric for cls in self.sources for metric in self._families.get(cls.name, ())]
            if self.otlp is not None:
                self.otlp.publish(families)
            parts = [self._parts[cls.name] for cls in self.sources if cls.name in self._parts]
            rendered = Rendered.join(parts if self.telemetry_path else ())
            statuses = tuple(
                replace(status, name=status.name if team is None else f"{team}/{status.name}")
                for team, snapshot in snapshots
                for status in snapshot.statuses
            )
            page = landing_page(__version__, statuses, self.telemetry_path)
            self.cache.publish(rendered, page, all(engine.ready for _, engine in self.engines))

    def _render(self, cls: type[Source], snapshots: list[tuple[str | None, Snapshot]]) -> None:
        several = len(snapshots) > 1
        for team, snapshot in snapshots if cls.per_team else snapshots[:1]:
            key = (team, cls.name)
            try:
                self._metrics[key] = with_team_label(cls.render(snapshot, self.labels), team if several else None)
            except Exception as failure:  # a bug in one render must not freeze the others
                if key not in self.render_errors:
                    log.exception("%s render failed; serving its last good families", cls.name)
                self.render_errors[key] = f"render failed: {type(failure).__name__}: {failure}"
            else:
                self.render_errors.pop(key, None)
        self._families[cls.name] = merge_families(
            metrics for (_, name), metrics in self._metrics.items() if name == cls.name
        )
        self._parts[cls.name] = Part.of(self._families[cls.name])

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
