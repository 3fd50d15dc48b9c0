"""Organization families: the pooled-usage limit, use and remainder, and each team's share and budget."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``org`` collector."""
    pool = snapshot.org_pool
    if pool is None:
        return
    for name, cents in (
        ("cursor_org_pool_limit_usd", pool.limit_cents),
        ("cursor_org_pool_used_usd", pool.used_cents),
        ("cursor_org_pool_remaining_usd", pool.remaining_cents),
    ):
        if cents is not None:
            family = BY_NAME[name].new()
            family.add_metric((), dollars(cents))
            yield family
    used = BY_NAME["cursor_org_team_used_usd"].new()
    budget = BY_NAME["cursor_org_team_budget_usd"].new()
    for team in sorted(pool.teams, key=lambda team: team.team_id or ""):
        used.add_metric((team.team_id or "unknown",), dollars(team.used_cents))
        if team.budget_limit_cents is not None:
            budget.add_metric((team.team_id or "unknown",), dollars(team.budget_limit_cents))
    yield from (used, budget)
