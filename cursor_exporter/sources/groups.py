"""Source ``groups`` (Enterprise): /teams/groups, billing groups: cycle spend and members per group, and
user-to-group info for joins. A 403 marks the feature unavailable and hides the families."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import Metric
from pydantic import Field

from cursor_exporter.api.client import ApiError
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Count, Email, OpaqueId, Record, TotalCents, iso_ms
from cursor_exporter.money import ZERO, dollars
from cursor_exporter.sources.base import Snapshot, Source, SourceContext
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import OTHER_USER, LabelPolicy

TEAM_GROUPS = Endpoint("GET", "/teams/groups")
STATE_KEY = "groups"


class GroupMember(Record):
    """A current member of a billing group."""

    email: Email = ""
    spend_cents: TotalCents = Field(ZERO, alias="spendCents")


class BillingGroup(Record):
    """One billing group of /teams/groups (``unassignedGroup`` included)."""

    id: OpaqueId = None
    name: str = "unknown"
    member_count: Count = Field(0, alias="memberCount")
    spend_cents: TotalCents = Field(ZERO, alias="spendCents")
    current_members: tuple[GroupMember, ...] = Field((), alias="currentMembers")


@dataclass(frozen=True)
class GroupsReport:
    """/teams/groups for the current billing cycle."""

    cycle_start_ms: int | None
    cycle_end_ms: int | None
    groups: tuple[BillingGroup, ...]


GROUP_CYCLE_SPEND_USD = Family(
    "cursor_group_cycle_spend_usd",
    "gauge",
    ("group",),
    "On-demand spend of a billing group in the current cycle in US dollars.",
    "/teams/groups: spendCents / 100",
)

GROUP_MEMBERS = Family(
    "cursor_group_members",
    "gauge",
    ("group",),
    "Current members of a billing group.",
    "/teams/groups: memberCount",
)

USER_GROUP_INFO = Family(
    "cursor_user_group_info",
    "gauge",
    ("user", "group"),
    "Always 1: the user's billing group, for joins with any per-user family "
    "(`* on (user) group_left(group) cursor_user_group_info`).",
    "/teams/groups: currentMembers",
    per_user=True,
)


class GroupsSource(Source):
    """Polls /teams/groups: every group, ``unassignedGroup`` included, with the cycle bounds."""

    name = "groups"
    order = 90
    reads = ("usage",)  # the team cap's picks
    help = "/teams/groups (Enterprise): spend and members per group."
    interval_s = 900.0
    endpoints = (TEAM_GROUPS,)
    feature = "billing_groups"
    families = (GROUP_CYCLE_SPEND_USD, GROUP_MEMBERS, USER_GROUP_INFO)

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        self._report = context.store.get_json(
            STATE_KEY,
            lambda saved: GroupsReport(
                saved["cycle_start_ms"],
                saved["cycle_end_ms"],
                tuple(BillingGroup.model_validate(row) for row in saved["groups"]),
            ),
        )

    @property
    def restored(self) -> bool:
        return self._report is not None

    def fetch(self) -> None:
        client = self.context.client
        body = client.request(TEAM_GROUPS.method, TEAM_GROUPS.path)
        if not isinstance(body, dict):
            raise ApiError(TEAM_GROUPS.path, 200, "response is not a JSON object")
        rows = list(body.get("groups") or [])
        if isinstance(body.get("unassignedGroup"), dict):
            rows.append(body["unassignedGroup"])
        cycle = body.get("billingCycle") or {}
        report = GroupsReport(
            iso_ms(cycle.get("cycleStart")),
            iso_ms(cycle.get("cycleEnd")),
            tuple(client.parse_rows(TEAM_GROUPS.path, BillingGroup, rows)),
        )
        self.context.store.set_json(
            STATE_KEY,
            {
                "cycle_start_ms": report.cycle_start_ms,
                "cycle_end_ms": report.cycle_end_ms,
                "groups": [group.model_dump(mode="json", by_alias=True) for group in report.groups],
            },
        )
        self._report = report

    def state(self) -> GroupsReport | None:
        return self._report

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        report: GroupsReport | None = snapshot.part(cls.name)
        if report is None:
            return
        spend = GROUP_CYCLE_SPEND_USD.new()
        members = GROUP_MEMBERS.new()
        info = USER_GROUP_INFO.new()
        seen: set[tuple[str, str]] = set()
        for group in sorted(report.groups, key=lambda group: group.name):
            spend.add_metric((group.name,), dollars(group.spend_cents))
            members.add_metric((group.name,), group.member_count)
            if not labels.per_user:
                continue
            for member in group.current_members:
                user = labels.user(member.email, snapshot.tracked_users)
                if user != OTHER_USER and (user, group.name) not in seen:
                    seen.add((user, group.name))
                    info.add_metric((user, group.name), 1)
        yield from (spend, members)
        if labels.per_user:
            yield info
