"""Series count of a 5,000-user team against the documented formula, with and without the top-N cap."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.labels import LabelPolicy

from .conftest import ALL_COLLECTORS, END_DELAY_S, build_engine, exposition, sync_all
from .truth import expected_org_usage, parse

WEDNESDAY_3PM = 1795014000000
USERS = 5000
ORG_KEY = "org_cardinality_key"
ORG_TEAM_USERS = 500
ORG_COLLECTORS = ("org", "org_usage")


@pytest.fixture(scope="module")
def big_team_engine(tmp_path_factory):
    from cursor_exporter.simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        users=USERS,
        events_per_user_per_day=4,
        cycle_start_days_ago=1,
        enterprise=True,
        rate_limits=False,
        org_api_key=ORG_KEY,
        org_team_ids=(7, 8),  # this team and a second one of ORG_TEAM_USERS
        org_team_users=ORG_TEAM_USERS,
    )
    sim = Simulator(config, clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0))
    server = sim.serve()
    engines = {}
    closing = []
    origin = tmp_path_factory.mktemp("origin")
    # The organization engine fetches everything once; the other two start from copies of its ledgers,
    # as a restart would, so that their syncs fetch only what is still due. Same data, a third of the time.
    for name, cap, org in (("org", 0, True), ("cap100", 100, True), ("default", 0, False)):
        storage = origin if name == "org" else tmp_path_factory.mktemp(name) / "state"
        if name != "org":
            shutil.copytree(origin, storage)
        engine, closables = build_engine(
            server.url,
            config.api_key,
            storage,
            (*ALL_COLLECTORS, *ORG_COLLECTORS) if org else ALL_COLLECTORS,
            sim.clock.now_ms,
            top_users=cap,
            org_api_key=config.org_api_key if org else None,
            org_id=config.organization_id if org else None,
            # This test is about series, not pacing: a 50-page /teams/spend must not wait minutes.
            rate_limit_period=0.01,
        )
        closing += closables
        sync_all(engine)
        if org:
            for collector in ORG_COLLECTORS:
                assert engine.run(collector)
        engines[name] = engine
    yield sim, engines
    for closable in closing:
        closable.close()
    server.stop()


def formula(users, spend_rows, limits, group_members, combos, revised, groups, roles, activity, ai_code, fixed):
    """docs/metrics.md: 7U + 2S + L + Mg + 9C + D + 2G + R + A + P + K."""
    return (
        7 * users
        + 2 * spend_rows
        + limits
        + group_members
        + 9 * combos
        + revised
        + 2 * groups
        + roles
        + activity
        + ai_code
        + fixed
    )


def activity_series(sim) -> int:
    """A = 20 + client versions + most-used models (users active in the last 7 days)."""
    now = sim.clock.now_ms()
    latest = sim.truth_daily(now - now % 86_400_000 - 6 * 86_400_000, now)["latest"].values()
    return 20 + len({row["clientVersion"] for row in latest}) + len({row["mostUsedModel"] for row in latest})


def ai_code_series(sim) -> int:
    """P = 5 per (repository, source) + 1 per repository with attributed cost (+ __unattributed__)."""
    truth = sim.truth_ai_code(sim.truth()["cycleStart"], sim.clock.now_ms())
    repos = {row["repo"] for row in truth["users"] if row["aiLinesAdded"]}
    charged_users = {row["email"] for row in sim.truth()["users"]}
    attributed = {row["email"] for row in truth["users"] if row["aiLinesAdded"]}
    return 5 * len(truth["commits"]) + len(repos) + (1 if charged_users - attributed else 0)


def fixed_series(by_family: Counter) -> int:
    """K: the exporter's own series and the team-wide single-series families."""
    singles = (
        "cursor_billing_cycle_start_timestamp_seconds",
        "cursor_billing_cycle_end_timestamp_seconds",
        "cursor_team_spend_usd",
        "cursor_team_overall_spend_usd",
        "cursor_team_removed_members",
        "cursor_team_paid_seats",
        "cursor_cycle_cost_usd",
        "cursor_forecast_cycle_charged_usd",
        "cursor_budget_usd",
    )
    return sum(n for f, n in by_family.items() if f.startswith("cursor_exporter_") or f in singles)


