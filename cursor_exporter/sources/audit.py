"""Source ``audit``: /teams/audit-logs, the team's audit trail as ``cursor_audit_events_total``.

Every event has an ``event_id``, so events are stored by id: a window fetched again (each sync reads
back ``OVERLAP_MS`` to catch events that arrive late) adds only ids not seen before, and the counter
per event type and application never decreases across re-fetches and restarts. The first sync reaches
back ``FIRST_LOOKBACK_MS`` (the API's longest range); each request covers at most 30 days.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Annotated

from prometheus_client.core import Metric
from pydantic import BeforeValidator, Field

from cursor_exporter.api.client import ApiError, CursorClient
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.records import Instant, Record
from cursor_exporter.sources.base import Snapshot, Source, SourceContext
from cursor_exporter.sources.families import Family
from cursor_exporter.sources.labels import LabelPolicy
from cursor_exporter.timegrid import DAY_MS, HOUR_MS

TEAM_AUDIT_LOGS = Endpoint("GET", "/teams/audit-logs")
RECORD_KIND = "audit_event"
FETCHED_UNTIL = "audit_fetched_until_ms"  # state key: the end of the last window fetched in full
AUDIT_PAGE_SIZE = 500
MAX_PAGES = 1000  # a guard against a pagination that never ends
MAX_RANGE_MS = 30 * DAY_MS
FIRST_LOOKBACK_MS = 30 * DAY_MS
OVERLAP_MS = 6 * HOUR_MS
NO_APPLICATION = "none"  # application_type "" (events of no application) as a label value

AUDIT_EVENTS = Family(
    "cursor_audit_events_total",
    "counter",
    ("event_type", "application_type"),
    "Events in the team's audit log by event type and application (cursor, grok_bot or none).",
    f"{TEAM_AUDIT_LOGS.path}: one per event_id",
)


def _event_id(value: object) -> object:
    if value == "":
        return None
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class AuditEvent(Record):
    """One event of /teams/audit-logs (snake_case keys); ``timestamp`` is ISO 8601 (epoch ms tolerated)."""

    event_id: Annotated[str, BeforeValidator(_event_id)]
    timestamp: Instant
    event_type: str = "unknown"
    application_type: str | None = Field(None)

    @property
    def labels(self) -> tuple[str, str]:
        """(event_type, application_type) label values."""
        return self.event_type or "unknown", self.application_type or NO_APPLICATION


def fetch_audit_events(client: CursorClient, start_ms: int, end_ms: int) -> list[AuditEvent]:
    """Every event in [start_ms, end_ms] (inclusive, at most 30 days), page by page."""
    path = TEAM_AUDIT_LOGS.path
    events: list[AuditEvent] = []
    for page in range(1, MAX_PAGES + 1):
        params = {"startTime": start_ms, "endTime": end_ms, "page": page, "pageSize": AUDIT_PAGE_SIZE}
        body = client.request(TEAM_AUDIT_LOGS.method, path, params=params)
        if not isinstance(body, dict):
            raise ApiError(path, 200, "response is not a JSON object")
        rows = body.get("events")
        events.extend(client.parse_rows(path, AuditEvent, rows))
        if not rows or not (body.get("pagination") or {}).get("hasNextPage"):
            return events
    raise ApiError(path, 200, f"more than {MAX_PAGES} pages in one window; the window is read again next sync")


class AuditSource(Source):
    """Reads the audit log from where the last sync ended (minus an overlap) up to the end delay."""

    name = "audit"
    order = 110
    help = "/teams/audit-logs: audit events by type, e.g. API-key and spend-limit changes."
    interval_s = 900.0
    endpoints = (TEAM_AUDIT_LOGS,)
    feature = "audit_logs"
    families = (AUDIT_EVENTS,)

    def __init__(self, context: SourceContext) -> None:
        super().__init__(context)
        self._counts = context.store.count_records(RECORD_KIND)

    @property
    def restored(self) -> bool:
        return self.context.store.get_state(FETCHED_UNTIL) is not None

    def fetch(self) -> None:
        store = self.context.store
        end = self.context.clock_ms() - self.context.options.end_delay_ms
        fetched_until = store.get_state(FETCHED_UNTIL)
        start = end - FIRST_LOOKBACK_MS + 1 if fetched_until is None else int(fetched_until) - OVERLAP_MS
        while start <= end:  # oldest first, so a failure leaves the progress of the windows before it
            window_end = min(start + MAX_RANGE_MS - 1, end)
            events = fetch_audit_events(self.context.client, start, window_end)
            store.add_records(RECORD_KIND, ((event.event_id, event.timestamp, event.labels) for event in events))
            store.set_state(FETCHED_UNTIL, str(window_end + 1))
            start = window_end + 1
        self._counts = store.count_records(RECORD_KIND)

    def state(self) -> Mapping[tuple[str, ...], int]:
        return MappingProxyType(self._counts)

    @classmethod
    def render(cls, snapshot: Snapshot, labels: LabelPolicy) -> Iterator[Metric]:
        counts: Mapping[tuple[str, ...], int] | None = snapshot.part(cls.name)
        if counts is None:
            return
        events = AUDIT_EVENTS.new()
        for label_values, count in sorted(counts.items()):
            events.add_metric(label_values, count)
        yield events
