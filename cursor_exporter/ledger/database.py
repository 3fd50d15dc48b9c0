"""Opening the ledger's SQLite file, checked before anything is written to it.

A file that is no usable ledger (truncated, overwritten, written by a newer version, a directory in
its place, not readable) is one :class:`LedgerError` naming the file and the way out, never a
traceback at every start.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

FRESH = "move it and its -wal and -shm files away to start afresh"


class LedgerError(Exception):
    """A ledger that cannot be used, in one line: which file, what is wrong with it and what to do."""


def open_database(path: Path, schema_version: int, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the ledger ``path`` (created when missing unless ``read_only``), in WAL mode.

    ``read_only`` never writes, so it may read beside a running exporter; it needs an existing ledger
    of ``schema_version`` (a writer upgrades older ones).
    """
    access = os.R_OK if read_only else os.R_OK | os.W_OK
    if path.exists() and not path.is_dir() and not os.access(path, access):
        needs = "readable" if read_only else "readable and writable"
        raise LedgerError(f"ledger {path} is not {needs} by this user: fix its owner or mode")
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise LedgerError(f"ledger {path} is a directory, not a database file: {FRESH}")
        target = f"{path.absolute().as_uri()}?mode=ro" if read_only else str(path)
        db = sqlite3.connect(target, uri=read_only, isolation_level=None, check_same_thread=False)
    except (sqlite3.DatabaseError, OSError) as error:
        raise LedgerError(f"ledger {path} cannot be opened ({_reason(error)}): {FRESH}") from None
    try:
        problem = _problem(db, schema_version, read_only)
    except sqlite3.DatabaseError as error:
        problem = f"cannot be read ({_reason(error)}): {FRESH}"
    if problem is not None:
        db.close()
        raise LedgerError(f"ledger {path} {problem}")
    return db


def _reason(error: sqlite3.DatabaseError | OSError) -> str:
    return (error.strerror or type(error).__name__) if isinstance(error, OSError) else str(error)


def _problem(db: sqlite3.Connection, schema_version: int, read_only: bool) -> str | None:
    """What makes the database no usable ledger (the rest of a one-line message), or None."""
    if not read_only:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
    damage = " ".join(db.execute("PRAGMA quick_check(1)").fetchone()[0].split())
    if damage != "ok":
        return f"is damaged ({damage}): {FRESH}"
    version = _stored_version(db)
    if version is not None and not version.isdigit():
        return f"has an unknown schema {version!r}: {FRESH}"
    if version is not None and int(version) > schema_version:
        return (
            f"has schema {version}, written by a newer cursor-exporter (this one knows schema {schema_version} "
            f"at most): run that version, or {FRESH}"
        )
    if read_only and version != str(schema_version):
        return f"has schema {version or 'none'}, not {schema_version}: run `cursor-exporter serve` on it once"
    return None


def _stored_version(db: sqlite3.Connection) -> str | None:
    """The ``schema_version`` the ledger records; None in a new (empty) database."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM state WHERE key = 'schema_version'").fetchone()
    return None if row is None else str(row[0])
