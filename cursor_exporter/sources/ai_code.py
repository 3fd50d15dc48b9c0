"""Source ``ai_code``: AI Code Tracking (Enterprise, alpha), /analytics/ai-code/commits of the current
cycle: lines and commits per repository and source, and the per-repository cost attribution.

Attribution method: each user's charged money of the current cycle is spread over the repositories
that user committed AI lines to in the cycle, in proportion to the AI lines added (Tab + Composer).
Money of users with no tracked AI lines goes to ``repo="__unattributed__"``, so the repositories sum
to the team's cycle charge. Limits: Cursor tracks only the repository at the workspace root and only
commits made through Cursor, and spend is not per line; it is an allocation key, not a measurement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from prometheus_client.core import Metric
from pydantic import Field

from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Count, Email, Record
from cursor_exporter.money import cents_by_user, dollars
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import utc_date

AI_CODE_COMMITS = Endpoint("GET", "/analytics/ai-code/commits", etag=True)
AI_CODE_PAGE_SIZE = 1000
UNATTRIBUTED = "__unattributed__"


class AiCommit(Record):
    """One commit of /analytics/ai-code/commits; null line counts count as 0, a null repo as ``unknown``."""

    user_email: Email = Field("", alias="userEmail")
    repo_name: str | None = Field(None, alias="repoName")
    commit_source: str | None = Field(None, alias="commitSource")
    tab_lines_added: Count | None = Field(0, alias="tabLinesAdded")
    tab_lines_deleted: Count | None = Field(0, alias="tabLinesDeleted")
    composer_lines_added: Count | None = Field(0, alias="composerLinesAdded")
    composer_lines_deleted: Count | None = Field(0, alias="composerLinesDeleted")
    non_ai_lines_added: Count | None = Field(0, alias="nonAiLinesAdded")
    non_ai_lines_deleted: Count | None = Field(0, alias="nonAiLinesDeleted")

    @property
    def repo(self) -> str:
        return self.repo_name or "unknown"

    @property
    def source(self) -> str:
        return (self.commit_source or "unknown").lower()

    @property
    def ai_lines(self) -> tuple[int, int]:
        """(added, deleted) by Tab and Composer (agent) together."""
        return (
            (self.tab_lines_added or 0) + (self.composer_lines_added or 0),
            (self.tab_lines_deleted or 0) + (self.composer_lines_deleted or 0),
        )

    @property
    def non_ai_lines(self) -> tuple[int, int]:
        """(added, deleted) typed by people."""
        return self.non_ai_lines_added or 0, self.non_ai_lines_deleted or 0


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


AI_CODE_CYCLE_COMMITS = Family(
    "cursor_ai_code_cycle_commits",
    "gauge",
    ("repo", "source"),
    "Commits tracked this billing cycle per repository (repo unknown when Cursor reports none) "
    "and source (ide, cli, cloud).",
    "/analytics/ai-code/commits: one per item, by repoName and commitSource",
)

AI_CODE_CYCLE_LINES = Family(
    "cursor_ai_code_cycle_lines",
    "gauge",
    ("repo", "source", "origin", "change"),
    "Committed lines this billing cycle per repository and source: origin ai (Tab + Composer) or "
    "non_ai, change added or deleted.",
    "/analytics/ai-code/commits: tabLines*, composerLines*, nonAiLines*",
)

REPO_CYCLE_CHARGED_USD = Family(
    "cursor_repo_cycle_charged_usd",
    "gauge",
    ("repo",),
    "Cycle charged money in US dollars attributed to a repository by each user's AI lines added "
    "there; __unattributed__ holds the rest.",
    "AI code commits and usage events",
)


class AiCodeSource(Source):
    """Polls the cycle's commits (flat paging; unchanged pages cost a 304) and sums them per repository."""

    name = "ai_code"
    order = 50
    help = "AI Code Tracking (Enterprise, alpha): AI lines per repository and cost attribution."
    interval_s = 900.0
    endpoints = (AI_CODE_COMMITS,)
    feature = "ai_code_tracking"
    needs = ("spend",)
    reads = ("usage",)
    families = (AI_CODE_CYCLE_COMMITS, AI_CODE_CYCLE_LINES, REPO_CYCLE_CHARGED_USD)
    _view: AiCodeView | None = None

    def fetch(self) -> None:
        client, path = self.context.client, AI_CODE_COMMITS.path
        start = utc_date(self.context.shared.require_cycle_start(self.name))
        commits: list[AiCommit] = []
        page = 1
        while True:
            params = {"startDate": start, "endDate": "now", "page": page, "pageSize": AI_CODE_PAGE_SIZE}
            body = client.request(AI_CODE_COMMITS.method, path, params=params)
            items = body.get("items") if isinstance(body, dict) else None
            commits.extend(client.parse_rows(path, AiCommit, items))
            total = int(body.get("totalCount") or 0) if isinstance(body, dict) else 0
            if not items or page * AI_CODE_PAGE_SIZE >= total:
                break
            page += 1
        self._view = build_view(commits)

    def state(self) -> AiCodeView | None:
        return self._view

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        view: AiCodeView | None = snapshot.part(cls.name)
        if view is None:
            return
        commits = AI_CODE_CYCLE_COMMITS.new()
        lines = AI_CODE_CYCLE_LINES.new()
        for (repo, source), (count, ai_added, ai_deleted, human_added, human_deleted) in sorted(
            view.by_repo_source.items()
        ):
            commits.add_metric((repo, source), count)
            lines.add_metric((repo, source, "ai", "added"), ai_added)
            lines.add_metric((repo, source, "ai", "deleted"), ai_deleted)
            lines.add_metric((repo, source, "non_ai", "added"), human_added)
            lines.add_metric((repo, source, "non_ai", "deleted"), human_deleted)
        yield from (commits, lines)
        usage = snapshot.part("usage")
        if usage is None:
            return
        by_user = cents_by_user((key.user, tally.charged_cents) for key, tally in usage.view.user_cycle.items())
        repos = REPO_CYCLE_CHARGED_USD.new()
        for repo, cents in sorted(attribute_spend(view, by_user).items()):
            repos.add_metric((repo,), dollars(cents))
        yield repos
