"""Source ``usage``: the team's usage ledger, team-wide and per user, as exact counters and cycle gauges."""

from cursor_exporter.ledger.tally import Tally
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.usage import (
    USAGE_CHARGED_REVISED_DOWN_USD,
    USAGE_CHARGED_USD,
    USAGE_CYCLE_CHARGED_USD,
    USAGE_EVENTS,
    USAGE_REQUEST_UNITS,
    USAGE_TOKEN_FEE_USD,
    USAGE_TOKENS,
    USER_CHARGED_USD,
    USER_CYCLE_CHARGED_USD,
    USER_TOKENS,
    USER_USAGE_EVENTS,
    UsageSource,
)
from tests.unit.sources.helpers import D, charged, expose, head, key, ledger_part, snapshot

ON_DEMAND = 'kind="Usage-based",max_mode="false",model="gpt-5",source="ide"'
INCLUDED = 'kind="Included in Business",max_mode="true",model="claude-4.5-sonnet",source="cloud"'


def usage_snapshot(part, **fields):
    return snapshot({"usage": part}, **fields)


def test_without_a_ledger_part_nothing_is_rendered():
    assert expose(UsageSource, usage_snapshot(None)) == ""


def test_every_family_rolls_series_up_exactly_and_sorts_them():
    ann_gpt, bob_gpt = key("ann@x.io"), key("bob@x.io")
    ann_claude = key("ann@x.io", "claude-4.5-sonnet", "Included in Business", True, "cloud")
    part = ledger_part(
        {
            ann_gpt: Tally(2, 100, 50, 10, 5, D("0.1"), D("0.05"), D(0)),
            bob_gpt: Tally(1, 20, 30, 0, 40, D("0.2"), D("0.01"), D(0)),
            ann_claude: Tally(4, 0, 0, 0, 0, D("250"), D(0), D("1.5")),
        },
        # A revision of events alone (no money) is not a charged-money revision.
        revised={ann_gpt: charged("0.1"), ann_claude: Tally(events=1)},
        cycle={bob_gpt: charged("0.2"), ann_claude: charged("250")},
    )
    # gpt-5: 0.1 + 0.2 cents = $0.003 exactly (binary floats would give 0.0030000000000000005).
    assert expose(UsageSource, usage_snapshot(part)) == (
        head(USAGE_EVENTS)
        + f"cursor_usage_events_total{{{INCLUDED}}} 4.0\n"
        + f"cursor_usage_events_total{{{ON_DEMAND}}} 3.0\n"
        + head(USAGE_TOKENS)
        + f'cursor_usage_tokens_total{{{INCLUDED},token_type="input"}} 0.0\n'
        + f'cursor_usage_tokens_total{{{INCLUDED},token_type="output"}} 0.0\n'
        + f'cursor_usage_tokens_total{{{INCLUDED},token_type="cache_write"}} 0.0\n'
        + f'cursor_usage_tokens_total{{{INCLUDED},token_type="cache_read"}} 0.0\n'
        + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="input"}} 120.0\n'
        + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="output"}} 80.0\n'
        + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="cache_write"}} 10.0\n'
        + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="cache_read"}} 45.0\n'
        + head(USAGE_CHARGED_USD)
        + f"cursor_usage_charged_usd_total{{{INCLUDED}}} 2.5\n"
        + f"cursor_usage_charged_usd_total{{{ON_DEMAND}}} 0.003\n"
        + head(USAGE_TOKEN_FEE_USD)
        + f"cursor_usage_token_fee_usd_total{{{INCLUDED}}} 0.0\n"
        + f"cursor_usage_token_fee_usd_total{{{ON_DEMAND}}} 0.0006\n"
        + head(USAGE_REQUEST_UNITS)
        + f"cursor_usage_request_units_total{{{INCLUDED}}} 1.5\n"
        + f"cursor_usage_request_units_total{{{ON_DEMAND}}} 0.0\n"
        + head(USAGE_CHARGED_REVISED_DOWN_USD)
        + f"cursor_usage_charged_revised_down_usd{{{ON_DEMAND}}} 0.001\n"
        + head(USAGE_CYCLE_CHARGED_USD)
        + f"cursor_usage_cycle_charged_usd{{{INCLUDED}}} 2.5\n"
        + f"cursor_usage_cycle_charged_usd{{{ON_DEMAND}}} 0.002\n"
        + head(USER_USAGE_EVENTS)
        + 'cursor_user_usage_events_total{user="ann@x.io"} 6.0\n'
        + 'cursor_user_usage_events_total{user="bob@x.io"} 1.0\n'
        + head(USER_TOKENS)
        + 'cursor_user_tokens_total{token_type="input",user="ann@x.io"} 100.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="ann@x.io"} 50.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="ann@x.io"} 10.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="ann@x.io"} 5.0\n'
        + 'cursor_user_tokens_total{token_type="input",user="bob@x.io"} 20.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="bob@x.io"} 30.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="bob@x.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="bob@x.io"} 40.0\n'
        + head(USER_CHARGED_USD)
        + 'cursor_user_charged_usd_total{user="ann@x.io"} 2.501\n'
        + 'cursor_user_charged_usd_total{user="bob@x.io"} 0.002\n'
        + head(USER_CYCLE_CHARGED_USD)
        + 'cursor_user_cycle_charged_usd{user="ann@x.io"} 2.5\n'
        + 'cursor_user_cycle_charged_usd{user="bob@x.io"} 0.002\n'
    )


