"""Typed, tolerant models of Cursor API records: the base every record model builds on, and the
usage-event models the ledger stores. A record only one source reads is declared in that source's
module, from the base here.

Parsing happens once, at the edge. Unknown fields are ignored, numbers may arrive as strings,
ids as ints or ``user_…`` strings, and money is kept as :class:`~decimal.Decimal` parsed straight from
the JSON text, so fractional cents are never rounded through binary floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cursor_exporter.money import ZERO

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


def parse_many(model: type[Record], rows: Any) -> tuple[list, list[ValidationError]]:
    """Parse every row it can; return the parsed rows and the errors of the rest."""
    parsed, errors = [], []
    for row in rows if isinstance(rows, list) else []:
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as error:
            errors.append(error)
    return parsed, errors
