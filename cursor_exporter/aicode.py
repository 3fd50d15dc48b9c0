"""AI code tracking (Enterprise, alpha): lines and commits per repository and source, and the
per-repository cost attribution.

Attribution method: each user's charged money of the current cycle is spread over the repositories
that user committed AI lines to in the cycle, in proportion to the AI lines added (Tab + Composer).
Money of users with no tracked AI lines goes to ``repo="__unattributed__"``, so the repositories sum
to the team's cycle charge. Limits: Cursor tracks only the repository at the workspace root and only
commits made through Cursor, and spend is not per line; it is an allocation key, not a measurement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from cursor_exporter.records import AiCommit

UNATTRIBUTED = "__unattributed__"


@dataclass(frozen=True)
class AiCodeView:
    """What the ai_code collector renders."""

    # (repository, source) -> (commits, AI lines added, AI deleted, non-AI added, non-AI deleted)
    by_repo_source: Mapping[tuple[str, str], tuple[int, int, int, int, int]]
    ai_lines_by_user_repo: Mapping[str, Mapping[str, int]]


def build_view(commits: Iterable[AiCommit]) -> AiCodeView:
    """Sum commits per (repository, source), and AI lines added per user and repository."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    by_user: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for commit in commits:
        row = sums[(commit.repo, commit.source)]
        ai_added, ai_deleted = commit.ai_lines
        human_added, human_deleted = commit.non_ai_lines
        for index, value in enumerate((1, ai_added, ai_deleted, human_added, human_deleted)):
            row[index] += value
        by_user[commit.user_email][commit.repo] += ai_added
    return AiCodeView(
        by_repo_source=MappingProxyType({key: tuple(row) for key, row in sums.items()}),
        ai_lines_by_user_repo=MappingProxyType({u: MappingProxyType(dict(r)) for u, r in by_user.items()}),
    )


def attribute_spend(view: AiCodeView, cycle_cents_by_user: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Cycle charged cents per repository (see the module docstring for the method)."""
    repos: dict[str, Decimal] = defaultdict(Decimal)
    for user, cents in cycle_cents_by_user.items():
        lines = {repo: n for repo, n in view.ai_lines_by_user_repo.get(user, {}).items() if n > 0}
        total = sum(lines.values())
        if not total:
            repos[UNATTRIBUTED] += cents
            continue
        for repo, count in lines.items():
            repos[repo] += cents * count / total
    return dict(repos)
