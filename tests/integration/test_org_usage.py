"""Organization usage events through the organization key: every team's usage with a ``team`` label."""

from __future__ import annotations

import logging
import math
from collections import Counter
from decimal import Decimal

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.labels import OTHER_USER
from cursor_exporter.timegrid import HOUR_MS

from .conftest import ALL_COLLECTORS, END_DELAY_S, exposition
from .test_coverage import label_values
from .test_sync import WEDNESDAY_3PM
from .truth import expected_org_usage, mismatches, parse

ORG_KEY = "org_key_for_tests"
ORG_EVENTS = "/organizations/filtered-usage-events"
ORG_COLLECTORS = (*ALL_COLLECTORS, "org", "org_usage")
ORG_USAGE_FAMILIES = {
    "cursor_org_usage_events_total",
    "cursor_org_usage_tokens_total",
    "cursor_org_usage_charged_usd_total",
    "cursor_org_usage_token_fee_usd_total",
    "cursor_org_usage_request_units_total",
    "cursor_org_usage_contract_charged_usd",
    "cursor_org_user_charged_usd_total",
    "cursor_org_user_contract_charged_usd",
}


CAPPED = {"cursor_org_user_charged_usd_total", "cursor_org_user_contract_charged_usd"}


def org_truth(team) -> dict:
    """The organization's usage from the contract start up to where the exporter's windows end."""
    return team.sim.truth_org(end_ms=team.clock.now_ms() - END_DELAY_S * 1000)


def org_counters(series):
    return {key: value for key, value in series.items() if key[0] in ORG_USAGE_FAMILIES and key[0].endswith("_total")}


def test_org_usage_of_every_team_equals_the_truth_and_reconciles_with_the_pool(make_team, tmp_path):
    team = make_team(
        users=8, cycle_start_days_ago=3, enterprise=True, org_api_key=ORG_KEY, org_team_ids=(7, 8, 9), org_team_users=5
    )
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)
    assert engine.run("org")
    assert engine.run("org_usage")
    series = parse(exposition(engine))
    truth = org_truth(team)
    assert {row["teamId"] for row in truth["usage"]} == {7, 8, 9}
    assert mismatches(series, expected_org_usage(truth), ORG_USAGE_FAMILIES) == []
    # Summed by team, the exported contract gauge is the exported pool share (teams[].usedCents) minus what
    # arrived in the last END_DELAY_S, which the windows do not reach yet.
    contract: dict[str, float] = {}
    for (name, labels), value in series.items():
        if name == "cursor_org_usage_contract_charged_usd":
            contract[dict(labels)["team"]] = contract.get(dict(labels)["team"], 0) + value
    pool_shares = label_values(series, "cursor_org_team_used_usd", "team")
    assert set(pool_shares) == set(contract) == {"7", "8", "9"}
    last_minute = team.sim.truth_org(start_ms=team.clock.now_ms() - END_DELAY_S * 1000 + 1)
    for team_id, share in pool_shares.items():
        recent = sum((Decimal(r["chargedCents"]) for r in last_minute["usage"] if str(r["teamId"]) == team_id), 0)
        assert math.isclose(contract[team_id] + float(recent / 100), share, rel_tol=1e-12, abs_tol=1e-8)
    # Every team's usage came through the organization key; the team key was not needed at all.
    assert {path for path, _ in team.sim.request_log} == {"/organizations/pooled-usage", ORG_EVENTS}


def test_org_usage_refetch_is_idempotent_counters_never_fall_and_a_restart_resumes(make_team, tmp_path):
    team = make_team(
        clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0),
        users=10,
        cycle_start_days_ago=2,
        enterprise=True,
        org_api_key=ORG_KEY,
        org_team_users=6,
    )
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)
    assert engine.run("org_usage")
    first = parse(exposition(engine))
    assert engine.run("org_usage")  # nothing new: the re-fetched windows replace themselves
    assert org_counters(parse(exposition(engine))) == org_counters(first)
    revised_any = False
    for _ in range(6):  # late events land and recent costs are revised as the clock moves
        team.clock.advance(2 * HOUR_MS)
        previous = parse(exposition(engine))
        assert engine.run("org_usage")
        later = parse(exposition(engine))
        for key, value in org_counters(previous).items():
            assert later.get(key, 0) >= value, f"counter {key} decreased"
        expected = expected_org_usage(org_truth(team))
        revised = {
            labels: value
            for (name, labels), value in later.items()
            if name == "cursor_org_usage_charged_revised_down_usd"
        }
        revised_any = revised_any or any(revised.values())
        for (name, labels), value in expected.items():
            if name == "cursor_org_usage_charged_usd_total":  # counters = Cursor's figure + downward revisions
                assert math.isclose(later[(name, labels)] - revised.get(labels, 0), value, rel_tol=1e-12, abs_tol=1e-9)
            elif name != "cursor_org_user_charged_usd_total":
                assert later[(name, labels)] == value, name
    assert revised_any, "the simulator should have revised some costs downwards in 12 hours"

    requests = len(team.sim.request_log)
    restarted = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)
    assert org_counters(parse(exposition(restarted))) == org_counters(later)
    assert len(team.sim.request_log) == requests  # served from the ledger, no API call


