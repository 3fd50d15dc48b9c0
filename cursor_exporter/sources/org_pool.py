"""Source ``org`` (Enterprise, organization key): /organizations/pooled-usage, the organization's pool:
its limit, use and remainder, and each team's share and budget. A 403 is gated like a plan feature."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from pydantic import Field, ValidationError

from cursor_exporter.api.client import ApiError, CursorClient
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Instant, OpaqueId, Record, SignedTotalCents, TotalCents, period_start_ms
from cursor_exporter.money import ZERO, dollars
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy

POOLED_USAGE = Endpoint("POST", "/organizations/pooled-usage")
ORGANIZATION_FEATURE = "organization"


class PoolTeam(Record):
    """One team of an organization's pooled usage."""

    team_id: OpaqueId = Field(None, alias="teamId")
    used_cents: TotalCents = Field(ZERO, alias="usedCents")
    budget_limit_cents: TotalCents | None = Field(None, alias="budgetLimitCents")


class PooledUsage(Record):
    """/organizations/pooled-usage: the organization's pool and each team's share of it."""

    limit_cents: TotalCents | None = None
    used_cents: TotalCents = ZERO
    remaining_cents: SignedTotalCents | None = None  # below zero once the pool is overdrawn
    contract_start_ms: Instant | None = None
    teams: tuple[PoolTeam, ...] = ()

    @classmethod
    def from_api(cls, body: dict) -> PooledUsage:
        """Flatten the ``pool`` object and parse the teams."""
        pool = body.get("pool") if isinstance(body.get("pool"), dict) else {}
        return cls.model_validate(
            {
                "limit_cents": pool.get("limitCents"),
                "used_cents": pool.get("usedCents") or 0,
                "remaining_cents": pool.get("remainingCents"),
                "contract_start_ms": pool.get("contractStartDate"),
                "teams": body.get("teams") or [],
            }
        )


def fetch_pool(client: CursorClient | None, organization_id: str | None, now_ms: int) -> PooledUsage:
    """/organizations/pooled-usage through the organization key; a contract start before 2023 or more than a
    day after ``now_ms`` fails it."""
    path = POOLED_USAGE.path
    if client is None or not organization_id:
        raise ApiError(path, 0, "no organization key and id configured")
    body = client.request(POOLED_USAGE.method, path, {"organizationId": organization_id})
    if not isinstance(body, dict):
        raise ApiError(path, 200, "response is not a JSON object")
    try:
        pool = PooledUsage.from_api(body)
    except ValidationError as error:
        client.stats.count_malformed(path, [error])
        raise ApiError(path, 200, "pooled usage could not be parsed") from None
    if pool.contract_start_ms is not None:
        try:
            period_start_ms(pool.contract_start_ms, now_ms)
        except ValueError as error:
            raise ApiError(path, 200, f"pool.contractStartDate {error}") from None
    return pool


ORG_POOL_LIMIT_USD = Family(
    "cursor_org_pool_limit_usd",
    "gauge",
    (),
    "The organization's pooled usage limit for the contract in US dollars.",
    "/organizations/pooled-usage: pool.limitCents / 100",
)

ORG_POOL_USED_USD = Family(
    "cursor_org_pool_used_usd",
    "gauge",
    (),
    "Pooled usage used so far in the contract in US dollars.",
    "/organizations/pooled-usage: pool.usedCents / 100",
)

ORG_POOL_REMAINING_USD = Family(
    "cursor_org_pool_remaining_usd",
    "gauge",
    (),
    "Pooled usage remaining in the contract in US dollars.",
    "/organizations/pooled-usage: pool.remainingCents / 100",
)

ORG_TEAM_USED_USD = Family(
    "cursor_org_team_used_usd",
    "gauge",
    ("team",),
    "Pooled usage used by each team of the organization in US dollars (team = Cursor team id).",
    "/organizations/pooled-usage: teams[].usedCents / 100",
)

ORG_TEAM_BUDGET_USD = Family(
    "cursor_org_team_budget_usd",
    "gauge",
    ("team",),
    "Budget limit of a team within the pool in US dollars; absent when none is set.",
    "/organizations/pooled-usage: teams[].budgetLimitCents / 100",
)


class OrgPoolSource(Source):
    """Polls the organization's pooled usage."""

    name = "org"
    order = 60
    help = "/organizations/pooled-usage, when an organization key is set."
    interval_s = 900.0
    endpoints = (POOLED_USAGE,)
    feature = ORGANIZATION_FEATURE
    hidden_when_unavailable = False  # the last pool and the ledger stay true through a 403
    organization = True
    families = (ORG_POOL_LIMIT_USD, ORG_POOL_USED_USD, ORG_POOL_REMAINING_USD, ORG_TEAM_USED_USD, ORG_TEAM_BUDGET_USD)
    _pool: PooledUsage | None = None

    def fetch(self) -> None:
        self._pool = fetch_pool(self.context.org_client, self.context.options.org_id, self.context.clock_ms())

    def state(self) -> PooledUsage | None:
        return self._pool

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        pool: PooledUsage | None = snapshot.part(cls.name)
        if pool is None:
            return
        for family, cents in (
            (ORG_POOL_LIMIT_USD, pool.limit_cents),
            (ORG_POOL_USED_USD, pool.used_cents),
            (ORG_POOL_REMAINING_USD, pool.remaining_cents),
        ):
            if cents is not None:
                metric = family.new()
                metric.add_metric((), dollars(cents))
                yield metric
        used = ORG_TEAM_USED_USD.new()
        budget = ORG_TEAM_BUDGET_USD.new()
        for team in sorted(pool.teams, key=lambda team: team.team_id or ""):
            used.add_metric((team.team_id or "unknown",), dollars(team.used_cents))
            if team.budget_limit_cents is not None:
                budget.add_metric((team.team_id or "unknown",), dollars(team.budget_limit_cents))
        yield from (used, budget)
