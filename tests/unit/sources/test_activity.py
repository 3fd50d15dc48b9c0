"""Source ``activity``: daily-usage activity as cycle totals, active users and opt-in per-user figures."""

from types import MappingProxyType

from cursor_exporter.sources.activity import (
    ACTIVITY_ACTIVE_USERS,
    ACTIVITY_CYCLE_EDITS,
    ACTIVITY_CYCLE_LINES,
    ACTIVITY_CYCLE_REQUESTS,
    ACTIVITY_CYCLE_REQUESTS_BY_BILLING,
    ACTIVITY_CYCLE_TABS,
    ACTIVITY_USERS_BY_CLIENT_VERSION,
    ACTIVITY_USERS_BY_MODEL,
    COUNTERS,
    USER_ACTIVITY_CYCLE_ACCEPTED_LINES,
    USER_ACTIVITY_CYCLE_REQUESTS,
    USER_ACTIVITY_CYCLE_TABS_ACCEPTED,
    ActivitySource,
    ActivityView,
    drained,
)
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import expose, head, snapshot


def columns(**values: int) -> MappingProxyType:
    """Every ledger column, zero unless given."""
    return MappingProxyType({column: values.get(column, 0) for column in COUNTERS.values()})


TOTALS = columns(
    total_lines_added=1200,
    total_lines_deleted=300,
    accepted_lines_added=450,
    accepted_lines_deleted=50,
    applies=40,
    accepts=30,
    rejects=10,
    tabs_shown=900,
    tabs_accepted=250,
    composer_requests=11,
    chat_requests=12,
    agent_requests=13,
    cmdk_requests=14,
    bugbot_requests=15,
    included_requests=21,
    api_key_requests=22,
    usage_based_requests=23,
)
PER_USER = {
    # ann's total lines are not part of any per-user family.
    "ann@x.io": columns(
        accepted_lines_added=100,
        total_lines_added=999,
        composer_requests=1,
        chat_requests=2,
        agent_requests=3,
        cmdk_requests=4,
        bugbot_requests=5,
        included_requests=70,
        tabs_accepted=50,
    ),
    "bob@x.io": columns(accepted_lines_added=20, chat_requests=7, tabs_accepted=5),
    "cy@y.io": columns(agent_requests=9),
}
MODELS = {"gpt-5": 2, "claude-4.5-sonnet-thinking": 1, "claude-4.5-sonnet-20250929": 1}


def activity_snapshot(**fields):
    view = ActivityView(
        cycle_totals=TOTALS,
        active_users={28: 5, 1: 2, 7: 4},
        users_by_client_version={"unknown": 1, "1.7.2": 2, "1.6.0": 1},
        users_by_model=MODELS,
        per_user=PER_USER,
    )
    return snapshot({"activity": view}, **fields)


# Everything up to the models family; windows sort by days (1d, 7d, 28d), not as strings.
TEAM_BEFORE_MODELS = (
    head(ACTIVITY_ACTIVE_USERS)
    + 'cursor_activity_active_users{window="1d"} 2.0\n'
    + 'cursor_activity_active_users{window="7d"} 4.0\n'
    + 'cursor_activity_active_users{window="28d"} 5.0\n'
    + head(ACTIVITY_CYCLE_LINES)
    + 'cursor_activity_cycle_lines{change="added",scope="total"} 1200.0\n'
    + 'cursor_activity_cycle_lines{change="deleted",scope="total"} 300.0\n'
    + 'cursor_activity_cycle_lines{change="added",scope="accepted"} 450.0\n'
    + 'cursor_activity_cycle_lines{change="deleted",scope="accepted"} 50.0\n'
    + head(ACTIVITY_CYCLE_EDITS)
    + 'cursor_activity_cycle_edits{action="apply"} 40.0\n'
    + 'cursor_activity_cycle_edits{action="accept"} 30.0\n'
    + 'cursor_activity_cycle_edits{action="reject"} 10.0\n'
    + head(ACTIVITY_CYCLE_TABS)
    + 'cursor_activity_cycle_tabs{action="shown"} 900.0\n'
    + 'cursor_activity_cycle_tabs{action="accepted"} 250.0\n'
    + head(ACTIVITY_CYCLE_REQUESTS)
    + 'cursor_activity_cycle_requests{feature="composer"} 11.0\n'
    + 'cursor_activity_cycle_requests{feature="chat"} 12.0\n'
    + 'cursor_activity_cycle_requests{feature="agent"} 13.0\n'
    + 'cursor_activity_cycle_requests{feature="cmdk"} 14.0\n'
    + 'cursor_activity_cycle_requests{feature="bugbot"} 15.0\n'
    + head(ACTIVITY_CYCLE_REQUESTS_BY_BILLING)
    + 'cursor_activity_cycle_requests_by_billing{billing="included"} 21.0\n'
    + 'cursor_activity_cycle_requests_by_billing{billing="api_key"} 22.0\n'
    + 'cursor_activity_cycle_requests_by_billing{billing="usage_based"} 23.0\n'
    + head(ACTIVITY_USERS_BY_CLIENT_VERSION)
    + 'cursor_activity_users_by_client_version{version="1.6.0"} 1.0\n'
    + 'cursor_activity_users_by_client_version{version="1.7.2"} 2.0\n'
    + 'cursor_activity_users_by_client_version{version="unknown"} 1.0\n'
)
TEAM = (
    TEAM_BEFORE_MODELS
    + head(ACTIVITY_USERS_BY_MODEL)
    + 'cursor_activity_users_by_model{model="claude-4.5-sonnet-20250929"} 1.0\n'
    + 'cursor_activity_users_by_model{model="claude-4.5-sonnet-thinking"} 1.0\n'
    + 'cursor_activity_users_by_model{model="gpt-5"} 2.0\n'
)


