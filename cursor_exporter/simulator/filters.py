"""What the team and organization events routes share: their AND filters and their page envelope."""

from __future__ import annotations

import math

from .events import UsageEvent
from .jsonbody import EncodedArray
from .team import Team

MAX_EVENTS_PAGE_SIZE = 1000
FILTER_KEYS = ("email", "userId", "serviceAccountId", "cloudAgentId", "automationId")  # what event_matches reads


def _matches(value: str | None, wanted: object) -> bool:
    if wanted == "*":
        return bool(value)
    return value is not None and value == str(wanted)


def event_matches(team: Team, event: UsageEvent, body: dict, hosting: str | None) -> bool:
    """The events routes' AND-combined filters (email, userId, serviceAccountId, cloudAgentId,
    automationId, hostingType); ``*`` matches any non-empty value."""
    email = body.get("email")
    if email is not None and not (email == "*" or str(email).lower() == event.email):
        return False
    user_id = body.get("userId")
    if user_id is not None:
        if event.member_index is None:
            return False
        member = team.members[event.member_index]
        if user_id != "*" and str(user_id) not in (str(member.int_id), member.string_id):
            return False
    for key, value in (
        ("serviceAccountId", event.service_account_id),
        ("cloudAgentId", event.cloud_agent_id),
        ("automationId", event.automation_id),
    ):
        if body.get(key) is not None and not _matches(value, body[key]):
            return False
    return hosting is None or event.hosting_type == hosting


def filters_anything(body: dict, hosting: str | None) -> bool:
    """Whether ``event_matches`` can turn down any event for this body (else it matches them all)."""
    return hosting is not None or any(body.get(key) is not None for key in FILTER_KEYS)


def events_page(total: int, page: int, page_size: int, rows: list[dict] | EncodedArray) -> dict:
    """``totalUsageEventsCount`` and ``pagination`` (numPages/currentPage) around one page of rows."""
    num_pages = math.ceil(total / page_size)
    return {
        "totalUsageEventsCount": total,
        "pagination": {
            "numPages": num_pages,
            "currentPage": page,
            "pageSize": page_size,
            "hasNextPage": page < num_pages,
            "hasPreviousPage": page > 1,
        },
        "usageEvents": rows,
    }
