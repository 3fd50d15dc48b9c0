"""Coverage families against the simulator: groups, feature gating, seats + usage, budgets, caps and labels."""

from __future__ import annotations

import itertools
import logging
import math
from decimal import Decimal

import httpx

from cursor_exporter.sources.base import BillingSettings
from cursor_exporter.sources.labels import OTHER_USER, LabelPolicy
from cursor_exporter.timegrid import HOUR_MS

from .conftest import ALL_COLLECTORS, exposition, sync_all
from .truth import parse

SEAT_PRICE = Decimal("40")


def samples(series, name):
    return {labels: value for (sample, labels), value in series.items() if sample == name}


def label_values(series, name, label):
    return {dict(labels)[label]: value for labels, value in samples(series, name).items()}


def test_enterprise_403s_disable_only_those_collectors_and_log_one_line_each(make_team, tmp_path, caplog):
    team = make_team(users=5, cycle_start_days_ago=2, enterprise=False)
    engine = team.engine(tmp_path)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        sync_all(engine)
        team.clock.advance(10 * 60_000)
    series = parse(exposition(engine))
    assert label_values(series, "cursor_exporter_feature_available", "feature") == {
        "billing_groups": 0,
        "ai_code_tracking": 0,
    }
    assert label_values(series, "cursor_exporter_collector_success", "collector") == {
        "spend": 1,
        "members": 1,
        "groups": 1,
        "usage": 1,
        "activity": 1,
        "ai_code": 1,
    }
    assert samples(series, "cursor_usage_charged_usd_total")
    assert not samples(series, "cursor_group_cycle_spend_usd")
    for feature in ("billing_groups", "ai_code_tracking"):  # one line each over three polls
        assert sum(f"{feature} unavailable" in message for message in caplog.messages) == 1
    groups_calls = [path for path, _ in team.sim.request_log if path == "/teams/groups"]
    assert len(groups_calls) == 1  # re-checked after an hour, not every poll
    team.clock.advance(HOUR_MS)
    assert engine.run("groups")
    assert len([path for path, _ in team.sim.request_log if path == "/teams/groups"]) == 2


def test_group_spend_members_and_user_mapping_equal_what_cursor_serves(make_team, tmp_path):
    team = make_team(users=9, cycle_start_days_ago=4, enterprise=True)
    engine = team.engine(tmp_path)
    sync_all(engine)
    served = httpx.get(team.url + "/teams/groups", auth=(team.sim.config.api_key, "")).json()
    groups = [*served["groups"], served["unassignedGroup"]]
    series = parse(exposition(engine))
    assert label_values(series, "cursor_group_cycle_spend_usd", "group") == {
        g["name"]: float(Decimal(str(g["spendCents"])) / 100) for g in groups
    }
    assert label_values(series, "cursor_group_members", "group") == {g["name"]: g["memberCount"] for g in groups}
    expected_pairs = {(m["email"], g["name"]) for g in groups for m in g["currentMembers"]}
    exported_pairs = {
        (dict(labels)["user"], dict(labels)["group"]) for labels in samples(series, "cursor_user_group_info")
    }
    assert exported_pairs == expected_pairs
    features = label_values(series, "cursor_exporter_feature_available", "feature")
    assert features == {"billing_groups": 1, "ai_code_tracking": 1}


def test_seat_cost_plus_usage_reconciles_with_the_simulators_total_cost(make_team, tmp_path):
    team = make_team(users=12, cycle_start_days_ago=6, enterprise=True)
    engine = team.engine(tmp_path, billing=BillingSettings(seat_price_usd=SEAT_PRICE, team_budget_usd=Decimal(500)))
    sync_all(engine)
    truth = team.truth()
    paid = sum(n for role, n in truth["members"]["byRole"].items() if role != "free-owner")
    on_demand = sum((Decimal(r["chargedCents"]) for r in truth["usage"] if r["kind"] == "Usage-based"), Decimal(0))
    series = parse(exposition(engine))
    cost = label_values(series, "cursor_cycle_cost_usd", "component")
    assert cost == {"seats": float(paid * SEAT_PRICE), "usage": float(on_demand / 100)}
    assert samples(series, "cursor_team_paid_seats") == {frozenset(): paid}
    assert math.isclose(sum(cost.values()), float(paid * SEAT_PRICE + on_demand / 100), rel_tol=1e-12)
    assert label_values(series, "cursor_budget_usd", "scope") == {"team": 500.0}
    end = samples(series, "cursor_billing_cycle_end_timestamp_seconds")[frozenset()]
    assert end == truth["cycleEnd"] / 1000
    forecast = label_values(series, "cursor_forecast_cycle_charged_usd", "charge")
    assert forecast["on_demand"] >= cost["usage"]  # spend so far plus a non-negative rate


