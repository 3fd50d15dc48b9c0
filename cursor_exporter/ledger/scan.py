"""Paged scans of usage-event windows, checked against Cursor's reported total.

Events have no id, so a window is only usable when its pages add up to ``totalUsageEventsCount``
and that total did not change while it was paged; otherwise the window is scanned again. The team's
and the organization's usage sources, and the ``backfill`` command, all fetch through
:class:`WindowScanner`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cursor_exporter.api.client import ApiError, CursorClient
from cursor_exporter.api.endpoints import Endpoint
from cursor_exporter.api.event_figures import decode_page, read_figures
from cursor_exporter.api.records import OUTSIDE_WINDOW, EventsPage, UsageEvent
from cursor_exporter.ledger.tally import WindowAggregate
from cursor_exporter.ledger.windows import Window

log = logging.getLogger(__name__)

SCAN_ATTEMPTS = 3
EVENTS_PAGE_SIZE = 1000
PAGE_MARGIN = 2

PageProgress = Callable[[int, int], None]


def _envelope(path: str, body: object) -> tuple[list, int, dict]:
    """The events, reported total and pagination of a page; an answer without them is no answer at all.

    An empty answer may only replace a window's stored hours when it says so: ``totalUsageEventsCount``
    of 0 and an empty ``usageEvents`` list, not a bare ``{}``."""
    if not isinstance(body, dict):
        raise ApiError(path, 200, "response is not a JSON object")
    rows, total, pagination = body.get("usageEvents"), body.get("totalUsageEventsCount"), body.get("pagination", {})
    if not isinstance(rows, list) or type(total) is not int or total < 0 or not isinstance(pagination, dict):
        raise ApiError(path, 200, "page lacks usageEvents, totalUsageEventsCount or pagination; not used")
    return rows, total, pagination


def max_pages(total: int) -> int:
    """The most pages a window of ``total`` events may take: full pages, plus a margin for events that
    arrive while it is paged. An answer that keeps offering a next page beyond it is refused."""
    return -(-total // EVENTS_PAGE_SIZE) + PAGE_MARGIN


class InconsistentWindow(Exception):
    """A window's pages disagreed with totalUsageEventsCount on every attempt."""


@dataclass
class ScanCounts:
    """Windows fetched and stored, and scans that had to be repeated, over every scanner of a team."""

    fetched: int = 0
    inconsistent: int = 0


class WindowScanner:
    """Fetches every event of a window from ``endpoint``, page by page.

    ``scope`` is added to every request body: the organization's events need ``organizationId``.
    """

    def __init__(
        self,
        client: CursorClient,
        endpoint: Endpoint,
        scope: Mapping[str, str] | None = None,
        counts: ScanCounts | None = None,
    ) -> None:
        self._client = client
        self.endpoint = endpoint
        self._scope = dict(scope or {})
        self.counts = counts or ScanCounts()

    def page(self, window: Window, page: int) -> EventsPage:
        """One page of the window's events, read; malformed events are counted and left out."""
        path = self.endpoint.path
        # pageSize is always sent: the default is 100 on the team route and 10 on the organization route.
        body = self._client.request(
            self.endpoint.method,
            path,
            {
                **self._scope,
                "startDate": window.start_ms,
                "endDate": window.end_ms,
                "page": page,
                "pageSize": EVENTS_PAGE_SIZE,
            },
            decode=decode_page,
        )
        rows, total, pagination = _envelope(path, body)
        figures, doubtful = [], []
        for row in rows:
            read = read_figures(row)
            if read is None:
                doubtful.append(row)
            else:
                figures.append(read)
        if doubtful:  # the full model decides, and counts what it refuses
            figures.extend(event.figures() for event in self._client.parse_rows(path, UsageEvent, doubtful))
        return EventsPage(
            total=total, has_next_page=bool(pagination.get("hasNextPage")), events=tuple(figures), received=len(rows)
        )

    def scan_consistently(
        self, window: Window, fold: Callable[[], WindowAggregate], on_page: PageProgress | None = None
    ) -> WindowAggregate:
        """The window's events folded into a fresh ``fold()``, page by page; raises :class:`InconsistentWindow`
        after ``SCAN_ATTEMPTS`` bad scans (each attempt starts from an empty aggregate).

        ``on_page(received, total)`` is called after every page, for progress reporting.
        """
        for _ in range(SCAN_ATTEMPTS):
            aggregate = fold()
            if self.scan(window, aggregate, on_page):
                return aggregate
            self.counts.inconsistent += 1
            log.info("window %d-%d changed while paged; scanning it again", window.start_ms, window.end_ms)
        raise InconsistentWindow

    def scan(self, window: Window, into: WindowAggregate, on_page: PageProgress | None = None) -> bool:
        """Fold every event of the window into ``into``, page by page (no page is kept); False when the
        pages disagree with the reported total, and ``into`` must be dropped."""
        outside = 0
        received = 0
        total: int | None = None
        page = 1
        while True:
            result = self.page(window, page)
            if total is None:
                total = result.total
            elif result.total != total:
                return False
            received += result.received
            inside = [event for event in result.events if window.start_ms <= event[0] <= window.end_ms]
            outside += len(result.events) - len(inside)
            into.add_figures(inside)
            if on_page is not None:
                on_page(received, total)
            if not result.has_next_page or result.received == 0 or received >= total:
                break
            if page >= max_pages(total):
                raise ApiError(self.endpoint.path, 200, f"more than {max_pages(total)} pages for {total} events")
            page += 1
        if outside:
            errors = [ValueError("event timestamp outside the requested window")] * outside
            self._client.stats.count_malformed(self.endpoint.path, errors, OUTSIDE_WINDOW)
        return received == total
