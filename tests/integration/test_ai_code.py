"""AI code tracking families and the per-repository cost attribution against the simulator's truth."""

from __future__ import annotations

import math
from decimal import Decimal

from cursor_exporter.simulator import SimClock
from cursor_exporter.sources.ai_code import UNATTRIBUTED

from .conftest import exposition, sync_all
from .truth import parse

WEDNESDAY_3PM = 1795014000000
AI_ROUTE = "/analytics/ai-code/commits"


def values(series, name):
    return {labels: value for (sample, labels), value in series.items() if sample == name}


def test_lines_commits_and_repository_cost_equal_the_truth(make_team, tmp_path):
    team = make_team(clock=SimClock(start_ms=WEDNESDAY_3PM, speed=0), users=10, cycle_start_days_ago=5, enterprise=True)
    engine = team.engine(tmp_path)
    sync_all(engine)
    truth = team.sim.truth_ai_code(team.truth()["cycleStart"], team.clock.now_ms())
    series = parse(exposition(engine))
    expected_commits, expected_lines = {}, {}
    for row in truth["commits"]:
        base = {"repo": row["repo"], "source": row["source"]}
        expected_commits[frozenset(base.items())] = row["commits"]
        for origin, change, field in (
            ("ai", "added", "aiLinesAdded"),
            ("ai", "deleted", "aiLinesDeleted"),
            ("non_ai", "added", "nonAiLinesAdded"),
            ("non_ai", "deleted", "nonAiLinesDeleted"),
        ):
            expected_lines[frozenset({**base, "origin": origin, "change": change}.items())] = row[field]
    assert values(series, "cursor_ai_code_cycle_commits") == expected_commits
    assert values(series, "cursor_ai_code_cycle_lines") == expected_lines

    usage = team.truth()
    spend = {row["email"]: Decimal(row["chargedCents"]) for row in usage["users"]}
    lines: dict[str, dict[str, int]] = {}
    for row in truth["users"]:
        if row["aiLinesAdded"]:
            lines.setdefault(row["email"], {})[row["repo"]] = row["aiLinesAdded"]
    expected_repo: dict[str, Decimal] = {}
    for email, cents in spend.items():
        shares = lines.get(email)
        if not shares:
            expected_repo[UNATTRIBUTED] = expected_repo.get(UNATTRIBUTED, Decimal(0)) + cents
            continue
        for repo, count in shares.items():
            expected_repo[repo] = expected_repo.get(repo, Decimal(0)) + cents * count / sum(shares.values())
    exported = {
        dict(labels)["repo"]: value for labels, value in values(series, "cursor_repo_cycle_charged_usd").items()
    }
    assert exported.keys() == expected_repo.keys()
    for repo, cents in expected_repo.items():
        assert math.isclose(exported[repo], float(cents / 100), rel_tol=1e-12), repo
    team_cycle = sum(spend.values(), Decimal(0)) / 100
    assert math.isclose(sum(exported.values()), float(team_cycle), rel_tol=1e-9)


def test_unchanged_commits_are_revalidated_with_etag_and_cost_no_new_body(make_team, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=2, enterprise=True)
    engine = team.engine(tmp_path)
    assert engine.run("spend")
    assert engine.run("ai_code")
    assert engine.run("ai_code")
    statuses = [status for path, status in team.sim.request_log if path == AI_ROUTE]
    assert statuses[-1] == 304 and 200 in statuses


def test_ai_code_403_is_gated_like_groups(make_team, tmp_path):
    team = make_team(users=4, cycle_start_days_ago=2, enterprise=False)
    engine = team.engine(tmp_path)
    sync_all(engine)
    series = parse(exposition(engine))
    features = {dict(labels)["feature"]: v for labels, v in values(series, "cursor_exporter_feature_available").items()}
    assert features == {"billing_groups": 0, "ai_code_tracking": 0}
    assert not values(series, "cursor_ai_code_cycle_commits")
    assert values(series, "cursor_usage_charged_usd_total")
