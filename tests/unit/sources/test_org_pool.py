"""Source ``org``: the organization's pooled usage: limit, use, remainder, and each team's use and budget."""

from cursor_exporter.sources.org_pool import (
    ORG_POOL_LIMIT_USD,
    ORG_POOL_REMAINING_USD,
    ORG_POOL_USED_USD,
    ORG_TEAM_BUDGET_USD,
    ORG_TEAM_USED_USD,
    OrgPoolSource,
    PooledUsage,
    PoolTeam,
)
from tests.unit.sources.helpers import D, expose, head, snapshot


def test_without_a_pool_nothing_is_rendered():
    assert expose(OrgPoolSource, snapshot({"org": None})) == ""


def test_the_pool_and_every_team_are_rendered_and_only_teams_with_a_budget_have_one():
    pool = PooledUsage(
        limit_cents=D("100000"),
        used_cents=D("30000.3"),
        remaining_cents=D("69999.7"),
        contract_start_ms=1_700_000_000_000,
        teams=(
            PoolTeam(team_id="t2", used_cents=D("10000.1"), budget_limit_cents=D("50000")),
            PoolTeam(team_id="t1", used_cents=D("20000.2")),
        ),
    )
    assert expose(OrgPoolSource, snapshot({"org": pool})) == (
        head(ORG_POOL_LIMIT_USD)
        + "cursor_org_pool_limit_usd 1000.0\n"
        + head(ORG_POOL_USED_USD)
        + "cursor_org_pool_used_usd 300.003\n"
        + head(ORG_POOL_REMAINING_USD)
        + "cursor_org_pool_remaining_usd 699.997\n"
        + head(ORG_TEAM_USED_USD)
        + 'cursor_org_team_used_usd{team="t1"} 200.002\n'
        + 'cursor_org_team_used_usd{team="t2"} 100.001\n'
        + head(ORG_TEAM_BUDGET_USD)
        + 'cursor_org_team_budget_usd{team="t2"} 500.0\n'
    )


def test_a_pool_without_limit_or_remainder_has_no_such_families():
    pool = PooledUsage(used_cents=D("0.3"))
    assert expose(OrgPoolSource, snapshot({"org": pool})) == (
        head(ORG_POOL_USED_USD)
        + "cursor_org_pool_used_usd 0.003\n"
        + head(ORG_TEAM_USED_USD)
        + head(ORG_TEAM_BUDGET_USD)
    )


def test_a_team_without_an_id_is_labelled_unknown_and_sorted_as_an_empty_id():
    pool = PooledUsage(
        used_cents=D("500"),
        teams=(
            PoolTeam(team_id="t1", used_cents=D("200")),
            PoolTeam(team_id=None, used_cents=D("300"), budget_limit_cents=D("1000")),
        ),
    )
    assert expose(OrgPoolSource, snapshot({"org": pool})) == (
        head(ORG_POOL_USED_USD)
        + "cursor_org_pool_used_usd 5.0\n"
        + head(ORG_TEAM_USED_USD)
        + 'cursor_org_team_used_usd{team="unknown"} 3.0\n'
        + 'cursor_org_team_used_usd{team="t1"} 2.0\n'
        + head(ORG_TEAM_BUDGET_USD)
        + 'cursor_org_team_budget_usd{team="unknown"} 10.0\n'
    )
