"""Source ``spend``: /teams/spend's cycle start, team spend and per-user spend and limits."""

import pytest

from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.spend import (
    BILLING_CYCLE_START_TIMESTAMP_SECONDS,
    TEAM_OVERALL_SPEND_USD,
    TEAM_SPEND_USD,
    USER_OVERALL_SPEND_USD,
    USER_SPEND_LIMIT_USD,
    USER_SPEND_USD,
    MemberSpend,
    SpendReport,
    SpendSource,
    page_count,
)
from tests.unit.sources.helpers import D, expose, head, snapshot

# Listed out of order; cy reports no overall spend, bob no limit.
REPORT = SpendReport(
    cycle_start_ms=1_700_000_000_000,
    members=(
        MemberSpend(email="cy@y.io", spend_cents=D("1000"), effective_limit_dollars=D("12.5")),
        MemberSpend(
            email="ann@x.io", spend_cents=D("0.1"), overall_spend_cents=D("100.1"), effective_limit_dollars=D("50")
        ),
        MemberSpend(email="bob@x.io", spend_cents=D("0.2"), overall_spend_cents=D("200.2")),
    ),
)
# 1000 + 0.1 + 0.2 cents = $10.003; overall 100.1 + 200.2 cents (cy's missing one adds nothing) = $3.003.
TEAM = (
    head(BILLING_CYCLE_START_TIMESTAMP_SECONDS)
    + "cursor_billing_cycle_start_timestamp_seconds 1.7e+09\n"
    + head(TEAM_SPEND_USD)
    + "cursor_team_spend_usd 10.003\n"
    + head(TEAM_OVERALL_SPEND_USD)
    + "cursor_team_overall_spend_usd 3.003\n"
)


def test_without_a_report_nothing_is_rendered():
    assert expose(SpendSource, snapshot({"spend": None})) == ""


def test_per_user_spend_is_sorted_by_user_and_a_missing_overall_or_limit_has_no_series():
    assert expose(SpendSource, snapshot({"spend": REPORT})) == (
        TEAM
        + head(USER_SPEND_USD)
        + 'cursor_user_spend_usd{user="ann@x.io"} 0.001\n'
        + 'cursor_user_spend_usd{user="bob@x.io"} 0.002\n'
        + 'cursor_user_spend_usd{user="cy@y.io"} 10.0\n'
        + head(USER_OVERALL_SPEND_USD)
        + 'cursor_user_overall_spend_usd{user="ann@x.io"} 1.001\n'
        + 'cursor_user_overall_spend_usd{user="bob@x.io"} 2.002\n'
        + head(USER_SPEND_LIMIT_USD)
        + 'cursor_user_spend_limit_usd{user="ann@x.io"} 50.0\n'
        + 'cursor_user_spend_limit_usd{user="cy@y.io"} 12.5\n'
    )


def test_the_cap_folds_spend_into_other_exactly_and_exports_no_limit_for_other():
    snap = snapshot({"spend": REPORT}, tracked_users=frozenset({"cy@y.io"}))
    assert expose(SpendSource, snap) == (
        TEAM
        + head(USER_SPEND_USD)
        + 'cursor_user_spend_usd{user="__other__"} 0.003\n'
        + 'cursor_user_spend_usd{user="cy@y.io"} 10.0\n'
        + head(USER_OVERALL_SPEND_USD)
        + 'cursor_user_overall_spend_usd{user="__other__"} 3.003\n'
        + head(USER_SPEND_LIMIT_USD)
        + 'cursor_user_spend_limit_usd{user="cy@y.io"} 12.5\n'
    )


def test_domain_mode_sums_spend_per_domain_and_exports_no_limits():
    assert expose(SpendSource, snapshot({"spend": REPORT}), LabelPolicy(user_mode="domain")) == (
        TEAM
        + head(USER_SPEND_USD)
        + 'cursor_user_spend_usd{user="x.io"} 0.003\n'
        + 'cursor_user_spend_usd{user="y.io"} 10.0\n'
        + head(USER_OVERALL_SPEND_USD)
        + 'cursor_user_overall_spend_usd{user="x.io"} 3.003\n'
        + head(USER_SPEND_LIMIT_USD)
    )


def test_user_mode_none_renders_only_the_cycle_start_and_team_spend():
    assert expose(SpendSource, snapshot({"spend": REPORT}), LabelPolicy(user_mode="none")) == TEAM


@pytest.mark.parametrize(
    ("body", "pages"),
    [
        ({"totalPages": 3, "totalMembers": 250}, 3),
        ({"totalPages": 10**9, "totalMembers": 15}, 2),  # never more than the members fill, plus one
        ({"totalPages": "many", "totalMembers": 250}, 3),
        ({"totalPages": None}, 1),
        ({"totalPages": 4}, 4),
    ],
)
def test_spend_pages_as_far_as_the_member_count_bears_the_page_count_out(body, pages):
    assert page_count(body) == pages
