"""/teams/spend families: billing cycle start, and per-user and team on-demand and overall spend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from prometheus_client.core import Metric

from cursor_exporter.labels import OTHER_USER, LabelPolicy
from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.records import ZERO
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
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
    if not labels.per_user:
        return
    spend: dict[str, Decimal] = defaultdict(Decimal)
    overall: dict[str, Decimal] = defaultdict(Decimal)
    limit = BY_NAME["cursor_user_spend_limit_usd"].new()
    for row in sorted(report.members, key=lambda row: row.email):
        user = labels.user(row.email, snapshot.tracked_users)
        spend[user] += row.spend_cents
        if row.overall_spend_cents is not None:
            overall[user] += row.overall_spend_cents
        # A limit is per person: it has no meaning for a folded or shared label.
        if row.effective_limit_dollars is not None and user != OTHER_USER and labels.user_mode != "domain":
            limit.add_metric((user,), float(row.effective_limit_dollars))
    spend_family = BY_NAME["cursor_user_spend_usd"].new()
    for user, cents in sorted(spend.items()):
        spend_family.add_metric((user,), dollars(cents))
    overall_family = BY_NAME["cursor_user_overall_spend_usd"].new()
    for user, cents in sorted(overall.items()):
        overall_family.add_metric((user,), dollars(cents))
    yield from (spend_family, overall_family, limit)
