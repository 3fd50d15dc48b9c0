"""Ground truth: exact aggregates of what the simulated API serves.

Money is summed as ``sum(Decimal(repr(x)))`` over the exact floats the API
serialises (``json.dumps`` writes ``repr``), and reported as decimal strings,
so an exporter that parses JSON numbers exactly can match it digit for digit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from .team import UsageEvent


def exact(value: float | int) -> Decimal:
    """The exact decimal a JSON reader sees for a served number."""
    return Decimal(repr(value))


def decimal_string(value: Decimal) -> str:
    """Plain (non-scientific) decimal string."""
    text = format(value, "f")
    return text


def usage_and_users(events: Iterable[UsageEvent], now_ms: int) -> tuple[list[dict], list[dict]]:
    """Per (model, kind, maxMode, source) usage rows and per-email rows for the given visible events."""
    usage: dict[tuple[str, str, bool, str], dict] = {}
    users: dict[str, dict] = {}
    for event in events:
        charged = exact(event.charged_cents_at(now_ms))
        tokens = event.token_usage
        token_counts = (
            (tokens.input_tokens, tokens.output_tokens, tokens.cache_write_tokens, tokens.cache_read_tokens)
            if tokens is not None
            else (0, 0, 0, 0)
        )
        row = usage.setdefault((event.model, event.kind, event.max_mode, usage_source(event)), _empty_usage_row(event))
        user = users.setdefault(event.email, _empty_user_row(event.email))
        for target in (row, user):
            target["events"] += 1
            target["inputTokens"] += token_counts[0]
            target["outputTokens"] += token_counts[1]
            target["cacheWriteTokens"] += token_counts[2]
            target["cacheReadTokens"] += token_counts[3]
            target["chargedCents"] += charged
        if event.cursor_token_fee is not None:
            row["cursorTokenFee"] += exact(event.cursor_token_fee)
        row["requestsCosts"] += exact(event.requests_costs)
    usage_rows = [usage[key] for key in sorted(usage)]
    user_rows = [users[email] for email in sorted(users)]
    for row in usage_rows:
        for key in ("chargedCents", "cursorTokenFee", "requestsCosts"):
            row[key] = decimal_string(row[key])
    for row in user_rows:
        row["chargedCents"] = decimal_string(row["chargedCents"])
    return usage_rows, user_rows


def usage_source(event: UsageEvent) -> str:
    """Where the simulator made the event come from: the truth's ``source`` of a usage row."""
    if event.service_account_id:
        return "service_account"
    if event.cloud_agent_id:
        return "cloud_agent"
    if event.automation_id:
        return "automation"
    return "headless" if event.is_headless else "ide"


def _empty_usage_row(event: UsageEvent) -> dict:
    return {
        "model": event.model,
        "kind": event.kind,
        "maxMode": event.max_mode,
        "source": usage_source(event),
        "events": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "cacheWriteTokens": 0,
        "cacheReadTokens": 0,
        "chargedCents": Decimal(0),
        "cursorTokenFee": Decimal(0),
        "requestsCosts": Decimal(0),
    }


def _empty_user_row(email: str) -> dict:
    return {
        "email": email,
        "events": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "cacheWriteTokens": 0,
        "cacheReadTokens": 0,
        "chargedCents": Decimal(0),
    }


def spend_rows(served_rows: Iterable[dict]) -> list[dict]:
    """Truth view of ``/teams/spend`` rows: the served numbers as exact decimal strings."""
    rows = [
        {
            "email": row["email"],
            "spendCents": decimal_string(exact(row["spendCents"])),
            "overallSpendCents": decimal_string(exact(row["overallSpendCents"])),
            "effectivePerUserLimitDollars": row["effectivePerUserLimitDollars"],
        }
        for row in served_rows
    ]
    return sorted(rows, key=lambda row: row["email"])


def request_counts(request_log: Iterable[tuple[str, int]]) -> dict[str, int]:
    """API requests answered per path, not counting 429s."""
    counts = Counter(path for path, status in request_log if status != 429)
    return dict(sorted(counts.items()))
