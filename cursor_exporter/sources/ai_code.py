"""AI code tracking families: commits and AI vs non-AI lines per repository, and repository cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from prometheus_client.core import Metric

from cursor_exporter.aicode import attribute_spend
from cursor_exporter.labels import LabelPolicy
from cursor_exporter.metrics import BY_NAME, dollars
from cursor_exporter.snapshot import Snapshot


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``ai_code`` collector."""
    view = snapshot.ai_code
    if view is None:
        return
    commits = BY_NAME["cursor_ai_code_cycle_commits"].new()
    lines = BY_NAME["cursor_ai_code_cycle_lines"].new()
    for (repo, source), (count, ai_added, ai_deleted, human_added, human_deleted) in sorted(
        view.by_repo_source.items()
    ):
        commits.add_metric((repo, source), count)
        lines.add_metric((repo, source, "ai", "added"), ai_added)
        lines.add_metric((repo, source, "ai", "deleted"), ai_deleted)
        lines.add_metric((repo, source, "non_ai", "added"), human_added)
        lines.add_metric((repo, source, "non_ai", "deleted"), human_deleted)
    yield from (commits, lines)
    if snapshot.usage is None:
        return
    by_user: dict[str, Decimal] = {}
    for key, tally in snapshot.usage.cycle.items():
        by_user[key.user] = by_user.get(key.user, Decimal(0)) + tally.charged_cents
    repos = BY_NAME["cursor_repo_cycle_charged_usd"].new()
    for repo, cents in sorted(attribute_spend(view, by_user).items()):
        repos.add_metric((repo,), dollars(cents))
    yield repos
