"""Source ``ai_code``: committed lines per repository and source, and the cycle charge attributed to them."""

from cursor_exporter.sources.ai_code import (
    AI_CODE_CYCLE_COMMITS,
    AI_CODE_CYCLE_LINES,
    REPO_CYCLE_CHARGED_USD,
    AiCodeSource,
    AiCommit,
    build_view,
)
from cursor_exporter.sources.labels import LabelPolicy
from tests.unit.sources.helpers import charged, expose, head, key, ledger_part, snapshot

VIEW = build_view(
    [
        AiCommit(
            user_email="ann@x.io",
            repo_name="web",
            commit_source="IDE",
            tab_lines_added=4,
            composer_lines_added=6,
            tab_lines_deleted=1,
            composer_lines_deleted=2,
            non_ai_lines_added=5,
        ),
        AiCommit(user_email="ann@x.io", repo_name="api", commit_source="cli", tab_lines_added=20),
        AiCommit(
            user_email="bob@x.io", repo_name="api", commit_source="cli", non_ai_lines_added=7, non_ai_lines_deleted=2
        ),
        # No repository or source reported; AI lines deleted but none added.
        AiCommit(user_email="cy@y.io", tab_lines_deleted=4),
        AiCommit(user_email="dee@x.io", repo_name="web", commit_source="ide", composer_lines_added=30),
    ]
)
# ann: api 20 AI lines added, web 4 + 6 = 10; bob: none; cy: none added; dee (no usage): web 30.
COMMITS_AND_LINES = (
    head(AI_CODE_CYCLE_COMMITS)
    + 'cursor_ai_code_cycle_commits{repo="api",source="cli"} 2.0\n'
    + 'cursor_ai_code_cycle_commits{repo="unknown",source="unknown"} 1.0\n'
    + 'cursor_ai_code_cycle_commits{repo="web",source="ide"} 2.0\n'
    + head(AI_CODE_CYCLE_LINES)
    + 'cursor_ai_code_cycle_lines{change="added",origin="ai",repo="api",source="cli"} 20.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="ai",repo="api",source="cli"} 0.0\n'
    + 'cursor_ai_code_cycle_lines{change="added",origin="non_ai",repo="api",source="cli"} 7.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="non_ai",repo="api",source="cli"} 2.0\n'
    + 'cursor_ai_code_cycle_lines{change="added",origin="ai",repo="unknown",source="unknown"} 0.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="ai",repo="unknown",source="unknown"} 4.0\n'
    + 'cursor_ai_code_cycle_lines{change="added",origin="non_ai",repo="unknown",source="unknown"} 0.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="non_ai",repo="unknown",source="unknown"} 0.0\n'
    + 'cursor_ai_code_cycle_lines{change="added",origin="ai",repo="web",source="ide"} 40.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="ai",repo="web",source="ide"} 3.0\n'
    + 'cursor_ai_code_cycle_lines{change="added",origin="non_ai",repo="web",source="ide"} 5.0\n'
    + 'cursor_ai_code_cycle_lines{change="deleted",origin="non_ai",repo="web",source="ide"} 0.0\n'
)
# Cycle charges: ann 100 + 200 = 300 cents over two models and kinds, bob 0.1 + 0.2 cents, cy 100 cents.
# The all-time counters are left empty: attribution reads only the current cycle.
USAGE = ledger_part(
    {},
    cycle={
        key("ann@x.io"): charged("100"),
        key("ann@x.io", model="claude-4.5-sonnet", kind="Included in Business"): charged("200"),
        key("bob@x.io"): charged("0.1"),
        key("bob@x.io", model="o3"): charged("0.2"),
        key("cy@y.io"): charged("100"),
    },
)


def test_without_commits_nothing_is_rendered_even_with_usage():
    assert expose(AiCodeSource, snapshot({"ai_code": None, "usage": USAGE})) == ""


def test_commits_and_lines_are_summed_per_repository_and_lowercased_source_without_usage_no_attribution():
    assert expose(AiCodeSource, snapshot({"ai_code": VIEW})) == COMMITS_AND_LINES


def test_each_users_cycle_charge_is_spread_by_ai_lines_added_and_the_rest_is_unattributed():
    # ann's $3.00 splits 20:10 into api $2.00 and web $1.00; bob's 0.3 cents and cy's 100 cents have no
    # AI lines added, so __unattributed__ holds 100.3 cents; dee's lines carry no charge.
    assert expose(AiCodeSource, snapshot({"ai_code": VIEW, "usage": USAGE})) == (
        COMMITS_AND_LINES
        + head(REPO_CYCLE_CHARGED_USD)
        + 'cursor_repo_cycle_charged_usd{repo="__unattributed__"} 1.003\n'
        + 'cursor_repo_cycle_charged_usd{repo="api"} 2.0\n'
        + 'cursor_repo_cycle_charged_usd{repo="web"} 1.0\n'
    )


def test_attribution_has_no_user_label_so_user_mode_none_keeps_it():
    only_ann = ledger_part({}, cycle={key("ann@x.io"): charged("300")})
    snap = snapshot({"ai_code": VIEW, "usage": only_ann})
    assert expose(AiCodeSource, snap, LabelPolicy(user_mode="none")) == (
        COMMITS_AND_LINES
        + head(REPO_CYCLE_CHARGED_USD)
        + 'cursor_repo_cycle_charged_usd{repo="api"} 2.0\n'
        + 'cursor_repo_cycle_charged_usd{repo="web"} 1.0\n'
    )
