"""How replacing a window's buckets changes the usage ledger's running sums: per series, the stored total
and the peaks' excess over it (the counters), and the period's sums and charges per bucket.

Pure functions of plain dicts; these run once per stored row of every window, so rows are summed in
lists and spelled out field by field.
"""

from __future__ import annotations

from cursor_exporter.ledger.tally import (
    EMPTY,
    HourCharge,
    Tally,
    UsageKey,
    accumulate,
    add,
    as_key,
    as_tally,
    peak,
    subtract,
)
from cursor_exporter.money import ZERO, is_on_demand


def plus(tally: Tally, change: Tally | None) -> Tally:
    """``tally`` plus ``change``, if any."""
    return tally if change is None else add(tally, change)


def _tallies(sums: dict[tuple, list]) -> dict[UsageKey, Tally]:
    return {as_key(key): as_tally(row) for key, row in sums.items()}


def peak_deltas(
    new: dict[tuple[int, UsageKey], Tally], old: dict[tuple[int, UsageKey], Tally], held: dict
) -> tuple[dict[tuple[int, UsageKey], Tally], dict[UsageKey, Tally], dict[UsageKey, Tally]]:
    """Per hour and series, the excess of the peak over the new figure, and per series how the stored
    total and the counters' excess change (the latter only for series a revision touched); ``held`` is the
    excess stored before."""
    excess: dict[tuple[int, UsageKey], Tally] = {}
    total: dict[UsageKey, list] = {}
    revised: dict[UsageKey, list] = {}
    for slot, now in new.items():
        before, kept = old.get(slot), held.get(slot)
        if kept is None and (before is None or before == now):  # a first fetch, or the same answer again
            if before is None:
                accumulate(total, slot[1], now)
            continue
        _change(slot, now, before or EMPTY, kept or EMPTY, excess, total, revised)
    for slot in (old.keys() | held.keys()) - new.keys():
        _change(slot, EMPTY, old.get(slot, EMPTY), held.get(slot, EMPTY), excess, total, revised)
    return excess, _tallies(total), _tallies(revised)


def _change(
    slot: tuple[int, UsageKey], now: Tally, before: Tally, kept: Tally, excess: dict, total: dict, revised: dict
) -> None:
    above = subtract(peak(add(before, kept), now), now)
    if above != EMPTY:
        excess[slot] = above
    accumulate(total, slot[1], subtract(now, before))
    accumulate(revised, slot[1], subtract(above, kept))


def period_deltas(
    new: dict[tuple[int, tuple], tuple], old: dict[tuple[int, UsageKey], Tally], start: int | None
) -> tuple[dict[UsageKey, Tally], dict[int, HourCharge]]:
    """How the period's sums per series and its charges per bucket change, from ``start`` on."""
    series: dict[tuple, list] = {}
    buckets: dict[int, list] = {}
    if start is None:
        return {}, {}
    for slot in new.keys() | old.keys():
        bucket, key = slot
        if bucket < start:
            continue
        now, before = new.get(slot), old.get(slot)
        if now == before:
            continue
        change = now if before is None else subtract(now or EMPTY, before)
        accumulate(series, key, change)
        charged = change[5]
        charges = buckets.get(bucket)
        if charges is None:
            charges = buckets[bucket] = [ZERO, ZERO]
        charges[0] += charged
        if is_on_demand(key[2]):
            charges[1] += charged
    return _tallies(series), {bucket: HourCharge(*charges) for bucket, charges in buckets.items()}
