"""Usage-event families: events, tokens, charged money and request units, team-wide and per user.

The team's own ledger and the organization ledger are rendered by the same code: the organization's
families carry a ``team`` label (the event's ``teamId``) and a contract period instead of a cycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import Metric

from cursor_exporter.labels import LabelPolicy
from cursor_exporter.ledger import EMPTY, Tally, UsageKey, UsageView, add
from cursor_exporter.metrics import BY_NAME, TOKEN_TYPES, dollars
from cursor_exporter.snapshot import Snapshot


@dataclass(frozen=True)
class UsageFamilies:
    """The family names one ledger is rendered into; ``period`` is the ledger's cycle (or contract)."""

    events: str
    tokens: str
    charged: str
    token_fee: str
    request_units: str
    revised: str
    period: str
    user_charged: str
    user_period: str
    user_events: str | None = None
    user_tokens: str | None = None
    by_team: bool = False


TEAM_FAMILIES = UsageFamilies(
    events="cursor_usage_events_total",
    tokens="cursor_usage_tokens_total",
    charged="cursor_usage_charged_usd_total",
    token_fee="cursor_usage_token_fee_usd_total",
    request_units="cursor_usage_request_units_total",
    revised="cursor_usage_charged_revised_down_usd_total",
    period="cursor_usage_cycle_charged_usd",
    user_charged="cursor_user_charged_usd_total",
    user_period="cursor_user_cycle_charged_usd",
    user_events="cursor_user_usage_events_total",
    user_tokens="cursor_user_tokens_total",
)
ORG_FAMILIES = UsageFamilies(
    events="cursor_org_usage_events_total",
    tokens="cursor_org_usage_tokens_total",
    charged="cursor_org_usage_charged_usd_total",
    token_fee="cursor_org_usage_token_fee_usd_total",
    request_units="cursor_org_usage_request_units_total",
    revised="cursor_org_usage_charged_revised_down_usd_total",
    period="cursor_org_usage_contract_charged_usd",
    user_charged="cursor_org_user_charged_usd_total",
    user_period="cursor_org_user_contract_charged_usd",
    by_team=True,
)


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


def render_usage(
    view: UsageView, labels: LabelPolicy, tracked: Collection[str] | None, top_users: int, names: UsageFamilies
) -> Iterator[Metric]:
    """The families of one ledger view, team-wide and (unless switched off) per user.

    Under the top-N cap (``tracked`` not None) users the cap has not picked fold into ``__other__`` once
    it is full. While it has room they are left out until the caught-up ledger lets the cap pick them:
    folded meanwhile, ``__other__`` would fall when they leave it, and it is a counter.
    """

    def team(key: UsageKey) -> tuple[str, ...]:
        return (key.team,) if names.by_team else ()

    def usage_grain(key: UsageKey) -> tuple[str, ...]:
        return (*team(key), labels.model(key.model), key.kind, "true" if key.max_mode else "false", key.source)

    events, tokens, charged, fee, units, revised, period = (
        BY_NAME[name].new()
        for name in (
            names.events,
            names.tokens,
            names.charged,
            names.token_fee,
            names.request_units,
            names.revised,
            names.period,
        )
    )
    for group, tally in sorted(roll_up(view.counters, usage_grain).items()):
        events.add_metric(group, tally.events)
        for token_type, count in _tokens(tally):
            tokens.add_metric((*group, token_type), count)
        charged.add_metric(group, dollars(tally.charged_cents))
        fee.add_metric(group, dollars(tally.token_fee_cents))
        units.add_metric(group, float(tally.request_units))
    for group, tally in sorted(roll_up(view.revised, usage_grain).items()):
        if tally.charged_cents:
            revised.add_metric(group, dollars(tally.charged_cents))
    for group, tally in sorted(roll_up(view.cycle, usage_grain).items()):
        period.add_metric(group, dollars(tally.charged_cents))
    yield from (events, tokens, charged, fee, units, revised, period)

    if not labels.per_user:
        return
    counters, period_sums = view.counters, view.cycle
    if tracked is not None and len(tracked) < top_users:  # the cap has room: unpicked users wait
        counters = {key: tally for key, tally in counters.items() if key.user in tracked}
        period_sums = {key: tally for key, tally in period_sums.items() if key.user in tracked}

    def user_grain(key: UsageKey) -> tuple[str, ...]:
        return (*team(key), labels.user(key.user, tracked))

    user_charged, user_period = BY_NAME[names.user_charged].new(), BY_NAME[names.user_period].new()
    user_events = BY_NAME[names.user_events].new() if names.user_events else None
    user_tokens = BY_NAME[names.user_tokens].new() if names.user_tokens else None
    for group, tally in sorted(roll_up(counters, user_grain).items()):
        if user_events is not None:
            user_events.add_metric(group, tally.events)
        if user_tokens is not None:
            for token_type, count in _tokens(tally):
                user_tokens.add_metric((*group, token_type), count)
        user_charged.add_metric(group, dollars(tally.charged_cents))
    for group, tally in sorted(roll_up(period_sums, user_grain).items()):
        user_period.add_metric(group, dollars(tally.charged_cents))
    yield from (family for family in (user_events, user_tokens, user_charged, user_period) if family is not None)


def collect(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``usage`` collector: the team's own usage events."""
    if snapshot.usage is not None:
        yield from render_usage(snapshot.usage, labels, snapshot.tracked_users, snapshot.top_users, TEAM_FAMILIES)


def collect_org(snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
    """Families of the ``org_usage`` collector: every team's usage events through the organization key."""
    if snapshot.org_usage is not None:
        yield from render_usage(
            snapshot.org_usage, labels, snapshot.org_tracked_users, snapshot.top_users, ORG_FAMILIES
        )
