"""Ground truth of the team's usage: exact aggregates of the events, spend and members served now.

Money is summed and reported as described in ``money``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from .events import UsageEvent
from .money import decimal_string, exact
from .world import World


def truth(world: World, start_ms: int | None, end_ms: int | None) -> dict:
    """See ``Simulator.truth``; the range defaults to cycle start to now."""
    now = world.now_ms()
    cycle_start, cycle_end = world.cycle_bounds(now)
    start = cycle_start if start_ms is None else int(start_ms)
    end = now if end_ms is None else int(end_ms)
    usage, users = usage_and_users(world.visible_events(start, end, now), now)
    members = [m for m in world.team.members if not m.is_removed]
    by_role = Counter({"owner": 0, "member": 0, "free-owner": 0})
    by_role.update(m.role for m in members)
    return {
        "now": now,
        "cycleStart": cycle_start,
        "cycleEnd": cycle_end,
        "startDate": start,
        "endDate": end,
        "usage": usage,
        "users": users,
        "spend": spend_truth(world.spend_rows(now)),
        "members": {"byRole": dict(by_role), "removed": sum(m.is_removed for m in world.team.members)},
        "requests": request_counts(world.request_log),
    }


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


def _zero_totals() -> dict:
    return {
        "events": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "cacheWriteTokens": 0,
        "cacheReadTokens": 0,
        "chargedCents": Decimal(0),
    }


def _empty_usage_row(event: UsageEvent) -> dict:
    return {
        "model": event.model,
        "kind": event.kind,
        "maxMode": event.max_mode,
        "source": usage_source(event),
        **_zero_totals(),
        "cursorTokenFee": Decimal(0),
        "requestsCosts": Decimal(0),
    }


def _empty_user_row(email: str) -> dict:
    return {"email": email, **_zero_totals()}


def spend_truth(served_rows: Iterable[dict]) -> list[dict]:
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
