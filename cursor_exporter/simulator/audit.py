"""Audit logs as ``/teams/audit-logs`` selects them, and their ground truth.

Filters (AND-combined): ``eventTypes`` keeps the listed types (exact, open set);
``users`` keeps events whose ``user_email`` is one of the entries, where an entry is an
email (any case) or a member's ``user_…``/numeric id, or a pseudo-user such as ``System``;
``search`` keeps events with the text (any case) in ``user_email``, ``event_type``,
``ip_address`` or a string value of ``event_data``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .auditlog import AuditEvent
from .units import DAY_MS
from .world import World

DEFAULT_AUDIT_RANGE_MS = 7 * DAY_MS


def user_emails(world: World, users: Iterable[str]) -> set[str]:
    """Lower-cased emails of ``users`` entries (emails, member ids or pseudo-users)."""
    by_id = {}
    for member in world.team.members:
        by_id[member.string_id.lower()] = by_id[str(member.int_id)] = member.email
    return {by_id.get(user.strip().lower(), user.strip().lower()) for user in users}


def _found(event: AuditEvent, needle: str) -> bool:
    texts = [event.user_email, event.event_type, event.ip_address]
    texts.extend(value for value in event.event_data.values() if isinstance(value, str))
    return any(needle in text.lower() for text in texts)


def select_audit_events(
    world: World,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    event_types: set[str] | None = None,
    users: set[str] | None = None,
    search: str | None = None,
) -> list[AuditEvent]:
    """Visible audit events in ``[start_ms, end_ms]`` matching the filters, oldest first."""
    emails = None if users is None else user_emails(world, users)
    needle = None if not search else search.strip().lower()
    return [
        event
        for event in world.visible_audit_events(start_ms, end_ms, now_ms)
        if (event_types is None or event.event_type in event_types)
        and (emails is None or event.user_email.lower() in emails)
        and (needle is None or _found(event, needle))
    ]


def truth_audit(world: World, start_ms: int | None, end_ms: int | None) -> dict:
    """See ``Simulator.truth_audit``; the range defaults to the last 7 days."""
    now = world.now_ms()
    start = now - DEFAULT_AUDIT_RANGE_MS if start_ms is None else int(start_ms)
    end = now if end_ms is None else int(end_ms)
    events = world.visible_audit_events(start, end, now)
    counts = Counter((event.event_type, event.application_type) for event in events)
    return {
        "now": now,
        "startDate": start,
        "endDate": end,
        "events": [event.served() for event in events],
        "counts": dict(sorted(counts.items())),
    }


def truth_audit_json(world: World, start_ms: int | None, end_ms: int | None) -> dict:
    """``truth_audit`` as ``GET /_sim/truth/audit`` serves it: ``counts`` as a sorted list of
    ``{"eventType", "applicationType", "events"}`` (JSON has no tuple keys)."""
    result = truth_audit(world, start_ms, end_ms)
    result["counts"] = [
        {"eventType": event_type, "applicationType": application_type, "events": count}
        for (event_type, application_type), count in result["counts"].items()
    ]
    return result
