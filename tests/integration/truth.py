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


# Organization events carry no cloudAgentId or automationId, so the exporter can only see those as headless.
ORG_EVENT_SOURCES = {"cloud_agent": "headless", "automation": "headless"}


def expected_usage(truth: dict, counters: bool = True, cycle: bool = True) -> Series:
    """Usage families, team and user level, as the truth says they must be."""
    return _expected_usage(truth, "cursor_usage", "cursor_user", "cycle", counters, cycle, per_user_detail=True)


def expected_org_usage(truth_org: dict) -> Series:
    """Organization usage families (``team`` = teamId), from ``Simulator.truth_org`` rows."""
    return _expected_usage(truth_org, "cursor_org_usage", "cursor_org_user", "contract", True, True, False)


def _expected_usage(
    truth: dict, usage: str, user: str, period: str, counters: bool, cycle: bool, per_user_detail: bool
) -> Series:
    expected: Series = {}

    def add(name: str, labels: dict, value: float | int) -> None:
        key = (name, frozenset(labels.items()))
        expected[key] = expected.get(key, 0) + value

    for row in truth["usage"]:
        team = {"team": str(row["teamId"])} if "teamId" in row else {}
        source = ORG_EVENT_SOURCES.get(row["source"], row["source"]) if team else row["source"]
        labels = {**team, "model": row["model"], "kind": row["kind"], "max_mode": str(row["maxMode"]).lower()}
        labels["source"] = source
        if counters:
            add(f"{usage}_events_total", labels, row["events"])
            add(f"{usage}_charged_usd_total", labels, Decimal(row["chargedCents"]))
            add(f"{usage}_token_fee_usd_total", labels, Decimal(row["cursorTokenFee"]))
            add(f"{usage}_request_units_total", labels, Decimal(row["requestsCosts"]))
            for token_type, field in TOKEN_FIELDS.items():
                add(f"{usage}_tokens_total", {**labels, "token_type": token_type}, row[field])
        if cycle:
            add(f"{usage}_{period}_charged_usd", labels, Decimal(row["chargedCents"]))
    for row in truth["users"]:
        labels = {**({"team": str(row["teamId"])} if "teamId" in row else {}), "user": row["email"]}
        if counters:
            add(f"{user}_charged_usd_total", labels, Decimal(row["chargedCents"]))
            if per_user_detail:
                add(f"{user}_usage_events_total", labels, row["events"])
                for token_type, field in TOKEN_FIELDS.items():
                    add(f"{user}_tokens_total", {**labels, "token_type": token_type}, row[field])
        if cycle:
            add(f"{user}_{period}_charged_usd", labels, Decimal(row["chargedCents"]))
    # Money was summed exactly in cents; the exporter rounds once, to float dollars.
    return {
        key: float(value / 100) if "_usd" in key[0] else float(value) if isinstance(value, Decimal) else value
        for key, value in expected.items()
    }


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