# Three users of one series (on-demand gpt-5 from the IDE); only cy's usage falls in the cycle.
ANN, BOB, CY = key("ann@x.io"), key("bob@x.io"), key("cy@y.io")
COUNTERS = {
    ANN: Tally(1, 10, 20, 0, 0, D("0.1"), D(0), D(0)),
    BOB: Tally(2, 30, 0, 5, 0, D("0.2"), D("0.1"), D(0)),
    CY: Tally(3, 0, 0, 0, 60, D("150"), D(0), D("2")),
}
CYCLE = {CY: COUNTERS[CY]}
TEAM_WIDE = (
    head(USAGE_EVENTS)
    + f"cursor_usage_events_total{{{ON_DEMAND}}} 6.0\n"
    + head(USAGE_TOKENS)
    + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="input"}} 40.0\n'
    + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="output"}} 20.0\n'
    + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="cache_write"}} 5.0\n'
    + f'cursor_usage_tokens_total{{{ON_DEMAND},token_type="cache_read"}} 60.0\n'
    + head(USAGE_CHARGED_USD)
    + f"cursor_usage_charged_usd_total{{{ON_DEMAND}}} 1.503\n"
    + head(USAGE_TOKEN_FEE_USD)
    + f"cursor_usage_token_fee_usd_total{{{ON_DEMAND}}} 0.001\n"
    + head(USAGE_REQUEST_UNITS)
    + f"cursor_usage_request_units_total{{{ON_DEMAND}}} 2.0\n"
    + head(USAGE_CHARGED_REVISED_DOWN_USD)
    + head(USAGE_CYCLE_CHARGED_USD)
    + f"cursor_usage_cycle_charged_usd{{{ON_DEMAND}}} 1.5\n"
)


def test_a_full_cap_folds_unpicked_users_into_other_which_sorts_first():
    part = ledger_part(COUNTERS, cycle=CYCLE, tracked=frozenset({"cy@y.io"}), top_users=1)
    assert expose(UsageSource, usage_snapshot(part)) == (
        TEAM_WIDE
        + head(USER_USAGE_EVENTS)
        + 'cursor_user_usage_events_total{user="__other__"} 3.0\n'
        + 'cursor_user_usage_events_total{user="cy@y.io"} 3.0\n'
        + head(USER_TOKENS)
        + 'cursor_user_tokens_total{token_type="input",user="__other__"} 40.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="__other__"} 20.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="__other__"} 5.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="__other__"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="input",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="cy@y.io"} 60.0\n'
        + head(USER_CHARGED_USD)
        + 'cursor_user_charged_usd_total{user="__other__"} 0.003\n'
        + 'cursor_user_charged_usd_total{user="cy@y.io"} 1.5\n'
        + head(USER_CYCLE_CHARGED_USD)
        + 'cursor_user_cycle_charged_usd{user="cy@y.io"} 1.5\n'
    )


