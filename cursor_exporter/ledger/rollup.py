"""The usage ledger's running sums at the grains its families are rendered at.

Every usage family is a roll-up of the ledger's series (:class:`UsageKey`) either team-wide, by model,
kind, max mode, source (and team), or per user (and team). Both roll-ups are linear, so the ledger keeps
its running sums at these two grains instead of per series: at 10,000 seats that is some ten thousand
tallies instead of a third of a million. The per-series sums stay in the store (``usage_totals``).

A grain is written as a :class:`UsageKey` with the fields it drops left empty, so a render's grouping
functions read both grains and whole series alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cursor_exporter.ledger.tally import EMPTY, HourCharge, Tally, UsageKey, accumulate, add, add_charge, as_tally

_new = tuple.__new__


def usage_grain(key: tuple) -> UsageKey:
    """The series' team-wide grain: its key without the user."""
    return _new(UsageKey, ("", key[1], key[2], key[3], key[4], key[5]))


def user_grain(key: tuple) -> UsageKey:
    """The series' per-user grain: its user and team only."""
    return _new(UsageKey, (key[0], "", "", False, "", key[5]))


def whole_series(key: UsageKey) -> UsageKey:
    """The finest grain: the series itself."""
    return key


def fold(series: Iterable[tuple[tuple, tuple]], grain) -> dict[UsageKey, Tally]:
    """Sum ``(key, tally)`` pairs at ``grain`` (:func:`usage_grain` or :func:`user_grain`)."""
    sums: dict[UsageKey, list] = {}
    for key, tally in series:
        accumulate(sums, grain(key), tally)
    return {key: as_tally(row) for key, row in sums.items()}


def _add_into(sums: dict[UsageKey, Tally], changes: Mapping[UsageKey, Tally]) -> None:
    for key, change in changes.items():
        sums[key] = add(sums.get(key, EMPTY), change)


@dataclass(frozen=True)
class UsageRollup:
    """An immutable snapshot of a ledger's running sums, the input of its families.

    ``counters`` (the peaks' sums), ``revised`` (how far they lie above Cursor's current figures) and
    ``cycle`` (the sums since the period start) are per team-wide grain; ``user_counters`` and
    ``user_cycle`` per user. ``cycle_hourly`` holds the period's charges per bucket (keyed by bucket start).
    """

    counters: Mapping[UsageKey, Tally] = field(default_factory=dict)
    revised: Mapping[UsageKey, Tally] = field(default_factory=dict)
    cycle: Mapping[UsageKey, Tally] = field(default_factory=dict)
    user_counters: Mapping[UsageKey, Tally] = field(default_factory=dict)
    user_cycle: Mapping[UsageKey, Tally] = field(default_factory=dict)
    cycle_start_ms: int | None = None
    cycle_hourly: Mapping[int, HourCharge] = field(default_factory=dict)

    @classmethod
    def of_series(
        cls,
        counters: Mapping[UsageKey, Tally],
        revised: Mapping[UsageKey, Tally] | None = None,
        cycle: Mapping[UsageKey, Tally] | None = None,
        cycle_start_ms: int | None = None,
        cycle_hourly: Mapping[int, HourCharge] | None = None,
    ) -> UsageRollup:
        """The roll-up of per-series sums (a ledger's :meth:`~cursor_exporter.ledger.usage.Ledger.view`)."""
        cycle = {key: tally for key, tally in (cycle or {}).items() if tally != EMPTY}
        return cls(
            counters=fold(counters.items(), usage_grain),
            revised=fold((revised or {}).items(), usage_grain),
            cycle=fold(cycle.items(), usage_grain),
            user_counters=fold(counters.items(), user_grain),
            user_cycle=fold(cycle.items(), user_grain),
            cycle_start_ms=cycle_start_ms,
            cycle_hourly=MappingProxyType(dict(cycle_hourly or {})),
        )


class RunningSums:
    """The ledger's sums at both grains, changed window by window (not thread-safe: the ledger locks)."""

    def __init__(self) -> None:
        self.counters: dict[UsageKey, Tally] = {}
        self.revised: dict[UsageKey, Tally] = {}
        self.user_counters: dict[UsageKey, Tally] = {}

    def add_series(self, changes: Iterable[tuple[tuple, tuple, tuple | None]]) -> None:
        """Add each series' change of its stored total and of its revisions (None for none)."""
        counters: dict[UsageKey, list] = {}
        revised: dict[UsageKey, list] = {}
        user_counters: dict[UsageKey, list] = {}
        for key, total, revision in changes:
            usage, user = usage_grain(key), user_grain(key)
            accumulate(counters, usage, total)
            accumulate(user_counters, user, total)
            if revision is not None:
                accumulate(counters, usage, revision)
                accumulate(user_counters, user, revision)
                accumulate(revised, usage, revision)
        for sums, changed in (
            (self.counters, counters),
            (self.revised, revised),
            (self.user_counters, user_counters),
        ):
            _add_into(sums, {key: as_tally(row) for key, row in changed.items()})


class PeriodSums:
    """The period's sums at both grains and its charges per bucket."""

    def __init__(
        self,
        cycle: dict[UsageKey, Tally] | None = None,
        user_cycle: dict[UsageKey, Tally] | None = None,
        hourly: dict[int, HourCharge] | None = None,
    ) -> None:
        self.cycle = cycle or {}
        self.user_cycle = user_cycle or {}
        self.hourly = hourly or {}

    def add(self, changes: Mapping[tuple, Tally], hourly: Mapping[int, HourCharge]) -> None:
        """Add per-series changes of the period's sums, and changes of its charges per bucket."""
        _add_into(self.cycle, fold(changes.items(), usage_grain))
        _add_into(self.user_cycle, fold(changes.items(), user_grain))
        for bucket, charge in hourly.items():
            self.hourly[bucket] = add_charge(self.hourly.get(bucket, HourCharge()), charge)
