"""Paged scans of usage-event windows, checked against Cursor's reported total.

Events have no id, so a window is only usable when its pages add up to ``totalUsageEventsCount``
and that total did not change while it was paged; otherwise the window is scanned again. The live
sync and the ``backfill`` command both fetch through :class:`WindowScanner`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cursor_exporter.client import ORG_EVENTS_ENDPOINT, TEAM_EVENTS_ENDPOINT, CursorClient
from cursor_exporter.records import EventsPage, UsageEvent
from cursor_exporter.windows import Window

log = logging.getLogger(__name__)

SCAN_ATTEMPTS = 3

PageProgress = Callable[[int, int], None]


class InconsistentWindow(Exception):
    """A window's pages disagreed with totalUsageEventsCount on every attempt."""


class WindowScanner:
    """Fetches every event of a window, page by page; counts the scans that had to be repeated.

    With an ``organization_id`` it reads the organization's events (every team's, each with its
    ``teamId``) through an organization key; otherwise the team's own events.
    """

    def __init__(self, client: CursorClient, organization_id: str | None = None) -> None:
        self._client = client
        self._organization_id = organization_id
        self.endpoint = TEAM_EVENTS_ENDPOINT if organization_id is None else ORG_EVENTS_ENDPOINT
        self.inconsistent = 0

    def _page(self, window: Window, page: int) -> EventsPage:
        if self._organization_id is None:
            return self._client.usage_events_page(window.start_ms, window.end_ms, page)
        return self._client.org_usage_events_page(self._organization_id, window.start_ms, window.end_ms, page)

    def scan_consistently(self, window: Window, on_page: PageProgress | None = None) -> list[UsageEvent]:
        """All events of the window; raises :class:`InconsistentWindow` after ``SCAN_ATTEMPTS`` bad scans.

        ``on_page(received, total)`` is called after every page, for progress reporting.
        """
        for _ in range(SCAN_ATTEMPTS):
            events = self.scan(window, on_page)
            if events is not None:
                return events
            self.inconsistent += 1
            log.info("window %d-%d changed while paged; scanning it again", window.start_ms, window.end_ms)
        raise InconsistentWindow

    def scan(self, window: Window, on_page: PageProgress | None = None) -> list[UsageEvent] | None:
        """All events of the window, or None when the pages disagree with the reported total."""
        events: list[UsageEvent] = []
        outside: list[Exception] = []
        received = 0
        total: int | None = None
        page = 1
        while True:
            result = self._page(window, page)
            if total is None:
                total = result.total
            elif result.total != total:
                return None
            received += result.received
            for event in result.events:
                if window.start_ms <= event.timestamp <= window.end_ms:
                    events.append(event)
                else:
                    outside.append(ValueError("event timestamp outside the requested window"))
            if on_page is not None:
                on_page(received, total)
            if not result.has_next_page or result.received == 0 or received >= total:
                break
            page += 1
        if outside:
            self._client.stats.count_malformed(self.endpoint, outside)
        return events if received == total else None
