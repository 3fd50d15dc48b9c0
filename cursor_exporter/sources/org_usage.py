"""Source ``org_usage`` (Enterprise, organization key): /organizations/filtered-usage-events, every
team's usage events in the organization ledger, with a ``team`` label.

The organization ledger's period is the pool's contract, so its sums per team reconcile with
``teams[].usedCents``. A reply without contract dates keeps the last known contract start; with none
ever known the period falls back to the team's billing cycle. The organization's families repeat the
organization key's own team beside its team-key families.
"""

from __future__ import annotations

from cursor_exporter.api.client import ApiError
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.ledger.scan import WindowScanner
from cursor_exporter.ledger.usage import Ledger
from cursor_exporter.sources.base import SourceContext, UserCap
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.org_pool import ORGANIZATION_FEATURE, POOLED_USAGE, PooledUsage, fetch_pool
from cursor_exporter.sources.usage_ledger import USAGE_LABELS, LedgerFamilies, LedgerSource, sync_windows

ORG_EVENTS = Endpoint("POST", "/organizations/filtered-usage-events", per_minute=60)
_ORG_EVENTS = ORG_EVENTS.path
ORG_USAGE_LABELS = ("team", *USAGE_LABELS)
CONTRACT_START = "contract_start_ms"  # state key of the last contract start the pool reported
# A first backfill reaches back to the contract start, possibly months: it advances at most this many
# hours (in windows of a day or less) per sync, the newest always among them, so the other sources get
# their turn between.
ORG_HOURS_PER_SYNC = 7 * 24

ORG_USAGE_EVENTS = Family(
    "cursor_org_usage_events_total",
    "counter",
    ORG_USAGE_LABELS,
    "Usage events of each team of the organization (team = Cursor team id); cloud-agent and "
    "automation events count as headless.",
    f"{_ORG_EVENTS}: by teamId",
)

ORG_USAGE_TOKENS = Family(
    "cursor_org_usage_tokens_total",
    "counter",
    (*ORG_USAGE_LABELS, "token_type"),
    "Tokens used by each team of the organization, by token type.",
    f"{_ORG_EVENTS}: tokenUsage.inputTokens/outputTokens/cacheWriteTokens/cacheReadTokens, by teamId",
)

ORG_USAGE_CHARGED_USD = Family(
    "cursor_org_usage_charged_usd_total",
    "counter",
    ORG_USAGE_LABELS,
    "Money charged for each team's usage in US dollars, counted from the pool's contract start.",
    f"{_ORG_EVENTS}: chargedCents / 100, by teamId",
)

ORG_USAGE_TOKEN_FEE_USD = Family(
    "cursor_org_usage_token_fee_usd_total",
    "counter",
    ORG_USAGE_LABELS,
    "Cursor token fee of each team in US dollars; already included in cursor_org_usage_charged_usd_total.",
    f"{_ORG_EVENTS}: cursorTokenFee / 100, by teamId",
)

ORG_USAGE_REQUEST_UNITS = Family(
    "cursor_org_usage_request_units_total",
    "counter",
    ORG_USAGE_LABELS,
    "Request units of legacy request-based pricing per team; a count of units, not money.",
    f"{_ORG_EVENTS}: requestsCosts, by teamId",
)

ORG_USAGE_CHARGED_REVISED_DOWN_USD = Family(
    "cursor_org_usage_charged_revised_down_usd",
    "gauge",
    ORG_USAGE_LABELS,
    "Charged money each team's counter holds above Cursor's current figure (downward revisions).",
    f"{_ORG_EVENTS}: hourly peak minus current chargedCents / 100",
)

ORG_USAGE_CONTRACT_CHARGED_USD = Family(
    "cursor_org_usage_contract_charged_usd",
    "gauge",
    ORG_USAGE_LABELS,
    "Money charged per team since the pool's contract start in US dollars; exact. Per team it "
    "reconciles with cursor_org_team_used_usd.",
    f"{_ORG_EVENTS}: chargedCents / 100",
)

ORG_USER_CHARGED_USD = Family(
    "cursor_org_user_charged_usd_total",
    "counter",
    ("team", "user"),
    "Money charged per user of each team of the organization in US dollars.",
    f"{_ORG_EVENTS}: chargedCents / 100, by teamId and userEmail",
    per_user=True,
)

ORG_USER_CONTRACT_CHARGED_USD = Family(
    "cursor_org_user_contract_charged_usd",
    "gauge",
    ("team", "user"),
    "Money charged per user of each team since the pool's contract start in US dollars; exact.",
    f"{_ORG_EVENTS}: chargedCents / 100 by user",
    per_user=True,
)

ORG_FAMILIES = LedgerFamilies(
    events=ORG_USAGE_EVENTS,
    tokens=ORG_USAGE_TOKENS,
    charged=ORG_USAGE_CHARGED_USD,
    token_fee=ORG_USAGE_TOKEN_FEE_USD,
    request_units=ORG_USAGE_REQUEST_UNITS,
    revised=ORG_USAGE_CHARGED_REVISED_DOWN_USD,
    period=ORG_USAGE_CONTRACT_CHARGED_USD,
    user_charged=ORG_USER_CHARGED_USD,
    user_period=ORG_USER_CONTRACT_CHARGED_USD,
    by_team=True,
)


class OrgUsageSource(LedgerSource):
    """Due windows of the organization's events into the organization ledger, a week per sync at most."""

    name = "org_usage"
    order = 70
    help = (
        "/organizations/filtered-usage-events, when an organization key is set: every team's spend "
        "and tokens with a `team` label."
    )
    interval_s = 600.0
    endpoints = (POOLED_USAGE, ORG_EVENTS)
    feature = ORGANIZATION_FEATURE
    hidden_when_unavailable = False  # the last pool and the ledger stay true through a 403
    needs = ("spend",)
    organization = True
    ledger_families = ORG_FAMILIES
    families = ORG_FAMILIES.all

    _waiting_pool: PooledUsage | None = None

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        store = context.org_store
        self.ledger = Ledger(store, by_team=True) if store is not None else None
        self.cap = UserCap(store, context.options.top_users) if store is not None else None
        self.scanner = None
        if context.org_client is not None and context.options.org_id:
            scope = {"organizationId": context.options.org_id}
            self.scanner = WindowScanner(context.org_client, ORG_EVENTS, scope, counts=context.scans)

    def fetch(self) -> None:
        context = self.context
        if self.ledger is None or self.cap is None or self.scanner is None or context.org_store is None:
            raise ApiError(ORG_EVENTS.path, 0, "no organization key, id and storage configured")
        # Fresh dates every sync (a renewal moves the period), but once per sync: the answer of an attempt
        # that had to wait for the billing cycle serves the attempt after spend has synced.
        pool = self._waiting_pool or fetch_pool(context.org_client, context.options.org_id, context.clock_ms())
        self._waiting_pool = None
        if pool.contract_start_ms is not None:
            context.org_store.set_state(CONTRACT_START, str(pool.contract_start_ms))
        contract_start = context.org_store.get_state(CONTRACT_START)
        if contract_start is None and context.shared.cycle_start_ms is None:
            self._waiting_pool = pool
        period_start = int(contract_start) if contract_start else context.shared.require_cycle_start(self.name)
        self.ledger.set_cycle_start(period_start)
        sync_windows(self, self.scanner, ORG_HOURS_PER_SYNC)
