"""Source ``usage``: the team's usage events (/teams/filtered-usage-events) in the hourly ledger.

Events, tokens, charged money and request units, team-wide and per user, as counters that never
decrease, and the current billing cycle's charged money as exact gauges. Needs the billing-cycle start
(from ``spend``) and keeps the team's top-N user cap.
"""

from __future__ import annotations

from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.ledger.scan import WindowScanner
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.sources.base import SourceContext
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.usage_ledger import USAGE_LABELS, LedgerFamilies, LedgerSource, sync_windows

TEAM_EVENTS = Endpoint("POST", "/teams/filtered-usage-events", per_minute=60)
_EVENTS = TEAM_EVENTS.path

USAGE_EVENTS = Family(
    "cursor_usage_events_total",
    "counter",
    USAGE_LABELS,
    "Usage events (requests) recorded by Cursor.",
    f"{_EVENTS}: one per event",
)

USAGE_TOKENS = Family(
    "cursor_usage_tokens_total",
    "counter",
    (*USAGE_LABELS, "token_type"),
    "Tokens used, by token type (input, output, cache_write, cache_read); request-based events add none.",
    f"{_EVENTS}: tokenUsage.*Tokens",
)

USAGE_CHARGED_USD = Family(
    "cursor_usage_charged_usd_total",
    "counter",
    USAGE_LABELS,
    "Money charged for usage in US dollars: model cost after discount plus Cursor's token fee.",
    f"{_EVENTS}: chargedCents / 100",
)

USAGE_TOKEN_FEE_USD = Family(
    "cursor_usage_token_fee_usd_total",
    "counter",
    USAGE_LABELS,
    "Cursor token fee in US dollars; already included in cursor_usage_charged_usd_total.",
    f"{_EVENTS}: cursorTokenFee / 100",
)

USAGE_REQUEST_UNITS = Family(
    "cursor_usage_request_units_total",
    "counter",
    USAGE_LABELS,
    "Request units of legacy request-based pricing; a count of units, not money.",
    f"{_EVENTS}: requestsCosts",
)

USAGE_CHARGED_REVISED_DOWN_USD = Family(
    "cursor_usage_charged_revised_down_usd",
    "gauge",
    USAGE_LABELS,
    "Charged money the counter holds above Cursor's current figure (downward revisions a counter can't follow).",
    f"{_EVENTS}: hourly peak minus current chargedCents / 100",
)

USAGE_CYCLE_CHARGED_USD = Family(
    "cursor_usage_cycle_charged_usd",
    "gauge",
    USAGE_LABELS,
    "Money charged in the current billing cycle in US dollars; exact, follows revisions up and down.",
    f"{_EVENTS}: chargedCents / 100 since subscriptionCycleStart",
)

USER_USAGE_EVENTS = Family(
    "cursor_user_usage_events_total",
    "counter",
    ("user",),
    "Usage events per user.",
    f"{_EVENTS}: one per event, by userEmail",
    per_user=True,
)

USER_TOKENS = Family(
    "cursor_user_tokens_total",
    "counter",
    ("user", "token_type"),
    "Tokens used per user, by token type.",
    f"{_EVENTS}: tokenUsage, by userEmail",
    per_user=True,
)

USER_CHARGED_USD = Family(
    "cursor_user_charged_usd_total",
    "counter",
    ("user",),
    "Money charged per user in US dollars.",
    f"{_EVENTS}: chargedCents / 100, by userEmail",
    per_user=True,
)

USER_CYCLE_CHARGED_USD = Family(
    "cursor_user_cycle_charged_usd",
    "gauge",
    ("user",),
    "Money charged per user in the current billing cycle in US dollars; exact.",
    f"{_EVENTS}: chargedCents / 100 since subscriptionCycleStart, by userEmail",
    per_user=True,
)

TEAM_FAMILIES = LedgerFamilies(
    events=USAGE_EVENTS,
    tokens=USAGE_TOKENS,
    charged=USAGE_CHARGED_USD,
    token_fee=USAGE_TOKEN_FEE_USD,
    request_units=USAGE_REQUEST_UNITS,
    revised=USAGE_CHARGED_REVISED_DOWN_USD,
    period=USAGE_CYCLE_CHARGED_USD,
    user_charged=USER_CHARGED_USD,
    user_period=USER_CYCLE_CHARGED_USD,
    user_events=USER_USAGE_EVENTS,
    user_tokens=USER_TOKENS,
)


class UsageSource(LedgerSource):
    """Every due window of the team's events, oldest first, each replacing its hours in the ledger."""

    name = "usage"
    order = 10
    help = "Usage events: tokens, charged spend, cycle spend."
    interval_s = 600.0
    min_interval = (60.0, "Cursor rolls usage up hourly")
    endpoints = (TEAM_EVENTS,)
    needs = ("spend",)
    follows = ("spend",)  # a new billing cycle: the new cycle's sums are synced and rendered at once
    ledger_families = TEAM_FAMILIES
    families = TEAM_FAMILIES.all

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        self.ledger = Ledger(context.store)
        self.cap = context.shared.cap
        context.shared.on_cycle_start(self.ledger.set_cycle_start)  # a rollover shows at spend's sync
        self.synced_start_ms = self.ledger.cycle_start_ms
        self.scanner = WindowScanner(context.client, TEAM_EVENTS, counts=context.scans)

    @property
    def restored(self) -> bool:
        return self.ledger.has_data

    def fetch(self) -> None:
        self.ledger.set_cycle_start(self.context.shared.require_cycle_start(self.name))
        sync_windows(self, self.scanner)
