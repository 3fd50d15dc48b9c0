"""Typed, tolerant models of the Cursor API records the exporter reads.

Parsing happens once, here, at the edge. Unknown fields are ignored, numbers may arrive as strings,
ids as ints or ``user_…`` strings, and money is kept as :class:`~decimal.Decimal` parsed straight from
the JSON text, so fractional cents are never rounded through binary floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _opaque_id(value: Any) -> str | None:
    return None if value is None else str(value)


def _lower_email(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def iso_ms(value: Any) -> int | None:
    """Epoch ms of an ISO 8601 timestamp, UTC when it names no zone (epoch-ms numbers are tolerated);
    None when unusable."""
    if isinstance(value, int | Decimal):
        return int(value)
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - EPOCH) // timedelta(milliseconds=1)


OpaqueId = Annotated[str | None, BeforeValidator(_opaque_id)]
Email = Annotated[str, BeforeValidator(_lower_email)]


class Record(BaseModel):
    """Base of every API record: unknown fields ignored, immutable, populated by alias or name."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TokenUsage(Record):
    """``tokenUsage`` of a token-based usage event."""

    input_tokens: int = Field(0, alias="inputTokens")
    output_tokens: int = Field(0, alias="outputTokens")
    cache_write_tokens: int = Field(0, alias="cacheWriteTokens")
    cache_read_tokens: int = Field(0, alias="cacheReadTokens")
    total_cents: Decimal = Field(ZERO, alias="totalCents")
    discount_percent_off: Decimal = Field(ZERO, alias="discountPercentOff")


class UsageEvent(Record):
    """One row of ``usageEvents`` from /teams/filtered-usage-events."""

    timestamp: int
    user_email: Email = Field(alias="userEmail")
    model: str = "unknown"
    kind: str = "unknown"
    max_mode: bool = Field(False, alias="maxMode")
    requests_costs: Decimal = Field(ZERO, alias="requestsCosts")
    is_token_based_call: bool = Field(False, alias="isTokenBasedCall")
    is_chargeable: bool | None = Field(None, alias="isChargeable")
    is_headless: bool = Field(False, alias="isHeadless")
    charged_cents: Decimal | None = Field(None, alias="chargedCents")
    cursor_token_fee: Decimal | None = Field(None, alias="cursorTokenFee")
    token_usage: TokenUsage | None = Field(None, alias="tokenUsage")
    service_account_id: OpaqueId = Field(None, alias="serviceAccountId")
    cloud_agent_id: OpaqueId = Field(None, alias="cloudAgentId")
    automation_id: OpaqueId = Field(None, alias="automationId")
    team_id: OpaqueId = Field(None, alias="teamId")  # organization events only

    @property
    def charged(self) -> Decimal:
        """Charged cents; 2025-era events lack ``chargedCents`` and get the documented fallback."""
        if self.charged_cents is not None:
            return self.charged_cents
        fee = self.cursor_token_fee or ZERO
        if self.token_usage is None:
            return fee
        discount = self.token_usage.discount_percent_off
        return self.token_usage.total_cents * (1 - discount / 100) + fee

    @property
    def source(self) -> str:
        """Where the usage came from: service_account, cloud_agent, automation, headless or ide."""
        if self.service_account_id:
            return "service_account"
        if self.cloud_agent_id:
            return "cloud_agent"
        if self.automation_id:
            return "automation"
        return "headless" if self.is_headless else "ide"


class EventsPage(Record):
    """One page of /teams/filtered-usage-events, events already parsed and malformed ones counted."""

    total: int
    has_next_page: bool
    events: tuple[UsageEvent, ...]
    received: int
    malformed: int


class Member(Record):
    """One row of ``teamMembers`` from /teams/members."""

    id: OpaqueId = None
    name: str | None = None
    email: Email = ""
    role: str = "unknown"
    is_removed: bool = Field(False, alias="isRemoved")


