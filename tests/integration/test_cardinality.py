"""Series count of a 5,000-user team against the documented formula, with and without the top-N cap."""

from __future__ import annotations

from collections import Counter

import pytest

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.simulator import SimClock

from .conftest import ALL_COLLECTORS, exposition, sync_all
from .truth import parse

WEDNESDAY_3PM = 1795014000000
USERS = 5000


@pytest.fixture(scope="module")
def big_team_engine(tmp_path_factory):
    from cursor_exporter.client import CursorClient
    from cursor_exporter.simulator import Simulator, SimulatorConfig
    from cursor_exporter.store import Store
    from cursor_exporter.sync import SyncEngine

    config = SimulatorConfig(
        users=USERS, events_per_user_per_day=4, cycle_start_days_ago=1, enterprise=True, rate_limits=False
    )
    sim = Simulator(config, clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0))
    server = sim.serve()
    engines = {}
    clients = []
    for cap in (0, 100):
        # This test is about series, not pacing: a 50-page /teams/spend must not wait minutes.
        client = CursorClient(server.url, config.api_key, rate_limit_share=1.0, rate_limit_period=0.01)
        clients.append(client)
        engine = SyncEngine(
            client,
            Store(tmp_path_factory.mktemp(f"cap{cap}")),
            collectors=ALL_COLLECTORS,
            settle_lookback_s=48 * 3600,
            end_delay_s=60,
            clock_ms=sim.clock.now_ms,
            top_users=cap,
        )
        sync_all(engine)
        engines[cap] = engine
    yield sim, engines
    for client in clients:
        client.close()
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


def test_series_count_of_5000_users_matches_the_formula_and_stays_under_70k(big_team_engine):
    sim, engines = big_team_engine
    _series, by_family = count(engines[0])
    truth = sim.truth(end_ms=sim.clock.now_ms() - 60_000)  # where the exporter's windows end
    groups = sim.truth_groups()["groups"].values()
    expected = formula(
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
    assert len(truth["users"]) > 4000
    assert sum(by_family.values()) == expected
    assert expected < 70_000


def test_top_100_cap_keeps_the_series_under_10k_at_every_user_label_setting(big_team_engine):
    sim, engines = big_team_engine
    truth = sim.truth()
    combos = len(truth["usage"])
    roles = len(truth["members"]["byRole"])
    for mode, key in (("email", None), ("hash", b"k" * 16), ("domain", None), ("none", None)):
        series, by_family = count(engines[100], LabelPolicy(mode, key))
        users = {dict(labels).get("user") for name, labels in series if name == "cursor_user_charged_usd_total"}
        assert len(users) <= 101
        assert sum(by_family.values()) < 10_000, (mode, sum(by_family.values()))
        # Worst case of the formula with U = S = L = Mg = 101 (the tracked users and __other__).
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
        )
        assert sum(by_family.values()) <= worst
