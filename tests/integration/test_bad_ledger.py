"""A ledger that is no usable ledger stops serve, backfill and export in one line; bad stored state is no crash."""

from __future__ import annotations

import logging
import time

import pytest

from cursor_exporter.commands.cli import main
from cursor_exporter.ledger.store import DB_FILENAME, Store
from tests.unit.ledger.test_database import DAMAGE

from .conftest import exposition
from .test_serve import run_cli
from .test_sync import SPEND_MEMBER_FAMILIES
from .truth import expected_spend_and_members, mismatches, parse

NOWHERE = "http://127.0.0.1:9"  # never reached: the ledger is refused first
RESTORING = ("spend", "members", "groups", "usage")


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "overwritten midway", "newer schema", "a directory"])
def test_serve_backfill_and_export_refuse_a_bad_ledger_in_one_line_with_exit_2(tmp_path, damage, monkeypatch, capsys):
    make, problem = DAMAGE[damage]
    make(tmp_path)
    line = f"cursor-exporter: ledger {tmp_path / DB_FILENAME} "
    served = run_cli(
        ["serve", f"--storage.path={tmp_path}", "--web.listen-address=127.0.0.1:0"],
        {"CURSOR_API_KEY": "crsr_bad_ledger_key", "CURSOR_API_URL": NOWHERE},
    )
    assert (served.returncode, served.stdout) == (2, "")
    assert served.stderr.startswith(line) and served.stderr.count("\n") == 1 and problem in served.stderr

    monkeypatch.setenv("CURSOR_API_KEY", "crsr_bad_ledger_key")
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400))
    backfill = ["backfill", f"--api.url={NOWHERE}", f"--storage.path={tmp_path}", "--from", yesterday, "--seed-ledger"]
    for command in ([*backfill, "--output", str(tmp_path / "history.om")], ["export", f"--storage.path={tmp_path}"]):
        assert main(command) == 2, command[0]
        err = capsys.readouterr().err
        assert err.startswith(line) and err.count("\n") == 1 and problem in err, command[0]
    assert not (tmp_path / "history.om").exists()


def test_stored_state_that_cannot_be_read_back_is_fetched_anew_instead_of_failing_every_start(
    make_team, tmp_path, caplog
):
    team = make_team(users=5, cycle_start_days_ago=3, enterprise=True)
    store = Store(tmp_path)
    unreadable = {"spend": '{"cycle_start_ms": 1, "members"', "members": "[1, 2]", "groups": "{}", "tracked_users": "7"}
    for key, value in unreadable.items():
        store.set_state(key, value)
    store.close()

    with caplog.at_level(logging.WARNING, logger="cursor_exporter.ledger.store"):
        engine = team.engine(tmp_path, RESTORING)
    assert sorted(record.getMessage().split("'")[1] for record in caplog.records) == sorted(unreadable)
    assert all("\n" not in record.getMessage() for record in caplog.records)
    assert not engine.ready  # nothing restored: it waits for its first sync

    for name in RESTORING:
        assert engine.run(name), name
    synced = parse(exposition(engine))
    assert mismatches(synced, expected_spend_and_members(team.sim.truth()), SPEND_MEMBER_FAMILIES) == []
    restarted = team.engine(tmp_path, RESTORING)
    assert restarted.ready  # the next start restores what the sync stored
    restored = parse(exposition(restarted))
    assert {key: value for key, value in restored.items() if not key[0].startswith("cursor_exporter_")} == {
        key: value for key, value in synced.items() if not key[0].startswith("cursor_exporter_")
    }
