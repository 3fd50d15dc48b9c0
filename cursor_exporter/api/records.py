"""Typed, strict-in-range models of Cursor API records: the base every record model builds on, the
bounded field types they share, and the usage-event models the ledger stores. A record only one source
reads is declared in that source's module, from the base here.

Parsing happens once, at the edge. Unknown fields are ignored, numbers may arrive as strings,
ids as ints or ``user_…`` strings, and money is kept as :class:`~decimal.Decimal` parsed straight from
the JSON text, so fractional cents are never rounded through binary floats. A value that cannot be
true is refused with its whole record: a negative or absurd number, NaN or Infinity, an integer beyond
SQLite's, text with a lone surrogate or a NUL (it cannot be encoded, so it would break every scrape),
or text too long for an identifier. :func:`malformed_reason` names why, for the exporter's own metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from cursor_exporter.money import ZERO
from cursor_exporter.timegrid import DAY_MS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Bounds far above anything real, so that only a corrupt value is refused; each also keeps the sums the
# ledger makes of it (up to 900 million events an hour) inside SQLite's signed 64-bit integers.
MAX_EVENT_CENTS = 10**8  # one request: $1M, where the dearest real calls cost dollars
MAX_TOTAL_CENTS = 10**12  # a cycle's or a contract's spend of a user, a group, a team or a pool: $10bn
MAX_TOKENS = 10**10  # one request: the largest context windows hold about 10^6 tokens
MAX_REQUEST_UNITS = 10**6  # one request: Max Mode calls cost tens of units
MAX_COUNT = 10**10  # lines, requests or members in one row
MAX_PERCENT = 100
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds
MAX_TEXT = 1024  # characters of any text field: an e-mail address has at most 254, a model name tens
CURSOR_FOUNDED_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z: no billing cycle or contract starts earlier

# Why a record was left out: the ``reason`` label of cursor_exporter_malformed_records_total.
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
BAD_TEXT = "bad_text"
OUTSIDE_WINDOW = "outside_window"
REASONS = (MISSING_FIELD, WRONG_TYPE, OUT_OF_RANGE, BAD_TEXT, OUTSIDE_WINDOW)
_OUT_OF_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


def malformed_reason(error_type: str) -> str:
    """The reason (one of ``REASONS``) for a pydantic error type; any other mismatch is a wrong type."""
    if error_type == "missing":
        return MISSING_FIELD
    if error_type in _OUT_OF_RANGE_ERRORS:
        return OUT_OF_RANGE
    if error_type == BAD_TEXT:
        return BAD_TEXT
    return WRONG_TYPE


def _opaque_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _lower_email(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def iso_ms(value: Any) -> int | None:
    """Epoch ms of an ISO 8601 timestamp, UTC when it names no zone (epoch-ms numbers and digit strings
    are tolerated); None when unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if not isinstance(value, str):
        return None
    if value.isascii() and value.isdigit():
        return int(value) if len(value) <= 19 else None  # no instant needs more digits
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return (instant - EPOCH) // timedelta(milliseconds=1)


def _instant(value: Any) -> Any:
    """Epoch ms of a timestamp; an unusable one is passed on unchanged, for validation to refuse."""
    ms = iso_ms(value)
    return value if ms is None else ms


def period_start_ms(value: Any, now_ms: int) -> int:
    """A billing cycle's or a contract's start (epoch ms or ISO 8601) as epoch ms; ValueError unless it lies
    between 2023-01-01 and a day after ``now_ms``. A start of 0 would plan usage windows back to 1970."""
    start = iso_ms(value)
    if start is None:
        raise ValueError("is not a timestamp")
    if not CURSOR_FOUNDED_MS <= start <= now_ms + DAY_MS:
        shown = f"{start} " if abs(start) < 10**15 else ""
        raise ValueError(f"{shown}is not between 2023-01-01 and a day from now")
    return start


OpaqueId = Annotated[str | None, BeforeValidator(_opaque_id)]
Email = Annotated[str, BeforeValidator(_lower_email)]
EventCents = Annotated[Decimal, Field(ge=0, lt=MAX_EVENT_CENTS)]
TotalCents = Annotated[Decimal, Field(ge=0, lt=MAX_TOTAL_CENTS)]
SignedTotalCents = Annotated[Decimal, Field(gt=-MAX_TOTAL_CENTS, lt=MAX_TOTAL_CENTS)]  # a remainder may be < 0
LimitDollars = Annotated[Decimal, Field(ge=0, lt=MAX_TOTAL_CENTS // 100)]
Percent = Annotated[Decimal, Field(ge=0, le=MAX_PERCENT)]
RequestUnits = Annotated[Decimal, Field(ge=0, lt=MAX_REQUEST_UNITS)]
Tokens = Annotated[int, Field(ge=0, lt=MAX_TOKENS)]
Count = Annotated[int, Field(ge=0, lt=MAX_COUNT)]
EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS)]
Instant = Annotated[EpochMs, BeforeValidator(_instant)]
"""Epoch ms from an ISO 8601 string, an epoch-ms number or a digit string."""


