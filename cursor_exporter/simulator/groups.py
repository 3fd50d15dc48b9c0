"""Billing groups (``/teams/groups``): the served payload and its ground truth.

Each member's group ``spendCents`` is their on-demand (``Usage-based``) spend in the
cycle over events visible now; a group's ``spendCents`` sums its current and former
members; ``dailySpend`` keeps the last two days of the cycle.
"""

from __future__ import annotations

import random
from decimal import Decimal

from .money import decimal_string, exact, served_number
from .roster import DIRECTORY_GROUP_INDEX, GROUP_NAMES
from .timefmt import day_string, iso
from .units import DAY_MS
from .world import World

DAILY_SPEND_DAYS = 2
GROUP_ID_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def groups_payload(sim: World, at: int, now: int) -> dict:
    """The ``/teams/groups`` body for the billing cycle containing ``at``, as served at ``now``."""
    cycle_start, cycle_end = sim.cycle_bounds(at)
    spent = sim.on_demand_by_email_and_day(cycle_start, cycle_end - 1, now)
    last_day = min(now, cycle_end - 1) // DAY_MS * DAY_MS
    recent_days = [last_day - offset * DAY_MS for offset in reversed(range(DAILY_SPEND_DAYS))]
    created = iso(sim.first_cycle_start_ms - 90 * DAY_MS + 10 * 3_600_000)

    def member_entry(member, left: bool) -> dict:
        return {
            "userId": sim.member_id(member),
            "name": member.name,
            "email": member.email,
            "joinedAt": iso(max(member.joined_ms, sim.first_cycle_start_ms - 90 * DAY_MS)),
            "leftAt": iso(member.removed_ms) if left and member.removed_ms is not None else None,
            "spendCents": served_number(sum(spent.get(member.email, {}).values(), Decimal(0))),
        }

    def group(group_id: str, name: str, members: list, updated: str) -> dict:
        current = [m for m in members if not m.is_removed]
        former = [m for m in members if m.is_removed]
        total = sum((sum(spent.get(m.email, {}).values(), Decimal(0)) for m in members), Decimal(0))
        daily = [
            {
                "date": day_string(day),
                "spendCents": served_number(
                    sum((spent.get(m.email, {}).get(day, Decimal(0)) for m in members), Decimal(0))
                ),
            }
            for day in recent_days
            if cycle_start <= day < cycle_end
        ]
        return {
            "id": group_id,
            "name": name,
            "type": "BILLING",
            "directoryGroupId": None,
            "memberCount": len(current),
            "createdAt": created,
            "updatedAt": updated,
            "spendCents": served_number(total),
            "currentMembers": [member_entry(m, left=False) for m in current],
            "formerMembers": [member_entry(m, left=True) for m in former],
            "dailySpend": daily,
        }

    rng = random.Random(f"{sim.config.seed}:groups")
    groups = []
    for index, name in enumerate(GROUP_NAMES):
        members = [m for m in sim.team.members if sim.group_index(m) == index]
        group_id = "group_" + "".join(rng.choice(GROUP_ID_ALPHABET) for _ in range(26))
        directory = f"okta-{name.lower().replace(' ', '-')}" if index == DIRECTORY_GROUP_INDEX else None
        entry = group(group_id, name, members, iso(sim.first_cycle_start_ms - 3 * DAY_MS))
        entry["directoryGroupId"] = directory
        groups.append(entry)
    unassigned = group(
        "group_unassigned",
        "Unassigned",
        [m for m in sim.team.members if sim.group_index(m) is None],
        created,
    )
    unassigned["dailySpend"] = []
    return {
        "groups": groups,
        "unassignedGroup": unassigned,
        "billingCycle": {"cycleStart": iso(cycle_start), "cycleEnd": iso(cycle_end)},
    }


def truth_groups(sim: World, at_ms: int | None) -> dict:
    """``/teams/groups`` as served now for the cycle containing ``at_ms`` (default now);
    see ``Simulator.truth_groups``."""
    now = sim.now_ms()
    at = now if at_ms is None else int(at_ms)
    payload = groups_payload(sim, at, now)
    cycle_start, cycle_end = sim.cycle_bounds(at)
    groups = {}
    for group in [*payload["groups"], payload["unassignedGroup"]]:
        groups[group["id"]] = {
            "name": group["name"],
            "spendCents": decimal_string(exact(group["spendCents"])),
            "memberCount": group["memberCount"],
            "members": sorted(m["email"] for m in group["currentMembers"]),
            "formerMembers": sorted(m["email"] for m in group["formerMembers"]),
        }
    return {"now": now, "cycleStart": cycle_start, "cycleEnd": cycle_end, "groups": groups}
