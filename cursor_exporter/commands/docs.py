"""Generate ``docs/metrics.md`` and the README's configuration table from the code.

Run ``python -m cursor_exporter.commands.docs`` after changing a metric family or a setting;
``tests/unit/commands/test_docs.py`` fails while the committed files differ from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cursor_exporter.commands.config import CURSOR_ENVIRONMENT, NOT_A_FLAG_FIELDS, Settings, flag_name
from cursor_exporter.sources import FAMILIES, FAMILY_SOURCE
from cursor_exporter.sources.families import POLLING_NOTE

ROOT = Path(__file__).resolve().parent.parent.parent
METRICS_DOC = ROOT / "docs" / "metrics.md"
README = ROOT / "README.md"
CONFIG_BEGIN = "<!-- BEGIN generated configuration table: python -m cursor_exporter.commands.docs -->"
CONFIG_END = "<!-- END generated configuration table -->"


def metrics_markdown() -> str:
    """The whole of ``docs/metrics.md``."""
    lines = [
        "# Metrics",
        "",
        "Generated from the source registry (`cursor_exporter/sources/`) by `python -m cursor_exporter.commands.docs`;",
        "do not edit by hand.",
        "",
        f"Families of the sources that read the Cursor API are {POLLING_NOTE[0].lower()}{POLLING_NOTE[1:]}",
        "The `cost` and `mapping` families derive from them and the configuration; `cursor_exporter_*` describe",
        "the exporter itself. Money is summed exactly (decimal cents)",
        "and exported in US dollars. Counters never decrease, across re-fetches and restarts: per hour and",
        "series they hold the highest figure Cursor reported. A downward revision by Cursor shows in the gauge",
        "`cursor_usage_charged_revised_down_usd` (the organization's in `cursor_org_usage_charged_revised_down_usd`)",
        "and in the `*_cycle_*` and `*_contract_*` gauges, which are exact to the millisecond of the period start.",
        "Families marked *per user* are absent with `--metrics.user-label=none`; with `hash` the `user` label",
        "is a keyed HMAC-SHA256 of the email (16 hex characters).",
        "",
        "| Family | Type | Labels | Source | Meaning | Collector (source module) |",
        "|---|---|---|---|---|---|",
    ]
    for family in FAMILIES:
        labels = ", ".join(f"`{label}`" for label in family.labels) or "none"
        meaning = family.meaning + (" *Per user.*" if family.per_user else "")
        lines.append(
            f"| `{family.name}` | {family.type} | {labels} | {family.source} | {meaning} | "
            f"{FAMILY_SOURCE[family.name]} |"
        )
    lines += [
        "",
        "## Series count",
        "",
        "Exactly, per the exposition of all collectors (checked by `tests/integration/test_cardinality.py`):",
        "",
        "    series = 7U + 2S + L + Mg + 9C + D + 2G + R + A + P + K",
        "",
        "* U: users (emails, service accounts included) with usage events since the ledger began",
        "  (events, 4 token types, charged, cycle charged);",
        "* S: rows of /teams/spend (current members); L <= S: those with a spend limit;",
        "* Mg <= S: current members of billing groups (`cursor_user_group_info`);",
        "* C: (model, kind, max_mode, source) combinations that occurred, at most models x kinds x 2 x 5;",
        "  D <= C: those with a downward revision;",
        "* G: billing groups; R: member roles;",
        "* A = 20 + client versions + most-used models (daily activity, team level);",
        "* P = 5 x (repository, source) pairs + repositories with attributed cost (AI code tracking);",
        "* K: the exporter's own and single-series families (about 40);",
        "* plus one `cursor_user_info` series per row of the user mapping file, when one is given.",
        "",
        "With an organization key (collectors `org` and `org_usage`) add:",
        "",
        "    organization = 9Co + Do + 2Uo + 3 + T + Tb",
        "",
        "* Co: (team, model, kind, max_mode, source) combinations in the organization's events since the",
        "  contract start; Do <= Co: those with a downward revision;",
        "* Uo: (team, user) pairs with organization events (charged and contract charged), at most",
        "  teams x (N + 1) with `--metrics.top-users=N`; 0 with `--metrics.user-label=none`;",
        "* 3 pool series, T teams in the pool and Tb <= T of them with a budget.",
        "",
        "The organization's families repeat the organization key's own team beside its team-key families;",
        "that overlap is the price of seeing every team of the organization with one key.",
        "",
        "Worst case: 7U + 5S + 10C + 2G + R + A + P + K, plus 3U with `--metrics.per-user-activity`.",
        "Per setting of `--metrics.user-label`:",
        "",
        "| Setting | Per-user part | 5,000-user simulated team (measured) | plus an organization key |",
        "|---|---|---:|---:|",
        "| `email` or `hash` | 7U + 2S + L + Mg (+ 2Uo) | 55,896 | 68,776 |",
        "| `domain` | the same with U, S, L, Mg, Uo counted in distinct email domains | 2,202 | 4,360 |",
        "| `none` | 0 | 2,182 | 4,332 |",
        '| any, with `--metrics.top-users=N` | U, S, L, Mg <= N + 1 (`user="__other__"`), Uo <= teams x (N + 1) '
        "| 3,282 with N = 100 | 5,696 with N = 100 |",
        "",
        "The 5,000-user team (4 events per user per day, one day of cycle, 4 billing groups, 222 usage",
        "combinations) is measured by `tests/integration/test_cardinality.py`; the organization column adds",
        "an organization key over that team and a second team of 500 users (Uo = 5,365, Co = 237, T = 2).",
        "The team-level parts (9C, 9Co) do not depend on users; `--metrics.model-map-file` bounds them by",
        "folding model names.",
        "",
    ]
    return "\n".join([*lines, *otlp_mapping_lines()])


def otlp_mapping_lines() -> list[str]:
    """The OTLP section of ``docs/metrics.md``: each family's OTLP name, instrument, unit and attributes."""
    lines = [
        "## OTLP mapping",
        "",
        "With `--otlp.endpoint` the same snapshot is pushed as OpenTelemetry metrics (cumulative temporality),",
        "derived from the families above by `Family.otlp_name`, `Family.otlp_unit` and `OTLP_ATTRIBUTES` in",
        "`cursor_exporter/sources/families.py`. Counters are observable counters (monotonic sums), gauges",
        "observable gauges; attribute values are the Prometheus label values. `model` and `token_type` borrow the",
        "OpenTelemetry GenAI keys `gen_ai.request.model` and `gen_ai.token.type`; those conventions are still in",
        "development and may be renamed, and `cache_write` and `cache_read` are token types they do not define.",
        "Every other label becomes `cursor.<label>`. Resource: `service.name=cursor-exporter`, `service.version`,",
        "and a `service.instance.id` kept in the ledger so restarts continue the same series.",
        "",
        "| Prometheus family | OTLP metric | Instrument | Unit | Attributes |",
        "|---|---|---|---|---|",
    ]
    for family in FAMILIES:
        instrument = "counter" if family.type == "counter" else "gauge"
        attributes = ", ".join(f"`{key}`" for key in family.otlp_attributes) or "none"
        lines.append(f"| `{family.name}` | `{family.otlp_name}` | {instrument} | `{family.otlp_unit}` | {attributes} |")
    lines.append("")
    return lines


