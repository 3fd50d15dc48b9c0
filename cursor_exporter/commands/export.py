"""The ``export`` command: the ledger's usage summed by day, user, model, kind and/or team, as CSV or JSON.

``--team NAME`` and ``--org`` select the ledger as ``serve`` stores it (the organization's has a
``team`` group: the event's ``teamId``). It reads the ``usage_hours`` table, which holds Cursor's
current figures (later revisions replace earlier ones), so it reconciles with Cursor's usage page
rather than with the never-decreasing counters. Money is summed exactly in cents and written in
dollars as exact decimal strings; users are the emails Cursor reports and models the raw model
names, whatever the ``--metrics.*`` labels.

It opens the ledger read-only and takes no lock, so it may run beside ``serve``: in SQLite's WAL
mode a reader never blocks the writer, and each query reads one committed state.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

from cursor_exporter.commands.config import ConfigError, Settings
from cursor_exporter.ledger.store import DB_FILENAME, Store
from cursor_exporter.ledger.tally import EMPTY, Tally, UsageKey, add
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.timegrid import floor_hour, utc_date

GROUPS = ("day", "user", "model", "kind", "team")


def _column(field: str) -> str:
    """Export column of a :class:`Tally` field: money in cents becomes dollars."""
    return field.removesuffix("_cents") + "_usd" if field.endswith("_cents") else field


VALUE_COLUMNS = tuple(_column(field) for field in Tally._fields)

Row = dict[str, str | int]


def _group_value(group: str, hour: int, key: UsageKey) -> str:
    if group == "day":
        return utc_date(hour)
    return {"user": key.user, "model": key.model, "kind": key.kind, "team": key.team}[group]


def _row(columns: dict[str, str], tally: Tally) -> Row:
    values: Row = {}
    for field, value in zip(Tally._fields, tally, strict=True):
        if field.endswith("_cents"):
            value = value / 100
        values[_column(field)] = format(value, "f") if isinstance(value, Decimal) else value
    return {**columns, **values}


def usage_rows(ledger: Ledger, start_ms: int, end_ms: int | None, group_by: Iterable[str]) -> list[Row]:
    """Usage of the hours starting in [start_ms, end_ms), summed per group, sorted by group."""
    group_by = tuple(group_by)
    sums: dict[tuple[str, ...], Tally] = {}
    for hour, key, tally in ledger.hours(floor_hour(start_ms), None if end_ms is None else end_ms - 1):
        group = tuple(_group_value(name, hour, key) for name in group_by)
        sums[group] = add(sums.get(group, EMPTY), tally)
    return [_row(dict(zip(group_by, group, strict=True)), sums[group]) for group in sorted(sums)]


def write_rows(rows: list[Row], group_by: Iterable[str], output_format: str, stream: TextIO) -> None:
    """Write the rows as CSV (header first) or as a JSON array of objects."""
    if output_format == "json":
        json.dump(rows, stream, indent=1)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=[*group_by, *VALUE_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def run_export(settings: Settings, args: dict[str, Any]) -> int:
    """The ``export`` command: 0 with the rows written, 2 when there is no such ledger."""
    organization = bool(args.get("organization"))
    try:
        directory = settings.ledger_directory(args.get("team"), organization)
    except ConfigError as error:
        print(f"cursor-exporter: export: {error}", file=sys.stderr)
        return 2
    if not (directory / DB_FILENAME).exists():
        print(f"cursor-exporter: export: no ledger in {directory} (see --storage.path)", file=sys.stderr)
        return 2
    group_by = args.get("group_by", ("day",))
    store = Store(directory, read_only=True)
    try:
        rows = usage_rows(
            Ledger(store, by_team=organization), args.get("range_from", 0), args.get("range_to"), group_by
        )
    finally:
        store.close()
    output_format = args.get("export_format", "csv")
    if "output" not in args:
        try:
            write_rows(rows, group_by, output_format, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `export | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error when Python flushes at exit
        return 0
    with args["output"].open("w", newline="") as stream:
        write_rows(rows, group_by, output_format, stream)
    return 0
