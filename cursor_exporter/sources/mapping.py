"""The user mapping file as ``cursor_user_info``: team, cost center or any column, for PromQL joins."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from cursor_exporter.labels import OTHER_USER, LabelPolicy
from cursor_exporter.metrics import BY_NAME
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``mapping`` collector (no API calls: the file's rows)."""
    if not snapshot.user_mapping or not labels.per_user:
        return
    columns = sorted({column for row in snapshot.user_mapping.values() for column in row})
    definition = BY_NAME["cursor_user_info"]
    info = GaugeMetricFamily(definition.name, definition.help, labels=("user", *columns))
    seen: set[tuple[str, ...]] = set()
    for email, row in sorted(snapshot.user_mapping.items()):
        user = labels.user(email, snapshot.tracked_users)
        values = (user, *(row.get(column, "") for column in columns))
        if user != OTHER_USER and values not in seen:
            seen.add(values)
            info.add_metric(values, 1)
    yield info