class Record(BaseModel):
    """Base of every API record: unknown fields ignored, immutable, populated by alias or name, and every
    text field of every record checked by :meth:`_text`."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _text(cls, value: Any) -> Any:
        """Refuse text that cannot be encoded (a lone surrogate), holds a NUL, or is too long for an identifier."""
        if not isinstance(value, str):
            return value
        if len(value) > MAX_TEXT:
            raise PydanticCustomError(BAD_TEXT, "text longer than {limit} characters", {"limit": MAX_TEXT})
        if "\x00" in value:
            raise PydanticCustomError(BAD_TEXT, "text holds a NUL character")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise PydanticCustomError(BAD_TEXT, "text holds a lone UTF-16 surrogate") from None
        return value


class TokenUsage(Record):
    """``tokenUsage`` of a token-based usage event."""

    input_tokens: Tokens = Field(0, alias="inputTokens")
    output_tokens: Tokens = Field(0, alias="outputTokens")
    cache_write_tokens: Tokens = Field(0, alias="cacheWriteTokens")
    cache_read_tokens: Tokens = Field(0, alias="cacheReadTokens")
    total_cents: EventCents = Field(ZERO, alias="totalCents")
    discount_percent_off: Percent = Field(ZERO, alias="discountPercentOff")


class UsageEvent(Record):
    """One row of ``usageEvents`` from /teams/filtered-usage-events."""

    timestamp: EpochMs
    user_email: Email = Field(alias="userEmail")
    model: str = "unknown"
    kind: str = "unknown"
    max_mode: bool = Field(False, alias="maxMode")
    requests_costs: RequestUnits = Field(ZERO, alias="requestsCosts")
    is_token_based_call: bool = Field(False, alias="isTokenBasedCall")
    is_chargeable: bool | None = Field(None, alias="isChargeable")
    is_headless: bool = Field(False, alias="isHeadless")
    charged_cents: EventCents | None = Field(None, alias="chargedCents")
    cursor_token_fee: EventCents | None = Field(None, alias="cursorTokenFee")
    token_usage: TokenUsage | None = Field(None, alias="tokenUsage")
    service_account_id: OpaqueId = Field(None, alias="serviceAccountId")
    cloud_agent_id: OpaqueId = Field(None, alias="cloudAgentId")
    automation_id: OpaqueId = Field(None, alias="automationId")
    team_id: OpaqueId = Field(None, alias="teamId")  # organization events only

    @property
    def charged(self) -> Decimal:
        """Charged cents; 2025-era events lack ``chargedCents`` and get the documented fallback."""
        usage = self.token_usage
        return charged_cents(
            self.charged_cents,
            self.cursor_token_fee,
            None if usage is None else usage.total_cents,
            ZERO if usage is None else usage.discount_percent_off,
        )

    @property
    def source(self) -> str:
        """Where the usage came from: service_account, cloud_agent, automation, headless or ide."""
        return usage_source(self.service_account_id, self.cloud_agent_id, self.automation_id, self.is_headless)

    def figures(self) -> Figures:
        """What the ledger sums of this event."""
        usage = self.token_usage or _NO_TOKENS
        return (
            self.timestamp, self.user_email, self.model, self.kind, self.max_mode, self.source, self.team_id,
            usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens,
            self.charged, self.cursor_token_fee or ZERO, self.requests_costs,
        )  # fmt: skip


_NO_TOKENS = TokenUsage()

Figures = tuple[int, str, str, str, bool, str, str | None, int, int, int, int, Decimal, Decimal, Decimal]
"""What the ledger sums of one usage event: timestamp, user, model, kind, max mode, source, team id (or
None), input, output, cache-write and cache-read tokens, charged cents, token-fee cents and request units."""


def charged_cents(
    charged: Decimal | None, fee: Decimal | None, token_total: Decimal | None, discount: Decimal
) -> Decimal:
    """An event's charged cents: ``chargedCents``, or for a 2025-era event without it the documented
    fallback ``totalCents x (1 - discount/100) + cursorTokenFee`` (just the fee without ``tokenUsage``)."""
    if charged is not None:
        return charged
    fee = fee or ZERO
    if token_total is None:
        return fee
    return token_total * (1 - discount / 100) + fee


def usage_source(service_account: str | None, cloud_agent: str | None, automation: str | None, headless: bool) -> str:
    """Where an event's usage came from: service_account, cloud_agent, automation, headless or ide."""
    if service_account:
        return "service_account"
    if cloud_agent:
        return "cloud_agent"
    if automation:
        return "automation"
    return "headless" if headless else "ide"


@dataclass(frozen=True)
class EventsPage:
    """One page of /teams/filtered-usage-events: its reported total, the rows received and the figures of
    the events read from them (the rest were counted as malformed)."""

    total: int
    has_next_page: bool
    events: tuple[Figures, ...]
    received: int


def parse_many(model: type[Record], rows: Any) -> tuple[list, list[ValidationError]]:
    """Parse every row it can; return the parsed rows and the errors of the rest."""
    parsed, errors = [], []
    for row in rows if isinstance(rows, list) else []:
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as error:
            errors.append(error)
    return parsed, errors