def test_org_user_cap_picks_the_organizations_top_spenders_apart_from_the_teams_and_keeps_them(make_team, tmp_path):
    team = make_team(users=12, cycle_start_days_ago=2, enterprise=True, org_api_key=ORG_KEY, org_team_users=9)
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True, top_users=4)
    assert engine.run("usage")
    assert engine.run("org_usage")
    series = parse(exposition(engine))
    per_team: dict[str, dict[str, float]] = {}
    for (name, labels), value in series.items():
        if name == "cursor_org_user_charged_usd_total":
            per_team.setdefault(dict(labels)["team"], {})[dict(labels)["user"]] = value
    truth = org_truth(team)
    spend: dict[str, Decimal] = {}
    for row in truth["users"]:  # the organization-wide spend of each email, over every team
        spend[row["email"]] = spend.get(row["email"], Decimal(0)) + Decimal(row["chargedCents"])
    top = set(sorted(spend, key=lambda email: (-spend[email], email))[:4])
    assert {user for users in per_team.values() for user in users} == {*top, OTHER_USER}
    for team_id, users in per_team.items():  # folding keeps each team's total
        team_total = sum((Decimal(r["chargedCents"]) for r in truth["users"] if str(r["teamId"]) == team_id), 0)
        assert math.isclose(sum(users.values()), float(team_total / 100), rel_tol=1e-12)
    team_users = set(label_values(series, "cursor_user_charged_usd_total", "user")) - {OTHER_USER}
    team_spend = {row["email"]: Decimal(row["chargedCents"]) for row in team.truth()["users"]}
    assert team_users == set(sorted(team_spend, key=lambda email: (-team_spend[email], email))[:4])
    assert team_users != top  # two caps, each over its own ledger
    restarted = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True, top_users=4)
    per_user = {"cursor_user_charged_usd_total", "cursor_org_user_charged_usd_total"}
    after = parse(exposition(restarted))
    assert {k: v for k, v in after.items() if k[0] in per_user} == {k: v for k, v in series.items() if k[0] in per_user}


def test_a_long_contract_is_backfilled_a_week_per_sync_and_the_cap_picks_only_once_caught_up(make_team, tmp_path):
    team = make_team(
        users=6, cycle_start_days_ago=3, enterprise=True, org_api_key=ORG_KEY, org_contract_start_days_ago=20
    )
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True, top_users=3)
    truth = org_truth(team)
    assert truth["contractStart"] < team.truth()["cycleStart"] - 10 * 24 * HOUR_MS  # a contract, not the cycle
    pages, picked = [], []
    while not pages or pages[-1] == 7:  # one page per window here: at most seven windows per sync
        before = sum(1 for path, _ in team.sim.request_log if path == ORG_EVENTS)
        assert engine.run("org_usage")
        pages.append(sum(1 for path, _ in team.sim.request_log if path == ORG_EVENTS) - before)
        picked.append(engine.snapshot().part("org_usage").tracked)
        assert engine.run("usage")  # the single worker gets back to the team between org syncs
        assert len(pages) < 6
    assert len(pages) >= 3 and max(pages) == 7
    assert all(not users for users in picked[:-1])  # nobody picked on a partial contract
    team_level = {key: value for key, value in expected_org_usage(truth).items() if key[0] not in CAPPED}
    assert mismatches(parse(exposition(engine)), team_level, ORG_USAGE_FAMILIES - CAPPED) == []
    spend: dict[str, Decimal] = {}
    for row in truth["users"]:
        spend[row["email"]] = spend.get(row["email"], Decimal(0)) + Decimal(row["chargedCents"])
    assert picked[-1] == set(sorted(spend, key=lambda email: (-spend[email], email))[:3])


def test_organization_403_is_gated_logged_once_and_leaves_team_collectors_working(make_team, tmp_path, caplog):
    team = make_team(users=5, cycle_start_days_ago=2, enterprise=True, org_api_key=ORG_KEY)
    # Cursor answers an organization id the key does not own (or a key without the scope) with 403.
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True, org_id="org_not_ours")
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        for name in ORG_COLLECTORS:
            assert engine.run(name), name
        team.clock.advance(10 * 60 * 1000)
    series = parse(exposition(engine))
    feature = ("cursor_exporter_feature_available", frozenset({"feature": "organization"}.items()))
    assert series[feature] == 0
    assert sum("organization unavailable" in message for message in caplog.messages) == 1
    assert sum(1 for path, _ in team.sim.request_log if path.startswith("/organizations/")) == 1
    assert any(name == "cursor_usage_charged_usd_total" for name, _ in series)
    assert not any(name.startswith("cursor_org_") for name, _ in series)


def test_first_org_sync_makes_exactly_the_calls_its_windows_require(make_team, tmp_path):
    team = make_team(users=10, cycle_start_days_ago=4, enterprise=True, org_api_key=ORG_KEY, org_team_users=15)
    engine = team.engine(tmp_path, collectors=ORG_COLLECTORS, org=True)
    sync_end = team.clock.now_ms() - END_DELAY_S * 1000
    assert engine.run("org_usage")
    made = Counter(path for path, _ in team.sim.request_log)
    required, windows, start = 0, 0, team.sim.truth_org()["contractStart"]
    while start <= sync_end:  # 24-hour windows from the contract start, the last ending at sync_end
        end = min(start + 24 * HOUR_MS - 1, sync_end)
        events = sum(row["events"] for row in team.sim.truth_org(start, end)["usage"])
        required += max(1, math.ceil(events / 1000))
        windows += 1
        start = end + 1
    assert required > windows  # some windows need more than one page of 1,000
    assert made == {"/organizations/pooled-usage": 1, ORG_EVENTS: required}  # the pool gives the contract start
    status = {s.name: s for s in engine.snapshot().statuses}["org_usage"]
    assert status.last_api_requests == required + 1
