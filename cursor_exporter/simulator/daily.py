"""Daily usage rows (``/teams/daily-usage-data``) and their ground truth.

Conventions (deterministic):

* A row exists for a member and UTC day when the member has visible events that day
  (service accounts have no rows). Request counters (``subscriptionIncludedReqs``,
  ``usageBasedReqs``, ``apiKeyReqs``, ``composer/chat/agentRequests``) and
  ``mostUsedModel`` come from those events, so late arrivals move them.
* Editor counters (lines, applies, tabs, cmdk, bugbot) are drawn per member-day and
  scaled by a settle factor that grows every hour from 0.6 at the day's start to 1.0
  at 48 h after it: rows of today and yesterday are provisional and change as the
  clock moves; older rows are stable.
* ``mostUsedModel`` is the most frequent model among the day's events not on Auto
  (``default``), ties to the alphabetically first; ``default`` only if every event was Auto.
* ``clientVersion`` is per member and day: a base version that upgrades every 21 days
  at a member-specific offset (five versions in all).
"""

from __future__ import annotations

import random
from collections import Counter

from .catalog import CLIENT_VERSIONS, EXTENSIONS
from .events import KIND_INCLUDED, KIND_USAGE_BASED, KIND_USER_API_KEY, UsageEvent
from .roster import Member
from .timefmt import day_string
from .units import DAY_MS, HOUR_MS
from .world import World

SETTLE_HOURS = 48
UPGRADE_EVERY_DAYS = 21
ALL_CLIENT_VERSIONS = (*CLIENT_VERSIONS, "2.1.25")

DAILY_COUNTERS = (
    "totalLinesAdded", "totalLinesDeleted", "acceptedLinesAdded", "acceptedLinesDeleted",
    "totalApplies", "totalAccepts", "totalRejects", "totalTabsShown", "totalTabsAccepted",
    "composerRequests", "chatRequests", "agentRequests", "cmdkUsages",
    "subscriptionIncludedReqs", "apiKeyReqs", "usageBasedReqs", "bugbotUsages",
)  # fmt: skip
DAILY_STRINGS = ("mostUsedModel", "applyMostUsedExtension", "tabMostUsedExtension", "clientVersion")


def settle_factor(day_ms: int, now_ms: int) -> float:
    """Share of a day's editor counters reported at ``now_ms`` (1.0 once 48 h have passed)."""
    hours = max(0, min(SETTLE_HOURS, (now_ms - day_ms) // HOUR_MS))
    return (60 + 40 * hours / SETTLE_HOURS) / 100


def client_version_on(sim: World, member: Member, day_ms: int) -> str:
    """The member's Cursor version on a UTC day (monotonic upgrades, member-specific timing)."""
    base = ALL_CLIENT_VERSIONS.index(member.client_version)
    anchor = sim.first_cycle_start_ms // DAY_MS
    offset = member.index * 8 % UPGRADE_EVERY_DAYS
    upgrades = max(0, (day_ms // DAY_MS - anchor + offset) // UPGRADE_EVERY_DAYS)
    return ALL_CLIENT_VERSIONS[min(len(ALL_CLIENT_VERSIONS) - 1, base + upgrades)]


def daily_row(sim: World, member_index: int, day_ms: int, events: list[UsageEvent], now_ms: int) -> dict:
    """One served row; inactive (paged mode) rows have zero counters and null strings."""
    member = sim.team.members[member_index]
    user_id = member.int_id if sim.config.daily_user_id_style == "int" else member.string_id
    row: dict = {"userId": user_id, "day": day_string(day_ms), "date": day_ms, "isActive": bool(events)}
    if not events:
        row.update(dict.fromkeys(DAILY_COUNTERS, 0))
        row.update(dict.fromkeys(DAILY_STRINGS))
        row["email"] = member.email
        return row
    rng = random.Random(f"{sim.config.seed}:daily:{day_ms}:{member_index}")
    count = len(events)
    scaled = count * settle_factor(day_ms, now_ms)
    agent = sum(1 for e in events if e.is_headless)
    composer = (count - agent) // 4
    chat = count - agent - composer
    applies = int(scaled * rng.uniform(0.3, 0.9))
    accepts = int(applies * rng.uniform(0.6, 0.95))
    tabs_shown = int(scaled * rng.uniform(3, 9))
    accepted_added = int(scaled * rng.uniform(5, 40))
    accepted_deleted = int(accepted_added * rng.uniform(0.2, 0.7))
    kinds = Counter(e.kind for e in events)
    models = Counter(e.model for e in events if e.model != "default") or Counter(e.model for e in events)
    most_used = min(models, key=lambda model: (-models[model], model))
    row.update(
        totalLinesAdded=accepted_added + int(scaled * rng.uniform(5, 30)),
        totalLinesDeleted=accepted_deleted + int(scaled * rng.uniform(2, 15)),
        acceptedLinesAdded=accepted_added,
        acceptedLinesDeleted=accepted_deleted,
        totalApplies=applies,
        totalAccepts=accepts,
        totalRejects=applies - accepts,
        totalTabsShown=tabs_shown,
        totalTabsAccepted=int(tabs_shown * rng.uniform(0.2, 0.6)),
        composerRequests=composer,
        chatRequests=chat,
        agentRequests=agent,
        cmdkUsages=rng.randint(0, int(scaled) // 3),
        subscriptionIncludedReqs=kinds[KIND_INCLUDED],
        apiKeyReqs=kinds[KIND_USER_API_KEY],
        usageBasedReqs=kinds[KIND_USAGE_BASED],
        bugbotUsages=rng.choice((0, 0, 0, 1, 2)),
        mostUsedModel=most_used,
        applyMostUsedExtension=rng.choice(EXTENSIONS),
        tabMostUsedExtension=rng.choice(EXTENSIONS),
        clientVersion=client_version_on(sim, member, day_ms),
        email=member.email,
    )
    return row


def truth_daily(sim: World, start_ms: int | None, end_ms: int | None) -> dict:
    """Sums of the active rows ``/teams/daily-usage-data`` serves now for the whole UTC days
    overlapping ``[start_ms, end_ms]`` (default: cycle start to now); see ``Simulator.truth_daily``."""
    now = sim.now_ms()
    start_ms = sim.cycle_bounds(now)[0] if start_ms is None else int(start_ms)
    end_ms = now if end_ms is None else int(end_ms)
    activity = sim.daily_activity(start_ms, end_ms, now)
    first_day = start_ms // DAY_MS * DAY_MS
    last_day = min(end_ms, now) // DAY_MS * DAY_MS
    days = []
    users: dict[str, dict] = {}
    latest: dict[str, dict] = {}
    for day in range(first_day, last_day + 1, DAY_MS):
        team = dict.fromkeys(DAILY_COUNTERS, 0)
        active = []
        for index in range(len(sim.team.members)):
            events = activity.get((day, index))
            if not events:
                continue
            row = daily_row(sim, index, day, events, now)
            email = row["email"]
            active.append(email)
            user = users.setdefault(email, dict.fromkeys(DAILY_COUNTERS, 0))
            for key in DAILY_COUNTERS:
                team[key] += row[key]
                user[key] += row[key]
            latest[email] = {
                "day": row["day"],
                "clientVersion": row["clientVersion"],
                "mostUsedModel": row["mostUsedModel"],
            }
        days.append({"day": day_string(day), "date": day, "team": team, "activeUsers": sorted(active)})
    return {
        "now": now,
        "startDate": start_ms,
        "endDate": end_ms,
        "days": days,
        "users": dict(sorted(users.items())),
        "latest": dict(sorted(latest.items())),
    }
