"""/teams/members families: seats by role, with removed members counted apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import BY_NAME
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``members`` collector."""
    if snapshot.members is None:
        return
    roles = Counter(member.role for member in snapshot.members if not member.is_removed)
    by_role = BY_NAME["cursor_team_members"].new()
    for role, count in sorted(roles.items()):
        by_role.add_metric((role,), count)
    removed = BY_NAME["cursor_team_removed_members"].new()
    removed.add_metric((), sum(1 for member in snapshot.members if member.is_removed))
    yield from (by_role, removed)
