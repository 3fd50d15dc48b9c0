"""The landing page ``/``: the exporter's state at a glance, for a person, with no external assets."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence

from cursor_exporter.sources import BY_NAME
from cursor_exporter.sources.base import Snapshot, SourceStatus, TeamOverview

DEMO_BANNER = (
    '<p class="demo"><strong>Demo mode:</strong> every number here is simulated (a synthetic Cursor team), '
    "not your team's data. Run <code>cursor-exporter serve</code> with <code>CURSOR_API_KEY</code> set for the "
    "real exporter.</p>"
)
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.ok{color:#166534}.failing{color:#b91c1c}"
    ".plan{color:#6b7280}.demo{background:#fde68a;padding:8px}"
)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _hour(ms: int | None) -> str:
    return "none yet" if ms is None else time.strftime("%Y-%m-%d %H:00 UTC", time.gmtime(ms / 1000))


def instant(ms: int | None) -> str:
    """An epoch-ms instant to the millisecond, as a billing cycle starts."""
    if ms is None:
        return "not known yet"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d} UTC"


def state(status: SourceStatus, snapshot: Snapshot) -> str:
    """pending, ok, failing, or "not in plan" for a source whose Enterprise feature answered 403."""
    source = BY_NAME.get(status.name)
    if source is not None and source.feature is not None and snapshot.features.get(source.feature) is False:
        return "not in plan"
    return {None: "pending", True: "ok", False: "failing"}[status.success]


def _rows(team: str | None, snapshot: Snapshot) -> Iterable[tuple[str, SourceStatus, str]]:
    for status in snapshot.statuses:
        yield (status.name if team is None else f"{team}/{status.name}"), status, state(status, snapshot)


def _summary(rows: Sequence[tuple[str, SourceStatus, str]]) -> str:
    failing = [name for name, _, text in rows if text == "failing"]
    if failing:
        return f'<p class="failing"><strong>Failing:</strong> {html.escape(", ".join(failing))}</p>'
    pending = sum(1 for _, _, text in rows if text == "pending")
    if pending:
        return f"<p><strong>Starting:</strong> {pending} of {len(rows)} sources have not synced yet.</p>"
    return f'<p class="ok"><strong>All {len(rows)} sources syncing.</strong></p>'


def landing_page(
    version: str,
    teams: Sequence[tuple[TeamOverview, Snapshot]],
    telemetry_path: str | None,
) -> bytes:
    """The ``/`` page: a summary, each team's API and ledgers, and every source's last and next sync."""
    rows = [row for overview, snapshot in teams for row in _rows(overview.team, snapshot)]
    sources = "".join(
        f'<tr><td>{html.escape(name)}</td><td class="{text.split()[0]}">{text}</td>'
        f"<td>{_when(status.last_success_s)}</td><td>{_when(status.next_run_s)}</td>"
        f"<td>{html.escape(status.last_error or '')}</td></tr>"
        for name, status, text in rows
    )
    places = "".join(
        f"<tr><td>{html.escape(overview.team or 'the team')}</td><td>{html.escape(overview.api_url)}</td>"
        f"<td>{html.escape(overview.storage)}</td><td>{instant(overview.cycle_start_ms)}</td><td>"
        + "<br>".join(
            f"{html.escape(name)}: {_hour(first)} to {_hour(settled)}"
            for name, (first, settled) in overview.coverage.items()
        )
        + "</td></tr>"
        for overview, _ in teams
    )
    demo = any(snapshot.mode == "demo" for _, snapshot in teams)
    links = f'<a href="{html.escape(telemetry_path)}">Metrics</a> · ' if telemetry_path else ""
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cursor-exporter</title><style>{STYLE}</style></head>
<body><h1>cursor-exporter {html.escape(version)}</h1>{DEMO_BANNER if demo else ""}
{_summary(rows)}
<p>{links}<a href="/-/healthy">healthy</a> · <a href="/-/ready">ready</a></p>
<h2>Data</h2>
<table><tr><th>team</th><th>Cursor API</th><th>storage</th><th>billing cycle since</th>
<th>ledger: first hour to settled</th></tr>{places}</table>
<h2>Sources</h2>
<table><tr><th>source</th><th>state</th><th>last success</th><th>next sync</th><th>last error</th></tr>{sources}</table>
</body></html>
"""
    return page.encode()
