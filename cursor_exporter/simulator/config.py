"""Configuration of the simulated Cursor team and API behaviour."""

from __future__ import annotations

from dataclasses import dataclass

# Beyond failures, answers that are not the truth: on an events route "empty" serves a well-formed empty
# page, "short" a self-consistent page missing its second half, "envelope" a bare {} and "redirect" a 302
# (to another host) whose body is an empty page.
MISANSWER_KINDS = frozenset({"empty", "short", "envelope", "redirect"})
FAULT_KINDS = frozenset({"500", "502", "503", "504", "429", "timeout", "truncate"}) | MISANSWER_KINDS


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes the simulated team and how the fake API behaves.

    Knobs whose real behaviour is unknown (reference §11 "keep configurable")
    are options here; defaults follow the reference's best reading.
    """

    seed: int = 42
    users: int = 25
    api_key: str = "crsr_test_key"
    org_api_key: str | None = None
    accept_bearer: bool = False
    enterprise: bool = False

    # Organization API (served only when ``org_api_key`` is set). The org is the teams in
    # ``org_team_ids``: the first is the simulator's own team, each other one a synthetic team
    # of ``org_team_users`` (default ``users``) seeded from ``seed`` and its team id.
    organization_id: str = "org_abc123"
    org_team_ids: tuple[int, ...] = (7, 8)
    org_team_users: int | None = None
    org_pool_limit_cents: int = 5_000_000
    org_contract_start_days_ago: int | None = None  # default: cycle_start_days_ago
    # [guess] the pool may come without contract dates: then its period is the team's billing cycle.
    org_contract_dates: bool = True

    cycle_start_days_ago: int = 10
    # Subscriptions are anchored at the moment they were bought: the first cycle (and, by default, the
    # contract) starts this many ms after midnight UTC; every later cycle at the same instant of the day.
    cycle_start_offset_ms: int = 0
    # Events pinned around every cycle and contract start: two in the millisecond before, two in the very
    # millisecond of the start, one just after (usage-based, so each carries money).
    boundary_events: bool = False
    events_per_user_per_day: float = 40.0
    audit_events_per_day: float = 8.0  # mean non-roster audit-log events per weekday (0: roster events only)
    audit_logs_enterprise_only: bool = False  # [guess] audit logs work on both plans; True: 403 without Enterprise

    rate_limits: bool = True
    rate_limit_period_s: float = 60.0
    rate_limit_scale: float = 1.0
    rate_limit_body: str = "code"  # "code" or "error": the two documented 429 bodies

    late_arrivals: bool = True
    revisions: bool = True
    retention_days: int | None = None

    user_id_style: str = "string"  # members/spend ids: "string" (user_…), "int", or "absent"
    daily_user_id_style: str = "int"  # daily-usage userId: "int" (team docs) or "string"
    legacy_2025: bool = False

    events_max_range_days: int | None = 30  # None lifts the (undocumented) cap
    oversize_page_size: str = "reject"  # "reject" (400) or "clamp" to 1000
    string_date_status: int = 500  # observed 500; 400 is the other plausible answer
    timeout_fault_s: float = 30.0

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("users must be >= 1")
        if self.user_id_style not in {"string", "int", "absent"}:
            raise ValueError("user_id_style must be 'string', 'int' or 'absent'")
        if self.daily_user_id_style not in {"string", "int"}:
            raise ValueError("daily_user_id_style must be 'string' or 'int'")
        if self.rate_limit_body not in {"code", "error"}:
            raise ValueError("rate_limit_body must be 'code' or 'error'")
        if self.oversize_page_size not in {"reject", "clamp"}:
            raise ValueError("oversize_page_size must be 'reject' or 'clamp'")
        if self.string_date_status not in {400, 500}:
            raise ValueError("string_date_status must be 400 or 500")
        if not self.org_team_ids or len(set(self.org_team_ids)) != len(self.org_team_ids):
            raise ValueError("org_team_ids must be non-empty and unique")
        if self.org_team_users is not None and self.org_team_users < 1:
            raise ValueError("org_team_users must be >= 1")
        if not 0 <= self.cycle_start_offset_ms < 86_400_000:
            raise ValueError("cycle_start_offset_ms must be within a day: 0 <= offset < 86400000")
        if self.audit_events_per_day < 0:
            raise ValueError("audit_events_per_day must be >= 0")
        if self.rate_limit_period_s <= 0 or self.rate_limit_scale <= 0:
            raise ValueError("rate limit period and scale must be positive")
