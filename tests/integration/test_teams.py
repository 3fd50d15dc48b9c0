"""Several teams in one exporter: a `team` label on every family, one client and ledger per team."""

from __future__ import annotations

import pytest

from cursor_exporter.commands.config import load_settings
from cursor_exporter.commands.serve import Exporter

from .test_sync import SPEND_MEMBER_FAMILIES, USAGE_FAMILIES
from .truth import expected_spend_and_members, expected_usage, mismatches, parse


def test_two_teams_each_export_their_own_truth_under_a_team_label(make_team, tmp_path):
    teams = {
        "platform": make_team(seed=11, users=5, cycle_start_days_ago=3, api_key="crsr_platform_key"),
        "product": make_team(seed=12, users=7, cycle_start_days_ago=5, api_key="crsr_product_key"),
    }
    config = tmp_path / "exporter.toml"
    lines = ['web_listen_address = "127.0.0.1:0"', f'storage_path = "{tmp_path / "state"}"']
    for name, team in teams.items():
        key_file = tmp_path / f"{name}.key"
        key_file.write_text(team.sim.config.api_key)
        lines += ["[[teams]]", f'name = "{name}"', f'api_key_file = "{key_file}"', f'api_url = "{team.url}"']
    config.write_text("\n".join(lines) + "\n")
    settings = load_settings({}, config)
    clock = next(iter(teams.values())).clock
    exporter = Exporter(settings, settings.team_sources(), clock_ms=clock.now_ms)
    try:
        for runtime in exporter.runtimes:
            for name in runtime.scheduled:
                assert runtime.engine.run(name), (runtime.name, name)
        series = parse(exporter.cache.rendered.text.decode())
    finally:
        exporter.stop()

    assert {runtime.name for runtime in exporter.runtimes} == set(teams)
    assert len({id(runtime.client) for runtime in exporter.runtimes}) == 2  # one rate limiter set per team
    for name, team in teams.items():
        own = {
            (sample, frozenset((k, v) for k, v in labels if k != "team")): value
            for (sample, labels), value in series.items()
            if ("team", name) in labels
        }
        truth = team.sim.truth(end_ms=team.clock.now_ms() - 60_000)
        expected = expected_usage(truth) | expected_spend_and_members(truth)
        assert mismatches(own, expected, USAGE_FAMILIES | SPEND_MEMBER_FAMILIES) == [], name
        assert 401 not in {status for _, status in team.sim.request_log}  # each key only sent to its team
    assert all(("team" in dict(labels)) for (sample, labels) in series if sample.startswith("cursor_"))
    assert (tmp_path / "state" / "teams" / "platform").is_dir()


@pytest.mark.parametrize("team_column", [True, False])
def test_a_mapping_file_is_one_series_per_user_with_several_teams(make_team, tmp_path, team_column):
    teams = {
        "platform": make_team(seed=21, users=3, cycle_start_days_ago=2, api_key="crsr_platform_key"),
        "product": make_team(seed=22, users=3, cycle_start_days_ago=2, api_key="crsr_product_key"),
    }
    emails = sorted({row["email"] for team in teams.values() for row in team.sim.truth()["spend"]})
    mapping = tmp_path / "users.csv"
    header, row = (
        ("email,team,cost_center", "{e},squad-{s},cc-{i}") if team_column else ("email,cost_center", "{e},cc-{i}")
    )
    mapping.write_text("\n".join([header, *(row.format(e=e, s=i % 2, i=i) for i, e in enumerate(emails))]) + "\n")
    lines = [
        'web_listen_address = "127.0.0.1:0"',
        f'storage_path = "{tmp_path / "state"}"',
        f'metrics_user_mapping_file = "{mapping}"',
    ]
    for name, team in teams.items():
        key_file = tmp_path / f"{name}.key"
        key_file.write_text(team.sim.config.api_key)
        lines += ["[[teams]]", f'name = "{name}"', f'api_key_file = "{key_file}"', f'api_url = "{team.url}"']
    (tmp_path / "exporter.toml").write_text("\n".join(lines) + "\n")
    settings = load_settings({}, tmp_path / "exporter.toml")
    exporter = Exporter(settings, settings.team_sources(), clock_ms=next(iter(teams.values())).clock.now_ms)
    try:
        exporter.publish()
        text = exporter.cache.rendered.text.decode()
    finally:
        exporter.stop()
    info = [line for line in text.splitlines() if line.startswith("cursor_user_info{")]
    assert len(info) == len(set(info)) == len(emails)  # once per user, not once per team
    rows = {dict(labels)["user"]: dict(labels) for name, labels in parse(text) if name == "cursor_user_info"}
    # The file's own columns only: a team column keeps the file's meaning, and no exporter team is added.
    columns = {"user", "cost_center", *(["team"] if team_column else [])}
    assert {email: set(labels) for email, labels in rows.items()} == dict.fromkeys(emails, columns)
    if team_column:
        assert {email: labels["team"] for email, labels in rows.items()} == {
            email: f"squad-{i % 2}" for i, email in enumerate(emails)
        }
