"""One collector per data source. Each turns a :class:`~cursor_exporter.snapshot.Snapshot` into
prometheus_client metric families, using the definitions in :mod:`cursor_exporter.metrics`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import Metric

from cursor_exporter.collectors import exporter, members, spend, usage
from cursor_exporter.metrics import FAMILIES
from cursor_exporter.snapshot import Snapshot
from cursor_exporter.userlabel import UserLabeler

CollectFunction = Callable[[Snapshot, UserLabeler], Iterable[Metric]]

SOURCE_COLLECTORS: dict[str, CollectFunction] = {
    "usage": usage.collect,
    "spend": spend.collect,
    "members": members.collect,
}


def collect_all(snapshot: Snapshot, users: UserLabeler, enabled: Iterable[str]) -> list[Metric]:
    """All families of the enabled collectors plus the exporter's own, in definition order."""
    metrics: list[Metric] = []
    for name in enabled:
        metrics.extend(SOURCE_COLLECTORS[name](snapshot, users))
    metrics.extend(exporter.collect(snapshot, users))
    order = {family.name.removesuffix("_total"): i for i, family in enumerate(FAMILIES)}
    return sorted(metrics, key=lambda metric: order.get(metric.name, len(order)))
