"""Who is on the synthetic team: members with their personas, and service accounts."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .catalog import CLIENT_VERSIONS, MODELS
from .draws import random_id
from .units import DAY_MS, HOUR_MS

GROUP_NAMES = ("Engineering", "Data Platform", "Design")
DIRECTORY_GROUP_INDEX = 0  # the billing group synced from the identity provider (SCIM)

FIRST_NAMES = (
    "Alex", "Sam", "Priya", "Jonas", "Mei", "Carlos", "Fatima", "Noah", "Ingrid", "Kenji",
    "Lucia", "Omar", "Hannah", "Dmitri", "Aisha", "Pierre", "Zoe", "Mateo", "Yuki", "Ravi",
    "Elena", "Tomas", "Grace", "Kwame", "Sofia", "Liam", "Nadia", "Felix", "Amara", "Jin",
)  # fmt: skip
LAST_NAMES = (
    "Keller", "Okafor", "Nguyen", "Schmidt", "Rossi", "Tanaka", "Haddad", "Larsen", "Patel", "Moreau",
    "Silva", "Kowalski", "Cohen", "Fischer", "Ivanova", "Mendes", "Brennan", "Sato", "Khan", "Dubois",
)  # fmt: skip


@dataclass(frozen=True)
class Persona:
    """How much and how someone uses Cursor."""

    name: str
    activity: float  # multiplier on events_per_user_per_day
    usage_based_share: float  # of billable events, how many are on-demand
    favourite_models: tuple[str, ...]
    utc_offset_h: int


@dataclass(frozen=True)
class Member:
    """A team member as the simulator knows them (superset of what any route serves)."""

    index: int
    string_id: str
    int_id: int
    name: str | None
    email: str
    role: str
    is_removed: bool
    joined_ms: int
    removed_ms: int | None
    persona: Persona
    monthly_limit_dollars: int | None
    hard_limit_override_dollars: int
    effective_limit_dollars: int | None
    client_version: str

    def is_member_at(self, ms: int) -> bool:
        return self.joined_ms <= ms and (self.removed_ms is None or ms < self.removed_ms)


@dataclass(frozen=True)
class ServiceAccount:
    """A service account; its events use a pseudo-user email and it is not a team member."""

    account_id: str
    name: str
    email: str
    active_utc_hours: frozenset[int]
    weekdays_only: bool
    events_per_hour: float


def make_members(rng: random.Random, count: int, epoch_ms: int, domain: str) -> list[Member]:
    """The team's members; ``epoch_ms`` anchors join and removal dates."""
    removed = set(range(count - 2, count)) if count >= 8 else ({count - 1} if count >= 5 else set())
    idle = count - 3 if count >= 6 else None
    late_joiner = count - 4 if count >= 10 else None
    used_emails: set[str] = set()
    members = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}@{domain}".lower()
        suffix = 2
        while email in used_emails:
            email = f"{first}.{last}{suffix}@{domain}".lower()
            suffix += 1
        used_emails.add(email)
        role = "owner" if index in (0, 1) else "free-owner" if index == 2 else "member"
        persona = _make_persona(rng, idle=index == idle)
        monthly = rng.choice((None, None, 100, 200, 500))
        override = rng.choice((0, 0, 0, 0, 150, 300))
        effective = override or monthly or rng.choice((250, 250, None))
        joined = epoch_ms - rng.randint(60, 400) * DAY_MS
        if index == late_joiner:
            joined = epoch_ms - 2 * DAY_MS + 9 * HOUR_MS
        members.append(
            Member(
                index=index,
                string_id=random_id(rng, "user_", 26),
                int_id=100_000 + rng.randint(0, 899_999) * 10 + index % 10,
                name=None if index == 3 and count >= 5 else f"{first} {last}",
                email=email,
                role=role if index not in removed else "member",
                is_removed=index in removed,
                joined_ms=joined,
                removed_ms=epoch_ms - 20 * DAY_MS if index in removed else None,
                persona=persona,
                monthly_limit_dollars=monthly,
                hard_limit_override_dollars=override,
                effective_limit_dollars=effective,
                client_version=rng.choice(CLIENT_VERSIONS),
            )
        )
    return members


def _make_persona(rng: random.Random, idle: bool) -> Persona:
    if idle:
        kind, activity, share = "idle", 0.0, 0.0
    else:
        kind, activity, share = rng.choices(
            (("heavy", 2.5, 0.55), ("regular", 1.0, 0.3), ("light", 0.3, 0.1)), weights=(2, 5, 3)
        )[0]
    favourites = (*rng.sample(sorted(MODELS), 3), "default")
    return Persona(kind, activity, share, favourites, rng.choice((-8, -5, 0, 1, 2, 5)))


def make_service_accounts(rng: random.Random) -> list[ServiceAccount]:
    return [
        ServiceAccount(
            random_id(rng, "sa_", 12),
            "Nightly CI Agent",
            "nightly-ci@serviceaccount.cursor.com",
            frozenset({1, 2, 3}),
            weekdays_only=False,
            events_per_hour=4.0,
        ),
        ServiceAccount(
            random_id(rng, "sa_", 12),
            "Release Bot",
            "release-bot@serviceaccount.cursor.com",
            frozenset({14, 15}),
            weekdays_only=True,
            events_per_hour=2.0,
        ),
    ]


def billing_group_index(member: Member) -> int | None:
    """Index in ``GROUP_NAMES`` of a member's billing group; ``None`` is the reserved Unassigned group."""
    slot = member.index % (len(GROUP_NAMES) + 1)
    return None if slot == len(GROUP_NAMES) else slot
