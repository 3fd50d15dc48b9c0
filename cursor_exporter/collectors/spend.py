"""/teams/spend families: billing cycle start, and per-user and team on-demand and overall spend."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.records import ZERO
from cursor_exporter.snapshot import Snapshot
from cursor_exporter.userlabel import UserLabeler


def collect(snapshot: Snapshot, users: UserLabeler) -> Iterator[Metric]:
    """Families of the ``spend`` collector."""
    report = snapshot.spend
    if report is None:
        return
    cycle_start = BY_NAME["cursor_billing_cycle_start_timestamp_seconds"].new()
    cycle_start.add_metric((), report.cycle_start_ms / 1000)
    team_spend = BY_NAME["cursor_team_spend_usd"].new()
    team_spend.add_metric((), dollars(sum((row.spend_cents for row in report.members), ZERO)))
    team_overall = BY_NAME["cursor_team_overall_spend_usd"].new()
    team_overall.add_metric((), dollars(sum((row.overall_spend_cents or ZERO for row in report.members), ZERO)))
    yield from (cycle_start, team_spend, team_overall)
    if not users.enabled:
        return
    spend, overall, limit = (
        BY_NAME[name].new()
        for name in ("cursor_user_spend_usd", "cursor_user_overall_spend_usd", "cursor_user_spend_limit_usd")
    )
    for row in sorted(report.members, key=lambda row: row.email):
        user = (users.label(row.email),)
        spend.add_metric(user, dollars(row.spend_cents))
        if row.overall_spend_cents is not None:
            overall.add_metric(user, dollars(row.overall_spend_cents))
        if row.effective_limit_dollars is not None:
            limit.add_metric(user, float(row.effective_limit_dollars))
    yield from (spend, overall, limit)
