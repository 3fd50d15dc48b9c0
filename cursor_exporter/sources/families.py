"""Every metric family the exporter serves: the one source of truth for names, types, labels and help.

Collectors build their families from these definitions, and ``docs/metrics.md`` is generated from
them (``python -m cursor_exporter.docs``); a test fails when the committed doc drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

POLLING_NOTE = "Refreshed by polling the Cursor Admin API on the exporter's schedule, not at scrape time."
USAGE_LABELS = ("model", "kind", "max_mode", "source")
ORG_USAGE_LABELS = ("team", *USAGE_LABELS)
TOKEN_TYPES = ("input", "output", "cache_write", "cache_read")

# The OTLP mapping. An OTLP name is the Prometheus name without ``_total`` and its unit suffix, with
# dots after ``cursor`` and the group: ``cursor_usage_charged_usd_total`` is ``cursor.usage.charged``.
# Units are UCUM-style: from the unit suffix, else from the counted noun (the name's last word).
OTLP_UNIT_SUFFIXES = {"_usd": "USD", "_seconds": "s"}
OTLP_COUNT_UNITS = {
    "events": "{event}",
    "tokens": "{token}",
    "units": "{request}",
    "requests": "{request}",
    "members": "{member}",
    "seats": "{seat}",
    "records": "{record}",
}
# OpenTelemetry's GenAI attribute keys where they mean the same (those conventions are still in
# development); every other label becomes ``cursor.<label>``.
OTLP_ATTRIBUTES = {"model": "gen_ai.request.model", "token_type": "gen_ai.token.type"}


@dataclass(frozen=True)
class Family:
    """One metric family: its contract with users."""

    name: str
    type: Literal["counter", "gauge"]
    labels: tuple[str, ...]
    meaning: str
    source: str
    collector: str
    per_user: bool = False

    @property
    def help(self) -> str:
        """HELP text: what it means, where it comes from, and that it is polled."""
        return f"{self.meaning} Source: {self.source}. {POLLING_NOTE}"

    @property
    def otlp_name(self) -> str:
        """The OTLP metric name, e.g. ``cursor.usage.charged``."""
        base = self.name.removesuffix("_total")
        for suffix in OTLP_UNIT_SUFFIXES:
            base = base.removesuffix(suffix)
        group, _, rest = base.removeprefix("cursor_").partition("_")
        return f"cursor.{group}.{rest}" if rest else f"cursor.{group}"

    @property
    def otlp_unit(self) -> str:
        """The UCUM-style OTLP unit: ``USD``, ``s``, a ``{noun}`` of a count, or ``1``."""
        base = self.name.removesuffix("_total")
        for suffix, unit in OTLP_UNIT_SUFFIXES.items():
            if base.endswith(suffix):
                return unit
        return OTLP_COUNT_UNITS.get(base.rpartition("_")[2], "1")

    @property
    def otlp_attributes(self) -> tuple[str, ...]:
        """The OTLP attribute key of each label, in label order."""
        return tuple(OTLP_ATTRIBUTES.get(label, f"cursor.{label}") for label in self.labels)

    def new(self) -> Metric:
        """An empty prometheus_client family for this definition."""
        if self.type == "counter":
            return CounterMetricFamily(self.name.removesuffix("_total"), self.help, labels=self.labels)
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


def dollars(cents: Decimal) -> float:
    """Exact cents to the nearest float of dollars: one rounding, at the very end."""
    return float(cents / 100)


_EVENTS = "/teams/filtered-usage-events"
_ORG_EVENTS = "/organizations/filtered-usage-events"

FAMILIES: tuple[Family, ...] = (
    # Usage events, team level.
    Family(
        "cursor_usage_events_total",
        "counter",
        USAGE_LABELS,
        "Usage events (requests) recorded by Cursor.",
        f"{_EVENTS}: one per event",
        "usage",
    ),
    Family(
        "cursor_usage_tokens_total",
        "counter",
        (*USAGE_LABELS, "token_type"),
        "Tokens used, by token type (input, output, cache_write, cache_read); request-based events add none.",
        f"{_EVENTS}: tokenUsage.inputTokens/outputTokens/cacheWriteTokens/cacheReadTokens",
        "usage",
    ),
    Family(
        "cursor_usage_charged_usd_total",
        "counter",
        USAGE_LABELS,
        "Money charged for usage in US dollars: model cost after discount plus Cursor's token fee.",
        f"{_EVENTS}: chargedCents / 100",
        "usage",
    ),
    Family(
        "cursor_usage_token_fee_usd_total",
        "counter",
        USAGE_LABELS,
        "Cursor token fee in US dollars; already included in cursor_usage_charged_usd_total.",
        f"{_EVENTS}: cursorTokenFee / 100",
        "usage",
    ),
    Family(
        "cursor_usage_request_units_total",
        "counter",
        USAGE_LABELS,
        "Request units of legacy request-based pricing; a count of units, not money.",
        f"{_EVENTS}: requestsCosts",
        "usage",
    ),
    Family(
        "cursor_usage_charged_revised_down_usd_total",
        "counter",
        USAGE_LABELS,
        "Downward revisions of charged money that counters cannot follow; "
        "cursor_usage_charged_usd_total minus this is Cursor's current figure.",
        f"{_EVENTS}: decreases of chargedCents / 100 between re-fetches of a window",
        "usage",
    ),
    Family(
        "cursor_usage_cycle_charged_usd",
        "gauge",
        USAGE_LABELS,
        "Money charged in the current billing cycle in US dollars; exact, follows revisions up and down.",
        f"{_EVENTS}: chargedCents / 100 since subscriptionCycleStart",
        "usage",
    ),
    # Usage events, per user.
    Family(
        "cursor_user_usage_events_total",
        "counter",
        ("user",),
        "Usage events per user.",
        f"{_EVENTS}: one per event, by userEmail",
        "usage",
        per_user=True,
    ),
    Family(
        "cursor_user_tokens_total",
        "counter",
        ("user", "token_type"),
        "Tokens used per user, by token type.",
        f"{_EVENTS}: tokenUsage, by userEmail",
        "usage",
        per_user=True,
    ),
    Family(
        "cursor_user_charged_usd_total",
        "counter",
        ("user",),
        "Money charged per user in US dollars.",
        f"{_EVENTS}: chargedCents / 100, by userEmail",
        "usage",
        per_user=True,
    ),
    Family(
        "cursor_user_cycle_charged_usd",
        "gauge",
        ("user",),
        "Money charged per user in the current billing cycle in US dollars; exact.",
        f"{_EVENTS}: chargedCents / 100 since subscriptionCycleStart, by userEmail",
        "usage",
        per_user=True,
    ),
    # /teams/spend.
    Family(
        "cursor_billing_cycle_start_timestamp_seconds",
        "gauge",
        (),
        "Start of the current billing cycle, Unix seconds.",
        "/teams/spend: subscriptionCycleStart / 1000",
        "spend",
    ),
    Family(
        "cursor_team_spend_usd",
        "gauge",
        (),
        "On-demand spend of the whole team in the current cycle in US dollars, as Cursor reports it.",
        "/teams/spend: sum of spendCents / 100",
        "spend",
    ),
    Family(
        "cursor_team_overall_spend_usd",
        "gauge",
        (),
        "On-demand plus included spend of the whole team in the current cycle in US dollars.",
        "/teams/spend: sum of overallSpendCents / 100",
        "spend",
    ),
    Family(
        "cursor_user_spend_usd",
        "gauge",
        ("user",),
        "On-demand spend per user in the current cycle in US dollars.",
        "/teams/spend: spendCents / 100",
        "spend",
        per_user=True,
    ),
    Family(
        "cursor_user_overall_spend_usd",
        "gauge",
        ("user",),
        "On-demand plus included spend per user in the current cycle in US dollars.",
        "/teams/spend: overallSpendCents / 100",
        "spend",
        per_user=True,
    ),
    Family(
        "cursor_user_spend_limit_usd",
        "gauge",
        ("user",),
        "Spend limit Cursor enforces for the user in US dollars; absent when none is reported.",
        "/teams/spend: effectivePerUserLimitDollars",
        "spend",
        per_user=True,
    ),
    # /teams/members.
    Family(
        "cursor_team_members",
        "gauge",
        ("role",),
        "Current team members by role; removed members are not counted.",
        "/teams/members: rows with isRemoved false, by role",
        "members",
    ),
    Family(
        "cursor_team_removed_members",
        "gauge",
        (),
        "Members listed as removed; they hold no seat.",
        "/teams/members: rows with isRemoved true",
        "members",
    ),
    # Daily activity.
    Family(
        "cursor_activity_active_users",
        "gauge",
        ("window",),
        "Distinct users active in the last 1, 7 or 28 days (window 1d, 7d, 28d), "
        "counted back from the newest day fetched.",
        "/teams/daily-usage-data: isActive rows by day",
        "activity",
    ),
    Family(
        "cursor_activity_cycle_lines",
        "gauge",
        ("change", "scope"),
        "Lines changed in the editor this billing cycle: change added or deleted, "
        "scope total (every edit, AI or not) or accepted (accepted AI suggestions).",
        "/teams/daily-usage-data: totalLinesAdded/Deleted, acceptedLinesAdded/Deleted",
        "activity",
    ),
    Family(
        "cursor_activity_cycle_edits",
        "gauge",
        ("action",),
        "AI edit outcomes this billing cycle: action apply, accept or reject.",
        "/teams/daily-usage-data: totalApplies, totalAccepts, totalRejects",
        "activity",
    ),
    Family(
        "cursor_activity_cycle_tabs",
        "gauge",
        ("action",),
        "Tab completions this billing cycle: action shown or accepted.",
        "/teams/daily-usage-data: totalTabsShown, totalTabsAccepted",
        "activity",
    ),
    Family(
        "cursor_activity_cycle_requests",
        "gauge",
        ("feature",),
        "Requests this billing cycle by feature: composer, chat, agent, cmdk or bugbot.",
        "/teams/daily-usage-data: composerRequests, chatRequests, agentRequests, cmdkUsages, bugbotUsages",
        "activity",
    ),
    Family(
        "cursor_activity_cycle_requests_by_billing",
        "gauge",
        ("billing",),
        "Requests this billing cycle by how they were billed: included, api_key or usage_based "
        "(raw counts, not billable units).",
        "/teams/daily-usage-data: subscriptionIncludedReqs, apiKeyReqs, usageBasedReqs",
        "activity",
    ),
    Family(
        "cursor_activity_users_by_client_version",
        "gauge",
        ("version",),
        "Users active in the last 7 days by the Cursor version of their latest active day.",
        "/teams/daily-usage-data: clientVersion",
        "activity",
    ),
    Family(
        "cursor_activity_users_by_model",
        "gauge",
        ("model",),
        "Users active in the last 7 days by the most-used model of their latest active day.",
        "/teams/daily-usage-data: mostUsedModel",
        "activity",
    ),
    Family(
        "cursor_user_activity_cycle_accepted_lines",
        "gauge",
        ("user",),
        "Accepted AI lines (added) per user this billing cycle; opt-in with --metrics.per-user-activity.",
        "/teams/daily-usage-data: acceptedLinesAdded",
        "activity",
        per_user=True,
    ),
    Family(
        "cursor_user_activity_cycle_requests",
        "gauge",
        ("user",),
        "Requests per user this billing cycle (composer, chat, agent, cmdk, bugbot); opt-in.",
        "/teams/daily-usage-data: the five request counters",
        "activity",
        per_user=True,
    ),
    Family(
        "cursor_user_activity_cycle_tabs_accepted",
        "gauge",
        ("user",),
        "Tab completions accepted per user this billing cycle; opt-in.",
        "/teams/daily-usage-data: totalTabsAccepted",
        "activity",
        per_user=True,
    ),
    # AI code tracking (Enterprise, alpha).
    Family(
        "cursor_ai_code_cycle_commits",
        "gauge",
        ("repo", "source"),
        "Commits tracked this billing cycle per repository (repo unknown when Cursor reports none) "
        "and source (ide, cli, cloud).",
        "/analytics/ai-code/commits: one per item, by repoName and commitSource",
        "ai_code",
    ),
    Family(
        "cursor_ai_code_cycle_lines",
        "gauge",
        ("repo", "source", "origin", "change"),
        "Committed lines this billing cycle per repository and source: origin ai (Tab + Composer) or "
        "non_ai, change added or deleted.",
        "/analytics/ai-code/commits: tabLines*, composerLines*, nonAiLines*",
        "ai_code",
    ),
    Family(
        "cursor_repo_cycle_charged_usd",
        "gauge",
        ("repo",),
        "Cycle charged money in US dollars attributed to a repository: each user's cycle charge spread "
        "by that user's AI lines added per repository; repo __unattributed__ holds the rest.",
        "/analytics/ai-code/commits and /teams/filtered-usage-events; method in cursor_exporter/aicode.py",
        "ai_code",
    ),
    # Organization pooled usage (organization key).
    Family(
        "cursor_org_pool_limit_usd",
        "gauge",
        (),
        "The organization's pooled usage limit for the contract in US dollars.",
        "/organizations/pooled-usage: pool.limitCents / 100",
        "org",
    ),
    Family(
        "cursor_org_pool_used_usd",
        "gauge",
        (),
        "Pooled usage used so far in the contract in US dollars.",
        "/organizations/pooled-usage: pool.usedCents / 100",
        "org",
    ),
    Family(
        "cursor_org_pool_remaining_usd",
        "gauge",
        (),
        "Pooled usage remaining in the contract in US dollars.",
        "/organizations/pooled-usage: pool.remainingCents / 100",
        "org",
    ),
    Family(
        "cursor_org_team_used_usd",
        "gauge",
        ("team",),
        "Pooled usage used by each team of the organization in US dollars (team = Cursor team id).",
        "/organizations/pooled-usage: teams[].usedCents / 100",
        "org",
    ),
    Family(
        "cursor_org_team_budget_usd",
        "gauge",
        ("team",),
        "Budget limit of a team within the pool in US dollars; absent when none is set.",
        "/organizations/pooled-usage: teams[].budgetLimitCents / 100",
        "org",
    ),
    # Organization usage events: every team of the organization, through the organization key.
    Family(
        "cursor_org_usage_events_total",
        "counter",
        ORG_USAGE_LABELS,
        "Usage events of each team of the organization (team = Cursor team id). Organization events "
        "carry no cloud-agent or automation id, so those count as source=headless here.",
        f"{_ORG_EVENTS}: one per event, by teamId",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_tokens_total",
        "counter",
        (*ORG_USAGE_LABELS, "token_type"),
        "Tokens used by each team of the organization, by token type.",
        f"{_ORG_EVENTS}: tokenUsage.inputTokens/outputTokens/cacheWriteTokens/cacheReadTokens, by teamId",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_charged_usd_total",
        "counter",
        ORG_USAGE_LABELS,
        "Money charged for each team's usage in US dollars, counted from the pool's contract start.",
        f"{_ORG_EVENTS}: chargedCents / 100, by teamId",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_token_fee_usd_total",
        "counter",
        ORG_USAGE_LABELS,
        "Cursor token fee of each team in US dollars; already included in cursor_org_usage_charged_usd_total.",
        f"{_ORG_EVENTS}: cursorTokenFee / 100, by teamId",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_request_units_total",
        "counter",
        ORG_USAGE_LABELS,
        "Request units of legacy request-based pricing per team; a count of units, not money.",
        f"{_ORG_EVENTS}: requestsCosts, by teamId",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_charged_revised_down_usd_total",
        "counter",
        ORG_USAGE_LABELS,
        "Downward revisions of each team's charged money that counters cannot follow.",
        f"{_ORG_EVENTS}: decreases of chargedCents / 100 between re-fetches of a window",
        "org_usage",
    ),
    Family(
        "cursor_org_usage_contract_charged_usd",
        "gauge",
        ORG_USAGE_LABELS,
        "Money charged per team since the pool's contract start in US dollars; exact, follows revisions. "
        "Summed by team it reconciles with cursor_org_team_used_usd.",
        f"{_ORG_EVENTS}: chargedCents / 100 since pool.contractStartDate",
        "org_usage",
    ),
    Family(
        "cursor_org_user_charged_usd_total",
        "counter",
        ("team", "user"),
        "Money charged per user of each team of the organization in US dollars.",
        f"{_ORG_EVENTS}: chargedCents / 100, by teamId and userEmail",
        "org_usage",
        per_user=True,
    ),
    Family(
        "cursor_org_user_contract_charged_usd",
        "gauge",
        ("team", "user"),
        "Money charged per user of each team since the pool's contract start in US dollars; exact.",
        f"{_ORG_EVENTS}: chargedCents / 100 since pool.contractStartDate, by teamId and userEmail",
        "org_usage",
        per_user=True,
    ),
    # Seats, cost, budgets and forecast.
    Family(
        "cursor_team_paid_seats",
        "gauge",
        (),
        "Paid seats: current members except free-owner admins.",
        "/teams/members: role, isRemoved",
        "cost",
    ),
    Family(
        "cursor_cycle_cost_usd",
        "gauge",
        ("component",),
        "Cost of the current billing cycle in US dollars: component seats (paid seats x --billing.seat-price-usd) "
        "and usage (on-demand charged money, kind Usage-based); their sum is the cycle's total cost.",
        "/teams/members and /teams/filtered-usage-events",
        "cost",
    ),
    Family(
        "cursor_billing_cycle_end_timestamp_seconds",
        "gauge",
        (),
        "End of the current billing cycle, Unix seconds: Cursor's own figure when billing groups are "
        "available, else one calendar month after the start.",
        "/teams/groups billingCycle.cycleEnd, or /teams/spend subscriptionCycleStart + 1 month",
        "cost",
    ),
    Family(
        "cursor_forecast_cycle_charged_usd",
        "gauge",
        ("charge",),
        "Forecast of the money charged by the end of the cycle in US dollars, for charge all or on_demand: "
        "charged so far plus the trailing 7-day hourly rate times the hours left (see docs/forecast.md).",
        "the ledger of /teams/filtered-usage-events",
        "cost",
    ),
    Family(
        "cursor_budget_usd",
        "gauge",
        ("scope", "name"),
        "Configured budget per billing cycle in US dollars; scope team, group or user_default.",
        "the exporter's configuration (--budget.*)",
        "cost",
    ),
    # Billing groups (Enterprise).
    Family(
        "cursor_group_cycle_spend_usd",
        "gauge",
        ("group",),
        "On-demand spend of a billing group in the current cycle in US dollars.",
        "/teams/groups: spendCents / 100",
        "groups",
    ),
    Family(
        "cursor_group_members",
        "gauge",
        ("group",),
        "Current members of a billing group.",
        "/teams/groups: memberCount",
        "groups",
    ),
    Family(
        "cursor_user_group_info",
        "gauge",
        ("user", "group"),
        "Always 1: the user's billing group, for joins with any per-user family "
        "(`* on (user) group_left(group) cursor_user_group_info`).",
        "/teams/groups: currentMembers",
        "groups",
        per_user=True,
    ),
    Family(
        "cursor_user_info",
        "gauge",
        ("user",),
        "Always 1, labelled with the columns of --metrics.user-mapping-file (team, cost center, ...) "
        "for joins with any per-user family; the extra label names are the file's columns.",
        "the user mapping file",
        "mapping",
        per_user=True,
    ),
    # The exporter itself.
    Family(
        "cursor_exporter_collector_success",
        "gauge",
        ("collector",),
        "1 if the collector's last sync succeeded, 0 if it failed.",
        "the exporter's sync loop",
        "exporter",
    ),
    Family(
        "cursor_exporter_last_success_timestamp_seconds",
        "gauge",
        ("collector",),
        "When the collector last synced successfully, Unix seconds.",
        "the exporter's sync loop",
        "exporter",
    ),
    Family(
        "cursor_exporter_last_sync_duration_seconds",
        "gauge",
        ("collector",),
        "How long the collector's last sync took, rate-limit waits included.",
        "the exporter's sync loop",
        "exporter",
    ),
    Family(
        "cursor_exporter_last_sync_api_requests",
        "gauge",
        ("collector",),
        "API requests the collector's last sync made (retries included).",
        "the exporter's API client",
        "exporter",
    ),
    Family(
        "cursor_exporter_api_requests_total",
        "counter",
        ("endpoint", "code"),
        "Requests sent to the Cursor API by endpoint and outcome (HTTP status, timeout or network).",
        "the exporter's API client",
        "exporter",
    ),
    Family(
        "cursor_exporter_rate_limit_wait_seconds_total",
        "counter",
        ("endpoint",),
        "Time spent waiting for the client-side rate limiter or a server Retry-After.",
        "the exporter's API client",
        "exporter",
    ),
    Family(
        "cursor_exporter_malformed_records_total",
        "counter",
        ("endpoint",),
        "API records that could not be parsed; they are missing from every other family.",
        "the exporter's API client",
        "exporter",
    ),
    Family(
        "cursor_exporter_usage_windows_fetched_total",
        "counter",
        (),
        "Usage windows fetched and stored (first fetches and re-fetches), of the team's and the organization's events.",
        "the exporter's usage sync",
        "exporter",
    ),
    Family(
        "cursor_exporter_usage_windows_inconsistent_total",
        "counter",
        (),
        "Usage window scans whose pages disagreed with totalUsageEventsCount; the window was re-fetched.",
        "the exporter's usage sync",
        "exporter",
    ),
    Family(
        "cursor_exporter_feature_available",
        "gauge",
        ("feature",),
        "1 if the plan and key give access to the feature, 0 after a 403 (re-checked hourly).",
        "the exporter's sync loop",
        "exporter",
    ),
    Family(
        "cursor_exporter_build_info",
        "gauge",
        ("version",),
        "Always 1; the exporter's version.",
        "the exporter",
        "exporter",
    ),
)

BY_NAME = {family.name: family for family in FAMILIES}
