"""Expected metric values derived from the simulator's ground truth, and exposition parsing."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

TOKEN_FIELDS = {
    "input": "inputTokens",
    "output": "outputTokens",
    "cache_write": "cacheWriteTokens",
    "cache_read": "cacheReadTokens",
}

Series = dict[tuple[str, frozenset], float]


def parse(exposition: str) -> Series:
    """Every sample of a text exposition, keyed by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def usd(cents: str) -> float:
    return float(Decimal(cents) / 100)


def expected_usage(truth: dict, counters: bool = True, cycle: bool = True) -> Series:
    """Usage families, team and user level, as the truth says they must be."""
    expected: Series = {}
    for row in truth["usage"]:
        labels = {
            "model": row["model"],
            "kind": row["kind"],
            "max_mode": "true" if row["maxMode"] else "false",
            "source": row["source"],
        }
        key = frozenset(labels.items())
        if counters:
            expected[("cursor_usage_events_total", key)] = row["events"]
            expected[("cursor_usage_charged_usd_total", key)] = usd(row["chargedCents"])
            expected[("cursor_usage_token_fee_usd_total", key)] = usd(row["cursorTokenFee"])
            expected[("cursor_usage_request_units_total", key)] = float(Decimal(row["requestsCosts"]))
            for token_type, field in TOKEN_FIELDS.items():
                token_key = frozenset({**labels, "token_type": token_type}.items())
                expected[("cursor_usage_tokens_total", token_key)] = row[field]
        if cycle:
            expected[("cursor_usage_cycle_charged_usd", key)] = usd(row["chargedCents"])
    for row in truth["users"]:
        key = frozenset({"user": row["email"]}.items())
        if counters:
            expected[("cursor_user_usage_events_total", key)] = row["events"]
            expected[("cursor_user_charged_usd_total", key)] = usd(row["chargedCents"])
            for token_type, field in TOKEN_FIELDS.items():
                token_key = frozenset({"user": row["email"], "token_type": token_type}.items())
                expected[("cursor_user_tokens_total", token_key)] = row[field]
        if cycle:
            expected[("cursor_user_cycle_charged_usd", key)] = usd(row["chargedCents"])
    return expected


def expected_spend_and_members(truth: dict) -> Series:
    """/teams/spend and /teams/members families, as the truth says they must be."""
    expected: Series = {("cursor_billing_cycle_start_timestamp_seconds", frozenset()): truth["cycleStart"] / 1000}
    team_spend = sum((Decimal(row["spendCents"]) for row in truth["spend"]), Decimal(0))
    team_overall = sum((Decimal(row["overallSpendCents"]) for row in truth["spend"]), Decimal(0))
    expected[("cursor_team_spend_usd", frozenset())] = float(team_spend / 100)
    expected[("cursor_team_overall_spend_usd", frozenset())] = float(team_overall / 100)
    for row in truth["spend"]:
        key = frozenset({"user": row["email"]}.items())
        expected[("cursor_user_spend_usd", key)] = usd(row["spendCents"])
        expected[("cursor_user_overall_spend_usd", key)] = usd(row["overallSpendCents"])
        if row["effectivePerUserLimitDollars"] is not None:
            expected[("cursor_user_spend_limit_usd", key)] = float(row["effectivePerUserLimitDollars"])
    for role, count in truth["members"]["byRole"].items():
        expected[("cursor_team_members", frozenset({"role": role}.items()))] = count
    expected[("cursor_team_removed_members", frozenset())] = truth["members"]["removed"]
    return expected


def mismatches(actual: Series, expected: Series, families: set[str]) -> list[str]:
    """Differences between the exposition and the truth over the given families, both directions."""
    problems = [
        f"{name}{dict(labels)}: exported {actual.get((name, labels))}, truth {value}"
        for (name, labels), value in expected.items()
        if actual.get((name, labels)) != value
    ]
    problems += [
        f"{name}{dict(labels)}: exported {value} but absent from the truth"
        for (name, labels), value in actual.items()
        if name in families and (name, labels) not in expected
    ]
    return problems