class MemberSpend(Record):
    """One row of ``teamMemberSpend`` from /teams/spend."""

    user_id: OpaqueId = Field(None, alias="userId")
    email: Email = ""
    role: str | None = None
    spend_cents: Decimal = Field(ZERO, alias="spendCents")
    overall_spend_cents: Decimal | None = Field(None, alias="overallSpendCents")
    effective_limit_dollars: Decimal | None = Field(None, alias="effectivePerUserLimitDollars")


class GroupMember(Record):
    """A current member of a billing group."""

    email: Email = ""
    spend_cents: Decimal = Field(ZERO, alias="spendCents")


class BillingGroup(Record):
    """One billing group of /teams/groups (``unassignedGroup`` included)."""

    id: OpaqueId = None
    name: str = "unknown"
    member_count: int = Field(0, alias="memberCount")
    spend_cents: Decimal = Field(ZERO, alias="spendCents")
    current_members: tuple[GroupMember, ...] = Field((), alias="currentMembers")


class AiCommit(Record):
    """One commit of /analytics/ai-code/commits; null line counts count as 0, a null repo as ``unknown``."""

    user_email: Email = Field("", alias="userEmail")
    repo_name: str | None = Field(None, alias="repoName")
    commit_source: str | None = Field(None, alias="commitSource")
    tab_lines_added: int | None = Field(0, alias="tabLinesAdded")
    tab_lines_deleted: int | None = Field(0, alias="tabLinesDeleted")
    composer_lines_added: int | None = Field(0, alias="composerLinesAdded")
    composer_lines_deleted: int | None = Field(0, alias="composerLinesDeleted")
    non_ai_lines_added: int | None = Field(0, alias="nonAiLinesAdded")
    non_ai_lines_deleted: int | None = Field(0, alias="nonAiLinesDeleted")

    @property
    def repo(self) -> str:
        return self.repo_name or "unknown"

    @property
    def source(self) -> str:
        return (self.commit_source or "unknown").lower()

    @property
    def ai_lines(self) -> tuple[int, int]:
        """(added, deleted) by Tab and Composer (agent) together."""
        return (
            (self.tab_lines_added or 0) + (self.composer_lines_added or 0),
            (self.tab_lines_deleted or 0) + (self.composer_lines_deleted or 0),
        )

    @property
    def non_ai_lines(self) -> tuple[int, int]:
        """(added, deleted) typed by people."""
        return self.non_ai_lines_added or 0, self.non_ai_lines_deleted or 0


class PoolTeam(Record):
    """One team of an organization's pooled usage."""

    team_id: OpaqueId = Field(None, alias="teamId")
    used_cents: Decimal = Field(ZERO, alias="usedCents")
    budget_limit_cents: Decimal | None = Field(None, alias="budgetLimitCents")


class PooledUsage(Record):
    """/organizations/pooled-usage: the organization's pool and each team's share of it."""

    limit_cents: Decimal | None = None
    used_cents: Decimal = ZERO
    remaining_cents: Decimal | None = None
    contract_start_ms: int | None = None
    teams: tuple[PoolTeam, ...] = ()

    @classmethod
    def from_api(cls, body: dict) -> PooledUsage:
        """Flatten the ``pool`` object and parse the teams."""
        pool = body.get("pool") or {}
        return cls.model_validate(
            {
                "limit_cents": pool.get("limitCents"),
                "used_cents": pool.get("usedCents") or 0,
                "remaining_cents": pool.get("remainingCents"),
                "contract_start_ms": iso_ms(pool.get("contractStartDate")),
                "teams": body.get("teams") or [],
            }
        )


def parse_many(model: type[Record], rows: Any) -> tuple[list, list[ValidationError]]:
    """Parse every row it can; return the parsed rows and the errors of the rest."""
    parsed, errors = [], []
    for row in rows if isinstance(rows, list) else []:
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as error:
            errors.append(error)
    return parsed, errors