def test_without_a_view_nothing_is_rendered():
    assert expose(ActivitySource, snapshot({"activity": None})) == ""


def test_team_families_are_rendered_in_fixed_order_and_per_user_ones_only_on_opt_in():
    assert expose(ActivitySource, activity_snapshot()) == TEAM


def test_the_model_map_sums_users_of_raw_models_mapped_to_one_name():
    labels = LabelPolicy(model_map={"claude-4.5-sonnet*": "claude-4.5-sonnet"})
    assert expose(ActivitySource, activity_snapshot(), labels) == (
        TEAM_BEFORE_MODELS
        + head(ACTIVITY_USERS_BY_MODEL)
        + 'cursor_activity_users_by_model{model="claude-4.5-sonnet"} 2.0\n'
        + 'cursor_activity_users_by_model{model="gpt-5"} 2.0\n'
    )


def test_opted_in_per_user_families_sum_accepted_lines_the_five_request_kinds_and_accepted_tabs():
    assert expose(ActivitySource, activity_snapshot(), LabelPolicy(per_user_activity=True)) == (
        TEAM
        + head(USER_ACTIVITY_CYCLE_ACCEPTED_LINES)
        + 'cursor_user_activity_cycle_accepted_lines{user="ann@x.io"} 100.0\n'
        + 'cursor_user_activity_cycle_accepted_lines{user="bob@x.io"} 20.0\n'
        + 'cursor_user_activity_cycle_accepted_lines{user="cy@y.io"} 0.0\n'
        + head(USER_ACTIVITY_CYCLE_REQUESTS)
        + 'cursor_user_activity_cycle_requests{user="ann@x.io"} 15.0\n'
        + 'cursor_user_activity_cycle_requests{user="bob@x.io"} 7.0\n'
        + 'cursor_user_activity_cycle_requests{user="cy@y.io"} 9.0\n'
        + head(USER_ACTIVITY_CYCLE_TABS_ACCEPTED)
        + 'cursor_user_activity_cycle_tabs_accepted{user="ann@x.io"} 50.0\n'
        + 'cursor_user_activity_cycle_tabs_accepted{user="bob@x.io"} 5.0\n'
        + 'cursor_user_activity_cycle_tabs_accepted{user="cy@y.io"} 0.0\n'
    )


def test_the_cap_folds_unpicked_users_per_user_activity_into_other():
    snap = activity_snapshot(tracked_users=frozenset({"ann@x.io"}))
    assert expose(ActivitySource, snap, LabelPolicy(per_user_activity=True)) == (
        TEAM
        + head(USER_ACTIVITY_CYCLE_ACCEPTED_LINES)
        + 'cursor_user_activity_cycle_accepted_lines{user="__other__"} 20.0\n'
        + 'cursor_user_activity_cycle_accepted_lines{user="ann@x.io"} 100.0\n'
        + head(USER_ACTIVITY_CYCLE_REQUESTS)
        + 'cursor_user_activity_cycle_requests{user="__other__"} 16.0\n'
        + 'cursor_user_activity_cycle_requests{user="ann@x.io"} 15.0\n'
        + head(USER_ACTIVITY_CYCLE_TABS_ACCEPTED)
        + 'cursor_user_activity_cycle_tabs_accepted{user="__other__"} 5.0\n'
        + 'cursor_user_activity_cycle_tabs_accepted{user="ann@x.io"} 50.0\n'
    )


def test_domain_mode_sums_per_user_activity_per_domain():
    labels = LabelPolicy(user_mode="domain", per_user_activity=True)
    assert expose(ActivitySource, activity_snapshot(), labels) == (
        TEAM
        + head(USER_ACTIVITY_CYCLE_ACCEPTED_LINES)
        + 'cursor_user_activity_cycle_accepted_lines{user="x.io"} 120.0\n'
        + 'cursor_user_activity_cycle_accepted_lines{user="y.io"} 0.0\n'
        + head(USER_ACTIVITY_CYCLE_REQUESTS)
        + 'cursor_user_activity_cycle_requests{user="x.io"} 22.0\n'
        + 'cursor_user_activity_cycle_requests{user="y.io"} 9.0\n'
        + head(USER_ACTIVITY_CYCLE_TABS_ACCEPTED)
        + 'cursor_user_activity_cycle_tabs_accepted{user="x.io"} 55.0\n'
        + 'cursor_user_activity_cycle_tabs_accepted{user="y.io"} 0.0\n'
    )


def test_user_mode_none_overrides_the_per_user_activity_opt_in():
    labels = LabelPolicy(user_mode="none", per_user_activity=True)
    assert expose(ActivitySource, activity_snapshot(), labels) == TEAM


def test_drained_yields_every_row_in_order_in_batches_each_taken_out_of_the_list_first():
    rows = [{"day": index} for index in range(1_234)]
    batches, left = [], []
    for batch in drained(rows, 500):
        batches.append(batch)
        left.append(len(rows))
    assert [len(batch) for batch in batches] == [500, 500, 234]
    assert left == [734, 234, 0]
    assert [row["day"] for batch in batches for row in batch] == list(range(1_234))
    assert list(drained(None, 500)) == [None] and list(drained([], 500)) == []
