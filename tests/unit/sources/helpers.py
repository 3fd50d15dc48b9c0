"""Builders the source tests share: snapshots, usage-ledger parts, one source's exposition and an engine.

Expected expositions are written out by hand in each test; only the ``# HELP``/``# TYPE`` header of a
family is built here, from the family's own definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from cursor_exporter.api.client import CursorClient
from cursor_exporter.ledger.rollup import UsageRollup
from cursor_exporter.ledger.store import Store
from cursor_exporter.ledger.tally import HourCharge, Tally, UsageKey
from cursor_exporter.output.exposition import render
from cursor_exporter.sources.base import Shared, Snapshot, Source, SourceContext, SourceOptions
from cursor_exporter.sources.engine import TeamEngine
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.usage_ledger import LedgerPart

VERSION = "1.2.3"
D = Decimal


def snapshot(parts: Mapping[str, Any] | None = None, **fields: Any) -> Snapshot:
    """A snapshot of ``parts`` (by source name) and any other snapshot fields."""
    return Snapshot(version=VERSION, parts=MappingProxyType(dict(parts or {})), **fields)


def expose(source: type[Source], snap: Snapshot, labels: LabelPolicy | None = None) -> str:
    """The Prometheus text exposition of ``source``'s families for ``snap``."""
    return render(source.render(snap, labels or LabelPolicy())).text.decode()


def head(family: Family) -> str:
    """The ``# HELP`` and ``# TYPE`` lines of ``family``."""
    return f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.type}\n"


def key(
    user: str,
    model: str = "gpt-5",
    kind: str = "Usage-based",
    max_mode: bool = False,
    source: str = "ide",
    team: str = "",
) -> UsageKey:
    """A ledger series; by default on-demand gpt-5 usage from the IDE."""
    return UsageKey(user, model, kind, max_mode, source, team)


def charged(cents: str) -> Tally:
    """A tally of charged money only."""
    return Tally(charged_cents=D(cents))


def ledger_part(
    counters: Mapping[UsageKey, Tally],
    *,
    revised: Mapping[UsageKey, Tally] | None = None,
    cycle: Mapping[UsageKey, Tally] | None = None,
    cycle_start_ms: int | None = None,
    hourly: Mapping[int, HourCharge] | None = None,
    tracked: frozenset[str] | None = None,
    top_users: int = 0,
) -> LedgerPart:
    """A usage source's part: the roll-up of these per-series sums, and its cap's picks."""
    return LedgerPart(UsageRollup.of_series(counters, revised, cycle, cycle_start_ms, hourly), tracked, top_users)


def engine_of(tmp_path, sources, clock: list[int]) -> TeamEngine:
    """An engine polling every one of ``sources``, on ``clock[0]``."""
    store = Store(tmp_path)
    context = SourceContext(
        client=CursorClient("http://cursor.invalid", "crsr_unused"),
        store=store,
        shared=Shared(store, 0),
        options=SourceOptions(),
        clock_ms=lambda: clock[0],
    )
    return TeamEngine(context, sources, [cls.name for cls in sources])
