"""The team's audit log (``/teams/audit-logs``): deterministic events and their served shape.

Conventions (deterministic, per team seed and UTC day, memoised):

* Roster events: ``add_user`` at every member's join time and ``remove_user`` at every
  removal. Members of the directory-synced billing group (Engineering) and members no
  other owner could have added are provisioned by ``System`` (``application_type`` ``""``,
  method ``scim``); the others by the first owner who is a member at that moment
  (``cursor``, method ``manual``).
* Other events: Poisson(``events_per_day``) per UTC day (x0.3 at weekends), mostly
  ``login`` of a current member; admin actions by a current owner (``update_user_role``,
  ``team_settings``, ``team_api_key``, ``privacy_mode``, ``bugbot_*``); ``user_spend_limit``
  by an owner or through the Admin API (``user_email`` ``Api Key: <name>``,
  ``application_type`` ``""``); ``grok_bot_*`` by ``Bot: Grok`` (``grok_bot``). Events
  that need an actor nobody can be at that moment are left out.
* ``event_id``: ``evt_`` + 24 letters and digits, unique and stable. IP addresses come from
  the documentation ranges; members keep theirs, ``System`` and bots have ``""``.
* Arrival: an event is served once ``now >= timestamp + delay``; the delay is under 30 s,
  or 1-5 min for ~10 % of events (always drawn; 0 with late arrivals off).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .catalog import REPO_NAMES
from .draws import poisson, random_id
from .memo import Memo
from .roster import DIRECTORY_GROUP_INDEX, Member, billing_group_index
from .team import Team
from .timefmt import iso
from .units import DAY_MS, utc_weekday

SYSTEM = "System"
GROK_BOT = "Bot: Grok"
API_KEY_NAMES = ("terraform", "billing-sync", "okta-provisioning")
SETTINGS = {
    "team_settings": ("allowed_models", "auto_run_mode", "repo_blocklist", "usage_based_pricing", "mcp_allowlist"),
    "bugbot_settings": ("auto_review", "review_drafts"),
}
LOGIN_METHODS = ("sso", "sso", "google", "github", "email")
SPEND_LIMITS_DOLLARS = (100, 150, 200, 300, 500)
# Weights of the non-roster event types (roster events follow join and removal dates).
EVENT_WEIGHTS = {
    "login": 70.0,
    "user_spend_limit": 6.0,
    "team_settings": 4.0,
    "update_user_role": 3.0,
    "bugbot_repo_enabled": 3.0,
    "bugbot_settings": 2.0,
    "team_api_key": 2.0,
    "grok_bot_settings": 2.0,
    "grok_bot_install": 1.0,
    "privacy_mode": 1.0,
}


@dataclass(frozen=True)
class AuditEvent:
    """One audit-log event with its hidden arrival time."""

    event_id: str
    timestamp_ms: int
    ip_address: str
    user_email: str
    event_type: str
    application_type: str
    event_data: dict
    visible_at_ms: int

    def served(self) -> dict:
        """The event as ``/teams/audit-logs`` serves it (snake_case keys, ISO timestamp)."""
        return {
            "event_id": self.event_id,
            "timestamp": iso(self.timestamp_ms),
            "ip_address": self.ip_address,
            "user_email": self.user_email,
            "event_type": self.event_type,
            "application_type": self.application_type,
            "event_data": dict(self.event_data),
        }


@dataclass(frozen=True)
class _Draft:
    timestamp_ms: int
    user_email: str
    ip_address: str
    event_type: str
    application_type: str
    event_data: dict


class AuditLog:
    """Audit events of one team, generated per UTC day from ``random.Random(f"{seed}:audit:{day}")``."""

    def __init__(self, team: Team, events_per_day: float, late_arrivals: bool = True) -> None:
        self.team = team
        self.events_per_day = events_per_day
        self.late_arrivals = late_arrivals
        rng = random.Random(f"{team.seed}:audit")
        self.member_ips = {m.index: f"203.0.113.{rng.randrange(1, 255)}" for m in team.members}
        self.api_key_ips = {name: f"198.51.100.{rng.randrange(1, 255)}" for name in API_KEY_NAMES}
        self._days: Memo[int, tuple[AuditEvent, ...]] = Memo(self._generate_day)
        self._builders: dict[str, Callable[[random.Random, int, str], _Draft | None]] = {
            "login": self._login,
            "user_spend_limit": self._spend_limit,
            "update_user_role": self._role_update,
            "grok_bot_settings": self._grok_bot,
            "grok_bot_install": self._grok_bot,
        }

    def events_on(self, day_ms: int) -> tuple[AuditEvent, ...]:
        """All events (visible or not) of the UTC day starting at ``day_ms``, oldest first."""
        return self._days(day_ms // DAY_MS * DAY_MS)

    def events_between(self, start_ms: int, end_ms: int) -> Iterator[AuditEvent]:
        """Events with ``start_ms <= timestamp <= end_ms``, oldest first."""
        for day in range(start_ms // DAY_MS * DAY_MS, end_ms // DAY_MS * DAY_MS + 1, DAY_MS):
            for event in self.events_on(day):
                if start_ms <= event.timestamp_ms <= end_ms:
                    yield event

    # -- generation -------------------------------------------------------------------------------

    def _generate_day(self, day_ms: int) -> tuple[AuditEvent, ...]:
        rng = random.Random(f"{self.team.seed}:audit:{day_ms // DAY_MS}")
        drafts: list[_Draft] = []
        for member in self.team.members:
            for event_type, moment in (("add_user", member.joined_ms), ("remove_user", member.removed_ms)):
                if moment is not None and day_ms <= moment < day_ms + DAY_MS:
                    drafts.append(self._roster_event(event_type, member, moment))
        mean = self.events_per_day * (0.3 if utc_weekday(day_ms) >= 5 else 1.0)
        types, weights = list(EVENT_WEIGHTS), list(EVENT_WEIGHTS.values())
        for _ in range(poisson(rng, mean)):
            timestamp = day_ms + rng.randrange(DAY_MS)
            event_type = rng.choices(types, weights)[0]
            draft = self._builders.get(event_type, self._admin_action)(rng, timestamp, event_type)
            if draft is not None:
                drafts.append(draft)
        drafts.sort(key=lambda draft: draft.timestamp_ms)  # stable: same-ms events keep generation order
        events = []
        for draft in drafts:
            # Drawn for every event so toggling late arrivals never shifts other events.
            event_id = random_id(rng, "evt_", 24)
            roll, quick_ms, slow_ms = rng.random(), rng.randrange(30_000), rng.randrange(60_000, 300_000)
            delay = (slow_ms if roll < 0.1 else quick_ms) if self.late_arrivals else 0
            events.append(
                AuditEvent(
                    event_id=event_id,
                    timestamp_ms=draft.timestamp_ms,
                    ip_address=draft.ip_address,
                    user_email=draft.user_email,
                    event_type=draft.event_type,
                    application_type=draft.application_type,
                    event_data=draft.event_data,
                    visible_at_ms=draft.timestamp_ms + delay,
                )
            )
        return tuple(events)

    def _members_at(self, ms: int, owners: bool = False) -> list[Member]:
        return [m for m in self.team.members if m.is_member_at(ms) and (not owners or m.role == "owner")]

    def _by_member(self, member: Member, ms: int, event_type: str, data: dict) -> _Draft:
        return _Draft(ms, member.email, self.member_ips[member.index], event_type, "cursor", data)

    def _by_owner(self, rng: random.Random, ms: int, event_type: str, data: dict) -> _Draft | None:
        owners = self._members_at(ms, owners=True)
        return self._by_member(rng.choice(owners), ms, event_type, data) if owners else None

    def _roster_event(self, event_type: str, member: Member, ms: int) -> _Draft:
        owners = [m for m in self._members_at(ms, owners=True) if m.index != member.index]
        if owners and billing_group_index(member) != DIRECTORY_GROUP_INDEX:
            return self._by_member(owners[0], ms, event_type, {"email": member.email, "method": "manual"})
        return _Draft(ms, SYSTEM, "", event_type, "", {"email": member.email, "method": "scim"})

    def _target(self, rng: random.Random, ms: int) -> Member | None:
        members = self._members_at(ms)
        return rng.choice(members) if members else None

    def _login(self, rng: random.Random, ms: int, event_type: str) -> _Draft | None:
        member = self._target(rng, ms)
        method = rng.choice(LOGIN_METHODS)
        return None if member is None else self._by_member(member, ms, event_type, {"method": method})

    def _spend_limit(self, rng: random.Random, ms: int, event_type: str) -> _Draft | None:
        target = self._target(rng, ms)
        key = rng.choice(API_KEY_NAMES) if rng.random() < 0.5 else None
        if target is None:
            return None
        data = {"email": target.email, "hard_limit_dollars": rng.choice(SPEND_LIMITS_DOLLARS)}
        if key is None:
            return self._by_owner(rng, ms, event_type, data)
        return _Draft(ms, f"Api Key: {key}", self.api_key_ips[key], event_type, "", data)

    def _role_update(self, rng: random.Random, ms: int, event_type: str) -> _Draft | None:
        target = self._target(rng, ms)
        if target is None:
            return None
        data = {"email": target.email, "role": rng.choice(("member", "free-owner", "owner"))}
        return self._by_owner(rng, ms, event_type, data)

    def _admin_action(self, rng: random.Random, ms: int, event_type: str) -> _Draft | None:
        """A settings change by a current owner; ``event_data`` depends on the type."""
        if event_type == "team_api_key":
            data: dict = {"action": rng.choice(("created", "revoked")), "name": rng.choice(API_KEY_NAMES)}
        elif event_type == "bugbot_repo_enabled":
            data = {"repo": rng.choice(REPO_NAMES)}
        elif event_type == "privacy_mode":
            data = {"enabled": rng.random() < 0.8}
        else:  # team_settings, bugbot_settings
            data = {"setting": rng.choice(SETTINGS[event_type]), "enabled": rng.random() < 0.7}
        return self._by_owner(rng, ms, event_type, data)

    def _grok_bot(self, rng: random.Random, ms: int, event_type: str) -> _Draft:
        return _Draft(ms, GROK_BOT, "", event_type, "grok_bot", {"repo": rng.choice(REPO_NAMES)})
