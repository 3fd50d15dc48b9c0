"""One collector per data source. Each turns a :class:`~cursor_exporter.snapshot.Snapshot` into
prometheus_client metric families, using the definitions in :mod:`cursor_exporter.metrics`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import Metric

from cursor_exporter.collectors import activity, ai_code, cost, exporter, groups, mapping, members, org, spend, usage
from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import FAMILIES
from cursor_exporter.snapshot import Snapshot

CollectFunction = Callable[[Snapshot, LabelPolicy], Iterable[Metric]]

SOURCE_COLLECTORS: dict[str, CollectFunction] = {
    "usage": usage.collect,
    "spend": spend.collect,
    "members": members.collect,
    "groups": groups.collect,
    "activity": activity.collect,
    "ai_code": ai_code.collect,
    "org": org.collect,
    "org_usage": usage.collect_org,
    "cost": cost.collect,
    "mapping": mapping.collect,
}


def collect_all(snapshot: Snapshot, labels: LabelPolicy, enabled: Iterable[str]) -> list[Metric]:
    """All families of the enabled collectors plus the exporter's own, in definition order."""
    metrics: list[Metric] = []
    for name in enabled:
        metrics.extend(SOURCE_COLLECTORS[name](snapshot, labels))
    metrics.extend(exporter.collect(snapshot, labels))
    order = {family.name.removesuffix("_total"): i for i, family in enumerate(FAMILIES)}
    return sorted(metrics, key=lambda metric: order.get(metric.name, len(order)))
