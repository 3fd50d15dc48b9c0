"""Usage-event families: events, tokens, charged money and request units, team-wide and per user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.ledger import EMPTY, Tally, UsageKey, add
from cursor_exporter.metrics import BY_NAME, TOKEN_TYPES, dollars
from cursor_exporter.snapshot import Snapshot


def roll_up(series: Mapping[UsageKey, Tally], grain: Callable[[UsageKey], Hashable]) -> dict:
    """Sum tallies of the series that share ``grain(key)``."""
    sums: dict = defaultdict(lambda: EMPTY)
    for key, tally in series.items():
        group = grain(key)
        sums[group] = add(sums[group], tally)
    return sums


def _tokens(tally: Tally) -> zip:
    return zip(
        TOKEN_TYPES,
        (tally.input_tokens, tally.output_tokens, tally.cache_write_tokens, tally.cache_read_tokens),
        strict=True,
    )


def _families(*names: str) -> list[Metric]:
    return [BY_NAME[name].new() for name in names]


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``usage`` collector."""
    if snapshot.usage is None:
        return
    view = snapshot.usage

    def team_grain(key: UsageKey) -> tuple[str, str, str, str]:
        return labels.model(key.model), key.kind, "true" if key.max_mode else "false", key.source

    events, tokens, charged, fee, units = _families(
        "cursor_usage_events_total",
        "cursor_usage_tokens_total",
        "cursor_usage_charged_usd_total",
        "cursor_usage_token_fee_usd_total",
        "cursor_usage_request_units_total",
    )
    for group, tally in sorted(roll_up(view.counters, team_grain).items()):
        events.add_metric(group, tally.events)
        for token_type, count in _tokens(tally):
            tokens.add_metric((*group, token_type), count)
        charged.add_metric(group, dollars(tally.charged_cents))
        fee.add_metric(group, dollars(tally.token_fee_cents))
        units.add_metric(group, float(tally.request_units))
    (revised,) = _families("cursor_usage_charged_revised_down_usd_total")
    for group, tally in sorted(roll_up(view.revised, team_grain).items()):
        if tally.charged_cents:
            revised.add_metric(group, dollars(tally.charged_cents))
    (cycle,) = _families("cursor_usage_cycle_charged_usd")
    for group, tally in sorted(roll_up(view.cycle, team_grain).items()):
        cycle.add_metric(group, dollars(tally.charged_cents))
    yield from (events, tokens, charged, fee, units, revised, cycle)

    if not labels.per_user:
        return

    def user_grain(key: UsageKey) -> str:
        return labels.user(key.user, snapshot.tracked_users)

    user_events, user_tokens, user_charged, user_cycle = _families(
        "cursor_user_usage_events_total",
        "cursor_user_tokens_total",
        "cursor_user_charged_usd_total",
        "cursor_user_cycle_charged_usd",
    )
    for user, tally in sorted(roll_up(view.counters, user_grain).items()):
        user_events.add_metric((user,), tally.events)
        for token_type, count in _tokens(tally):
            user_tokens.add_metric((user, token_type), count)
        user_charged.add_metric((user,), dollars(tally.charged_cents))
    for user, tally in sorted(roll_up(view.cycle, user_grain).items()):
        user_cycle.add_metric((user,), dollars(tally.charged_cents))
    yield from (user_events, user_tokens, user_charged, user_cycle)
