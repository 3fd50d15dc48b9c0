"""Source ``spend``: /teams/spend, every page: per-user and team spend of the current billing cycle,
spend limits, and the billing-cycle start every cycle-based source needs (the shared provider)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client.core import Metric
from pydantic import Field

from cursor_exporter.api.client import ApiError
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Email, LimitDollars, OpaqueId, Record, TotalCents, period_start_ms
from cursor_exporter.money import ZERO, dollars, sum_cents
from cursor_exporter.sources.base import Snapshot, Source
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import OTHER_USER, LabelPolicy

TEAM_SPEND = Endpoint("POST", "/teams/spend")
SPEND_PAGE_SIZE = 100
STATE_KEY = "spend"


class MemberSpend(Record):
    """One row of ``teamMemberSpend`` from /teams/spend."""

    user_id: OpaqueId = Field(None, alias="userId")
    email: Email = ""
    role: str | None = None
    spend_cents: TotalCents = Field(ZERO, alias="spendCents")
    overall_spend_cents: TotalCents | None = Field(None, alias="overallSpendCents")
    effective_limit_dollars: LimitDollars | None = Field(None, alias="effectivePerUserLimitDollars")


@dataclass(frozen=True)
class SpendReport:
    """/teams/spend for the current cycle, all pages."""

    cycle_start_ms: int
    members: tuple[MemberSpend, ...]


BILLING_CYCLE_START_TIMESTAMP_SECONDS = Family(
    "cursor_billing_cycle_start_timestamp_seconds",
    "gauge",
    (),
    "Start of the current billing cycle, Unix seconds.",
    "/teams/spend: subscriptionCycleStart / 1000",
)

TEAM_SPEND_USD = Family(
    "cursor_team_spend_usd",
    "gauge",
    (),
    "On-demand spend of the whole team in the current cycle in US dollars, as Cursor reports it.",
    "/teams/spend: sum of spendCents / 100",
)

TEAM_OVERALL_SPEND_USD = Family(
    "cursor_team_overall_spend_usd",
    "gauge",
    (),
    "On-demand plus included spend of the whole team in the current cycle in US dollars.",
    "/teams/spend: sum of overallSpendCents / 100",
)

USER_SPEND_USD = Family(
    "cursor_user_spend_usd",
    "gauge",
    ("user",),
    "On-demand spend per user in the current cycle in US dollars.",
    "/teams/spend: spendCents / 100",
    per_user=True,
)

USER_OVERALL_SPEND_USD = Family(
    "cursor_user_overall_spend_usd",
    "gauge",
    ("user",),
    "On-demand plus included spend per user in the current cycle in US dollars.",
    "/teams/spend: overallSpendCents / 100",
    per_user=True,
)

USER_SPEND_LIMIT_USD = Family(
    "cursor_user_spend_limit_usd",
    "gauge",
    ("user",),
    "Spend limit Cursor enforces for the user in US dollars; absent when none is reported.",
    "/teams/spend: effectivePerUserLimitDollars",
    per_user=True,
)


def page_count(body: dict) -> int:
    """``totalPages``, trusted only as far as ``totalMembers`` bears it out: a page count that could never be
    full (a billion pages for 15 members) or is no number at all ends the paging instead of running on."""
    members, pages = body.get("totalMembers"), body.get("totalPages")
    from_members = -(-members // SPEND_PAGE_SIZE) if type(members) is int and members >= 0 else None
    if type(pages) is not int:
        return from_members or 1
    return pages if from_members is None else min(pages, from_members + 1)


class SpendSource(Source):
    """Polls /teams/spend (all pages) and records the cycle start it reports."""

    name = "spend"
    order = 20
    reads = ("usage",)  # the team cap's picks
    help = "/teams/spend: per-user cycle spend and limits."
    interval_s = 900.0
    endpoints = (TEAM_SPEND,)
    families = (
        BILLING_CYCLE_START_TIMESTAMP_SECONDS,
        TEAM_SPEND_USD,
        TEAM_OVERALL_SPEND_USD,
        USER_SPEND_USD,
        USER_OVERALL_SPEND_USD,
        USER_SPEND_LIMIT_USD,
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._report = context.store.get_json(
            STATE_KEY,
            lambda saved: SpendReport(
                saved["cycle_start_ms"], tuple(map(MemberSpend.model_validate, saved["members"]))
            ),
        )

    @property
    def restored(self) -> bool:
        return self._report is not None

    def fetch(self) -> None:
        client = self.context.client
        rows: list[MemberSpend] = []
        page = 1
        cycle_start = None
        while True:
            body = client.request("POST", TEAM_SPEND.path, {"page": page, "pageSize": SPEND_PAGE_SIZE})
            if not isinstance(body, dict):
                raise ApiError(TEAM_SPEND.path, 200, "response is not a JSON object")
            rows.extend(client.parse_rows(TEAM_SPEND.path, MemberSpend, body.get("teamMemberSpend")))
            if cycle_start is None and body.get("subscriptionCycleStart") is not None:
                cycle_start = self._cycle_start(body["subscriptionCycleStart"])
                # Usage needs only this, and need not wait for a large team's other pages at 10 a minute.
                self.context.shared.set_cycle_start(cycle_start)
            if page == 1 and type(body.get("totalMembers")) is int:
                self.context.shared.team_size = body["totalMembers"]
            if page >= page_count(body) or not body.get("teamMemberSpend"):
                break
            page += 1
        if cycle_start is None:
            raise ApiError(TEAM_SPEND.path, 200, "response has no subscriptionCycleStart")
        report = SpendReport(cycle_start, tuple(rows))
        self.context.store.set_json(
            STATE_KEY,
            {"cycle_start_ms": cycle_start, "members": [r.model_dump(mode="json", by_alias=True) for r in rows]},
        )
        self._report = report

    def _cycle_start(self, value: object) -> int:
        """The reported cycle start, or an ApiError when it cannot be one (before 2023, or in the future)."""
        try:
            return period_start_ms(value, self.context.clock_ms())
        except ValueError as error:
            raise ApiError(TEAM_SPEND.path, 200, f"subscriptionCycleStart {error}") from None

    def state(self) -> SpendReport | None:
        return self._report

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        report: SpendReport | None = snapshot.part(cls.name)
        if report is None:
            return
        cycle_start = BILLING_CYCLE_START_TIMESTAMP_SECONDS.new()
        cycle_start.add_metric((), report.cycle_start_ms / 1000)
        team_spend = TEAM_SPEND_USD.new()
        team_spend.add_metric((), dollars(sum_cents(row.spend_cents for row in report.members)))
        team_overall = TEAM_OVERALL_SPEND_USD.new()
        team_overall.add_metric((), dollars(sum_cents(row.overall_spend_cents or ZERO for row in report.members)))
        yield from (cycle_start, team_spend, team_overall)
        if not labels.per_user:
            return
        spend: dict[str, Decimal] = defaultdict(Decimal)
        overall: dict[str, Decimal] = defaultdict(Decimal)
        limit = USER_SPEND_LIMIT_USD.new()
        for row in sorted(report.members, key=lambda row: row.email):
            user = labels.user(row.email, snapshot.tracked_users)
            spend[user] += row.spend_cents
            if row.overall_spend_cents is not None:
                overall[user] += row.overall_spend_cents
            # A limit is per person: it has no meaning for a folded or shared label.
            if row.effective_limit_dollars is not None and user != OTHER_USER and labels.user_mode != "domain":
                limit.add_metric((user,), float(row.effective_limit_dollars))
        spend_family = USER_SPEND_USD.new()
        for user, cents in sorted(spend.items()):
            spend_family.add_metric((user,), dollars(cents))
        overall_family = USER_OVERALL_SPEND_USD.new()
        for user, cents in sorted(overall.items()):
            overall_family.add_metric((user,), dollars(cents))
        yield from (spend_family, overall_family, limit)