def configuration_markdown() -> str:
    """The README's configuration table."""
    lines = ["| Flag | Environment | Default | Meaning |", "|---|---|---|---|"]
    cursor_names = {field: env for env, field in CURSOR_ENVIRONMENT.items()}
    for name, field in Settings.model_fields.items():
        flag = "" if name in NOT_A_FLAG_FIELDS else f"`{flag_name(name)}`"
        if field.annotation is bool:
            flag = f"`--[no-]{flag_name(name).removeprefix('--')}`"
        env = " ".join(f"`{n}`" for n in (cursor_names.get(name), f"CURSOR_EXPORTER_{name.upper()}") if n)
        default = "" if field.default is None else f"`{field.default}`"
        lines.append(f"| {flag} | {env} | {default} | {field.description} |")
    return "\n".join(lines)


def readme_with_configuration(readme: str) -> str:
    """The README with its generated configuration table replaced by the current one."""
    head, _, rest = readme.partition(CONFIG_BEGIN)
    _, _, tail = rest.partition(CONFIG_END)
    return f"{head}{CONFIG_BEGIN}\n{configuration_markdown()}\n{CONFIG_END}{tail}"


def main() -> int:
    """Rewrite the generated documents in place."""
    METRICS_DOC.parent.mkdir(exist_ok=True)
    METRICS_DOC.write_text(metrics_markdown())
    README.write_text(readme_with_configuration(README.read_text()))
    print(f"wrote {METRICS_DOC.relative_to(ROOT)} and the configuration table of {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
