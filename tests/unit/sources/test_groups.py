"""Source ``groups``: billing groups' cycle spend and members, and the user-to-group info for joins."""

from cursor_exporter.sources.groups import (
    GROUP_CYCLE_SPEND_USD,
    GROUP_MEMBERS,
    USER_GROUP_INFO,
    BillingGroup,
    GroupMember,
    GroupsReport,
    GroupsSource,
)
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import D, expose, head, snapshot

# Listed out of order; "Unassigned" sorts before the lower-case names.
REPORT = GroupsReport(
    cycle_start_ms=None,
    cycle_end_ms=None,
    groups=(
        BillingGroup(
            name="platform",
            member_count=2,
            spend_cents=D("1234.5"),
            current_members=(GroupMember(email="ann@x.io"), GroupMember(email="bob@x.io")),
        ),
        BillingGroup(
            name="data", member_count=1, spend_cents=D("0.3"), current_members=(GroupMember(email="cy@y.io"),)
        ),
        BillingGroup(name="Unassigned"),
    ),
)
GROUPS = (
    head(GROUP_CYCLE_SPEND_USD)
    + 'cursor_group_cycle_spend_usd{group="Unassigned"} 0.0\n'
    + 'cursor_group_cycle_spend_usd{group="data"} 0.003\n'
    + 'cursor_group_cycle_spend_usd{group="platform"} 12.345\n'
    + head(GROUP_MEMBERS)
    + 'cursor_group_members{group="Unassigned"} 0.0\n'
    + 'cursor_group_members{group="data"} 1.0\n'
    + 'cursor_group_members{group="platform"} 2.0\n'
)


def test_without_a_report_nothing_is_rendered():
    assert expose(GroupsSource, snapshot({"groups": None})) == ""


def test_groups_are_sorted_by_name_and_each_member_gets_one_info_series_per_group():
    assert expose(GroupsSource, snapshot({"groups": REPORT})) == (
        GROUPS
        + head(USER_GROUP_INFO)
        + 'cursor_user_group_info{group="data",user="cy@y.io"} 1.0\n'
        + 'cursor_user_group_info{group="platform",user="ann@x.io"} 1.0\n'
        + 'cursor_user_group_info{group="platform",user="bob@x.io"} 1.0\n'
    )


def test_domain_mode_gives_one_info_series_per_domain_and_group():
    assert expose(GroupsSource, snapshot({"groups": REPORT}), LabelPolicy(user_mode="domain")) == (
        GROUPS
        + head(USER_GROUP_INFO)
        + 'cursor_user_group_info{group="data",user="y.io"} 1.0\n'
        + 'cursor_user_group_info{group="platform",user="x.io"} 1.0\n'
    )


def test_users_outside_the_cap_get_no_info_series_not_even_as_other():
    snap = snapshot({"groups": REPORT}, tracked_users=frozenset({"ann@x.io"}))
    assert expose(GroupsSource, snap) == (
        GROUPS + head(USER_GROUP_INFO) + 'cursor_user_group_info{group="platform",user="ann@x.io"} 1.0\n'
    )


def test_user_mode_none_drops_the_info_family():
    assert expose(GroupsSource, snapshot({"groups": REPORT}), LabelPolicy(user_mode="none")) == GROUPS
