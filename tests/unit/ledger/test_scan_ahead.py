"""Pages are requested ahead of the one being folded, and never beyond what the reported total needs."""

import json
import threading

import httpx

from cursor_exporter.ledger.scan import EVENTS_PAGE_SIZE, PAGES_AHEAD, WindowScanner
from cursor_exporter.ledger.tally import WindowAggregate
from cursor_exporter.ledger.windows import Window
from cursor_exporter.sources.usage import TEAM_EVENTS

from ..api.test_client import mocked_client

T0 = 1_767_225_600_000
WINDOW = Window(T0, T0 + 3_600_000 - 1)
HANG_GUARD_S = 120.0


def event(stamp: int) -> dict:
    return {
        "timestamp": str(stamp),
        "userEmail": "a@b.c",
        "model": "gpt-5",
        "kind": "Usage-based",
        "maxMode": False,
        "isTokenBasedCall": False,
        "requestsCosts": 1,
        "chargedCents": 1,
    }


class PagedWindow:
    """``total`` events served a thousand a page; records every page asked for, and may change the total
    from a given page on (events that arrived while the window was paged)."""

    def __init__(self, total: int, total_from_page: dict[int, int] | None = None) -> None:
        self.total = total
        self.total_from_page = total_from_page or {}
        self.requested: list[int] = []
        self.lock = threading.Lock()
        self.page_requested = {page: threading.Event() for page in range(1, 100)}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        with self.lock:
            self.requested.append(page)
        self.page_requested[page].set()
        total = next((t for first, t in sorted(self.total_from_page.items(), reverse=True) if page >= first), self.total)
        first = (page - 1) * EVENTS_PAGE_SIZE
        rows = [event(T0 + index) for index in range(first, min(first + EVENTS_PAGE_SIZE, total))]
        body = {"totalUsageEventsCount": total, "pagination": {"hasNextPage": first + len(rows) < total}}
        return httpx.Response(200, json=body | {"usageEvents": rows})


def test_the_next_pages_are_requested_while_a_page_is_folded_and_each_page_exactly_once():
    served = PagedWindow(total=4_500)  # 5 pages
    client, _ = mocked_client(served, rate_limit_share=1.0)
    seen_ahead: dict[int, bool] = {}

    def on_page(received: int, total: int) -> None:
        page = -(-received // EVENTS_PAGE_SIZE)
        if page == 2:  # page 2's answer is folded; pages 3 and 4 must be on their way without it
            seen_ahead[page] = all(served.page_requested[page + n].wait(HANG_GUARD_S) for n in (1, PAGES_AHEAD))

    aggregate = WindowAggregate()
    assert WindowScanner(client, TEAM_EVENTS).scan(WINDOW, aggregate, on_page)
    assert seen_ahead == {2: True}
    assert sorted(served.requested) == [1, 2, 3, 4, 5]  # a scan as planned makes no extra request
    assert aggregate.events == 4_500
    assert client.stats.copy()[0] == {(TEAM_EVENTS.path, "200"): 5}


def test_a_total_that_changes_midway_fails_the_scan_and_drops_at_most_the_pages_ahead():
    served = PagedWindow(total=9_500, total_from_page={3: 9_501})
    client, _ = mocked_client(served, rate_limit_share=1.0)
    assert not WindowScanner(client, TEAM_EVENTS).scan(WINDOW, WindowAggregate())
    assert max(served.requested) <= 3 + PAGES_AHEAD  # page 3 told of the change; nothing past what was ahead
    assert len(served.requested) == len(set(served.requested))


def test_no_page_is_asked_for_ahead_beyond_those_the_first_total_needs():
    served = PagedWindow(total=1_500, total_from_page={2: 2_500})  # events arrive; the totals disagree
    client, _ = mocked_client(served, rate_limit_share=1.0)
    assert not WindowScanner(client, TEAM_EVENTS).scan(WINDOW, WindowAggregate())
    assert served.requested == [1, 2]  # the first page's total needs two pages: none was asked for ahead of it
