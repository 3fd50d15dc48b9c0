"""SQLite persistence of the ledger: WAL mode, one transaction per usage window.

Besides the usage ledger and daily activity it keeps small JSON state by key, and records with ids
(a source whose events carry an id counts them idempotently: a re-fetched id is stored once).

The store speaks rows and tuples only; :mod:`cursor_exporter.ledger` gives them meaning. Money is
stored as decimal TEXT so it round-trips exactly.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cursor_exporter.ledger.database import open_database
from cursor_exporter.timegrid import HOUR_MS

DB_FILENAME = "cursor-exporter.sqlite"
SCHEMA_VERSION = 3
LEGACY_HOUR = -1  # usage_peaks row of revisions a schema-2 ledger kept per series, not per hour

KEY_COLUMNS = ("user", "model", "kind", "max_mode", "source", "team")
VALUE_COLUMNS = (
    "events",
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "charged_cents",
    "token_fee_cents",
    "request_units",
)
_KEYS = ", ".join(KEY_COLUMNS)
_VALUES = ", ".join(VALUE_COLUMNS)
_REVISED = ", ".join(f"revised_{c}" for c in VALUE_COLUMNS)


def _per_hour_table(name: str) -> str:
    """A table of usage figures per (hour or bucket start, series): the stored usage, or the peaks' excess."""
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    hour_start INTEGER NOT NULL, {", ".join(f"{c} NOT NULL" for c in KEY_COLUMNS)},
    {", ".join(f"{c} NOT NULL" for c in VALUE_COLUMNS)},
    PRIMARY KEY (hour_start, {_KEYS})
) WITHOUT ROWID;
"""


_USAGE_HOURS = _per_hour_table("usage_hours")
_USAGE_PEAKS = _per_hour_table("usage_peaks")
_USAGE_TOTALS = f"""
CREATE TABLE IF NOT EXISTS usage_totals (
    {", ".join(f"{c} NOT NULL" for c in KEY_COLUMNS)},
    {", ".join(f"{c} NOT NULL" for c in VALUE_COLUMNS)},
    {", ".join(f"revised_{c} NOT NULL" for c in VALUE_COLUMNS)},
    PRIMARY KEY ({_KEYS})
) WITHOUT ROWID;
"""
_SCHEMA = f"""{_USAGE_HOURS}{_USAGE_TOTALS}{_USAGE_PEAKS}
CREATE TABLE IF NOT EXISTS usage_buckets (
    hour_start INTEGER PRIMARY KEY, fetched_at INTEGER NOT NULL, covered_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, labels TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_days (day INTEGER PRIMARY KEY, fetched_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS activity_rows (
    day INTEGER NOT NULL, email TEXT NOT NULL, is_active INTEGER NOT NULL,
    client_version TEXT, most_used_model TEXT, counters TEXT NOT NULL,
    PRIMARY KEY (day, email)
) WITHOUT ROWID;
"""

Key = tuple[str, str, str, int, str, str]
Values = tuple[Any, ...]
_CHUNK_ROWS = 10_000  # rows fetched at a time by a streamed query

log = logging.getLogger(__name__)


class SerializedConnection:
    """One SQLite connection shared by the sources' threads: a transaction holds it whole, so no other
    thread's statement can land inside it; any other statement waits for it."""

    def __init__(self, db: SerializedConnection) -> None:
        self._db = db
        self.lock = threading.RLock()

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        with self.lock:
            return self._db.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        with self.lock:
            return self._db.executemany(sql, rows)

    def fetchmany(self, cursor: sqlite3.Cursor, size: int) -> list[tuple]:
        with self.lock:
            return cursor.fetchmany(size)

    def executescript(self, script: str) -> sqlite3.Cursor:
        with self.lock:
            return self._db.executescript(script)

    def close(self) -> None:
        with self.lock:
            self._db.close()


class Store:
    """The exporter's SQLite database under ``--storage.path``; safe to share between threads."""

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        """Open (and create, upgrade) the ledger in ``directory``; ``read_only`` opens an existing, current one
        without ever writing to it, beside a running exporter. A file that is no usable ledger is a
        :class:`LedgerError` before anything is written to it."""
        self.path = directory / DB_FILENAME
        self._db = SerializedConnection(open_database(self.path, SCHEMA_VERSION, read_only=read_only))
        if read_only:
            return
        self._db.executescript(_SCHEMA)
        version = self.get_state("schema_version")
        if version == "1":
            self._add_team_column()
            version = "2"
        if version == "2":
            self._keep_revisions_as_peaks()
        elif version is not None and int(version) != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema {version}; this version needs {SCHEMA_VERSION}")
        self.set_state("schema_version", str(SCHEMA_VERSION))

    def _add_team_column(self) -> None:
        """Schema 1 -> 2: the usage tables gain the ``team`` key column (empty for a team's own usage).

        SQLite cannot change a primary key in place, so both tables are rebuilt in one transaction.
        """
        with self.transaction() as db:
            for table, create in (("usage_hours", _USAGE_HOURS), ("usage_totals", _USAGE_TOTALS)):
                old_columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
                db.execute(create)
                names = ", ".join(old_columns)
                db.execute(f"INSERT INTO {table} ({names}, team) SELECT {names}, '' FROM {table}_v1")
                db.execute(f"DROP TABLE {table}_v1")
            self.set_state("schema_version", "2", db)

    def _keep_revisions_as_peaks(self) -> None:
        """Schema 2 -> 3: counters hold each hour's peak instead of summing every downward change. A schema-2
        ledger's summed revisions have no hour, so they become one row at ``LEGACY_HOUR`` that no window
        replaces: its counters never fall across the upgrade."""
        revised = " OR ".join(f"revised_{c} != 0" for c in VALUE_COLUMNS)
        with self.transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO usage_peaks (hour_start, {_KEYS}, {_VALUES}) "
                f"SELECT {LEGACY_HOUR}, {_KEYS}, {_REVISED} FROM usage_totals WHERE {revised}"
            )
            self.set_state("schema_version", str(SCHEMA_VERSION), db)

    def close(self) -> None:
        """Close the database; WAL content is checkpointed by SQLite."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[SerializedConnection]:
        """One atomic unit: all of it survives a kill -9, or none of it does; other threads wait for it."""
        with self._db.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str, db: SerializedConnection | None = None) -> None:
        (db or self._db).execute(
            "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_json(self, key: str, restore: Callable[[Any], Any] = lambda value: value) -> Any:
        """The JSON value stored under ``key`` passed through ``restore`` (e.g. a model's validation); None when absent.

        A value that cannot be decoded or restored (damaged, or of a shape this version does not read) is
        logged once and treated as absent, so that its source fetches it anew instead of failing each start.
        """
        raw = self.get_state(key)
        if raw is None:
            return None
        try:
            return restore(json.loads(raw))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            detail = next(iter(str(error).splitlines()), "")
            log.warning("ignoring stored state %r of %s (%s: %s)", key, self.path, type(error).__name__, detail)
            return None

    def set_json(self, key: str, value: Any) -> None:
        self.set_state(key, json.dumps(value, separators=(",", ":")))

    def first_bucket(self) -> int | None:
        """The oldest hour with a fetch recorded, or None."""
        return self._db.execute("SELECT MIN(hour_start) FROM usage_buckets").fetchone()[0]

    def bucket_states(self, from_hour: int) -> Iterable[tuple[int, int, int]]:
        """(hour_start, fetched_at, covered_until) for every bucket from ``from_hour`` on."""
        return self._db.execute(
            "SELECT hour_start, fetched_at, covered_until FROM usage_buckets WHERE hour_start >= ?",
            (from_hour,),
        ).fetchall()

    def hour_rows(self, first_ms: int, last_ms: int | None = None) -> Iterator[tuple[int, Key, Values]]:
        """Stored usage of the buckets starting in [first_ms, last_ms] (open-ended when ``last_ms`` is None).

        A bucket is an hour, or the part of an hour from a period start (a billing cycle's, a contract's)
        on; the part before that start keeps the hour's own start."""
        return self._rows("usage_hours", first_ms, last_ms)

    def _rows(self, table: str, first_ms: int, last_ms: int | None) -> Iterator[tuple[int, Key, Values]]:
        rows = self._stream(
            f"SELECT hour_start, {_KEYS}, {_VALUES} FROM {table} WHERE hour_start >= ? AND hour_start <= ?",
            (first_ms, last_ms if last_ms is not None else 2**62),
        )
        width = len(KEY_COLUMNS)
        return ((row[0], tuple(row[1 : 1 + width]), tuple(row[1 + width :])) for row in rows)

    def _stream(self, sql: str, parameters: Any = ()) -> Iterator[tuple]:
        """The rows of a query, fetched in chunks: a whole period of hours at 10,000 seats is millions."""
        cursor = self._db.execute(sql, parameters)
        while chunk := self._db.fetchmany(cursor, _CHUNK_ROWS):
            yield from chunk

    def totals(self) -> Iterator[tuple[Key, Values, Values]]:
        """Every series' ledger total and its accumulated downward revisions."""
        return self._totals(self._stream(f"SELECT {_KEYS}, {_VALUES}, {_REVISED} FROM usage_totals"))

    @staticmethod
    def _totals(rows: Iterable[tuple]) -> Iterator[tuple[Key, Values, Values]]:
        width, values = len(KEY_COLUMNS), len(VALUE_COLUMNS)
        return ((tuple(r[:width]), tuple(r[width : width + values]), tuple(r[width + values :])) for r in rows)

    @staticmethod
    def totals_of(db: SerializedConnection, keys: Iterable[Key]) -> list[tuple[Key, Values, Values]]:
        """Within a transaction: the stored totals and revisions of these series (those the ledger has)."""
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS wanted_series ({_KEYS})")
        db.executemany(f"INSERT INTO wanted_series VALUES ({', '.join('?' * len(KEY_COLUMNS))})", keys)
        joined = " AND ".join(f"t.{c} = w.{c}" for c in KEY_COLUMNS)
        rows = db.execute(
            f"SELECT {', '.join(f't.{c}' for c in (*KEY_COLUMNS, *VALUE_COLUMNS))}, {_REVISED} "
            f"FROM wanted_series w JOIN usage_totals t ON {joined}"
        ).fetchall()
        db.execute("DELETE FROM wanted_series")
        return list(Store._totals(rows))

    def add_records(self, kind: str, rows: Iterable[tuple[str, int, tuple[str, ...]]]) -> None:
        """Atomically store records of ``kind`` by id: (id, epoch ms, label values); a known id is kept as is,
        so storing a re-fetched record again changes nothing."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO records (kind, id, at, labels) VALUES (?, ?, ?, ?)",
                [(kind, record_id, at, json.dumps(list(labels))) for record_id, at, labels in rows],
            )

    def count_records(self, kind: str) -> dict[tuple[str, ...], int]:
        """How many records of ``kind`` there are, per tuple of label values."""
        rows = self._db.execute("SELECT labels, COUNT(*) FROM records WHERE kind = ? GROUP BY labels", (kind,))
        return {tuple(json.loads(labels)): count for labels, count in rows}

    def activity_fetched(self) -> dict[int, int]:
        """day -> when it was last fetched."""
        return dict(self._db.execute("SELECT day, fetched_at FROM activity_days").fetchall())

    def activity_rows(self, from_day: int) -> Iterator[tuple[int, str, bool, str | None, str | None, tuple[int, ...]]]:
        """Stored daily rows from ``from_day`` on: (day, email, active, client version, model, counters)."""
        rows = self._stream(
            "SELECT day, email, is_active, client_version, most_used_model, counters FROM activity_rows WHERE day >= ?",
            (from_day,),
        )
        return ((d, e, bool(a), v, m, tuple(json.loads(c))) for d, e, a, v, m, c in rows)

    def replace_activity(self, days: list[int], rows: Iterable[tuple], fetched_at: int) -> None:
        """Atomically replace the rows of ``days`` and mark those days fetched."""
        with self.transaction() as db:
            db.executemany("DELETE FROM activity_rows WHERE day = ?", [(day,) for day in days])
            db.executemany(
                "INSERT OR REPLACE INTO activity_rows VALUES (?, ?, ?, ?, ?, ?)",
                [(d, e, int(a), v, m, json.dumps(list(c))) for d, e, a, v, m, c in rows],
            )
            db.executemany(
                "INSERT OR REPLACE INTO activity_days (day, fetched_at) VALUES (?, ?)",
                [(day, fetched_at) for day in days],
            )

    @staticmethod
    def replace_hours(
        db: SerializedConnection, first_ms: int, last_ms: int, rows: Iterable[tuple[int, Key, Values]]
    ) -> None:
        """Within a transaction: drop the stored usage of the buckets starting in [first_ms, last_ms] and
        insert ``rows``."""
        Store._replace_rows(db, "usage_hours", first_ms, last_ms, rows)

    @staticmethod
    def _replace_rows(
        db: SerializedConnection, table: str, first_ms: int, last_ms: int, rows: Iterable[tuple[int, Key, Values]]
    ) -> None:
        db.execute(f"DELETE FROM {table} WHERE hour_start >= ? AND hour_start <= ?", (first_ms, last_ms))
        marks = ", ".join("?" * (1 + len(KEY_COLUMNS) + len(VALUE_COLUMNS)))
        db.executemany(
            f"INSERT INTO {table} (hour_start, {_KEYS}, {_VALUES}) VALUES ({marks})",
            ((hour, *key, *values) for hour, key, values in rows),
        )

    def peak_rows(self, first_hour: int, last_hour: int | None = None) -> Iterator[tuple[int, Key, Values]]:
        """How far each series' peak of the hours in [first_hour, last_hour] lies above its stored usage
        (rows only where it does; ``LEGACY_HOUR`` holds a schema-2 ledger's revisions)."""
        return self._rows("usage_peaks", first_hour, last_hour)

    def forget_buckets_fetched_after(self, instant_ms: int) -> int | None:
        """Drop the fetch records stamped later than ``instant_ms``; the oldest such hour, or None."""
        with self.transaction() as db:
            first = db.execute("SELECT MIN(hour_start) FROM usage_buckets WHERE fetched_at > ?", (instant_ms,))
            hour = first.fetchone()[0]
            db.execute("DELETE FROM usage_buckets WHERE fetched_at > ?", (instant_ms,))
        return hour

    def drop_hours_before(self, hour: int) -> None:
        """Drop the stored usage, peaks and fetch records of every hour before ``hour`` (the running totals
        in ``usage_totals`` keep their sums)."""
        with self.transaction() as db:
            for table in ("usage_hours", "usage_peaks", "usage_buckets"):
                db.execute(f"DELETE FROM {table} WHERE hour_start < ?", (hour,))

    def forget_bucket(self, hour: int) -> None:
        """Drop the fetch record of ``hour`` (its usage stays) so that the next sync fetches it again."""
        self._db.execute("DELETE FROM usage_buckets WHERE hour_start = ?", (hour,))

    @staticmethod
    def replace_peaks(
        db: SerializedConnection, first_hour: int, last_hour: int, rows: Iterable[tuple[int, Key, Values]]
    ) -> None:
        """Within a transaction: replace the peak excess rows of the hours in [first_hour, last_hour]."""
        Store._replace_rows(db, "usage_peaks", first_hour, last_hour, rows)

    @staticmethod
    def mark_buckets(db: SerializedConnection, hours: Iterable[int], fetched_at: int, covered_until: int) -> None:
        """Within a transaction: record that ``hours`` were fetched at ``fetched_at``."""
        db.executemany(
            "INSERT INTO usage_buckets (hour_start, fetched_at, covered_until) VALUES (?, ?, ?) "
            "ON CONFLICT (hour_start) DO UPDATE SET fetched_at = excluded.fetched_at, "
            "covered_until = excluded.covered_until",
            [(hour, fetched_at, min(covered_until, hour + HOUR_MS - 1)) for hour in hours],
        )

    @staticmethod
    def upsert_totals(db: SerializedConnection, rows: Iterable[tuple[Key, Values, Values]]) -> None:
        """Within a transaction: write the new ledger totals and revisions of the given series."""
        marks = ", ".join("?" * (len(KEY_COLUMNS) + 2 * len(VALUE_COLUMNS)))
        db.executemany(
            f"INSERT OR REPLACE INTO usage_totals ({_KEYS}, {_VALUES}, {_REVISED}) VALUES ({marks})",
            ((*key, *values, *revised) for key, values, revised in rows),
        )
