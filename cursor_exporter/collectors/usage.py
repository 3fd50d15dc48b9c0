"""Usage-event families: events, tokens, charged money and request units, team-wide and per user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

from prometheus_client.core import Metric

from cursor_exporter.ledger import EMPTY, Tally, UsageKey, add
from cursor_exporter.metrics import BY_NAME, TOKEN_TYPES, dollars
from cursor_exporter.snapshot import Snapshot
from cursor_exporter.userlabel import UserLabeler


def _roll_up(series: Mapping[UsageKey, Tally], grain) -> dict[tuple, Tally]:
    sums: dict[tuple, Tally] = defaultdict(lambda: EMPTY)
    for key, tally in series.items():
        sums[grain(key)] = add(sums[grain(key)], tally)
    return sums


def _usage_labels(key: UsageKey) -> tuple[str, str, str]:
    return key.model, key.kind, "true" if key.max_mode else "false"


def _tokens(tally: Tally) -> zip:
    return zip(
        TOKEN_TYPES,
        (tally.input_tokens, tally.output_tokens, tally.cache_write_tokens, tally.cache_read_tokens),
        strict=True,
    )


def collect(snapshot: Snapshot, users: UserLabeler) -> Iterator[Metric]:
    """Families of the ``usage`` collector."""
    if snapshot.usage is None:
        return
    view = snapshot.usage
    by_usage = _roll_up(view.counters, _usage_labels)
    events, tokens, charged, fee, units = (
        BY_NAME[name].new()
        for name in (
            "cursor_usage_events_total",
            "cursor_usage_tokens_total",
            "cursor_usage_charged_usd_total",
            "cursor_usage_token_fee_usd_total",
            "cursor_usage_request_units_total",
        )
    )
    for labels, tally in sorted(by_usage.items()):
        events.add_metric(labels, tally.events)
        for token_type, count in _tokens(tally):
            tokens.add_metric((*labels, token_type), count)
        charged.add_metric(labels, dollars(tally.charged_cents))
        fee.add_metric(labels, dollars(tally.token_fee_cents))
        units.add_metric(labels, float(tally.request_units))
    revised = BY_NAME["cursor_usage_charged_revised_down_usd_total"].new()
    for labels, tally in sorted(_roll_up(view.revised, _usage_labels).items()):
        if tally.charged_cents:
            revised.add_metric(labels, dollars(tally.charged_cents))
    cycle = BY_NAME["cursor_usage_cycle_charged_usd"].new()
    for labels, tally in sorted(_roll_up(view.cycle, _usage_labels).items()):
        cycle.add_metric(labels, dollars(tally.charged_cents))
    yield from (events, tokens, charged, fee, units, revised, cycle)

    if not users.enabled:
        return
    by_user = _roll_up(view.counters, lambda key: users.label(key.user))
    user_events, user_tokens, user_charged = (
        BY_NAME[name].new()
        for name in ("cursor_user_usage_events_total", "cursor_user_tokens_total", "cursor_user_charged_usd_total")
    )
    for user, tally in sorted(by_user.items()):
        user_events.add_metric((user,), tally.events)
        for token_type, count in _tokens(tally):
            user_tokens.add_metric((user, token_type), count)
        user_charged.add_metric((user,), dollars(tally.charged_cents))
    user_cycle = BY_NAME["cursor_user_cycle_charged_usd"].new()
    for user, tally in sorted(_roll_up(view.cycle, lambda key: users.label(key.user)).items()):
        user_cycle.add_metric((user,), dollars(tally.charged_cents))
    yield from (user_events, user_tokens, user_charged, user_cycle)
