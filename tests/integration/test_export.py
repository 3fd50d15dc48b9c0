"""`cursor-exporter export` from the ledger: totals equal the simulator's truth, to the cent."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

from cursor_exporter.commands.cli import main
from cursor_exporter.timegrid import HOUR_MS

from .conftest import END_DELAY_S, sync_all
from .test_backfill import iso

DAY_MS = 24 * HOUR_MS


def test_export_totals_by_user_day_model_and_kind_equal_the_truth(make_team, tmp_path, capsys):
    team = make_team(users=6, cycle_start_days_ago=4)
    storage = tmp_path / "state"
    sync_all(team.engine(storage))
    today = team.clock.now_ms() // DAY_MS * DAY_MS
    start, end = today - 3 * DAY_MS, today
    truth = team.sim.truth(start, end - 1)
    common = [f"--storage.path={storage}", "--from", iso(start)[:10], "--to", iso(end)[:10]]

    assert main(["export", *common, "--group-by", "user,day", "--output", str(tmp_path / "users.csv")]) == 0
    with (tmp_path / "users.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {row["day"] for row in rows} == {iso(start + n * DAY_MS)[:10] for n in range(3)}
    by_user: dict[str, list] = defaultdict(lambda: [0, Decimal(0), 0])
    for row in rows:
        totals = by_user[row["user"]]
        totals[0] += int(row["events"])
        totals[1] += Decimal(row["charged_usd"])
        totals[2] += int(row["output_tokens"])
    assert dict(by_user) == {
        user["email"]: [user["events"], Decimal(user["chargedCents"]) / 100, user["outputTokens"]]
        for user in truth["users"]
    }

    assert main(["export", *common, "--format", "json", "--group-by", "model,kind"]) == 0
    exported = json.loads(capsys.readouterr().out)
    expected: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for usage in truth["usage"]:
        totals = expected[(usage["model"], usage["kind"])]
        totals[0] += usage["events"]
        totals[1] += Decimal(usage["chargedCents"]) / 100
        totals[2] += Decimal(usage["cursorTokenFee"]) / 100
    assert {
        (row["model"], row["kind"]): [row["events"], Decimal(row["charged_usd"]), Decimal(row["token_fee_usd"])]
        for row in exported
    } == dict(expected)
    on_demand = sum((Decimal(row["charged_usd"]) for row in exported if row["kind"] == "Usage-based"), Decimal(0))
    assert on_demand > 0
    assert on_demand == sum(
        (Decimal(usage["chargedCents"]) / 100 for usage in truth["usage"] if usage["kind"] == "Usage-based"),
        Decimal(0),
    )


def test_export_without_a_ledger_says_where_it_looked(tmp_path, capsys):
    assert main(["export", f"--storage.path={tmp_path / 'missing'}"]) == 2
    assert "no ledger in" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_export_org_reads_the_organization_ledger_and_team_names_a_teams_ledger(make_team, tmp_path, capsys):
    team = make_team(users=5, cycle_start_days_ago=2, enterprise=True, org_api_key="org_export_key", org_team_users=4)
    storage = tmp_path / "state"
    engine = team.engine(storage, ("spend", "usage", "org_usage"), org=True)
    for name in ("spend", "usage", "org_usage"):
        assert engine.run(name)
    truth = team.sim.truth_org(end_ms=team.clock.now_ms() - END_DELAY_S * 1000)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for usage in truth["usage"]:
        expected[str(usage["teamId"])] += Decimal(usage["chargedCents"]) / 100
    assert main(["export", f"--storage.path={storage}", "--org", "--group-by", "team", "--format", "json"]) == 0
    exported = {row["team"]: Decimal(row["charged_usd"]) for row in json.loads(capsys.readouterr().out)}
    assert exported == dict(expected) and len(exported) == 2

    config = tmp_path / "teams.toml"
    key = tmp_path / "key"
    key.write_text("crsr_unused")
    config.write_text(f'storage_path = "{storage}"\n[[teams]]\nname = "platform"\napi_key_file = "{key}"\n')
    assert main(["export", f"--config.file={config}"]) == 2
    assert "name one with --team (platform)" in capsys.readouterr().err
    assert main(["export", f"--config.file={config}", "--team", "product"]) == 2
    assert "--team product: no such team" in capsys.readouterr().err
    assert main(["export", f"--config.file={config}", "--team", "platform"]) == 2  # its ledger is teams/platform
    assert f"no ledger in {storage / 'teams' / 'platform'}" in capsys.readouterr().err


def test_export_into_a_closed_pipe_ends_quietly(make_team, tmp_path):
    team = make_team(users=60, cycle_start_days_ago=4)  # far more rows than a pipe's buffer holds
    storage = tmp_path / "state"
    sync_all(team.engine(storage))
    command = f"{sys.executable} -m cursor_exporter export --storage.path={storage} --group-by day,user,model | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("day,user,model,events")
    assert result.stderr == ""
