"""The ``export`` command: the ledger's usage summed by day, user, model and/or kind, as CSV or JSON.

It reads the ``usage_hours`` table, which holds Cursor's current figures (later revisions replace
earlier ones), so it reconciles with Cursor's usage page rather than with the never-decreasing
counters. Money is summed exactly in cents and written in dollars as exact decimal strings; users
are the emails Cursor reports and models the raw model names, whatever the ``--metrics.*`` labels.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from cursor_exporter.ledger import EMPTY, Ledger, Tally, UsageKey, add
from cursor_exporter.windows import floor_hour

GROUPS = ("day", "user", "model", "kind")


def _column(field: str) -> str:
    """Export column of a :class:`Tally` field: money in cents becomes dollars."""
    return field.removesuffix("_cents") + "_usd" if field.endswith("_cents") else field


VALUE_COLUMNS = tuple(_column(field) for field in Tally._fields)

Row = dict[str, str | int]


def _group_value(group: str, hour: int, key: UsageKey) -> str:
    if group == "day":
        return datetime.fromtimestamp(hour / 1000, UTC).strftime("%Y-%m-%d")
    return {"user": key.user, "model": key.model, "kind": key.kind}[group]


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
