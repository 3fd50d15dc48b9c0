"""The immutable snapshot a sync produces and the collectors render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from cursor_exporter.activity import ActivityView
from cursor_exporter.aicode import AiCodeView
from cursor_exporter.client import GroupsReport, SpendReport
from cursor_exporter.ledger import UsageView
from cursor_exporter.records import Member, PooledUsage

_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class CollectorStatus:
    """How a collector's syncs have gone; ``success`` is None until its first sync ends."""

    name: str
    success: bool | None = None
    last_success_s: float | None = None
    last_attempt_s: float | None = None
    last_error: str | None = None
    last_duration_s: float | None = None
    last_api_requests: int | None = None
    next_run_s: float | None = None


@dataclass(frozen=True)
class BillingSettings:
    """Prices and budgets from the configuration (US dollars)."""

    seat_price_usd: Decimal | None = None
    team_budget_usd: Decimal | None = None
    user_default_budget_usd: Decimal | None = None
    group_budgets_usd: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class Snapshot:
    """Everything one exposition shows. Built after every sync; never mutated."""

    version: str
    as_of_ms: int = 0  # the instant the data describes: the end of the last usage window
    usage: UsageView | None = None
    spend: SpendReport | None = None
    members: tuple[Member, ...] | None = None
    groups: GroupsReport | None = None
    activity: ActivityView | None = None
    ai_code: AiCodeView | None = None
    org_pool: PooledUsage | None = None
    org_usage: UsageView | None = None  # the organization ledger: every team's events, ``team`` in the key
    features: Mapping[str, bool] = field(default_factory=lambda: _EMPTY)
    billing: BillingSettings = field(default_factory=BillingSettings)
    user_mapping: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _EMPTY)
    collectors: tuple[CollectorStatus, ...] = ()
    api_requests: Mapping[tuple[str, str], int] = field(default_factory=lambda: _EMPTY)
    rate_limit_waits: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    malformed_records: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    top_users: int = 0  # the --metrics.top-users cap; 0: none
    tracked_users: frozenset[str] | None = None  # the users the cap picked; None: no cap
    org_tracked_users: frozenset[str] | None = None  # the same, over the organization's users
    windows_fetched: int = 0
    windows_inconsistent: int = 0
