"""Grafana dashboards of cursor-exporter as code: ``python deploy/grafana/generate.py`` writes the JSON files
next to this script. A test fails when the committed JSON differs from what this script generates, and
another runs every panel's query on a real Prometheus fed by the demo.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

HERE = Path(__file__).resolve().parent
DATASOURCE = dashboard_models.DataSourceRef(type_val="prometheus", uid="${datasource}")
# One exporter per Cursor team: the scrape job tells teams apart.
JOB = 'job=~"$job"'
USD = "currencyUSD"
USD_PER_HOUR = "$/h"  # Grafana shows a custom unit as a suffix


def query(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).legend_format(legend or "__auto")
    return target.instant() if instant else target.range()


def with_targets(panel, targets: list[prometheus.Dataquery]):
    for ref, target in zip("ABCDEFGH", targets, strict=False):
        panel = panel.with_target(target.ref_id(ref))
    return panel.datasource(DATASOURCE)


def stat_panel(title: str, description: str, targets, unit: str, *, width: int = 6, height: int = 4):
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(width)
        .height(height)
    )
    return with_targets(panel, [t if isinstance(t, prometheus.Dataquery) else query(t, instant=True) for t in targets])


def graph_panel(title: str, description: str, targets, unit: str, *, stacked: bool = False, width: int = 12):
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .fill_opacity(20 if stacked else 0)
        .span(width)
        .height(8)
        .legend(common.VizLegendOptions().display_mode(common_models.LegendDisplayMode.TABLE).show_legend(True))
    )
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    return with_targets(panel, targets)


def bars_panel(title: str, description: str, targets, unit: str, *, width: int = 12, height: int = 8):
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .span(width)
        .height(height)
    )
    return with_targets(panel, targets)


def table_panel(title: str, description: str, targets, unit: str, *, width: int = 12):
    panel = table.Panel().title(title).description(description).unit(unit).span(width).height(8)
    return with_targets(panel, targets)


def base(uid: str, title: str, description: str, tags: list[str]) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["cursor", *tags])
        .editable()
        .refresh("5m")
        .time("now-7d", "now")
        .timezone("browser")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("job")
            .label("Team (exporter job)")
            .description("One cursor-exporter per Cursor team; the scrape job tells them apart.")
            .datasource(DATASOURCE)
            .query("label_values(cursor_exporter_build_info, job)")
            .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
            .include_all(True)
            .all_value(".*")
        )
    )


def spend() -> dashboard.Dashboard:
    board = base(
        "cursor-spend",
        "Cursor spend",
        "Cursor usage spend from cursor-exporter: cycle spend against budget and forecast, where it goes, "
        "and what the seats cost.",
        ["spend"],
    ).with_variable(
        dashboard.QueryVariable("user")
        .label("User")
        .datasource(DATASOURCE)
        .query(f"label_values(cursor_user_cycle_charged_usd{{{JOB}}}, user)")
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    board = (
        board.with_row(dashboard.Row("Billing cycle"))
        .with_panel(
            stat_panel(
                "Charged this cycle",
                "All money charged this billing cycle (included and on-demand), from usage events.",
                [f"sum(cursor_usage_cycle_charged_usd{{{JOB}}})"],
                USD,
            )
        )
        .with_panel(
            stat_panel(
                "Team budget used",
                "Charged this cycle over cursor_budget_usd{scope=team} (--budget.team-monthly-usd).",
                [f'sum(cursor_usage_cycle_charged_usd{{{JOB}}}) / sum(cursor_budget_usd{{{JOB},scope="team"}})'],
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "Forecast at cycle end",
                "Charged so far plus the trailing 7-day rate times the time left (docs/forecast.md).",
                [f'sum(cursor_forecast_cycle_charged_usd{{{JOB},charge="all"}})'],
                USD,
            )
        )
        .with_panel(
            stat_panel(
                "Cycle ends",
                "End of the current billing cycle.",
                [f"max(cursor_billing_cycle_end_timestamp_seconds{{{JOB}}}) * 1000"],
                "dateTimeFromNow",
            )
        )
        .with_panel(
            graph_panel(
                "Cycle spend vs budget and forecast",
                "Charged this cycle (all and on-demand), the team budget, and the cycle-end forecasts.",
                [
                    query(f"sum(cursor_usage_cycle_charged_usd{{{JOB}}})", "charged"),
                    query(f'sum(cursor_usage_cycle_charged_usd{{{JOB},kind="Usage-based"}})', "charged on-demand"),
                    query(f'sum(cursor_budget_usd{{{JOB},scope="team"}})', "budget"),
                    query(f"sum by (charge) (cursor_forecast_cycle_charged_usd{{{JOB}}})", "forecast {{charge}}"),
                ],
                USD,
                width=24,
            )
        )
        .with_row(dashboard.Row("Where the money goes"))
        .with_panel(
            graph_panel(
                "Spend over time by model",
                "Charged money per hour by model.",
                [
                    query(
                        f"sum by (model) (rate(cursor_usage_charged_usd_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "{{model}}",
                    )
                ],
                USD_PER_HOUR,
                stacked=True,
            )
        )
        .with_panel(
            table_panel(
                "Top users this cycle",
                "The 10 biggest spenders of the cycle among the selected users.",
                [
                    query(
                        f'topk(10, sum by (user) (cursor_user_cycle_charged_usd{{{JOB},user=~"$user"}}))',
                        "{{user}}",
                        instant=True,
                    )
                ],
                USD,
            )
        )
        .with_panel(
            graph_panel(
                "Spend over time by user",
                "Charged money per hour of the selected users (top 10).",
                [
                    query(
                        f'topk(10, sum by (user) (rate(cursor_user_charged_usd_total{{{JOB},user=~"$user"}}'
                        "[$__rate_interval]))) * 3600",
                        "{{user}}",
                    )
                ],
                USD_PER_HOUR,
            )
        )
        .with_panel(
            bars_panel(
                "Charged this cycle by billing group",
                "Each user's cycle charge joined with their billing group (cursor_user_group_info). For a "
                "mapping file use cursor_user_info and its column instead.",
                [
                    query(
                        f"sum by (group) (cursor_user_cycle_charged_usd{{{JOB}}} * on (job, instance, user) "
                        f"group_left (group) cursor_user_group_info{{{JOB}}})",
                        "{{group}}",
                        instant=True,
                    )
                ],
                USD,
                width=6,
            )
        )
        .with_panel(
            bars_panel(
                "On-demand spend by billing group (Cursor)",
                "Cursor's own on-demand figure per billing group (/teams/groups spendCents), with budgets.",
                [
                    query(f"sum by (group) (cursor_group_cycle_spend_usd{{{JOB}}})", "{{group}}", instant=True),
                    query(f'sum by (name) (cursor_budget_usd{{{JOB},scope="group"}})', "budget {{name}}", instant=True),
                ],
                USD,
                width=6,
            )
        )
        .with_row(dashboard.Row("Tokens, max mode, billing kind and source"))
        .with_panel(
            graph_panel(
                "Token mix",
                "Tokens per second by token type.",
                [
                    query(
                        f"sum by (token_type) (rate(cursor_usage_tokens_total{{{JOB}}}[$__rate_interval]))",
                        "{{token_type}}",
                    )
                ],
                "short",
                stacked=True,
            )
        )
        .with_panel(
            stat_panel(
                "Cache-read share of tokens",
                "Cache-read tokens over all tokens in the selected time range; high is cheap.",
                [
                    f'sum(increase(cursor_usage_tokens_total{{{JOB},token_type="cache_read"}}[$__range])) '
                    f"/ sum(increase(cursor_usage_tokens_total{{{JOB}}}[$__range]))"
                ],
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "Max-mode share of spend",
                "Money charged in max mode over all money charged this cycle.",
                [
                    f'sum(cursor_usage_cycle_charged_usd{{{JOB},max_mode="true"}}) '
                    f"/ sum(cursor_usage_cycle_charged_usd{{{JOB}}})"
                ],
                "percentunit",
            )
        )
        .with_panel(
            bars_panel(
                "On-demand vs included this cycle",
                'Charged this cycle by kind: "Usage-based" is on-demand (invoiced); included kinds are value '
                "consumed from the plan.",
                [query(f"sum by (kind) (cursor_usage_cycle_charged_usd{{{JOB}}})", "{{kind}}", instant=True)],
                USD,
            )
        )
        .with_panel(
            graph_panel(
                "On-demand vs included over time",
                "Charged money per hour by kind.",
                [
                    query(
                        f"sum by (kind) (rate(cursor_usage_charged_usd_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "{{kind}}",
                    )
                ],
                USD_PER_HOUR,
                stacked=True,
            )
        )
        .with_panel(
            graph_panel(
                "Cloud agents and automations",
                "Charged money per hour by source: ide, headless, cloud_agent, automation, service_account.",
                [
                    query(
                        f"sum by (source) (rate(cursor_usage_charged_usd_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "{{source}}",
                    )
                ],
                USD_PER_HOUR,
                stacked=True,
            )
        )
        .with_panel(
            bars_panel(
                "Cloud agents and automations this cycle",
                "Charged this cycle by source.",
                [query(f"sum by (source) (cursor_usage_cycle_charged_usd{{{JOB}}})", "{{source}}", instant=True)],
                USD,
            )
        )
        .with_row(dashboard.Row("Total cost, limits and organization"))
        .with_panel(
            bars_panel(
                "Seat cost plus usage cost",
                "Cost of the cycle: paid seats x --billing.seat-price-usd, plus on-demand usage.",
                [
                    query(f"sum by (component) (cursor_cycle_cost_usd{{{JOB}}})", "{{component}}", instant=True),
                    query(f"sum(cursor_cycle_cost_usd{{{JOB}}})", "total", instant=True),
                ],
                USD,
                width=8,
            )
        )
        .with_panel(
            table_panel(
                "Users nearest their spend limit",
                "On-demand spend this cycle over the spend limit Cursor enforces (blocked at 100%).",
                [
                    query(
                        f"topk(10, cursor_user_spend_usd{{{JOB}}} / (cursor_user_spend_limit_usd{{{JOB}}} > 0))",
                        "{{user}}",
                        instant=True,
                    )
                ],
                "percentunit",
                width=8,
            )
        )
        .with_panel(
            bars_panel(
                "Organization pool",
                "Pooled usage of the organization (organization key): used, remaining and limit.",
                [
                    query(f"sum(cursor_org_pool_used_usd{{{JOB}}})", "used", instant=True),
                    query(f"sum(cursor_org_pool_remaining_usd{{{JOB}}})", "remaining", instant=True),
                    query(f"sum(cursor_org_pool_limit_usd{{{JOB}}})", "limit", instant=True),
                    query(f"sum by (team) (cursor_org_team_used_usd{{{JOB}}})", "team {{team}}", instant=True),
                ],
                USD,
                width=8,
            )
        )
        .with_panel(
            graph_panel(
                "Organization spend over time by team",
                "Charged money per hour of every team of the organization (organization usage events; team = id).",
                [
                    query(
                        f"sum by (team) (rate(cursor_org_usage_charged_usd_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "team {{team}}",
                    )
                ],
                USD_PER_HOUR,
                stacked=True,
            )
        )
        .with_panel(
            table_panel(
                "Organization contract charge by team and model",
                "Charged since the pool's contract start, per team and model; summed by team it is the pool's use.",
                [
                    query(
                        f"topk(20, sum by (team, model) (cursor_org_usage_contract_charged_usd{{{JOB}}}))",
                        "team {{team}} {{model}}",
                        instant=True,
                    )
                ],
                USD,
            )
        )
        .with_panel(
            bars_panel(
                "Charged this cycle by repository",
                "Cycle charge attributed to repositories by each user's AI lines (AI code tracking, Enterprise).",
                [query(f"topk(10, sum by (repo) (cursor_repo_cycle_charged_usd{{{JOB}}}))", "{{repo}}", instant=True)],
                USD,
                width=24,
            )
        )
    )
    return board


def adoption() -> dashboard.Dashboard:
    return (
        base(
            "cursor-adoption",
            "Cursor adoption",
            "Who uses Cursor and how: active users, accepted AI lines, tab acceptance, requests by feature.",
            ["adoption"],
        )
        .with_row(dashboard.Row("Users"))
        .with_panel(
            stat_panel(
                "Active users",
                "Distinct users active in the last 1, 7 and 28 days.",
                [query(f"max by (window) (cursor_activity_active_users{{{JOB}}})", "{{window}}", instant=True)],
                "short",
                width=12,
            )
        )
        .with_panel(
            stat_panel(
                "Seats",
                "Current members by role.",
                [query(f"sum by (role) (cursor_team_members{{{JOB}}})", "{{role}}", instant=True)],
                "short",
                width=12,
            )
        )
        .with_panel(
            graph_panel(
                "Active users over time",
                "Distinct users active in the last 1, 7 and 28 days.",
                [query(f"max by (window) (cursor_activity_active_users{{{JOB}}})", "{{window}}")],
                "short",
                width=24,
            )
        )
        .with_row(dashboard.Row("AI in the editor"))
        .with_panel(
            stat_panel(
                "Accepted AI lines this cycle",
                "Lines added by accepted AI suggestions this billing cycle.",
                [f'sum(cursor_activity_cycle_lines{{{JOB},scope="accepted",change="added"}})'],
                "short",
            )
        )
        .with_panel(
            stat_panel(
                "Accepted share of lines added",
                "Accepted AI lines over all lines added in the editor this cycle.",
                [
                    f'sum(cursor_activity_cycle_lines{{{JOB},scope="accepted",change="added"}}) '
                    f'/ sum(cursor_activity_cycle_lines{{{JOB},scope="total",change="added"}})'
                ],
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "Tab acceptance rate",
                "Tab completions accepted over shown this cycle.",
                [
                    f'sum(cursor_activity_cycle_tabs{{{JOB},action="accepted"}}) '
                    f'/ sum(cursor_activity_cycle_tabs{{{JOB},action="shown"}})'
                ],
                "percentunit",
            )
        )
        .with_panel(
            stat_panel(
                "Edit acceptance rate",
                "AI edits accepted over accepted plus rejected this cycle.",
                [
                    f'sum(cursor_activity_cycle_edits{{{JOB},action="accept"}}) '
                    f'/ sum(cursor_activity_cycle_edits{{{JOB},action=~"accept|reject"}})'
                ],
                "percentunit",
            )
        )
        .with_panel(
            graph_panel(
                "Lines this cycle",
                "Lines added and deleted this cycle: every edit (total) and accepted AI suggestions.",
                [
                    query(
                        f"sum by (scope, change) (cursor_activity_cycle_lines{{{JOB}}})",
                        "{{scope}} {{change}}",
                    )
                ],
                "short",
            )
        )
        .with_panel(
            bars_panel(
                "Requests by feature this cycle",
                "Composer, chat, agent, cmd-K and Bugbot requests this cycle.",
                [query(f"sum by (feature) (cursor_activity_cycle_requests{{{JOB}}})", "{{feature}}", instant=True)],
                "short",
            )
        )
        .with_panel(
            bars_panel(
                "Requests by billing this cycle",
                "Requests by how they were billed: included, api_key, usage_based.",
                [
                    query(
                        f"sum by (billing) (cursor_activity_cycle_requests_by_billing{{{JOB}}})",
                        "{{billing}}",
                        instant=True,
                    )
                ],
                "short",
                width=8,
            )
        )
        .with_panel(
            bars_panel(
                "Client versions",
                "Users active in the last 7 days by the Cursor version they used last.",
                [
                    query(
                        f"sum by (version) (cursor_activity_users_by_client_version{{{JOB}}})",
                        "{{version}}",
                        instant=True,
                    )
                ],
                "short",
                width=8,
            )
        )
        .with_panel(
            bars_panel(
                "Most-used models",
                "Users active in the last 7 days by their most-used model.",
                [query(f"sum by (model) (cursor_activity_users_by_model{{{JOB}}})", "{{model}}", instant=True)],
                "short",
                width=8,
            )
        )
        .with_row(dashboard.Row("Requests and committed code"))
        .with_panel(
            graph_panel(
                "Requests per hour by model",
                "Usage events (requests) per hour by model.",
                [
                    query(
                        f"sum by (model) (rate(cursor_usage_events_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "{{model}}",
                    )
                ],
                "short",
                stacked=True,
            )
        )
        .with_panel(
            table_panel(
                "Most active users",
                "Requests per user in the selected time range (top 10).",
                [
                    query(
                        f"topk(10, sum by (user) (increase(cursor_user_usage_events_total{{{JOB}}}[$__range])))",
                        "{{user}}",
                        instant=True,
                    )
                ],
                "short",
            )
        )
        .with_panel(
            stat_panel(
                "AI share of committed lines",
                "Committed lines added by AI (Tab and Composer) over all committed lines added this cycle "
                "(AI code tracking, Enterprise).",
                [
                    f'sum(cursor_ai_code_cycle_lines{{{JOB},origin="ai",change="added"}}) '
                    f'/ sum(cursor_ai_code_cycle_lines{{{JOB},change="added"}})'
                ],
                "percentunit",
                width=8,
            )
        )
        .with_panel(
            bars_panel(
                "Commits by repository this cycle",
                "Tracked commits per repository (AI code tracking, Enterprise).",
                [query(f"topk(10, sum by (repo) (cursor_ai_code_cycle_commits{{{JOB}}}))", "{{repo}}", instant=True)],
                "short",
                width=16,
            )
        )
    )


def health() -> dashboard.Dashboard:
    return (
        base(
            "cursor-exporter-health",
            "Exporter health",
            "cursor-exporter itself: collector success, last syncs, Cursor API calls and rate-limit waits.",
            ["exporter"],
        )
        .with_panel(
            stat_panel(
                "Collector success",
                "1 when the collector's last sync succeeded.",
                [
                    query(
                        f"min by (collector) (cursor_exporter_collector_success{{{JOB}}})",
                        "{{collector}}",
                        instant=True,
                    )
                ],
                "bool_yes_no",
                width=16,
            )
        )
        .with_panel(
            stat_panel(
                "Scrape up",
                "Whether Prometheus can scrape the exporter.",
                [query(f"min by (instance) (up{{{JOB}}})", "{{instance}}", instant=True)],
                "bool_yes_no",
                width=4,
            )
        )
        .with_panel(
            stat_panel(
                "Version",
                "The exporter's version.",
                [query(f"count by (version) (cursor_exporter_build_info{{{JOB}}})", "{{version}}", instant=True)],
                "short",
                width=4,
            )
        )
        .with_panel(
            graph_panel(
                "Time since last successful sync",
                "Age of each collector's last successful sync.",
                [
                    query(
                        f"time() - max by (collector) (cursor_exporter_last_success_timestamp_seconds{{{JOB}}})",
                        "{{collector}}",
                    )
                ],
                "s",
            )
        )
        .with_panel(
            graph_panel(
                "Last sync duration",
                "How long each collector's last sync took, rate-limit waits included.",
                [
                    query(
                        f"max by (collector) (cursor_exporter_last_sync_duration_seconds{{{JOB}}})",
                        "{{collector}}",
                    )
                ],
                "s",
            )
        )
        .with_panel(
            graph_panel(
                "API calls by code",
                "Requests to the Cursor API per second by outcome (HTTP status, timeout, network).",
                [
                    query(
                        f"sum by (code) (rate(cursor_exporter_api_requests_total{{{JOB}}}[$__rate_interval]))",
                        "{{code}}",
                    )
                ],
                "reqps",
                stacked=True,
            )
        )
        .with_panel(
            graph_panel(
                "API calls by endpoint",
                "Requests to the Cursor API per second by endpoint.",
                [
                    query(
                        f"sum by (endpoint) (rate(cursor_exporter_api_requests_total{{{JOB}}}[$__rate_interval]))",
                        "{{endpoint}}",
                    )
                ],
                "reqps",
                stacked=True,
            )
        )
        .with_panel(
            graph_panel(
                "Rate-limit waits",
                "Share of time spent waiting for the rate limiter or a Retry-After, by endpoint. An endpoint "
                "that never waited shows 0 (the exporter creates its series at the first wait).",
                [
                    query(
                        f"sum by (endpoint) (rate(cursor_exporter_rate_limit_wait_seconds_total{{{JOB}}}"
                        "[$__rate_interval]))"
                        f" or 0 * sum by (endpoint) (rate(cursor_exporter_api_requests_total{{{JOB}}}"
                        "[$__rate_interval]))",
                        "{{endpoint}}",
                    )
                ],
                "percentunit",
            )
        )
        .with_panel(
            graph_panel(
                "API requests per sync",
                "Requests each collector's last sync made, retries included.",
                [
                    query(
                        f"max by (collector) (cursor_exporter_last_sync_api_requests{{{JOB}}})",
                        "{{collector}}",
                    )
                ],
                "short",
            )
        )
        .with_panel(
            graph_panel(
                "Usage windows and malformed records",
                "Usage windows fetched per hour, windows re-scanned because pages disagreed, and API records "
                "that could not be parsed (0 until the first one).",
                [
                    query(
                        f"sum(rate(cursor_exporter_usage_windows_fetched_total{{{JOB}}}[$__rate_interval])) * 3600",
                        "windows fetched",
                    ),
                    query(
                        f"sum(rate(cursor_exporter_usage_windows_inconsistent_total{{{JOB}}}[$__rate_interval]))"
                        " * 3600",
                        "windows inconsistent",
                    ),
                    query(
                        f"sum(rate(cursor_exporter_malformed_records_total{{{JOB}}}[$__rate_interval])) * 3600"
                        f" or 0 * sum(cursor_exporter_build_info{{{JOB}}})",
                        "malformed records",
                    ),
                ],
                "short",
            )
        )
        .with_panel(
            bars_panel(
                "Audit log events",
                "Events of the team's audit log in the dashboard's range, by type (logins, member and role "
                "changes, settings, API keys, spend limits); CursorAuditSensitiveChange alerts on API-key and "
                "spend-limit changes.",
                [
                    query(
                        f"sum by (event_type) (increase(cursor_audit_events_total{{{JOB}}}[$__range]))",
                        "{{event_type}}",
                        instant=True,
                    )
                ],
                "short",
            )
        )
        .with_panel(
            bars_panel(
                "Feature availability",
                "1 when the plan and key give access to the feature; 0 after a 403 (re-checked hourly).",
                [query(f"min by (feature) (cursor_exporter_feature_available{{{JOB}}})", "{{feature}}", instant=True)],
                "bool_yes_no",
            )
        )
    )


DASHBOARDS = {"cursor-spend.json": spend, "cursor-adoption.json": adoption, "exporter-health.json": health}


def render(build) -> str:
    """The dashboard's JSON, as committed; panels get ids in order, as Grafana wants them unique."""
    model = build().build()
    for number, panel in enumerate(model.panels, start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main() -> int:
    for name, build in DASHBOARDS.items():
        (HERE / name).write_text(render(build))
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