def test_top_n_cap_folds_the_rest_into_other_and_preserves_totals(make_team, tmp_path):
    team = make_team(users=30, cycle_start_days_ago=3)
    engine = team.engine(tmp_path, top_users=5)
    sync_all(engine)
    series = parse(exposition(engine))
    truth = team.truth()
    charged = label_values(series, "cursor_user_charged_usd_total", "user")
    assert len(charged) == 6 and OTHER_USER in charged
    truth_users = {row["email"]: Decimal(row["chargedCents"]) for row in truth["users"]}
    top = sorted(truth_users, key=lambda email: (-truth_users[email], email))[:5]
    assert set(charged) == {*top, OTHER_USER}
    others = sum((cents for email, cents in truth_users.items() if email not in top), Decimal(0))
    assert charged[OTHER_USER] == float(others / 100)
    events = label_values(series, "cursor_user_usage_events_total", "user")
    assert sum(events.values()) == sum(row["events"] for row in truth["users"])
    spend_users = label_values(series, "cursor_user_spend_usd", "user")
    assert len(spend_users) <= 6
    # Membership is sticky: a later sync with other leaders keeps the same five users.
    team.clock.advance(6 * HOUR_MS)
    sync_all(engine)
    later = label_values(parse(exposition(engine)), "cursor_user_charged_usd_total", "user")
    assert set(later) == set(charged)
    assert all(later[user] >= value for user, value in charged.items())


def test_top_n_cap_picks_on_the_whole_backfill_and_no_per_user_counter_ever_falls(make_team, tmp_path):
    team = make_team(users=30, cycle_start_days_ago=4)
    published = []
    engine = team.engine(tmp_path, top_users=5, publish=lambda source: published.append(parse(exposition(engine))))
    sync_all(engine)
    assert len(published) > 4  # a snapshot per window of the four-day backfill, then one per sync
    users = {row["email"]: Decimal(row["chargedCents"]) for row in team.truth()["users"]}
    top = sorted(users, key=lambda email: (-users[email], email))[:5]
    assert set(label_values(published[-1], "cursor_user_charged_usd_total", "user")) == {*top, OTHER_USER}
    # A later sync with new usage (and with the cap full) keeps the same users; nothing per user falls.
    team.clock.advance(6 * HOUR_MS)
    sync_all(engine)
    for before, after in itertools.pairwise(published):
        for name in ("cursor_user_charged_usd_total", "cursor_user_usage_events_total"):
            for user, value in label_values(before, name, "user").items():
                assert label_values(after, name, "user").get(user, 0) >= value, (name, user)
    assert set(label_values(published[-1], "cursor_user_charged_usd_total", "user")) == {*top, OTHER_USER}


def test_domain_labels_and_model_normalisation(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=2)
    engine = team.engine(tmp_path)
    sync_all(engine)
    labels = LabelPolicy("domain", model_map={"claude-*": "claude", "gpt-5-high": "gpt-5"})
    series = parse(exposition(engine, labels))
    users = set(label_values(series, "cursor_user_charged_usd_total", "user"))
    assert users == {row["email"].rpartition("@")[2] for row in team.truth()["users"]}
    models = {dict(labels)["model"] for labels in samples(series, "cursor_usage_events_total")}
    assert not any(model.startswith("claude-") for model in models) and "gpt-5-high" not in models
    total_events = sum(samples(series, "cursor_usage_events_total").values())
    assert total_events == sum(row["events"] for row in team.truth()["usage"])


def test_organization_pool_and_team_shares_equal_the_truth(make_team, tmp_path):
    team = make_team(users=6, cycle_start_days_ago=3, enterprise=True, org_api_key="org_key_for_tests")
    engine = team.engine(tmp_path, collectors=(*ALL_COLLECTORS, "org"), org=True)
    assert engine.run("org")
    truth = team.sim.truth_org()
    series = parse(exposition(engine))
    pool = truth["pool"]
    for name, field in (
        ("cursor_org_pool_limit_usd", "limitCents"),
        ("cursor_org_pool_used_usd", "usedCents"),
        ("cursor_org_pool_remaining_usd", "remainingCents"),
    ):
        assert samples(series, name) == {frozenset(): float(Decimal(pool[field]) / 100)}
    assert label_values(series, "cursor_org_team_used_usd", "team") == {
        str(t["teamId"]): float(Decimal(t["usedCents"]) / 100) for t in truth["teams"]
    }
    assert label_values(series, "cursor_org_team_budget_usd", "team") == {
        str(t["teamId"]): float(Decimal(t["budgetLimitCents"]) / 100)
        for t in truth["teams"]
        if t["budgetLimitCents"] is not None
    }
    # The team key cannot read organization routes, and the organization key is never used on team routes.
    assert engine.run("usage")