def count(engine, labels=None):
    series = parse(exposition(engine, labels))
    by_family = Counter(
        name.removesuffix("_total") + ("_total" if name.endswith("_total") else "") for name, _ in series
    )
    return series, by_family


def org_formula(combos, revised, user_pairs, teams, budgets):
    """docs/metrics.md, with an organization key: 9Co + Do + 2Uo + 3 + T + Tb."""
    return 9 * combos + revised + 2 * user_pairs + 3 + teams + budgets


def team_series(sim, by_family) -> int:
    """The formula's value for the team as the exporter's windows see it (ending END_DELAY_S ago)."""
    truth = sim.truth(end_ms=sim.clock.now_ms() - END_DELAY_S * 1000)
    groups = sim.truth_groups()["groups"].values()
    return formula(
        users=len(truth["users"]),
        spend_rows=len(truth["spend"]),
        limits=sum(1 for row in truth["spend"] if row["effectivePerUserLimitDollars"] is not None),
        group_members=sum(len(group["members"]) for group in groups),
        combos=len(truth["usage"]),
        revised=0,  # one sync: nothing revised yet
        groups=len(groups),
        roles=len(truth["members"]["byRole"]),
        activity=activity_series(sim),
        ai_code=ai_code_series(sim),
        fixed=fixed_series(by_family),
    )


def org_terms(sim) -> tuple[int, int, int, int]:
    """(Co, Uo, T, Tb) from the organization truth, as far as the exporter's windows reach."""
    truth = sim.truth_org(end_ms=sim.clock.now_ms() - END_DELAY_S * 1000)
    expected = expected_org_usage(truth)
    combos = sum(1 for name, _ in expected if name == "cursor_org_usage_events_total")
    user_pairs = sum(1 for name, _ in expected if name == "cursor_org_user_charged_usd_total")
    budgets = sum(1 for team in truth["teams"] if team["budgetLimitCents"] is not None)
    return combos, user_pairs, len(truth["teams"]), budgets


def test_series_count_of_5000_users_matches_the_formula_and_stays_under_70k(big_team_engine):
    sim, engines = big_team_engine
    _series, by_family = count(engines["default"])
    assert len(sim.truth()["users"]) > 4000
    assert not any(name.startswith("cursor_org_") for name in by_family)
    assert sum(by_family.values()) == team_series(sim, by_family)
    assert sum(by_family.values()) < 70_000


def test_series_count_with_an_organization_key_matches_the_formula(big_team_engine):
    sim, engines = big_team_engine
    _series, by_family = count(engines["org"])
    combos, user_pairs, teams, budgets = org_terms(sim)
    assert user_pairs > USERS  # both teams' users, each with its own series
    expected = team_series(sim, by_family) + org_formula(combos, 0, user_pairs, teams, budgets)
    assert sum(by_family.values()) == expected


def test_top_100_cap_keeps_the_series_under_10k_at_every_user_label_setting(big_team_engine):
    sim, engines = big_team_engine
    truth = sim.truth()
    combos = len(truth["usage"])
    roles = len(truth["members"]["byRole"])
    org_combos, _, teams, budgets = org_terms(sim)
    for mode, key in (("email", None), ("hash", b"k" * 16), ("domain", None), ("none", None)):
        series, by_family = count(engines["cap100"], LabelPolicy(mode, key))
        for family in ("cursor_user_charged_usd_total", "cursor_org_user_charged_usd_total"):
            users = {dict(labels).get("user") for name, labels in series if name == family}
            assert len(users) <= 101, (mode, family)
        assert sum(by_family.values()) < 10_000, (mode, sum(by_family.values()))
        # Worst case of the formula with U = S = L = Mg = 101 (the tracked users and __other__), every
        # combination revised, and 101 users in each team of the organization.
        groups = len(sim.truth_groups()["groups"])
        worst = formula(
            101,
            101,
            101,
            101,
            combos,
            combos,
            groups,
            roles,
            activity_series(sim),
            ai_code_series(sim),
            fixed_series(by_family),
        ) + org_formula(org_combos, org_combos, teams * 101, teams, budgets)
        assert sum(by_family.values()) <= worst
