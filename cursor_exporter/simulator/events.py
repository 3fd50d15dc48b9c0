"""A usage event: what the simulator knows about it and what ``/teams/filtered-usage-events`` serves."""

from __future__ import annotations

from dataclasses import dataclass

from .units import HOUR_MS

REVISION_AFTER_MS = 6 * HOUR_MS

KIND_INCLUDED = "Included in Business"
KIND_USAGE_BASED = "Usage-based"
KIND_ERRORED = "Errored, Not Charged"
KIND_USER_API_KEY = "User API Key"
KIND_ABORTED = "Aborted, Not Charged"

HOSTING_TYPES = ("CLOUD", "SELF_HOSTED", "SELF_HOSTED_POOL", "SELF_HOSTED_MACHINE")


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    total_cents: float
    discount_percent_off: int | None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens


@dataclass(frozen=True, slots=True)  # slots: a 10,000-seat cycle holds millions of these
class UsageEvent:
    """One usage event with its hidden simulation state (arrival time and revision)."""

    timestamp_ms: int
    sequence: int  # generation order inside the hour; tie-breaker for same-ms events
    email: str
    member_index: int | None  # None for service-account events
    model: str
    kind: str
    max_mode: bool
    requests_costs: float
    is_chargeable: bool
    is_headless: bool
    charged_cents: float
    token_usage: TokenUsage | None = None
    cursor_token_fee: float | None = None
    conversation_id: str | None = None
    service_account_id: str | None = None
    service_account_name: str | None = None
    cloud_agent_id: str | None = None
    automation_id: str | None = None
    hosting_type: str | None = None
    visible_at_ms: int = 0
    revised_charged_cents: float | None = None
    revised_total_cents: float | None = None

    def is_revised_at(self, now_ms: int) -> bool:
        return self.revised_charged_cents is not None and now_ms >= self.timestamp_ms + REVISION_AFTER_MS

    def is_final_at(self, now_ms: int) -> bool:
        """Whether the event is served at ``now_ms`` as it will be forever after (no revision still to come)."""
        return self.revised_charged_cents is None or self.is_revised_at(now_ms)

    def charged_cents_at(self, now_ms: int) -> float:
        """The chargedCents value the API serves at ``now_ms``."""
        if self.is_revised_at(now_ms):
            return self.revised_charged_cents  # type: ignore[return-value]
        return self.charged_cents

    def payload(self, now_ms: int, legacy_2025: bool = False) -> dict:
        """The event as ``/teams/filtered-usage-events`` serves it; optional keys are omitted."""
        revised = self.is_revised_at(now_ms)
        event: dict = {"timestamp": str(self.timestamp_ms), "userEmail": self.email}
        for key, value in (
            ("conversationId", self.conversation_id),
            ("serviceAccountId", self.service_account_id),
            ("serviceAccountName", self.service_account_name),
            ("cloudAgentId", self.cloud_agent_id),
            ("automationId", self.automation_id),
        ):
            if value is not None:
                event[key] = value
        event.update(
            model=self.model,
            kind=self.kind,
            maxMode=self.max_mode,
            requestsCosts=self.requests_costs,
            isTokenBasedCall=self.token_usage is not None,
        )
        if legacy_2025:
            event["isFreeBugbot"] = False
        else:
            event["isChargeable"] = self.is_chargeable
            event["isHeadless"] = self.is_headless
        if self.token_usage is not None:
            usage = self.token_usage
            total = self.revised_total_cents if revised and self.revised_total_cents is not None else None
            tokens: dict = {
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "cacheWriteTokens": usage.cache_write_tokens,
                "cacheReadTokens": usage.cache_read_tokens,
                "totalCents": usage.total_cents if total is None else total,
            }
            if usage.discount_percent_off is not None:
                tokens["discountPercentOff"] = usage.discount_percent_off
            event["tokenUsage"] = tokens
        if legacy_2025:
            event["cursorTokenFee"] = self.cursor_token_fee if self.cursor_token_fee is not None else 0
        else:
            event["chargedCents"] = self.charged_cents_at(now_ms)
            if self.cursor_token_fee is not None:
                event["cursorTokenFee"] = self.cursor_token_fee
        return event
