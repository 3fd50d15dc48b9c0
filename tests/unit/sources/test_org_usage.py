"""Source ``org_usage``: the organization's usage ledger, every series carrying its ``team``."""

from cursor_exporter.ledger.tally import Tally
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.sources.org_usage import (
    ORG_USAGE_CHARGED_REVISED_DOWN_USD,
    ORG_USAGE_CHARGED_USD,
    ORG_USAGE_CONTRACT_CHARGED_USD,
    ORG_USAGE_EVENTS,
    ORG_USAGE_REQUEST_UNITS,
    ORG_USAGE_TOKEN_FEE_USD,
    ORG_USAGE_TOKENS,
    ORG_USER_CHARGED_USD,
    ORG_USER_CONTRACT_CHARGED_USD,
    OrgUsageSource,
)
from tests.unit.sources.helpers import D, charged, expose, head, key, ledger_part, snapshot

T1 = 'kind="Usage-based",max_mode="false",model="gpt-5",source="ide",team="t1"'
T2 = 'kind="Usage-based",max_mode="false",model="gpt-5",source="ide",team="t2"'
# ann works in two teams; bob in t1 only. Every series is in the contract period.
COUNTERS = {
    key("ann@x.io", team="t2"): Tally(1, 10, 20, 0, 0, D("0.1"), D(0), D(0)),
    key("bob@x.io", team="t1"): Tally(2, 30, 0, 5, 0, D("0.2"), D("0.1"), D(0)),
    key("ann@x.io", team="t1"): Tally(1, 0, 0, 0, 0, D("100"), D(0), D("1")),
}
REVISED = {key("ann@x.io", team="t2"): charged("0.5")}
TEAM_WIDE = (
    head(ORG_USAGE_EVENTS)
    + f"cursor_org_usage_events_total{{{T1}}} 3.0\n"
    + f"cursor_org_usage_events_total{{{T2}}} 1.0\n"
    + head(ORG_USAGE_TOKENS)
    + f'cursor_org_usage_tokens_total{{{T1},token_type="input"}} 30.0\n'
    + f'cursor_org_usage_tokens_total{{{T1},token_type="output"}} 0.0\n'
    + f'cursor_org_usage_tokens_total{{{T1},token_type="cache_write"}} 5.0\n'
    + f'cursor_org_usage_tokens_total{{{T1},token_type="cache_read"}} 0.0\n'
    + f'cursor_org_usage_tokens_total{{{T2},token_type="input"}} 10.0\n'
    + f'cursor_org_usage_tokens_total{{{T2},token_type="output"}} 20.0\n'
    + f'cursor_org_usage_tokens_total{{{T2},token_type="cache_write"}} 0.0\n'
    + f'cursor_org_usage_tokens_total{{{T2},token_type="cache_read"}} 0.0\n'
    + head(ORG_USAGE_CHARGED_USD)
    + f"cursor_org_usage_charged_usd_total{{{T1}}} 1.002\n"
    + f"cursor_org_usage_charged_usd_total{{{T2}}} 0.001\n"
    + head(ORG_USAGE_TOKEN_FEE_USD)
    + f"cursor_org_usage_token_fee_usd_total{{{T1}}} 0.001\n"
    + f"cursor_org_usage_token_fee_usd_total{{{T2}}} 0.0\n"
    + head(ORG_USAGE_REQUEST_UNITS)
    + f"cursor_org_usage_request_units_total{{{T1}}} 1.0\n"
    + f"cursor_org_usage_request_units_total{{{T2}}} 0.0\n"
    + head(ORG_USAGE_CHARGED_REVISED_DOWN_USD)
    + f"cursor_org_usage_charged_revised_down_usd{{{T2}}} 0.005\n"
    + head(ORG_USAGE_CONTRACT_CHARGED_USD)
    + f"cursor_org_usage_contract_charged_usd{{{T1}}} 1.002\n"
    + f"cursor_org_usage_contract_charged_usd{{{T2}}} 0.001\n"
)


def org_snapshot(part):
    return snapshot({"org_usage": part})


def test_without_an_organization_ledger_nothing_is_rendered():
    assert expose(OrgUsageSource, org_snapshot(None)) == ""


def test_series_are_kept_per_team_and_users_per_team_and_user_without_user_events_or_tokens():
    part = ledger_part(COUNTERS, revised=REVISED, cycle=COUNTERS)
    assert expose(OrgUsageSource, org_snapshot(part)) == (
        TEAM_WIDE
        + head(ORG_USER_CHARGED_USD)
        + 'cursor_org_user_charged_usd_total{team="t1",user="ann@x.io"} 1.0\n'
        + 'cursor_org_user_charged_usd_total{team="t1",user="bob@x.io"} 0.002\n'
        + 'cursor_org_user_charged_usd_total{team="t2",user="ann@x.io"} 0.001\n'
        + head(ORG_USER_CONTRACT_CHARGED_USD)
        + 'cursor_org_user_contract_charged_usd{team="t1",user="ann@x.io"} 1.0\n'
        + 'cursor_org_user_contract_charged_usd{team="t1",user="bob@x.io"} 0.002\n'
        + 'cursor_org_user_contract_charged_usd{team="t2",user="ann@x.io"} 0.001\n'
    )


def test_a_full_organization_cap_folds_other_users_into_other_within_their_team():
    part = ledger_part(COUNTERS, revised=REVISED, cycle=COUNTERS, tracked=frozenset({"ann@x.io"}), top_users=1)
    assert expose(OrgUsageSource, org_snapshot(part)) == (
        TEAM_WIDE
        + head(ORG_USER_CHARGED_USD)
        + 'cursor_org_user_charged_usd_total{team="t1",user="__other__"} 0.002\n'
        + 'cursor_org_user_charged_usd_total{team="t1",user="ann@x.io"} 1.0\n'
        + 'cursor_org_user_charged_usd_total{team="t2",user="ann@x.io"} 0.001\n'
        + head(ORG_USER_CONTRACT_CHARGED_USD)
        + 'cursor_org_user_contract_charged_usd{team="t1",user="__other__"} 0.002\n'
        + 'cursor_org_user_contract_charged_usd{team="t1",user="ann@x.io"} 1.0\n'
        + 'cursor_org_user_contract_charged_usd{team="t2",user="ann@x.io"} 0.001\n'
    )


def test_domain_mode_sums_a_domain_within_each_team():
    part = ledger_part(COUNTERS, revised=REVISED, cycle=COUNTERS)
    assert expose(OrgUsageSource, org_snapshot(part), LabelPolicy(user_mode="domain")) == (
        TEAM_WIDE
        + head(ORG_USER_CHARGED_USD)
        + 'cursor_org_user_charged_usd_total{team="t1",user="x.io"} 1.002\n'
        + 'cursor_org_user_charged_usd_total{team="t2",user="x.io"} 0.001\n'
        + head(ORG_USER_CONTRACT_CHARGED_USD)
        + 'cursor_org_user_contract_charged_usd{team="t1",user="x.io"} 1.002\n'
        + 'cursor_org_user_contract_charged_usd{team="t2",user="x.io"} 0.001\n'
    )


def test_user_mode_none_renders_only_the_per_team_families():
    part = ledger_part(COUNTERS, revised=REVISED, cycle=COUNTERS)
    assert expose(OrgUsageSource, org_snapshot(part), LabelPolicy(user_mode="none")) == TEAM_WIDE
