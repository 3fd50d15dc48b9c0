"""The values the usage ledger sums: the series key, the additive tally, and the folding of events into
(bucket, series) sums, page by page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from cursor_exporter.api.records import Figures, UsageEvent
from cursor_exporter.money import ZERO, is_on_demand
from cursor_exporter.timegrid import floor_hour


class UsageKey(NamedTuple):
    """The finest grain the ledger keeps; every exported usage family is a roll-up of it.

    ``team`` is the event's ``teamId`` in the organization ledger and empty in a team's own.
    """

    user: str
    model: str
    kind: str
    max_mode: bool
    source: str
    team: str = ""


class Tally(NamedTuple):
    """Additive usage figures of one series. Money is in cents, exact."""

    events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    charged_cents: Decimal = ZERO
    token_fee_cents: Decimal = ZERO
    request_units: Decimal = ZERO


EMPTY = Tally()

# Builds a named tuple from an iterable without its Python-level __new__, in two fifths of the time.
_new = tuple.__new__


def as_tally(values: Iterable) -> Tally:
    """A :class:`Tally` of eight values in its field order."""
    return _new(Tally, values)


def as_key(values: Iterable) -> UsageKey:
    """A :class:`UsageKey` of six values in its field order."""
    return _new(UsageKey, values)


# Spelled out field by field: these run for every stored row, several times per window.
def add(a: Tally, b: Tally) -> Tally:
    """Field-wise sum."""
    return _new(
        Tally, (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4], a[5] + b[5], a[6] + b[6], a[7] + b[7])
    )


def subtract(a: Tally, b: Tally) -> Tally:
    """Field-wise difference ``a - b``."""
    return _new(
        Tally, (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4] - b[4], a[5] - b[5], a[6] - b[6], a[7] - b[7])
    )


def accumulate(sums: dict, key: tuple, tally: tuple) -> None:
    """Add ``tally`` (a :class:`Tally` or a plain tuple in its order) into the running list of ``key``."""
    row = sums.get(key)
    if row is None:
        sums[key] = list(tally)
    else:  # spelled out, as in add(): this runs once per event and per stored row
        events, inputs, outputs, cache_writes, cache_reads, charged, fee, units = tally
        row[0] += events
        row[1] += inputs
        row[2] += outputs
        row[3] += cache_writes
        row[4] += cache_reads
        row[5] += charged
        row[6] += fee
        row[7] += units


def peak(a: Tally, b: Tally) -> Tally:
    """Field-wise maximum."""
    return _new(Tally, map(max, a, b))


def by_hour(buckets: Mapping[tuple[int, UsageKey], Tally]) -> dict[tuple[int, UsageKey], Tally]:
    """Bucket sums folded into whole hours (the same dict when no bucket starts inside an hour)."""
    if all(bucket == floor_hour(bucket) for bucket, _ in buckets):
        return dict(buckets)
    hours: dict[tuple[int, UsageKey], Tally] = {}
    for (bucket, key), tally in buckets.items():
        slot = (floor_hour(bucket), key)
        hours[slot] = add(hours[slot], tally) if slot in hours else tally
    return hours


def bucket_finder(splits: Iterable[int]) -> Callable[[int], int]:
    """The bucket of a timestamp: its hour, or the latest of ``splits`` (period starts) inside that hour at
    or before it."""
    by_hour: dict[int, list[int]] = defaultdict(list)
    for split in sorted(set(splits)):
        if split != floor_hour(split):
            by_hour[floor_hour(split)].append(split)

    def bucket(timestamp: int) -> int:
        hour = floor_hour(timestamp)
        for split in reversed(by_hour.get(hour, ())):
            if split <= timestamp:
                return split
        return hour

    return bucket


class WindowAggregate:
    """Usage summed per (bucket, series) as pages of events arrive: a window is folded page by page, and
    never holds its events.

    A bucket is the event's hour, split at each of ``splits`` inside it (see :func:`bucket_finder`);
    ``by_team`` keeps each event's ``teamId`` (organization events).
    """

    def __init__(self, by_team: bool = False, splits: Iterable[int] = ()) -> None:
        self._by_team = by_team
        self._bucket = bucket_finder(splits)
        # Plain tuples and lists: this loop runs once per event, and named tuples cost several times more.
        self._sums: dict[tuple[int, tuple], list] = {}
        self.events = 0

    def add(self, events: Iterable[UsageEvent]) -> None:
        """Fold these events in."""
        self.add_figures(event.figures() for event in events)

    def add_figures(self, events: Iterable[Figures]) -> None:
        """Fold in these events' figures (see :meth:`UsageEvent.figures`)."""
        sums, bucket, by_team = self._sums, self._bucket, self._by_team
        count = 0
        for stamp, user, model, kind, max_mode, source, team, *figures in events:
            count += 1
            slot = (bucket(stamp), (user, model, kind, max_mode, source, (team or "unknown") if by_team else ""))
            accumulate(sums, slot, (1, *figures))
        self.events += count

    def sums(self) -> dict[tuple[int, tuple], tuple]:
        """The final sums, once every page is folded in, per (bucket, series) as plain tuples in the order of
        :class:`UsageKey` and :class:`Tally` (they compare and hash equal to them, and cost a fraction to
        build). No event can be folded in after."""
        sums = self._sums
        for slot, row in sums.items():  # in place: each list goes as its tuple comes, at 50,000 slots a window
            sums[slot] = tuple(row)
        return sums

    def tallies(self) -> dict[tuple[int, UsageKey], Tally]:
        """The sums so far, per (bucket, series)."""
        return {(bucket, as_key(key)): as_tally(row) for (bucket, key), row in self._sums.items()}


class HourCharge(NamedTuple):
    """Charged cents of one hour: everything, and the on-demand (invoiced) part."""

    all: Decimal = ZERO
    on_demand: Decimal = ZERO


def hour_charge(key: UsageKey, tally: Tally) -> HourCharge:
    return HourCharge(tally.charged_cents, tally.charged_cents if is_on_demand(key.kind) else ZERO)


def add_charge(a: HourCharge, b: HourCharge) -> HourCharge:
    return HourCharge(a.all + b.all, a.on_demand + b.on_demand)
