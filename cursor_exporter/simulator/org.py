"""Organization API: pooled usage, org-wide usage events and their ground truth.

Conventions (deterministic):

* The org's teams are ``config.org_team_ids``; the first is the simulator's own team.
* Contract: starts at ``config.org_contract_start_days_ago`` (default: the first cycle
  start), 365 days long; dates served as ISO strings.
* ``teams[].usedCents``: the exact sum of ``chargedCents`` (all kinds, service accounts
  included) of the team's events visible now from contract start to now, rounded to
  6 decimal places and served as the nearest float (whose ``repr`` is exactly those
  digits). ``pool.usedCents`` is the exact sum of the served team values, so summing
  the team values as decimals gives the pool exactly; ``remainingCents = limitCents -
  usedCents``. ``budgetLimitCents`` is set on the 1st and 3rd team only.
* Org events: the team event shape plus ``teamId``, newest first (ties: later team in
  ``org_team_ids`` first, then generation order reversed), default ``pageSize`` 10.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from .events import HOSTING_TYPES, UsageEvent
from .filters import event_matches
from .money import decimal_string, exact, served_number
from .team import Team
from .timefmt import iso
from .truth import usage_and_users
from .world import World

MICRO = Decimal("0.000001")
BUDGETS_CENTS = {0: 2_000_000, 2: 1_000_000}  # team position in org_team_ids -> budgetLimitCents
DEFAULT_ORG_EVENTS_PAGE_SIZE = 10


def team_charged(sim: World, team: Team, start_ms: int, end_ms: int, now_ms: int) -> tuple[Decimal, int]:
    """Exact ``chargedCents`` sum and count of a team's events visible now in the range."""
    total, count = Decimal(0), 0
    for event in sim.visible_events(start_ms, end_ms, now_ms, apply_retention=False, team=team):
        total += exact(event.charged_cents_at(now_ms))
        count += 1
    return total, count


def pooled_usage_payload(sim: World, now_ms: int) -> tuple[dict, list[dict]]:
    """The ``/organizations/pooled-usage`` body and per-team exact details for the truth."""
    contract_start, contract_end = sim.org_period_bounds(now_ms)
    teams, details = [], []
    used_total = Decimal(0)
    for position, (team_id, team) in enumerate(sim.org_teams.items()):
        charged, count = team_charged(sim, team, contract_start, now_ms, now_ms)
        used = exact(served_number(charged.quantize(MICRO, rounding=ROUND_HALF_EVEN)))
        used_total += used
        row: dict = {"teamId": team_id, "usedCents": served_number(used)}
        budget = BUDGETS_CENTS.get(position)
        if budget is not None:
            row["budgetLimitCents"] = budget
        teams.append(row)
        details.append({"teamId": team_id, "chargedCents": charged, "events": count, "budgetLimitCents": budget})
    limit = sim.config.org_pool_limit_cents
    pool = {
        "limitCents": limit,
        "usedCents": served_number(used_total),
        "remainingCents": served_number(Decimal(limit) - used_total),
    }
    if sim.config.org_contract_dates:
        pool |= {"contractStartDate": iso(contract_start), "contractEndDate": iso(contract_end)}
    return {"pool": pool, "teams": teams}, details


def org_events(
    sim: World, start_ms: int, end_ms: int, now_ms: int, team_ids: list[int] | None, body: dict
) -> list[tuple[int, UsageEvent]]:
    """``(teamId, event)`` of the visible org events matching ``body``'s filters, newest first."""
    hosting = body.get("hostingType")
    if hosting is not None and hosting not in HOSTING_TYPES:
        raise ValueError(f"Invalid hostingType; expected one of {', '.join(HOSTING_TYPES)}")
    selected = []
    for position, (team_id, team) in enumerate(sim.org_teams.items()):
        if team_ids is not None and team_id not in team_ids:
            continue
        for event in sim.visible_events(start_ms, end_ms, now_ms, team=team):
            if event_matches(team, event, body, hosting):
                selected.append((event.timestamp_ms, position, event.sequence, team_id, event))
    selected.sort(key=lambda item: item[:3], reverse=True)
    return [(item[3], item[4]) for item in selected]


def truth_org(sim: World, start_ms: int | None, end_ms: int | None) -> dict:
    """See ``Simulator.truth_org``; ``usage``/``users`` default to contract start to now."""
    now = sim.now_ms()
    start_ms = sim.org_period_bounds(now)[0] if start_ms is None else int(start_ms)
    end_ms = now if end_ms is None else int(end_ms)
    payload, details = pooled_usage_payload(sim, now)
    pool = dict(payload["pool"])
    for key in ("limitCents", "usedCents", "remainingCents"):
        pool[key] = decimal_string(exact(pool[key]))
    teams = []
    for served, detail in zip(payload["teams"], details, strict=True):
        teams.append(
            {
                "teamId": served["teamId"],
                "usedCents": decimal_string(exact(served["usedCents"])),
                "budgetLimitCents": detail["budgetLimitCents"],
                "chargedCents": decimal_string(detail["chargedCents"]),
                "events": detail["events"],
            }
        )
    usage_rows: list[dict] = []
    user_rows: list[dict] = []
    for team_id, team in sim.org_teams.items():
        usage, users = usage_and_users(sim.visible_events(start_ms, end_ms, now, team=team), now)
        usage_rows.extend({"teamId": team_id, **row} for row in usage)
        user_rows.extend({"teamId": team_id, **row} for row in users)
    start, end = sim.org_period_bounds(now)
    return {
        "now": now,
        "organizationId": sim.config.organization_id,
        "contractStart": start,
        "contractEnd": end,
        "startDate": start_ms,
        "endDate": end_ms,
        "pool": pool,
        "teams": teams,
        "usage": usage_rows,
        "users": user_rows,
    }
