"""Source ``members``: /teams/members, the roster: seats by role, with removed members counted apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import Metric
from pydantic import Field

from cursor_exporter.api.client import CursorClient
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Email, OpaqueId, Record
from cursor_exporter.sources.base import Snapshot, Source, SourceContext
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy

TEAM_MEMBERS_ENDPOINT = Endpoint("GET", "/teams/members")
STATE_KEY = "members"


class Member(Record):
    """One row of ``teamMembers`` from /teams/members."""

    id: OpaqueId = None
    name: str | None = None
    email: Email = ""
    role: str = "unknown"
    is_removed: bool = Field(False, alias="isRemoved")


TEAM_MEMBERS = Family(
    "cursor_team_members",
    "gauge",
    ("role",),
    "Current team members by role; removed members are not counted.",
    "/teams/members: rows with isRemoved false, by role",
)

TEAM_REMOVED_MEMBERS = Family(
    "cursor_team_removed_members",
    "gauge",
    (),
    "Members listed as removed; they hold no seat.",
    "/teams/members: rows with isRemoved true",
)


def fetch_members(client: CursorClient) -> list[Member]:
    """Every row of /teams/members, removed members included."""
    body = client.request(TEAM_MEMBERS_ENDPOINT.method, TEAM_MEMBERS_ENDPOINT.path)
    rows = body.get("teamMembers") if isinstance(body, dict) else None
    return client.parse_rows(TEAM_MEMBERS_ENDPOINT.path, Member, rows)


class MembersSource(Source):
    """Polls /teams/members: every row, removed members included."""

    name = "members"
    order = 30
    help = "/teams/members: seats by role."
    interval_s = 3600.0
    endpoints = (TEAM_MEMBERS_ENDPOINT,)
    families = (TEAM_MEMBERS, TEAM_REMOVED_MEMBERS)

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        self._members = context.store.get_json(STATE_KEY, lambda saved: tuple(map(Member.model_validate, saved)))

    @property
    def restored(self) -> bool:
        return self._members is not None

    def fetch(self) -> None:
        members = tuple(fetch_members(self.context.client))
        self.context.store.set_json(STATE_KEY, [member.model_dump(mode="json", by_alias=True) for member in members])
        self._members = members

    def state(self) -> tuple[Member, ...] | None:
        return self._members

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        members: tuple[Member, ...] | None = snapshot.part(cls.name)
        if members is None:
            return
        roles = Counter(member.role for member in members if not member.is_removed)
        by_role = TEAM_MEMBERS.new()
        for role, count in sorted(roles.items()):
            by_role.add_metric((role,), count)
        removed = TEAM_REMOVED_MEMBERS.new()
        removed.add_metric((), sum(1 for member in members if member.is_removed))
        yield from (by_role, removed)
