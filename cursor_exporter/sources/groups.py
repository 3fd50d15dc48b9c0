"""Billing-group families (Enterprise): cycle spend and members per group, and user-to-group info."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.labels import OTHER_USER, LabelPolicy
from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``groups`` collector."""
    if snapshot.groups is None:
        return
    spend = BY_NAME["cursor_group_cycle_spend_usd"].new()
    members = BY_NAME["cursor_group_members"].new()
    info = BY_NAME["cursor_user_group_info"].new()
    seen: set[tuple[str, str]] = set()
    for group in sorted(snapshot.groups.groups, key=lambda group: group.name):
        spend.add_metric((group.name,), dollars(group.spend_cents))
        members.add_metric((group.name,), group.member_count)
        if not labels.per_user:
            continue
        for member in group.current_members:
            user = labels.user(member.email, snapshot.tracked_users)
            if user != OTHER_USER and (user, group.name) not in seen:
                seen.add((user, group.name))
                info.add_metric((user, group.name), 1)
    yield from (spend, members)
    if labels.per_user:
        yield info
