"""Source ``members``: the roster as seats by role, removed members counted apart."""

from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.members import TEAM_MEMBERS, TEAM_REMOVED_MEMBERS, Member, MembersSource
from tests.unit.sources.helpers import expose, head, snapshot

ROSTER = (
    Member(email="ann@x.io", role="owner"),
    Member(email="bob@x.io", role="member"),
    Member(email="cy@y.io", role="member"),
    Member(email="dee@x.io", role="member", is_removed=True),
    Member(email="eve@x.io", role="free-owner"),
    Member(email="fay@x.io", role="owner", is_removed=True),
)


def test_without_a_roster_nothing_is_rendered():
    assert expose(MembersSource, snapshot({"members": None})) == ""


def test_current_members_are_counted_by_role_in_role_order_and_removed_ones_apart():
    assert expose(MembersSource, snapshot({"members": ROSTER})) == (
        head(TEAM_MEMBERS)
        + 'cursor_team_members{role="free-owner"} 1.0\n'
        + 'cursor_team_members{role="member"} 2.0\n'
        + 'cursor_team_members{role="owner"} 1.0\n'
        + head(TEAM_REMOVED_MEMBERS)
        + "cursor_team_removed_members 2.0\n"
    )


def test_an_empty_roster_has_no_role_series_and_zero_removed():
    assert expose(MembersSource, snapshot({"members": ()})) == (
        head(TEAM_MEMBERS) + head(TEAM_REMOVED_MEMBERS) + "cursor_team_removed_members 0.0\n"
    )


def test_the_roster_has_no_per_user_series_so_user_mode_none_changes_nothing():
    assert expose(MembersSource, snapshot({"members": ROSTER[:2]}), LabelPolicy(user_mode="none")) == (
        head(TEAM_MEMBERS)
        + 'cursor_team_members{role="member"} 1.0\n'
        + 'cursor_team_members{role="owner"} 1.0\n'
        + head(TEAM_REMOVED_MEMBERS)
        + "cursor_team_removed_members 0.0\n"
    )