def test_a_cap_with_room_leaves_unpicked_users_out_of_per_user_families_but_not_team_wide():
    part = ledger_part(COUNTERS, cycle=CYCLE, tracked=frozenset({"cy@y.io"}), top_users=2)
    assert expose(UsageSource, usage_snapshot(part)) == (
        TEAM_WIDE
        + head(USER_USAGE_EVENTS)
        + 'cursor_user_usage_events_total{user="cy@y.io"} 3.0\n'
        + head(USER_TOKENS)
        + 'cursor_user_tokens_total{token_type="input",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="cy@y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="cy@y.io"} 60.0\n'
        + head(USER_CHARGED_USD)
        + 'cursor_user_charged_usd_total{user="cy@y.io"} 1.5\n'
        + head(USER_CYCLE_CHARGED_USD)
        + 'cursor_user_cycle_charged_usd{user="cy@y.io"} 1.5\n'
    )


def test_domain_mode_sums_the_users_of_each_domain():
    part = ledger_part(COUNTERS, cycle=CYCLE)
    assert expose(UsageSource, usage_snapshot(part), LabelPolicy(user_mode="domain")) == (
        TEAM_WIDE
        + head(USER_USAGE_EVENTS)
        + 'cursor_user_usage_events_total{user="x.io"} 3.0\n'
        + 'cursor_user_usage_events_total{user="y.io"} 3.0\n'
        + head(USER_TOKENS)
        + 'cursor_user_tokens_total{token_type="input",user="x.io"} 40.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="x.io"} 20.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="x.io"} 5.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="x.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="input",user="y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="output",user="y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_write",user="y.io"} 0.0\n'
        + 'cursor_user_tokens_total{token_type="cache_read",user="y.io"} 60.0\n'
        + head(USER_CHARGED_USD)
        + 'cursor_user_charged_usd_total{user="x.io"} 0.003\n'
        + 'cursor_user_charged_usd_total{user="y.io"} 1.5\n'
        + head(USER_CYCLE_CHARGED_USD)
        + 'cursor_user_cycle_charged_usd{user="y.io"} 1.5\n'
    )


def test_user_mode_none_renders_only_the_team_wide_families():
    part = ledger_part(COUNTERS, cycle=CYCLE)
    assert expose(UsageSource, usage_snapshot(part), LabelPolicy(user_mode="none")) == TEAM_WIDE


def test_the_model_map_merges_raw_model_names_into_one_series():
    dated = key("ann@x.io", model="claude-4.5-sonnet-20250929", kind="Included in Business")
    thinking = key("bob@x.io", model="claude-4.5-sonnet-thinking", kind="Included in Business")
    part = ledger_part({dated: Tally(1, 5, 6, 0, 0, D("10"), D(0), D(0)), thinking: Tally(2, 1, 2, 3, 4, D("0.5"))})
    labels = LabelPolicy(user_mode="none", model_map={"claude-4.5-sonnet*": "claude-4.5-sonnet"})
    series = 'kind="Included in Business",max_mode="false",model="claude-4.5-sonnet",source="ide"'
    assert expose(UsageSource, usage_snapshot(part), labels) == (
        head(USAGE_EVENTS)
        + f"cursor_usage_events_total{{{series}}} 3.0\n"
        + head(USAGE_TOKENS)
        + f'cursor_usage_tokens_total{{{series},token_type="input"}} 6.0\n'
        + f'cursor_usage_tokens_total{{{series},token_type="output"}} 8.0\n'
        + f'cursor_usage_tokens_total{{{series},token_type="cache_write"}} 3.0\n'
        + f'cursor_usage_tokens_total{{{series},token_type="cache_read"}} 4.0\n'
        + head(USAGE_CHARGED_USD)
        + f"cursor_usage_charged_usd_total{{{series}}} 0.105\n"
        + head(USAGE_TOKEN_FEE_USD)
        + f"cursor_usage_token_fee_usd_total{{{series}}} 0.0\n"
        + head(USAGE_REQUEST_UNITS)
        + f"cursor_usage_request_units_total{{{series}}} 0.0\n"
        + head(USAGE_CHARGED_REVISED_DOWN_USD)
        + head(USAGE_CYCLE_CHARGED_USD)
    )
