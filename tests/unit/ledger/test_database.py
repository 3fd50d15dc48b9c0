"""Opening a ledger: a file that is no usable ledger is one LedgerError; one writer holds a ledger's lock."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest

from cursor_exporter.ledger.database import LedgerError
from cursor_exporter.ledger.lock import LOCK_FILENAME, LedgerLock
from cursor_exporter.ledger.store import DB_FILENAME, SCHEMA_VERSION, Store


def written_ledger(directory) -> bytes:
    """A real ledger with some state, closed; its bytes."""
    store = Store(directory)
    store.set_json("members", [{"email": f"user{n}@example.com"} for n in range(2000)])
    store.close()
    return (directory / DB_FILENAME).read_bytes()


def truncated(directory) -> None:
    data = written_ledger(directory)
    (directory / DB_FILENAME).write_bytes(data[: len(data) // 2])


def random_bytes(directory) -> None:
    (directory / DB_FILENAME).write_bytes(os.urandom(64 * 1024))


def overwritten_midway(directory) -> None:
    data = bytearray(written_ledger(directory))
    data[4096:16384] = os.urandom(12288)  # pages after the header: the file still opens
    (directory / DB_FILENAME).write_bytes(bytes(data))


def newer_schema(directory) -> None:
    written_ledger(directory)
    with sqlite3.connect(directory / DB_FILENAME) as db:
        db.execute("UPDATE state SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))


def unknown_schema(directory) -> None:
    written_ledger(directory)
    with sqlite3.connect(directory / DB_FILENAME) as db:
        db.execute("UPDATE state SET value = 'v9' WHERE key = 'schema_version'")


def directory_in_its_place(directory) -> None:
    (directory / DB_FILENAME).mkdir()


DAMAGE = {
    "truncated": (truncated, "cannot be read (database disk image is malformed)"),
    "random bytes": (random_bytes, "cannot be read (file is not a database)"),
    "overwritten midway": (overwritten_midway, "damaged"),
    "newer schema": (newer_schema, f"has schema {SCHEMA_VERSION + 1}, written by a newer cursor-exporter"),
    "unknown schema": (unknown_schema, "has an unknown schema 'v9'"),
    "a directory": (directory_in_its_place, "is a directory, not a database file"),
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("read_only", [False, True])
def test_a_bad_ledger_is_one_line_naming_the_file_and_the_way_out(tmp_path, damage, read_only):
    make, problem = DAMAGE[damage]
    make(tmp_path)
    file = tmp_path / DB_FILENAME
    before = None if file.is_dir() else file.read_bytes()
    with pytest.raises(LedgerError) as raised:
        Store(tmp_path, read_only=read_only)
    message = str(raised.value)
    assert message.startswith(f"ledger {file} ")
    assert problem in message
    assert "\n" not in message
    assert "run that version, or move it" in message or "move it and its -wal and -shm files away" in message
    assert (None if file.is_dir() else file.read_bytes()) == before  # nothing was written to it


def test_an_unreadable_ledger_says_so(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    written_ledger(tmp_path)
    (tmp_path / DB_FILENAME).chmod(0)
    with pytest.raises(LedgerError, match="is not readable and writable by this user: fix its owner or mode"):
        Store(tmp_path)


def test_a_read_only_store_reads_beside_a_writer_and_never_writes(tmp_path):
    writer = Store(tmp_path)
    writer.set_json("members", ["a@example.com"])
    reader = Store(tmp_path, read_only=True)
    with writer.transaction() as db:  # a reader never blocks the writer, nor sees its open transaction
        writer.set_state("members", '["b@example.com"]', db)
        assert reader.get_json("members") == ["a@example.com"]
    assert reader.get_json("members") == ["b@example.com"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.set_json("members", [])
    reader.close()
    writer.close()


def test_a_read_only_store_refuses_an_older_schema_a_writer_would_upgrade(tmp_path):
    written_ledger(tmp_path)
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        db.execute("UPDATE state SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(LedgerError, match=rf"has schema 1, not {SCHEMA_VERSION}: run `cursor-exporter serve`"):
        Store(tmp_path, read_only=True)


@pytest.mark.parametrize("stored", ["{not json", '{"members": 3}', "[1, 2]", '["a", {"b": 1}]'])
def test_stored_state_that_cannot_be_restored_is_logged_once_and_treated_as_absent(tmp_path, caplog, stored):
    store = Store(tmp_path)
    store.set_state("spend", stored)

    def restore(saved):
        return [item["email"] for item in saved["members"]]

    with caplog.at_level(logging.WARNING):
        assert store.get_json("spend", restore) is None
    assert [record.getMessage().count("\n") for record in caplog.records] == [0]
    assert f"ignoring stored state 'spend' of {tmp_path / DB_FILENAME}" in caplog.text
    store.set_json("spend", {"members": [{"email": "a@example.com"}]})
    assert store.get_json("spend", restore) == ["a@example.com"]
    store.close()


def test_one_lock_per_ledger_names_its_holder_and_is_free_again_once_released(tmp_path):
    first = LedgerLock(tmp_path)
    with pytest.raises(LedgerError) as refused:
        LedgerLock(tmp_path)
    assert str(refused.value) == (
        f"the ledger in {tmp_path} is in use by another cursor-exporter (pid {os.getpid()} on {os.uname().nodename}): "
        "stop that one first, or give this one a --storage.path of its own"
    )
    other = LedgerLock(tmp_path / "organization")  # each ledger has its own lock
    first.release()
    LedgerLock(tmp_path).release()
    other.release()
    assert (tmp_path / LOCK_FILENAME).is_file()
